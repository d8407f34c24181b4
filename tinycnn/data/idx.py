"""Read and write the IDX file format (the format MNIST and Fashion-MNIST ship in).

Format, as described on Yann LeCun's MNIST page (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS FOR THE
MNIST DATABASE"), all numbers big-endian ("MSB first"):

    bytes 0-1   two zero bytes
    byte  2     dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions, ndim
    then        ndim uint32 sizes, one per dimension
    then        the data, C order (last index fastest), each value big-endian

So the 4-byte "magic number" of an MNIST image file is 0x00000803 = 2051 (uint8, 3 dims) and of a label file
0x00000801 = 2049. The files are usually gzipped; we detect gzip by its magic bytes 1f 8b, not by the name:
read raw, a gzip stream would show the "magic" 0x1F8B0808 = 529205256, which is no IDX header at all.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib

import numpy as np

from .._fileio import atomic_write_bytes  # noqa: F401  (re-exported: the data cache uses it from here)

# dtype code -> NumPy dtype as stored on disk (big-endian, ">").
_CODE_TO_DTYPE = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# The other way round, keyed by the native dtype of the array being written.
_DTYPE_TO_CODE = {dt.newbyteorder("="): code for code, dt in _CODE_TO_DTYPE.items()}

_GZIP_MAGIC = b"\x1f\x8b"

__all__ = ["read_idx", "write_idx", "read_idx_header"]


def _name_of(source) -> str:
    """A readable name for error messages: the path, or the file object's name, or a placeholder."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", "<file object>"))


def _read_bytes(source) -> bytes:
    """All bytes of a path or a binary file object, gunzipped when they start with the gzip magic 1f 8b."""
    name = _name_of(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            data = f.read()
    else:
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"{name}: expected a binary file object, its read() gave {type(data).__name__}")
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:  # truncated or corrupt gzip stream
            raise ValueError(f"{name}: corrupt or truncated gzip data ({e})") from e
    return data


def _parse_header(data: bytes, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """(on-disk dtype, shape, offset of the first data byte) from the start of an IDX byte string."""
    if len(data) < 4:
        raise ValueError(f"{name}: truncated IDX header: expected at least 4 bytes, got {len(data)}")
    if data[0] != 0 or data[1] != 0:
        magic = int.from_bytes(data[:4], "big")
        raise ValueError(
            f"{name}: bad IDX magic: expected 0x0000 then a dtype code and ndim (e.g. 0x00000803), "
            f"got 0x{magic:08X} ({magic})"
        )
    code, ndim = data[2], data[3]
    if code not in _CODE_TO_DTYPE:
        raise ValueError(
            f"{name}: bad IDX dtype code: expected one of "
            f"{', '.join(f'0x{c:02X}' for c in _CODE_TO_DTYPE)}, got 0x{code:02X}"
        )
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise ValueError(
            f"{name}: truncated IDX header: expected {offset} bytes for {ndim} dims, got {len(data)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return _CODE_TO_DTYPE[code], shape, offset


def read_idx_header(source) -> tuple[int, ...]:
    """The magic number and the dimensions of an IDX file: ``(magic, d0, d1, ...)``.

    ``source`` is a path, a binary file object, or the bytes themselves (at least the header; gzip is detected).
    Example: the bytes ``00 00 08 03 00 00 EA 60 00 00 00 1C 00 00 00 1C`` give ``(2051, 60000, 28, 28)``.
    Raises ValueError (naming the file) for a bad magic, an unknown dtype code or a truncated header.
    """
    name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else _name_of(source)
    data = _read_bytes(source)
    _, shape, _ = _parse_header(data, name)
    return (int.from_bytes(data[:4], "big"), *shape)


def read_idx(source) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a NumPy array.

    Args:
        source: a path (str or os.PathLike), a binary file object, or bytes. Gzip is detected by the magic
            bytes 1f 8b, whatever the name.
    Returns:
        A new, writable, C-contiguous array with the file's shape, in native byte order: uint8, int8, int16,
        int32, float32 or float64 per the dtype code (MNIST images: uint8 (N, 28, 28); labels: uint8 (N,)).
    Raises:
        ValueError naming the file, the expected and the actual value, for: a bad magic (first two bytes not
        zero, unknown dtype code), a truncated header or data, or trailing bytes after the data (size mismatch),
        or a corrupt gzip stream.
        OSError if the file cannot be opened.
    Source: the IDX format of LeCun's MNIST page, http://yann.lecun.com/exdb/mnist/ (see the module docstring).
    """
    name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else _name_of(source)
    data = _read_bytes(source)
    disk_dtype, shape, offset = _parse_header(data, name)
    expected = int(np.prod(shape, dtype=np.int64)) * disk_dtype.itemsize
    actual = len(data) - offset
    if actual < expected:
        raise ValueError(
            f"{name}: truncated IDX data: shape {shape} needs {expected} data bytes, got {actual}"
        )
    if actual > expected:
        raise ValueError(
            f"{name}: IDX size mismatch: shape {shape} needs {expected} data bytes, got {actual} "
            f"({actual - expected} trailing bytes)"
        )
    flat = np.frombuffer(data, dtype=disk_dtype, count=expected // disk_dtype.itemsize, offset=offset)
    # astype copies: the result owns writable memory in native byte order (frombuffer gave a read-only view).
    return flat.astype(disk_dtype.newbyteorder("="), copy=True).reshape(shape)


def _idx_bytes(array: np.ndarray, name: str) -> bytes:
    """The IDX encoding of ``array``: header and big-endian data."""
    native = array.dtype.newbyteorder("=")
    if native not in _DTYPE_TO_CODE:
        supported = ", ".join(str(d) for d in _DTYPE_TO_CODE)
        raise TypeError(f"{name}: IDX cannot store dtype {array.dtype}; expected one of {supported}")
    if array.ndim > 255:
        raise ValueError(f"{name}: IDX stores at most 255 dims, got {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"{name}: IDX dims must be below 2**32, got shape {array.shape}")
    header = bytes([0, 0, _DTYPE_TO_CODE[native], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    data = np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    return header + data


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file at ``path``; gzipped when the name ends with ``.gz``.

    Args:
        path: destination (str or os.PathLike). Its directory must exist.
        array: array-like of dtype uint8, int8, int16, int32, float32 or float64, 0 to 255 dims, each below
            2**32. (MNIST labels are stored as uint8: cast int64 labels with ``labels.astype(np.uint8)``.)
    Raises:
        TypeError for an unsupported dtype (e.g. int64, bool); ValueError for too many or too large dims.
    The file is written atomically (temporary file + os.replace). Gzip output uses mtime 0, so the same array
    always gives the same bytes. Format: LeCun's MNIST page, see the module docstring.
    """
    name = os.fspath(path)
    data = _idx_bytes(np.asarray(array), name)
    if name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)


def idx_from_bytes(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Like :func:`read_idx` on bytes held in memory, with ``name`` used in error messages."""
    stream = io.BytesIO(data)
    stream.name = name
    return read_idx(stream)
