"""Which array module holds an array, device names, and the random generator.

Every op asks the data it is given for its array module (``xp = get_array_module(x)``) instead of importing NumPy
for the math, so that the same op code runs on NumPy (device ``"cpu"``) and on CuPy (device ``"cuda"`` or
``"cuda:N"``). CuPy is optional: it is imported lazily and only when a CUDA device is asked for or a CuPy array
is seen.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "get_array_module", "parse_device", "device_of", "to_device", "is_cupy_array", "cupy_or_raise",
    "manual_seed", "get_rng", "DeviceError",
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
    """Normalize a device name: ``"cpu"``, ``"cuda"`` (= ``"cuda:0"``) or ``"cuda:N"``.

    Raises ValueError for any other name (PyTorch's names; "gpu" is not accepted).
    """
    if device is None:
        return "cpu"
    name = str(device).strip().lower()
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        return "cuda:0"
    if name.startswith("cuda:") and name[5:].isdigit():
        return name
    raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def device_of(array) -> str:
    """The device name of an array: ``"cpu"`` for NumPy, ``"cuda:N"`` for CuPy."""
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


# One generator per array module: dropout masks and weight init draw from it, so manual_seed makes runs repeat.
_rngs: dict = {}
_seed = None  # the last manual_seed; a generator created later (CuPy imported after the seed) starts from it


def manual_seed(seed: int) -> None:
    """Seed tinycnn's random generators (NumPy's, and CuPy's), as ``torch.manual_seed``.

    Each array module's generator is (re)created from ``seed`` on its next use, so CuPy's is seeded too when CuPy
    is imported only after this call (``fit`` seeds, then moves the model to the GPU). Raises TypeError when
    ``seed`` is not an int.
    """
    global _seed
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    _seed = int(seed)
    _rngs.clear()


def get_rng(xp=np):
    """The generator of array module ``xp`` (``numpy.random.Generator`` or CuPy's), created on first use from the
    last ``manual_seed`` (unseeded if there was none)."""
    rng = _rngs.get(xp)
    if rng is None:
        rng = _rngs[xp] = xp.random.default_rng(_seed)
    return rng
