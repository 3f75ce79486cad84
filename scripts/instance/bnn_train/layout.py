"""model.npz layouts, as lib/bnn's converter reads them.

LFC (params-format.md §1): 6 arrays per dense layer, 784 -> 1024 -> 1024 -> 1024 -> C, 24 arrays.
CNV (overlays-format.md §1.6): 6 per conv layer (W (C_out, C_in, 3, 3), b, beta, gamma, mean, inv_std), 6 per hidden
dense layer, and the last dense layer without a bias (W (512, C), beta, gamma, mean, inv_std): 53 arrays.
"""

import numpy as np

NAMES = ("W", "b", "beta", "gamma", "mean", "inv_std")
HIDDEN = (1024, 1024, 1024)
INPUTS = 784
CNV_CONVS = ((3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256))
CNV_DENSE = ((256, 512), (512, 512))


def lfc_shapes(num_classes):
    sizes = (INPUTS,) + HIDDEN + (num_classes,)
    shapes = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        shapes.append(((fan_in, fan_out), "W"))
        shapes.extend(((fan_out,), n) for n in NAMES[1:])
    return shapes


def cnv_shapes(num_classes):
    shapes = []
    for c_in, c_out in CNV_CONVS:
        shapes.append(((c_out, c_in, 3, 3), "W"))
        shapes.extend(((c_out,), n) for n in NAMES[1:])
    for fan_in, fan_out in CNV_DENSE:
        shapes.append(((fan_in, fan_out), "W"))
        shapes.extend(((fan_out,), n) for n in NAMES[1:])
    shapes.append(((512, num_classes), "W"))
    shapes.extend(((num_classes,), n) for n in NAMES[2:])  # no bias in the last layer
    return shapes


def expected_shapes(num_classes, family="lfc"):
    return [s for s, _ in (cnv_shapes if family == "cnv" else lfc_shapes)(num_classes)]


def check(params, num_classes, family="lfc"):
    """Raises ValueError naming the first array that is not as the converter expects."""
    named = (cnv_shapes if family == "cnv" else lfc_shapes)(num_classes)
    if len(params) != len(named):
        raise ValueError(
            f"{len(params)} arrays; the {family.upper()} layout has {len(named)} (arr_0..arr_{len(named) - 1})"
        )
    layer = -1
    for i, (a, (shape, what)) in enumerate(zip(params, named)):
        layer += what == "W"
        name = f"arr_{i} (layer {layer} {what})"
        if a.shape != shape:
            raise ValueError(f"{name}: shape {a.shape}, expected {shape}")
        if a.dtype != np.float32:
            raise ValueError(f"{name}: dtype {a.dtype}, expected float32")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: holds NaN or Inf")
