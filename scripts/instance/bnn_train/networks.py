"""The five BNN-PYNQ overlays bnn_train can train, and BNN-PYNQ's own training settings for each.

Hyper-parameters are those of BNN-PYNQ's scripts (`bnn/src/training/mnist.py` for LFC, `cifar10.py` for CNV;
overlays-format.md §1.3): what a run uses when the caller does not say otherwise.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    name: str
    family: str  # "lfc" (28x28 grey, idx files) or "cnv" (32x32 RGB, CIFAR-10 binary records)
    weight_bits: int
    activation_bits: int
    batch_size: int
    lr_start: float
    lr_end: float
    epochs: int
    validation_fraction: float  # of the training file, when the file is smaller than BNN-PYNQ's own (60k / 50k)
    arrays: int  # arrays in model.npz (arr_0 ..)


NETWORKS = {
    n.name: n
    for n in (
        # mnist.py: batch 100, Adam 3e-3 -> 3e-7 over 1000 epochs, last 10,000 of 60,000 for validation.
        Network("lfcW1A1", "lfc", 1, 1, 100, 0.003, 3e-7, 1000, 1 / 6, 24),
        Network("lfcW1A2", "lfc", 1, 2, 100, 0.003, 3e-7, 1000, 1 / 6, 24),
        # cifar10.py: batch 50, Adam 1e-3 -> 3e-7 over 500 epochs, train 45,000 / validation 5,000 of 50,000.
        Network("cnvW1A1", "cnv", 1, 1, 50, 0.001, 3e-7, 500, 1 / 10, 53),
        Network("cnvW1A2", "cnv", 1, 2, 50, 0.001, 3e-7, 500, 1 / 10, 53),
        Network("cnvW2A2", "cnv", 2, 2, 50, 0.001, 3e-7, 500, 1 / 10, 53),
    )
}
DEFAULT = "lfcW1A1"

# The training graph (model.py GAMMA_MIN):
#   board-exact  BNN-PYNQ's network with every batch-norm gamma kept positive: the float graph then computes what
#                the overlay computes (pools included, overlays-format.md §3.8), so the board's accuracy is the one
#                training measured, up to ties at exact thresholds. The default for new CNV runs.
#   bnn-pynq     BNN-PYNQ's training as written: in channels with negative gamma the overlay pools differently and
#                the converter's thresholds fire one step late, so the board can score below training.
GRAPHS = ("board-exact", "bnn-pynq")
DEFAULT_GRAPH = {"lfc": "bnn-pynq", "cnv": "board-exact"}


def get(name):
    return NETWORKS[name]
