"""Dropout (Srivastava et al. 2014) and channel dropout (Tompson et al. 2015), in their inverted forms as
``torch.nn.functional.dropout`` and ``dropout2d``. ``inplace=True`` as the activations' (see activation.py)."""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import backend
from ..tensor import Function, Tensor
from ._util import check_float, check_tensor
from .activation import _inplace

__all__ = ["dropout", "dropout2d"]


class Dropout(Function):
    """Inverted dropout with a mask of ``mask_shape`` (the input's shape, or (N, C, 1, 1) for whole channels)."""

    def forward(self, x, p, mask_shape=None):
        xp = backend.get_array_module(x)
        keep = backend.get_rng(xp).random(mask_shape or x.shape, dtype=x.dtype) >= p
        # inverted dropout: survivors are scaled by 1/(1-p) now, so evaluation needs no rescaling; p = 1 keeps
        # nothing and scales by 0 instead of dividing by 0 (no NaN)
        scale = x.dtype.type(0.0 if p >= 1 else 1.0 / (1.0 - p))
        self.mask = keep * scale  # backward reuses the forward's mask
        return x * self.mask

    def backward(self, g):
        return (g * self.mask,)


def _check(op, x, p, training):
    check_tensor("x", x, op=op)
    check_float("x", x, op=op)
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be a probability in [0, 1], got {p!r}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{op}: training must be a bool, got {training!r}")


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p); identity when not ``training``.

    ``p`` is the probability of *dropping* (PyTorch's meaning, not Caffe's keep probability). Same seed
    (``tinycnn.manual_seed``), same mask. Any shape, floating dtype.

    Raises ValueError when p is outside [0, 1], TypeError for a non-bool ``training``.
    """
    _check("dropout", x, p, training)
    if not training or p == 0:
        return x
    return _inplace("dropout", x, Dropout.apply(x, p=float(p)), inplace)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels: each (n, c) feature map with probability ``p``, the rest scaled by 1/(1-p)
    (``torch.nn.functional.dropout2d``; Tompson et al. 2015). Identity when not ``training``.

    x: (N, C, H, W). As PyTorch, a 3-D input is taken as (N, C, L) (channel-wise 1-D dropout, with PyTorch's
    warning) and other ranks >= 2 warn and drop per (N, C) entry of the first two dims. Raises ValueError for p
    outside [0, 1] or an input with fewer than 2 dims.
    """
    _check("dropout2d", x, p, training)
    if x.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated and will result in "
                      f"an error in a future release. To retain the behavior and silence this warning, please use "
                      f"dropout instead.", UserWarning, stacklevel=2)
    if x.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim.",
                      UserWarning, stacklevel=2)
    if x.ndim < 2:
        raise ValueError(f"dropout2d: x must have at least 2 dims (N, C, ...), got shape {x.shape}")
    if not training or p == 0:
        return x
    mask_shape = x.shape[:2] + (1,) * (x.ndim - 2)
    return _inplace("dropout2d", x, Dropout.apply(x, p=float(p), mask_shape=mask_shape), inplace)
