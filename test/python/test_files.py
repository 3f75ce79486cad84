import os
import time
import zipfile

import numpy as np
import pytest

from bnn_train import files, layout


def test_model_npz_has_the_savez_layout_and_loads(tmp_path):
    params = [np.random.RandomState(i).rand(*s).astype(np.float32) for i, s in enumerate(layout.expected_shapes(10))]
    p = str(tmp_path / "model.npz")
    files.save_model(p, params)
    with np.load(p) as z:
        assert z.files == [f"arr_{i}" for i in range(24)]
        for i, a in enumerate(params):
            assert z[f"arr_{i}"].dtype == np.float32
            assert np.array_equal(z[f"arr_{i}"], a)
    with zipfile.ZipFile(p) as zf:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left


def test_same_arrays_same_bytes_at_any_time(tmp_path):
    arrays = [("a", np.arange(5, dtype=np.float32)), ("t", np.float32(3.0).reshape(()))]
    files.save_npz(str(tmp_path / "1.npz"), arrays)
    time.sleep(2.1)  # zip timestamps have 2-second resolution
    files.save_npz(str(tmp_path / "2.npz"), arrays)
    assert (tmp_path / "1.npz").read_bytes() == (tmp_path / "2.npz").read_bytes()
    with np.load(str(tmp_path / "1.npz")) as z:
        assert z["t"].shape == ()  # 0-d state (Adam's step counter) stays 0-d


def test_layout_check_names_the_bad_array():
    params = [np.zeros(s, dtype=np.float32) for s in layout.expected_shapes(10)]
    layout.check(params, 10)
    params[9] = np.zeros(1024, dtype=np.float64)
    with pytest.raises(ValueError, match=r"arr_9 \(layer 1 gamma\): dtype float64"):
        layout.check(params, 10)
    params[9] = np.zeros(1023, dtype=np.float32)
    with pytest.raises(ValueError, match=r"arr_9 .*shape \(1023,\), expected \(1024,\)"):
        layout.check(params, 10)
    with pytest.raises(ValueError, match="23 arrays"):
        layout.check(params[:23], 10)


def test_expected_shapes_for_64_classes():
    shapes = layout.expected_shapes(64)
    assert shapes[0] == (784, 1024) and shapes[18] == (1024, 64) and shapes[23] == (64,)
