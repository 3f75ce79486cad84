"""checkpoint/checkpoint.npz: everything a run needs to continue exactly where it stopped.

One file, replaced atomically after each complete epoch, so checkpoint/ always holds the latest complete epoch:
  meta                JSON (uint8 bytes): format, epoch done, run config, best-so-far, progress history, timings
  state_NNN           every Theano shared variable the training function reads or updates, in the compiled
                      function's order: weights, biases, batch-norm parameters and averages, Adam moments and steps,
                      the dropout layers' MRG random-stream states
  best_NN             the best model's parameter arrays (what model.npz holds: 24 LFC, 53 CNV)
  shuffle_rng_*       numpy RandomState (MT19937) that orders the training images
"""

import json
import os
import zipfile

import numpy as np

from bnn_train import files
from bnn_train.errors import InputError

FORMAT = 1
FILE = "checkpoint.npz"


def path_in(run_dir):
    return os.path.join(run_dir, "checkpoint", FILE)


def rng_to_arrays(rng):
    kind, keys, pos, has_gauss, cached = rng.get_state()
    assert kind == "MT19937"
    return [
        ("shuffle_rng_keys", np.asarray(keys, dtype=np.uint32)),
        ("shuffle_rng_pos", np.asarray(pos, dtype=np.int64)),
        ("shuffle_rng_has_gauss", np.asarray(has_gauss, dtype=np.int64)),
        ("shuffle_rng_cached_gaussian", np.asarray(cached, dtype=np.float64)),
    ]


def rng_from_arrays(arrays):
    rng = np.random.RandomState()
    rng.set_state(
        (
            "MT19937",
            arrays["shuffle_rng_keys"],
            int(arrays["shuffle_rng_pos"]),
            int(arrays["shuffle_rng_has_gauss"]),
            float(arrays["shuffle_rng_cached_gaussian"]),
        )
    )
    return rng


def save(run_dir, meta, state_values, best_params, shuffle_rng):
    meta = dict(meta, format=FORMAT, state_count=len(state_values), best_count=len(best_params))
    named = [("meta", np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8))]
    named += [(f"state_{i:03d}", v) for i, v in enumerate(state_values)]
    named += [(f"best_{i:02d}", p) for i, p in enumerate(best_params)]
    named += rng_to_arrays(shuffle_rng)
    files.save_npz(path_in(run_dir), named)


def load(run_dir):
    """None when there is no checkpoint; else (meta, state values, best params, shuffle rng)."""
    path = path_in(run_dir)
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays["meta"].tobytes().decode())
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')}, this trainer reads format {FORMAT}")
        state = [arrays[f"state_{i:03d}"] for i in range(meta["state_count"])]
        best = [arrays[f"best_{i:02d}"] for i in range(meta["best_count"])]
        rng = rng_from_arrays(arrays)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable checkpoint ({e}); remove the run's checkpoint/ folder to start over") from None
    return meta, state, best, rng


def config_mismatch(saved, current):
    """The options that differ between the checkpoint's run and this one (they would change the result)."""
    keys = sorted(set(saved) | set(current))
    return [f"{k}: checkpoint {saved.get(k)!r}, now {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]
