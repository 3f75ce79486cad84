import os
import subprocess
import sys
import tarfile

import pytest
from conftest import REPO, write_dataset

from bnn_train import cli

INSTANCE = os.path.join(REPO, "scripts", "instance")
VENDOR = os.path.abspath(os.path.join(REPO, "..", "shared", "vendor"))


def run_train(*args, env=None):
    e = dict(os.environ, PYTHONPATH=INSTANCE)
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bnn_train", *args], capture_output=True, text=True, env=e, timeout=120
    )


def base_args(data_dir, run_dir):
    return ["--data-dir", data_dir, "--run-dir", run_dir, "--run-id", "run-1", "--dataset", "tiny"]


def test_truncated_file_exits_2_with_one_line_naming_it(tmp_path):
    data = write_dataset(str(tmp_path / "d"))
    path = os.path.join(data, "t10k-images-idx3-ubyte.gz")
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[:100])
    r = run_train(*base_args(data, str(tmp_path / "run")))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("bnn_train: error: ") and path in lines[0] and "gzip" in lines[0]
    assert not os.path.exists(tmp_path / "run")  # nothing written for a refused input


def test_missing_data_dir_exits_2(tmp_path):
    r = run_train(*base_args(str(tmp_path / "nope"), str(tmp_path / "run")))
    assert r.returncode == 2 and "--data-dir is not a folder" in r.stderr


def test_bad_options_exit_2(tmp_path):
    data = write_dataset(str(tmp_path / "d"))
    r = run_train(*base_args(data, str(tmp_path / "run")), "--epochs", "0", "--run-id", "Bad_Id")
    assert r.returncode == 2
    assert "--epochs 0: must be at least 1" in r.stderr and "--run-id 'Bad_Id'" in r.stderr
    r = run_train("--data-dir", data)
    assert r.returncode == 2 and "required" in r.stderr


def test_fewer_images_than_a_batch_exits_2(tmp_path):
    data = write_dataset(str(tmp_path / "d"))
    r = run_train(*base_args(data, str(tmp_path / "run")), "--limit-train", "5")
    assert r.returncode == 2 and "5 training images, fewer than one batch of 100" in r.stderr


def test_theano_flags_device_defaults_then_caller_then_device():
    flags = cli.theano_flags("cpu", {"THEANO_FLAGS": "base_compiledir=/c,device=cuda", "BNN_TRAIN_COMPILEDIR": "/x"})
    assert flags.startswith(cli.DEVICE_FLAGS["cpu"] + ",base_compiledir=/x,base_compiledir=/c")
    assert flags.endswith(",device=cpu")
    assert cli.theano_flags("cuda", {}) == "device=cuda,floatX=float32,dnn.enabled=False,device=cuda"


def test_sitecustomize_restores_the_numpy_aliases():
    code = "import numpy as np; print(np.float is float, np.complex is complex, np.bool is bool, np.object is object)"
    e = dict(os.environ, PYTHONPATH=os.path.join(INSTANCE, "sitecustomize"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, check=True).stdout
    assert out.split() == ["True"] * 4
    bare = subprocess.run([sys.executable, "-c", "import numpy as np; print(hasattr(np, 'complex'))"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=""), check=True).stdout
    assert bare.strip() == "False"  # numpy 1.24 here: without the shim Theano's np.complex is gone


def test_patch_set_makes_quantization_py_parse_and_is_idempotent(tmp_path):
    with tarfile.open(os.path.join(VENDOR, "bnn-pynq-training-d39c1c7.tar.gz")) as t:
        t.extractall(tmp_path)
    tree = str(tmp_path / "BNN-PYNQ-d39c1c7")
    q = os.path.join(tree, "bnn", "src", "training", "quantization.py")
    with pytest.raises(SyntaxError):
        compile(open(q).read(), q, "exec")
    apply = os.path.join(INSTANCE, "patches", "apply.sh")
    first = subprocess.run(["bash", apply, "bnn-pynq", tree], capture_output=True, text=True)
    assert first.returncode == 0 and "applied bnn-pynq/0001" in first.stderr
    compile(open(q).read(), q, "exec")
    again = subprocess.run(["bash", apply, "bnn-pynq", tree], capture_output=True, text=True)
    assert again.returncode == 0 and "already applied" in again.stderr
    wrong = subprocess.run(["bash", apply, "pylearn2", tree], capture_output=True, text=True)
    assert wrong.returncode == 1 and "does not apply" in wrong.stderr


def test_two_bit_activations_are_the_lfcW1A2_network(tmp_path):
    data = write_dataset(str(tmp_path / "d"))
    r = run_train(*base_args(data, str(tmp_path / "run")), "--ab", "2")
    assert r.returncode == 2 and "--ab 2: lfcW1A1 has 1-bit activations" in r.stderr
    assert not os.path.exists(tmp_path / "run")