"""Reductions with PyTorch's signatures: sum, mean, prod, var, std, max/min, amax/amin, argmax/argmin, all/any.

``dim`` is an int, a tuple of ints or None (every dimension), ``keepdim`` keeps the reduced dimensions with length
1; NumPy's ``axis=`` and ``keepdims=`` are accepted as aliases (they do not collide with PyTorch's meaning).

``out=`` is accepted as None only (``np.sum(t)``, ``np.max(t)``, ``np.std(t)`` call these methods: NumPy's ``ddof`` is
an alias of ``correction``). PyTorch's rules that differ from NumPy's: ``sum``/``prod`` of integer or bool tensors give int64 (NumPy: uint64 for
unsigned); ``mean``/``var``/``std`` refuse integer tensors; ``var``/``std`` are unbiased by default (correction=1);
``max(x)`` is a value, ``max(x, dim)`` a ``(values, indices)`` named tuple and ``max(x, other)`` the elementwise
maximum; ties: ``argmax`` and ``max(dim)`` give the first index (and ``max(dim)``'s gradient goes to it), while
``max()``, ``amax`` and ``amin`` share the gradient evenly among tied elements, as PyTorch's do. NaN wins.
"""
from __future__ import annotations

import builtins
import collections
import numbers

import numpy as np

from .. import backend
from ..tensor import Function, Tensor, _dim_index
from ._util import check_tensor, data_as_tensor
from .cast import cast

__all__ = ["sum", "mean", "prod", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "all", "any"]

_INT64 = backend.DTYPES["int64"]
max_result = collections.namedtuple("max", ["values", "indices"])  # torch.return_types.max
min_result = collections.namedtuple("min", ["values", "indices"])


