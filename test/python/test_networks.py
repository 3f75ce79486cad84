"""--network: BNN-PYNQ's settings per overlay, CIFAR-10 binary records, the CNV npz layout, the CNV overlays' batch
rule and class scores (checked against the scores the board printed), lfcW1A2's board rule (the board's 98.49 %)."""

import json
import os

import numpy as np
import pytest
from conftest import SHARED_DATA

from bnn_train import board, cifar, cli, cnv_board, dataset, idx, layout
from bnn_train.errors import InputError

BOARD_IMAGES = os.path.join(SHARED_DATA, "cnv-board-images")
BITS = {"cnvW1A1": (1, 1), "cnvW1A2": (1, 2), "cnvW2A2": (2, 2)}


def args(*extra):
    return cli.parse_args(["--data-dir", "d", "--run-dir", "r", "--run-id", "run-1", "--dataset", "x", *extra])


def test_each_network_gets_bnn_pynqs_settings():
    a = args()
    assert (a.network, a.wb, a.ab, a.batch_size, a.lr_start, a.lr_end, a.epochs, a.graph) == (
        "lfcW1A1", 1, 1, 100, 0.003, 3e-7, 1000, "bnn-pynq",
    )  # fmt: skip
    a = args("--network", "cnvW1A1")
    assert (a.wb, a.ab, a.batch_size, a.lr_start, a.lr_end, a.epochs, a.graph) == (1, 1, 50, 0.001, 3e-7, 500, "board-exact")
    assert (args("--network", "cnvW2A2").wb, args("--network", "cnvW2A2").ab) == (2, 2)
    assert (args("--network", "lfcW1A2").ab, args("--network", "lfcW1A2").batch_size) == (2, 100)
    a = args("--network", "cnvW1A2", "--epochs", "3", "--batch-size", "20", "--graph", "bnn-pynq")
    assert (a.epochs, a.batch_size, a.graph) == (3, 20, "bnn-pynq")


def test_bits_that_contradict_the_network_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        args("--network", "cnvW1A1", "--ab", "2")
    assert e.value.code == 2
    assert "--ab 2: cnvW1A1 has 1-bit activations" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        args("--network", "cnvW9A9")


def records(labels, seed=0):
    rng = np.random.RandomState(seed)
    pixels = rng.randint(0, 256, size=(len(labels), 3072)).astype(np.uint8)
    return np.concatenate([np.asarray(labels, np.uint8)[:, None], pixels], axis=1).tobytes(), pixels


def write_cifar(folder, n_batches=2, per_batch=30, n_test=10, classes=3):
    os.makedirs(folder, exist_ok=True)
    for b in range(1, n_batches + 1):
        with open(os.path.join(folder, f"data_batch_{b}.bin"), "wb") as f:
            f.write(records(np.arange(per_batch) % classes, seed=b)[0])
    with open(os.path.join(folder, "test_batch.bin"), "wb") as f:
        f.write(records(np.arange(n_test) % classes, seed=99)[0])
    with open(os.path.join(folder, "batches.meta.txt"), "w") as f:
        f.write("".join(f"c{i}\n" for i in range(classes)) + "\n\n")
    return folder


def test_cifar_records_read_in_the_official_layout(tmp_path):
    data, pixels = records([3, 1])
    path = tmp_path / "b.bin"
    path.write_bytes(data)
    images, labels = cifar.read_records(str(path))
    assert labels.tolist() == [3, 1]
    assert images.shape == (2, 3, 32, 32)
    # R plane first, each plane row-major
    assert images[1, 0, 0, 1] == pixels[1, 1] and images[1, 1, 0, 0] == pixels[1, 1024] and images[1, 2, 31, 31] == pixels[1, 3071]


def test_truncated_records_and_missing_batches_are_refused(tmp_path):
    data, _ = records([0, 1])
    (tmp_path / "short.bin").write_bytes(data[:-5])
    with pytest.raises(InputError, match="not a whole number of 3073-byte CIFAR-10 records"):
        cifar.read_records(str(tmp_path / "short.bin"))
    folder = write_cifar(str(tmp_path / "d"), n_batches=3)
    os.unlink(os.path.join(folder, "data_batch_2.bin"))
    with pytest.raises(InputError, match="not numbered 1..2"):
        dataset.load(folder, family="cnv")
    with pytest.raises(InputError, match="no data_batch_1.bin"):
        dataset.load(str(tmp_path), family="cnv")


