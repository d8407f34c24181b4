"""One-input elementwise functions (exp, log, sqrt, abs, sign, clamp) and the elementwise maximum / minimum.

exp, log and sqrt of an integer or bool tensor give float32, as PyTorch; abs, sign and clamp keep the dtype
(clamp promotes with its bounds: an int64 tensor clamped to 2.5 is float32, as ``torch.clamp``).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import _UFUNC_OPS, Function, Tensor, unbroadcast
from ._util import check_tensor
from .cast import cast, promote
from .math import binary_operands
from .power import pow

__all__ = ["exp", "log", "sqrt", "abs", "sign", "clamp", "clip", "maximum", "minimum", "square"]

_FLOAT32 = backend.DTYPES["float32"]


class Exp(Function):
    def forward(self, x):
        self.out = backend.get_array_module(x).exp(x)
        return self.out

    def backward(self, g):
        return (g * self.out,)


class Log(Function):
    def forward(self, x):
        self.x = x
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, log(-1) = NaN, as PyTorch, silently
            return backend.get_array_module(x).log(x)

    def backward(self, g):
        return (g / self.x,)


class Sqrt(Function):
    def forward(self, x):
        with np.errstate(invalid="ignore"):
            self.out = backend.get_array_module(x).sqrt(x)
        return self.out

    def backward(self, g):
        with np.errstate(divide="ignore"):
            return (g / (2 * self.out),)  # inf at 0, as PyTorch


class Abs(Function):
    def forward(self, x):
        self.x = x
        return backend.get_array_module(x).abs(x)

    def backward(self, g):
        return (g * backend.get_array_module(g).sign(self.x),)  # 0 at x = 0, as PyTorch


class Sign(Function):
    def forward(self, x):
        return backend.get_array_module(x).sign(x)

    def backward(self, g):
        return (backend.get_array_module(g).zeros_like(g),)


class Clamp(Function):
    """``min(max(x, low), high)``; the gradient passes where low <= x <= high (both ends included, as PyTorch's),
    and goes to a tensor bound where it was taken."""

    def forward(self, x, low, high):
        xp = backend.get_array_module(x)
        self.x, self.low, self.high = x, low, high
        out = x
        if low is not None:
            out = xp.maximum(out, low)
        if high is not None:
            out = xp.minimum(out, high)
        return out

    def backward(self, g):
        x, low, high = self.x, self.low, self.high
        inside = True
        if low is not None:
            inside = inside & (x >= low)
        if high is not None:
            inside = inside & (x <= high)
        return (unbroadcast((g * inside).astype(g.dtype, copy=False), x.shape),)


class Extremum(Function):
    """Elementwise maximum (``largest``) or minimum of two tensors. The gradient goes to the larger (smaller) one and
    is split in halves at ties, with PyTorch's formula (NaN: to both)."""

    def forward(self, a, b, largest):
        xp = backend.get_array_module(a)
        self.a, self.b, self.largest = a, b, largest
        return xp.maximum(a, b) if largest else xp.minimum(a, b)

    def backward(self, g):
        xp = backend.get_array_module(g)
        a, b = self.a, self.b
        half = xp.where(a == b, g / 2, g)
        zero = g.dtype.type(0)
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(xp.where(a < b if self.largest else a > b, zero, half), a.shape)
        if self.needs_input_grad[1]:
            db = unbroadcast(xp.where(a > b if self.largest else a < b, zero, half), b.shape)
        return da, db


def _floating(name, x):
    check_tensor("x", x, op=name)
    return x if x._data.dtype.kind == "f" else cast(x, _FLOAT32)


def exp(x: Tensor) -> Tensor:
    """Elementwise e**x (``torch.exp``); integer input gives float32."""
    return Exp.apply(_floating("exp", x))


def log(x: Tensor) -> Tensor:
    """Elementwise natural logarithm (``torch.log``): -inf at 0, NaN below 0, as PyTorch."""
    return Log.apply(_floating("log", x))


def sqrt(x: Tensor) -> Tensor:
    """Elementwise square root (``torch.sqrt``): NaN below 0; the gradient is inf at 0, as PyTorch's."""
    return Sqrt.apply(_floating("sqrt", x))


def abs(x: Tensor) -> Tensor:  # noqa: A001 - torch's name
    """Elementwise |x| (``torch.abs``), dtype kept; the gradient is sign(x), 0 at 0."""
    check_tensor("x", x, op="abs")
    if x.dtype.kind == "b":
        raise TypeError("abs: not supported for bool tensors (as PyTorch)")
    return Abs.apply(x)


def sign(x: Tensor) -> Tensor:
    """Elementwise -1, 0 or 1 (``torch.sign``), dtype kept; zero gradient."""
    return Sign.apply(check_tensor("x", x, op="sign"))


def square(x: Tensor) -> Tensor:
    """``x * x`` (``torch.square``)."""
    return pow(check_tensor("x", x, op="square"), 2)


def clamp(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - torch's argument names
    """Limit ``x`` to [min, max] (``torch.clamp``); either bound may be None, a number or a Tensor (broadcast),
    and takes part in type promotion as PyTorch.

    Raises ValueError when both are None, TypeError for a bound of another kind.
    """
    check_tensor("x", x, op="clamp")
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    bounds = []
    for name, b in (("min", min), ("max", max)):
        if b is not None and not isinstance(b, (Tensor, numbers.Real)):
            raise TypeError(f"clamp: {name} must be a number, a Tensor or None, got {type(b).__name__}")
        if isinstance(b, Tensor) and b.requires_grad:
            raise NotImplementedError(f"clamp: a {name} bound that requires grad is not supported by tinycnn")
        bounds.append(b)
    present = [b for b in bounds if b is not None]
    (x, *converted), dtype = promote("clamp", x, *present)
    arrays = iter(c._data for c in converted)
    low = next(arrays) if min is not None else None
    high = next(arrays) if max is not None else None
    return Clamp.apply(x, low=low, high=high)


clip = clamp


def maximum(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise maximum of two tensors, broadcast and promoted (``torch.maximum``); NaN propagates."""
    check_tensor("other", b, op="maximum")
    return Extremum.apply(*binary_operands("maximum", check_tensor("input", a, op="maximum"), b), largest=True)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise minimum of two tensors (``torch.minimum``), as ``maximum``."""
    check_tensor("other", b, op="minimum")
    return Extremum.apply(*binary_operands("minimum", check_tensor("input", a, op="minimum"), b), largest=False)


def _install_methods():
    T = Tensor
    T.exp, T.log, T.sqrt, T.abs, T.__abs__, T.sign, T.square = exp, log, sqrt, abs, abs, sign, square
    T.clamp = T.clip = clamp
    T.maximum, T.minimum = maximum, minimum
    _UFUNC_OPS.update({np.exp: exp, np.log: log, np.sqrt: sqrt, np.absolute: abs, np.sign: sign,
                       np.maximum: maximum, np.minimum: minimum})


_install_methods()
