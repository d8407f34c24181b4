"""``tinycnn.save`` / ``tinycnn.load``: nested containers of arrays in one file, without pickle.

What ``torch.save`` / ``torch.load`` do for a model's or an optimizer's ``state_dict()``, with one documented
difference: **only data is stored, never code.** ``torch.save`` pickles any Python object, and loading a pickle runs
whatever code the file names; tinycnn stores only

    dict (and OrderedDict), list, tuple, Tensor (and Parameter), NumPy arrays and scalars, int, float, bool, str, None

and raises TypeError naming any other type and where it sits (``obj['optimizer']['state'][0]``). Dict keys may be
str, int, float, bool or None.

The file is an ``.npz`` archive (NumPy's zip of ``.npy`` arrays, readable with ``np.load(path,
allow_pickle=False)``): one entry per array, plus ``__tinycnn__``, a JSON "skeleton" of the object in which each
array is replaced by a reference to its entry, with its dtype, shape and the SHA-256 of its bytes. ``load``
checks every array against that digest (zip's CRC-32 guards the skeleton), never opens a pickle, and reports any
unreadable file as one :class:`CheckpointError` line naming the file and what is wrong. ``save`` writes
atomically (a temporary file renamed over the target): an interrupted save leaves the previous file intact.

The same object stored twice (the same Tensor or array, by identity) is written once and loads as one object, as
with torch. Views are not preserved otherwise: each array is stored as its own C-ordered copy. Tensors on a GPU
are stored from a CPU copy and, as with ``torch.load``, come back on the device they were saved from unless
``map_location`` says otherwise; CuPy arrays that are not Tensors come back as NumPy arrays.
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from . import backend
from ._fileio import atomic_write_bytes
from .nn.module import Parameter
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "describe_bytes"]

FORMAT = "tinycnn.save"
VERSION = 1
SKELETON = "__tinycnn__"
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A file that tinycnn cannot read as a checkpoint. The message is one line: the file, then what is wrong."""


# ----- save -----------------------------------------------------------------------------------------------------

class _Encoder:
    """Turns an object into a JSON skeleton plus a dict of arrays; each array is recorded once per identity."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.records: dict[str, dict] = {}
        self._by_id: dict[int, tuple[str, object]] = {}  # id -> (key, the object itself, kept alive)
        self._open: set[int] = set()  # containers being encoded: a container inside itself is an error

    def _array_key(self, obj, array: np.ndarray, where: str) -> str:
        known = self._by_id.get(id(obj))
        if known is not None:
            return known[0]
        if array.dtype.hasobject:
            raise TypeError(f"tinycnn.save: cannot store an array of Python objects (dtype object) at {where}: "
                            "that would need pickle")
        key = f"a{len(self.arrays)}"
        array = array if array.flags.c_contiguous else array.copy(order="C")  # ascontiguousarray makes 0-d 1-d
        self.arrays[key] = array
        self.records[key] = {"dtype": array.dtype.str, "shape": list(array.shape),
                             "sha256": hashlib.sha256(array.tobytes()).hexdigest(), "where": where}
        self._by_id[id(obj)] = (key, obj)
        return key

    def key(self, k, where: str):
        if k is None or isinstance(k, (bool, str, int)):
            return k
        if isinstance(k, float) and math.isfinite(k):
            return k
        raise TypeError(f"tinycnn.save: cannot store a dict key of type {type(k).__name__} ({k!r}) at {where}; "
                        "keys must be str, int, finite float, bool or None")

    def encode(self, obj, where: str):
        if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass, and would lose its type
            return {"$": "scalar", "key": self._array_key(obj, np.asarray(obj), where)}
        if obj is None or isinstance(obj, (bool, str, int)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"$": "float", "value": repr(obj)}  # 'nan', 'inf', '-inf'
        if isinstance(obj, Tensor):
            array = backend.to_device(obj.data, "cpu")
            return {"$": "tensor", "key": self._array_key(obj, array, where), "requires_grad": obj.requires_grad,
                    "device": backend.device_of(obj.data), "parameter": isinstance(obj, Parameter)}
        if isinstance(obj, np.ndarray) or backend.is_cupy_array(obj):
            return {"$": "ndarray", "key": self._array_key(obj, backend.to_device(obj, "cpu"), where)}
        if isinstance(obj, (list, tuple, dict)):
            if id(obj) in self._open:
                raise ValueError(f"tinycnn.save: the {type(obj).__name__} at {where} contains itself")
            self._open.add(id(obj))
            try:
                if isinstance(obj, dict):
                    items = [[self.key(k, where), self.encode(v, f"{where}[{k!r}]")] for k, v in obj.items()]
                    node = {"$": "dict", "items": items}
                    if isinstance(obj, collections.OrderedDict):
                        node["ordered"] = True
                    return node
                items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
                return items if isinstance(obj, list) else {"$": "tuple", "items": items}
            finally:
                self._open.discard(id(obj))
        kind = type(obj)
        raise TypeError(f"tinycnn.save: cannot store a {kind.__module__}.{kind.__qualname__} at {where}; it stores "
                        "only dict, list, tuple, Tensor, NumPy arrays and scalars, int, float, bool, str and None "
                        "(no pickle: unlike torch.save, which pickles any object)")


def save(obj, path) -> None:
    """Save ``obj`` (nested dict / list / tuple of Tensors, arrays, numbers, strings, bools, None) to ``path``.

    Follows ``torch.save(obj, path)`` for state dicts, without pickle (see the module docstring). The file is an
    .npz archive whatever its name; it is written atomically.

    Raises:
        TypeError: an unsupported object or dict key, naming its type and where it sits in ``obj``.
        ValueError: a container that contains itself.
        FileNotFoundError: the folder of ``path`` does not exist. OSError for other write failures.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"tinycnn.save: path must be a str or os.PathLike, got {type(path).__name__} (file objects "
                        "are not supported: the write must be atomic)")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"tinycnn.save: the folder {path.parent} does not exist")
    encoder = _Encoder()
    root = encoder.encode(obj, "obj")
    skeleton = {"format": FORMAT, "version": VERSION, "root": root, "arrays": encoder.records}
    text = json.dumps(skeleton, allow_nan=False, separators=(",", ":")).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **encoder.arrays, **{SKELETON: np.frombuffer(text, dtype=np.uint8)})
    atomic_write_bytes(path, buffer.getvalue())


