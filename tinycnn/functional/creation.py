"""Making tensors, as PyTorch's creation functions: ``tensor`` (copies), ``from_numpy`` / ``as_tensor`` (share),
``zeros``, ``ones``, ``empty``, ``full``, ``arange``, ``linspace``, ``eye``, ``randn``, ``rand``, ``randint`` and the
``*_like`` forms.

Each takes ``dtype=``, ``device=`` ("cpu", "cuda", "cuda:N") and ``requires_grad=``; sizes are given as PyTorch's
are, ``zeros(2, 3)`` or ``zeros((2, 3))``. Default dtypes are PyTorch's: float32 for floating values, int64 for
integers, bool for bools. The random ones draw from tinycnn's generator, seeded by ``tinycnn.manual_seed``: runs
repeat, but the values are not those PyTorch's generator would give for the same seed (a documented difference).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["tensor", "from_numpy", "as_tensor", "zeros", "ones", "empty", "full", "arange", "linspace", "eye",
           "randn", "rand", "randint", "randperm", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like",
           "randn_like", "is_tensor", "numel"]

_FLOAT32, _INT64, _BOOL = backend.DTYPES["float32"], backend.DTYPES["int64"], backend.DTYPES["bool"]


def _finish(op, arr, device, requires_grad) -> Tensor:
    """``arr`` (a NumPy array) as a Tensor on ``device``."""
    if device is not None:
        arr = backend.to_device(arr, backend.parse_device(device))
    if requires_grad and arr.dtype.kind != "f":
        raise TypeError(f"{op}: only Tensors of floating dtype can require gradients, got {arr.dtype}")
    return Tensor(arr, requires_grad=bool(requires_grad))


def _check_dtype(arr, op):
    if arr.dtype.name not in backend.DTYPES:
        raise TypeError(f"{op}: dtype {arr.dtype} is not supported by tinycnn ({', '.join(backend.DTYPES)})")
    return arr


def _holds_arrays(data) -> bool:
    if isinstance(data, (Tensor, np.ndarray, np.generic)) or backend.is_cupy_array(data):
        return True
    return isinstance(data, (list, tuple)) and any(_holds_arrays(d) for d in data)


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a COPY of ``data`` (``torch.tensor``): Python ints give int64, floats float32, bools
    bool; a NumPy array or a Tensor keeps its dtype (copied, and cut from any graph).

    Raises TypeError for data that is not numbers or arrays, an unsupported dtype, or ``requires_grad`` on an
    integer or bool result.
    """
    dtype = backend.parse_dtype(dtype, "dtype", "tensor")
    if isinstance(data, Tensor):
        arr = data._data.copy()
    elif backend.is_cupy_array(data):
        arr = data.copy()
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data, copy=True)
    else:
        try:
            arr = np.array(data)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"tensor: data must be numbers, nested lists of numbers, or arrays: {exc}") from None
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"tensor: data must be numbers or nested lists of numbers, got {type(data).__name__}")
        if not _holds_arrays(data):  # Python numbers: PyTorch's defaults
            arr = arr.astype(_FLOAT32 if arr.dtype.kind == "f" else _INT64 if arr.dtype.kind in "iu" else _BOOL)
    arr = _check_dtype(arr if dtype is None else arr.astype(dtype, copy=False), "tensor")
    return _finish("tensor", arr, device, requires_grad)


def from_numpy(array) -> Tensor:
    """A tensor SHARING ``array``'s memory and dtype (``torch.from_numpy``): writes through either are seen by both.

    Raises TypeError unless ``array`` is a NumPy array of a supported dtype.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    return Tensor(_check_dtype(array, "from_numpy"))


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, without a copy when possible (``torch.as_tensor``): a Tensor of the right dtype and
    device is returned as it is, a NumPy array of the right dtype on the CPU is shared; anything else is converted
    (a Tensor's conversion stays in its graph)."""
    dtype = backend.parse_dtype(dtype, "dtype", "as_tensor")
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device is not None or dtype is not None) else data
    if isinstance(data, np.ndarray) or backend.is_cupy_array(data):
        arr = _check_dtype(data if dtype is None else data.astype(dtype, copy=False), "as_tensor")
        return _finish("as_tensor", arr, device, False)
    return tensor(data, dtype=dtype, device=device)


