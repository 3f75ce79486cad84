"""Atomic, deterministic file writing: the run dir is synced to S3 while training runs, so a reader (or a resumed
run) must only ever see complete files."""

import json
import os
import zipfile

import numpy as np

# A fixed timestamp makes the same arrays give the same bytes (np.savez stamps the current time into the zip).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(path, write):
    """Calls write(file object) on a temporary file next to `path`, then renames it over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fsync_dir(directory)


def write_npz(f, named_arrays):
    """np.savez's layout (uncompressed zip of NAME.npy entries, zip64 headers as numpy writes them), bytes depending
    only on the arrays."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in named_arrays:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as entry:
                # np.asarray(order="C") keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d)
                np.lib.format.write_array(entry, np.asarray(array, order="C"), allow_pickle=False)


def save_npz(path, named_arrays):
    replace_atomically(path, lambda f: write_npz(f, named_arrays))


def save_model(path, params):
    """model.npz exactly as BNN-PYNQ writes it: np.savez(path, *params) -> arr_0 .. arr_23."""
    save_npz(path, [(f"arr_{i}", a) for i, a in enumerate(params)])


def save_json(path, obj):
    data = (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
    replace_atomically(path, lambda f: f.write(data))


def save_jsonl(path, records):
    data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
    replace_atomically(path, lambda f: f.write(data))
