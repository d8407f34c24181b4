"""Element-wise losses, with ``torch.nn.functional``'s semantics: ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``,
``huber_loss``, ``binary_cross_entropy`` and ``binary_cross_entropy_with_logits``.

Each is one ``Function`` whose backward gives the gradient with respect to the input and, when it requires grad,
the target. "mean" averages over every element (``mse_loss(weight=...)``: divides by the summed weights).
``mse_loss`` and ``l1_loss`` broadcast a target of another shape with PyTorch's warning (``model(x).flatten()``
against an (N, 1) target silently makes an (N, N) difference in both libraries); the binary losses require the
input's shape, as PyTorch does.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import backend
from ..tensor import Function, Tensor, unbroadcast
from ._util import check_float, check_tensor

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(losses, reduction, denominator=None):
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty input: nan, as PyTorch
        return total / (losses.dtype.type(losses.size) if denominator is None else denominator)


def _upstream(g, reduction, shape, dtype, denominator=None):
    """d(reduced loss)/d(per-element loss), broadcast to the elements' ``shape``."""
    if reduction == "none":
        return g
    n = 1
    for s in shape:
        n *= s
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = g / (dtype.type(n) if denominator is None else denominator) if reduction == "mean" else g
    return backend.get_array_module(g).broadcast_to(scale, shape)


class _Distance(Function):
    """(x - y)^2 (``squared``) or |x - y| per element, optionally weighted; x and y broadcast."""

    def forward(self, x, y, squared=True, reduction="mean", weight=None):
        xp = backend.get_array_module(x)
        self.d = x - y
        self.squared, self.reduction, self.weight = squared, reduction, weight
        losses = self.d * self.d if squared else xp.abs(self.d)
        self.denominator = None
        if weight is not None:
            losses = losses * weight
            self.denominator = weight.sum()
        return _reduce(losses, reduction, self.denominator)

    def backward(self, g):
        xp = backend.get_array_module(g)
        up = _upstream(g, self.reduction, self.d.shape, self.d.dtype, self.denominator)
        local = 2 * self.d if self.squared else xp.sign(self.d)  # |d|' = sign(d): 0 at 0, as PyTorch
        grad = up * local if self.weight is None else up * local * self.weight
        gx = unbroadcast(grad, self.input_shapes[0]) if self.needs_input_grad[0] else None
        gy = unbroadcast(-grad, self.input_shapes[1]) if self.needs_input_grad[1] else None
        return gx, gy


class _Robust(Function):
    """Huber's loss per element, d = x - y: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (``smooth_l1``);
    ``huber_loss`` is ``beta`` times it (beta = delta). Gradient d / beta inside, sign(d) outside (times beta)."""

    def forward(self, x, y, beta, scale, reduction="mean"):
        xp = backend.get_array_module(x)
        d = x - y
        a = xp.abs(d)
        self.inside = a < beta
        safe = beta if beta > 0 else 1.0  # beta = 0 is the L1 loss: no quadratic part
        losses = xp.where(self.inside, 0.5 * d * d / safe, a - 0.5 * beta) * x.dtype.type(scale)
        self.d, self.beta, self.scale, self.reduction = d, safe, scale, reduction
        return _reduce(losses.astype(x.dtype, copy=False), reduction)

    def backward(self, g):
        xp = backend.get_array_module(g)
        up = _upstream(g, self.reduction, self.d.shape, self.d.dtype)
        local = xp.where(self.inside, self.d / self.d.dtype.type(self.beta), xp.sign(self.d)) * self.scale
        grad = (up * local).astype(g.dtype, copy=False)
        gx = unbroadcast(grad, self.input_shapes[0]) if self.needs_input_grad[0] else None
        gy = unbroadcast(-grad, self.input_shapes[1]) if self.needs_input_grad[1] else None
        return gx, gy


