"""bnn_train's copies of the board's decision rules give the classes of the shared vectors
(test/vectors/decision-rules.json), which test/bnn/decision-vectors.test.ts holds lib/bnn/decision.ts to."""
import json
import os

import numpy as np
from bnn_train import board

VECTORS = os.path.join(os.path.dirname(__file__), "..", "vectors", "decision-rules.json")


def load():
    with open(VECTORS) as f:
        return json.load(f)


def test_lfc_batch_rule_matches_the_shared_vectors():
    for v in load()["highestSetBit"]:
        assert int(board.predict_from_bits(np.array([v["lanes"]]))[0]) == v["class"], v


def test_cnv_batch_rule_matches_the_shared_vectors():
    for v in load()["maxPositiveScore"]:
        classes, _ = board.batch_rule(np.array([v["scores"]]))
        assert int(classes[0]) == v["class"], v
