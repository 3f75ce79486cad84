# Board-side helper of `bnn-pynq board`. It is sent over the ssh session's stdin and run by the board's
# python3 (`python3 -c <bootstrap> <action>`); it is never stored on the board. It must run on every
# Python a PYNQ image has shipped (3.6 on PYNQ 2.3-2.5, 3.8, 3.10): standard library only, no walrus,
# no dataclasses.
#
# Protocol: after the script itself, stdin carries one line of JSON (the request), then the payload
# (raw file bytes, in the order the request lists them). The answer is the last stdout line starting
# with MARK, followed by JSON: {"ok": true, ...} or {"ok": false, "code": ..., "message": ...}.
# Everything else on stdout/stderr (the bnn package prints its timings) is for humans only.

import contextlib
import errno
import gzip
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile

MARK = "@@bnn-pynq-result@@"
# BNN-PYNQ's five overlays (bnn.py NETWORK_*) and the input each reads: idx3 images (LfcClassifier) or
# CIFAR-10 binary records (CnvClassifier). The same table as lib/bnn/overlays.ts.
FAMILY = {"lfcW1A1": "lfc", "lfcW1A2": "lfc", "cnvW1A1": "cnv", "cnvW1A2": "cnv", "cnvW2A2": "cnv"}
NETWORKS = sorted(FAMILY)
DEFAULT_NETWORK = {"lfc": "lfcW1A1", "cnv": "cnvW1A1"}
# bnn.py: BOARD selects the bitstream/library folder.
PLATFORMS = {"Ultra96": "ultra96", "Pynq-Z1": "pynqZ1-Z2", "Pynq-Z2": "pynqZ1-Z2"}
CHUNK = 1 << 16


class Refusal(Exception):
    """A failure with a machine-readable code; the CLI turns it into one line with the fix."""

    def __init__(self, code, message, **extra):
        Exception.__init__(self, message)
        self.code = code
        self.extra = extra


def emit(answer):
    try:
        sys.stdout.write("\n" + MARK + " " + json.dumps(answer) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass  # the connection is gone; the cleanup already ran


@contextlib.contextmanager
def stdout_to_stderr():
    """The bnn package and its C library print to fd 1; keep fd 1 for our answer alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def check_dataset(name):
    # Same rule as the CLI (lib/layout.ts DATASET_NAME_PATTERN); checked again here because this
    # name becomes a folder next to root-owned package files.
    ok = 0 < len(name) <= 63 and name[0].isalnum() and all(c.isdigit() or c == "-" or "a" <= c <= "z" for c in name)
    if not ok or name != name.lower():
        raise Refusal("bad-dataset", "dataset name %r is not a plain folder name" % name)


def check_network(name):
    if name not in FAMILY:
        raise Refusal("bad-network", "network %r is not one of %s" % (name, ", ".join(NETWORKS)))
    return name


def locate_bnn():
    """The folder of the installed bnn package, found without importing it (importing loads pynq,
    which is slow and needs BOARD set); realpath, as bnn.py's own BNN_ROOT_DIR."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("bnn")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or spec.origin in ("namespace", "built-in"):
        raise Refusal(
            "no-bnn",
            "%s on the board cannot import the bnn package (BNN-PYNQ is not installed for it)" % sys.executable,
            python=sys.executable,
        )
    return os.path.dirname(os.path.realpath(spec.origin))


def probe_writable(folder):
    """True when this user can create (and remove) a folder in `folder`. A real attempt, not os.access:
    it also catches read-only mounts and ACLs."""
    try:
        probe = tempfile.mkdtemp(prefix=".bnn-pynq-probe-", dir=folder)
    except OSError:
        return False
    os.rmdir(probe)
    return True


def param_sets(params):
    """Every <params>/<dataset>/<network>/ folder of the five overlays, with its number of files."""
    sets = []
    if not os.path.isdir(params):
        return sets
    for name in sorted(os.listdir(params)):
        for network in NETWORKS:
            folder = os.path.join(params, name, network)
            if os.path.isdir(folder):
                files = [f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f))]
                sets.append({"dataset": name, "network": network, "files": len(files)})
    return sets


