"""Shape helpers of the autograd core: a dim argument checked as PyTorch checks it, and the gradient of a
broadcast. Imported by the ops through ``tinycnn.tensor``."""
from __future__ import annotations

import numpy as np

__all__ = ["DimensionError", "unbroadcast"]


class DimensionError(IndexError, ValueError):
    """A dim out of range: an IndexError, as PyTorch's "Dimension out of range", and a ValueError, as tinycnn's
    argument errors."""


def _dim_index(dim, ndim, op, name="dim", shape=None):
    """``dim`` as a non-negative index into a shape of ``ndim`` dims (negative counts from the end; a 0-d tensor
    takes 0 and -1, as PyTorch). Raises DimensionError out of range (naming the argument ``name`` and the input's
    ``shape``), TypeError for a non-int."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        where = f"x of shape {tuple(shape)}" if shape is not None else f"a tensor of {ndim} dimensions"
        raise DimensionError(f"{op}: {name} {dim} (NumPy's axis {dim}) is out of range for {where}: expected a "
                             f"value in [{-n}, {n - 1}] (PyTorch: Dimension out of range)")
    return int(dim) % n


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so that it gets ``shape`` back.

    NumPy broadcasting prepends axes and stretches axes of length 1; the gradient of a broadcast input is the
    sum over those axes (PITFALLS P12).
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
