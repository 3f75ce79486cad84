"""The LFC and CNV networks and their training step, built from BNN-PYNQ's own code (lfc.genLfc, cnv.genCnv,
quantized_net) with the update rule of BNN-PYNQ's mnist.py / cifar10.py (the same one). Importing this module imports
Theano: set THEANO_FLAGS first (cli.theano_flags)."""

import time
from collections import OrderedDict

import numpy as np

import cnv  # BNN-PYNQ bnn/src/training, patched by scripts/instance/patches/bnn-pynq
import lasagne
import lfc
import quantized_net
import theano
import theano.tensor as T

from bnn_train import theano_cache

theano_cache.install()  # before the first compile: the compile cache is shared with the host's other trainings


class LearningParameters(OrderedDict):
    """mnist.py sets attributes on an OrderedDict; lfc.genLfc reads them. Both bit widths must be set: the 2019
    guide's copy of the script forgot weight_bits, which genLfc needs."""


def learning_parameters(weight_bits, activation_bits):
    lp = LearningParameters()
    lp.activation_bits = activation_bits
    lp.weight_bits = weight_bits
    lp.alpha = 0.1  # batch-norm moving-average factor (mnist.py and cifar10.py)
    lp.epsilon = 1e-4
    lp.dropout_in = 0.2  # LFC only; cnv.genCnv has no dropout
    lp.dropout_hidden = 0.5
    lp.W_LR_scale = "Glorot"
    return lp


# Board-exact graph: every batch norm keeps gamma >= GAMMA_MIN > 0. Then each batch norm is increasing, so
#  - cnv.genCnv's max-pool before the batch norm gives what the overlay computes (threshold each pixel, then
#    max/OR): act(BN(max x)) = max act(BN(x)) (overlays-format.md §3.8);
#  - no neuron is flipped, and the converter's integer thresholds are floor(T) (its ceil for negative gamma makes
#    the overlay fire one accumulator step later than the float model in signed-sum and conv layers);
#  - the last layer's argmax is the overlay's (its batch norm is ignored but for its sign).
# The float graph is then the overlay's computation up to ties at exact thresholds. A negative gamma is no loss of
# expressiveness: with +-1 weights a flipped neuron is the same neuron with negated weights.
GAMMA_MIN = 1e-3


def positive_gamma(updates, network):
    """Clips every batch norm's gamma to >= GAMMA_MIN after each step (as BNN-PYNQ clips the latent weights)."""
    for layer in lasagne.layers.get_all_layers(network):
        if isinstance(layer, lasagne.layers.BatchNormLayer):
            updates[layer.gamma] = T.maximum(updates[layer.gamma], np.float32(GAMMA_MIN))
    return updates


def build_network(inputs, network, num_classes):
    lp = learning_parameters(network.weight_bits, network.activation_bits)
    if network.family == "lfc":
        return lfc.genLfc(inputs, num_classes, lp)
    return cnv.genCnv(inputs, num_classes, lp)


def squared_hinge(target, output):
    return T.mean(T.sqr(T.maximum(0.0, 1.0 - target * output)))


