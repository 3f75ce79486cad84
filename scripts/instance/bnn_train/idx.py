"""Reading MNIST-style idx files (gzip or raw) and binarizing images exactly as the board does."""

import gzip
import os
import struct
import zlib

import numpy as np

from bnn_train.errors import InputError

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
ROWS = COLS = 28
MAX_CLASSES = 64  # the LFC overlay's last layer has 64 output bits


def read_bytes(path):
    """The file's bytes, decompressed when it is gzip (by its magic number, not its name)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(f"{path}: not a complete gzip file ({e}); download it again") from None
    return raw


def parse_images(data, path):
    """uint8 array (N, 28, 28) from the bytes of an idx3 image file."""
    if len(data) >= 4 and struct.unpack(">I", data[:4])[0] != IMAGES_MAGIC:
        magic = struct.unpack(">I", data[:4])[0]
        raise InputError(f"{path}: not an idx3 image file (magic 0x{magic:08x}, expected 0x{IMAGES_MAGIC:08x})")
    if len(data) < 16:
        raise InputError(f"{path}: too short for an idx image header ({len(data)} bytes)")
    _, count, rows, cols = struct.unpack(">IIII", data[:16])
    if (rows, cols) != (ROWS, COLS):
        raise InputError(f"{path}: images are {rows}x{cols}; the LFC network takes 28x28 grey images")
    expected = 16 + count * rows * cols
    if len(data) != expected:
        raise InputError(
            f"{path}: header says {count} images ({expected} bytes) but the file has {len(data)} bytes; "
            "it is truncated or corrupted"
        )
    if count == 0:
        raise InputError(f"{path}: holds no images")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)


def parse_labels(data, path):
    """uint8 array (N,) from the bytes of an idx1 label file."""
    if len(data) < 8:
        raise InputError(f"{path}: too short for an idx label header ({len(data)} bytes)")
    magic, count = struct.unpack(">II", data[:8])
    if magic != LABELS_MAGIC:
        raise InputError(f"{path}: not an idx1 label file (magic 0x{magic:08x}, expected 0x{LABELS_MAGIC:08x})")
    if len(data) != 8 + count:
        raise InputError(
            f"{path}: header says {count} labels but the file has {len(data) - 8}; it is truncated or corrupted"
        )
    labels = np.frombuffer(data, dtype=np.uint8, offset=8)
    if labels.size and int(labels.max()) >= MAX_CLASSES:
        raise InputError(f"{path}: label {int(labels.max())} is out of range: the LFC overlay has at most 64 classes (0..63)")
    return labels


def load_images(path):
    return parse_images(read_bytes(path), path)


def load_labels(path):
    return parse_labels(read_bytes(path), path)


def find_file(data_dir, name):
    """`name` (the .gz name) in data_dir, or the same name without .gz (an already decompressed copy)."""
    path = os.path.join(data_dir, name)
    if os.path.exists(path):
        return path
    if name.endswith(".gz") and os.path.exists(path[:-3]):
        return path[:-3]
    raise InputError(f"{path}: file not found (the data dir needs the four idx files: train-/t10k- images and labels)")


def binarize(images):
    """The board's input rule, pixel >= 128 -> +1, else -1, as float32 (N, 1, 28, 28) for the network.

    BNN-PYNQ's mnist.py computes sign(2*pixel/255 - 1) with 0 -> +1, which is pixel >= 127.5, the same thing for
    integer pixels; computing it on the integers makes training and board agree by construction."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError("binarize expects uint8 pixels")
    x = np.where(images >= 128, np.float32(1.0), np.float32(-1.0)).astype(np.float32)
    return x.reshape(images.shape[0], 1, ROWS, COLS)