def overlays(root, platform):
    """The overlays whose bitstream is installed: <bnn>/bitstreams/<platform>/<network>-<platform>.bit
    (bnn.py's names), for the board's platform, or for every platform folder when BOARD is unknown, and
    whether the hardware runtime's library <bnn>/libraries/<platform>/python_hw-<network>-<platform>.so is."""
    found = []
    base = os.path.join(root, "bitstreams")
    if not os.path.isdir(base):
        return found
    for plat in sorted(os.listdir(base)) if platform is None else [platform]:
        folder = os.path.join(base, plat)
        if not os.path.isdir(folder):
            continue
        for network in NETWORKS:
            if os.path.isfile(os.path.join(folder, "%s-%s.bit" % (network, plat))):
                # PynqBNN also loads the hardware runtime's library for the network
                library = os.path.join(root, "libraries", plat, "python_hw-%s-%s.so" % (network, plat))
                found.append({"network": network, "platform": plat, "library": os.path.isfile(library)})
    return found


def leftovers(params, dataset=None):
    if not os.path.isdir(params):
        return []
    prefix = "." + dataset + ".incoming-" if dataset else None
    return sorted(
        n for n in os.listdir(params) if (n.startswith(prefix) if prefix else (n.startswith(".") and ".incoming-" in n))
    )


def do_check(request):
    info = {"python": sys.version.split()[0], "executable": sys.executable, "user": user_name()}
    info["boardEnv"] = os.environ.get("BOARD")
    info["pynq"] = None
    try:
        with stdout_to_stderr():
            import pynq

            info["pynq"] = getattr(pynq, "__version__", "unknown")
    except Exception as e:  # noqa: BLE001 - any import failure is a finding, not a crash
        info["pynqError"] = "%s: %s" % (type(e).__name__, e)
    try:
        root = locate_bnn()
    except Refusal as r:
        info["bnn"] = None
        info["bnnError"] = str(r)
        return info
    params = os.path.join(root, "params")
    info["bnn"] = root
    info["params"] = params
    try:
        with stdout_to_stderr():
            import bnn

            info["bnnVersion"] = getattr(bnn, "__version__", None)
    except Exception as e:  # noqa: BLE001
        info["bnnImportError"] = "%s: %s" % (type(e).__name__, e)
    info["sets"] = param_sets(params)
    info["platform"] = PLATFORMS.get(info["boardEnv"] or "")
    info["overlays"] = overlays(root, info["platform"])
    info["leftovers"] = leftovers(params)
    usage = shutil.disk_usage(params if os.path.isdir(params) else root)
    info["freeBytes"] = usage.free
    info["writable"] = probe_writable(params) if os.path.isdir(params) else probe_writable(root)
    return info


def user_name():
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())


def read_exact(stream, size, sink, digest):
    left = size
    while left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            raise Refusal("connection-lost", "the upload stopped after %d of %d bytes of a file" % (size - left, size))
        sink.write(chunk)
        digest.update(chunk)
        left -= len(chunk)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def safe_member(path):
    return path and "/" not in path and "\\" not in path and not path.startswith(".")


