"""The epoch loop: train, evaluate under both decision rules, keep the best model, checkpoint, report, resume."""

import os
import subprocess
import time

import numpy as np

from bnn_train import VERSION, board, checkpoint, cifar, dataset, files, idx, layout, networks, progress
from bnn_train.errors import InputError, Interrupted

ON_EPOCH_TIMEOUT = 900  # seconds; a hung `aws s3 sync` must not stall the training forever


def lr_for_epoch(epoch, epochs, lr_start, lr_end):
    """mnist.py: LR_decay = (LR_fin/LR_start)**(1/num_epochs), epoch e (1-based) trains with LR_start*LR_decay**(e-1)."""
    decay = (lr_end / lr_start) ** (1.0 / epochs)
    return lr_start * decay ** (epoch - 1)


def pct(value):
    return "n/a" if value is None else f"{value:.2f} %"


def accuracy(error):
    return None if error is None else round(100.0 - error, 4)


def run_config(args, data):
    """The options that determine the result: a checkpoint only resumes a run with the same ones."""
    config = {
        "network": args.network,
        "dataset": args.dataset,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr_start": args.lr_start,
        "lr_end": args.lr_end,
        "seed": args.seed,
        "weight_bits": args.wb,
        "activation_bits": args.ab,
        "limit_train": args.limit_train,
        "select": args.select,
        "num_classes": data.num_classes,
        "train_images": len(data.train.labels),
        "val_images": len(data.val.labels),
        "test_images": len(data.test.labels),
    }
    if args.graph != "bnn-pynq":
        config["graph"] = args.graph  # absent for LFC runs as before, so their checkpoints still resume
    return config


def network_input(family, images):
    """What the network is fed: the board's +-1 pixels (LFC), or 2/255 p - 1 before the input quantizer (CNV)."""
    return cifar.scale(images) if family == "cnv" else idx.binarize(images)


