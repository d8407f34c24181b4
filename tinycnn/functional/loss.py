"""Classification losses and ``one_hot``, with ``torch.nn.functional``'s exact semantics.

``cross_entropy`` fuses log-softmax and the negative log-likelihood: it never computes log(softmax(x)) in two
steps, so logits of 1e4 give a finite loss and gradient (PITFALLS P08). Both it and ``nll_loss`` take PyTorch's
shapes: (N, C) with targets (N,), (N, C, d1, ..., dk) with targets (N, d1, ..., dk) (a loss per pixel), or an
unbatched (C,) with a 0-d target. Per target position i with class y_i (w = ``weight``, 1 when None):

    loss_i = -w[y_i] log p_i[y_i]                          (0 where y_i == ignore_index)
    "mean" = sum_i loss_i / sum_i w[y_i]                   (over the non-ignored i: a WEIGHTED mean)

``label_smoothing`` eps mixes the one-hot target with the uniform distribution, as PyTorch's:
loss_i = (1 - eps) loss_i + eps / C * sum_c -w[c] log p_i[c], with the same mean's denominator. A float target of
the input's shape holds class probabilities (soft labels); its "mean" divides by the number of positions, not by
the weights (PyTorch's rule).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Function, Tensor, is_grad_enabled
from ._util import check_float, check_tensor
from .activation import _log_softmax

__all__ = ["cross_entropy", "nll_loss", "one_hot"]

_REDUCTIONS = ("mean", "sum", "none")


def _to_rows(x):
    """(N, C, d1..dk) -> (N*d1*..dk, C): the class axis last, one row per position; (C,) -> (1, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    xp = backend.get_array_module(x)
    return xp.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _from_rows(rows, shape):
    """Inverse of ``_to_rows`` for an array of the input's ``shape``."""
    if len(shape) <= 2:
        return rows.reshape(shape)
    xp = backend.get_array_module(rows)
    moved = rows.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return xp.moveaxis(moved, -1, 1)


def _reduce(losses, total, reduction, dtype):
    """Sum, weighted mean (sum / ``total``) or the per-position losses, in ``dtype``."""
    if reduction == "none":
        return losses.astype(dtype, copy=False)
    s = losses.sum()
    with np.errstate(invalid="ignore", divide="ignore"):  # every target ignored: 0 / 0 = nan, as PyTorch
        return (s if reduction == "sum" else s / total).astype(dtype, copy=False)


class _ClassLoss(Function):
    """Cross-entropy (``from_logits``) or NLL on rows: loss_i = -sum_c coef_ic logp_ic with, for class indices,
    coef_ic = (1 - eps) w_i [c == y_i] + eps / C w_c valid_i, or, for probabilities q, coef_ic = w_c q_ic.

    The gradient with respect to the logits is softmax_i sum_c coef_ic - coef_i (row i), with respect to the
    log-probabilities -coef_i, and with respect to probabilities q: -w_c logp_ic (scaled by 1 - eps).
    """

    def forward(self, x, *probs, target=None, weight=None, ignore_index=-100, reduction="mean", eps=0.0,
                from_logits=True):
        xp = backend.get_array_module(x)
        self.shape, self.reduction, self.from_logits = x.shape, reduction, from_logits
        rows = _to_rows(x)
        m, c = rows.shape
        logp = _log_softmax(rows, axis=1) if from_logits else rows
        w_c = None if weight is None else weight.astype(x.dtype, copy=False)
        if probs:  # class probabilities of the input's shape
            q = _to_rows(probs[0]).astype(x.dtype, copy=False)
            if eps:
                q = q * (1 - eps) + eps / c
            coef = q if w_c is None else q * w_c
            total = x.dtype.type(m)
            self.target_scale = (1 - eps) if eps else 1.0
            self.logp_w = logp if w_c is None else logp * w_c
            losses = -(coef * logp).sum(axis=1)
        else:
            t = target.reshape(-1)
            valid = t != ignore_index
            safe = xp.where(valid, t, 0)
            rows_i = xp.arange(m)
            w_i = valid.astype(x.dtype) if w_c is None else w_c[safe] * valid
            # the picked entry alone, not sum_c coef_c logp_c: a -inf logit elsewhere must not give 0 * -inf
            losses = -(logp[rows_i, safe] * (w_i * (1 - eps)))
            self.picked = (rows_i, safe, w_i)
            coef = None  # without smoothing the coefficients are the picked entries alone (the common case)
            if eps:
                coef = xp.zeros((m, c), dtype=x.dtype)
                coef[rows_i, safe] = w_i * (1 - eps)
                weighted = logp if w_c is None else logp * w_c
                losses -= (eps / c) * xp.where(valid, weighted.sum(axis=1), 0)  # ignored rows: 0, as PyTorch
                coef += (eps / c) * (valid[:, None] * (1 if w_c is None else w_c[None, :]))
            total = w_i.sum()
        losses = losses.reshape(() if x.ndim == 1 else x.shape[:1] + x.shape[2:])  # one per position
        self.coef, self.total = coef, total
        self.softmax = xp.exp(logp) if from_logits else None
        self.rows_shape = (m, c)
        return _reduce(losses, total, reduction, x.dtype)

    def backward(self, g):
        coef = self.coef
        if self.reduction == "none":
            scale = g.reshape(-1, 1)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = g / self.total if self.reduction == "mean" else g
        grads = [None] * len(self.needs_input_grad)
        if self.needs_input_grad[0]:
            if coef is None:  # softmax_i w_i - w_i onehot(y_i), or -w_i onehot(y_i) for log-probabilities
                rows_i, safe, w_i = self.picked
                if self.from_logits:
                    grad = self.softmax * w_i[:, None]
                else:
                    grad = backend.get_array_module(w_i).zeros(self.rows_shape, dtype=w_i.dtype)
                grad[rows_i, safe] -= w_i
            elif self.from_logits:
                grad = self.softmax * coef.sum(axis=1, keepdims=True) - coef
            else:
                grad = -coef
            grad *= scale
            grads[0] = _from_rows(grad, self.shape)
        if len(grads) > 1 and self.needs_input_grad[1]:
            grads[1] = _from_rows(-self.logp_w * (self.target_scale * scale), self.shape)
        return tuple(grads)


def _check_common(op, name, x, weight, ignore_index, reduction):
    check_tensor(name, x, op=op)
    check_float(name, x, op=op)
    if x.ndim == 0:
        raise ValueError(f"{op}: {name} must have at least 1 dim (C,) or (N, C, ...), got shape ()")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not isinstance(ignore_index, numbers.Integral) or isinstance(ignore_index, bool):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    if weight is None:
        return None
    check_tensor("weight", weight, op=op)
    if weight.shape != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},), one per class of {name} {x.shape}, got {weight.shape}")
    if weight.requires_grad and is_grad_enabled():
        raise NotImplementedError(f"{op}: a weight that requires grad is not supported (no gradient is computed "
                                  f"for it); pass weight.detach()")
    return backend.to_device(weight.data, backend.device_of(x.data))


