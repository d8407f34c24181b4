"""Plain Tensor methods with PyTorch's meanings (``size()``, ``dim()``, ``numel()``, ``len()``, iteration) and
methods that delegate to ops defined elsewhere (``x.softmax(dim)``, ``x.log_softmax(dim)``; ``x.relu()``,
``x.sigmoid()``, ``x.tanh()`` are installed by activation.py).
"""
from __future__ import annotations

import numbers

from ..tensor import Tensor, _dim_index
from .activation import log_softmax, softmax


def size(self, dim=None):
    """The shape as a tuple, or the length of dimension ``dim`` (``torch.Tensor.size``). Use ``numel()`` for
    the number of elements. Raises IndexError for a dim out of range."""
    if dim is None:
        return self._data.shape
    return self._data.shape[_dim_index(dim, self._data.ndim, "size", "dim", self._data.shape)]


def dim(self) -> int:
    """The number of dimensions (``torch.Tensor.dim``)."""
    return self._data.ndim


def numel(self) -> int:
    """The number of elements (``torch.Tensor.numel``)."""
    return int(self._data.size)


def element_size(self) -> int:
    """Bytes per element (``torch.Tensor.element_size``)."""
    return self._data.itemsize


def __len__(self) -> int:
    """The length of dimension 0; TypeError for a 0-d tensor, as PyTorch."""
    if self._data.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return len(self._data)


def __iter__(self):
    """The sub-tensors along dimension 0 (views, in the graph); TypeError for a 0-d tensor, as PyTorch."""
    if self._data.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(len(self._data)))


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
Tensor.size, Tensor.dim, Tensor.ndimension = size, dim, dim
Tensor.numel, Tensor.nelement, Tensor.element_size = numel, numel, element_size
Tensor.__len__, Tensor.__iter__ = __len__, __iter__
