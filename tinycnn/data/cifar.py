"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009): where the files come from, how they are checked, and the cache.

The loaders try these sources in order and report which one they used (a line on stderr when ``verbose``, and
always through :func:`tinycnn.data.last_source`), as :mod:`tinycnn.data.mnist` does for MNIST:

1. A folder you name: ``root=`` (CLI ``--data-dir``), which must then hold the files (an error otherwise, never a
   silent fallback); else the environment variable ``TINYCNN_DATA``, skipped when it lacks them. The folder may hold
   the official layout in any of its published forms (:mod:`tinycnn.data.cifar_files`), looked for in this order:
   the binary version's folder (``cifar-10-batches-bin/``), the python version's (``cifar-10-batches-py/``), either
   folder's files directly in the folder named, then the official archives themselves (``cifar-10-binary.tar.gz``,
   ``cifar-10-python.tar.gz``), read in memory without extracting anything.
2. The converted cache, ``$TINYCNN_CACHE`` or ``~/.cache/tinycnn/mnist/`` (the one cache folder of every data set):
   ``cifar10-{split}.npz`` / ``cifar100-{split}.npz`` with a ``.sha256`` sidecar, checked on load, written
   atomically.
3. The official download: the binary version's archive from the data set's home page (``TINYCNN_CIFAR_MIRRORS``
   replaces the list of base URLs, separated by spaces; ``TINYCNN_NO_MIRRORS=1`` skips the step), 5 s timeout per
   socket operation, one try. One download serves both splits, which are then cached.

**Checksums before anything is read.** Every file's md5 is compared with the published one (an archive's, then each
member's) before it is parsed; a python-version file, a pickle, is then read only through a restricted unpickler
that builds NumPy arrays and plain types and nothing else. A file that fails is refused with a ValueError naming
it, the expected and the actual md5: it is never used and never cached. ``verify=False`` (CLI ``--no-verify``)
loads files in the official layout that are not the official ones (a subset, a relabelled copy, test data) from
the folder you name, with one warning per load that nothing was verified; the cache and the download are verified
whatever ``verify`` says.

Whatever the source: images uint8 (N, 3, 32, 32) in RGB order, labels int64 (N,), in the official order (train:
data_batch_1 to data_batch_5; 50,000 and 10,000 images).
"""
from __future__ import annotations

import http.client
import os
import sys
from pathlib import Path

import numpy as np

from .cifar_files import (CIFAR10_MD5, CIFAR100_MD5, LAYOUTS, Layout, parse_binary, parse_python,
                          read_tar_members, verified)
from .sources import (cache_dir, download, load_cache, mirrors, report, save_cache, verify_hash,
                      warn_unverified)

__all__ = ["load_cifar10", "load_cifar100", "CIFAR_MIRRORS", "CIFAR10_CLASSES"]

SPLITS = ("train", "test")
CIFAR_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
MIRRORS_ENV = "TINYCNN_CIFAR_MIRRORS"
# torchvision's CIFAR10.classes, the order of the labels (batches.meta's label_names)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_TITLES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
_TABLES = {"cifar10": CIFAR10_MD5, "cifar100": CIFAR100_MD5}  # the dicts themselves: tests register files in them
_CLASSES = {"cifar10": (10,), "cifar100": (20, 100)}  # per label field (CIFAR-100: coarse, fine)


def _table(key: str) -> dict:
    return _TABLES[key]


def _checked(images, labels, key: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a split: uint8 (N, 3, 32, 32) images and (N, fields) integer labels within each field's classes."""
    images, labels = np.asarray(images), np.asarray(labels)
    classes = _CLASSES[key]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (3, 32, 32):
        raise ValueError(f"{name}: expected images uint8 (N, 3, 32, 32), got {images.dtype} {images.shape}")
    if labels.shape != (len(images), len(classes)) or labels.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected {len(images)} x {len(classes)} integer labels, got {labels.dtype} "
                         f"{labels.shape}")
    for field, n in enumerate(classes):
        column = labels[:, field]
        if len(column) and (column.min() < 0 or column.max() >= n):
            what = ("coarse labels" if field == 0 else "fine labels") if len(classes) == 2 else "labels"
            raise ValueError(f"{name}: {what} must lie in 0..{n - 1}, got {column.min()}..{column.max()}")
    return images, labels.astype(np.int64)


