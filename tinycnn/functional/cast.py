"""Dtypes and devices of tensors: PyTorch's type promotion, differentiable casts, ``.to()`` and its short forms.

Type promotion (``torch.result_type``): operands of an arithmetic op or a comparison are sorted into three
priority classes, tensors with dimensions, 0-d tensors and Python numbers. A lower class changes the result's dtype
only when it holds a higher *category* (bool < integer < floating): ``int64_tensor * 2.5`` is float32 (a Python
float's dtype is the default float32), ``uint8_tensor + 300`` stays uint8 (it wraps, as in PyTorch), a Python float
never widens a float16/32 tensor, and ``float32_vector + float64_0d`` stays float32; within one class the dtypes
promote as ``torch.promote_types`` (``backend.promote_types``). Casting an operand that requires grad is itself
differentiable, so gradients come back to each input in its own dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Function, Tensor
from ._util import check_tensor

__all__ = ["result_type", "cast", "to", "type_", "promote"]

_BOOL, _INT64, _FLOAT32 = backend.DTYPES["bool"], backend.DTYPES["int64"], backend.DTYPES["float32"]
# the names torch.Tensor.type() gives, kept as they are: code compares them with PyTorch's strings
_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "int64": "LongTensor",
               "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor"}


def is_scalar(value) -> bool:
    """A Python or NumPy number (what PyTorch calls a wrapped number: it takes part in promotion by category)."""
    return isinstance(value, (numbers.Number, np.bool_)) and not isinstance(value, (complex, np.complexfloating))


def scalar_dtype(value):
    """The dtype PyTorch gives a Python number: bool, int64, or the default float32."""
    if isinstance(value, (bool, np.bool_)):
        return _BOOL
    if isinstance(value, numbers.Integral):
        return _INT64
    return _FLOAT32


def _combine(higher, lower):
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return backend.promote_types(higher, lower)
    return higher


def result_type(*operands):
    """The dtype of an op on ``operands`` (Tensors and Python numbers), by ``torch.result_type``'s rules (see the
    module docstring)."""
    dims = zeros = numbers_ = None
    for o in operands:
        if isinstance(o, Tensor):
            dt = o._data.dtype
            if o._data.ndim:
                dims = dt if dims is None else backend.promote_types(dims, dt)
            else:
                zeros = dt if zeros is None else backend.promote_types(zeros, dt)
        else:
            dt = scalar_dtype(o)
            numbers_ = dt if numbers_ is None else backend.promote_types(numbers_, dt)
    return _combine(dims, _combine(zeros, numbers_))


class Cast(Function):
    """``x`` in another dtype; the gradient comes back in x's own dtype (PyTorch's ``ToCopyBackward``)."""

    def forward(self, x, dtype):
        self.source = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return (g.astype(self.source),)


class ToDevice(Function):
    """``x`` on another device; the gradient goes back to x's device."""

    def forward(self, x, device):
        self.source = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, g):
        return (backend.to_device(g, self.source),)


def cast(x: Tensor, dtype) -> Tensor:
    """``x`` as ``dtype`` (a tinycnn dtype): x itself when it already is; differentiable between floating dtypes,
    as in PyTorch (a cast to an integer or bool dtype is cut from the graph)."""
    if x._data.dtype == dtype:
        return x
    if x.requires_grad and dtype.kind == "f":
        return Cast.apply(x, dtype=dtype)
    return Tensor(x._data.astype(dtype))


def scalar_tensor(value, dtype, like: Tensor) -> Tensor:
    """A Python number as a 0-d constant of ``dtype`` on ``like``'s device. Integers out of range wrap, as PyTorch
    (uint8 + 300 adds 44)."""
    xp = backend.get_array_module(like._data)
    if dtype.kind in "iu" and isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return Tensor(xp.asarray(np.array(int(value)).astype(dtype)))
    return Tensor(xp.asarray(value, dtype=dtype))


def as_operand(value, like: Tensor, op: str):
    """A non-Tensor operand of an op with the Tensor ``like``: a number stays a number (it is promoted by category),
    a NumPy/CuPy array or a list becomes a Tensor on like's device (an array keeps its dtype, as
    ``torch.as_tensor``; a list infers int64/float32/bool, as ``torch.tensor``)."""
    if is_scalar(value):
        return value
    if hasattr(value, "shape") or isinstance(value, (list, tuple)):
        xp = backend.get_array_module(like._data)
        if isinstance(value, (list, tuple)):
            arr = np.asarray(value)
            arr = arr.astype(_FLOAT32) if arr.dtype.kind == "f" else arr
        else:
            arr = value
        arr = xp.asarray(arr)
        if arr.dtype.name not in backend.DTYPES:
            raise TypeError(f"{op}: cannot combine a Tensor with an array of dtype {arr.dtype}")
        return Tensor(arr)
    raise TypeError(f"{op}: cannot combine a Tensor with {type(value).__name__}")


