"""bnn_train's options against the training-parameter table (scripts/instance/training-parameters.json)."""

import json
import os

import pytest
from conftest import REPO

from bnn_train import cli, parameters

TABLE = json.load(open(os.path.join(REPO, "scripts", "instance", "training-parameters.json"), encoding="utf-8"))
REQUIRED = ["--data-dir", "/d", "--run-dir", "/r", "--run-id", "run-1", "--dataset", "tiny"]
# Options that are not training parameters of the table: where things are, the device, the hook.
WRAPPER_OPTIONS = {"--data-dir", "--run-dir", "--device", "--on-epoch", "-h", "--help"}


def parser_options():
    return {s for action in cli.build_parser()._actions for s in action.option_strings}


def test_the_parser_has_exactly_the_table_trainer_options():
    trainer = {p["trainer"] for p in TABLE["parameters"] if p["trainer"]}
    assert parser_options() - WRAPPER_OPTIONS == trainer


def test_defaults_are_the_table_defaults_typed():
    # Defaults marked "trainerDefault": "network" are the network's (networks.py); the table's are the default one's.
    args = cli.parse_args(REQUIRED)
    for p in TABLE["parameters"]:
        if not p["trainer"] or p.get("trainerRequired") or p.get("trainerDefault") == "network":
            continue  # network-derived defaults: test_networks.py checks them per network
        expected = {"integer": int, "number": float, "string": str}[p["type"]](p["default"])
        if p["default"] == p.get("trainerOmits"):
            expected = None  # limitTrain 0: all images, the option left out
        assert getattr(args, parameters.dest(p)) == expected, p["name"]


@pytest.mark.parametrize("param", [p for p in TABLE["parameters"] if p["trainer"]], ids=lambda p: p["name"])
def test_a_value_off_the_pattern_exits_2_naming_the_option(param, capsys):
    argv = REQUIRED + [param["trainer"], "Bad Value"]
    with pytest.raises(SystemExit) as e:
        cli.parse_args(argv)
    assert e.value.code == 2
    assert f"{param['trainer']} " in capsys.readouterr().err


def test_patterns_are_the_table_patterns():
    assert parameters.RUN_ID.pattern == TABLE["patterns"]["runId"]
    assert parameters.DATASET_NAME.pattern == TABLE["patterns"]["datasetName"]
    assert {k: v.pattern for k, v in parameters.PATTERNS.items()} == TABLE["patterns"]


def test_values_on_the_pattern_are_taken_typed():
    args = cli.parse_args(REQUIRED + ["--epochs", "3", "--lr-end", "3e-7", "--seed", "0", "--limit-train", "200"])
    assert (args.epochs, args.lr_end, args.seed, args.limit_train) == (3, 3e-7, 0, 200)
    assert cli.parse_args(REQUIRED + ["--limit-train", "0"]).limit_train is None
