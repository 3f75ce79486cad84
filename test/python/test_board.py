import gzip
import hashlib
import os

import numpy as np
import pytest
from conftest import FASHION, SHARED_DATA

from bnn_train import board, idx


def test_threshold_formula_flip_truncation_and_saturation():
    # 4 inputs, 4 neurons; checked by hand against params-format.md §2
    W = np.array([[0.5, -0.5, 0.0, 0.1]] * 4, dtype=np.float32)
    b = np.array([0.0, 0.0, 0.0, 0.0])
    beta = np.array([1.0, 1.0, 0.0, 0.0])
    gamma = np.array([2.0, -2.0, 1.0, 1.0])
    mean = np.array([0.0, 0.0, 3.0, 1e6])
    inv_std = np.array([1.0, 1.0, 1.0, 1.0])
    w, T = board.layer_constants(W, b, beta, gamma, mean, inv_std)
    # thr = mean - b - beta/(gamma*inv_std): -0.5, 0.5, 3, 1e6
    # T = trunc((4 + s*thr)/2): trunc(1.75)=1, trunc((4-0.5)/2)=1, trunc(3.5)=3, saturated 32767
    assert T.tolist() == [1, 1, 3, 32767]
    # bits: s*W >= 0 (W == 0 gives 1); neuron 1 is flipped
    assert w[:, 0].tolist() == [1, 1, 1, 1]
    assert w[:, 1].tolist() == [1, 1, 1, 1]
    assert w[:, 2].tolist() == [1, 1, 1, 1]


def test_truncation_is_toward_zero_and_saturates_low():
    W = np.ones((2, 2), dtype=np.float32)
    _, T = board.layer_constants(W, np.zeros(2), np.zeros(2), np.ones(2), np.array([-5.0, -1e9]), np.ones(2))
    # (2 - 5)/2 = -1.5 -> -1 (toward zero, not floor); -1e9 -> -32768
    assert T.tolist() == [-1, -32768]


def test_highest_set_bit_else_zero():
    bits = np.array([[0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1], [0, 0, 1, 0]], dtype=bool)
    assert board.predict_from_bits(bits).tolist() == [2, 0, 3, 2]


def reference_bits(image, params):
    """Bit-level reference, one image, one neuron at a time: popcount(xnor) > T, as the overlay does."""
    x = (image.reshape(-1) >= 128).astype(np.int64)
    for layer in range(len(params) // 6):
        W, b, beta, gamma, mean, inv_std = (np.asarray(a, np.float64) for a in params[layer * 6 : layer * 6 + 6])
        out = []
        for n in range(W.shape[1]):
            s = -1.0 if gamma[n] < 0 else 1.0
            thr = (mean[n] - b[n]) - beta[n] / (gamma[n] * inv_std[n])
            T = int(np.clip(np.trunc((W.shape[0] + s * thr) / 2), -32768, 32767))
            wbits = (s * W[:, n] >= 0).astype(np.int64)
            out.append(int(np.sum(wbits == x)) > T)
        x = np.array(out, dtype=np.int64)
    return x.astype(bool)


def test_vectorised_rule_equals_the_bit_level_reference():
    z = np.load(os.path.join(SHARED_DATA, "npz", "mnist-lfc-w1a1-reconstructed.npz"))
    params = [z[f"arr_{i}"] for i in range(24)]
    images = idx.load_images(os.path.join(SHARED_DATA, "mnist", "t10k-images-idx3-ubyte.gz"))[:3]
    fast = board.output_bits(images, board.network_constants(params))
    for i in range(3):
        assert fast[i].tolist() == reference_bits(images[i], params).tolist()


def test_shipped_mnist_model_scores_the_board_figure():
    # converting this npz gives BNN-PYNQ's shipped params; the board scores 98.40 % with them
    z = np.load(os.path.join(SHARED_DATA, "npz", "mnist-lfc-w1a1-reconstructed.npz"))
    params = [z[f"arr_{i}"] for i in range(24)]
    images = idx.load_images(os.path.join(SHARED_DATA, "mnist", "t10k-images-idx3-ubyte.gz"))
    labels = idx.load_labels(os.path.join(SHARED_DATA, "mnist", "t10k-labels-idx1-ubyte.gz"))
    r = board.evaluate(images, labels, params)
    assert round(100 - r["error"], 2) == 98.40


def sha256_of_decompressed(path):
    with open(path, "rb") as f:
        return hashlib.sha256(gzip.decompress(f.read())).hexdigest()


def test_fashion_model_board_and_no_bit_rates():
    images_path = os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")
    labels_path = os.path.join(SHARED_DATA, "fashion-mnist", "t10k-labels-idx1-ubyte.gz")
    if not os.path.exists(images_path):
        pytest.fail(f"{images_path} missing: run scripts/dev/setup-system.sh (Debian package dataset-fashion-mnist)")
    sums = {}
    with open(os.path.join(SHARED_DATA, "dataset-checksums.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, digest, _ = line.split()
                sums[name] = digest
    assert sha256_of_decompressed(images_path) == sums["fashion-mnist/t10k-images-idx3-ubyte"]
    z = np.load(os.path.join(SHARED_DATA, "npz", "fashion-mnist-lfc-w1a1.npz"))
    params = [z[f"arr_{i}"] for i in range(24)]
    r = board.evaluate(idx.load_images(images_path), idx.load_labels(labels_path), params)
    assert round(100 - r["error"], 2) == 83.81  # shared/data/README.md
    assert round(r["no_bit_rate"], 1) == 5.3  # issue 8: 5.3 % of the test set fire no output bit