def test_cnv_dataset_split_and_class_names(tmp_path):
    folder = write_cifar(str(tmp_path / "d"), n_batches=2, per_batch=50)
    d = dataset.load(folder, family="cnv")
    # 100 training records: the last tenth validates (cifar10.py: 45,000 / 5,000 of 50,000)
    assert (len(d.train.labels), len(d.val.labels), len(d.test.labels)) == (90, 10, 10)
    assert d.class_names == ["c0", "c1", "c2"] and d.train.images.shape == (90, 3, 32, 32)
    assert dataset.validation_size(50000, "cnv") == 5000 and dataset.validation_size(60000, "cnv") == 5000
    assert dataset.validation_size(60000) == 10000


def test_scale_then_the_input_quantizer_is_the_boards_byte():
    p = np.arange(256, dtype=np.uint8).reshape(1, 1, 1, 256)
    x = cifar.scale(p).astype(np.float32)
    # cnv.genCnv's QuantizationFixed(8, 7, narrow_range=False): round((clip(x, -1, 127/128) + 1) * 128)
    k = np.round((np.clip(x, np.float32(-1), np.float32(127 / 128)) + np.float32(1)) * np.float32(128)) - 128
    p = p.astype(np.int64)
    byte = np.where(p <= 127, p - 128, np.where(p <= 254, p - 127, 127))  # what the host sends (§1.4)
    assert k.astype(np.int64).ravel().tolist() == byte.ravel().tolist()


def test_cnv_layout_has_53_arrays_and_no_last_bias():
    shapes = layout.expected_shapes(10, "cnv")
    assert len(shapes) == 53
    assert shapes[0] == (64, 3, 3, 3) and shapes[30] == (256, 256, 3, 3) and shapes[36] == (256, 512)
    assert shapes[48:] == [(512, 10), (10,), (10,), (10,), (10,)]
    z = np.load(os.path.join(SHARED_DATA, "npz", "cifar10-cnvW1A1-reconstructed.npz"))
    params = [z[f"arr_{i}"] for i in range(53)]
    layout.check(params, 10, "cnv")
    with pytest.raises(ValueError, match=r"arr_48 \(layer 8 W\): shape"):
        layout.check(params[:48] + [params[48][:, :9]] + params[49:], 10, "cnv")


def test_batch_rule_lowest_index_maximum_and_class_0_when_nothing_is_positive():
    pred, none = board.batch_rule(np.array([[3, 7, 7], [-1, 0, -5], [0, 0, 1], [-4, -2, -9]]))
    assert pred.tolist() == [1, 0, 2, 0] and none.tolist() == [False, True, False, True]
    # W1A1 scores are popcounts, (dot + 512) / 2 with the last batch norm's sign applied
    assert board.cnv_scores(np.array([[10.0, -4.0]]), np.array([1.0, -1.0]), 1).tolist() == [[261, 258]]
    assert board.cnv_scores(np.array([[10.0, -4.0]]), np.float32(-2.0), 2).tolist() == [[-10, 4]]


@pytest.mark.parametrize("network", sorted(BITS))
def test_simulated_scores_are_the_boards(network):
    with open(os.path.join(BOARD_IMAGES, "manifest.json")) as f:
        manifest = json.load(f)
    z = np.load(os.path.join(SHARED_DATA, "npz", f"cifar10-{network}-reconstructed.npz"))
    params = [z[f"arr_{i}"] for i in range(53)]
    checked = 0
    for entry in manifest:
        expected = entry["expected_scores"].get(network)
        if expected is None:
            continue
        images, _ = cifar.read_records(os.path.join(BOARD_IMAGES, entry["file"]))
        assert cnv_board.scores(images, params, *BITS[network])[0].tolist() == expected, entry["file"]
        checked += 1
    assert checked >= 1


def test_lfc_w1a2_board_rule_scores_the_boards_figure():
    z = np.load(os.path.join(SHARED_DATA, "npz", "mnist-lfcW1A2-reconstructed.npz"))
    params = [z[f"arr_{i}"] for i in range(24)]
    images = idx.load_images(os.path.join(SHARED_DATA, "mnist", "t10k-images-idx3-ubyte.gz"))
    labels = idx.load_labels(os.path.join(SHARED_DATA, "mnist", "t10k-labels-idx1-ubyte.gz"))
    r = board.evaluate(images, labels, params, activation_bits=2)
    assert round(100 - r["error"], 2) == 98.49  # LFC-QNN_MNIST notebook, shipped mnist/lfcW1A2 params
