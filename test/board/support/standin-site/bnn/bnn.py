# Stand-in for BNN-PYNQ's bnn/bnn.py on a test "board": the same names, paths and LfcClassifier /
# classify_mnists behaviour (including its stdout prints and its silent failure on a missing set),
# but the lfcW1A1 network is computed in numpy from the param files, following
# shared/docs/params-format.md §4 (the overlay's batch path), instead of on the FPGA.
import os
import time

import numpy as np

RUNTIME_HW = "python_hw"
RUNTIME_SW = "python_sw"

NETWORK_CNVW1A1 = "cnvW1A1"
NETWORK_CNVW1A2 = "cnvW1A2"
NETWORK_CNVW2A2 = "cnvW2A2"
NETWORK_LFCW1A1 = "lfcW1A1"
NETWORK_LFCW1A2 = "lfcW1A2"

if os.environ.get("BOARD") not in ("Ultra96", "Pynq-Z1", "Pynq-Z2"):
    raise RuntimeError("Board not supported")

BNN_ROOT_DIR = os.path.dirname(os.path.realpath(__file__))
BNN_PARAM_DIR = os.path.join(BNN_ROOT_DIR, "params")

# (SIMD, PE, MW, MH) per layer: bnn/src/network/lfcW1A1/hw/config.h
LFC_LAYERS = [(64, 32, 832, 1024), (32, 64, 1024, 1024), (64, 32, 1024, 1024), (8, 16, 1024, 64)]


def available_params(network):
    ret = []
    for d in os.listdir(BNN_PARAM_DIR):
        if os.path.isdir(os.path.join(BNN_PARAM_DIR, d)) and network in os.listdir(os.path.join(BNN_PARAM_DIR, d)):
            ret.append(d)
    return ret


def _load_layer(folder, layer, simd, pe, mw, mh):
    tmem = mh // pe
    groups = mw // simd
    weights = np.zeros((mh, mw), dtype=np.float32)
    thresholds = np.zeros(mh, dtype=np.int64)
    shifts = np.arange(simd, dtype=np.uint64)
    for p in range(pe):
        words = np.fromfile(os.path.join(folder, "%d-%d-weights.bin" % (layer, p)), dtype="<u8")
        words = words.reshape(tmem, groups)
        bits = ((words[:, :, None] >> shifts) & np.uint64(1)).astype(np.float32).reshape(tmem, mw)
        weights[p::pe, :] = bits
        t = np.fromfile(os.path.join(folder, "%d-%d-thres.bin" % (layer, p)), dtype="<i8")
        thresholds[p::pe] = ((t & 0xFFFF) ^ 0x8000) - 0x8000  # low 16 bits, signed
    return weights, thresholds


class PynqBNN:
    def __init__(self, runtime, network, load_overlay=True):
        if network != NETWORK_LFCW1A1:
            raise RuntimeError("stand-in board: only lfcW1A1 is simulated")
        self.runtime = runtime
        self.layers = []
        self.classes = []
        self.usecPerImage = 0.0

    def load_parameters(self, params):
        if not os.path.isabs(params):
            params = os.path.join(BNN_PARAM_DIR, params)
        if not os.path.isdir(params):
            print('\nERROR: No such parameter directory "' + params + '"')
            return
        self.layers = [_load_layer(params, l, *shape) for l, shape in enumerate(LFC_LAYERS)]
        with open(os.path.join(params, "classes.txt")) as f:
            self.classes = [c.strip() for c in f.readlines()]

    def inference_multiple(self, path):
        with open(path, "rb") as f:
            raw = f.read()
        count = int.from_bytes(raw[4:8], "big")
        pixels = np.frombuffer(raw, dtype=np.uint8, offset=16, count=count * 784).reshape(count, 784)
        start = time.time()
        x = np.zeros((count, 832), dtype=np.float32)
        x[:, :784] = pixels >= 128
        for w, t in self.layers:
            # popcount(xnor(w, x)) = matches of ones + matches of zeros
            acc = x @ w.T + (1 - x) @ (1 - w).T
            x = (acc > t).astype(np.float32)
        out = x[:, : len(self.classes)]
        highest = out.shape[1] - 1 - np.argmax(out[:, ::-1], axis=1)
        result = np.where(out.any(axis=1), highest, 0).astype(np.int32)
        usec = (time.time() - start) * 1e6 / max(count, 1)
        print("Inference took %.2f microseconds, %.2f usec per image" % (usec * count, usec))
        print("Classification rate: %.2f images per second" % (1000000.0 / max(usec, 1e-9)))
        self.usecPerImage = usec
        return result


class LfcClassifier:
    def __init__(self, network, params, runtime=RUNTIME_HW):
        if params in available_params(network):
            self.net = network
            self.params = params
            self.runtime = runtime
            self.usecPerImage = 0.0
            self.bnn = PynqBNN(runtime, network)
            self.bnn.load_parameters(os.path.join(params, network))
            self.classes = self.bnn.classes
        else:
            print("ERROR: parameters are not availlable for {0}".format(network))

    def classify_mnists(self, mnist_format_file):
        result = self.bnn.inference_multiple(mnist_format_file)
        self.usecPerImage = self.bnn.usecPerImage
        return result

    def class_name(self, index):
        return self.bnn.classes[index]
