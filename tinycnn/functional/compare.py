"""Comparisons, logical and bitwise ops, NaN tests, ``where``, ``allclose`` and ``equal``.

Comparisons are elementwise and return bool tensors, as PyTorch's (``a == b`` is not an identity test; tensors
keep hashing by identity, so they still work as dict keys and in sets). Their operands are promoted first, as
arithmetic's (``int_tensor == 1.5`` compares in float32). Only ``where`` is differentiable (in its two values).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import _UFUNC_OPS, Function, Tensor, unbroadcast
from ._util import check_tensor
from .cast import is_scalar, promote, result_type
from .math import binary_operands

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and", "logical_or", "logical_xor",
           "bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor", "isnan", "isfinite", "isinf", "where",
           "isclose", "allclose", "equal"]

_BOOL = backend.DTYPES["bool"]


def _xp(t):
    return backend.get_array_module(t._data)


def _compare(name, ufunc, a, b) -> Tensor:
    a, b = binary_operands(name, a, b)
    return Tensor(getattr(_xp(a), ufunc)(a._data, b._data))


def eq(a, b) -> Tensor:
    """Elementwise ``a == b`` as a bool tensor (``torch.eq``), with broadcasting and type promotion."""
    return _compare("eq", "equal", a, b)


def ne(a, b) -> Tensor:
    """Elementwise ``a != b`` (``torch.ne``)."""
    return _compare("ne", "not_equal", a, b)


def lt(a, b) -> Tensor:
    """Elementwise ``a < b`` (``torch.lt``)."""
    return _compare("lt", "less", a, b)


def le(a, b) -> Tensor:
    """Elementwise ``a <= b`` (``torch.le``)."""
    return _compare("le", "less_equal", a, b)


def gt(a, b) -> Tensor:
    """Elementwise ``a > b`` (``torch.gt``)."""
    return _compare("gt", "greater", a, b)


def ge(a, b) -> Tensor:
    """Elementwise ``a >= b`` (``torch.ge``)."""
    return _compare("ge", "greater_equal", a, b)


def _operator(fn):
    """``fn`` as a comparison operator: an operand it cannot compare with (None, a string) gives NotImplemented,
    so ``t == None`` is False and ``t != None`` True, as in PyTorch."""
    def op(a, b):
        if not (isinstance(b, Tensor) or is_scalar(b) or hasattr(b, "shape") or isinstance(b, (list, tuple))):
            return NotImplemented
        return fn(a, b)

    return op


def _logical(name, ufunc, *xs) -> Tensor:
    for i, x in enumerate(xs):
        check_tensor("x" if len(xs) == 1 else "ab"[i], x, op=name)
    return Tensor(getattr(_xp(xs[0]), ufunc)(*[x._data for x in xs]))


def logical_not(x: Tensor) -> Tensor:
    """Elementwise ``x == 0`` as bool (``torch.logical_not``), for any dtype."""
    return _logical("logical_not", "logical_not", x)


def logical_and(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise "both nonzero" as bool (``torch.logical_and``)."""
    return _logical("logical_and", "logical_and", a, b)