def _class_target(op, name, x, target, ignore_index):
    """The integer class-index array for ``x``: shape (N, d1..dk) ((), for an unbatched (C,)), values in [0, C)
    or ``ignore_index``. Raises TypeError for non-integers, ValueError naming the first bad position."""
    xp = backend.get_array_module(x.data)
    t = xp.asarray(target.data if isinstance(target, Tensor) else target)
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    want = () if x.ndim == 1 else x.shape[:1] + x.shape[2:]
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {t.dtype} (class probabilities "
                        f"must be a float tensor of {name}'s shape {x.shape})")
    if t.shape != want:
        raise ValueError(f"{op}: target must have shape {want} to match {name} {x.shape}, got {t.shape}")
    bad = ((t < 0) | (t >= c)) & (t != ignore_index)
    if t.size and bool(bad.any()):  # one host sync; a wrong label would otherwise index silently out of range
        i = int(xp.argmax(bad.reshape(-1)))
        where = np.unravel_index(i, t.shape) if t.ndim else ()
        value = int(t.reshape(-1)[i])
        index = ", ".join(str(int(k)) for k in where)
        raise ValueError(f"{op}: target[{index}] = {value} is outside [0, {c}) for {name} with {c} classes "
                         f"(and is not ignore_index={ignore_index})")
    return t


