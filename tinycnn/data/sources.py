"""Where data files come from, for any data set: checksums, the local cache, downloads, and the source report.

The pieces each data set's loader strings together (see :mod:`tinycnn.data.mnist`):

- :func:`verify_hash`: the one checksum check; a mismatch is a ValueError naming the file, the expected and the
  actual digest, and the bytes are never used.
- The cache (``$TINYCNN_CACHE``, default ``~/.cache/tinycnn/mnist/``): ``NAME.npz`` with a ``NAME.npz.sha256``
  sidecar (``sha256sum -c`` format), checked on every load, written atomically; a cache file that fails its check
  is deleted with a warning and rebuilt from the next source.
- :func:`download`: one GET with a short timeout, no retries; :func:`mirrors` reads the list of base URLs, which
  an environment variable may replace (the tests point it at a server on 127.0.0.1).
- :func:`last_source`: which source the last load used (also printed on stderr when ``verbose``).
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
import urllib.request
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._fileio import atomic_write_bytes

__all__ = ["Source", "last_source", "report", "verify_hash", "cache_dir", "load_cache", "save_cache", "download",
           "mirrors", "MIRROR_TIMEOUT_S", "warn_unverified"]

MIRROR_TIMEOUT_S = 5.0


class Source(NamedTuple):
    """Where the last loaded arrays came from: ``kind`` is "root", "cache", "system", "mirror" or "pypi"."""

    kind: str
    location: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.location})"


_last_source: Source | None = None


def last_source() -> Source | None:
    """The :class:`Source` of the most recent successful ``load_*`` call, or None before any."""
    return _last_source


def report(kind: str, location: str, dataset: str, split: str, n: int, verbose: bool) -> None:
    """Record the source of a load (for :func:`last_source`) and, when ``verbose``, say it on stderr."""
    global _last_source
    _last_source = Source(kind, location)
    if verbose:
        print(f"[tinycnn] {dataset} {split}: {n} images from {_last_source}", file=sys.stderr)


_unverified_warned: set = set()


def warn_unverified(title: str, location: str) -> None:
    """Warn, once per process and folder, that ``title``'s files in ``location`` were loaded with verify=False."""
    if (title, location) in _unverified_warned:
        return
    _unverified_warned.add((title, location))
    warnings.warn(f"{title} files in {location} loaded with verify=False: they were not checked against the official "
                  "checksums", UserWarning, stacklevel=4)


def verify_hash(data: bytes, expected: str, algorithm: str, name: str, what: str = "") -> bytes:
    """Return ``data`` if its ``algorithm`` ("md5", "sha256") hex digest is ``expected``; else raise.

    The one checksum check used for every file. Raises ValueError naming ``name``, the expected and the actual
    digest (``what`` says of what, e.g. "of the decompressed IDX content"), so a bad file is never used.
    """
    actual = hashlib.new(algorithm, data, usedforsecurity=False).hexdigest()
    if actual != expected.strip().lower():
        of = f" {what}" if what else ""
        raise ValueError(f"{name}: {algorithm}{of} mismatch: expected {expected}, actual {actual}; file not used")
    return data


def cache_dir() -> Path:
    """The converted-data cache folder: ``$TINYCNN_CACHE`` if set, else ``~/.cache/tinycnn/mnist``."""
    env = os.environ.get("TINYCNN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tinycnn" / "mnist"


def _cache_paths(name: str) -> tuple[Path, Path]:
    npz = cache_dir() / f"{name}.npz"
    return npz, npz.with_name(npz.name + ".sha256")


def load_cache(name: str, check):
    """(arrays dict, path) from the cache file ``name``.npz, or None when absent or failing its check (the file is
    then deleted with a warning). ``check(arrays, path)`` validates the contents and returns what to give back."""
    npz, sidecar = _cache_paths(name)
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
            result = check({k: z[k] for k in z.files}, str(npz))
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as e:
        # Our own file: delete it and rebuild it from the next source rather than stop the user.
        warnings.warn(f"removing bad cache file: {e}", RuntimeWarning, stacklevel=3)
        for path in (npz, sidecar):
            path.unlink(missing_ok=True)
        return None
    return result, str(npz)


def save_cache(name: str, **arrays) -> None:
    """Write ``name``.npz, then its sidecar, each atomically. Between the two renames a reader sees a failed check
    and rebuilds, never wrong data. An unwritable cache only gives a warning."""
    npz, sidecar = _cache_paths(name)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    try:
        npz.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(npz, data)
        atomic_write_bytes(sidecar, f"{digest}  {npz.name}\n".encode())
    except OSError as e:
        warnings.warn(f"could not write the data cache in {npz.parent}: {e}", RuntimeWarning, stacklevel=3)


def download(url: str) -> bytes:
    """The body at ``url``: one try, MIRROR_TIMEOUT_S per socket operation. Raises OSError (URLError, timeouts,
    resets) or http.client.HTTPException (IncompleteRead: a body shorter than its Content-Length)."""
    with urllib.request.urlopen(url, timeout=MIRROR_TIMEOUT_S) as response:
        return response.read()


def mirrors(env_var: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """The base URLs to try: ``$env_var`` (separated by spaces or commas) if set, else ``default``; each ends in /."""
    text = os.environ.get(env_var, "").replace(",", " ").split()
    return tuple(u if u.endswith("/") else u + "/" for u in text) if text else tuple(default)
