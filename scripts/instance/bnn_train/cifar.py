"""CIFAR-10 binary records (the `cifar-10-batches-bin` layout) for the CNV networks.

A record is 1 label byte and 3,072 pixel bytes: 1,024 red, 1,024 green, 1,024 blue, each plane row-major 32x32.
This is the format the board's `classify_cifars` reads, so the test split a run is measured on is byte for byte
what the board can be given. Training files: data_batch_1.bin .. data_batch_N.bin (read in that order); test:
test_batch.bin; class names: batches.meta.txt (one per line; the official file ends with blank lines) or
classes.txt, which wins when both exist.

BNN-PYNQ's cifar10.py reads the python-pickle version through pylearn2; the images are the same, and reading the
binary records needs no unpickling.
"""

import os
import re

import numpy as np

from bnn_train.errors import InputError

RECORD = 1 + 3 * 32 * 32
TEST_FILE = "test_batch.bin"
META_FILES = ("classes.txt", "batches.meta.txt")
TRAIN_FILE = re.compile(r"^data_batch_(\d+)\.bin$")
MAX_CLASSES = 64  # the CNV overlay's last layer has 64 lanes


def read_records(path):
    """(uint8 images (N, 3, 32, 32), uint8 labels (N,)) from one file of records."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    if len(raw) == 0 or len(raw) % RECORD != 0:
        raise InputError(
            f"{path}: {len(raw)} bytes is not a whole number of {RECORD}-byte CIFAR-10 records; "
            "it is truncated or not a CIFAR-10 binary file"
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].copy()
    if int(labels.max()) >= MAX_CLASSES:
        raise InputError(f"{path}: label {int(labels.max())} is out of range: the CNV overlay has at most 64 classes")
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def train_files(data_dir):
    found = sorted(
        ((int(m.group(1)), name) for name in os.listdir(data_dir) if (m := TRAIN_FILE.match(name))),
    )
    if not found:
        raise InputError(
            f"{data_dir}: no data_batch_1.bin (a CNV dataset is CIFAR-10 binary records: data_batch_N.bin and "
            "test_batch.bin)"
        )
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise InputError(f"{data_dir}: training files {', '.join(n for _, n in found)} are not numbered 1..{len(found)}")
    return [os.path.join(data_dir, name) for _, name in found]


def read_class_names(data_dir):
    """Class names from classes.txt or batches.meta.txt; None when neither exists."""
    for name in META_FILES:
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                names = [line.strip() for line in f.read().split("\n")]
            while names and names[-1] == "":
                names.pop()
            if not names or any(n == "" for n in names):
                raise InputError(f"{path}: needs one class name per line, no empty lines between them")
            if len(names) > MAX_CLASSES:
                raise InputError(f"{path}: {len(names)} classes; the CNV overlay has at most {MAX_CLASSES}")
            return names, path
    return None, None


def load(data_dir):
    """(train images, train labels, test images, test labels, class names or None, names file or None)."""
    parts = [read_records(p) for p in train_files(data_dir)]
    train_images = np.concatenate([p[0] for p in parts])
    train_labels = np.concatenate([p[1] for p in parts])
    test_images, test_labels = read_records(os.path.join(data_dir, TEST_FILE))
    names, names_path = read_class_names(data_dir)
    return train_images, train_labels, test_images, test_labels, names, names_path


def scale(images):
    """cifar10.py: 2/255 * pixel - 1 as float32 (N, 3, 32, 32). The network's input quantizer then makes it
    k/128 - 1 with k = round(256 p / 255), which is exactly the byte the board feeds the overlay (overlays-format.md
    §1.4)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError("scale expects uint8 pixels")
    return (np.float32(2.0 / 255.0) * images.astype(np.float32) - np.float32(1.0)).astype(np.float32)
