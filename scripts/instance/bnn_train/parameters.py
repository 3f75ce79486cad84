"""The training parameters from their one table, scripts/instance/training-parameters.json (next to this package on
the instance too). cli.py makes bnn_train's options from it; the run-id and dataset-name patterns come from it."""

import json
import os
import re

TABLE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "training-parameters.json")

with open(TABLE_PATH, encoding="utf-8") as _f:
    TABLE = json.load(_f)

PATTERNS = {key: re.compile(source) for key, source in TABLE["patterns"].items()}
RUN_ID = PATTERNS["runId"]  # lib/layout.ts RUN_ID_PATTERN (the same table)
DATASET_NAME = PATTERNS["datasetName"]  # lib/layout.ts DATASET_NAME_PATTERN

# The parameters bnn_train takes, in table order.
TRAINER = [p for p in TABLE["parameters"] if p.get("trainer")]

_CONVERT = {"integer": int, "number": float, "string": str, "boolean": lambda s: s == "true"}


def dest(param):
    """The argparse attribute of the parameter's option: --batch-size -> batch_size."""
    return param["trainer"].lstrip("-").replace("-", "_")


def convert(param, text):
    return _CONVERT[param["type"]](text)


def problem(param, text):
    """None when the option's text matches the table's pattern, else the one-line complaint."""
    if PATTERNS[param["pattern"]].match(text):
        return None
    shown = repr(text) if param["type"] == "string" else text
    return f"{param['trainer']} {shown}: must be {param['expected']}"