def _parse(data: bytes, layout: Layout, name: str, key: str):
    """The checked (images, labels) of one file's bytes (ValueError naming the file)."""
    parse = parse_binary if layout.kind == "binary" else parse_python
    return _checked(*parse(data, layout.label_fields, name), key, name)


def _join(parts):
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# --- source 1: a folder ----------------------------------------------------------------------------------

def _candidates(folder: Path, layout: Layout, split: str):
    """Where in ``folder`` this layout's files of ``split`` may be: (kind, path) pairs, folders before archives."""
    names = layout.files[split]
    for sub in (folder / layout.folder, folder):
        if all((sub / n).is_file() for n in names):
            yield "files", sub
    if (folder / layout.archive).is_file():
        yield "archive", folder / layout.archive


def _from_folder(folder: Path, split: str, key: str, verify: bool):
    """(images, labels, location) from the first published form found in ``folder``, or None."""
    table, title = _table(key), _TITLES[key]
    found = [(layout, kind, path) for layout in LAYOUTS[key] for kind, path in _candidates(folder, layout, split)]
    # all folders first (binary, then python), then the archives (binary, then python)
    found.sort(key=lambda hit: hit[1] == "archive")
    if not found:
        return None
    layout, kind, path = found[0]
    names = layout.files[split]
    if kind == "files":
        parts = []
        for n in names:
            p = path / n
            parts.append(_parse(verified(p.read_bytes(), table, n, str(p), title, verify), layout, str(p), key))
        return (*_join(parts), str(path))
    archive = verified(path.read_bytes(), table, layout.archive, str(path), title, verify)
    members = read_tar_members(archive, layout.folder, names, str(path))
    parts = [_parse(verified(members[n], table, n, f"{path}!{layout.folder}/{n}", title, verify), layout,
                    f"{path}!{layout.folder}/{n}", key) for n in names]
    return (*_join(parts), str(path))


def _looked_for(folder: Path, key: str, split: str) -> str:
    forms = []
    for layout in LAYOUTS[key]:
        names = layout.files[split]
        forms.append(f"{layout.folder}/{{{','.join(names)}}}" if len(names) > 1 else f"{layout.folder}/{names[0]}")
    archives = " or ".join(layout.archive for layout in LAYOUTS[key])
    return f"no {' or '.join(forms)} (or those files directly) and no {archives} in {folder}"


# --- source 3: the official download -----------------------------------------------------------------------

def _from_mirrors(key: str, failures: list[str], verbose: bool):
    """{split: (images, labels)} from the binary archive of the first mirror that serves it, or None. A wrong md5
    is a ValueError (the mirror serves bad data: stop and say so); a failed transfer moves on to the next mirror."""
    layout, table = LAYOUTS[key][0], _table(key)
    for base_url in mirrors(MIRRORS_ENV, CIFAR_MIRRORS):
        url = base_url + layout.archive
        if verbose:
            print(f"[tinycnn] downloading {url} (about 165 MB)", file=sys.stderr)
        try:
            data = download(url)
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, resets, IncompleteRead
            failures.append(f"mirror {base_url}: {type(e).__name__}: {e}")
            continue
        verify_hash(data, table[layout.archive], "md5", url)
        names = [n for split in SPLITS for n in layout.files[split]]
        members = read_tar_members(data, layout.folder, names, url)
        splits = {}
        for split in SPLITS:
            parts = []
            for n in layout.files[split]:
                where = f"{url}!{layout.folder}/{n}"
                parts.append(_parse(verify_hash(members[n], table[n], "md5", where), layout, where, key))
            splits[split] = _join(parts)
        return splits, base_url
    return None


# --- the public loaders --------------------------------------------------------------------------------------

