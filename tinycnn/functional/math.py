"""Elementwise arithmetic (+ - * /), matrix products and ``linear`` (``**``, ``//`` and ``%`` are in power.py).

Each op is a ``Function`` with forward and backward side by side. Binary ops broadcast as NumPy does and reduce
each gradient back to its input's shape with ``unbroadcast`` (PITFALLS P12). Their operands are promoted to a
common dtype by PyTorch's rules first (``cast.py``): ``int64_tensor / 2`` is float32, ``uint8_tensor / 255.0``
float32, float32 + float64 tensors float64. ``matmul`` and ``linear`` keep PyTorch's rule of raising on mixed dtypes.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import _UFUNC_OPS, Function, Tensor, unbroadcast
from ._util import check_float, check_same_dtype, check_tensor
from .cast import as_operand, promote

__all__ = ["add", "sub", "mul", "div", "true_divide", "neg", "matmul", "mm", "linear"]


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
        # keep only what backward reads: a constant factor's partner is not needed (x * 0.5 saves 0.5 alone)
        self.shapes = a.shape, b.shape
        self.a = a if self.needs_input_grad[1] else None
        self.b = b if self.needs_input_grad[0] else None
        return a * b

    def backward(self, g):
        da = unbroadcast(g * self.b, self.shapes[0]) if self.needs_input_grad[0] else None
        db = unbroadcast(g * self.a, self.shapes[1]) if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        self.a = a if self.needs_input_grad[1] else None
        self.b = b if any(self.needs_input_grad) else None
        return a / b

    def backward(self, g):
        da = unbroadcast(g / self.b, self.shapes[0]) if self.needs_input_grad[0] else None
        db = unbroadcast(-g * self.a / (self.b * self.b), self.shapes[1]) if self.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


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


# ----- the functional API: argument checks, type promotion, then Function.apply -----

def binary_operands(name, a, b, floating=False):
    """``a`` and ``b`` (at least one a Tensor; the other may be a number, an array or a list) as Tensors of their
    promoted dtype, checked to broadcast. The common cases (two tensors of one dtype, a float tensor and a Python
    float) take a short path: this runs for every ``+`` and ``*``."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            da = a._data.dtype
            if da != b._data.dtype or (floating and da.kind != "f"):
                (a, b), _ = promote(name, a, b, floating=floating)
        elif type(b) is float and a._data.dtype.kind == "f":  # x * 0.5: a constant of x's dtype
            b = _constant(b, a)
        else:
            (a, b), _ = promote(name, a, as_operand(b, a, name), floating=floating)
    elif isinstance(b, Tensor):
        if type(a) is float and b._data.dtype.kind == "f":
            a = _constant(a, b)
        else:
            (a, b), _ = promote(name, as_operand(a, b, name), b, floating=floating)
    else:
        raise TypeError(f"{name}: at least one argument must be a Tensor, got {type(a).__name__}, {type(b).__name__}")
    sa, sb = a._data.shape, b._data.shape
    if sa != sb and sa and sb:
        try:
            np.broadcast_shapes(sa, sb)
        except ValueError:
            raise ValueError(f"{name}: a of shape {sa} and b of shape {sb} cannot be broadcast together") from None
    return a, b


def _constant(value: float, like: Tensor) -> Tensor:
    data = like._data
    xp = np if type(data) is np.ndarray else backend.get_array_module(data)
    return Tensor(xp.asarray(value, dtype=data.dtype))


def _scaled(name, b, alpha):
    if alpha == 1:
        return b
    if not isinstance(alpha, numbers.Number) or isinstance(alpha, complex):
        raise TypeError(f"{name}: alpha must be a number, got {type(alpha).__name__}")
    return mul(b, alpha) if isinstance(b, Tensor) else b * alpha


def add(a, b, *, alpha=1) -> Tensor:
    """Elementwise ``a + alpha * b`` with broadcasting and PyTorch's type promotion (``torch.add``). Either
    argument may be a Python number or an array.

    Raises TypeError when neither is a Tensor, ValueError when the shapes do not broadcast.
    """
    return Add.apply(*binary_operands("add", a, _scaled("add", b, alpha)))


