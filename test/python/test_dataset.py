import json
import os

import numpy as np
import pytest
from conftest import write_dataset

from bnn_train import dataset
from bnn_train.errors import InputError


def test_validation_is_the_last_tenth_thousand_or_a_sixth():
    assert dataset.validation_size(60000) == 10000
    assert dataset.validation_size(120000) == 10000
    assert dataset.validation_size(600) == 100
    assert dataset.validation_size(5) == 1


def test_split_takes_validation_from_the_end(tiny_dataset):
    d = dataset.load(tiny_dataset)
    assert len(d.train.labels) == 50 and len(d.val.labels) == 10 and len(d.test.labels) == 10
    assert d.num_classes == 3 and d.class_names == ["0", "1", "2"]
    assert d.val.labels.tolist() == [i % 3 for i in range(50, 60)]


def test_limit_train_keeps_the_validation_set(tiny_dataset):
    d = dataset.load(tiny_dataset, limit_train=7)
    assert len(d.train.labels) == 7 and len(d.val.labels) == 10
    assert d.train.labels.tolist() == [i % 3 for i in range(7)]


def test_imported_dataset_json_fixes_the_validation_size(tiny_dataset):
    # `bnn-pynq dataset import --split 70/20/10` writes the train part, then 12 validation images, and says so.
    with open(os.path.join(tiny_dataset, "dataset.json"), "w") as f:
        json.dump({"name": "mine", "splits": {"train": 48, "validation": 12, "test": 10}}, f)
    d = dataset.load(tiny_dataset)
    assert len(d.train.labels) == 48 and len(d.val.labels) == 12
    assert d.val.labels.tolist() == [i % 3 for i in range(48, 60)]


def test_dataset_json_that_disagrees_with_the_files_is_refused(tiny_dataset):
    with open(os.path.join(tiny_dataset, "dataset.json"), "w") as f:
        json.dump({"splits": {"train": 40, "validation": 12, "test": 10}}, f)
    with pytest.raises(InputError, match="train 40 \\+ validation 12, but the training file holds 60 images"):
        dataset.load(tiny_dataset)


def test_classes_txt_sets_the_class_count(tiny_dataset):
    with open(os.path.join(tiny_dataset, "classes.txt"), "w") as f:
        f.write("cat\ndog\nbird\nfish\n")
    d = dataset.load(tiny_dataset)
    assert d.num_classes == 4 and d.class_names == ["cat", "dog", "bird", "fish"]


def test_classes_txt_with_too_few_names_is_refused(tiny_dataset):
    with open(os.path.join(tiny_dataset, "classes.txt"), "w") as f:
        f.write("cat\ndog\n")
    with pytest.raises(InputError, match="lists 2 classes but the labels go up to 2"):
        dataset.load(tiny_dataset)


def test_image_label_count_mismatch_is_refused(tmp_path):
    folder = write_dataset(str(tmp_path / "d"))
    other = write_dataset(str(tmp_path / "o"), n_test=11)
    os.replace(os.path.join(other, "t10k-labels-idx1-ubyte.gz"), os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))
    with pytest.raises(InputError, match="11 labels for the 10 images"):
        dataset.load(folder)


def test_hinge_targets():
    t = dataset.hinge_targets(np.array([2, 0]), 3)
    assert t.dtype == np.float32
    assert t.tolist() == [[-1, -1, 1], [1, -1, -1]]
