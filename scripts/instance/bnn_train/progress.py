"""progress.jsonl records: one per epoch; error figures are percentages of the images in the set.

*_no_bit_rate / *_multi_bit_rate (LFC, null for CNV): images with no / several output bits set (the highest-bit rule
answers class 0 / the highest). *_nonpositive_rate (CNV, null for LFC): images whose every class score is <= 0
(the batch rule answers class 0)."""

import time

FIELDS = (
    "epoch", "epochs", "lr", "train_loss",
    "val_loss", "val_error_argmax", "val_error_board", "val_no_bit_rate", "val_multi_bit_rate", "val_nonpositive_rate",
    "test_loss", "test_error_argmax", "test_error_board", "test_no_bit_rate", "test_multi_bit_rate",
    "test_nonpositive_rate",
    "select", "improved", "best_epoch", "best_val_error", "best_test_error_board", "best_test_error_argmax",
    "seconds", "elapsed_seconds", "eta_seconds", "time",
)  # fmt: skip


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
