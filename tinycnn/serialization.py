"""``tinycnn.save`` / ``tinycnn.load``: nested containers of arrays in one file, without pickle.

What ``torch.save`` / ``torch.load`` do for a model's or an optimizer's ``state_dict()``, with one documented
difference: **only data is stored, never code.** ``torch.save`` pickles any Python object, and loading a pickle runs
whatever code the file names; tinycnn stores only

    dict (and OrderedDict and Counter), list, tuple, Tensor (and Parameter), NumPy arrays and scalars, int, float,
    complex, bool, str, None

and raises TypeError naming any other type and where it sits (``obj['optimizer']['state'][0]``). Dict keys may be
str, int, finite float, bool or None. What is stored comes back as exactly that type, or is refused: a subclass of
one of these types (a namedtuple, a defaultdict, a list subclass, an IntEnum, ``np.matrix``, a
recarray) would load as its plain base type, and a masked array would lose its mask, so each is refused with a
TypeError naming it and its place (convert it first: ``tuple(p)``, ``dict(d)``, ``np.asarray(m)``, ``int(e)``).
Containers may be nested at most :data:`MAX_DEPTH` levels deep.

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

Both take a path (str or os.PathLike), not a file object: ``save`` must write atomically, and ``load`` reads only
regular files (never a FIFO or a device, which could block or never end).
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
from pathlib import Path

import numpy as np

from . import backend
from ._archive import CheckpointError, describe_bytes, open_archive, read_file_bytes, read_npz_entry
from ._fileio import atomic_write_bytes
from .nn.module import Parameter
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "describe_bytes", "read_file_bytes", "open_archive",
           "read_npz_entry", "MAX_DEPTH"]

FORMAT = "tinycnn.save"
VERSION = 1
SKELETON = "__tinycnn__"
MAX_DEPTH = 200  # containers inside containers; a state dict is under 10 deep, the JSON parser's limit near 1000
_PLAIN = (type(None), bool, int, str)
# The base types a subclass would silently turn into on load, for the refusal's message.
_BASES = (bool, int, float, complex, str, collections.OrderedDict, collections.Counter, dict, list, tuple,
          np.ndarray, Tensor)
_NO_PICKLE = "no pickle: unlike torch.save, which pickles any object"


def _type_name(obj) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def _class_name(kind: type) -> str:
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


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
        if type(k) in _PLAIN or (type(k) is float and math.isfinite(k)):
            return k
        raise TypeError(f"tinycnn.save: cannot store a dict key of type {_class_name(type(k))} ({k!r}) at {where}; "
                        "keys must be str, int, finite float, bool or None (exactly: not a subclass)")

    @staticmethod
    def _float(x: float):
        return x if math.isfinite(x) else {"$": "float", "value": repr(x)}  # 'nan', 'inf', '-inf'

    def encode(self, obj, where: str, depth: int = 0):
        if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass, and would lose its type
            return {"$": "scalar", "key": self._array_key(obj, np.asarray(obj), where)}
        kind = type(obj)
        if kind in _PLAIN:
            return obj
        if kind is float:
            return self._float(obj)
        if kind is complex:
            return {"$": "complex", "real": self._float(obj.real), "imag": self._float(obj.imag)}
        if kind is Tensor or kind is Parameter:
            array = backend.to_device(obj.data, "cpu")
            return {"$": "tensor", "key": self._array_key(obj, array, where), "requires_grad": obj.requires_grad,
                    "device": backend.device_of(obj.data), "parameter": kind is Parameter}
        if kind is np.ndarray or backend.is_cupy_array(obj):
            return {"$": "ndarray", "key": self._array_key(obj, backend.to_device(obj, "cpu"), where)}
        # Counter: MultiStepLR's state_dict holds its milestones in one, as PyTorch's does
        if kind in (list, tuple, dict, collections.OrderedDict, collections.Counter):
            return self._container(obj, where, depth)
        if isinstance(obj, np.ma.MaskedArray):
            raise TypeError(f"tinycnn.save: cannot store a numpy.ma.MaskedArray at {where}: its mask would be lost; "
                            "store its .data and np.ma.getmaskarray(x) as two arrays")
        base = next((b for b in _BASES if isinstance(obj, b)), None)
        if base is not None:
            raise TypeError(f"tinycnn.save: cannot store a {_type_name(obj)} at {where}: it would load as a plain "
                            f"{_class_name(base)} (tinycnn restores only the exact types it stores; {_NO_PICKLE}); "
                            "convert it first")
        raise TypeError(f"tinycnn.save: cannot store a {_type_name(obj)} at {where}; it stores only dict, list, "
                        "tuple, Tensor, NumPy arrays and scalars, int, float, complex, bool, str and None "
                        f"({_NO_PICKLE})")

    def _container(self, obj, where: str, depth: int):
        if depth >= MAX_DEPTH:
            shown = where if len(where) <= 80 else f"{where[:60]}...{where[-15:]}"
            raise ValueError(f"tinycnn.save: the object is nested more than {MAX_DEPTH} levels deep (at {shown}); "
                             "tinycnn stores at most that many containers inside each other")
        if id(obj) in self._open:
            raise ValueError(f"tinycnn.save: the {type(obj).__name__} at {where} contains itself")
        self._open.add(id(obj))
        try:
            if isinstance(obj, dict):
                items = [[self.key(k, where), self.encode(v, f"{where}[{k!r}]", depth + 1)] for k, v in obj.items()]
                node = {"$": "dict", "items": items}
                if type(obj) is collections.OrderedDict:
                    node["ordered"] = True
                elif type(obj) is collections.Counter:
                    node["counter"] = True
                return node
            items = [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
            return items if type(obj) is list else {"$": "tuple", "items": items}
        finally:
            self._open.discard(id(obj))


def _path_argument(path, function: str, why: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"tinycnn.{function}: path must be a str or os.PathLike, got {_type_name(path)} (file "
                        f"objects are not supported: {why})")
    return Path(path)


def save(obj, path) -> None:
    """Save ``obj`` (nested dict / list / tuple of Tensors, arrays, numbers, strings, bools, None) to ``path``.

    Follows ``torch.save(obj, path)`` for state dicts, without pickle (see the module docstring). The file is an
    .npz archive whatever its name; it is written atomically.

    Raises:
        TypeError: an unsupported object or dict key (a type that would load as another, such as a namedtuple,
            included), naming its type and where it sits in ``obj``; a file object as ``path``.
        ValueError: a container that contains itself, or containers nested more than MAX_DEPTH deep.
        IsADirectoryError: ``path`` is a folder. FileNotFoundError / NotADirectoryError: the folder of ``path``
            does not exist / is not a folder. OSError for other write failures.
    """
    path = _path_argument(path, "save", "the write must be atomic")
    if path.is_dir():
        raise IsADirectoryError(f"tinycnn.save: {path} is a folder; give the path of a file inside it")
    if not path.parent.is_dir():
        if path.parent.exists():
            raise NotADirectoryError(f"tinycnn.save: {path.parent} is not a folder")
        raise FileNotFoundError(f"tinycnn.save: the folder {path.parent} does not exist")
    encoder = _Encoder()
    root = encoder.encode(obj, "obj")
    skeleton = {"format": FORMAT, "version": VERSION, "root": root, "arrays": encoder.records}
    text = json.dumps(skeleton, allow_nan=False, separators=(",", ":")).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **encoder.arrays, **{SKELETON: np.frombuffer(text, dtype=np.uint8)})
    atomic_write_bytes(path, buffer.getvalue())


# ----- load -----------------------------------------------------------------------------------------------------

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

    def decode(self, node, depth: int = 0):
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if depth > MAX_DEPTH:
            raise CheckpointError(f"{self.path}: corrupted ({SKELETON} is nested more than {MAX_DEPTH} levels "
                                  "deep; tinycnn.save writes at most that)")
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        kind = node["$"]
        if kind == "dict":
            items = dict((k, self.decode(v, depth + 1)) for k, v in node["items"])
            if node.get("ordered"):
                return collections.OrderedDict(items)
            return collections.Counter(items) if node.get("counter") else items
        if kind == "tuple":
            return tuple(self.decode(v, depth + 1) for v in node["items"])
        if kind == "float":
            return float(node["value"])
        if kind == "complex":
            return complex(self.decode(node["real"], depth + 1), self.decode(node["imag"], depth + 1))
        if kind == "ndarray":
            return self._memoized(node, lambda a: a)
        if kind == "scalar":
            return self._memoized(node, lambda a: a[()])
        if kind == "tensor":
            return self._memoized(node, lambda a: self._tensor(node, a))
        raise ValueError(f"unknown node type {kind!r}")


def _map_location(value):
    """``map_location`` as a device name, or None; refuses torch's function and dict forms by name."""
    if value is None:
        return None
    if callable(value) or isinstance(value, dict):
        raise TypeError(f"tinycnn.load: map_location must be None or a device ('cpu', 'cuda', 'cuda:N', a "
                        f"tinycnn.device), got a {_type_name(value)}: torch's function and dict forms of "
                        "map_location are not supported")
    try:
        return backend.parse_device(value)
    except ValueError as e:
        raise ValueError(f"tinycnn.load: map_location: {e}") from None


