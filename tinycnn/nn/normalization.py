"""Batch normalization layers (Ioffe & Szegedy 2015), as ``torch.nn.BatchNorm1d`` / ``BatchNorm2d``.

Buffers, as PyTorch's: ``running_mean`` (init 0), ``running_var`` (init 1) and ``num_batches_tracked`` (int64,
0-d), all in ``state_dict``. Each training-mode call with ``track_running_stats`` adds 1 to num_batches_tracked and
updates the running statistics with weight ``momentum`` (0.1), or, with ``momentum=None``, with 1 /
num_batches_tracked: the cumulative average of every batch so far. Training mode normalizes with the batch's biased
variance and stores the unbiased one; eval mode uses the running ones, or the batch's when
``track_running_stats=False`` (then no buffers exist).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .layers import _positive_int
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "FrozenBatchNorm2d"]


class _BatchNorm(Module):
    _optional_state = ("num_batches_tracked",)  # PyTorch loads older state dicts without it (see _state_dict)
    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive_int(name, "num_features", num_features)
        if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or eps < 0:
            raise ValueError(f"{name}: eps must be a non-negative number, got {eps!r}")
        if momentum is not None and (not isinstance(momentum, numbers.Real) or isinstance(momentum, bool)):
            raise TypeError(f"{name}: momentum must be a number or None (cumulative average), got {momentum!r}")
        for flag, value in (("affine", affine), ("track_running_stats", track_running_stats), ("bias", bias)):
            if not isinstance(value, bool):
                raise TypeError(f"{name}: {flag} must be a bool, got {value!r}")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        self.eps, self.momentum, self.affine, self.track_running_stats = eps, momentum, affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)
        if device is not None:
            self.to(device)

    def reset_running_stats(self) -> None:
        """Running mean 0, variance 1, num_batches_tracked 0 (in place)."""
        if self.track_running_stats:
            self.running_mean.data.fill(0)
            self.running_var.data.fill(1)
            self.num_batches_tracked.data.fill(0)

    def reset_parameters(self) -> None:
        """Running statistics reset, weight 1, bias 0 (in place)."""
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data.fill(1)
        if self.bias is not None:
            self.bias.data.fill(0)

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected {' or '.join(f'{d}D' for d in self._dims)} input "
                             f"(got {x.ndim}D input of shape {x.shape})")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.data += 1  # in place: a state_dict taken before sees the count
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        squeeze = x.ndim == 3  # (N, C, L): batch norm over N and L, as (N, C, L, 1)
        if squeeze:
            x = x.reshape(x.shape + (1,))
        y = F.batch_norm(x, self.running_mean if keep else None, self.running_var if keep else None, self.weight,
                         self.bias, use_batch, factor, self.eps)
        return y.reshape(y.shape[:3]) if squeeze else y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs per channel C, as ``torch.nn.BatchNorm1d``.

    Args:
        num_features: C. eps: added to the variance (1e-5). momentum: weight of each new batch in the running
            statistics (0.1, PyTorch's convention; None: cumulative average). affine: learn weight (gamma, init 1)
            and bias (beta, init 0; ``bias=False`` keeps only the weight). track_running_stats: keep running
            statistics for eval mode (else eval normalizes with the batch's). dtype: float32 by default.

    Raises ValueError for another input rank (PyTorch's "expected 2D or 3D input"), one value per channel in
    training (from ``F.batch_norm``), bad arguments.
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs over (N, H, W) per channel, as ``torch.nn.BatchNorm2d``.

    Arguments, buffers and errors as ``BatchNorm1d``, for 4-D inputs only (PyTorch's "expected 4D input").
    """

    _dims = (4,)


class FrozenBatchNorm2d(Module):
    """Batch normalization with fixed statistics and affine parameters, as torchvision's
    ``torchvision.ops.FrozenBatchNorm2d``: always ``(x - running_mean) / sqrt(running_var + eps) * weight +
    bias`` per channel, in training mode too, with nothing to train (all four are buffers).

    For fine-tuning a pretrained network on small batches, where batch statistics would be noisy and would
    overwrite the pretrained running ones: ``tinycnn.nn.utils.freeze_batch_norm(model)`` swaps every
    ``BatchNorm2d`` for one of these, with its values. Gradients still flow to the input (layers before it can
    train). state_dict: weight, bias, running_mean, running_var (no num_batches_tracked, as torchvision's).
    (N, C, H, W) -> same shape; ``dtype``: float32 by default. Raises ValueError for another input rank.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, dtype=None):
        super().__init__()
        self.num_features = _positive_int("FrozenBatchNorm2d", "num_features", num_features)
        self.eps = eps
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        self.register_buffer("weight", np.ones(num_features, dtype=dtype))
        self.register_buffer("bias", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise ValueError(f"FrozenBatchNorm2d: expected a 4D Tensor (N, C, H, W), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        scale = self.weight.data * (self.running_var.data + self.eps) ** -0.5  # folded once per call: x * a + b
        shift = self.bias.data - self.running_mean.data * scale
        return x * Tensor(scale.reshape(1, -1, 1, 1)) + Tensor(shift.reshape(1, -1, 1, 1))

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}"
