"""Losses: cross-entropy on logits (softmax and negative log-likelihood fused for stability)."""
from __future__ import annotations

from .. import backend
from ..tensor import Function, Tensor
from ._util import check_float, check_tensor
from .activation import _log_softmax

__all__ = ["cross_entropy", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Function):
    """-log softmax(logits)[target], fused: forward keeps softmax, backward is (softmax - onehot) per row.

    Never computes log(softmax(x)) in two steps, so logits of 1e4 give a finite loss and gradient (PITFALLS P08).
    """

    def forward(self, logits, target, reduction="mean"):
        xp = backend.get_array_module(logits)
        n = logits.shape[0]
        logp = _log_softmax(logits, axis=1)
        rows = xp.arange(n)
        losses = -logp[rows, target]
        self.softmax, self.target, self.rows, self.reduction = xp.exp(logp), target, rows, reduction
        if reduction == "mean":
            return losses.mean(keepdims=False).astype(logits.dtype) if n else xp.asarray(xp.nan, logits.dtype)
        if reduction == "sum":
            return losses.sum().astype(logits.dtype)
        return losses

    def backward(self, g):
        grad = self.softmax.copy()
        grad[self.rows, self.target] -= 1
        if self.reduction == "mean":
            grad *= g / grad.dtype.type(len(self.rows))
        elif self.reduction == "sum":
            grad *= g
        else:
            grad *= g[:, None]
        return grad, None


def cross_entropy(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy between ``logits`` and integer class indices (``torch.nn.functional.cross_entropy``).

    Args:
        logits: (N, C) floating-point scores, unnormalized.
        target: (N,) integer class indices in [0, C) (a Tensor or an integer array).
        reduction: "mean" (default: averaged over the batch), "sum", or "none" (a (N,) tensor of losses).

    Raises:
        ValueError: logits not 2-D, target not of shape (N,), a label outside [0, C) (the first one is named), or
            an unknown reduction.
        TypeError: a non-integer target or non-floating logits.
    """
    t = _check_target("cross_entropy", "logits", logits, target, reduction)
    return CrossEntropy.apply(logits, Tensor(t), reduction=reduction)


def _check_target(op, name, scores, target, reduction):
    """Check (N, C) ``scores``, the reduction and the (N,) integer labels in [0, C); return the labels' array."""
    check_tensor(name, scores, ndim=2, op=op)
    check_float(name, scores, op=op)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    t = target.data if isinstance(target, Tensor) else target
    xp = backend.get_array_module(scores.data)
    t = xp.asarray(t)
    n, c = scores.shape
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {t.dtype}")
    if t.shape != (n,):
        raise ValueError(f"{op}: target must have shape ({n},) to match {name} {scores.shape}, got {t.shape}")
    bad = (t < 0) | (t >= c)
    if n and bool(bad.any()):  # one host sync; a wrong label would otherwise index silently out of range
        i = int(xp.argmax(bad))
        raise ValueError(f"{op}: target[{i}] = {int(t[i])} is outside [0, {c}) for {name} with {c} classes")
    return t


def nll_loss(log_probs: Tensor, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under (N, C) log-probabilities (``torch.nn.functional.nll_loss``)."""
    from .shape import getitem  # noqa: PLC0415

    t = _check_target("nll_loss", "log_probs", log_probs, target, reduction)
    xp = backend.get_array_module(log_probs.data)
    picked = -getitem(log_probs, (xp.arange(log_probs.shape[0]), t))
    if reduction == "none":
        return picked
    return picked.sum() if reduction == "sum" else picked.mean()
