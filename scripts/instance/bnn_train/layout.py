"""The LFC model's npz layout (params-format.md §1): 6 arrays per dense layer, 784 -> 1024 -> 1024 -> 1024 -> C."""

import numpy as np

NAMES = ("W", "b", "beta", "gamma", "mean", "inv_std")
HIDDEN = (1024, 1024, 1024)
INPUTS = 784


def expected_shapes(num_classes):
    sizes = (INPUTS,) + HIDDEN + (num_classes,)
    shapes = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        shapes.append((fan_in, fan_out))
        shapes.extend([(fan_out,)] * 5)
    return shapes


def check(params, num_classes):
    """Raises ValueError naming the first array that is not as the converter expects."""
    shapes = expected_shapes(num_classes)
    if len(params) != len(shapes):
        raise ValueError(f"{len(params)} arrays; the LFC layout has {len(shapes)} (arr_0..arr_{len(shapes) - 1})")
    for i, (a, shape) in enumerate(zip(params, shapes)):
        name = f"arr_{i} (layer {i // 6} {NAMES[i % 6]})"
        if a.shape != shape:
            raise ValueError(f"{name}: shape {a.shape}, expected {shape}")
        if a.dtype != np.float32:
            raise ValueError(f"{name}: dtype {a.dtype}, expected float32")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: holds NaN or Inf")
