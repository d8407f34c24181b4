"""Per-layer table of a model: output shape, parameters, multiply-accumulates (MACs), im2col buffer size.

MACs count conv and linear multiply-accumulates only (conv: C_out * H_out * W_out * C_in/groups * kH * kW;
linear: in * out), the convention of torchvision's ``_ops`` figures and of the ResNet paper's "FLOPs".
"""
from __future__ import annotations

import numpy as np

from . import backend, nn
from .tensor import Tensor, no_grad

__all__ = ["summary", "layer_table"]


def _macs(module, out_shape) -> int:
    """MACs of one call of ``module`` producing ``out_shape``; a layer of its own kind says so by a method
    ``macs(out_shape)`` (LeNet-5's partial C3 and RBF outputs do)."""
    if hasattr(module, "macs"):
        return int(module.macs(out_shape))
    if isinstance(module, nn.Conv2d):
        _, c_out, h, w = out_shape
        k_h, k_w = module.kernel_size
        return c_out * h * w * (module.in_channels // module.groups) * k_h * k_w
    if isinstance(module, nn.Linear):
        lead = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
        return lead * module.in_features * module.out_features
    return 0


def _im2col_bytes(module, out_shape, itemsize) -> int:
    """Bytes of the column matrix a conv builds for one image: (C_in kH kW) x (H_out W_out)."""
    if not isinstance(module, nn.Conv2d):
        return 0
    k_h, k_w = module.kernel_size
    return module.in_channels * k_h * k_w * out_shape[2] * out_shape[3] * itemsize


def layer_table(model, input_shape, dtype=np.float32) -> list:
    """Run one (1, C, H, W) zero image through ``model`` in eval mode and record every leaf layer it calls.

    Returns a list of dicts: name, type, output_shape (batch axis 1), parameters, macs, im2col_bytes.
    Shared or repeated leaves are listed at each call.
    """
    rows = []
    leaves = [(name, m) for name, m in model.named_modules() if not m._modules]
    wrapped = []
    counted = set()  # a shared leaf's parameters count at its first call only

    def wrap(name, module):
        original = module.forward

        def recording(*args, **kwargs):
            out = original(*args, **kwargs)
            first = out[0] if isinstance(out, (tuple, list)) else out
            shape = tuple(first.shape)
            first_call = id(module) not in counted
            counted.add(id(module))
            rows.append({"name": name, "type": type(module).__name__, "output_shape": shape,
                         "parameters": int(sum(p.numel() for p in module.parameters(recurse=False))) if first_call else 0,
                         "macs": _macs(module, shape),
                         "im2col_bytes": _im2col_bytes(module, shape, np.dtype(dtype).itemsize)})
            return out

        object.__setattr__(module, "forward", recording)  # an instance attribute shadows the class's forward
        wrapped.append(module)

    for name, module in leaves:
        if any(module is m for m in wrapped):  # a leaf registered twice (shared) is wrapped once, under its first name
            continue
        wrap(name or type(module).__name__, module)
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            first = next(iter(model.parameters()), None)
            device = first.device if first is not None else "cpu"  # the probe image goes where the weights are
            model(Tensor(backend.to_device(np.zeros((1,) + tuple(input_shape), dtype=dtype), device)))
    finally:
        for module in wrapped:
            del module.__dict__["forward"]
        model.train(was_training)
    return rows


def summary(model, input_shape, dtype=np.float32) -> str:
    """The layer table as text, with totals: the trainable parameters of the whole model (also those of layers
    not used in eval mode, such as auxiliary heads) and the MACs of one forward pass of one image.

    Args:
        model: a tinycnn Module. input_shape: (C, H, W) of one image.
    Raises ValueError (from the layers) when the input does not fit the model.
    """
    rows = layer_table(model, input_shape, dtype)
    header = f"{'layer':<34} {'type':<18} {'output shape':<20} {'params':>12} {'MACs':>15} {'im2col':>10}"
    lines = [f"{type(model).__name__} on input {tuple(input_shape)}", header, "-" * len(header)]
    for r in rows:
        shape = "x".join(str(v) for v in r["output_shape"][1:])
        cols = f"{r['im2col_bytes'] / 2**20:.2f} MB" if r["im2col_bytes"] else ""
        lines.append(f"{r['name']:<34.34} {r['type']:<18} {shape:<20} {r['parameters']:>12,} {r['macs']:>15,} "
                     f"{cols:>10}")
    lines.append("-" * len(header))
    total_macs = sum(r["macs"] for r in rows)
    used = sum(r["parameters"] for r in rows)
    total = model.num_parameters()
    lines.append(f"total parameters: {total:,}" + (f" ({used:,} used in eval mode)" if used != total else ""))
    lines.append(f"total MACs per image: {total_macs:,} ({total_macs / 1e9:.3f} G)")
    return "\n".join(lines)
