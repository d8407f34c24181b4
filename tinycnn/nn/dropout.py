"""Dropout layers: ``Dropout`` (elements) and ``Dropout2d`` (whole channels), as ``torch.nn``'s; identity in
eval mode. ``inplace`` as the activations' (see ``functional/activation.py``)."""
from __future__ import annotations

import numbers

from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout2d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        name = type(self).__name__
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{name}: dropout probability p has to be between 0 and 1, but got {p!r}")
        if not isinstance(inplace, bool):
            raise TypeError(f"{name}: inplace must be a bool, got {inplace!r}")
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout with drop probability ``p`` in training mode, identity in eval (``torch.nn.Dropout``)."""

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) with probability ``p`` in training mode, scaling the rest by 1/(1-p)
    (``torch.nn.Dropout2d``; Tompson et al. 2015); identity in eval."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training, self.inplace)
