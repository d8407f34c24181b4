"""Gradient clipping, as ``torch.nn.utils`` (``clip_grad_norm_``, ``clip_grad_value_``), and ``freeze_batch_norm``
for fine-tuning.

The clipping functions change the parameters' ``.grad`` arrays in place (PyTorch's ``mul_`` / ``clamp_``) and skip
parameters whose grad is None. Call them between ``loss.backward()`` and ``optimizer.step()``.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "freeze_batch_norm"]


def _grads(op, parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        generator = not isinstance(parameters, (list, tuple))
        parameters = list(parameters)
        if generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", UserWarning,
                          stacklevel=3)
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: parameters[{i}] must be a Tensor, got {type(p).__name__}")
    return [p.grad for p in parameters if p.grad is not None]


def _number(op, name, value) -> float:
    if isinstance(value, str) and value == "inf":
        return math.inf
    if isinstance(value, Tensor) and value.data.size == 1:
        value = value.item()
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most ``max_norm``
    (``torch.nn.utils.clip_grad_norm_``).

    The total norm is the norm of the per-parameter norms (``inf``: the largest absolute value); each grad is
    multiplied in place by min(1, max_norm / (total_norm + 1e-6)). Returns the total norm BEFORE clipping as a 0-d
    Tensor (the grads' dtype; float32 0.0 when no parameter has a grad).

    Raises RuntimeError for a non-finite total norm with ``error_if_nonfinite``, TypeError for non-numbers or
    non-Tensor parameters, NotImplementedError for ``foreach=True``.
    """
    op = "clip_grad_norm_"
    if foreach:
        raise NotImplementedError(f"{op}: foreach=True is not supported (tinycnn loops over the gradients)")
    max_norm = _number(op, "max_norm", max_norm)
    norm_type = _number(op, "norm_type", norm_type)
    grads = _grads(op, parameters)
    if not grads:
        return Tensor(np.array(0.0, dtype=np.float32))
    device = grads[0].device

    def norm(a):
        a = abs(a)
        if math.isinf(norm_type):
            return a.max() if norm_type > 0 else a.min()
        if norm_type == 0:
            return (a != 0).sum().astype(a.dtype)
        return (a ** norm_type).sum() ** (1.0 / norm_type)

    xp = backend.get_array_module(grads[0].data)
    norms = xp.stack([backend.to_device(norm(g.data.reshape(-1)), device) for g in grads])
    total = norm(norms)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           f"cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           f"anyway, set `error_if_nonfinite=False`")
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g.data *= backend.to_device(coef, g.device).astype(g.dtype, copy=False)
    return Tensor(total)


def clip_grad_value_(parameters, clip_value, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place (``torch.nn.utils.clip_grad_value_``).

    Raises TypeError for a non-number, NotImplementedError for ``foreach=True``.
    """
    op = "clip_grad_value_"
    if foreach:
        raise NotImplementedError(f"{op}: foreach=True is not supported (tinycnn loops over the gradients)")
    clip_value = _number(op, "clip_value", clip_value)
    for g in _grads(op, parameters):
        xp = backend.get_array_module(g.data)
        xp.clip(g.data, -clip_value, clip_value, out=g.data)


def freeze_batch_norm(module):
    """Replace every ``BatchNorm2d`` inside ``module`` (in place, recursively) by a ``FrozenBatchNorm2d`` with its
    weight, bias, running statistics, eps, dtype and device; returns ``module``. A tinycnn helper (torchvision
    builds its detection backbones with ``norm_layer=FrozenBatchNorm2d``).

    Fine-tuning recipe (transfer learning)::

        model = resnet18(weights="resnet18-f37072fd.pth")
        model.requires_grad_(False)                        # freeze the backbone: backward and the optimizer skip it
        freeze_batch_norm(model)                           # its batch norms keep the pretrained statistics
        model.fc = nn.Linear(model.fc.in_features, 5)      # a new head (trainable: new parameters require grad)
        optimizer = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)

    Why: ``requires_grad_(False)`` stops the weights from changing, but a ``BatchNorm2d`` in training mode still
    normalizes with each batch's statistics and overwrites its running ones; frozen, it computes what it did in
    eval mode, whatever ``model.train()`` says (PyTorch's equivalent is calling ``m.eval()`` on every batch norm
    after each ``model.train()``). Its state_dict has no num_batches_tracked; a frozen model's state dict still
    loads into an unfrozen network (PyTorch's load_state_dict tolerates its absence). Load weights before
    freezing: a frozen model does not take a checkpoint's num_batches_tracked (an unexpected key).
    """
    from .module import Module  # noqa: PLC0415 - avoid a cycle at import time
    from .normalization import BatchNorm2d, FrozenBatchNorm2d  # noqa: PLC0415

    if not isinstance(module, Module):
        raise TypeError(f"freeze_batch_norm: expected a Module, got {type(module).__name__}")
    for parent in list(module.modules()):
        for name, child in list(parent._modules.items()):
            if not isinstance(child, BatchNorm2d):
                continue
            if child.running_mean is None or child.weight is None:
                raise ValueError(f"freeze_batch_norm: {name} has no running statistics or no affine parameters "
                                 f"(track_running_stats=False or affine=False); nothing to freeze it to")
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps, dtype=child.weight.dtype)
            frozen.to(child.weight.device)
            for buffer in ("weight", "bias", "running_mean", "running_var"):
                source = getattr(child, buffer)
                target = getattr(frozen, buffer)
                target.data[...] = source.data if source is not None else 0
            setattr(parent, name, frozen)
    return module


from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tinycnn.nn.utils", "torch.nn.utils")