class _BinaryCrossEntropy(Function):
    """-w (y log x + (1 - y) log(1 - x)), each log clamped at -100 (PyTorch's rule, so x = 0 gives 100, not inf)."""

    def forward(self, x, y, weight=None, reduction="mean"):
        xp = backend.get_array_module(x)
        with np.errstate(divide="ignore"):
            self.log_x = xp.maximum(xp.log(x), x.dtype.type(-100))
            self.log_1mx = xp.maximum(xp.log1p(-x), x.dtype.type(-100))
        self.x, self.y, self.weight, self.reduction = x, y, weight, reduction
        losses = -(y * self.log_x + (1 - y) * self.log_1mx)
        return _reduce(losses if weight is None else losses * weight, reduction)

    def backward(self, g):
        xp = backend.get_array_module(g)
        x, y = self.x, self.y
        up = _upstream(g, self.reduction, x.shape, x.dtype)
        if self.weight is not None:
            up = up * self.weight
        gx = gy = None
        if self.needs_input_grad[0]:  # PyTorch's (x - y) / max(x (1 - x), 1e-12)
            gx = up * (x - y) / xp.maximum((1 - x) * x, x.dtype.type(1e-12))
        if self.needs_input_grad[1]:
            gy = up * (self.log_1mx - self.log_x)
        return gx, gy


class _BinaryCrossEntropyWithLogits(Function):
    """w ((1 - y) x + c softplus(-x)) with c = 1 + (pos_weight - 1) y: -w (p y log s(x) + (1 - y) log(1 - s(x)))
    written without overflow."""

    def forward(self, x, y, weight=None, pos_weight=None, reduction="mean"):
        xp = backend.get_array_module(x)
        zero = x.dtype.type(0)
        self.softplus_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, zero)  # log(1 + exp(-x))
        self.c = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        self.x, self.y, self.weight, self.pos_weight, self.reduction = x, y, weight, pos_weight, reduction
        losses = (1 - y) * x + self.c * self.softplus_neg
        return _reduce(losses if weight is None else losses * weight, reduction)

    def backward(self, g):
        xp = backend.get_array_module(g)
        x, y = self.x, self.y
        up = _upstream(g, self.reduction, x.shape, x.dtype)
        if self.weight is not None:
            up = up * self.weight
        gx = gy = None
        if self.needs_input_grad[0]:
            sig_neg = (1 - xp.tanh(x * x.dtype.type(0.5))) * x.dtype.type(0.5)  # sigmoid(-x)
            gx = up * ((1 - y) - self.c * sig_neg)
        if self.needs_input_grad[1]:
            local = -x if self.pos_weight is None else -x + (self.pos_weight - 1) * self.softplus_neg
            gy = up * local
        return gx, gy


def _operands(op, x, target, reduction, same_shape):
    check_tensor("input", x, op=op)
    check_float("input", x, op=op)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not isinstance(target, Tensor):
        if not (isinstance(target, np.ndarray) or backend.is_cupy_array(target)):
            raise TypeError(f"{op}: target must be a Tensor or an array, got {type(target).__name__}")
        target = Tensor(backend.to_device(target, x.device))
    if target.dtype != x.dtype:
        raise TypeError(f"{op}: target must have the input's dtype {x.dtype}, got {target.dtype}; tinycnn does not "
                        f"promote a loss's operands (PyTorch does for some losses, not all): cast one of them, e.g. "
                        f"target.float()")
    if target.shape != x.shape:
        if same_shape:
            raise ValueError(f"{op}: Target size ({target.shape}) must be the same as input size ({x.shape})")
        try:
            np.broadcast_shapes(x.shape, target.shape)
        except ValueError:
            raise ValueError(f"{op}: target of shape {target.shape} does not broadcast with input of shape "
                             f"{x.shape}") from None
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({x.shape}). This "
                      f"will likely lead to incorrect results due to broadcasting. Please ensure they have the same "
                      f"size.", UserWarning, stacklevel=3)
    return target