def cross_entropy(logits: Tensor, target, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy between ``logits`` and ``target`` (``torch.nn.functional.cross_entropy``).

    Args:
        logits: (N, C), (N, C, d1, ..., dk) or unbatched (C,) unnormalized scores, floating point.
        target: integer class indices of shape (N,), (N, d1, ..., dk) or () (a Tensor, array or list); or class
            probabilities: a float Tensor of ``logits``' shape (its gradient is computed when it requires grad).
        weight: optional (C,) Tensor, a rescaling weight per class (the mean divides by the summed weights of the
            non-ignored targets).
        ignore_index: targets equal to it contribute nothing (not to the mean's denominator either); class
            indices only.
        reduction: "mean" (default), "sum" or "none" (the per-position losses, of the target's shape).
        label_smoothing: eps in [0, 1], mixing the target with the uniform distribution (Szegedy et al. 2016).
        size_average, reduce: PyTorch's deprecated arguments; must be None.

    Raises:
        ValueError: a target of the wrong shape, a class index outside [0, C) that is not ignore_index (the first
            one is named), an unknown reduction, label_smoothing outside [0, 1], a weight not of shape (C,).
        TypeError: non-floating logits, a target that is neither integer indices nor a float tensor of
            ``logits``' shape.
        NotImplementedError: size_average/reduce given, a weight that requires grad, ignore_index >= 0 with
            probability targets (PyTorch rejects it too).
    """
    return _class_loss("cross_entropy", "logits", logits, target, weight, size_average, ignore_index, reduce,
                       reduction, label_smoothing, True)


def nll_loss(log_probs: Tensor, target, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` under ``log_probs`` (``torch.nn.functional.nll_loss``):
    loss_i = -weight[y_i] log_probs[i, y_i]; shapes, ``weight``, ``ignore_index``, ``reduction`` and errors as
    ``cross_entropy`` (class indices only)."""
    return _class_loss("nll_loss", "log_probs", log_probs, target, weight, size_average, ignore_index, reduce,
                       reduction, 0.0, False)


def _class_loss(op, name, x, target, weight, size_average, ignore_index, reduce, reduction, eps, from_logits):
    if size_average is not None or reduce is not None:
        raise NotImplementedError(f"{op}: size_average and reduce (deprecated in PyTorch) are not supported; use "
                                  f"reduction='mean' | 'sum' | 'none'")
    w = _check_common(op, name, x, weight, ignore_index, reduction)
    if not isinstance(eps, numbers.Real) or not 0.0 <= eps <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {eps!r}")
    params = dict(weight=w, ignore_index=int(ignore_index), reduction=reduction, eps=float(eps),
                  from_logits=from_logits)
    if from_logits and not isinstance(target, Tensor) and getattr(target, "dtype", None) is not None \
            and target.dtype.kind == "f" and tuple(target.shape) == x.shape:
        target = Tensor(target)  # class probabilities given as an array
    if from_logits and isinstance(target, Tensor) and target.dtype.kind == "f" and target.shape == x.shape:
        if ignore_index >= 0:
            raise NotImplementedError(f"{op}: ignore_index is not supported for floating point target")
        if x.data.size == 0:
            raise ValueError(f"{op}: logits are empty (shape {x.shape})")
        return _ClassLoss.apply(x, target, **params)
    t = _class_target(op, name, x, target, ignore_index)
    return _ClassLoss.apply(x, target=t, **params)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding (``torch.nn.functional.one_hot``): shape (*, num_classes), 1 at each value.

    ``num_classes=-1`` takes the largest value + 1. Raises TypeError for a non-integer input, ValueError for a
    negative value, a value >= num_classes, or an empty input without num_classes.
    """
    check_tensor("tensor", tensor, op="one_hot")
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: tensor must hold integer class indices, got dtype {tensor.dtype}")
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or a non-negative int, got {num_classes!r}")
    xp = backend.get_array_module(tensor.data)
    t = tensor.data
    if t.size == 0 and num_classes == -1:
        raise ValueError("one_hot: Can not infer total number of classes from empty tensor.")
    if t.size and int(t.min()) < 0:
        raise ValueError(f"one_hot: Class values must be non-negative, got {int(t.min())}")
    if num_classes == -1:
        num_classes = int(t.max()) + 1
    elif t.size and int(t.max()) >= num_classes:
        raise ValueError(f"one_hot: Class values must be smaller than num_classes ({num_classes}), got "
                         f"{int(t.max())}")
    out = (t[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return Tensor(out)
