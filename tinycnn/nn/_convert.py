"""``Module.to`` / ``cpu`` / ``cuda`` / ``double`` / ``float`` / ``half``, as ``torch.nn.Module``'s: a mixin of
``Module`` (see module.py)."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["DeviceDtypeMixin"]


def _as_dtype(value):
    """``value`` as a NumPy dtype, or None when it does not name one (a device name, a Tensor)."""
    if value is None or isinstance(value, (str, Tensor)):
        return None
    try:
        return np.dtype(value)
    except TypeError:
        return None


class DeviceDtypeMixin:
    """Moves and casts a Module's parameters, their gradients and buffers in place."""

    def _convert(self, device=None, dtype=None) -> "Module":
        """Move parameters, their gradients and buffers to ``device`` and cast the FLOATING ones to ``dtype``,
        in place: the Parameter and buffer objects stay the same (an optimizer built before keeps working)."""

        def convert(arr):
            if device is not None:
                arr = backend.to_device(arr, device)
            if dtype is not None and arr.dtype.kind == "f" and arr.dtype != dtype:
                arr = arr.astype(dtype)
            return arr

        for m in self.modules():
            for p in m._parameters.values():
                if p is None:
                    continue
                p.data = convert(p.data)
                if p.grad is not None:
                    p.grad.data = convert(p.grad.data)
            for b in m._buffers.values():
                if b is not None:
                    b.data = convert(b.data)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """Move and/or cast in place, as ``torch.nn.Module.to``: ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(tensor)`` (its device and dtype), or the keywords ``device=`` and ``dtype=``.

        Only floating parameters and buffers change dtype (batch norm's int64 ``num_batches_tracked`` stays).
        Returns self. Raises TypeError for a non-floating dtype or an unknown argument, ValueError for an unknown
        device name.
        """
        device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        if len(args) > 2:
            raise TypeError(f"to() takes at most 2 positional arguments (device, dtype), got {len(args)}")
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif _as_dtype(arg) is not None:
                dtype = arg
            else:
                device = arg
        if device is not None:
            device = backend.parse_device(device)
        if dtype is not None:
            parsed = _as_dtype(dtype)
            if parsed is None:
                raise TypeError(f"to(): dtype must be a dtype such as tinycnn.float64, got {dtype!r}")
            if parsed.kind not in "fc":
                raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                                f"dtype={parsed}")
            dtype = parsed
        return self._convert(device, dtype)

    def cpu(self) -> "Module":
        """``to("cpu")``."""
        return self._convert(device="cpu")

    def cuda(self, device=None) -> "Module":
        """``to("cuda")``, or ``to(f"cuda:{device}")`` for an int ``device``."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self._convert(device=backend.parse_device(device))

    def double(self) -> "Module":
        """Cast floating parameters and buffers to float64, in place (float64 gradient checks of a model)."""
        return self._convert(dtype=np.dtype(np.float64))

    def float(self) -> "Module":
        """Cast floating parameters and buffers to float32, in place."""
        return self._convert(dtype=np.dtype(np.float32))

    def half(self) -> "Module":
        """Cast floating parameters and buffers to float16, in place (few tinycnn ops compute in float16)."""
        return self._convert(dtype=np.dtype(np.float16))

    def bfloat16(self) -> "Module":
        raise TypeError("bfloat16 is not supported: NumPy has no bfloat16 dtype; use float(), double() or half()")

