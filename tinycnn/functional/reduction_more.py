"""More reductions with PyTorch's signatures: ``norm``, ``logsumexp``, ``dot`` and the running sum ``cumsum``.

``norm(x, p=2, dim=None, keepdim=False)`` follows ``torch.norm`` / ``torch.linalg.vector_norm`` for vectors:
``p`` a number (2, 1, inf, -inf, 0 or any other) or ``"fro"`` (2 over the given dims); the gradient of the
2-norm at zero is 0, as PyTorch's (not NaN). ``logsumexp`` is computed stably (the maximum taken out), -inf for a
slice of -inf, as PyTorch. ``cumsum`` of an integer or bool tensor gives int64, as PyTorch.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Function, Tensor, _dim_index
from ._util import check_tensor
from .reduction import _keep, reduce_dims

__all__ = ["norm", "logsumexp", "dot", "cumsum"]

_INT64 = backend.DTYPES["int64"]


class Norm(Function):
    """The p-norm over ``dims``: (sum |x|^p)^(1/p); max |x| for inf, min |x| for -inf, the count of nonzeros for
    0. Gradients: x / norm for p = 2 (0 where the norm is 0), sign(x) |x|^(p-1) / norm^(p-1) in general, and for
    +-inf the sign shared evenly among the elements that reach the extreme."""

    def forward(self, x, p, dims, keepdim):
        xp = backend.get_array_module(x)
        a = xp.abs(x)
        if p == 2:
            out = xp.sqrt((x * x).sum(axis=dims, keepdims=True))
        elif p == np.inf:
            out = a.max(axis=dims, keepdims=True)
        elif p == -np.inf:
            out = a.min(axis=dims, keepdims=True)
        elif p == 0:
            out = (x != 0).sum(axis=dims, keepdims=True).astype(x.dtype)
        elif p == 1:
            out = a.sum(axis=dims, keepdims=True)
        else:
            out = (a ** p).sum(axis=dims, keepdims=True) ** (1.0 / p)
        self.x, self.p, self.out, self.dims = x, p, out, dims
        return out if keepdim else out.reshape([n for i, n in enumerate(x.shape) if i not in dims])

    def backward(self, g):
        xp = backend.get_array_module(g)
        x, p, out = self.x, self.p, self.out
        g = g.reshape(out.shape)
        zero = g.dtype.type(0)
        if p == 0:
            return (xp.zeros_like(x),)
        if p == 1:
            return (g * xp.sign(x),)
        if p in (np.inf, -np.inf):
            hit = xp.abs(x) == out
            count = hit.sum(axis=self.dims, keepdims=True).astype(g.dtype)
            return (xp.where(hit, xp.sign(x) * g / count, zero),)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                scale = xp.where(out == 0, zero, g / out)
                return (x * scale,)
            scale = xp.where(out == 0, zero, g / out ** (p - 1))
            return (xp.sign(x) * xp.abs(x) ** (p - 1) * scale,)


def norm(x: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The vector p-norm of ``x`` over ``dim`` (None: every element), as ``torch.norm`` (see the module docstring).

    Raises TypeError for an integer or bool tensor (PyTorch: RuntimeError) or a p of another kind,
    NotImplementedError for matrix norms (``p="nuc"``, or a numeric p over two dims), which tinycnn does not
    support.
    """
    check_tensor("input", x, op="norm")
    if x.dtype.kind != "f":
        raise TypeError(f"norm: expected a floating point tensor as input, got {x.dtype} (cast it with .float())")
    if dtype is not None:
        x = x.to(dtype)
    dims = reduce_dims("norm", x, dim)
    if p == "fro" or p is None:
        p = 2
    elif p == "nuc":
        raise NotImplementedError("norm: the nuclear norm (p='nuc') is not supported by tinycnn")
    elif not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"norm: p must be a number or 'fro', got {p!r}")
    elif dim is not None and len(dims) == 2 and p != 2:
        raise NotImplementedError(f"norm: a matrix norm (p={p!r} over two dims) is not supported by tinycnn; "
                                  f"vector norms over one dim or all elements are")
    return Norm.apply(x, p=float(p), dims=dims, keepdim=_keep("norm", keepdim, None))


class LogSumExp(Function):
    """log(sum(exp(x))) over ``dims`` with the maximum taken out first; the gradient is softmax(x) * g."""

    def forward(self, x, dims, keepdim):
        xp = backend.get_array_module(x)
        m = x.max(axis=dims, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # a slice of -inf (or inf) keeps its value, not NaN
        with np.errstate(divide="ignore"):
            out = xp.log(xp.exp(x - m).sum(axis=dims, keepdims=True)) + m
        self.x, self.out = x, out
        return out if keepdim else out.reshape([n for i, n in enumerate(x.shape) if i not in dims])

    def backward(self, g):
        xp = backend.get_array_module(g)
        with np.errstate(invalid="ignore"):
            return (g.reshape(self.out.shape) * xp.exp(self.x - self.out),)


def logsumexp(x: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(exp(x).sum(dim))`` computed stably (``torch.logsumexp``); dim is required (an int or a tuple).
    Integer input gives float32. Raises IndexError for a dim out of range."""
    check_tensor("input", x, op="logsumexp")
    if x.dtype.kind != "f":
        x = x.float()
    dims = reduce_dims("logsumexp", x, dim)
    return LogSumExp.apply(x, dims=dims, keepdim=_keep("logsumexp", keepdim, None))


def dot(a: Tensor, b: Tensor) -> Tensor:
    """The inner product of two 1-D tensors of one dtype and length (``torch.dot``), a 0-d tensor.

    Raises ValueError for other shapes, TypeError for two dtypes (PyTorch: RuntimeError; it does not promote).
    """
    check_tensor("input", a, op="dot")
    check_tensor("tensor", b, op="dot")
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: 1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.shape != b.shape:
        raise ValueError(f"dot: inconsistent tensor size, expected tensors of the same length, got {a.shape[0]} "
                         f"and {b.shape[0]}")
    if a.dtype != b.dtype:
        raise TypeError(f"dot: expected both vectors to have the same dtype, but found {a.dtype} and {b.dtype}")
    return (a * b).sum()


class CumSum(Function):
    """The running sum along ``dim``; the gradient is the running sum of g from the other end."""

    def forward(self, x, dim, dtype):
        self.dim = dim
        return backend.get_array_module(x).cumsum(x, axis=dim, dtype=dtype)

    def backward(self, g):
        xp = backend.get_array_module(g)
        return (xp.flip(xp.cumsum(xp.flip(g, axis=self.dim), axis=self.dim), axis=self.dim),)


def cumsum(x: Tensor, dim: int, *, dtype=None) -> Tensor:
    """The cumulative sum along ``dim`` (``torch.cumsum``): an integer or bool input gives int64 unless ``dtype``
    says otherwise. Raises IndexError for a dim out of range."""
    check_tensor("input", x, op="cumsum")
    dtype = backend.parse_dtype(dtype, "dtype", "cumsum")
    if dtype is None:
        dtype = x.dtype if x.dtype.kind == "f" else _INT64
    if dtype.kind != "f" and x.requires_grad:
        x = x.detach()
    d = _dim_index(dim, x.ndim, "cumsum", "dim", x.shape)
    if x.ndim == 0:
        return x.to(dtype).clone()
    return CumSum.apply(x, dim=d, dtype=dtype)


def _install_methods():
    T = Tensor
    T.norm = norm
    T.logsumexp = logsumexp
    T.dot = dot
    T.cumsum = lambda self, dim, *, dtype=None: cumsum(self, dim, dtype=dtype)


_install_methods()