def _size(op, size) -> tuple:
    """PyTorch's size arguments: ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``; raises TypeError for non-ints and
    ValueError for negative sizes."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool):
            raise TypeError(f"{op}: size must be ints, or one tuple of ints, got {size!r}")
        if s < 0:
            raise ValueError(f"{op}: Dimension size must be non-negative, got {size!r}")
    return tuple(int(s) for s in size)


def _make(op, fill, size, dtype, device, requires_grad, default=_FLOAT32):
    dtype = backend.parse_dtype(dtype, "dtype", op) or default
    shape = _size(op, size)
    arr = np.empty(shape, dtype=dtype) if fill is None else np.full(shape, fill, dtype=dtype)
    return _finish(op, arr, device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of shape ``size`` (``torch.zeros``), float32 unless ``dtype`` says otherwise."""
    return _make("zeros", 0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (``torch.ones``)."""
    return _make("ones", 1, size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialized tensor (``torch.empty``): its values are whatever the memory held."""
    return _make("empty", None, size, dtype, device, requires_grad)


def _value_dtype(value):
    if isinstance(value, Tensor):
        return value.dtype
    if isinstance(value, (bool, np.bool_)):
        return _BOOL
    return _INT64 if isinstance(value, numbers.Integral) else _FLOAT32


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (``torch.full``); the dtype follows the value (bool,
    int64 or float32) unless given."""
    if isinstance(size, numbers.Integral):
        raise TypeError("full: size must be a tuple of ints, as PyTorch's (full((2, 3), value))")
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _make("full", value, (size,), dtype, device, requires_grad, default=_value_dtype(fill_value))


def _number(op, name, v):
    if isinstance(v, Tensor):
        v = v.item()
    if not isinstance(v, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {type(v).__name__}")
    return v


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``[start, start + step, ...]`` up to ``end`` excluded (``torch.arange``; ``arange(n)`` is 0..n-1). int64 when
    all three are integers, else float32.

    Raises ValueError for step 0 or a step whose sign cannot reach end.
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_number("arange", n, v) for n, v in (("start", start), ("end", end), ("step", step)))
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: upper bound and larger bound inconsistent with step sign (start {start}, end {end}, "
                         f"step {step})")
    integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = backend.parse_dtype(dtype, "dtype", "arange") or (_INT64 if integral else _FLOAT32)
    arr = np.arange(start, end, step, dtype=np.int64 if integral else np.float64).astype(dtype)
    return _finish("arange", arr, device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` values evenly spaced from ``start`` to ``end`` included (``torch.linspace``), float32 by default.

    Raises ValueError unless ``steps`` is a non-negative int."""
    start, end = _number("linspace", "start", start), _number("linspace", "end", end)
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    dtype = backend.parse_dtype(dtype, "dtype", "linspace") or _FLOAT32
    return _finish("linspace", np.linspace(start, end, int(steps)).astype(dtype), device, requires_grad)


def eye(n: int, m: int = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The ``n`` x ``m`` identity matrix (``torch.eye``; m defaults to n), float32 by default."""
    n, m = _size("eye", (n, n if m is None else m))
    dtype = backend.parse_dtype(dtype, "dtype", "eye") or _FLOAT32
    return _finish("eye", np.eye(n, m, dtype=dtype), device, requires_grad)


def _draw(op, size, dtype, device, requires_grad, draw):
    dtype = backend.parse_dtype(dtype, "dtype", op) or _FLOAT32
    if dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating dtype, got {dtype}")
    device = backend.parse_device(device) if device is not None else "cpu"
    xp = np if device == "cpu" else backend.cupy_or_raise()
    arr = draw(backend.get_rng(xp), _size(op, size))
    arr = backend.to_device(arr.astype(dtype, copy=False), device)
    return _finish(op, arr, None, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Draws from the standard normal distribution (``torch.randn``), from tinycnn's seeded generator (values
    differ from PyTorch's). ``generator`` is not supported (NotImplementedError)."""
    _no_generator("randn", generator)
    return _draw("randn", size, dtype, device, requires_grad, lambda rng, s: rng.standard_normal(s))


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Draws from U[0, 1) (``torch.rand``), from tinycnn's seeded generator (values differ from PyTorch's)."""
    _no_generator("rand", generator)
    return _draw("rand", size, dtype, device, requires_grad, lambda rng, s: rng.random(s))


def _no_generator(op, generator):
    if generator is not None:
        raise NotImplementedError(f"{op}: generator= is not supported by tinycnn; seed with tinycnn.manual_seed")


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers drawn uniformly from [low, high) (``torch.randint(low=0, high, size)``; ``randint(high, size)``),
    int64 by default, from tinycnn's seeded generator (values differ from PyTorch's).

    Raises ValueError when high <= low, TypeError without a size tuple."""
    _no_generator("randint", generator)
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: size must be given as a tuple, as PyTorch's randint(low, high, size)")
        low, high, size = 0, low, high
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple of ints, got {size!r}")
    low, high = int(_number("randint", "low", low)), int(_number("randint", "high", high))
    if high <= low:
        raise ValueError(f"randint: random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dtype = backend.parse_dtype(dtype, "dtype", "randint") or _INT64
    device = backend.parse_device(device) if device is not None else "cpu"
    xp = np if device == "cpu" else backend.cupy_or_raise()
    arr = backend.get_rng(xp).integers(low, high, _size("randint", (size,))).astype(dtype)
    return _finish("randint", backend.to_device(arr, device), None, requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 (``torch.randperm``), int64 by default, from tinycnn's seeded generator
    (the order differs from PyTorch's). Raises ValueError for a negative n, TypeError for a non-int."""
    _no_generator("randperm", generator)
    (n,) = _size("randperm", (n,))
    dtype = backend.parse_dtype(dtype, "dtype", "randperm") or _INT64
    device = backend.parse_device(device) if device is not None else "cpu"
    xp = np if device == "cpu" else backend.cupy_or_raise()
    arr = backend.get_rng(xp).permutation(n).astype(dtype)
    return _finish("randperm", backend.to_device(arr, device), None, requires_grad)


def _like(op, x, dtype, device):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    return (backend.parse_dtype(dtype, "dtype", op) or x.dtype), (x.device if device is None else device)


def zeros_like(x, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of x's shape, dtype and device (``torch.zeros_like``)."""
    dtype, device = _like("zeros_like", x, dtype, device)
    return zeros(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(x, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of x's shape, dtype and device (``torch.ones_like``)."""
    dtype, device = _like("ones_like", x, dtype, device)
    return ones(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(x, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialized tensor of x's shape, dtype and device (``torch.empty_like``)."""
    dtype, device = _like("empty_like", x, dtype, device)
    return empty(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(x, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` in x's shape, dtype and device (``torch.full_like``: the value is cast to x's dtype)."""
    dtype, device = _like("full_like", x, dtype, device)
    return full(x.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(x, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``rand`` in x's shape, dtype and device. Raises TypeError for an integer dtype, as PyTorch raises."""
    dtype, device = _like("rand_like", x, dtype, device)
    return rand(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(x, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``randn`` in x's shape, dtype and device. Raises TypeError for an integer dtype."""
    dtype, device = _like("randn_like", x, dtype, device)
    return randn(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a tinycnn Tensor (``torch.is_tensor``)."""
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> int:
    """The number of elements of ``x`` (``torch.numel``)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"numel: input must be a Tensor, got {type(x).__name__}")
    return x.numel()