class Runner:
    def __init__(self, args, should_stop, log=print):
        self.args = args
        self.should_stop = should_stop  # () -> signal number or None
        self.log = log
        self.run_dir = args.run_dir

    def check_stop(self):
        signum = self.should_stop()
        if signum is not None:
            raise Interrupted(signum)

    def run(self):
        args = self.args
        started = time.time()
        network = networks.get(args.network)
        self.network = network
        data = dataset.load(args.data_dir, args.limit_train, network.family)
        if len(data.train.labels) < args.batch_size:
            raise InputError(
                f"{args.data_dir}: {len(data.train.labels)} training images, fewer than one batch of {args.batch_size}"
            )
        self.log(
            f"data: {len(data.train.labels)} training, {len(data.val.labels)} validation (last of "
            f"{data.n_train_file}), {len(data.test.labels)} test images, {data.num_classes} classes; "
            f"{network.name}, {args.graph} graph"
        )
        config = run_config(args, data)
        os.makedirs(self.run_dir, exist_ok=True)
        saved = checkpoint.load(self.run_dir)
        if saved is not None:
            diff = checkpoint.config_mismatch(saved[0]["config"], config)
            if diff:
                raise InputError(
                    f"{checkpoint.path_in(self.run_dir)}: written by a run with other options ({'; '.join(diff)}); "
                    "rerun with the same options or use a new --run-dir"
                )

        from bnn_train import model  # imports Theano: only now that the input is known to be good

        device = model.actual_device()
        if device != args.device:
            self.log(
                f"WARNING: --device {args.device} asked for, but Theano could not use it: training on {device} "
                "(see Theano's error above); result.json records the device actually used"
            )
        self.check_stop()
        net = model.Net(network, data.num_classes, args.seed, args.graph, log=self.log)
        self.check_stop()

        if saved is None:
            meta = {"config": config, "epoch": 0, "best": None, "history": [], "elapsed_seconds": 0.0}
            shuffle_rng = np.random.RandomState(args.seed)
            best_params = []
        else:
            meta, state, best_params, shuffle_rng = saved
            try:
                net.set_state_values(state)
            except ValueError as e:
                raise InputError(f"{checkpoint.path_in(self.run_dir)}: does not fit this network ({e})") from None
            # The checkpoint is the truth: files written after it (by an epoch that did not finish) are rewritten.
            files.save_jsonl(os.path.join(self.run_dir, "progress.jsonl"), meta["history"])
            if best_params:
                files.save_model(os.path.join(self.run_dir, "model.npz"), best_params)
            self.log(f"resuming after epoch {meta['epoch']} of {args.epochs} from {checkpoint.path_in(self.run_dir)}")

        x_train = network_input(network.family, data.train.images)
        y_train = dataset.hinge_targets(data.train.labels, data.num_classes)
        x_val = network_input(network.family, data.val.images)
        x_test = network_input(network.family, data.test.images)
        epoch_seconds = []

        for epoch in range(meta["epoch"] + 1, args.epochs + 1):
            t0 = time.time()
            lr = np.float32(lr_for_epoch(epoch, args.epochs, args.lr_start, args.lr_end))
            order = shuffle_rng.permutation(len(x_train))
            batches = len(x_train) // args.batch_size  # mnist.py and cifar10.py drop the last partial batch
            loss = 0.0
            for b in range(batches):
                self.check_stop()
                rows = order[b * args.batch_size : (b + 1) * args.batch_size]
                loss += float(self.net_train(net, x_train[rows], y_train[rows], lr))
            train_loss = loss / batches
            train_seconds = time.time() - t0

            self.check_stop()
            params = net.params()
            val = self.evaluate(net, params, x_val, data.val, data.num_classes)
            self.check_stop()
            test = self.evaluate(net, params, x_test, data.test, data.num_classes)

            score = val["error_board"] if args.select == "board" else val["error_argmax"]
            best = meta["best"]
            improved = progress.is_better(score, None if best is None else best["score"])
            if improved:
                best = {
                    "epoch": epoch,
                    "score": score,
                    "val_error_board": val["error_board"],
                    "val_error_argmax": val["error_argmax"],
                    "test_error_board": test["error_board"],
                    "test_error_argmax": test["error_argmax"],
                }
                best_params = params
                files.save_model(os.path.join(self.run_dir, "model.npz"), best_params)

            seconds = time.time() - t0
            epoch_seconds.append(seconds)
            elapsed = meta["elapsed_seconds"] + (time.time() - started)
            rec = progress.record(
                epoch=epoch,
                epochs=args.epochs,
                lr=float(lr),
                train_loss=train_loss,
                val_loss=val["loss"],
                val_error_argmax=val["error_argmax"],
                val_error_board=val["error_board"],
                val_no_bit_rate=val["no_bit_rate"],
                val_multi_bit_rate=val["multi_bit_rate"],
                val_nonpositive_rate=val["nonpositive_rate"],
                test_loss=test["loss"],
                test_error_argmax=test["error_argmax"],
                test_error_board=test["error_board"],
                test_no_bit_rate=test["no_bit_rate"],
                test_multi_bit_rate=test["multi_bit_rate"],
                test_nonpositive_rate=test["nonpositive_rate"],
                select=args.select,
                improved=improved,
                best_epoch=best["epoch"],
                best_val_error=best["score"],
                best_test_error_board=best["test_error_board"],
                best_test_error_argmax=best["test_error_argmax"],
                seconds=round(seconds, 3),
                elapsed_seconds=round(elapsed, 1),
                eta_seconds=progress.eta_seconds(epoch_seconds, args.epochs - epoch),
                time=progress.utc_now(),
            )
            meta = dict(meta, epoch=epoch, best=best, history=meta["history"] + [rec], elapsed_seconds=elapsed)
            started = time.time()
            meta["elapsed_seconds"] = elapsed
            checkpoint.save(self.run_dir, meta, net.state_values(), best_params, shuffle_rng)
            files.save_jsonl(os.path.join(self.run_dir, "progress.jsonl"), meta["history"])
            self.log(
                f"epoch {epoch}/{args.epochs}: {seconds:.1f} s (train {train_seconds:.1f} s), lr {float(lr):.3g}, "
                f"loss {train_loss:.4f}, val error {pct(val['error_board'])} board / {pct(val['error_argmax'])} argmax, "
                f"test error {pct(test['error_board'])} board / {pct(test['error_argmax'])} argmax "
                + self.rates(test)
                + ", "
                f"best epoch {best['epoch']}, eta {rec['eta_seconds']:.0f} s"
            )
            self.on_epoch()
            self.check_stop()

        best = meta["best"]
        result = {
            "run_id": args.run_id,
            "network": args.network,
            "dataset": args.dataset,
            "status": "completed",
            "epochs": args.epochs,
            "best_epoch": best["epoch"],
            "select": args.select,
            "test_accuracy_board": accuracy(best["test_error_board"]),
            "test_accuracy_argmax": accuracy(best["test_error_argmax"]),
            "val_accuracy_board": accuracy(best["val_error_board"]),
            "val_accuracy_argmax": accuracy(best["val_error_argmax"]),
            "seconds": round(meta["elapsed_seconds"], 1),
            "device": device,
            "device_requested": args.device,
            "classes": data.class_names,
            "config": config,
            "versions": dict(model.versions(), bnn_train=VERSION),
            "finished_at": progress.utc_now(),
        }
        layout.check(best_params, data.num_classes, network.family)
        files.save_json(os.path.join(self.run_dir, "result.json"), result)
        self.log(
            f"done: best epoch {best['epoch']}, test accuracy {pct(result['test_accuracy_board'])} on the board's rule, "
            f"{pct(result['test_accuracy_argmax'])} argmax"
        )
        self.on_epoch()  # once more, so result.json reaches S3 too
        return result

    @staticmethod
    def net_train(net, x, y, lr):
        return net.train_fn(x, y, lr)

    def evaluate(self, net, params, x, split, num_classes):
        """Argmax of the float network (what BNN-PYNQ reports) and the board's rule (what the board will do): for LFC
        the converted overlay computed bit-exactly from the parameters (board.py); for CNV the batch rule on the class
        scores the training graph gives the overlay's last layer (board.cnv_scores), which with the board-exact graph
        are the overlay's own scores, up to ties at exact thresholds."""
        outputs = net.predict(x)
        output = outputs[0]
        targets = dataset.hinge_targets(split.labels, num_classes)
        loss = float(np.mean(np.square(np.maximum(0.0, 1.0 - targets * output.astype(np.float64)))))
        argmax_err = 100.0 * float(np.count_nonzero(np.argmax(output, axis=1) != split.labels)) / len(split.labels)
        result = {"loss": loss, "error_argmax": argmax_err, "no_bit_rate": None, "multi_bit_rate": None, "nonpositive_rate": None}
        if self.network.family == "cnv":
            gamma = params[-3]  # the last batch norm: W, beta, gamma, mean, inv_std
            b = board.evaluate_scores(board.cnv_scores(outputs[1], gamma, self.network.activation_bits), split.labels)
            return dict(result, error_board=b["error"], nonpositive_rate=b["nonpositive_rate"])
        b = board.evaluate(split.images, split.labels, params, self.network.activation_bits)
        return dict(result, error_board=b["error"], no_bit_rate=b["no_bit_rate"], multi_bit_rate=b["multi_bit_rate"])

    def rates(self, split):
        if self.network.family == "cnv":
            return f"(every score <= 0 {pct(split['nonpositive_rate'])})"
        return f"(no bit {pct(split['no_bit_rate'])}, several bits {pct(split['multi_bit_rate'])})"

    def on_epoch(self):
        cmd = self.args.on_epoch
        if not cmd:
            return
        try:
            done = subprocess.run(cmd, shell=True, timeout=ON_EPOCH_TIMEOUT)
            if done.returncode != 0:
                self.log(f"warning: --on-epoch command failed (exit {done.returncode}); training continues")
        except subprocess.TimeoutExpired:
            self.log(f"warning: --on-epoch command still running after {ON_EPOCH_TIMEOUT} s, stopped; training continues")
        except OSError as e:
            self.log(f"warning: --on-epoch command could not start ({e}); training continues")
