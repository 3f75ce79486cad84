"""python3 -m bnn_train: argument parsing, Theano flags, signals and exit codes (0 done, 2 bad input, 143 SIGTERM)."""

import argparse
import os
import resource
import signal
import sys
import time

from bnn_train import networks, parameters
from bnn_train.errors import InputError, Interrupted

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2

DEVICE_FLAGS = {
    # BNN-PYNQ's CPU Dockerfile settings; every op is compiled with g++ (Round3 has no Python implementation).
    "cpu": "device=cpu,floatX=float32,openmp=True,openmp_elemwise_minsize=200000,blas.ldflags=-lopenblas",
    # The gpuarray back-end; cuDNN off (training-env-research.md §3).
    "cuda": "device=cuda,floatX=float32,dnn.enabled=False",
}


class Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"bnn_train: error: {message} (see python3 -m bnn_train --help)", file=sys.stderr)
        sys.exit(EXIT_INPUT)


# bnn_train's own range rules, reported in its words before the table's pattern is tried (a value passing these
# must still match the pattern: "010" epochs is refused).
OWN_RULES = {
    "epochs": lambda v: v >= 1 or "must be at least 1",
    "learningRateStart": lambda v: v > 0 or "must be positive",
    "learningRateEnd": lambda v: v > 0 or "must be positive",
}


def build_parser():
    p = Parser(
        prog="python3 -m bnn_train",
        description="Train a BNN-PYNQ network (LFC on an idx dataset, CNV on CIFAR-10 binary records).",
    )
    p.add_argument("--data-dir", required=True, help="lfc: the four idx .gz files; cnv: data_batch_N.bin + test_batch.bin")
    p.add_argument("--run-dir", required=True, help="receives progress.jsonl, checkpoint/, model.npz, result.json")
    # The training parameters, from scripts/instance/training-parameters.json (read as text, checked in parse_args).
    for param in parameters.TRAINER:
        required = bool(param.get("trainerRequired"))
        if required:
            default, help_text = None, param["description"]
        elif param.get("trainerDefault") == "network":
            default, help_text = None, f"{param['description']} (default: the network's; {networks.DEFAULT}: {param['default']})"
        else:
            default, help_text = param["default"], f"{param['description']} (default: {param['default']})"
        p.add_argument(param["trainer"], dest=parameters.dest(param), required=required, default=default, help=help_text)
    p.add_argument("--device", default="cpu", choices=sorted(DEVICE_FLAGS))
    p.add_argument("--on-epoch", default=None, help="shell command run after each epoch's files are written")
    return p


def parse_args(argv):
    p = build_parser()
    args = p.parse_args(argv)
    problems = []
    for param in parameters.TRAINER:
        name = parameters.dest(param)
        text = getattr(args, name)
        if text is None:  # not given, and its default is the network's (filled in below)
            continue
        complaint = parameters.problem(param, text)
        value = None
        try:
            value = parameters.convert(param, text)
        except ValueError:
            pass
        rule = OWN_RULES.get(param["name"])
        verdict = rule(value) if rule and value is not None else True
        if verdict is not True:
            complaint = f"{param['trainer']} {text}: {verdict}"
        if complaint:
            problems.append(complaint)
        elif text == param.get("trainerOmits"):
            value = None
        setattr(args, name, value)
    if problems:
        p.error("; ".join(problems))
    net = networks.get(args.network)
    for flag, attr, value in (("--wb", "wb", net.weight_bits), ("--ab", "ab", net.activation_bits)):
        given = getattr(args, attr)
        if given is not None and given != value:
            problems.append(f"{flag} {given}: {net.name} has {value}-bit {'weights' if attr == 'wb' else 'activations'}")
        setattr(args, attr, value)
    for attr in ("epochs", "batch_size", "lr_start", "lr_end"):
        if getattr(args, attr) is None:
            setattr(args, attr, getattr(net, attr))
    args.graph = args.graph or networks.DEFAULT_GRAPH[net.family]
    if problems:
        p.error("; ".join(problems))
    return args


def theano_flags(device, environ):
    """Device defaults first, then BNN_TRAIN_COMPILEDIR, then the caller's THEANO_FLAGS (Theano: the last one wins)."""
    parts = [DEVICE_FLAGS[device]]
    if environ.get("BNN_TRAIN_COMPILEDIR"):
        parts.append(f"base_compiledir={environ['BNN_TRAIN_COMPILEDIR']}")
    if environ.get("THEANO_FLAGS"):
        parts.append(environ["THEANO_FLAGS"])
    flags = ",".join(parts)
    if device == "cpu":
        # The caller's flags may not move a CPU run to a GPU or back: --device decides.
        flags += ",device=cpu"
    else:
        flags += ",device=cuda"
    return flags


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    received = []

    def on_signal(signum, _frame):
        if not received:
            print(f"bnn_train: signal {signum}: stopping after the current step; the last complete checkpoint stays", flush=True)
        received.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    os.environ["THEANO_FLAGS"] = theano_flags(args.device, os.environ)

    def log(message):
        print(f"bnn_train: {message}", flush=True)

    from bnn_train.train import Runner

    started = time.time()
    try:
        Runner(args, lambda: received[0] if received else None, log=log).run()
    except InputError as e:
        print(f"bnn_train: error: {e}", file=sys.stderr, flush=True)
        return EXIT_INPUT
    except Interrupted as e:
        log("stopped by a signal; rerun the same command to resume from the last complete checkpoint")
        return 128 + e.signum
    except Exception:
        if received:
            # systemd stops the whole control group: a g++ run by Theano's compiler may die of the same SIGTERM and
            # surface here as a compile error. The stop was asked for; the checkpoint is intact.
            log(f"stopped by signal {received[0]} (while {sys.exc_info()[1]!r}); rerun the same command to resume")
            return 128 + received[0]
        raise
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = sum(u.ru_utime + u.ru_stime for u in usage)
        log(f"cpu {cpu:.1f} s, wall {time.time() - started:.1f} s")
    return EXIT_OK
