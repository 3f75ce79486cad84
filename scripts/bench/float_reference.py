"""numpy + OpenBLAS float reference for `npm run bench`: the same LFC forward pass as the verifier
(binarized input, sign-binarized weights, batch norm, sign activations), as float32 matrix products
over the whole test set at once. Prints one JSON line: seconds, microseconds per image, accuracy
(argmax and board rule).

usage: float_reference.py <model.npz> <images.idx3[.gz]> <labels.idx1[.gz]> [repeats]
"""
import gzip
import json
import sys
import time

import numpy as np


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    model, images, labels = sys.argv[1:4]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    z = np.load(model)
    p = [z["arr_%d" % k].astype(np.float32) for k in range(24)]
    layers = []
    for l in range(4):
        W, b, beta, gamma, mean, inv_std = p[6 * l : 6 * l + 6]
        layers.append((np.where(W >= 0, 1, -1).astype(np.float32), b, beta, gamma * inv_std, mean))
    x_img = read_idx(images).reshape(-1, 784)
    y = read_idx(labels)
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = np.where(x_img >= 128, 1, -1).astype(np.float32)
        for i, (Wb, b, beta, scale, mean) in enumerate(layers):
            h = (x @ Wb + b - mean) * scale + beta
            if i < 3:
                x = np.where(h >= 0, 1, -1).astype(np.float32)
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    argmax = (h.argmax(axis=1) == y).mean() * 100
    fired = h >= 0
    highest = np.where(fired.any(axis=1), h.shape[1] - 1 - fired[:, ::-1].argmax(axis=1), 0)
    board = (highest == y).mean() * 100
    print(json.dumps({
        "seconds": best,
        "microsecondsPerImage": best * 1e6 / len(y),
        "argmaxAccuracy": argmax,
        "boardRuleAccuracy": board,
        "numpy": np.__version__,
        "images": int(len(y)),
    }))


if __name__ == "__main__":
    main()