# ----- load -----------------------------------------------------------------------------------------------------

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


def read_file_bytes(path, what: str = "file") -> bytes:
    """All bytes of ``path``, with one clear error per way it can be unreadable.

    Raises FileNotFoundError for a missing file and CheckpointError for a directory or an unreadable file, each
    naming the path.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what}")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a {what}")
    try:
        return path.read_bytes()
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


class _Decoder:
    def __init__(self, archive, records, path, map_location):
        self.archive, self.records, self.path, self.map_location = archive, records, path, map_location
        self._memo: dict[str, object] = {}

    def _array(self, key: str) -> np.ndarray:
        record = self.records[key]
        array = read_npz_entry(self.archive, key, self.path)
        where = record.get("where", key)
        if array.dtype.str != record["dtype"] or list(array.shape) != record["shape"]:
            raise CheckpointError(f"{self.path}: the array at {where} is {array.dtype.str} {list(array.shape)}, "
                                  f"its record says {record['dtype']} {record['shape']}: the file is corrupted")
        actual = hashlib.sha256(array.tobytes()).hexdigest()  # tobytes is C order whatever the layout
        if actual != record["sha256"]:
            raise CheckpointError(f"{self.path}: the array at {where} fails its SHA-256 check (expected "
                                  f"{record['sha256']}, got {actual}): the file is corrupted")
        return array

    def _memoized(self, node, build):
        key = node["key"]
        if key not in self._memo:
            self._memo[key] = build(self._array(key))
        return self._memo[key]

    def _tensor(self, node, array):
        device = self.map_location if self.map_location is not None else node.get("device", "cpu")
        cls = Parameter if node.get("parameter") else Tensor
        return cls(backend.to_device(array, device), requires_grad=bool(node.get("requires_grad")))

    def decode(self, node):
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        kind = node["$"]
        if kind == "dict":
            cls = collections.OrderedDict if node.get("ordered") else dict
            return cls((k, self.decode(v)) for k, v in node["items"])
        if kind == "tuple":
            return tuple(self.decode(v) for v in node["items"])
        if kind == "float":
            return float(node["value"])
        if kind == "ndarray":
            return self._memoized(node, lambda a: a)
        if kind == "scalar":
            return self._memoized(node, lambda a: a[()])
        if kind == "tensor":
            return self._memoized(node, lambda a: self._tensor(node, a))
        raise ValueError(f"unknown node type {kind!r}")


def load(path, map_location=None):
    """The object saved by :func:`save` at ``path`` (PyTorch's ``torch.load``, without pickle).

    Args:
        path: a str or os.PathLike.
        map_location: None (each Tensor back on the device it was saved from) or a device name ("cpu", "cuda",
            "cuda:N") for all Tensors, as ``torch.load``'s ``map_location``.
    Returns:
        The object, with every array checked against its SHA-256: dicts, lists, tuples, Tensors (Parameters stay
        Parameters), NumPy arrays and scalars, and plain values, as saved.
    Raises:
        FileNotFoundError: no such file.
        CheckpointError (a ValueError): one line naming the file and what is wrong: a directory, unreadable,
            empty, not a tinycnn file (text, an image, a pickle, a PyTorch .pth...), truncated, corrupted (a zip
            CRC or an array's SHA-256 fails), or written by a newer tinycnn.
    """
    path = Path(path)
    data = read_file_bytes(path)
    archive = open_archive(data, path)
    with archive:
        names = set(archive.namelist())
        if SKELETON + ".npy" not in names:
            hint = ""
            if any(n.endswith("data.pkl") for n in names):
                hint = (": it looks like a PyTorch file (torch.save pickles); read its weights with "
                        "tinycnn.weights.load_file (torch.load(weights_only=True), needs PyTorch)")
            raise CheckpointError(f"{path}: a zip archive but not a tinycnn file (no {SKELETON} entry){hint}")
        raw = read_npz_entry(archive, SKELETON, path)
        try:
            skeleton = json.loads(raw.tobytes().decode("utf-8"))
            fmt, version = skeleton["format"], skeleton["version"]
        except (ValueError, UnicodeDecodeError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: corrupted ({SKELETON} is not valid JSON with format and version: "
                                  f"{e})") from None
        if fmt != FORMAT:
            raise CheckpointError(f"{path}: not a tinycnn file (format {fmt!r}, expected {FORMAT!r})")
        if not isinstance(version, int) or version > VERSION:
            raise CheckpointError(f"{path}: written by a newer tinycnn (format version {version}; this one reads "
                                  f"up to {VERSION})")
        if map_location is not None:
            map_location = backend.parse_device(map_location)
        decoder = _Decoder(archive, skeleton.get("arrays", {}), path, map_location)
        try:
            return decoder.decode(skeleton["root"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"{path}: corrupted (malformed {SKELETON}: {type(e).__name__}: {e})") from None