class Net:
    def __init__(self, network, num_classes, seed, graph="bnn-pynq", log=print):
        # Weight initialisation and the dropout/quantizer stream seeds all draw from Lasagne's RNG: seeding it makes the
        # initial network a function of --seed alone.
        lasagne.random.set_rng(np.random.RandomState(seed))
        floatX = theano.config.floatX
        inputs = T.tensor4("inputs")
        target = T.matrix("targets")
        lr = T.scalar("LR", dtype=floatX)
        self.num_classes = num_classes
        self.network = build_network(inputs, network, num_classes)

        loss = squared_hinge(target, lasagne.layers.get_output(self.network, deterministic=False))
        # Binary weights: Adam on the real-valued weights with the gradient taken at the quantized weights, then
        # BNN-PYNQ's per-layer LR scaling and clipping; every other trainable parameter: plain Adam (mnist.py).
        W = lasagne.layers.get_all_params(self.network, quantized=True)
        W_grads = quantized_net.compute_grads(loss, self.network)
        updates = lasagne.updates.adam(loss_or_grads=W_grads, params=W, learning_rate=lr)
        updates = quantized_net.clipping_scaling(updates, self.network)
        others = lasagne.layers.get_all_params(self.network, trainable=True, quantized=False)
        updates = OrderedDict(
            list(updates.items()) + list(lasagne.updates.adam(loss_or_grads=loss, params=others, learning_rate=lr).items())
        )
        if graph == "board-exact":
            updates = positive_gamma(updates, self.network)
            # a fresh network starts at gamma = 1 (Lasagne's default): already inside the constraint
        output = lasagne.layers.get_output(self.network, deterministic=True)
        outputs = [output]
        if network.family == "cnv":
            # The last dense layer's output before its batch norm: the overlay's class scores come from it
            # (board.cnv_scores), computed by the same graph as everything training measures.
            outputs.append(lasagne.layers.get_output(self.network.input_layer, deterministic=True))

        started = time.time()
        self.train_fn = theano.function([inputs, target, lr], loss, updates=updates)
        self.predict_fn = theano.function([inputs], outputs)
        self.compile_seconds = time.time() - started
        log(f"compiled the training and inference functions in {self.compile_seconds:.1f} s")

        # The checkpoint holds every shared variable the compiled functions read or update (implicit inputs): the
        # parameters, batch-norm averages, Adam moments and step counters, and the dropout random-stream states.
        # Taken from the compiled functions themselves, so nothing can be forgotten; the graph is built the same way
        # every time, so the order is stable.
        self.state_vars = []
        for fn in (self.train_fn, self.predict_fn):
            for inp in fn.maker.inputs:
                if inp.implicit and all(inp.variable is not v for v in self.state_vars):
                    self.state_vars.append(inp.variable)

    def params(self):
        """The arrays of model.npz (24 LFC, 53 CNV), in lasagne.layers.get_all_param_values order (params-format.md §1,
        overlays-format.md §1.6). cnv.genCnv's last batch norm normalises over the batch and class axes (axes=(0,1)),
        so Lasagne gives it one scalar beta, gamma, mean and inv_std; model.npz repeats each once per class, the
        (C,) layout the converter reads, with the same values."""
        values = lasagne.layers.get_all_param_values(self.network)
        return [np.array(np.broadcast_to(a, (self.num_classes,)) if a.ndim == 0 else a, copy=True) for a in values]

    def state_values(self):
        return [np.array(v.get_value(borrow=False), copy=True) for v in self.state_vars]

    def state_description(self):
        return [f"{v.name or type(v).__name__} {v.get_value(borrow=True).dtype}{v.get_value(borrow=True).shape}" for v in self.state_vars]

    def set_state_values(self, values):
        if len(values) != len(self.state_vars):
            raise ValueError(f"checkpoint has {len(values)} state arrays, the network has {len(self.state_vars)}")
        for i, (var, value) in enumerate(zip(self.state_vars, values)):
            current = var.get_value(borrow=True)
            if current.shape != value.shape or current.dtype != value.dtype:
                raise ValueError(
                    f"state {i} ({var.name}): checkpoint {value.dtype}{value.shape}, network {current.dtype}{current.shape}"
                )
            var.set_value(value, borrow=False)

    def predict(self, x, batch=500):
        """[final output, and for CNV the last dense layer's output], each (N, C)."""
        parts = [self.predict_fn(x[i : i + batch]) for i in range(0, len(x), batch)]
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]


def actual_device():
    """'cuda' only when Theano really initialised the GPU: with device=cuda and a failing pygpu/CUDA, Theano logs an
    error and quietly computes on the CPU."""
    if theano.config.device.startswith("cuda"):
        from theano import gpuarray

        return "cuda" if gpuarray.pygpu_activated else "cpu"
    return "cpu"


def versions():
    import sys

    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "theano": theano.__version__,
        "lasagne": lasagne.__version__,
        "theano_device": theano.config.device,
        "theano_floatX": theano.config.floatX,
        "theano_blas_ldflags": theano.config.blas.ldflags,
        "bnn_pynq_lfc": lfc.__file__,
        "bnn_pynq_cnv": cnv.__file__,
    }
