"""``download``: fetch a weight file when asked, checked as torch.hub checks it. tinycnn never downloads weights by
itself; this is the one function that does, and only for the URL it is given."""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from pathlib import Path

from .files import WeightsFileError, hash_prefix, sha256_of

__all__ = ["download", "weights_dir"]

_BLOCK = 1 << 20


def _read(response, url) -> bytes:
    try:
        return response.read(_BLOCK)
    except http.client.IncompleteRead as e:
        raise WeightsFileError(f"{url}: the connection closed after part of the file ({e}): the download was "
                               f"cut short") from None


def weights_dir() -> Path:
    """Where ``download`` puts files by default: ``$TINYCNN_WEIGHTS`` if set, else ``~/.cache/tinycnn/weights``."""
    env = os.environ.get("TINYCNN_WEIGHTS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tinycnn" / "weights"


def download(url: str, dest=None, *, check_hash: bool = True, progress: bool = False, timeout: float = 60.0) -> Path:
    """Download ``url`` to a file and return its path (torch.hub's ``download_url_to_file`` with ``check_hash``).

    Args:
        url: e.g. an entry of ``TORCHVISION_WEIGHTS`` (``default_weights("resnet50").url``).
        dest: a folder (the file keeps the URL's name) or a file path; default ``weights_dir()``.
        check_hash: check the SHA-256 against the prefix in the file name (``resnet18-f37072fd.pth``), as
            torchvision does on download; an error if the name has none (pass False to skip).
        progress: show a tqdm progress bar on stderr. timeout: seconds per socket operation.
    A file already at the target that passes the check is not downloaded again. The bytes go to a temporary file
    beside the target, hashed as they arrive, and are renamed over the target only when complete and checked:
    an interrupted or failed download leaves no partial file behind.
    Raises:
        WeightsFileError naming the URL for a hash mismatch or a body shorter than its Content-Length; OSError
        (urllib's URLError, HTTPError, timeouts) for network failures; ValueError for a name without a hash with
        ``check_hash``.
    """
    name = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    dest = weights_dir() if dest is None else Path(dest)
    target = dest / name if dest.is_dir() or not dest.suffix else dest  # a folder, or the file itself
    expected = hash_prefix(name) if check_hash else None
    if check_hash and expected is None:
        raise ValueError(f"download: {name!r} carries no SHA-256 prefix (NAME-<hex digits>.ext) to check; pass "
                         f"check_hash=False to download it unchecked")
    if target.is_file() and (expected is None or sha256_of(target).startswith(expected)):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            bar = None
            if progress:
                from tqdm import tqdm  # noqa: PLC0415 - only for the progress bar

                bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name)
            size = 0
            try:
                for block in iter(lambda: _read(response, url), b""):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                    if bar is not None:
                        bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
            out.flush()
            os.fsync(out.fileno())
        if total is not None and size != total:
            raise WeightsFileError(f"{url}: got {size} of {total} bytes: the download was cut short")
        if expected is not None and not digest.hexdigest().startswith(expected):
            raise WeightsFileError(f"{url}: SHA-256 mismatch: expected a digest starting with {expected}, got "
                                   f"{digest.hexdigest()}; file not kept")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return target
