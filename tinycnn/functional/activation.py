"""Activations and (log-)softmax, as ``torch.nn.functional``.

ReLU's derivative at 0 is taken as 0, as PyTorch does (PITFALLS P13); leaky ReLU's and ELU's use the negative
side's slope at 0, as PyTorch's do. Softmax and log-softmax subtract the row maximum first, so logits of 1e4
neither overflow nor underflow (P07).

``inplace=True`` (PyTorch's ``nn.ReLU(inplace=True)``): outside a recorded graph (``no_grad``, or an input that
does not require grad) the result is written into the input's array and the input returned, as PyTorch does.
Inside a graph the result is a new tensor and the input keeps its values (tinycnn has no version counter to tell
when overwriting an input would corrupt a saved gradient); ``y = relu(x, inplace=True)`` gives PyTorch's ``y``.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..tensor import Function, Tensor, is_grad_enabled
from ._util import check_float, check_tensor, product_is_exact

__all__ = ["relu", "tanh", "sigmoid", "softmax", "log_softmax", "scaled_tanh", "leaky_relu", "elu", "silu", "gelu"]


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


class LeakyReLU(Function):
    def forward(self, x, negative_slope):
        self.positive = x > 0  # PyTorch: the slope at exactly 0 is the negative side's
        self.slope = x.dtype.type(negative_slope)
        return backend.get_array_module(x).where(self.positive, x, x * self.slope)

    def backward(self, g):
        return (backend.get_array_module(g).where(self.positive, g, g * self.slope),)


class ELU(Function):
    """alpha (exp(x) - 1) for x <= 0, x above (Clevert et al. 2016); the derivative alpha exp(x) = out + alpha."""

    def forward(self, x, alpha):
        xp = backend.get_array_module(x)
        self.positive = x > 0
        self.alpha = x.dtype.type(alpha)
        # expm1 of min(x, 0): exact near 0, and no overflow warning from the positive side that where discards
        self.out = xp.where(self.positive, x, self.alpha * xp.expm1(xp.minimum(x, 0)))
        return self.out

    def backward(self, g):
        return (backend.get_array_module(g).where(self.positive, g, g * (self.out + self.alpha)),)


class SiLU(Function):
    """x sigmoid(x) (Elfwing et al. 2018; "swish"); the derivative s (1 + x (1 - s))."""

    def forward(self, x):
        xp = backend.get_array_module(x)
        half = x.dtype.type(0.5)
        self.x, self.s = x, (xp.tanh(x * half) + 1) * half  # sigmoid in its overflow-free tanh form
        return x * self.s

    def backward(self, g):
        s = self.s
        return (g * s * (1 + self.x * (1 - s)),)


class GELU(Function):
    """x Phi(x) with Phi the standard normal CDF (Hendrycks & Gimpel 2016), exactly (erf) or by PyTorch's
    ``approximate='tanh'``: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    def forward(self, x, approximate):
        xp = backend.get_array_module(x)
        self.x, self.approximate = x, approximate
        dt = x.dtype.type
        if approximate == "tanh":
            self.t = xp.tanh(dt(math.sqrt(2 / math.pi)) * (x + dt(0.044715) * x * x * x))
            return dt(0.5) * x * (1 + self.t)
        self.cdf = dt(0.5) * (1 + _erf(x * dt(1 / math.sqrt(2))))
        return x * self.cdf

    def backward(self, g):
        xp = backend.get_array_module(g)
        x = self.x
        dt = x.dtype.type
        if self.approximate == "tanh":
            t = self.t
            inner = dt(math.sqrt(2 / math.pi)) * (1 + dt(3 * 0.044715) * x * x)
            return (g * (dt(0.5) * (1 + t) + dt(0.5) * x * (1 - t * t) * inner),)
        with np.errstate(under="ignore"):
            pdf = xp.exp(dt(-0.5) * x * x) * dt(1 / math.sqrt(2 * math.pi))
        return (g * (self.cdf + x * pdf),)


# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969), 631-638:
# near-minimax rational functions, accurate to double precision, on |x| <= 0.46875, (0.46875, 4] and (4, inf).
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
          1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
          8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
          2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
          3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
          6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
          2.33520497626869185e-3)


def _erf(x):
    """The error function elementwise (NumPy has none; CuPy's lives in cupyx), by Cody's approximations."""
    xp = backend.get_array_module(x)
    y = xp.abs(x)
    xs = xp.clip(x, -0.46875, 0.46875)  # each branch on its own range: no inf / inf where it is not used
    ysq = xs * xs
    num, den = _ERF_A[4] * ysq, ysq
    for a, b in zip(_ERF_A[:3], _ERF_B[:3]):
        num, den = (num + a) * ysq, (den + b) * ysq
    small = xs * (num + _ERF_A[3]) / (den + _ERF_B[3])
    # erfc(y) = exp(-y^2) R(y) above 0.46875; y capped at 27, where erfc is 0 in double precision
    y = xp.minimum(xp.maximum(y, 0.46875), 27.0)
    num, den = _ERF_C[8] * y, y
    for c, d in zip(_ERF_C[:7], _ERF_D[:7]):
        num, den = (num + c) * y, (den + d) * y
    mid = (num + _ERF_C[7]) / (den + _ERF_D[7])
    z = 1 / (xp.maximum(y, 4.0) ** 2)
    num, den = _ERF_P[5] * z, z
    for p, q in zip(_ERF_P[:4], _ERF_Q[:4]):
        num, den = (num + p) * z, (den + q) * z
    tail = (0.56418958354775628695 - z * (num + _ERF_P[4]) / (den + _ERF_Q[4])) / xp.maximum(y, 4.0)
    r = xp.where(y <= 4.0, mid, tail)
    t = xp.trunc(y * 16) / 16  # exp(-y^2) as exp(-t^2) exp(-(y - t)(y + t)): no rounding error in y^2
    with np.errstate(under="ignore"):  # erfc(y) underflows to 0 for large y, correctly
        erfc = xp.exp(-t * t) * xp.exp(-(y - t) * (y + t)) * r
    big = (0.5 - erfc) + 0.5
    big = xp.where(x < 0, -big, big)
    return xp.where(xp.abs(x) <= 0.46875, small, big).astype(x.dtype, copy=False)


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


