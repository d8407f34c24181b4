"""Reading files tinycnn did not necessarily write, safely: one clear error per way a file can be unreadable.

Used by :func:`tinycnn.load` and the checkpoint reader: the whole file is read only if it is a regular file
(never a FIFO or a device), its first bytes are described when it is not what was expected ("a PNG image",
"text starting ..."), a zip archive is opened from memory, and an .npz entry is read without pickle and with its
declared size checked before anything is allocated. Each error is a :class:`CheckpointError` naming the file.
"""
from __future__ import annotations

import io
import math
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["CheckpointError", "describe_bytes", "read_file_bytes", "open_archive", "read_npz_entry"]

_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A file that tinycnn cannot read as a checkpoint. The message is one line: the file, then what is wrong."""


def describe_bytes(data: bytes) -> str:
    """What the first bytes of a file look like, for error messages ("a PNG image", "text starting 'hello'")."""
    if not data:
        return "an empty file (0 bytes)"
    signatures = [(b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"%PDF", "a PDF"),
                  (b"\x1f\x8b", "gzip-compressed data"), (b"\x93NUMPY", "a single NumPy .npy array"),
                  (_ZIP_MAGIC, "a zip archive")]
    for magic, what in signatures:
        if data.startswith(magic):
            return what
    if data[0] == 0x80 and len(data) > 1 and 2 <= data[1] <= 5:
        return "a Python pickle (tinycnn never opens pickles)"
    head = data[:64]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data starting 0x{head[:8].hex()}"
    if all(c.isprintable() or c in "\r\n\t" for c in text):
        return f"text starting {text.splitlines()[0][:40]!r}" if text.strip() else "blank text"
    return f"binary data starting 0x{head[:8].hex()}"


def _kind_of(mode: int) -> str:
    for test, what in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return f"file type {stat.S_IFMT(mode):o}"


def read_file_bytes(path, what: str = "file") -> bytes:
    """All bytes of ``path``, a regular file (a symbolic link to one is followed), with one clear error per way
    it can be unreadable.

    Only a regular file is read: a FIFO would wait for a writer forever and /dev/zero never ends. The file is
    opened non-blocking and checked again through its descriptor, so a FIFO put in its place meanwhile is refused
    too.

    Raises FileNotFoundError for a missing file or a dangling symbolic link, and CheckpointError for a directory,
    anything but a regular file, or an unreadable file, each naming the path.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        if path.is_symlink():
            raise FileNotFoundError(f"{path}: a symbolic link to {os.readlink(path)}, which does not exist") from None
        raise FileNotFoundError(f"{path}: no such {what}") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"{path}: is a directory, not a {what}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise CheckpointError(f"{path}: not a regular file ({_kind_of(mode)})")
        try:
            return f.read()
        except OSError as e:
            raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None


def open_archive(data: bytes, path) -> zipfile.ZipFile:
    """The zip archive held in ``data``; CheckpointError (naming ``path``) when it is not one or is damaged."""
    if not data.startswith(_ZIP_MAGIC):
        if len(data) < 4 and _ZIP_MAGIC.startswith(data) and data:
            raise CheckpointError(f"{path}: truncated ({len(data)} bytes)")
        raise CheckpointError(f"{path}: not a tinycnn checkpoint: the file is {describe_bytes(data)}")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise CheckpointError(f"{path}: truncated or corrupted ({len(data)} bytes; zip: {e})") from None


def read_npz_entry(archive: zipfile.ZipFile, name: str, path) -> np.ndarray:
    """One array of an .npz archive, read without pickle; CheckpointError naming ``path`` if it is damaged.

    The .npy header is read first and its declared size checked against the entry's size, so a corrupted shape
    cannot make us allocate terabytes; reading to the end of the entry also checks its CRC-32.
    """
    try:
        info = archive.getinfo(name + ".npy")
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            if dtype.hasobject:
                raise ValueError("the array holds Python objects, which would need pickle")
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            if nbytes > info.file_size:
                raise ValueError(f"its header declares {nbytes} bytes of data, the entry has {info.file_size}")
            data = f.read(nbytes)
            if len(data) != nbytes:
                raise ValueError(f"{len(data)} of {nbytes} bytes of array data")
            if f.read(1):
                raise ValueError("trailing bytes after the array")
        flat = np.frombuffer(data, dtype=dtype, count=count)
        return flat.reshape(shape, order="F" if fortran else "C").copy(order="K")  # writable, owns its memory
    except Exception as e:  # noqa: BLE001 - whatever the damaged bytes make the parsers raise, the file is bad
        raise CheckpointError(f"{path}: truncated or corrupted (entry {name!r}: {type(e).__name__}: {e})") from None
