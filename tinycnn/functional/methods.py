"""Tensor methods that delegate to ops defined elsewhere: ``x.softmax(dim)``, ``x.log_softmax(dim)``.

(``x.relu()``, ``x.sigmoid()``, ``x.tanh()`` are installed by activation.py.)
"""
from __future__ import annotations

import numbers

from ..tensor import Tensor
from .activation import log_softmax, softmax


def _dim(op, dim):
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r} (PyTorch's Tensor.{op} needs it)")
    return int(dim)


def _softmax(self, dim):
    """``softmax`` along ``dim`` (``torch.Tensor.softmax``; dim is required, as PyTorch's)."""
    return softmax(self, _dim("softmax", dim))


def _log_softmax(self, dim):
    """``log_softmax`` along ``dim`` (``torch.Tensor.log_softmax``)."""
    return log_softmax(self, _dim("log_softmax", dim))


Tensor.softmax = _softmax
Tensor.log_softmax = _log_softmax