def do_push(request, stdin):
    dataset = request["dataset"]
    check_dataset(dataset)
    network = check_network(request.get("network") or DEFAULT_NETWORK["lfc"])
    files = request["files"]
    for f in files:
        if not safe_member(f["path"]):
            raise Refusal("bad-file", "file name %r is not a plain file name" % f["path"])
    root = locate_bnn()
    params = os.path.join(root, "params")
    if not os.path.isdir(params):
        raise Refusal("no-params", "%s has no params folder (a broken bnn install?)" % root, params=params)
    if not probe_writable(params):
        raise Refusal("not-writable", "%s is not writable for %s" % (params, user_name()), params=params)

    # One push per dataset at a time. flock on the params folder itself (no lock file to leave behind);
    # a holder that died has released it, so any incoming folder we then find is stale.
    import fcntl

    lock = os.open(params, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise Refusal("busy", "another push to %s is running" % params)

    cleaned = []
    for name in leftovers(params, dataset):
        shutil.rmtree(os.path.join(params, name), ignore_errors=True)
        cleaned.append(name)

    incoming = tempfile.mkdtemp(prefix="." + dataset + ".incoming-", dir=params)
    done = False
    try:
        os.chmod(incoming, 0o755)
        staged = os.path.join(incoming, network)
        os.mkdir(staged, 0o755)
        for f in files:
            path = os.path.join(staged, f["path"])
            with open(path, "wb") as out:
                read_exact(stdin, int(f["size"]), out, hashlib.sha256())
                out.flush()
                os.fsync(out.fileno())
            os.chmod(path, 0o644)
        fsync_dir(staged)

        # The check that counts: what is on the board's disk, read back, against the manifest.
        problems = []
        for f in files:
            path = os.path.join(staged, f["path"])
            size = os.path.getsize(path)
            if size != int(f["size"]):
                problems.append("%s: %d bytes on the board, manifest says %d" % (f["path"], size, f["size"]))
            elif sha256_of(path) != f["sha256"]:
                problems.append("%s: SHA-256 on the board differs from the manifest" % f["path"])
        extra = set(os.listdir(staged)) - set(f["path"] for f in files)
        problems.extend("%s: not in the manifest" % n for n in sorted(extra))
        if problems:
            raise Refusal(
                "checksum",
                "%d of %d files failed the SHA-256 check on the board (first: %s)" % (len(problems), len(files), problems[0]),
                problems=problems,
            )

        result = swap_in(params, dataset, network, staged)
        result["cleaned"] = cleaned
        result["files"] = len(files)
        result["bytes"] = sum(int(f["size"]) for f in files)
        done = True
        return result
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
        if done:
            fsync_dir(params)
        os.close(lock)


def swap_in(params, dataset, network, staged):
    """Renames only: <dataset>/<network> -> <dataset>.previous/<network>, staged -> <dataset>/<network>.
    Other networks under <dataset>/ (e.g. lfcW1A2 next to lfcW1A1) stay. One previous generation is kept;
    the older one is dropped only now, after the new set passed its check. Any failing rename is undone."""
    live_parent = os.path.join(params, dataset)
    live = os.path.join(live_parent, network)
    prev_parent = os.path.join(params, dataset + ".previous")
    prev = os.path.join(prev_parent, network)
    dropping = None
    undo = []
    try:
        has_live = os.path.isdir(live)
        if has_live:
            if os.path.isdir(prev):
                dropping = tempfile.mkdtemp(prefix="." + dataset + ".incoming-dropping-", dir=params)
                os.rename(prev, os.path.join(dropping, network))
                undo.append((os.path.join(dropping, network), prev))
            if not os.path.isdir(prev_parent):
                os.mkdir(prev_parent, 0o755)
            os.rename(live, prev)
            undo.append((prev, live))
        if not os.path.isdir(live_parent):
            os.mkdir(live_parent, 0o755)
        os.rename(staged, live)
    except OSError as e:
        for src, dst in reversed(undo):
            try:
                os.rename(src, dst)
            except OSError:
                pass
        raise Refusal("swap-failed", "could not move the new set into place: %s" % e)
    if dropping:
        shutil.rmtree(dropping, ignore_errors=True)
    return {"target": live, "previous": prev if has_live else None, "droppedOlderPrevious": dropping is not None}


def choose_network(params, dataset, family, network):
    """The network asked for, else the only one of `family` with a set under <params>/<dataset>/ (else the
    family's first overlay, which the caller then reports as missing)."""
    if network:
        return check_network(network)
    present = [n for n in NETWORKS if FAMILY[n] == family and os.path.isdir(os.path.join(params, dataset, n))]
    if len(present) > 1:
        raise Refusal(
            "several-sets",
            "the board has %s sets for %s (%s)" % (family.upper(), dataset, ", ".join(present)),
            sets=present,
        )
    return present[0] if present else DEFAULT_NETWORK[family]


def do_validate(request, stdin):
    dataset = request["dataset"]
    check_dataset(dataset)
    family = request.get("family") or "lfc"
    if family not in DEFAULT_NETWORK:
        raise Refusal("bad-network", "input family %r is not lfc or cnv" % family)
    root = locate_bnn()
    network = choose_network(os.path.join(root, "params"), dataset, family, request.get("network"))
    if FAMILY[network] != family:
        raise Refusal(
            "bad-network",
            "%s reads %s, but the images are %s" % (
                network,
                "CIFAR-10 records" if FAMILY[network] == "cnv" else "idx3 images",
                "CIFAR-10 records" if family == "cnv" else "idx3 images",
            ),
        )
    folder = os.path.join(root, "params", dataset, network)
    work = tempfile.mkdtemp(prefix="bnn-pynq-validate-")
    try:
        packed = os.path.join(work, "images.upload")
        with open(packed, "wb") as out:
            read_exact(stdin, int(request["imagesSize"]), out, hashlib.sha256())
        # classify_mnists reads a raw idx3 file, classify_cifars raw CIFAR-10 records; the upload may be
        # gzipped (smaller on the wire).
        images = os.path.join(work, "t10k-images-idx3-ubyte" if family == "lfc" else "test_batch.bin")
        with open(packed, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        with (gzip.open(packed, "rb") if gz else open(packed, "rb")) as src, open(images, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        os.remove(packed)
        try:
            with stdout_to_stderr():
                import bnn

                available = bnn.available_params(network)
        except Exception as e:  # noqa: BLE001
            raise Refusal("bnn-import", "import bnn failed on the board: %s: %s" % (type(e).__name__, e))
        if dataset not in available:
            raise Refusal("no-set", "the board has no %s set for %s (%s missing)" % (network, dataset, folder), sets=available)
        # Snapshot the folder the classifier loads, so the CLI simulates exactly these bytes.
        files = {}
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    files[name] = f.read()
        with stdout_to_stderr():
            if family == "lfc":
                classifier = bnn.LfcClassifier(network, dataset, bnn.RUNTIME_HW)
                predictions = classifier.classify_mnists(images)
            else:
                classifier = bnn.CnvClassifier(network, dataset, bnn.RUNTIME_HW)
                predictions = classifier.classify_cifars(images)
            usec = float(classifier.usecPerImage)
            classes = list(getattr(classifier, "classes", []) or [])
        import base64

        return {
            "network": network,
            "predictions": [int(p) for p in predictions],
            "usecPerImage": usec,
            "classes": classes,
            "folder": folder,
            "files": dict((n, base64.b64encode(b).decode("ascii")) for n, b in files.items()),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def on_signal(signum, frame):
    # ssh sends SIGHUP/SIGTERM when the session goes away: unwind so the finally blocks clean up.
    raise SystemExit(128 + signum)


def main():
    for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    action = sys.argv[1] if len(sys.argv) > 1 else ""
    stdin = sys.stdin.buffer
    try:
        request = json.loads(stdin.readline().decode("utf-8") or "{}")
        if action == "check":
            answer = do_check(request)
        elif action == "push":
            answer = do_push(request, stdin)
        elif action == "validate":
            answer = do_validate(request, stdin)
        else:
            raise Refusal("bad-action", "unknown action %r" % action)
    except Refusal as r:
        out = {"ok": False, "code": r.code, "message": str(r)}
        out.update(r.extra)
        emit(out)
        sys.exit(3)
    except OSError as e:
        code = "no-space" if e.errno == errno.ENOSPC else "os-error"
        emit({"ok": False, "code": code, "message": "%s: %s" % (getattr(e, "filename", None) or "", e.strerror or e)})
        sys.exit(3)
    answer["ok"] = True
    emit(answer)


main()