def logical_or(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise "either nonzero" as bool (``torch.logical_or``)."""
    return _logical("logical_or", "logical_or", a, b)


def logical_xor(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise "exactly one nonzero" as bool (``torch.logical_xor``)."""
    return _logical("logical_xor", "logical_xor", a, b)


def _bitwise(name, ufunc, a, b=None) -> Tensor:
    if b is None:
        x = check_tensor("x", a, op=name)
    else:
        a, b = binary_operands(name, a, b)
        x = a
    if x.dtype.kind not in "biu":
        raise TypeError(f"{name}: only integer and bool tensors are supported (the {'~' if b is None else name} "
                        f"operator on {x.dtype}); for masks compare first, e.g. ~(x > 0)")
    xp = _xp(x)
    return Tensor(getattr(xp, ufunc)(a._data) if b is None else getattr(xp, ufunc)(a._data, b._data))


def bitwise_not(x: Tensor) -> Tensor:
    """``~x``: logical not of a bool tensor, bitwise not of an integer one (``torch.bitwise_not``)."""
    return _bitwise("bitwise_not", "invert", x)


def bitwise_and(a, b) -> Tensor:
    """``a & b`` for bool or integer tensors (``torch.bitwise_and``)."""
    return _bitwise("bitwise_and", "bitwise_and", a, b)


def bitwise_or(a, b) -> Tensor:
    """``a | b`` for bool or integer tensors (``torch.bitwise_or``)."""
    return _bitwise("bitwise_or", "bitwise_or", a, b)


def bitwise_xor(a, b) -> Tensor:
    """``a ^ b`` for bool or integer tensors (``torch.bitwise_xor``)."""
    return _bitwise("bitwise_xor", "bitwise_xor", a, b)


def _test(name, fn, x, default) -> Tensor:
    check_tensor("x", x, op=name)
    xp = _xp(x)
    if x.dtype.kind != "f":  # integers are never NaN or infinite
        return Tensor(xp.full(x.shape, default, dtype=bool))
    return Tensor(getattr(xp, fn)(x._data))


def isnan(x: Tensor) -> Tensor:
    """Elementwise "is NaN" (``torch.isnan``)."""
    return _test("isnan", "isnan", x, False)


def isfinite(x: Tensor) -> Tensor:
    """Elementwise "neither inf nor NaN" (``torch.isfinite``)."""
    return _test("isfinite", "isfinite", x, True)


def isinf(x: Tensor) -> Tensor:
    """Elementwise "+inf or -inf" (``torch.isinf``)."""
    return _test("isinf", "isinf", x, False)


class Where(Function):
    """``cond ? a : b`` elementwise; the gradient goes to ``a`` where cond holds and to ``b`` elsewhere."""

    def forward(self, a, b, cond):
        self.cond, self.shapes = cond, (a.shape, b.shape)
        return backend.get_array_module(a).where(cond, a, b)

    def backward(self, g):
        xp = backend.get_array_module(g)
        zero = g.dtype.type(0)
        da = unbroadcast(xp.where(self.cond, g, zero), self.shapes[0]) if self.needs_input_grad[0] else None
        db = unbroadcast(xp.where(self.cond, zero, g), self.shapes[1]) if self.needs_input_grad[1] else None
        return da, db


def where(condition, input=None, other=None):  # noqa: A002 - torch's names
    """``torch.where(condition, input, other)``: ``input`` where ``condition`` holds, else ``other`` (either may
    be a number; promoted as arithmetic), broadcast together; differentiable in both. ``where(condition)`` alone:
    the indices of the True elements, a tuple of int64 tensors (``torch.nonzero(as_tuple=True)``).

    Raises TypeError unless ``condition`` is a bool Tensor, ValueError when the shapes do not broadcast.
    """
    check_tensor("condition", condition, op="where")
    if condition.dtype != _BOOL:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    xp = _xp(condition)
    if input is None and other is None:
        return tuple(Tensor(i.astype(np.int64)) for i in xp.nonzero(condition._data))
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        if not (is_scalar(input) and is_scalar(other)):
            raise TypeError(f"where: input and other must be Tensors or numbers, got {type(input).__name__}, "
                            f"{type(other).__name__}")
        dtype = result_type(input, other)
        input = Tensor(xp.asarray(input, dtype=dtype))
    (a, b), _ = promote("where", input, other)
    try:
        np.broadcast_shapes(condition.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: condition {condition.shape}, input {a.shape} and other {b.shape} cannot be "
                         f"broadcast together") from None
    return Where.apply(a, b, cond=condition._data)


def isclose(a: Tensor, b: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """Elementwise ``|a - b| <= atol + rtol * |b|`` as bool (``torch.isclose``).

    Raises TypeError when the dtypes differ (as PyTorch) or a tolerance is not a number.
    """
    check_tensor("a", a, op="isclose")
    check_tensor("b", b, op="isclose")
    if a.dtype != b.dtype:
        raise TypeError(f"isclose: input and other must have one dtype, got {a.dtype} and {b.dtype}")
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not isinstance(v, numbers.Real) or v < 0:
            raise TypeError(f"isclose: {name} must be a non-negative number, got {v!r}")
    return Tensor(_xp(a).isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether every element of ``a`` is close to ``b``'s (``torch.allclose``): a Python bool."""
    return bool(isclose(a, b, rtol, atol, equal_nan)._data.all())


def equal(a: Tensor, b: Tensor) -> bool:
    """True when ``a`` and ``b`` have the same shape and elements (``torch.equal``; dtypes may differ)."""
    check_tensor("a", a, op="equal")
    check_tensor("b", b, op="equal")
    return a.shape == b.shape and bool(eq(a, b)._data.all())


def _contains(self, element) -> bool:
    """``element in tensor``: whether any element equals it, as PyTorch."""
    if not (isinstance(element, Tensor) or is_scalar(element)):
        raise TypeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a "
                        f"{type(element).__name__}")
    return bool(eq(self, element)._data.any())


def _install_methods():
    T = Tensor
    T.__eq__, T.__ne__ = _operator(eq), _operator(ne)
    T.__lt__, T.__le__, T.__gt__, T.__ge__ = _operator(lt), _operator(le), _operator(gt), _operator(ge)
    T.eq, T.ne, T.lt, T.le, T.gt, T.ge = eq, ne, lt, le, gt, ge
    T.__invert__ = T.bitwise_not = bitwise_not
    T.__and__ = T.bitwise_and = bitwise_and
    T.__or__ = T.bitwise_or = bitwise_or
    T.__xor__ = T.bitwise_xor = bitwise_xor
    T.__rand__ = lambda a, b: bitwise_and(b, a)
    T.__ror__ = lambda a, b: bitwise_or(b, a)
    T.__rxor__ = lambda a, b: bitwise_xor(b, a)
    T.logical_not, T.logical_and, T.logical_or, T.logical_xor = logical_not, logical_and, logical_or, logical_xor
    T.isnan, T.isfinite, T.isinf, T.isclose, T.allclose, T.equal = isnan, isfinite, isinf, isclose, allclose, equal
    T.where = lambda self, condition, other: where(condition, self, other)
    T.__contains__ = _contains
    _UFUNC_OPS.update({np.equal: eq, np.not_equal: ne, np.less: lt, np.less_equal: le, np.greater: gt,
                       np.greater_equal: ge, np.invert: bitwise_not, np.bitwise_and: bitwise_and,
                       np.bitwise_or: bitwise_or, np.bitwise_xor: bitwise_xor, np.isnan: isnan,
                       np.isfinite: isfinite, np.isinf: isinf})


_install_methods()
