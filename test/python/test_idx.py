import gzip

import numpy as np
import pytest
from conftest import idx_images, idx_labels

from bnn_train import idx
from bnn_train.errors import InputError


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_reads_gzip_and_raw_images(tmp_path):
    images = np.arange(2 * 784, dtype=np.int64).reshape(2, 28, 28) % 256
    gz = write(tmp_path, "a.gz", gzip.compress(idx_images(images)))
    raw = write(tmp_path, "a", idx_images(images))
    assert np.array_equal(idx.load_images(gz), images)
    assert np.array_equal(idx.load_images(raw), images)
    assert idx.load_images(gz).dtype == np.uint8


def test_reads_labels(tmp_path):
    p = write(tmp_path, "l.gz", gzip.compress(idx_labels([3, 1, 63])))
    assert idx.load_labels(p).tolist() == [3, 1, 63]


@pytest.mark.parametrize(
    "data, message",
    [
        (idx_images(np.zeros((2, 28, 28)))[:-1], "header says 2 images"),
        (idx_labels([1, 2]), "not an idx3 image file"),
        (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x01" + b"\x00\x00\x00\x20" * 2 + bytes(1024), "images are 32x32"),
        (b"\x00\x00", "too short"),
    ],
)
def test_rejects_bad_image_files(tmp_path, data, message):
    p = write(tmp_path, "bad", data)
    with pytest.raises(InputError) as e:
        idx.load_images(p)
    assert message in str(e.value)
    assert p in str(e.value)


def test_rejects_a_truncated_gzip(tmp_path):
    data = gzip.compress(idx_images(np.zeros((50, 28, 28))))
    p = write(tmp_path, "t.gz", data[: len(data) // 2])
    with pytest.raises(InputError, match="not a complete gzip file"):
        idx.load_images(p)


def test_rejects_labels_beyond_64_classes(tmp_path):
    p = write(tmp_path, "l", idx_labels([0, 64]))
    with pytest.raises(InputError, match="at most 64 classes"):
        idx.load_labels(p)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        idx.find_file(str(tmp_path), "train-images-idx3-ubyte.gz")


def test_binarize_matches_the_board_rule_and_bnn_pynq():
    pixels = np.arange(256, dtype=np.uint8)
    images = np.zeros((256, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = pixels
    x = idx.binarize(images)
    assert x.shape == (256, 1, 28, 28) and x.dtype == np.float32
    # the board: pixel >= 128 -> 1
    assert np.array_equal(x[:, 0, 0, 0] > 0, pixels >= 128)
    # BNN-PYNQ mnist.py: pylearn2 gives float32 pixel/255, then 2*X - 1, then where(X < 0, -1, 1)
    bnn = 2 * (pixels.astype(np.float32) / np.float32(255)) - 1.0
    assert np.array_equal(np.where(bnn < 0, -1, 1), x[:, 0, 0, 0])
    assert set(np.unique(x).tolist()) == {-1.0, 1.0}
