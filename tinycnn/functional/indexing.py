"""Indexing along a dimension: ``gather`` (and the ``TakeAlong`` op that sort and topk use too) and ``nonzero``.

``gather(x, dim, index)`` picks ``out[i][j] = x[index[i][j]][j]`` (dim 0; likewise for other dims), as
``torch.gather``: ``index`` is int64 with x's number of dims and, on the other dims, sizes no larger than x's. The
gradient adds ``g`` back at the picked positions (an index repeated twice receives both contributions).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Function, Tensor, _dim_index
from ._util import check_tensor

__all__ = ["gather", "nonzero", "take_along_dim", "TakeAlong"]

_INT64 = backend.DTYPES["int64"]


def _positions(index, dim):
    """Full NumPy index tuple for ``take_along_axis``'s positions: ``index`` on ``dim``, an arange on the others."""
    xp = backend.get_array_module(index)
    nd = index.ndim
    return tuple(index if k == dim else xp.arange(n).reshape([-1 if i == k else 1 for i in range(nd)])
                 for k, n in enumerate(index.shape))


class TakeAlong(Function):
    """``x`` at ``index`` along ``dim`` (``numpy.take_along_axis``); the gradient is scatter-added back."""

    def forward(self, x, index, dim):
        self.shape, self.index, self.dim = x.shape, index, dim
        xp = backend.get_array_module(x)
        # torch allows an index smaller than x on the other dims: only that corner of x is read
        corner = tuple(slice(None) if k == dim else slice(0, n) for k, n in enumerate(index.shape))
        return xp.take_along_axis(x[corner], index, axis=dim)

    def backward(self, g):
        xp = backend.get_array_module(g)
        dx = xp.zeros(self.shape, dtype=g.dtype)
        where = _positions(self.index, self.dim)
        if backend.is_cupy_array(g):  # CuPy's scatter-add, beside NumPy's add.at
            import cupyx  # noqa: PLC0415

            cupyx.scatter_add(dx, where, g)
        else:
            xp.add.at(dx, where, g)  # repeated indices add up (PITFALLS P01)
        return (dx,)


def _index_along(op, x, dim, index):
    check_tensor("input", x, op=op)
    check_tensor("index", index, op=op)
    if index.dtype != _INT64:
        raise TypeError(f"{op}: index must be an int64 tensor (torch.long), got {index.dtype}")
    d = _dim_index(dim, x.ndim, op, "dim", x.shape)
    if index.ndim != x.ndim:
        raise ValueError(f"{op}: index must have as many dimensions as input ({x.ndim}), got shape {index.shape}")
    for k, (n, m) in enumerate(zip(index.shape, x.shape)):
        if k != d and n > m:
            raise ValueError(f"{op}: index of shape {index.shape} is larger than input of shape {x.shape} on "
                             f"dimension {k} (only dim {d} may differ)")
    data = index._data
    if data.size and (int(data.min()) < 0 or int(data.max()) >= x.shape[d]):  # torch refuses negatives here too
        raise IndexError(f"{op}: index out of range [0, {x.shape[d]}) for dimension {d} of input of shape "
                         f"{x.shape}: got values in [{int(data.min())}, {int(data.max())}]")
    return d, data


def gather(x: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """Values of ``x`` along ``dim`` at ``index`` (``torch.gather``): out has index's shape. Differentiable in x.

    Raises TypeError for a non-int64 index, ValueError for an index of another number of dims or larger than x
    on a dimension other than ``dim``, IndexError for an index out of range, NotImplementedError for
    ``sparse_grad=True``.
    """
    if sparse_grad:
        raise NotImplementedError("gather: sparse_grad=True is not supported by tinycnn (no sparse tensors)")
    d, index = _index_along("gather", x, dim, index)
    return TakeAlong.apply(x, index=index, dim=d)


def take_along_dim(x: Tensor, indices: Tensor, dim=None) -> Tensor:
    """``torch.take_along_dim``: as ``gather``, broadcasting ``indices`` against x; dim None takes from the
    flattened x."""
    check_tensor("indices", indices, op="take_along_dim")
    if dim is None:
        from .shape import reshape  # noqa: PLC0415 - shape imports nothing from here

        return gather(reshape(x, -1), 0, reshape(indices, -1))
    d = _dim_index(dim, x.ndim, "take_along_dim", "dim", x.shape)
    xp = backend.get_array_module(indices._data)
    shape = tuple(indices.shape[k] if k == d else max(n, indices.shape[k]) for k, n in enumerate(x.shape))
    full = xp.broadcast_to(indices._data, shape)
    return gather(x, d, Tensor(full))


def nonzero(x: Tensor, *, as_tuple: bool = False):
    """Indices of the nonzero elements (``torch.nonzero``): an int64 tensor of shape (count, ndim), row-major
    order; with ``as_tuple=True`` a tuple of ndim 1-D index tensors (what ``x[mask]`` indexes with)."""
    check_tensor("input", x, op="nonzero")
    if not isinstance(as_tuple, (bool, np.bool_)):
        raise TypeError(f"nonzero: as_tuple must be a bool, got {as_tuple!r}")
    xp = backend.get_array_module(x._data)
    data = x._data if x.ndim else x._data.reshape(1)
    found = [i.astype(_INT64, copy=False) for i in xp.nonzero(data)]
    if as_tuple:
        return tuple(Tensor(i) for i in found)
    if x.ndim == 0:
        return Tensor(xp.zeros((len(found[0]), 0), dtype=_INT64))
    return Tensor(xp.stack(found, axis=1) if found else xp.zeros((0, 0), dtype=_INT64))


def _install_methods():
    Tensor.gather = lambda self, dim, index, *, sparse_grad=False: gather(self, dim, index, sparse_grad=sparse_grad)
    Tensor.take_along_dim = lambda self, indices, dim=None: take_along_dim(self, indices, dim)
    Tensor.nonzero = lambda self, *, as_tuple=False: nonzero(self, as_tuple=as_tuple)
    Tensor.argwhere = lambda self: nonzero(self)


_install_methods()
