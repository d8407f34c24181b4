"""Batch normalization (Ioffe & Szegedy 2015) and local response normalization (Krizhevsky et al. 2012, Sec. 3.3).

Both follow PyTorch's definitions (``torch.nn.functional.batch_norm`` / ``local_response_norm``).

Two tiers (docs in ``tinycnn/kernels/__init__.py``): ``BatchNorm`` below is the reference, the textbook formulas;
``F.batch_norm`` runs the fast kernel (``tinycnn/kernels/normalization.py``: the same values a block of channels at a
time, in fewer passes, on all cores) unless ``tinycnn.use_reference_ops()`` or ``TINYCNN_REFERENCE=1`` asks for this
one. The tests prove the two equal in float64.
"""
from __future__ import annotations

import numbers

from .. import backend
from ..kernels import switch
from ..kernels.normalization import FastBatchNorm
from ..tensor import Function, Tensor
from ._util import check_float, check_same_dtype, check_tensor

__all__ = ["batch_norm", "local_response_norm"]


def _stat_axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)  # everything but the channel axis


def _per_channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel.

    Training: mean and the *biased* variance of the batch normalize; the running statistics are updated in place
    as running = (1 - momentum) running + momentum batch, with the *unbiased* variance (n / (n - 1)) stored
    (PITFALLS P10). Evaluation: the running statistics normalize and nothing is updated.
    """

    def forward(self, x, weight=None, bias=None, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        xp = backend.get_array_module(x)
        axes = _stat_axes(x)
        if training:
            n = x.size // x.shape[1]
            mean = x.mean(axis=axes)
            centered = x - _per_channel(mean, x)
            var = (centered * centered).mean(axis=axes)  # biased: normalizes the batch
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (n / (n - 1))  # unbiased: estimates the population
        else:
            mean, var = running_mean, running_var
            centered = x - _per_channel(mean, x)
        inv_std = (1 / xp.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
        x_hat = centered
        x_hat *= _per_channel(inv_std, x)
        # backward recomputes x_hat from x, which the layer before holds anyway, instead of keeping a second copy
        # of the activations (PyTorch saves the input, the mean and 1 / std too)
        self.x, self.mean, self.inv_std = x, mean.astype(x.dtype, copy=True), inv_std  # a copy: running_mean moves
        self.training, self.weight = training, weight
        y = x_hat if weight is None else x_hat * _per_channel(weight, x)
        return y if bias is None else y + _per_channel(bias, x)

    def backward(self, g):
        axes = _stat_axes(g)
        x_hat = (self.x - _per_channel(self.mean, g)) * _per_channel(self.inv_std, g)
        needs = self.needs_input_grad
        d_hat = g if self.weight is None else g * _per_channel(self.weight, g)
        dx = dw = db = None
        if needs[0]:
            inv_std = _per_channel(self.inv_std, g)
            if self.training:
                # the batch mean and variance depend on x too: the two sums remove their share (Ioffe & Szegedy,
                # Sec. 3), so that d(sum y)/dx = 0
                m = g.dtype.type(g.size // g.shape[1])
                dx = inv_std * (d_hat - _per_channel(d_hat.sum(axis=axes), g) / m
                                - x_hat * _per_channel((d_hat * x_hat).sum(axis=axes), g) / m)
            else:
                dx = d_hat * inv_std
        if len(needs) > 1 and needs[1]:
            dw = (g * x_hat).sum(axis=axes)
        if len(needs) > 2 and needs[2]:
            db = g.sum(axis=axes)
        return (dx, dw, db)[:len(needs)]


def batch_norm(x: Tensor, running_mean, running_var, weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over the batch (and spatial) axes, per channel (``torch.nn.functional.batch_norm``).

    Args:
        x: (N, C) or (N, C, H, W), floating point.
        running_mean, running_var: (C,) arrays (or Tensors) updated in place in training; used in evaluation.
            May be None in training (no running statistics kept).
        weight, bias: optional (C,) Tensors (gamma and beta).
        training: normalize with the batch's statistics (and update the running ones), else with the running ones.
        momentum: weight of the new batch in the running average (PyTorch's convention: 0.1; Keras's 0.99 is
            1 - this). eps: added to the variance.

    Raises:
        TypeError: momentum or eps not a number (None included: the cumulative average is ``nn.BatchNorm2d``'s).
        ValueError: training with one value per channel (N * H * W == 1): its variance is undefined; a running
            statistic or weight not of shape (C,); missing running statistics in evaluation.
    """
    op = "batch_norm"
    check_tensor("x", x, ndim=(2, 4), op=op)
    check_float("x", x, op=op)
    c = x.shape[1]
    rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    rv = running_var.data if isinstance(running_var, Tensor) else running_var
    for name, v in (("running_mean", rm), ("running_var", rv), ("weight", weight), ("bias", bias)):
        if v is not None and tuple(v.shape) != (c,):
            raise ValueError(f"{op}: {name} must have shape ({c},) for x of shape {x.shape}, got {tuple(v.shape)}")
    if training and x.numel() // c <= 1:
        raise ValueError(f"{op}: training needs more than 1 value per channel, got x of shape {x.shape}")
    for name, v in (("momentum", momentum), ("eps", eps)):  # as torch: a number (momentum=None is nn's, not F's)
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            raise TypeError(f"{op}: {name} must be a float, got {v!r}")
    if not training and (rm is None or rv is None):
        raise ValueError(f"{op}: evaluation (training=False) needs running_mean and running_var")
    check_same_dtype(op, x=x, weight=weight, bias=bias)
    tensors = [x] + [t for t in (weight, bias) if t is not None]
    if weight is None and bias is not None:
        raise ValueError(f"{op}: bias without weight is not supported; pass both or neither")
    fn = BatchNorm if switch.REFERENCE else FastBatchNorm
    return fn.apply(*tensors, running_mean=rm, running_var=rv, training=bool(training),
                    momentum=float(momentum), eps=float(eps))