def promote(op: str, *operands, floating: bool = False):
    """``operands`` (Tensors and numbers, at least one Tensor) as Tensors of their common dtype (``result_type``;
    ``floating``: an integer or bool result becomes float32, as true division). Returns (tensors, dtype)."""
    like = next(o for o in operands if isinstance(o, Tensor))
    operands = [o if isinstance(o, Tensor) else as_operand(o, like, op) for o in operands]
    first = operands[0]._data.dtype if isinstance(operands[0], Tensor) else None
    if first is not None and all(isinstance(o, Tensor) and o._data.dtype == first for o in operands):
        dtype = first  # the common case: one dtype, nothing to decide
    else:
        dtype = result_type(*operands)
    if floating and dtype.kind != "f":
        dtype = _FLOAT32
    out = [cast(o, dtype) if isinstance(o, Tensor) else scalar_tensor(o, dtype, like) for o in operands]
    return out, dtype


# ----- .to() and its short forms -----

def to(x: Tensor, *args, **kwargs) -> Tensor:
    """``x`` with another dtype and/or device, as ``torch.Tensor.to``: ``to(dtype)``, ``to(device)``,
    ``to(device, dtype)``, ``to(other)`` (other's dtype and device), with ``dtype=``/``device=`` keywords;
    ``copy=True`` forces a copy, ``non_blocking`` is accepted and ignored. Returns ``x`` itself when nothing changes;
    differentiable (float to float, and across devices).

    Raises TypeError for arguments of another kind, ValueError for an unknown device name.
    """
    check_tensor("self", x, op="to")
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
    args = list(args)
    if args and isinstance(args[0], Tensor):
        other = args.pop(0)
        dtype, device = other.dtype, other.device
    elif args and (isinstance(args[0], (str, int)) or args[0] is None or type(args[0]).__name__ == "device"):
        device = args.pop(0)
    if args and dtype is None:
        dtype = args.pop(0)
    if args:
        raise TypeError(f"to: unexpected positional arguments {args!r}")
    dtype = backend.parse_dtype(dtype, "dtype", "to")
    out = x
    if device is not None and backend.parse_device(device) != backend.device_of(x._data):
        out = ToDevice.apply(out, device=backend.parse_device(device))
    if dtype is not None:
        out = cast(out, dtype)
    if copy and out is x:
        out = clone_like(x)
    return out


def clone_like(x: Tensor) -> Tensor:
    from .shape import clone  # noqa: PLC0415 - shape imports this module

    return clone(x)


def type_(x: Tensor, dtype=None):
    """``torch.Tensor.type``: with no argument, PyTorch's type name ("torch.FloatTensor", "torch.cuda.LongTensor";
    PyTorch's strings, so comparisons with them hold); with a dtype (or such a name), the cast tensor."""
    if dtype is None:
        cuda = ".cuda" if x.is_cuda else ""
        return f"torch{cuda}.{_TYPE_NAMES[x.dtype.name]}"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        names = {v: k for k, v in _TYPE_NAMES.items()}
        name = dtype.rsplit(".", 1)[-1]
        if name not in names:
            raise TypeError(f"type: unknown tensor type {dtype!r}")
        out = to(x, dtype=names[name])
        return to(out, "cuda") if ".cuda." in dtype else out
    return to(x, dtype=dtype)


def _short(dtype):
    def method(self, memory_format=None):
        return cast(self, backend.DTYPES[dtype])

    method.__name__ = method.__qualname__ = {"float32": "float", "float64": "double", "float16": "half",
                                             "int64": "long", "int32": "int", "int16": "short", "int8": "char",
                                             "uint8": "byte", "bool": "bool"}[dtype]
    method.__doc__ = f"This tensor as {dtype} (itself if it already is); differentiable between floating dtypes."
    return method


def _install_methods():
    for dtype in backend.DTYPES:
        method = _short(dtype)
        setattr(Tensor, method.__name__, method)
    Tensor.to = to
    Tensor.type = type_
    Tensor.type_as = lambda self, other: cast(self, check_tensor("other", other, op="type_as").dtype)
    Tensor.cpu = lambda self: to(self, "cpu")
    Tensor.cuda = lambda self, device=None, non_blocking=False: to(
        self, "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))
    Tensor.is_floating_point = lambda self: self._data.dtype.kind == "f"


_install_methods()
