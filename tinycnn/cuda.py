"""``tinycnn.cuda``: the GPU questions courses ask, as ``torch.cuda`` answers them.

tinycnn runs on an NVIDIA GPU through CuPy, so "is CUDA available" means: CuPy imports and sees at least one GPU.
Without CuPy, or without a GPU, ``is_available()`` is False and ``device_count()`` 0, never an exception, so the
idiom ``device = tinycnn.device("cuda" if tinycnn.cuda.is_available() else "cpu")`` picks the CPU.
"""
from __future__ import annotations

from . import backend

__all__ = ["is_available", "device_count", "current_device", "manual_seed", "manual_seed_all", "synchronize"]


def device_count() -> int:
    """The number of GPUs CuPy sees (``torch.cuda.device_count``); 0 without CuPy or a working driver."""
    cupy = backend._cupy()
    if cupy is None:
        return 0
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, or no GPU
        return 0


def is_available() -> bool:
    """True when tinycnn can put tensors on a GPU: CuPy is installed and sees a GPU (``torch.cuda.is_available``)."""
    return device_count() > 0


def current_device() -> int:
    """The index of the GPU that ``"cuda"`` means: always 0 in tinycnn (``torch.cuda.current_device``). Raises
    DeviceError without a usable GPU, as PyTorch raises."""
    backend.cupy_or_raise()
    return 0


def manual_seed(seed: int) -> None:
    """Seed the GPU's generator only (``torch.cuda.manual_seed``); the CPU's keeps its stream. Works without a GPU
    (nothing to seed then, as PyTorch's lazy seeding). Raises TypeError unless ``seed`` is an int."""
    backend.manual_seed_gpu(seed)


manual_seed_all = manual_seed  # tinycnn's "cuda" generator serves every GPU


def synchronize(device=None) -> None:
    """Wait for the GPU's queued work to finish (``torch.cuda.synchronize``), e.g. before reading a timer.
    Raises DeviceError without a usable GPU, as PyTorch raises."""
    cupy = backend.cupy_or_raise()
    index = 0 if device is None else backend.parse_device(device).split(":")[1]
    with cupy.cuda.Device(int(index)):
        cupy.cuda.Device().synchronize()

from ._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tinycnn.cuda", "torch.cuda")
