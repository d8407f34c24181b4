"""Dropout (Srivastava et al. 2014), in its inverted form as ``torch.nn.functional.dropout``."""
from __future__ import annotations

import numbers

from .. import backend
from ..tensor import Function, Tensor
from ._util import check_float, check_tensor

__all__ = ["dropout"]


class Dropout(Function):
    def forward(self, x, p):
        xp = backend.get_array_module(x)
        keep = backend.get_rng(xp).random(x.shape, dtype=x.dtype) >= p
        # inverted dropout: survivors are scaled by 1/(1-p) now, so evaluation needs no rescaling; p = 1 keeps
        # nothing and scales by 0 instead of dividing by 0 (no NaN)
        scale = x.dtype.type(0.0 if p >= 1 else 1.0 / (1.0 - p))
        self.mask = keep * scale  # backward reuses the forward's mask
        return x * self.mask

    def backward(self, g):
        return (g * self.mask,)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p); identity when not ``training``.

    ``p`` is the probability of *dropping* (PyTorch's meaning, not Caffe's keep probability). Same seed
    (``tinycnn.manual_seed``), same mask. Any shape, floating dtype.

    Raises ValueError when p is outside [0, 1].
    """
    check_tensor("x", x, op="dropout")
    check_float("x", x, op="dropout")
    if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if not training or p == 0:
        return x
    return Dropout.apply(x, p=float(p))
