"""Elementwise arithmetic, matrix products, reductions and ``linear``.

Each op is a ``Function`` with forward and backward side by side. Binary ops broadcast as NumPy does and reduce
each gradient back to its input's shape with ``unbroadcast`` (PITFALLS P12).
"""
from __future__ import annotations

import numbers

from .. import backend
from ..tensor import Function, Tensor, unbroadcast
from ._util import check_float, check_same_dtype, check_tensor, lift

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "matmul", "sum", "mean", "exp", "log", "linear"]


class Add(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


class Sub(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(-g, self.shapes[1])


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        da = unbroadcast(g * self.b, self.a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(g * self.a, self.b.shape) if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        da = unbroadcast(g / self.b, self.a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(-g * self.a / (self.b * self.b), self.b.shape) if self.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


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


class MatMul(Function):
    """``a @ b`` with NumPy's rules (1-D operands promoted, batch dimensions broadcast)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        xp = backend.get_array_module(g)
        a, b = self.a, self.b
        a2 = a if a.ndim > 1 else a[None, :]  # promote 1-D operands the way matmul did
        b2 = b if b.ndim > 1 else b[:, None]
        g2 = g
        if b.ndim == 1:  # first: for vector @ vector, g is 0-d and takes the -1 axis before the -2 one
            g2 = xp.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        da = db = None
        if self.needs_input_grad[0]:
            da = g2 @ xp.swapaxes(b2, -1, -2)
            da = unbroadcast(da[..., 0, :] if a.ndim == 1 else da, a.shape)
        if self.needs_input_grad[1]:
            db = xp.swapaxes(a2, -1, -2) @ g2
            db = unbroadcast(db[..., :, 0] if b.ndim == 1 else db, b.shape)
        return da, db


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    for a in axes:  # never wrap an axis modulo ndim: axis 2 of a 2-D tensor is an error, as in NumPy
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for x with {ndim} dimensions")
    return tuple(a % ndim for a in axes)


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axes = x.shape, _axes(axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        xp = backend.get_array_module(g)
        kept = xp.reshape(g, [1 if i in self.axes else n for i, n in enumerate(self.shape)])
        # a contiguous copy, not a read-only broadcast view: it may become a leaf's .grad
        return (xp.broadcast_to(kept, self.shape).copy(),)


class Mean(Sum):
    def forward(self, x, axis=None, keepdims=False):
        out = super().forward(x, axis, keepdims)
        self.count = 1
        for a in self.axes:
            self.count *= x.shape[a]
        return out / x.dtype.type(self.count)

    def backward(self, g):
        (dx,) = super().backward(g)
        dx /= dx.dtype.type(self.count)
        return (dx,)


class Exp(Function):
    def forward(self, x):
        self.out = backend.get_array_module(x).exp(x)
        return self.out

    def backward(self, g):
        return (g * self.out,)


class Log(Function):
    def forward(self, x):
        self.x = x
        return backend.get_array_module(x).log(x)

    def backward(self, g):
        return (g / self.x,)


class Linear(Function):
    """``y = x @ weight.T + bias`` with x (*, in_features), weight (out_features, in_features): ``torch.nn.functional.linear``."""

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        y = x @ weight.T
        if bias is not None:
            y += bias
        return y

    def backward(self, g):
        x, w = self.x, self.weight
        g2 = g.reshape(-1, g.shape[-1])  # (M, out): every leading axis is a batch axis
        dx = (g @ w) if self.needs_input_grad[0] else None
        dw = (g2.T @ x.reshape(-1, x.shape[-1])) if self.needs_input_grad[1] else None
        db = g2.sum(axis=0) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
        return dx, dw, db


# ----- the functional API: argument checks, then Function.apply -----

def _binary(fn, name, a, b):
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: at least one argument must be a Tensor, got {type(a).__name__}, {type(b).__name__}")
    a = lift(a, b) if not isinstance(a, Tensor) else a
    b = lift(b, a) if not isinstance(b, Tensor) else b
    check_same_dtype(name, a=a, b=b)
    try:
        if a.shape != b.shape:
            backend.np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{name}: a of shape {a.shape} and b of shape {b.shape} "
                         f"cannot be broadcast together") from None
    return fn.apply(a, b)


def add(a, b) -> Tensor:
    """Elementwise ``a + b`` with broadcasting (``torch.add``). Either argument may be a Python number.

    Raises TypeError when neither is a Tensor or their dtypes differ.
    """
    return _binary(Add, "add", a, b)


def sub(a, b) -> Tensor:
    """Elementwise ``a - b`` with broadcasting (``torch.sub``)."""
    return _binary(Sub, "sub", a, b)


def mul(a, b) -> Tensor:
    """Elementwise ``a * b`` with broadcasting (``torch.mul``)."""
    return _binary(Mul, "mul", a, b)


def div(a, b) -> Tensor:
    """Elementwise ``a / b`` with broadcasting (``torch.div``, true division)."""
    return _binary(Div, "div", a, b)


def neg(x: Tensor) -> Tensor:
    """``-x``."""
    return Neg.apply(check_tensor("x", x, op="neg"))


def pow(x: Tensor, exponent) -> Tensor:  # noqa: A001 - the field's name for it
    """``x ** exponent`` for a Tensor ``x`` and a real constant ``exponent`` (``torch.pow`` with a scalar).

    Raises TypeError when ``exponent`` is not a real number.
    """
    check_tensor("x", x, op="pow")
    if not isinstance(exponent, numbers.Real) or isinstance(exponent, bool):
        raise TypeError(f"pow: exponent must be a real number, got {type(exponent).__name__}")
    return Pow.apply(x, exponent=exponent)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product ``a @ b`` with NumPy's ``matmul`` rules (``torch.matmul``).

    Shapes: (..., n, k) @ (..., k, m) -> (..., n, m); 1-D operands are promoted and the added axis removed.

    Raises ValueError naming both shapes when the inner dimensions differ.
    """
    check_tensor("a", a, op="matmul")
    check_tensor("b", b, op="matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: a's last dim ({k_a}) must equal b's second-to-last ({k_b}); "
                         f"shapes {a.shape} and {b.shape}")
    check_same_dtype("matmul", a=a, b=b)
    return MatMul.apply(a, b)


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None for all), as ``numpy.sum``."""
    return Sum.apply(check_tensor("x", x, op="sum"), axis=axis, keepdims=keepdims)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (an int, a tuple, or None for all), as ``numpy.mean``."""
    return Mean.apply(check_tensor("x", x, op="mean"), axis=axis, keepdims=keepdims)


def exp(x: Tensor) -> Tensor:
    """Elementwise e**x."""
    return Exp.apply(check_tensor("x", x, op="exp"))


def log(x: Tensor) -> Tensor:
    """Elementwise natural logarithm (-inf at 0, NaN below 0, as NumPy)."""
    return Log.apply(check_tensor("x", x, op="log"))


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``x @ weight.T + bias`` (``torch.nn.functional.linear``).

    Shapes: x (*, in_features), weight (out_features, in_features), bias (out_features,) -> (*, out_features).

    Raises ValueError naming the argument and both shapes when they do not fit, TypeError for mixed dtypes.
    """
    check_tensor("x", x, op="linear")
    check_tensor("weight", weight, ndim=2, op="linear")
    check_float("x", x, op="linear")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: x must have shape (*, {weight.shape[1]}) for weight of shape {weight.shape}, "
                         f"got {x.shape}")
    if bias is not None:
        check_tensor("bias", bias, ndim=1, op="linear")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    check_same_dtype("linear", x=x, weight=weight, bias=bias)
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)


# Operators on Tensor. Installed here, not in tensor.py, so that the autograd core imports no op (house plan).
def _install_operators():
    T = Tensor
    T.__add__ = lambda a, b: add(a, b)
    T.__radd__ = lambda a, b: add(b, a)
    T.__sub__ = lambda a, b: sub(a, b)
    T.__rsub__ = lambda a, b: sub(b, a)
    T.__mul__ = lambda a, b: mul(a, b)
    T.__rmul__ = lambda a, b: mul(b, a)
    T.__truediv__ = lambda a, b: div(a, b)
    T.__rtruediv__ = lambda a, b: div(b, a)
    T.__neg__ = neg
    T.__pow__ = pow
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda a, b: matmul(lift(b, a), a)
    T.sum = sum
    T.mean = mean
    T.exp = exp
    T.log = log


_install_operators()
