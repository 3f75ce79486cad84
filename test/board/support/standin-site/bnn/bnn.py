# Stand-in for BNN-PYNQ's bnn/bnn.py on a test "board": the same names, paths and LfcClassifier /
# CnvClassifier behaviour (classify_mnists, classify_cifars and their *_details, their stdout prints, the
# silent failure on a missing set), but each of the five overlays is computed in numpy from the param
# files instead of on the FPGA. It is a re-implementation written from the overlay spec (the project's
# docs/overlays.md §2.4 file layout and §3 hardware arithmetic; BNN-PYNQ's config.h folding), not from
# lib/bnn: the tests check it against the scores the real board printed in BNN-PYNQ's notebooks
# (shared/data/cnv-board-images) and then use it to check our simulator.
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

# Per layer: (SIMD, PE, MW, MH, weight bits, input bits, output bits ("s" = 16-bit scores), conv geometry
# (input side, input channels, max-pool after) or None). bnn/src/network/<network>/hw/config.h.
LFC_A1 = [(64, 32, 832, 1024, 1, 1, 1, None), (32, 64, 1024, 1024, 1, 1, 1, None),
          (64, 32, 1024, 1024, 1, 1, 1, None), (8, 16, 1024, 64, 1, 1, 1, None)]
LFC_A2 = [(64, 32, 832, 1024, 1, 1, 2, None), (32, 64, 1024, 1024, 1, 2, 2, None),
          (64, 32, 1024, 1024, 1, 2, 2, None), (8, 16, 1024, 64, 1, 2, 1, None)]


def _cnv(w, a):
    simd, pe = ((3, 32, 32, 32, 32, 32, 4, 8, 1), (16, 32, 16, 16, 4, 1, 1, 1, 4)) if w == 1 else (
        (3, 16, 16, 16, 8, 8, 2, 2, 1), (8, 16, 8, 8, 4, 1, 1, 2, 4))
    convs = [(32, 3, 64, False), (30, 64, 64, True), (14, 64, 128, False), (12, 128, 128, True),
             (5, 128, 256, False), (3, 256, 256, False)]
    layers = []
    for i, (side, cin, cout, pool) in enumerate(convs):
        layers.append((simd[i], pe[i], 9 * cin, cout, w, 8 if i == 0 else a, a, (side, cin, pool)))
    layers.append((simd[6], pe[6], 256, 512, w, a, a, None))
    layers.append((simd[7], pe[7], 512, 512, w, a, a, None))
    layers.append((simd[8], pe[8], 512, 64, w, a, "s", None))
    return layers


NETWORKS = {
    NETWORK_LFCW1A1: LFC_A1,
    NETWORK_LFCW1A2: LFC_A2,
    NETWORK_CNVW1A1: _cnv(1, 1),
    NETWORK_CNVW1A2: _cnv(1, 2),
    NETWORK_CNVW2A2: _cnv(2, 2),
}


def available_params(network):
    ret = []
    for d in os.listdir(BNN_PARAM_DIR):
        if os.path.isdir(os.path.join(BNN_PARAM_DIR, d)) and network in os.listdir(os.path.join(BNN_PARAM_DIR, d)):
            ret.append(d)
    return ret


def _signed(v, bits):
    mask = (1 << bits) - 1
    return ((v & mask) ^ (1 << (bits - 1))) - (1 << (bits - 1))


def _load_layer(folder, layer, spec):
    simd, pe, mw, mh, wb, in_bits, out_bits = spec[:7]
    tmem = mh // pe
    groups = mw // simd
    weights = np.zeros((mh, mw), dtype=np.float32)
    nthr = 0 if out_bits == "s" else 2 ** (out_bits - 1)
    thresholds = np.zeros((mh, max(nthr, 1)), dtype=np.int64)
    shifts = (np.arange(simd, dtype=np.uint64) * np.uint64(wb))
    for p in range(pe):
        words = np.fromfile(os.path.join(folder, "%d-%d-weights.bin" % (layer, p)), dtype="<u8")
        codes = (words.reshape(tmem, groups)[:, :, None] >> shifts) & np.uint64((1 << wb) - 1)
        codes = codes.astype(np.int64).reshape(tmem, mw)
        # 1 bit: 1 = +1, 0 = -1; 2 bits: two's complement (01 = +1, 00 = 0, 11 = -1)
        weights[p::pe, :] = np.where(codes == 1, 1, -1) if wb == 1 else _signed(codes, 2)
        if nthr:
            t = np.fromfile(os.path.join(folder, "%d-%d-thres.bin" % (layer, p)), dtype="<i8")
            # the low 16 bits as the hardware reads them; the 8-bit pixel layer's 24 bits (units of 1/256)
            thresholds[p::pe, :nthr] = _signed(t.reshape(tmem, nthr), 24 if in_bits == 8 else 16)
    return weights, thresholds[:, :nthr]


