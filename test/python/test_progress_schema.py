"""progress.jsonl as the real epoch loop (bnn_train.train.Runner) writes it, validated against its one definition,
scripts/instance/progress.schema.json. Theano is replaced by a small numpy network with the LFC's npz layout, so
everything else (evaluation under both rules, best-epoch choice, checkpoints, the record itself) is the real code."""

import json
import os
import sys
import types

import jsonschema
import numpy as np
import pytest
from conftest import REPO, write_dataset

from bnn_train import cli, layout, progress, train

SCHEMA = json.load(open(os.path.join(REPO, "scripts", "instance", "progress.schema.json"), encoding="utf-8"))
# The schema says "every property is required" in words (one edit adds a field); the validator is told so here.
STRICT = dict(SCHEMA, required=list(SCHEMA["properties"]))


class StandInNet:
    """The model.Net interface in numpy (LFC networks): LFC-shaped parameters, outputs that move with every step."""

    def __init__(self, network, num_classes, seed, graph="bnn-pynq", log=print):
        assert network.family == "lfc"
        rng = np.random.RandomState(seed)
        self.arrays = []
        for shape in layout.expected_shapes(num_classes, network.family):
            if len(shape) == 2:
                a = rng.standard_normal(shape)
            else:
                a = rng.uniform(0.5, 1.5, size=shape)
            self.arrays.append(a.astype(np.float32))
        self.step = np.zeros((), dtype=np.float32)
        self.num_classes = num_classes

    def params(self):
        return [a.copy() for a in self.arrays]

    def state_values(self):
        return self.params() + [self.step.copy()]

    def set_state_values(self, values):
        self.arrays, self.step = [v.copy() for v in values[:-1]], values[-1].copy()

    def train_fn(self, x, y, lr):
        self.step = self.step + 1
        self.arrays[-6] = self.arrays[-6] * np.float32(0.99)
        return float(np.mean(np.square(np.maximum(0.0, 1.0 - y))) / (1 + float(self.step)))

    def predict(self, x, batch=500):
        flat = x.reshape(len(x), -1).astype(np.float32)
        return [np.tanh(flat @ self.arrays[0][:, : self.num_classes] / 100.0 + float(self.step) / 1000.0)]


@pytest.fixture
def stand_in_model(monkeypatch):
    module = types.ModuleType("bnn_train.model")
    module.Net = StandInNet
    module.actual_device = lambda: "cpu"
    module.versions = lambda: {"theano": "stand-in"}
    monkeypatch.setitem(sys.modules, "bnn_train.model", module)
    monkeypatch.setattr("bnn_train.model", module, raising=False)


def run(tmp_path, *extra):
    data = write_dataset(str(tmp_path / "data"), n_train=80, n_test=20, classes=10)
    run_dir = str(tmp_path / "run")
    args = cli.parse_args(
        ["--data-dir", data, "--run-dir", run_dir, "--run-id", "run-1", "--dataset", "tiny", "--batch-size", "10", *extra]
    )
    train.Runner(args, lambda: None, log=lambda _m: None).run()
    with open(os.path.join(run_dir, "progress.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_every_record_of_a_real_epoch_loop_matches_the_schema(tmp_path, stand_in_model):
    records = run(tmp_path, "--epochs", "3")
    assert [r["epoch"] for r in records] == [1, 2, 3]
    for r in records:
        jsonschema.validate(r, STRICT)


def test_lfc_records_leave_the_cnv_rate_null_as_the_schema_says(tmp_path, stand_in_model):
    for network in ("lfcW1A1", "lfcW1A2"):
        records = run(tmp_path / network, "--epochs", "2", "--network", network)
        for r in records:
            jsonschema.validate(r, STRICT)
            assert r["val_nonpositive_rate"] is None and r["test_nonpositive_rate"] is None
            assert r["val_no_bit_rate"] is not None


def test_the_writer_field_list_is_the_schema():
    assert progress.FIELDS == tuple(SCHEMA["properties"])
    assert SCHEMA["additionalProperties"] is False


def test_a_record_off_the_schema_is_refused_by_the_validator(tmp_path, stand_in_model):
    good = run(tmp_path, "--epochs", "1")[0]
    jsonschema.validate(good, STRICT)
    with pytest.raises(jsonschema.ValidationError, match="101.0 is greater than the maximum"):
        jsonschema.validate(dict(good, val_error_board=101.0), STRICT)
    with pytest.raises(jsonschema.ValidationError, match="'surprise' was unexpected"):
        jsonschema.validate(dict(good, surprise=1), STRICT)
    missing = dict(good)
    del missing["eta_seconds"]
    with pytest.raises(jsonschema.ValidationError, match="'eta_seconds' is a required property"):
        jsonschema.validate(missing, STRICT)