def _inplace(name, x, out, inplace):
    """PyTorch's ``inplace=True`` where no graph is recorded: the result goes into ``x``'s array (see module doc)."""
    if not isinstance(inplace, bool):
        raise TypeError(f"{name}: inplace must be a bool, got {inplace!r}")
    if inplace and not (is_grad_enabled() and x.requires_grad):
        x.data[...] = out.data
        return x
    return out


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise (``torch.nn.functional.relu``); the gradient at exactly 0 is 0. Any shape, floating
    dtype. ``inplace``: see the module docstring."""
    return _inplace("relu", x, _unary(ReLU, "relu", x), inplace)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise (``torch.tanh``). Any shape, floating dtype."""
    return _unary(Tanh, "tanh", x)


def scaled_tanh(x: Tensor, amplitude: float = 1.7159, slope: float = 2 / 3) -> Tensor:
    """LeCun's squashing function ``amplitude * tanh(slope * x)`` (LeCun et al. 1998, Sec. II.B and appendix A)."""
    return _unary(ScaledTanh, "scaled_tanh", x, amplitude=amplitude, slope=slope)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) elementwise (``torch.sigmoid``), computed without overflow. Any shape, floating dtype."""
    return _unary(Sigmoid, "sigmoid", x)


def _number(op, name, value):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, ``negative_slope * x`` otherwise (``torch.nn.functional.leaky_relu``; Maas et al. 2013).
    Any shape, floating dtype. Raises TypeError for a non-number slope."""
    slope = _number("leaky_relu", "negative_slope", negative_slope)
    return _inplace("leaky_relu", x, _unary(LeakyReLU, "leaky_relu", x, negative_slope=slope), inplace)


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise (``torch.nn.functional.elu``; Clevert et al. 2016)."""
    a = _number("elu", "alpha", alpha)
    return _inplace("elu", x, _unary(ELU, "elu", x, alpha=a), inplace)


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (``torch.nn.functional.silu``, "swish"). Any shape, floating dtype."""
    return _inplace("silu", x, _unary(SiLU, "silu", x), inplace)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF (``torch.nn.functional.gelu``; Hendrycks & Gimpel 2016).

    ``approximate``: "none" (the exact erf form) or "tanh" (0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))).
    Raises ValueError for another value.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _unary(GELU, "gelu", x, approximate=approximate)


def _softmax_dim(name, x, dim, axis, dtype, stacklevel):
    check_tensor("x", x, op=name)
    check_float("x", x, op=name)
    if dim is not None and axis is not None and dim != axis:
        raise TypeError(f"{name}: got dim={dim} and axis={axis}; give one")
    if dim is None:
        dim = axis
    if dim is None:  # PyTorch's implicit choice, deprecated there with this warning
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                      f"dim=X as an argument.", UserWarning, stacklevel=stacklevel)
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if dtype is not None and np.dtype(dtype) != x.dtype:
        raise NotImplementedError(f"{name}: dtype={dtype} is not supported; cast the input first")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    ndim = max(x.ndim, 1)
    if not -ndim <= dim < ndim:
        raise IndexError(f"{name}: Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but "
                         f"got {dim}) for x of shape {x.shape}")
    return dim % ndim


def _as_1d(x):
    return x.reshape(1) if x.ndim == 0 else x


def softmax(x: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None, *, axis: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (``torch.nn.functional.softmax``), shifted by the maximum first.

    ``axis=`` is NumPy's alias of ``dim``. Without either, PyTorch's deprecated implicit choice (dim 0 for 0-,
    1- and 3-D inputs, else 1) with PyTorch's warning. softmax([1000, 1001]) = [0.268941, 0.731059] (PITFALLS
    P07). Raises IndexError for a dim out of range, NotImplementedError for a ``dtype`` other than the input's.
    """
    d = _softmax_dim("softmax", x, dim, axis, dtype, _stacklevel)
    out = Softmax.apply(_as_1d(x), axis=d)
    return out.reshape(()) if x.ndim == 0 else out


def log_softmax(x: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None, *,
                axis: int | None = None) -> Tensor:
    """log(softmax(x)) along ``dim`` computed as x - max - log(sum(exp(x - max))) (``torch.nn.functional.
    log_softmax``); arguments and errors as ``softmax``."""
    d = _softmax_dim("log_softmax", x, dim, axis, dtype, _stacklevel)
    out = LogSoftmax.apply(_as_1d(x), axis=d)
    return out.reshape(()) if x.ndim == 0 else out


def _install_methods():
    Tensor.relu = relu
    Tensor.tanh = tanh
    Tensor.sigmoid = sigmoid
    if not hasattr(Tensor, "softmax"):  # the Tensor file may define its own
        Tensor.softmax = lambda self, dim=None, dtype=None: softmax(self, dim, 4, dtype)
        Tensor.log_softmax = lambda self, dim=None, dtype=None: log_softmax(self, dim, 4, dtype)


_install_methods()