def _host_bytes(planar):
    """CIFAR-10 record pixels (N, 3, 32, 32) -> the signed bytes the host sends: ap_fixed<8,1> of
    -1 + 2p/255, rounded half up, saturated (k/128)."""
    p = planar.astype(np.int64)
    x = np.where(p <= 127, p - 128, np.where(p <= 254, p - 127, 127))
    return x.transpose(0, 2, 3, 1).astype(np.float32)  # (N, 32, 32, C): channels per pixel


def _im2col(x):
    """(N, S, S, C) -> (N, S-2, S-2, 9C), columns in (ky, kx, c) order."""
    od = x.shape[1] - 2
    return np.concatenate([x[:, ky:ky + od, kx:kx + od, :] for ky in range(3) for kx in range(3)], axis=3)


def _activate(acc, thresholds, out_bits):
    if out_bits == 1:
        return np.where(acc > thresholds[:, 0], 1.0, -1.0).astype(np.float32)
    return (-1.0 + (acc > thresholds[:, 0]) + (acc > thresholds[:, 1])).astype(np.float32)


def _forward(layers, specs, x):
    """x: LFC (N, MW0) of +-1 (pads -1); CNV (N, 32, 32, 3) host bytes. Returns the last layer's lanes:
    LFC output bits (0/1), CNV 16-bit scores."""
    for (w, t), spec in zip(layers, specs):
        simd, pe, mw, mh, wb, in_bits, out_bits, conv = spec
        cols = _im2col(x) if conv is not None else x.reshape(len(x), -1)
        dot = cols @ w.T
        if in_bits == 8:
            acc = 2 * dot  # thresholds in 1/256, inputs in 1/128: fires iff t < 2 * sum(w * b)
        elif wb == 1 and in_bits == 1 and out_bits != 2:
            acc = (mw + dot) / 2  # popcount of xnor over the padded width
        else:
            acc = dot  # signed sum
        if out_bits == "s":
            return ((np.rint(acc).astype(np.int64) + 32768) % 65536) - 32768  # ap_int<16>
        x = _activate(acc, t, out_bits)
        if conv is not None and conv[2]:
            n, s, _, c = x.shape
            x = x.reshape(n, s // 2, 2, s // 2, 2, c).max(axis=(2, 4))  # threshold, then pool
    return (x > 0).astype(np.int64)


class PynqBNN:
    def __init__(self, runtime, network, load_overlay=True):
        if network not in NETWORKS:
            raise RuntimeError("stand-in board: no overlay %s" % network)
        self.network = network
        self.specs = NETWORKS[network]
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
        self.layers = [_load_layer(params, l, spec) for l, spec in enumerate(self.specs)]
        with open(os.path.join(params, "classes.txt")) as f:
            self.classes = [c.strip() for c in f.readlines()]

    def _lanes(self, path):
        with open(path, "rb") as f:
            raw = f.read()
        if self.network.startswith("lfc"):
            count = int.from_bytes(raw[4:8], "big")
            pixels = np.frombuffer(raw, dtype=np.uint8, offset=16, count=count * 784).reshape(count, 784)
            x = -np.ones((count, self.specs[0][2]), dtype=np.float32)
            x[:, :784] = np.where(pixels >= 128, 1.0, -1.0)
            chunks = [x]
        else:
            records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
            x = _host_bytes(records[:, 1:].reshape(-1, 3, 32, 32))
            chunks = [x[i:i + 32] for i in range(0, len(x), 32)]
        start = time.time()
        lanes = np.concatenate([_forward(self.layers, self.specs, c) for c in chunks])
        return lanes[:, : len(self.classes)], start

    def _decide(self, out):
        if self.network.startswith("lfc"):
            highest = out.shape[1] - 1 - np.argmax(out[:, ::-1], axis=1)
            return np.where(out.any(axis=1), highest, 0).astype(np.int32)
        # the batch call: the first maximum score, but class 0 when no score is above 0
        return np.where(out.max(axis=1) > 0, np.argmax(out, axis=1), 0).astype(np.int32)

    def _timing(self, start, count):
        usec = (time.time() - start) * 1e6 / max(count, 1)
        print("Inference took %.2f microseconds, %.2f usec per image" % (usec * count, usec))
        print("Classification rate: %.2f images per second" % (1000000.0 / max(usec, 1e-9)))
        self.usecPerImage = usec

    def inference_multiple(self, path):
        out, start = self._lanes(path)
        result = self._decide(out)
        self._timing(start, len(result))
        return result

    def inference_multiple_detail(self, path):
        out, start = self._lanes(path)
        self._timing(start, len(out))
        return out.astype(np.int32).reshape(-1)


class _Classifier:
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

    def class_name(self, index):
        return self.bnn.classes[index]


class LfcClassifier(_Classifier):
    def classify_mnists(self, mnist_format_file):
        result = self.bnn.inference_multiple(mnist_format_file)
        self.usecPerImage = self.bnn.usecPerImage
        return result


class CnvClassifier(_Classifier):
    def classify_cifars(self, path):
        result = self.bnn.inference_multiple(path)
        self.usecPerImage = self.bnn.usecPerImage
        return result

    def classify_cifars_details(self, path):
        result = self.bnn.inference_multiple_detail(path)
        self.usecPerImage = self.bnn.usecPerImage
        return result
