import gzip
import os
import struct
import sys

import numpy as np
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED_DATA = os.path.abspath(os.path.join(REPO, "..", "shared", "data"))
FASHION = "/usr/share/datasets/fashion-mnist"
sys.path.insert(0, os.path.join(REPO, "scripts", "instance"))


def idx_images(images):
    images = np.asarray(images, dtype=np.uint8)
    return struct.pack(">IIII", 0x803, len(images), 28, 28) + images.tobytes()


def idx_labels(labels):
    labels = np.asarray(labels, dtype=np.uint8)
    return struct.pack(">II", 0x801, len(labels)) + labels.tobytes()


def write_dataset(folder, n_train=60, n_test=10, classes=3, seed=1):
    rng = np.random.RandomState(seed)
    os.makedirs(folder, exist_ok=True)
    files = {
        "train-images-idx3-ubyte.gz": idx_images(rng.randint(0, 256, size=(n_train, 28, 28))),
        "train-labels-idx1-ubyte.gz": idx_labels(np.arange(n_train) % classes),
        "t10k-images-idx3-ubyte.gz": idx_images(rng.randint(0, 256, size=(n_test, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": idx_labels(np.arange(n_test) % classes),
    }
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(gzip.compress(data))
    return folder


@pytest.fixture
def tiny_dataset(tmp_path):
    return write_dataset(str(tmp_path / "data"))
