"""Activations and (log-)softmax.

ReLU's derivative at 0 is taken as 0, as PyTorch does (PITFALLS P13). Softmax and log-softmax subtract the row
maximum first, so logits of 1e4 neither overflow nor underflow (P07).
"""
from __future__ import annotations

from .. import backend
from ..tensor import Function, Tensor
from ._util import check_float, check_tensor, product_is_exact

__all__ = ["relu", "tanh", "sigmoid", "softmax", "log_softmax", "scaled_tanh"]


class ReLU(Function):
    def forward(self, x):
        # saves the output, not a mask: the next layer holds the output anyway, so ReLU keeps no memory of its own
        self.out = backend.get_array_module(x).maximum(x, x.dtype.type(0))  # not x * (x > 0): -inf * 0 is NaN
        return self.out

    def backward(self, g):
        active = self.out > 0  # strict: relu'(0) = 0, and out > 0 exactly where x > 0
        if product_is_exact(g):
            return (g * active,)
        return (backend.get_array_module(g).where(active, g, g.dtype.type(0)),)


class Tanh(Function):
    def forward(self, x):
        self.out = backend.get_array_module(x).tanh(x)
        return self.out

    def backward(self, g):
        return (g * (1 - self.out * self.out),)


class ScaledTanh(Function):
    """LeCun's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (LeNet-5 paper, appendix A)."""

    def forward(self, x, amplitude, slope):
        self.t = backend.get_array_module(x).tanh(x * x.dtype.type(slope))
        self.scale = x.dtype.type(amplitude * slope)
        return self.t * x.dtype.type(amplitude)

    def backward(self, g):
        return (g * self.scale * (1 - self.t * self.t),)


class Sigmoid(Function):
    def forward(self, x):
        xp = backend.get_array_module(x)
        # tanh form: equal to 1/(1+exp(-x)) but never overflows for large |x|
        self.out = (xp.tanh(x * x.dtype.type(0.5)) + 1) * x.dtype.type(0.5)
        return self.out

    def backward(self, g):
        return (g * self.out * (1 - self.out),)


def _log_softmax(x, axis):
    xp = backend.get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    def forward(self, x, axis):
        self.axis = axis
        self.out = backend.get_array_module(x).exp(_log_softmax(x, axis))
        return self.out

    def backward(self, g):
        y = self.out
        return (y * (g - (g * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    def forward(self, x, axis):
        self.axis = axis
        out = _log_softmax(x, axis)
        self.softmax = backend.get_array_module(x).exp(out)
        return out

    def backward(self, g):
        return (g - self.softmax * g.sum(axis=self.axis, keepdims=True),)


def _unary(cls, name, x, **params):
    check_tensor("x", x, op=name)
    check_float("x", x, op=name)
    return cls.apply(x, **params)


def relu(x: Tensor) -> Tensor:
    """max(x, 0) elementwise (``torch.relu``); the gradient at exactly 0 is 0. Any shape, floating dtype."""
    return _unary(ReLU, "relu", x)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise (``torch.tanh``). Any shape, floating dtype."""
    return _unary(Tanh, "tanh", x)


def scaled_tanh(x: Tensor, amplitude: float = 1.7159, slope: float = 2 / 3) -> Tensor:
    """LeCun's squashing function ``amplitude * tanh(slope * x)`` (LeCun et al. 1998, Sec. II.B and appendix A)."""
    return _unary(ScaledTanh, "scaled_tanh", x, amplitude=amplitude, slope=slope)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) elementwise (``torch.sigmoid``), computed without overflow. Any shape, floating dtype."""
    return _unary(Sigmoid, "sigmoid", x)


def _check_axis(name, x, axis):
    check_tensor("x", x, op=name)
    check_float("x", x, op=name)
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for x of shape {x.shape}")
    return axis % x.ndim


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis`` (``torch.softmax`` with ``dim=axis``), shifted by the maximum first.

    softmax([1000, 1001]) = [0.268941, 0.731059] (PITFALLS P07). Raises ValueError for an axis out of range.
    """
    return Softmax.apply(x, axis=_check_axis("softmax", x, axis))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) along ``axis`` computed as x - max - log(sum(exp(x - max))) (``torch.log_softmax``)."""
    return LogSoftmax.apply(x, axis=_check_axis("log_softmax", x, axis))


def _install_methods():
    Tensor.relu = relu
    Tensor.tanh = tanh
    Tensor.sigmoid = sigmoid


_install_methods()
