"""More one-input functions of PyTorch's first lessons: log1p, expm1, log2, log10, sin, cos, reciprocal, rsqrt,
and the rounding functions floor, ceil, round, trunc, frac; plus the activations softplus, hardtanh and relu6.

Each is a ``Function`` with its derivative beside it. As in PyTorch: the transcendental ones give float32 for an
integer or bool input; the rounding ones keep an integer tensor as it is and have a zero gradient; ``round``
rounds half to even (``round(2.5) == 2``), with ``decimals``; hardtanh's and relu6's gradient is 1 strictly
inside (min_val, max_val) and 0 at the bounds; softplus is ``x`` where ``beta * x > threshold``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import _UFUNC_OPS, Function, Tensor
from ._util import check_tensor
from .cast import cast

__all__ = ["log1p", "expm1", "log2", "log10", "sin", "cos", "reciprocal", "rsqrt", "floor", "ceil", "round",
           "trunc", "frac", "softplus", "hardtanh", "relu6"]

_FLOAT32 = backend.DTYPES["float32"]
_LN2, _LN10 = float(np.log(2.0)), float(np.log(10.0))


class Elementwise(Function):
    """``fn(x)`` with the derivative ``grad(x, out)``, both given by the subclass as static functions of
    (xp, x, out)."""

    def forward(self, x):
        xp = backend.get_array_module(x)
        with np.errstate(divide="ignore", invalid="ignore"):  # -inf, inf and NaN as PyTorch, without warnings
            out = self.fn(xp, x)
        self.x, self.out = x, out
        return out

    def backward(self, g):
        xp = backend.get_array_module(g)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * self.grad(xp, self.x, self.out),)


def _op(name, fn, grad):
    return type(name, (Elementwise,), {"fn": staticmethod(fn), "grad": staticmethod(grad)})


Log1p = _op("Log1p", lambda xp, x: xp.log1p(x), lambda xp, x, out: 1 / (1 + x))
Expm1 = _op("Expm1", lambda xp, x: xp.expm1(x), lambda xp, x, out: out + 1)
Log2 = _op("Log2", lambda xp, x: xp.log2(x), lambda xp, x, out: 1 / (x * x.dtype.type(_LN2)))
Log10 = _op("Log10", lambda xp, x: xp.log10(x), lambda xp, x, out: 1 / (x * x.dtype.type(_LN10)))
Sin = _op("Sin", lambda xp, x: xp.sin(x), lambda xp, x, out: xp.cos(x))
Cos = _op("Cos", lambda xp, x: xp.cos(x), lambda xp, x, out: -xp.sin(x))
Reciprocal = _op("Reciprocal", lambda xp, x: 1 / x, lambda xp, x, out: -out * out)
Rsqrt = _op("Rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, out: -out * out * out / 2)


class Rounding(Function):
    """A rounding function (piecewise constant): zero gradient, as PyTorch's."""

    def forward(self, x, fn):
        return fn(backend.get_array_module(x), x)

    def backward(self, g):
        return (backend.get_array_module(g).zeros_like(g),)


def _floating(op, x):
    check_tensor("input", x, op=op)
    return x if x.dtype.kind == "f" else cast(x, _FLOAT32)


def _transcendental(cls, op):
    def fn(x: Tensor) -> Tensor:
        return cls.apply(_floating(op, x))

    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = f"Elementwise {op} (``torch.{op}``); an integer or bool input gives float32."
    return fn


log1p, expm1, log2, log10 = (_transcendental(c, n) for c, n in ((Log1p, "log1p"), (Expm1, "expm1"),
                                                                 (Log2, "log2"), (Log10, "log10")))
sin, cos, reciprocal, rsqrt = (_transcendental(c, n) for c, n in ((Sin, "sin"), (Cos, "cos"),
                                                                  (Reciprocal, "reciprocal"), (Rsqrt, "rsqrt")))


def _rounding(op, fn):
    def apply(x: Tensor) -> Tensor:
        check_tensor("input", x, op=op)
        if x.dtype.kind != "f":
            if x.dtype.kind == "b":
                raise TypeError(f"{op}: not supported for bool tensors (as in PyTorch)")
            return x.clone()  # an integer is already whole: PyTorch returns a copy of the same dtype
        return Rounding.apply(x, fn=fn)

    apply.__name__ = apply.__qualname__ = op
    apply.__doc__ = f"Elementwise {op} (``torch.{op}``): integer tensors unchanged, zero gradient."
    return apply


