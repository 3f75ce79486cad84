import os

import numpy as np
import pytest

from bnn_train import checkpoint, progress, train
from bnn_train.errors import InputError


def test_checkpoint_round_trip_continues_the_rng(tmp_path):
    run = str(tmp_path)
    rng = np.random.RandomState(7)
    rng.permutation(100)
    meta = {"epoch": 3, "config": {"epochs": 5}, "history": [{"epoch": 1}], "best": {"epoch": 2, "score": 1.5}}
    state = [np.arange(6, dtype=np.float32).reshape(2, 3), np.float32(12.0).reshape(()), np.arange(4, dtype=np.int32)]
    best = [np.ones(3, dtype=np.float32)]
    checkpoint.save(run, meta, state, best, rng)
    m, s, b, r = checkpoint.load(run)
    assert m["epoch"] == 3 and m["history"] == [{"epoch": 1}] and m["best"]["score"] == 1.5
    assert [a.shape for a in s] == [(2, 3), (), (4,)] and [a.dtype for a in s] == [np.float32, np.float32, np.int32]
    assert all(np.array_equal(x, y) for x, y in zip(s, state))
    assert np.array_equal(b[0], best[0])
    assert np.array_equal(r.permutation(50), rng.permutation(50))
    assert os.listdir(os.path.join(run, "checkpoint")) == ["checkpoint.npz"]


def test_no_checkpoint_is_none(tmp_path):
    assert checkpoint.load(str(tmp_path)) is None


def test_corrupted_checkpoint_is_an_input_error(tmp_path):
    os.makedirs(tmp_path / "checkpoint")
    (tmp_path / "checkpoint" / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InputError, match="unreadable checkpoint.*remove the run's checkpoint/ folder"):
        checkpoint.load(str(tmp_path))


def test_config_mismatch_lists_the_options():
    assert checkpoint.config_mismatch({"epochs": 2, "seed": 0}, {"epochs": 3, "seed": 0}) == ["epochs: checkpoint 2, now 3"]


def test_eta_and_ties():
    assert progress.eta_seconds([10.0, 20.0], 3) == 45.0
    assert progress.eta_seconds([10.0], 0) == 0.0
    assert progress.is_better(5.0, None) and progress.is_better(5.0, 5.0) and not progress.is_better(5.1, 5.0)


def test_record_requires_every_field():
    values = {f: 0 for f in progress.FIELDS}
    assert list(progress.record(**values)) == list(progress.FIELDS)
    del values["eta_seconds"]
    with pytest.raises(ValueError, match="eta_seconds"):
        progress.record(**values)


def test_lr_decays_exponentially_as_mnist_py():
    lrs = [train.lr_for_epoch(e, 1000, 0.003, 3e-7) for e in (1, 2, 1000)]
    decay = (3e-7 / 0.003) ** (1 / 1000)
    assert lrs[0] == pytest.approx(0.003)
    assert lrs[1] == pytest.approx(0.003 * decay)
    assert lrs[2] == pytest.approx(3e-7 / decay)
