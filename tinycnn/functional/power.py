"""Powers and rounded division: ``**`` (``pow``), ``//`` (``floor_divide``), ``%`` (``remainder``) and the
rounding modes of ``div``, with PyTorch's type promotion (math.py) and its rules for integers and bools: an integer
division by zero raises ZeroDivisionError, ``int ** negative int`` raises, ``//``, ``%`` and ``**`` of two bools and
``-`` with a bool raise."""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import _UFUNC_OPS, Function, Tensor, unbroadcast
from .cast import promote
from .math import binary_operands

__all__ = ["pow", "floor_divide", "remainder"]


class RoundedDiv(Function):
    """``a / b`` rounded toward -inf ("floor") or 0 ("trunc"): piecewise constant, so the gradient is 0 (PyTorch's
    ``div(..., rounding_mode=...)``)."""

    def forward(self, a, b, mode):
        xp = backend.get_array_module(a)
        self.shapes = a.shape, b.shape
        if a.dtype.kind in "iub":
            _check_no_integer_zero(b)
            q = xp.floor_divide(a, b)
            if mode == "trunc":  # floor is one too low where the exact quotient is negative and not whole
                q = q + ((a - q * b != 0) & ((a < 0) != (b < 0))).astype(q.dtype)
            return q
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.floor_divide(a, b) if mode == "floor" else xp.trunc(a / b)

    def backward(self, g):
        xp = backend.get_array_module(g)
        return tuple(xp.zeros(s, dtype=g.dtype) if need else None
                     for s, need in zip(self.shapes, self.needs_input_grad))


class FloorDivide(RoundedDiv):
    def forward(self, a, b):
        return super().forward(a, b, "floor")

    def backward(self, g):
        raise RuntimeError("derivative for floor_divide is not implemented (as in PyTorch); use "
                           "div(a, b, rounding_mode='floor') for a zero gradient")


class Remainder(Function):
    """``a % b`` with the sign of ``b`` (Python's and ``torch.remainder``'s): d/da = 1, d/db = -floor(a / b)."""

    def forward(self, a, b):
        xp = backend.get_array_module(a)
        if a.dtype.kind in "iub":
            _check_no_integer_zero(b)
        self.shapes = a.shape, b.shape
        self.a, self.b = (a, b) if self.needs_input_grad[1] else (None, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.remainder(a, b)

    def backward(self, g):
        da = unbroadcast(g, self.shapes[0]) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            db = unbroadcast(-g * backend.get_array_module(g).floor_divide(self.a, self.b), self.shapes[1])
        return da, db


def _check_no_integer_zero(b):
    if bool((b == 0).any()):
        raise ZeroDivisionError("integer division or remainder by zero (PyTorch raises ZeroDivisionError)")


class Pow(Function):
    """``x ** exponent`` for a constant real exponent: d/dx = exponent * x ** (exponent - 1)."""

    def forward(self, x, exponent):
        self.x, self.exponent = x, exponent
        return x ** exponent

    def backward(self, g):
        e = self.exponent
        if e == 0:  # x**0 is constant; e * x**(e - 1) would be 0 * inf = NaN at x = 0
            return (backend.get_array_module(g).zeros_like(g),)
        return (g * (e * self.x ** (e - 1)).astype(g.dtype, copy=False),)


class PowTensor(Function):
    """``a ** b`` with both tensors: d/da = b a**(b-1), d/db = a**b ln a, taken as 0 where a = 0 and b >= 0
    (PyTorch's convention, so 0**b with b > 0 does not give NaN)."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, g):
        xp = backend.get_array_module(g)
        a, b = self.a, self.b
        da = db = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                da = unbroadcast(g * b * a ** (b - 1), self.shapes[0])
            if self.needs_input_grad[1]:
                log_a = xp.where((a == 0) & (b >= 0), a.dtype.type(0), xp.log(a))
                db = unbroadcast(g * self.out * log_a, self.shapes[1])
        return da, db


# ----- the functional API -----

def _no_bool(name, a, b):
    if a._data.dtype.kind == "b":  # both promoted to bool
        raise TypeError(f'{name}: "{name}" is not implemented for bool tensors (as PyTorch); cast them first')
    return a, b


def floor_divide(a, b) -> Tensor:
    """``a // b``, rounded toward -inf (``torch.floor_divide``). Its backward raises, as PyTorch's."""
    return FloorDivide.apply(*_no_bool("floor_divide", *binary_operands("floor_divide", a, b)))


def remainder(a, b) -> Tensor:
    """``a % b`` with the sign of b, as Python and ``torch.remainder``; differentiable."""
    return Remainder.apply(*_no_bool("remainder", *binary_operands("remainder", a, b)))


def pow(x, exponent) -> Tensor:  # noqa: A001 - the field's name for it
    """``x ** exponent`` (``torch.pow``): a Tensor to a number or a Tensor power, or a number to a Tensor power,
    with PyTorch's type promotion (int ** 2 stays int, int ** 0.5 is float32).

    Raises TypeError for other operands, ValueError for an integer tensor to a negative integer power.
    """
    if isinstance(x, Tensor) and isinstance(exponent, numbers.Real):
        if x._data.dtype.kind == "f" and type(exponent) in (int, float):  # x ** 2: x's dtype, nothing to decide
            return Pow.apply(x, exponent=exponent)
        (x, _), dtype = promote("pow", x, exponent)
        if dtype.kind == "b":  # bool ** True is itself, bool ** False all True, as PyTorch
            return Tensor(backend.get_array_module(x._data).logical_or(x._data, not exponent))
        if dtype.kind in "iu" and exponent < 0:
            raise ValueError("pow: Integers to negative integer powers are not allowed")
        return Pow.apply(x, exponent=dtype.type(exponent) if dtype.kind != "b" else exponent)
    if not isinstance(x, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError(f"pow: x must be a Tensor (or exponent a Tensor), got {type(x).__name__} and "
                        f"{type(exponent).__name__}")
    for name, v in (("x", x), ("exponent", exponent)):
        if not isinstance(v, (Tensor, numbers.Real)):
            raise TypeError(f"pow: {name} must be a Tensor or a real number, got {type(v).__name__}")
    return PowTensor.apply(*_no_bool("pow", *binary_operands("pow", x, exponent)))


def _install_operators():
    T = Tensor
    T.__floordiv__ = T.floor_divide = floor_divide
    T.__rfloordiv__ = lambda a, b: floor_divide(b, a)
    T.__mod__ = T.remainder = remainder
    T.__rmod__ = lambda a, b: remainder(b, a)
    T.__pow__ = T.pow = pow
    T.__rpow__ = lambda a, b: pow(b, a)
    _UFUNC_OPS.update({np.floor_divide: floor_divide, np.remainder: remainder, np.power: pow})


_install_operators()
