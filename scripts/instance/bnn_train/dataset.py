"""The training data, split as BNN-PYNQ's scripts do: four idx files for LFC (mnist.py), CIFAR-10 binary records
for CNV (cifar10.py, see cifar.py)."""

import json
import os
from dataclasses import dataclass

import numpy as np

from bnn_train import cifar, idx
from bnn_train.errors import InputError

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
CLASSES_FILE = "classes.txt"
MANIFEST_FILE = "dataset.json"  # written by `bnn-pynq dataset import`; says how the training file is split
# (training images in BNN-PYNQ's file, of which the last ones validate): mnist.py train 0..50,000, validation
# 50,000..60,000; cifar10.py train 0..45,000, validation 45,000..50,000.
BNN_PYNQ_SPLIT = {"lfc": (60000, 10000), "cnv": (50000, 5000)}


def validation_size(n_total, family="lfc"):
    """The last 10,000 of 60,000 (LFC) or 5,000 of 50,000 (CNV) training images are the validation set (BNN-PYNQ).
    A smaller training file keeps the same proportion (1/6 or 1/10, at least 1 image); a larger one keeps the
    count."""
    total, val = BNN_PYNQ_SPLIT[family]
    if n_total >= total:
        return val
    return max(1, n_total * val // total)


def recorded_validation_size(data_dir, n_total):
    """The validation count an imported dataset records in dataset.json (`splits: {train, validation, test}`):
    its training file is the train part followed by exactly that many validation images. None when the folder
    has no such record (built-in datasets: BNN-PYNQ's split applies)."""
    path = os.path.join(data_dir, MANIFEST_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            splits = json.load(f).get("splits")
    except (OSError, ValueError, AttributeError) as e:
        raise InputError(f"{path}: not a readable dataset manifest ({e})")
    if not isinstance(splits, dict) or "validation" not in splits:
        return None
    n_train, n_val = splits.get("train"), splits.get("validation")
    if not isinstance(n_val, int) or not isinstance(n_train, int) or n_train + n_val != n_total:
        raise InputError(
            f"{path}: splits say train {n_train} + validation {n_val}, but the training file holds {n_total} images;"
            " re-import the dataset"
        )
    if n_val < 1:
        raise InputError(f"{path}: the dataset has no validation images; re-import it with a validation split (--split)")
    return n_val


@dataclass
class Split:
    images: np.ndarray  # uint8 (N, 28, 28) or (N, 3, 32, 32), as stored: the board's input
    labels: np.ndarray  # uint8 (N,)


@dataclass
class Dataset:
    train: Split
    val: Split
    test: Split
    num_classes: int
    class_names: list
    n_train_file: int  # images in the training file, before the split and --limit-train


def read_classes(path):
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f.read().split("\n")]
    while names and names[-1] == "":
        names.pop()
    if not names or any(n == "" for n in names):
        raise InputError(f"{path}: needs one class name per line, no empty lines")
    if len(names) > idx.MAX_CLASSES:
        raise InputError(f"{path}: {len(names)} classes; the LFC overlay has at most {idx.MAX_CLASSES}")
    return names


def load_idx(data_dir):
    paths = {k: idx.find_file(data_dir, name) for k, name in FILES.items()}
    train_images = idx.load_images(paths["train_images"])
    train_labels = idx.load_labels(paths["train_labels"])
    test_images = idx.load_images(paths["test_images"])
    test_labels = idx.load_labels(paths["test_labels"])
    for images, labels, ip, lp in (
        (train_images, train_labels, paths["train_images"], paths["train_labels"]),
        (test_images, test_labels, paths["test_images"], paths["test_labels"]),
    ):
        if len(images) != len(labels):
            raise InputError(f"{lp}: {len(labels)} labels for the {len(images)} images of {ip}")
    classes_path = os.path.join(data_dir, CLASSES_FILE)
    names = read_classes(classes_path) if os.path.exists(classes_path) else None
    return train_images, train_labels, test_images, test_labels, names, classes_path, paths["train_images"]


def load_cifar(data_dir):
    train_images, train_labels, test_images, test_labels, names, names_path = cifar.load(data_dir)
    return train_images, train_labels, test_images, test_labels, names, names_path, os.path.join(data_dir, "data_batch_*.bin")


def load(data_dir, limit_train=None, family="lfc"):
    if not os.path.isdir(data_dir):
        raise InputError(f"{data_dir}: --data-dir is not a folder")
    reader = load_cifar if family == "cnv" else load_idx
    train_images, train_labels, test_images, test_labels, names, names_path, train_path = reader(data_dir)

    highest = int(max(train_labels.max(), test_labels.max()))
    if names is not None:
        if highest >= len(names):
            raise InputError(f"{names_path}: lists {len(names)} classes but the labels go up to {highest}")
    else:
        names = [str(i) for i in range(highest + 1)]
    if len(names) < 2:
        raise InputError(f"{train_path}: every label is 0; a classifier needs at least 2 classes")

    n_total = len(train_images)
    n_val = recorded_validation_size(data_dir, n_total)
    if n_val is None:
        n_val = validation_size(n_total, family)
    n_train = n_total - n_val
    if n_train < 1:
        raise InputError(f"{train_path}: {n_total} image(s) are too few to split into training and validation")
    if limit_train is not None:
        if limit_train < 1:
            raise InputError(f"--limit-train {limit_train}: must be at least 1")
        n_train = min(n_train, limit_train)
    return Dataset(
        train=Split(train_images[:n_train], train_labels[:n_train]),
        val=Split(train_images[n_total - n_val :], train_labels[n_total - n_val :]),
        test=Split(test_images, test_labels),
        num_classes=len(names),
        class_names=names,
        n_train_file=n_total,
    )


def hinge_targets(labels, num_classes):
    """2*onehot - 1 as float32 (BNN-PYNQ's squared hinge loss targets)."""
    onehot = np.eye(num_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]
    return (2.0 * onehot - 1.0).astype(np.float32)