def reduce_dims(op, x, dim, axis=None):
    """``dim`` (or its alias ``axis``) as a sorted tuple of non-negative dims of ``x``; None or () means all.

    Raises TypeError when both are given or a dim is not an int, IndexError for a dim out of range (as torch).
    """
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both dim and its alias axis")
        dim = axis
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(x.ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    out = sorted({_dim_index(d, x.ndim, op, "dim", x.shape) for d in dims})
    if len(out) != len(dims):
        raise ValueError(f"{op}: dim {dim} names a dimension twice")
    return tuple(out) if x.ndim else ()


def _keep(op, keepdim, keepdims):
    if keepdims is not None:
        return bool(keepdims)
    if not isinstance(keepdim, (bool, np.bool_)):
        raise TypeError(f"{op}: keepdim must be a bool, got {keepdim!r}")
    return bool(keepdim)


def _kept_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class Sum(Function):
    def forward(self, x, dims, keepdim, dtype=None):
        self.shape, self.dims = x.shape, dims
        return x.sum(axis=dims, keepdims=keepdim, dtype=dtype)

    def backward(self, g):
        xp = backend.get_array_module(g)
        kept = g.reshape(_kept_shape(self.shape, self.dims))
        # a contiguous copy, not a read-only broadcast view: it may become a leaf's .grad
        return (xp.broadcast_to(kept, self.shape).copy(),)


class Mean(Sum):
    def forward(self, x, dims, keepdim):
        out = super().forward(x, dims, keepdim)
        self.count = 1
        for d in dims:
            self.count *= x.shape[d]
        with np.errstate(invalid="ignore", divide="ignore"):  # the mean of nothing is NaN, as PyTorch
            return out / x.dtype.type(self.count)

    def backward(self, g):
        (dx,) = super().backward(g)
        dx /= dx.dtype.type(self.count)
        return (dx,)


class Prod(Function):
    """The product over ``dims`` (all, or one); its gradient is the product of all the other elements, from
    cumulative products on both sides, so exact where x holds zeros (no division by x)."""

    def forward(self, x, dims, keepdim, dtype=None):
        self.x, self.dims = x, dims
        return x.prod(axis=dims, keepdims=keepdim, dtype=dtype)

    def backward(self, g):
        xp = backend.get_array_module(g)
        x = self.x
        flat = len(self.dims) != 1
        xm = x.reshape(1, -1) if flat else xp.moveaxis(x, self.dims[0], -1)
        ones = xp.ones(xm.shape[:-1] + (1,), dtype=x.dtype)
        left = xp.concatenate([ones, xp.cumprod(xm[..., :-1], axis=-1)], axis=-1)
        right = xp.concatenate([ones, xp.cumprod(xm[..., :0:-1], axis=-1)], axis=-1)[..., ::-1]
        others = left * right
        others = others.reshape(x.shape) if flat else xp.moveaxis(others, -1, self.dims[0])
        return (g.reshape(_kept_shape(x.shape, self.dims)) * others,)


class Var(Function):
    """Variance over ``dims`` with ``correction`` (1: unbiased, PyTorch's default); ``std`` is its square root.
    d var / dx = 2 (x - mean) / (N - correction)."""

    def forward(self, x, dims, keepdim, correction, root):
        xp = backend.get_array_module(x)
        n = 1
        for d in dims:
            n *= x.shape[d]
        self.dims, self.shape, self.root = dims, x.shape, root
        self.diff = x - x.mean(axis=dims, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # one element, unbiased: NaN, as PyTorch
            self.scale = x.dtype.type(1) / x.dtype.type(builtins.max(n - correction, 0))
            out = (self.diff * self.diff).sum(axis=dims, keepdims=True) * self.scale
            self.out = xp.sqrt(out) if root else out
        return self.out if keepdim else self.out.reshape([n for i, n in enumerate(x.shape) if i not in dims])

    def backward(self, g):
        g = g.reshape(self.out.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = g * (2 * self.scale) * self.diff
            if not self.root:
                return (dx,)
            # d std = d var / (2 std), taken as 0 where std = 0 (all values equal), as PyTorch's
            xp = backend.get_array_module(g)
            return (xp.where(self.out == 0, g.dtype.type(0), dx / (2 * self.out)),)


class Extreme(Function):
    """The maximum (or minimum) over ``dims``, the gradient shared evenly among the elements equal to it
    (``torch.amax``, and ``torch.max`` without dim); where the result is NaN, among the NaNs."""

    def forward(self, x, dims, keepdim, largest):
        out = (x.max if largest else x.min)(axis=dims, keepdims=True)
        self.x, self.out_kept, self.dims = x, out, dims
        return out if keepdim else out.reshape([n for i, n in enumerate(x.shape) if i not in dims])

    def backward(self, g):
        xp = backend.get_array_module(g)
        x, out = self.x, self.out_kept
        hit = (x == out) | (xp.isnan(x) & xp.isnan(out))
        count = hit.sum(axis=self.dims, keepdims=True).astype(g.dtype)
        return (xp.where(hit, g.reshape(out.shape) / count, g.dtype.type(0)),)


class IndexedExtreme(Function):
    """``max(x, dim)``'s values: x at ``index`` (the first maximum) along ``dim``; the gradient goes there."""

    def forward(self, x, index, dim, keepdim):
        xp = backend.get_array_module(x)
        self.shape, self.index, self.dim = x.shape, index, dim
        out = xp.take_along_axis(x, index, axis=dim)
        return out if keepdim else out.reshape(index.shape[:dim] + index.shape[dim + 1:])

    def backward(self, g):
        xp = backend.get_array_module(g)
        ndim = len(self.shape)
        positions = xp.arange(self.shape[self.dim]).reshape([-1 if i == self.dim else 1 for i in range(ndim)])
        return (xp.where(positions == self.index, g.reshape(self.index.shape), g.dtype.type(0)),)


def no_out(op, out):
    """``out=`` (PyTorch's, and what NumPy's ``np.sum(t)`` passes) is accepted only as None."""
    if out is not None:
        raise NotImplementedError(f"{op}: out= is not supported by tinycnn; use the returned tensor")


def _parse(op, x, dim, keepdim, axis, keepdims):
    check_tensor("x", x, op=op)
    return reduce_dims(op, x, dim, axis), _keep(op, keepdim, keepdims)


def _floating_only(op, x):
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input dtype must be floating point, got {x.dtype} (PyTorch: 'could not infer "
                        f"output dtype'); cast it first, e.g. x.float()")


def sum(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None, axis=None,  # noqa: A001
        keepdims=None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for all), as ``torch.sum``; integer and bool tensors give int64.
    ``dtype`` casts the input first."""
    no_out("sum", out)
    dims, keepdim = _parse("sum", x, dim, keepdim, axis, keepdims)
    if dtype is not None:
        x = cast(x, backend.parse_dtype(dtype, "dtype", "sum"))
    return Sum.apply(x, dims=dims, keepdim=keepdim, dtype=_INT64 if x.dtype.kind in "iub" else None)


def mean(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None, axis=None, keepdims=None) -> Tensor:
    """Mean over ``dim`` (``torch.mean``). Raises TypeError for an integer or bool tensor without a floating
    ``dtype``, as PyTorch raises."""
    no_out("mean", out)
    dims, keepdim = _parse("mean", x, dim, keepdim, axis, keepdims)
    if dtype is not None:
        x = cast(x, backend.parse_dtype(dtype, "dtype", "mean"))
    _floating_only("mean", x)
    return Mean.apply(x, dims=dims, keepdim=keepdim)


def prod(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """Product of all elements, or over the one dimension ``dim`` (``torch.prod``); integers give int64."""
    check_tensor("x", x, op="prod")
    no_out("prod", out)
    if dim is not None and not isinstance(dim, numbers.Integral):
        raise TypeError(f"prod: dim must be an int or None, got {dim!r}")
    dims, keepdim = _parse("prod", x, dim, keepdim, None, None)
    if dtype is not None:
        x = cast(x, backend.parse_dtype(dtype, "dtype", "prod"))
    return Prod.apply(x, dims=dims, keepdim=keepdim, dtype=_INT64 if x.dtype.kind in "iub" else None)


def _variance(op, x, dim, unbiased, keepdim, correction, axis, keepdims, root, out=None, ddof=None, dtype=None):
    no_out(op, out)
    if dtype is not None:
        x = cast(check_tensor("x", x, op=op), backend.parse_dtype(dtype, "dtype", op))
    if ddof is not None:  # NumPy's name for correction (np.std(t) passes ddof=0)
        if correction is not None:
            raise TypeError(f"{op}: give correction or its alias ddof, not both")
        correction = ddof
    if isinstance(dim, (bool, np.bool_)):  # the legacy form var(unbiased)
        dim, unbiased = None, dim
    dims, keepdim = _parse(op, x, dim, keepdim, axis, keepdims)
    _floating_only(op, x)
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: give unbiased or correction, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if not isinstance(correction, numbers.Real):
        raise TypeError(f"{op}: correction must be a number, got {correction!r}")
    return Var.apply(x, dims=dims, keepdim=keepdim, correction=correction, root=root)


def var(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, out=None, axis=None,
        keepdims=None, ddof=None, dtype=None) -> Tensor:
    """Variance over ``dim`` (``torch.var``): divided by N - correction, correction 1 by default (unbiased;
    ``unbiased=False`` or ``correction=0`` for the population variance). One element, unbiased: NaN, as PyTorch."""
    return _variance("var", x, dim, unbiased, keepdim, correction, axis, keepdims, False, out, ddof, dtype)


def std(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, out=None, axis=None,
        keepdims=None, ddof=None, dtype=None) -> Tensor:
    """Standard deviation over ``dim`` (``torch.std``), the square root of ``var`` with the same arguments."""
    return _variance("std", x, dim, unbiased, keepdim, correction, axis, keepdims, True, out, ddof, dtype)


def _single_dim(op, x, dim, axis):
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both dim and its alias axis")
        dim = axis
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    return _dim_index(dim, x.ndim, op, "dim", x.shape)


def _extreme(op, largest, x, dim, keepdim, axis, keepdims):
    check_tensor("x", x, op=op)
    if isinstance(dim, Tensor):  # max(x, other): elementwise
        from .elementwise import maximum, minimum  # noqa: PLC0415 - elementwise imports math, not this

        return (maximum if largest else minimum)(x, dim)
    if dim is None and axis is None:
        if x.numel() == 0:
            raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0")
        return Extreme.apply(x, dims=tuple(range(x.ndim)), keepdim=False, largest=largest)
    d, keepdim = _single_dim(op, x, dim, axis), _keep(op, keepdim, keepdims)
    result = max_result if largest else min_result
    xp = backend.get_array_module(x.data)
    if x.ndim == 0:  # dim 0 of a 0-d tensor: the value itself, index 0
        return result(x, Tensor(xp.zeros((), dtype=_INT64)))
    if x.shape[d] == 0:
        raise IndexError(f"{op}(): cannot reduce over a dimension of size 0 (dim {d} of shape {x.shape})")
    index = (xp.argmax if largest else xp.argmin)(x.data, axis=d, keepdims=True)
    values = IndexedExtreme.apply(x, index=index, dim=d, keepdim=keepdim)
    return result(values, Tensor(index if keepdim else index.reshape(values.shape)))


def max(x: Tensor, dim=None, keepdim: bool = False, *, out=None, axis=None, keepdims=None):  # noqa: A001
    """``torch.max``: ``max(x)`` the largest value (0-d); ``max(x, dim, keepdim=False)`` a named tuple
    ``(values, indices)`` (the first index at ties, and the gradient goes to it); ``max(x, other)`` the elementwise
    maximum. Raises RuntimeError for an empty tensor without dim."""
    no_out("max", out)
    return _extreme("max", True, data_as_tensor(x), dim, keepdim, axis, keepdims)


def min(x: Tensor, dim=None, keepdim: bool = False, *, out=None, axis=None, keepdims=None):  # noqa: A001
    """``torch.min``, as ``max``."""
    no_out("min", out)
    return _extreme("min", False, data_as_tensor(x), dim, keepdim, axis, keepdims)


def amax(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The maximum over ``dim`` (an int or a tuple; () or None: all), values only (``torch.amax``); the gradient is
    shared evenly among ties."""
    dims, keepdim = _parse("amax", x, dim, keepdim, None, None)
    return Extreme.apply(x, dims=dims, keepdim=keepdim, largest=True)


def amin(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The minimum over ``dim`` (``torch.amin``), as ``amax``."""
    dims, keepdim = _parse("amin", x, dim, keepdim, None, None)
    return Extreme.apply(x, dims=dims, keepdim=keepdim, largest=False)


def _arg(op, largest, x, dim, keepdim, axis, keepdims):
    check_tensor("x", x, op=op)
    if x.numel() == 0:
        raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0")
    xp = backend.get_array_module(x.data)
    find = xp.argmax if largest else xp.argmin
    keep = _keep(op, keepdim, keepdims)
    if dim is None and axis is None:  # the index into the flattened tensor
        index = xp.asarray(find(x.data.reshape(-1)), dtype=_INT64)
        return Tensor(index.reshape((1,) * x.ndim if keep else ()))
    d = _single_dim(op, x, dim, axis)
    if x.ndim == 0:
        return Tensor(xp.zeros((), dtype=_INT64))
    return Tensor(find(x.data, axis=d, keepdims=keep).astype(_INT64, copy=False))


def argmax(x: Tensor, dim=None, keepdim: bool = False, *, out=None, axis=None, keepdims=None) -> Tensor:
    """Index of the maximum (``torch.argmax``): of the flattened tensor without dim, else along ``dim``; the
    first index at ties (a NaN counts as the maximum). int64."""
    no_out("argmax", out)
    return _arg("argmax", True, data_as_tensor(x), dim, keepdim, axis, keepdims)


def argmin(x: Tensor, dim=None, keepdim: bool = False, *, out=None, axis=None, keepdims=None) -> Tensor:
    """Index of the minimum (``torch.argmin``), as ``argmax``."""
    no_out("argmin", out)
    return _arg("argmin", False, data_as_tensor(x), dim, keepdim, axis, keepdims)


def _logical(op, x, dim, keepdim, axis, keepdims):
    dims, keep = _parse(op, x, dim, keepdim, axis, keepdims)
    data = x.data
    out = (data.all if op == "all" else data.any)(axis=dims, keepdims=keep)
    xp = backend.get_array_module(data)
    return Tensor(xp.asarray(out, dtype=data.dtype if data.dtype == np.uint8 else bool))


def all(x: Tensor, dim=None, keepdim: bool = False, *, out=None, axis=None, keepdims=None) -> Tensor:  # noqa: A001
    """Whether every element (over ``dim``) is nonzero (``torch.all``): bool (uint8 for a uint8 input, as PyTorch)."""
    no_out("all", out)
    return _logical("all", x, dim, keepdim, axis, keepdims)


def any(x: Tensor, dim=None, keepdim: bool = False, *, out=None, axis=None, keepdims=None) -> Tensor:  # noqa: A001
    """Whether any element (over ``dim``) is nonzero (``torch.any``), as ``all``."""
    no_out("any", out)
    return _logical("any", x, dim, keepdim, axis, keepdims)


def _install_methods():
    T = Tensor
    T.sum, T.mean, T.prod, T.var, T.std = sum, mean, prod, var, std
    T.max, T.min, T.amax, T.amin, T.argmax, T.argmin = max, min, amax, amin, argmax, argmin
    T.all, T.any = all, any


_install_methods()