def load(path, map_location=None, weights_only=None):
    """The object saved by :func:`save` at ``path`` (PyTorch's ``torch.load``, without pickle).

    Args:
        path: a str or os.PathLike naming a regular file (file objects are not supported).
        map_location: None (each Tensor back on the device it was saved from) or a device ("cpu", "cuda",
            "cuda:N", a ``tinycnn.device``) for all Tensors, as ``torch.load``'s ``map_location``; its function
            and dict forms are refused.
        weights_only: accepted (True, False or None) for code written for ``torch.load`` (True is its default
            since torch 2.6) and changes nothing: tinycnn never unpickles, so every load is already what torch
            calls weights-only, whatever the value.
    Returns:
        The object, with every array checked against its SHA-256: dicts, lists, tuples, Tensors (Parameters stay
        Parameters), NumPy arrays and scalars, and plain values, as saved.
    Raises:
        FileNotFoundError: no such file, or a symbolic link to none.
        CheckpointError (a ValueError): one line naming the file and what is wrong: a directory, not a regular
            file (a FIFO, a device), unreadable, empty, not a tinycnn file (text, an image, a pickle, a PyTorch
            .pth...), truncated, corrupted (a zip CRC or an array's SHA-256 fails), or written by a newer tinycnn.
        TypeError / ValueError: a bad argument, naming it (path, map_location, weights_only).
    """
    path = _path_argument(path, "load", "tinycnn reads a file by its path, after checking it is a regular file")
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"tinycnn.load: weights_only must be a bool or None, got {weights_only!r}")
    map_location = _map_location(map_location)
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
        except RecursionError:
            raise CheckpointError(f"{path}: corrupted ({SKELETON} is nested too deep to parse)") from None
        except (ValueError, UnicodeDecodeError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: corrupted ({SKELETON} is not valid JSON with format and version: "
                                  f"{e})") from None
        if fmt != FORMAT:
            raise CheckpointError(f"{path}: not a tinycnn file (format {fmt!r}, expected {FORMAT!r})")
        if not isinstance(version, int) or version > VERSION:
            raise CheckpointError(f"{path}: written by a newer tinycnn (format version {version}; this one reads "
                                  f"up to {VERSION})")
        decoder = _Decoder(archive, skeleton.get("arrays", {}), path, map_location)
        try:
            return decoder.decode(skeleton["root"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"{path}: corrupted (malformed {SKELETON}: {type(e).__name__}: {e})") from None