def _channel_window_sum(v, before, after):
    """s[:, c] = v[:, c - before] + ... + v[:, c + after], zeros beyond the edges: the zero-padded channels summed
    over the window's before + after + 1 shifts. (Not as differences of one cumulative sum over all channels: in
    float32 a small window after large channels loses its digits, and that was 3x slower for AlexNet's LRN.)"""
    xp = backend.get_array_module(v)
    c = v.shape[1]
    pad = [(0, 0)] * v.ndim
    pad[1] = (before, after)
    vp = xp.pad(v, pad)
    s = vp[:, :c].copy()
    for shift in range(1, before + after + 1):
        s += vp[:, shift:shift + c]
    return s


class LocalResponseNorm(Function):
    """b_c = a_c / (k + alpha / n * sum_{c' near c} a_{c'}^2) ** beta, the window running over n channels
    (n // 2 before c, (n - 1) // 2 after), zeros beyond the edges; PyTorch divides alpha by n, also at the edges."""

    def forward(self, x, size, alpha, beta, k):
        self.lo, self.hi = size // 2, (size - 1) // 2
        self.x, self.beta, self.coef = x, beta, x.dtype.type(alpha / size)
        self.scale = x.dtype.type(k) + self.coef * _channel_window_sum(x * x, self.lo, self.hi)
        return x * self.scale ** x.dtype.type(-beta)

    def backward(self, g):
        x, s, beta = self.x, self.scale, g.dtype.type(self.beta)
        direct = g * s ** -beta
        # channel j appears in the windows of channels j - hi .. j + lo: the window read the other way round
        through = _channel_window_sum(g * x * s ** (-beta - 1), self.hi, self.lo)
        return (direct - 2 * beta * self.coef * x * through,)


def local_response_norm(x: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Local response normalization across channels, PyTorch's definition (``torch.nn.functional.local_response_norm``):

        b_c = a_c / (k + (alpha / size) * sum_{c' = c - size//2}^{c + (size - 1)//2} a_{c'}^2) ** beta

    Note: the AlexNet paper (Sec. 3.3) writes alpha *without* dividing by n: its k=2, n=5, alpha=1e-4, beta=0.75
    is ``local_response_norm(x, 5, alpha=5e-4, beta=0.75, k=2.0)`` here (``nn.LocalResponseNorm.paper``).

    Args:
        x: (N, C, H, W) or (N, C), floating point. size: channels in the window (a positive int).
    Raises:
        ValueError: size < 1, or x of another rank. TypeError: non-floating x.
    """
    op = "local_response_norm"
    check_tensor("x", x, ndim=(2, 3, 4), op=op)
    check_float("x", x, op=op)
    if not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"{op}: size must be a positive int, got {size!r}")
    return LocalResponseNorm.apply(x, size=int(size), alpha=float(alpha), beta=float(beta), k=float(k))
