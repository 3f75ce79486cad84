"""progress.jsonl records: one per epoch; error figures are percentages of the images in the set. The fields and what
each means are defined once, in scripts/instance/progress.schema.json (e.g. *_no_bit_rate / *_multi_bit_rate: LFC, null
for CNV; *_nonpositive_rate: CNV, null for LFC)."""

import json
import os
import time

# The record's fields, defined once in scripts/instance/progress.schema.json (the TypeScript reader reads the same
# file); record() returns them in the schema's order.
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "progress.schema.json")
with open(SCHEMA_PATH, encoding="utf-8") as _f:
    SCHEMA = json.load(_f)
FIELDS = tuple(SCHEMA["properties"])


def eta_seconds(epoch_seconds, remaining_epochs):
    """Mean of the epochs timed so far times the epochs still to run (0 when done or nothing timed yet)."""
    if remaining_epochs <= 0 or not epoch_seconds:
        return 0.0
    return round(sum(epoch_seconds) / len(epoch_seconds) * remaining_epochs, 1)


def is_better(candidate, best):
    """BNN-PYNQ's rule: a validation error equal to the best so far also wins (the later epoch is kept)."""
    return best is None or candidate <= best


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record(**values):
    missing = [f for f in FIELDS if f not in values]
    extra = [k for k in values if k not in FIELDS]
    if missing or extra:
        raise ValueError(f"progress record: missing {missing}, unknown {extra}")
    return {f: values[f] for f in FIELDS}
