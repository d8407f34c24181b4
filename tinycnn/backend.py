"""Which array module holds an array, device names, the random generator, and the threads for CPU copies.

Every op asks the data it is given for its array module (``xp = get_array_module(x)``) instead of importing NumPy
for the math, so that the same op code runs on NumPy (device ``"cpu"``) and on CuPy (device ``"cuda"`` or
``"cuda:N"``). CuPy is optional: it is imported lazily and only when a CUDA device is asked for or a CuPy array
is seen.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading

import numpy as np

from . import _environment

__all__ = [
    "get_array_module", "parse_device", "device_of", "to_device", "is_cupy_array", "cupy_or_raise",
    "manual_seed", "manual_seed_gpu", "get_rng", "DeviceError", "get_num_threads", "set_num_threads", "parallel_for",
    "DTYPES", "parse_dtype", "promote_types", "can_cast",
]

_GPU_HINT = (
    "install the GPU extra: `pip install 'tinycnn[gpu]'` (it installs cupy-cuda12x, for CUDA 12 drivers; "
    "use cupy-cuda11x for CUDA 11 or cupy-cuda13x for CUDA 13)"
)


class DeviceError(RuntimeError):
    """Raised when a CUDA device is asked for but CuPy or a GPU is absent, or when two devices meet in one op."""


def _cupy():
    """The cupy module if it can be imported, else None (imported lazily: most users never need it)."""
    try:
        import cupy  # noqa: PLC0415
    except Exception:  # ImportError, or a CUDA library that fails to load
        return None
    return cupy


def is_cupy_array(array) -> bool:
    """True if ``array`` is a CuPy ndarray (checked by its type's module, so CuPy is never imported for it)."""
    return type(array).__module__.startswith("cupy")


def cupy_or_raise():
    """Return the cupy module, or raise DeviceError saying how to install it and which wheel fits which CUDA."""
    cupy = _cupy()
    if cupy is None:
        raise DeviceError(f"device 'cuda' needs CuPy, which is not importable; {_GPU_HINT}")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver, or no GPU
        raise DeviceError(f"CuPy is installed but no CUDA GPU is usable ({exc}); run on device='cpu'") from exc
    if count == 0:
        raise DeviceError("CuPy is installed but no CUDA GPU was found; run on device='cpu'")
    return cupy


def get_array_module(*arrays):
    """The array module (numpy or cupy) that holds ``arrays``: cupy if any of them is a CuPy array, else numpy.

    Follows ``cupy.get_array_module``; works without CuPy installed.
    """
    for a in arrays:
        if is_cupy_array(a):
            return _cupy()
    return np


def parse_device(device) -> str:
    """Normalize a device to its name: ``"cpu"`` or ``"cuda:N"`` (``"cuda"`` is ``"cuda:0"``).

    Accepts a ``tinycnn.device`` (or a ``torch.device``), a name spelled as ``torch.device`` accepts it
    (``"cpu"``, ``"cpu:N"``: the CPU, as PyTorch allows an index there; ``"cuda"``, ``"cuda:N"``), an int N
    (``"cuda:N"``, as ``torch.device(N)``) and None (the CPU). Raises ValueError for any other name, as
    ``torch.device`` raises for one: "gpu", "CPU" (torch's names are lower case), " cpu", "cuda:01".
    """
    if device is None:
        return "cpu"
    if isinstance(device, (int, np.integer)) and not isinstance(device, bool) and device >= 0:
        return f"cuda:{int(device)}"
    name = str(device)
    kind, _, index = name.partition(":")
    if kind in ("cpu", "cuda") and (":" not in name or _device_index(index)):
        return "cpu" if kind == "cpu" else f"cuda:{int(index or 0)}"
    raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def _device_index(text: str) -> bool:
    """torch.device's index: decimal digits without a sign or a leading zero ("0" itself is fine)."""
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))


def device_of(array) -> str:
    """The device name of an array: ``"cpu"`` for NumPy, ``"cuda:N"`` for CuPy (``Tensor.device`` is the
    ``tinycnn.device`` of this name)."""
    if is_cupy_array(array):
        return f"cuda:{array.device.id}"
    return "cpu"


