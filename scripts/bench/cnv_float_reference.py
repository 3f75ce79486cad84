"""numpy float reference for the CNV lines of `npm run bench`: the float forward pass of a CNV model in
the overlay's order (docs/overlays.md §5: batch norm and activation, then the 2x2 max-pool), with
quantized weights, as float32 im2col matrix products over a batch of CIFAR-10 records. Prints one JSON
line: seconds and images per second (best of `repeats`).

usage: cnv_float_reference.py <model.npz> <weight-bits 1|2> <activation-bits 1|2> <records.bin> [repeats]
"""
import json
import sys
import time

import numpy as np


def host_bytes(p):
    # ap_fixed<8,1> round-half-up of -1 + 2p/255: p - 128, p - 127, or 127 (docs/overlays.md §3.1).
    p = p.astype(np.int32)
    return np.where(p <= 127, p - 128, np.where(p <= 254, p - 127, 127)).astype(np.float32) / 128


def main():
    model, wbits, abits, records = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    z = np.load(model)
    p = [z["arr_%d" % k].astype(np.float32) for k in range(53)]
    raw = np.fromfile(records, dtype=np.uint8).reshape(-1, 3073)
    x0 = host_bytes(raw[:, 1:]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # NHWC

    def q(w):
        return np.where(w >= 0, 1, -1).astype(np.float32) if wbits == 1 else np.floor(w + 0.5).astype(np.float32)

    def act(h):
        if abits == 1:
            return np.where(h >= 0, 1, -1).astype(np.float32)
        return np.where(h >= 0.5, 1, np.where(h >= -0.5, 0, -1)).astype(np.float32)

    convs = []
    for l in range(6):
        W, b, beta, gamma, mean, inv_std = p[6 * l : 6 * l + 6]
        convs.append((q(W).transpose(2, 3, 1, 0).reshape(-1, W.shape[0]), b, beta, gamma * inv_std, mean))
    dense = []
    for k in (36, 42):
        W, b, beta, gamma, mean, inv_std = p[k : k + 6]
        dense.append((q(W), b, beta, gamma * inv_std, mean))
    W8, beta8, gamma8, mean8, inv8 = p[48:53]
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = x0
        for l, (Wm, b, beta, scale, mean) in enumerate(convs):
            n, h, w, c = x.shape
            od = h - 2
            s = x.strides
            cols = np.lib.stride_tricks.as_strided(x, (n, od, od, 3, 3, c), (s[0], s[1], s[2], s[1], s[2], s[3]))
            y = act((cols.reshape(n * od * od, 9 * c) @ Wm + b - mean) * scale + beta).reshape(n, od, od, -1)
            if l in (1, 3):
                y = y.reshape(n, od // 2, 2, od // 2, 2, -1).max(axis=(2, 4))
            x = np.ascontiguousarray(y)
        x = x.reshape(x.shape[0], -1)
        for Wm, b, beta, scale, mean in dense:
            x = act((x @ Wm + b - mean) * scale + beta)
        out = (x @ q(W8) - mean8) * (gamma8 * inv8) + beta8
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    print(json.dumps({
        "seconds": best,
        "imagesPerSecond": len(raw) / best,
        "images": int(len(raw)),
        "numpy": np.__version__,
        "classes": [int(c) for c in out.argmax(axis=1)[:4]],
    }))


if __name__ == "__main__":
    main()
