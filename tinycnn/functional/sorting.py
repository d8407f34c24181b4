"""Sorting: ``sort``, ``argsort``, ``topk``, ``unique``, with PyTorch's signatures and result tuples.

``sort`` and ``topk`` return ``(values, indices)`` named tuples (``torch.return_types.sort`` / ``topk``); the
values are differentiable (the gradient goes back to where each value came from). The order is stable (equal
values keep their order; PyTorch promises that only with ``stable=True``, its default order of ties is
unspecified) and NaN sorts as the largest value, as in PyTorch. ``unique`` is sorted; its output requires grad
when its input does but, as in PyTorch, has no derivative (backward through it raises).
"""
from __future__ import annotations

import collections
import numbers

import numpy as np

from .. import backend
from ..tensor import Function, Tensor, _dim_index
from ._util import check_tensor
from .indexing import TakeAlong

__all__ = ["sort", "argsort", "topk", "unique", "msort"]

_INT64 = backend.DTYPES["int64"]
sort_result = collections.namedtuple("sort", ["values", "indices"])  # torch.return_types.sort
topk_result = collections.namedtuple("topk", ["values", "indices"])  # torch.return_types.topk


def _order(data, dim, descending):
    """The stable sorting permutation of ``data`` along ``dim`` (int64), NaN last ascending and first descending."""
    xp = backend.get_array_module(data)
    if data.dtype.kind == "b":
        data = data.astype(np.uint8)
    if not descending:
        return xp.argsort(data, axis=dim, kind="stable").astype(_INT64, copy=False)
    # stable descending: sort the reversed array ascending, reverse the result, and map the positions back
    n = data.shape[dim]
    flipped = xp.flip(data, axis=dim)
    order = xp.flip(xp.argsort(flipped, axis=dim, kind="stable"), axis=dim)
    return (n - 1 - order).astype(_INT64, copy=False)


def _flag(op, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {value!r}")
    return bool(value)


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """``(values, indices)`` of ``x`` sorted along ``dim`` (``torch.sort``); ``stable`` is accepted (tinycnn's
    sort is always stable). Raises IndexError for a dim out of range, TypeError for a non-bool flag."""
    check_tensor("input", x, op="sort")
    descending, _ = _flag("sort", "descending", descending), _flag("sort", "stable", stable)
    if x.ndim == 0:
        return sort_result(x, Tensor(backend.get_array_module(x._data).zeros((), dtype=_INT64)))
    d = _dim_index(dim, x.ndim, "sort", "dim", x.shape)
    order = _order(x._data, d, descending)
    return sort_result(TakeAlong.apply(x, index=order, dim=d), Tensor(order))


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (``torch.argsort``): ``sort(...).indices``."""
    return sort(x, dim, descending, stable).indices


def msort(x: Tensor) -> Tensor:
    """``x`` sorted along dim 0 (``torch.msort``)."""
    return sort(x, 0).values


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (``largest=False``: smallest) values along ``dim`` and their indices (``torch.topk``), in
    sorted order; of equal values, the first in x comes first. Raises ValueError (PyTorch: RuntimeError) for k
    outside [0, size of dim]."""
    check_tensor("input", x, op="topk")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    largest, _ = _flag("topk", "largest", largest), _flag("topk", "sorted", sorted)
    d = _dim_index(dim, x.ndim, "topk", "dim", x.shape) if x.ndim else 0
    size = x.shape[d] if x.ndim else 1
    if not 0 <= k <= size:
        raise ValueError(f"topk: k ({k}) is out of range for dimension {d} of size {size} (selected index k out "
                         f"of range)")
    if x.ndim == 0:
        return topk_result(x, Tensor(backend.get_array_module(x._data).zeros((), dtype=_INT64)))
    order = _order(x._data, d, largest)
    index = order[tuple(slice(0, k) if i == d else slice(None) for i in range(x.ndim))]
    return topk_result(TakeAlong.apply(x, index=index, dim=d), Tensor(index))


class Unique(Function):
    """``unique``'s values: no derivative (PyTorch: "the derivative for 'unique' is not implemented")."""

    def forward(self, x, values):
        return values

    def backward(self, g):
        raise NotImplementedError("the derivative for 'unique' is not implemented (as in PyTorch)")


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim=None):
    """The distinct values of ``x``, flattened and sorted (``torch.unique``); with ``return_inverse`` also the
    index of each element of x in them (x's shape), with ``return_counts`` how often each occurs (both int64).
    Raises NotImplementedError for ``dim`` (unique slices) and ``sorted=False``, which tinycnn does not
    support."""
    check_tensor("input", x, op="unique")
    if dim is not None:
        raise NotImplementedError("unique: dim= (unique slices) is not supported by tinycnn; unique of the "
                                  "flattened tensor is (dim=None)")
    if not sorted:
        raise NotImplementedError("unique: sorted=False is not supported by tinycnn (its order is PyTorch's "
                                  "implementation detail); use the sorted result")
    xp = backend.get_array_module(x._data)
    values, inverse, counts = xp.unique(x._data.reshape(-1), return_inverse=True, return_counts=True)
    out = Unique.apply(x, values=values)
    if not (return_inverse or return_counts):
        return out
    result = [out]
    if return_inverse:
        result.append(Tensor(inverse.reshape(x.shape).astype(_INT64, copy=False)))
    if return_counts:
        result.append(Tensor(counts.astype(_INT64, copy=False)))
    return tuple(result)


def _install_methods():
    T = Tensor
    T.sort, T.argsort, T.msort, T.topk = sort, argsort, msort, topk
    T.unique = unique


_install_methods()