def to_device(array, device):
    """Copy ``array`` to ``device`` (no copy when it is already there). Returns a NumPy or CuPy array."""
    device = parse_device(device)
    if device == device_of(array):
        return array
    if device == "cpu":
        return array.get()
    cupy = cupy_or_raise()
    with cupy.cuda.Device(int(device.split(":")[1])):
        return cupy.asarray(array)


# ----- dtypes -----
# tinycnn's dtypes are NumPy's dtype objects (``tinycnn.float32 is numpy.dtype("float32")``, the object every
# ``Tensor.dtype`` returns), under PyTorch's names; the aliases (``tinycnn.float``, ``tinycnn.long`` ...) are
# ``torch``'s. The set is PyTorch's usual one; other NumPy dtypes (uint16, complex) are refused where a dtype is
# asked for.
DTYPES = {name: np.dtype(name) for name in
          ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")}
_DTYPE_ALIASES = {"half": "float16", "float": "float32", "double": "float64", "short": "int16", "int": "int32",
                  "long": "int64"}
# a Python type as a dtype means what it means to torch: float -> float64, int -> int64, bool -> bool
_PYTHON_TYPES = {float: DTYPES["float64"], int: DTYPES["int64"], bool: DTYPES["bool"]}


def parse_dtype(dtype, name: str = "dtype", op: str = ""):
    """``dtype`` as one of tinycnn's dtypes (a ``numpy.dtype``): accepts those objects, NumPy scalar types
    (``np.float32``), their names ("float32", "long") and Python's ``float``/``int``/``bool`` (float64, int64, bool
    as ``torch`` reads them). None stays None.

    Raises TypeError naming ``name`` for anything else (complex, uint16, objects).
    """
    if dtype is None:
        return None
    if dtype in _PYTHON_TYPES and isinstance(dtype, type):
        return _PYTHON_TYPES[dtype]
    if isinstance(dtype, str):
        dtype = _DTYPE_ALIASES.get(dtype, dtype)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        where = f"{op}: " if op else ""
        raise TypeError(f"{where}{name} must be one of tinycnn's dtypes ({', '.join(DTYPES)}), got {dtype!r}")
    return DTYPES[dt.name]


def promote_types(a, b):
    """The dtype two dtypes promote to, by ``torch.promote_types``: a floating type wins over an integer or bool one
    whatever its width (int64 with float32 -> float32, where NumPy gives float64); bool gives way to anything;
    two integer or two floating types take the wider (uint8 with int8 -> int16)."""
    if a == b:
        return a
    ka, kb = a.kind, b.kind
    if ka == "b":
        return b
    if kb == "b":
        return a
    if ka == "f" and kb != "f":
        return a
    if kb == "f" and ka != "f":
        return b
    return np.promote_types(a, b)


def can_cast(src, dst) -> bool:
    """Whether an in-place op may write a ``src`` result into a ``dst`` tensor (``torch.can_cast``): never floating
    into integer or bool, nor integer into bool; any narrowing within a kind is allowed."""
    order = {"b": 0, "u": 1, "i": 1, "f": 2}
    return order[src.kind] <= order[dst.kind]


# One generator per array module: dropout masks and weight init draw from it, so manual_seed makes runs repeat.
_rngs: dict = {}
_seed = None  # the last manual_seed; a generator created later (CuPy imported after the seed) starts from it
_gpu_seed = None  # the last tinycnn.cuda.manual_seed since then, for CuPy's generator alone


def _check_seed(seed):
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return int(seed)


def manual_seed(seed: int) -> None:
    """Seed tinycnn's random generators (NumPy's, and CuPy's), as ``torch.manual_seed``.

    Each array module's generator is (re)created from ``seed`` on its next use, so CuPy's is seeded too when CuPy
    is imported only after this call (``fit`` seeds, then moves the model to the GPU). Raises TypeError when
    ``seed`` is not an int.
    """
    global _seed, _gpu_seed
    _seed = _check_seed(seed)
    _gpu_seed = None
    _rngs.clear()


def manual_seed_gpu(seed: int) -> None:
    """Seed the GPU's generator alone (``torch.cuda.manual_seed``): created from ``seed`` on its next use."""
    global _gpu_seed
    _gpu_seed = _check_seed(seed)
    for xp in [xp for xp in _rngs if xp is not np]:
        del _rngs[xp]


def get_rng(xp=np):
    """The generator of array module ``xp`` (``numpy.random.Generator`` or CuPy's), created on first use from the
    last ``manual_seed`` (unseeded if there was none)."""
    rng = _rngs.get(xp)
    if rng is None:
        seed = _gpu_seed if xp is not np and _gpu_seed is not None else _seed
        rng = _rngs[xp] = xp.random.default_rng(seed)
    return rng


# ----- threads for the copies around the GEMMs -----
# BLAS runs the GEMMs on every core, but NumPy's copies and element-wise loops run on one. im2col and col2im move
# as many bytes as the GEMM computes on, so on the CPU they are split across threads: NumPy releases the GIL inside
# a copy or a ufunc loop, so threads that copy disjoint blocks run on separate cores (1.7x on 2 cores, measured in
# benchmarks/). Work smaller than this many bytes (about 0.4 ms of copying) stays on the calling thread: handing
# it over to another thread costs up to 0.1 ms.
PARALLEL_MIN_BYTES = 4 << 20

_num_threads = None
_pool = None
_pool_lock = threading.Lock()


def get_num_threads() -> int:
    """Threads tinycnn uses for its CPU copies (im2col, col2im): ``set_num_threads``'s value, else the environment
    variable ``TINYCNN_NUM_THREADS``, else the number of CPUs this process may run on (``torch.get_num_threads``'s
    counterpart; BLAS has its own setting, ``OPENBLAS_NUM_THREADS``). Raises ValueError (naming the variable and
    its value) when TINYCNN_NUM_THREADS is set to anything but an integer >= 1."""
    if _num_threads is not None:
        return _num_threads
    env = _environment.num_threads()  # a bad value is an error naming it, never ignored
    if env is not None:
        return env
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for tinycnn's CPU copies (1 turns threading off). Raises ValueError unless n is an int
    >= 1. On a machine shared with other busy processes, fewer threads than cores is faster."""
    global _num_threads
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    _num_threads = int(n)
    _drop_pool()


def _drop_pool():
    """Forget the pool; the next parallel_for makes one of the new size. The old one is not shut down (a call on
    another thread may still be using it): its idle threads exit once it is garbage collected."""
    global _pool
    with _pool_lock:
        _pool = None


def parallel_for(count: int, fn, nbytes: int, xp=np) -> None:
    """Call ``fn(start, stop)`` on contiguous chunks covering ``range(count)``, one chunk per thread, and wait for
    all. ``fn`` must write disjoint memory for disjoint chunks. Runs inline for one thread, one item, work below
    ``PARALLEL_MIN_BYTES`` (``nbytes``: about how many bytes the whole call moves), or arrays not on the CPU (``xp``
    other than NumPy: the GPU runs each call in parallel already). An exception in any chunk is raised here, after
    every chunk has stopped."""
    global _pool
    threads = min(get_num_threads(), count)
    if threads <= 1 or nbytes < PARALLEL_MIN_BYTES or xp is not np:
        fn(0, count)
        return
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(get_num_threads(), thread_name_prefix="tinycnn")
        pool = _pool
    bounds = [count * k // threads for k in range(threads + 1)]
    futures = [pool.submit(fn, a, b) for a, b in zip(bounds[1:-1], bounds[2:])]
    try:
        fn(bounds[0], bounds[1])  # the calling thread takes the first chunk
    finally:  # even when it fails: no worker may still be writing when this returns
        concurrent.futures.wait(futures)
    for f in futures:
        f.result()  # re-raises an exception from a worker


if hasattr(os, "register_at_fork"):  # a forked child inherits the pool object but not its threads
    os.register_at_fork(after_in_child=lambda: globals().update(_pool=None, _pool_lock=threading.Lock()))
