"""python3 -m bnn_train.smoke: the first boot's measurement of the training path (bootstrap.sh runs it once per
environment): BNN-PYNQ's LFC (lfcW1A1), built and trained by the same code as a real run (model.Net, its train_fn),
for one epoch on random 28x28 images on the chosen device. It proves that the device computes a real training step
(on a GPU: libgpuarray + the CUDA runtime + the driver, not only device initialisation) and says how fast.

Writes one JSON record (--out, atomically): device actually used and its name, seconds per epoch, images, batch
size, compile seconds, the loss (finite), versions. Exit 0 done, 1 the device did not train (message on stderr),
2 bad arguments."""

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np

from bnn_train import cli, dataset, files, idx, networks

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
NETWORK = "lfcW1A1"
NUM_CLASSES = 10


def parse_args(argv):
    p = cli.Parser(prog="python3 -m bnn_train.smoke", description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=sorted(cli.DEVICE_FLAGS))
    p.add_argument("--images", type=int, default=1000, help="random training images in the epoch (default 1000)")
    p.add_argument("--batch-size", type=int, default=100, help="default 100, LFC's batch size in BNN-PYNQ's mnist.py")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="where the JSON record is written")
    args = p.parse_args(argv)
    if args.images < args.batch_size or args.batch_size < 1:
        p.error(f"--images ({args.images}) must be at least one batch (--batch-size {args.batch_size})")
    return args


def cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device):
    """The GPU's name as the driver reports it (e.g. "Tesla T4"), or the CPU model."""
    if device == "cuda":
        from theano import gpuarray

        try:
            return gpuarray.type.get_context(None).devname
        except Exception:  # noqa: BLE001 - the name is informative only
            return "cuda"
    return cpu_name()


def measure(args, log=print):
    from bnn_train import model  # imports Theano with the flags set by main

    device = model.actual_device()
    if device != args.device:
        raise RuntimeError(f"Theano could not use --device {args.device} (it fell back to {device}); see its error above")
    rng = np.random.RandomState(args.seed)
    images = rng.randint(0, 256, size=(args.images, 28, 28)).astype(np.uint8)
    labels = rng.randint(0, NUM_CLASSES, size=args.images)
    x = idx.binarize(images)
    y = dataset.hinge_targets(labels, NUM_CLASSES)
    net = model.Net(networks.get(NETWORK), NUM_CLASSES, args.seed, log=log)
    lr = np.float32(networks.get(NETWORK).lr_start)
    batches = args.images // args.batch_size
    started = time.time()
    loss = 0.0
    for b in range(batches):
        loss += float(net.train_fn(x[b * args.batch_size : (b + 1) * args.batch_size], y[b * args.batch_size : (b + 1) * args.batch_size], lr))
    seconds = time.time() - started
    loss /= batches
    if not math.isfinite(loss):
        raise RuntimeError(f"the training loss is {loss} after one epoch on {device}: the device computes garbage")
    return {
        "network": NETWORK,
        "device": device,
        "device_name": device_name(device),
        "images": batches * args.batch_size,
        "batch_size": args.batch_size,
        "seconds_per_epoch": round(seconds, 3),
        "compile_seconds": round(net.compile_seconds, 1),
        "train_loss": round(loss, 6),
        "versions": model.versions(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["THEANO_FLAGS"] = cli.theano_flags(args.device, os.environ)

    def log(message):
        print(f"bnn_train.smoke: {message}", flush=True)

    try:
        record = measure(args, log)
    except Exception as e:  # noqa: BLE001 - any failure of the device path is the answer
        print(f"bnn_train.smoke: error: one training epoch on {args.device} failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    files.save_json(args.out, record)
    log(
        f"{record['device']} ({record['device_name']}): {record['seconds_per_epoch']:.2f} s per epoch on "
        f"{record['images']} images (compile {record['compile_seconds']:.0f} s), loss {record['train_loss']:.4f}"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