def _weight_array(op, name, weight, x, shape):
    """``weight`` as an array on ``x``'s device that broadcasts to ``shape``; None stays None."""
    if weight is None:
        return None
    check_tensor(name, weight, op=op)
    try:
        fits = np.broadcast_shapes(shape, weight.shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: {name} of shape {weight.shape} does not broadcast to the input's shape {shape}")
    if weight.requires_grad:
        raise NotImplementedError(f"{op}: a {name} that requires grad is not supported; pass {name}.detach()")
    return backend.to_device(weight.data, x.device).astype(x.dtype, copy=False)


def _legacy(op, size_average, reduce):
    if size_average is not None or reduce is not None:
        raise NotImplementedError(f"{op}: size_average and reduce (deprecated in PyTorch) are not supported; use "
                                  f"reduction='mean' | 'sum' | 'none'")


def mse_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Mean squared error (``torch.nn.functional.mse_loss``): mean of (input - target)^2 over all elements.

    Any shapes that broadcast (a different target shape warns, as in PyTorch); same floating dtype. ``weight``
    (the input's shape) multiplies each squared error and "mean" then divides by its sum. Raises TypeError for
    mismatched dtypes, ValueError for shapes that do not broadcast or an unknown reduction.
    """
    _legacy("mse_loss", size_average, reduce)
    target = _operands("mse_loss", input, target, reduction, same_shape=False)
    w = None
    if weight is not None:
        if weight.shape != input.shape:
            raise ValueError(f"mse_loss: Weights and input must have the same size, got {weight.shape} and "
                             f"{input.shape}")
        w = _weight_array("mse_loss", "weight", weight, input, np.broadcast_shapes(input.shape, target.shape))
    return _Distance.apply(input, target, squared=True, reduction=reduction, weight=w)


def l1_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Mean absolute error (``torch.nn.functional.l1_loss``); the gradient of |d| at d = 0 is 0. Shapes, dtypes
    and errors as ``mse_loss``."""
    _legacy("l1_loss", size_average, reduce)
    target = _operands("l1_loss", input, target, reduction, same_shape=False)
    w = None
    if weight is not None:
        if weight.shape != input.shape:
            raise ValueError(f"l1_loss: Weights and input must have the same size, got {weight.shape} and "
                             f"{input.shape}")
        w = _weight_array("l1_loss", "weight", weight, input, input.shape)
    return _Distance.apply(input, target, squared=False, reduction=reduction, weight=w)


def _nonnegative(op, name, value):
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{op}: {name} must be a number >= 0, got {value!r}")
    return float(value)


def smooth_l1_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Smooth L1 loss (``torch.nn.functional.smooth_l1_loss``; Girshick 2015): 0.5 d^2 / beta where |d| < beta,
    |d| - 0.5 beta elsewhere (beta = 0: the L1 loss). Shapes, dtypes and errors as ``mse_loss``; ValueError for a
    negative beta."""
    _legacy("smooth_l1_loss", size_average, reduce)
    target = _operands("smooth_l1_loss", input, target, reduction, same_shape=False)
    beta = _nonnegative("smooth_l1_loss", "beta", beta)
    return _Robust.apply(input, target, beta=beta, scale=1.0, reduction=reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> Tensor:
    """Huber loss (``torch.nn.functional.huber_loss``): 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta)
    elsewhere, i.e. delta times ``smooth_l1_loss`` with beta = delta. ValueError unless delta > 0;
    NotImplementedError for ``weight``."""
    if weight is not None:
        raise NotImplementedError("huber_loss: weight= is not supported by tinycnn")
    target = _operands("huber_loss", input, target, reduction, same_shape=False)
    delta = _nonnegative("huber_loss", "delta", delta)
    if delta == 0:
        raise ValueError("huber_loss: delta must be > 0, got 0")
    return _Robust.apply(input, target, beta=delta, scale=delta, reduction=reduction)


def binary_cross_entropy(input: Tensor, target, weight: Tensor | None = None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy between probabilities ``input`` in [0, 1] and ``target`` of the same shape
    (``torch.nn.functional.binary_cross_entropy``); logs clamped at -100 as PyTorch. ``weight`` broadcasts to
    the input. Raises ValueError for a different target shape or an input value outside [0, 1] (a sigmoid
    forgotten: use ``binary_cross_entropy_with_logits``), TypeError for mismatched dtypes."""
    _legacy("binary_cross_entropy", size_average, reduce)
    target = _operands("binary_cross_entropy", input, target, reduction, same_shape=True)
    x = input.data
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1 (got logits? use "
                         "binary_cross_entropy_with_logits)")
    w = _weight_array("binary_cross_entropy", "weight", weight, input, input.shape)
    return _BinaryCrossEntropy.apply(input, target, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid and binary cross-entropy fused, stable for any logit (``torch.nn.functional.
    binary_cross_entropy_with_logits``). ``pos_weight`` (broadcast along the last dim, one per class) weighs the
    positive term; ``weight`` broadcasts to the input. Raises ValueError for a different target shape."""
    _legacy("binary_cross_entropy_with_logits", size_average, reduce)
    op = "binary_cross_entropy_with_logits"
    target = _operands(op, input, target, reduction, same_shape=True)
    w = _weight_array(op, "weight", weight, input, input.shape)
    pw = _weight_array(op, "pos_weight", pos_weight, input, input.shape)
    return _BinaryCrossEntropyWithLogits.apply(input, target, weight=w, pos_weight=pw, reduction=reduction)