floor = _rounding("floor", lambda xp, x: xp.floor(x))
ceil = _rounding("ceil", lambda xp, x: xp.ceil(x))
trunc = _rounding("trunc", lambda xp, x: xp.trunc(x))


def round(x: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 - torch's name
    """Round half to even (``torch.round``: ``round(0.5) == 0``, ``round(1.5) == 2``), to ``decimals`` places;
    integer tensors unchanged; zero gradient. Raises TypeError for a non-int ``decimals``."""
    if not isinstance(decimals, numbers.Integral) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    if decimals == 0:
        return _rounding("round", lambda xp, a: xp.round(a))(x)
    return _rounding("round", lambda xp, a: xp.round(a, int(decimals)))(x)


def frac(x: Tensor) -> Tensor:
    """``x - trunc(x)`` (``torch.frac``): the gradient is 1, as PyTorch's. Floating tensors only."""
    x = check_tensor("input", x, op="frac")
    if x.dtype.kind != "f":
        raise TypeError(f"frac: expected a floating point tensor, got {x.dtype}")
    return x - trunc(x)


# ----- activations -----
class Softplus(Function):
    """``log(1 + exp(beta x)) / beta``, and ``x`` where ``beta x > threshold`` (PyTorch's cut); the gradient is
    ``sigmoid(beta x)`` (1 past the threshold)."""

    def forward(self, x, beta, threshold):
        xp = backend.get_array_module(x)
        z = x * x.dtype.type(beta)
        self.z, self.linear = z, z > threshold
        soft = xp.logaddexp(x.dtype.type(0), z) / x.dtype.type(beta)  # log(1 + e^z) without overflow
        return xp.where(self.linear, x, soft)

    def backward(self, g):
        xp = backend.get_array_module(g)
        sig = 1 / (1 + xp.exp(-xp.clip(self.z, -80, 80)))  # the clip only keeps exp from overflowing
        return (xp.where(self.linear, g, g * sig.astype(g.dtype, copy=False)),)


class HardTanh(Function):
    def forward(self, x, low, high):
        self.x, self.low, self.high = x, low, high
        return backend.get_array_module(x).clip(x, x.dtype.type(low), x.dtype.type(high))

    def backward(self, g):
        inside = (self.x > self.low) & (self.x < self.high)  # strict, as PyTorch's hardtanh_backward
        return (backend.get_array_module(g).where(inside, g, g.dtype.type(0)),)


def _real(op, name, value):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``torch.nn.functional.softplus`` (see ``Softplus``). Floating tensors; raises TypeError otherwise."""
    check_tensor("input", x, op="softplus")
    if x.dtype.kind != "f":
        raise TypeError(f"softplus: expected a floating point tensor, got {x.dtype}")
    beta, threshold = _real("softplus", "beta", beta), _real("softplus", "threshold", threshold)
    return Softplus.apply(x, beta=beta, threshold=threshold)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` clipped to [min_val, max_val] (``torch.nn.functional.hardtanh``); the gradient is 1 strictly inside.
    Raises ValueError when max_val < min_val. ``inplace``: as ``relu``'s."""
    from .activation import _inplace  # noqa: PLC0415 - activation is below nothing here; avoids a cycle

    check_tensor("input", x, op="hardtanh")
    if x.dtype.kind != "f":
        raise TypeError(f"hardtanh: expected a floating point tensor, got {x.dtype}")
    low, high = _real("hardtanh", "min_val", min_val), _real("hardtanh", "max_val", max_val)
    if high < low:
        raise ValueError(f"hardtanh: max_val ({max_val}) must be >= min_val ({min_val})")
    return _inplace("hardtanh", x, HardTanh.apply(x, low=low, high=high), inplace)


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)`` (``torch.nn.functional.relu6``): ``hardtanh(x, 0, 6)``."""
    return hardtanh(x, 0.0, 6.0, inplace)


def _install_methods():
    T = Tensor
    T.log1p, T.expm1, T.log2, T.log10, T.sin, T.cos = log1p, expm1, log2, log10, sin, cos
    T.reciprocal, T.rsqrt, T.floor, T.ceil, T.trunc, T.frac = reciprocal, rsqrt, floor, ceil, trunc, frac
    T.round = lambda self, *, decimals=0: round(self, decimals=decimals)
    _UFUNC_OPS.update({np.log1p: log1p, np.expm1: expm1, np.log2: log2, np.log10: log10, np.sin: sin, np.cos: cos,
                       np.reciprocal: reciprocal, np.floor: floor, np.ceil: ceil, np.trunc: trunc})


_install_methods()