def _load(key: str, split: str, root, verbose: bool, verify: bool, download_ok: bool = True):
    """(images, labels (N, fields)) of one split from the first source that has it (module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    title = _TITLES[key]
    failures: list[str] = []
    cache_name = f"{key}-{split}"

    named = root is not None
    folder = root if named else os.environ.get("TINYCNN_DATA") or None
    if folder is not None:
        folder = Path(folder)
        if named and not folder.is_dir():
            raise FileNotFoundError(f"{title} folder {folder} does not exist")
        hit = _from_folder(folder, split, key, verify)
        if hit is not None:
            report("root", hit[2], title, split, len(hit[0]), verbose)
            if not verify:
                warn_unverified(title, hit[2])
            return hit[0], hit[1]
        missing = _looked_for(folder, key, split)
        if named:
            raise FileNotFoundError(f"{title} {split}: {missing}")
        failures.append(f"TINYCNN_DATA: {missing}")

    def check(arrays, name):
        return _checked(arrays["images"], arrays["labels"], key, name)

    cached = load_cache(cache_name, check)
    if cached is not None:
        (images, labels), location = cached
        report("cache", location, title, split, len(images), verbose)
        return images, labels
    failures.append(f"cache {cache_dir()}: no valid {cache_name}.npz")

    if not download_ok:
        failures.append("download: not allowed (download=False)")
    elif os.environ.get("TINYCNN_NO_MIRRORS", "") not in ("", "0"):
        failures.append("mirrors: skipped (TINYCNN_NO_MIRRORS is set)")
    else:
        hit = _from_mirrors(key, failures, verbose)
        if hit is not None:
            splits, base_url = hit
            for s, (images, labels) in splits.items():  # one download serves both splits
                save_cache(f"{key}-{s}", images=images, labels=labels)
            images, labels = splits[split]
            report("mirror", base_url, title, split, len(images), verbose)
            return images, labels

    layout = LAYOUTS[key][0]
    raise RuntimeError(f"could not load {title} {split!r}. Tried:\n  - " + "\n  - ".join(failures)
                       + f"\nFetch {layout.archive} from https://www.cs.toronto.edu/~kriz/cifar.html by hand and "
                       "pass root= (--data-dir) or set TINYCNN_DATA to its folder.")


def load_cifar10(split: str = "train", root=None, verify: bool = True, verbose: bool = True, download: bool = True):
    """The CIFAR-10 images and labels of one split (Krizhevsky 2009; the ResNet paper's Sec. 4.2 data).

    Args:
        split: "train" (50,000 images: data_batch_1 .. data_batch_5 in order) or "test" (10,000 images).
        root: a folder holding the official files in any published form (module docstring); default: the
            environment variable ``TINYCNN_DATA``, then the cache, then the download.
        verify: check the folder's files against the official md5s (False: your own files in the official
            layout, with a warning; the cache and the download are always checked).
        verbose: print one line on stderr naming the source used.
        download: try the official download (about 165 MB) when no local source has the files; False: only the
            folder and the cache (a RuntimeError if neither has them), e.g. "CIFAR-10 if it is here".
    Returns:
        (images, labels): images uint8 (N, 3, 32, 32), RGB, values 0..255; labels int64 (N,), values 0..9 in the
        order of :data:`CIFAR10_CLASSES`.
    Raises:
        ValueError: bad split; a file whose md5 is wrong, or that is truncated or malformed (names the file);
            a pickle that would build anything but arrays.
        FileNotFoundError: ``root`` does not exist or does not hold the files.
        RuntimeError: no source worked; the message lists what was tried.
    """
    images, labels = _load("cifar10", split, root, verbose, verify, download)
    return images, labels[:, 0].copy()


def load_cifar100(split: str = "train", root=None, label_type: str = "fine", verify: bool = True,
                  verbose: bool = True, download: bool = True):
    """The CIFAR-100 images and labels of one split: 100 fine classes in 20 coarse superclasses.

    As :func:`load_cifar10` (sources ``cifar-100-binary/``, ``cifar-100-python/`` and their archives), with
    ``label_type`` "fine" (labels 0..99, torchvision's ``CIFAR100``) or "coarse" (the 20 superclasses, 0..19).
    Returns images uint8 (N, 3, 32, 32) and labels int64 (N,); N = 50,000 (train) or 10,000 (test). Raises as
    :func:`load_cifar10`, and ValueError for another ``label_type``.
    """
    if label_type not in ("fine", "coarse"):
        raise ValueError(f"label_type must be 'fine' or 'coarse', got {label_type!r}")
    images, labels = _load("cifar100", split, root, verbose, verify, download)
    return images, labels[:, 1 if label_type == "fine" else 0].copy()
