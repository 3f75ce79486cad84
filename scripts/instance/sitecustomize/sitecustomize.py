"""Restores numpy's removed builtin aliases for Theano 1.0.5 and Lasagne, only where numpy >= 1.24.

numpy 1.24 removed np.bool/int/float/complex/object/str (they were the Python builtins). Theano 1.0.5 uses them:
without them `import theano` fails, and, worse, `np.complex` inside a try/except in theano/tensor/basic.py fails
silently and disables constant folding. On numpy < 1.24 the aliases still exist (deprecated), so nothing is touched.

Put this folder first on PYTHONPATH for the training process only (it shadows the distribution's sitecustomize,
which on Debian/Ubuntu has nothing the training needs).
"""

import builtins

try:
    import numpy as _np
except ImportError:  # a Python without numpy: nothing to fix
    _np = None


def _numpy_version(text):
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


ALIASES = ("bool", "int", "float", "complex", "object", "str")

if _np is not None and _numpy_version(_np.__version__) >= (1, 24):
    for _name in ALIASES:
        if _name not in _np.__dict__:
            setattr(_np, _name, getattr(builtins, _name))
