"""How a Tensor prints: PyTorch's layout, so a notebook's output reads like the tutorials'.

``tensor([1.5000, 2.2500])``, ``tensor([1., 2.])``, ``tensor([1.0000e-05, 1.0000e+00])``: floats with 4 decimals,
whole numbers as ``1.``, scientific notation when the nonzero magnitudes span more than 1000x, exceed 1e8 or (not
whole) fall below 1e-4 (torch's rule); more than 1000 elements are summarized with 3 at each edge. After the
values, as torch: ``size=`` for an empty tensor that is not 1-D, ``device=`` off the CPU, ``dtype=`` unless float32, int64 or bool
(written ``tinycnn.float64``), then ``grad_fn=<MulBackward>`` for a tensor made by an op, or
``requires_grad=True`` for a leaf.
"""
from __future__ import annotations

import numpy as np

_DEFAULT_DTYPES = ("float32", "int64", "bool")


def _float_formatter(arr):
    finite = arr[np.isfinite(arr)].astype(np.float64)
    magnitudes = np.abs(finite[finite != 0])
    whole = bool(np.all(finite == np.round(finite)))
    if magnitudes.size:
        big, small = magnitudes.max(), magnitudes.min()
        sci = big / small > 1000 or big > 1e8 or (not whole and small < 1e-4)
    else:
        sci = False
    if sci:
        fmt = "{:.4e}".format
    elif whole:
        fmt = "{:.0f}.".format
    else:
        fmt = "{:.4f}".format

    def one(v):
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return fmt(v)

    width = max((len(one(v)) for v in arr.reshape(-1)[:2000]), default=0)  # torch pads every entry alike
    return lambda v: one(v).rjust(width)


def tensor_repr(t, array) -> str:
    """The repr of Tensor ``t`` whose values, on the host, are ``array``."""
    formatter = None
    if array.dtype.kind == "f" and array.size:
        formatter = {"float_kind": _float_formatter(array)}
    elif array.dtype.kind == "b" and array.size:  # NumPy pads True to False's width even when no False is shown
        width = 5 if not array.all() else 4
        formatter = {"bool": lambda v: str(bool(v)).rjust(width)}
    body = np.array2string(array, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3, max_line_width=80,
                           formatter=formatter)
    extras = []
    if array.size == 0 and array.ndim != 1:
        extras.append(f"size={tuple(array.shape)}")
    device = str(t.device)
    if device != "cpu":
        extras.append(f"device='{device}'")
    if array.dtype.name not in _DEFAULT_DTYPES:
        extras.append(f"dtype=tinycnn.{array.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"