def _is_bool(v) -> bool:
    return isinstance(v, (bool, np.bool_)) or (isinstance(v, Tensor) and v._data.dtype.kind == "b")


def sub(a, b, *, alpha=1) -> Tensor:
    """Elementwise ``a - alpha * b`` (``torch.sub``), as ``add``. Raises TypeError when either is bool, as PyTorch."""
    if _is_bool(a) or _is_bool(b):
        raise TypeError("sub: Subtraction, the `-` operator, with a bool tensor is not supported (as PyTorch); to "
                        "invert a mask, use ~ or logical_not()")
    return Sub.apply(*binary_operands("sub", a, _scaled("sub", b, alpha)))


def mul(a, b) -> Tensor:
    """Elementwise ``a * b`` (``torch.mul``), as ``add``."""
    return Mul.apply(*binary_operands("mul", a, b))


def div(a, b, *, rounding_mode=None) -> Tensor:
    """Elementwise ``a / b`` (``torch.div``): true division, so integers give float32; ``rounding_mode="floor"`` or
    ``"trunc"`` rounds the quotient (integers stay integers; the gradient is 0, as PyTorch's).

    Raises ValueError for another rounding_mode, ZeroDivisionError for an integer division by zero.
    """
    if rounding_mode is None:
        return Div.apply(*binary_operands("div", a, b, floating=True))
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    from .power import RoundedDiv  # noqa: PLC0415 - power.py builds on this module

    return RoundedDiv.apply(*binary_operands("div", a, b), mode=rounding_mode)


true_divide = div


def neg(x: Tensor) -> Tensor:
    """``-x``. Raises TypeError for a bool tensor, as PyTorch (use ``~`` or ``logical_not``)."""
    check_tensor("x", x, op="neg")
    if x.dtype.kind == "b":
        raise TypeError("neg: negation, the `-` operator, on a bool tensor is not supported; use ~ or logical_not")
    return Neg.apply(x)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product ``a @ b`` with NumPy's ``matmul`` rules (``torch.matmul``).

    Shapes: (..., n, k) @ (..., k, m) -> (..., n, m); 1-D operands are promoted and the added axis removed.

    Raises ValueError naming both shapes when the inner dimensions differ, TypeError for two dtypes (as PyTorch).
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


def mm(a: Tensor, b: Tensor) -> Tensor:
    """``torch.mm``: the product of two 2-D tensors. Raises ValueError for other shapes."""
    check_tensor("a", a, ndim=2, op="mm")
    check_tensor("b", b, ndim=2, op="mm")
    return matmul(a, b)


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


def _rmatmul(a, b):
    return matmul(as_operand(b, a, "matmul"), a)


def _ufunc_matmul(a, b):
    """``ndarray @ Tensor`` (NumPy's matmul ufunc meeting a Tensor): the array as a constant operand."""
    return matmul(a, as_operand(b, a, "matmul")) if isinstance(a, Tensor) else _rmatmul(b, a)


# Operators on Tensor. Installed here, not in tensor.py, so that the autograd core imports no op (house plan).
def _install_operators():
    T = Tensor
    T.__add__ = T.add = add
    T.__radd__ = lambda a, b: add(b, a)
    T.__sub__ = T.sub = sub
    T.__rsub__ = lambda a, b: sub(b, a)
    T.__mul__ = T.mul = mul
    T.__rmul__ = lambda a, b: mul(b, a)
    T.__truediv__ = T.div = T.divide = T.true_divide = div
    T.__rtruediv__ = lambda a, b: div(b, a)
    T.__neg__ = T.neg = T.negative = neg
    T.__pos__ = lambda a: a
    T.__matmul__ = T.matmul = matmul
    T.__rmatmul__ = _rmatmul
    T.mm = mm
    _UFUNC_OPS.update({np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div,
                       np.matmul: _ufunc_matmul, np.negative: neg})


_install_operators()
