"""Small helpers shared by the op files: argument checking, pairs of ints, memory layouts."""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor


def check_tensor(name: str, x, ndim=None, op: str = "") -> Tensor:
    """Raise TypeError unless ``x`` is a Tensor, ValueError unless it has ``ndim`` dims (an int or a tuple of ints)."""
    where = f"{op}: " if op else ""
    if not isinstance(x, Tensor):
        if isinstance(x, np.ndarray) or backend.is_cupy_array(x):  # most often t.data, a Tensor in PyTorch
            raise TypeError(f"{where}{name} must be a Tensor, got a {type(x).__module__.split('.')[0]} array; "
                            f"tinycnn's t.data is the array itself (PyTorch's is a Tensor): pass t.detach()")
        raise TypeError(f"{where}{name} must be a Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(f"{where}{name} must be {want}, got shape {x.shape}")
    return x


def data_as_tensor(x):
    """``x`` as a Tensor when it is a NumPy/CuPy array (sharing it), else ``x`` unchanged. For the functions that
    PyTorch's tutorials call on ``outputs.data`` (``_, predicted = torch.max(outputs.data, 1)``): there ``.data``
    is a detached Tensor, in tinycnn the array itself, so these take the array as that Tensor."""
    if isinstance(x, np.ndarray) or backend.is_cupy_array(x):
        return Tensor(x)
    return x


def check_float(name: str, x: Tensor, op: str = "") -> None:
    """Raise TypeError unless ``x`` holds floating-point numbers."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must have a floating dtype, got {x.dtype}")


def check_same_dtype(op: str, **tensors) -> None:
    """Raise TypeError if tensors of different dtypes meet where PyTorch raises too (matmul, linear, conv2d, batch
    norm; arithmetic promotes instead, see cast.py)."""
    dtypes = {name: t.dtype for name, t in tensors.items() if t is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n}={d}" for n, d in dtypes.items())
        raise TypeError(f"{op}: inputs must share one dtype, got {listed}; cast with .to(dtype), e.g. x.double()")


def pair(name: str, value, op: str, minimum: int = 0) -> tuple:
    """``value`` as a pair of ints (PyTorch's ``_pair``): an int ``k`` becomes ``(k, k)``.

    Raises TypeError for non-ints and ValueError for values below ``minimum``.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        value = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(value) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return value


def empty_like_layout(shape, like, dtype=None, fill=None):
    """A new array of ``shape`` whose axes lie in memory in the order of ``like``'s (same ndim).

    NumPy's ``empty`` is C-ordered; an op on arrays of different memory orders walks one of them with short
    strided rows and runs several times slower, so ops allocate their outputs in their input's order (conv keeps
    (C, H, W, N) memory behind NCHW views). ``fill`` initializes the values when given.
    """
    return empty_in_order(shape, _axis_order(like), dtype or like.dtype, backend.get_array_module(like), fill)


def empty_in_order(shape, order, dtype, xp, fill=None):
    """A new array of ``shape`` whose axes lie in memory in ``order`` (outermost first, as ``_axis_order`` gives it
    for an array whose layout an op keeps for later without keeping the array itself)."""
    buf = xp.empty([shape[a] for a in order], dtype=dtype)
    if fill is not None:
        buf.fill(fill)
    inverse = [0] * len(order)
    for pos, axis in enumerate(order):
        inverse[axis] = pos
    return buf.transpose(inverse)


def _axis_order(a):
    return sorted(range(a.ndim), key=lambda k: -abs(a.strides[k]))


def as_layout(a, like):
    """``a``'s values with their axes in the memory order of ``like`` (same shape): ``a`` itself when it already is,
    else one copy. An op that walks two arrays of different memory orders together reads one of them in short
    strided runs; one copy up front is cheaper when the walk happens several times (once per pooling offset)."""
    if _axis_order(a) == _axis_order(like):
        return a
    out = empty_like_layout(a.shape, like, dtype=a.dtype)
    out[...] = a
    return out


def product_is_exact(g) -> bool:
    """Whether ``g * mask`` may stand in for ``where(mask, g, 0)``: the product is 10x faster on the CPU (``where``
    branches per element), but inf * 0 is NaN where a backward must give exactly 0, as PyTorch's does. True for a
    finite NumPy array; False on the GPU, where ``where`` is as fast and checking would cost a device sync."""
    xp = backend.get_array_module(g)
    return xp is np and bool(np.isfinite(g).all())
