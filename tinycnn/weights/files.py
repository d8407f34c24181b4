"""Weight files in and out: PyTorch's ``.pth`` / ``.pt``, ``.safetensors`` and NumPy's ``.npz``.

A weight file holds a state dict: dotted names (``layer1.0.conv1.weight``) mapped to arrays. Reading gives an
``OrderedDict`` of NumPy arrays, whatever the format; ``Module.load_state_dict`` (or ``load_weights``) copies
them into a model, cast to each parameter's dtype and device.

Formats, recognised by the file's first bytes (not its name):

* PyTorch (``torch.save``; torchvision's downloads): read with ``torch.load(path, map_location="cpu",
  weights_only=True)`` when PyTorch is installed. ``weights_only=True`` unpickles tensors, dicts and plain values
  only and refuses anything else, so a file cannot run code; tinycnn never calls an unrestricted unpickle.
  Without PyTorch, a clear error names the alternatives: convert the file once where PyTorch is installed
  (``save_file(load_file("x.pth"), "x.safetensors")``) and read that anywhere. bfloat16 tensors become float32
  (exact; NumPy has no bfloat16).
* safetensors (Hugging Face's format: a JSON header and raw little-endian bytes, no code at all): through the
  ``safetensors`` package's NumPy API (``safetensors.numpy``), an optional extra: ``pip install
  'tinycnn[safetensors]'``.
* ``.npz``: NumPy's zip of ``.npy`` arrays, one entry per name, read with ``allow_pickle=False``; always
  available. A ``tinycnn.save`` file (also an .npz, with SHA-256-checked arrays) is read through
  ``tinycnn.load``.

A file holding a checkpoint rather than a bare state dict (a dict with the state dict under "state_dict",
"model_state_dict" or "model", as training scripts and ``tinycnn train`` write them) gives that state dict.

Integrity: a file whose name carries torchvision's hash prefix (``resnet18-f37072fd.pth``: the first hex digits
of the file's SHA-256, torch.hub's convention) can be checked against it before it is parsed (``check_hash``;
see ``load_file``). Any unreadable file (truncated, corrupted, not a weight file) raises ``WeightsFileError``:
one line naming the file and what is wrong. Writing is atomic (a temporary file renamed over the target).
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import backend
from .._fileio import atomic_write_bytes
from ..serialization import SKELETON, CheckpointError
from ..tensor import Tensor

__all__ = ["WeightsFileError", "load_file", "save_file", "detect_format", "hash_prefix", "sha256_of",
           "verify_hash", "FORMATS"]

# suffix -> format written by save_file
FORMATS = {".pth": "torch", ".pt": "torch", ".safetensors": "safetensors", ".npz": "npz"}
_NESTED_KEYS = ("state_dict", "model_state_dict", "model")
# torch.hub's HASH_REGEX: "-" then hex digits then "." in the file name (resnet18-f37072fd.pth -> f37072fd)
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")
# check_hash=None checks names whose prefix has at least this many digits (torchvision's are 8)
_AUTO_HASH_DIGITS = 8
_INSTALL_SAFETENSORS = "pip install 'tinycnn[safetensors]' (or pip install safetensors)"


class WeightsFileError(CheckpointError):
    """A weight file that cannot be read or fails its check: one line, the file then what is wrong."""


# ----- integrity ------------------------------------------------------------------------------------------------

def hash_prefix(path, min_digits: int = 1) -> str | None:
    """The SHA-256 prefix in a file name, as torch.hub finds it (``-([a-f0-9]*)\\.``): "f37072fd" for
    ``resnet18-f37072fd.pth``; None when the name has none or fewer than ``min_digits`` digits."""
    match = _HASH_IN_NAME.search(Path(path).name)
    if match is None or len(match.group(1)) < max(min_digits, 1):
        return None
    return match.group(1)


def sha256_of(path) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_hash(path, expected: str) -> str:
    """Check that the SHA-256 of ``path`` starts with ``expected`` (hex, any length up to 64), as torch.hub's
    ``check_hash``. Returns the full digest; raises WeightsFileError naming both when they differ."""
    expected = expected.lower()
    if not re.fullmatch(r"[0-9a-f]{1,64}", expected):
        raise ValueError(f"verify_hash: expected must be hex digits (a SHA-256 or its start), got {expected!r}")
    digest = sha256_of(path)
    if not digest.startswith(expected):
        raise WeightsFileError(f"{path}: SHA-256 mismatch: expected a digest starting with {expected}, got {digest} "
                               f"(the file is corrupted or incomplete: download it again; if {expected!r} in its "
                               f"name is not a hash, load it with check_hash=False)")
    return digest


def _check(path, check_hash) -> None:
    if check_hash is False:
        return
    if isinstance(check_hash, str):
        verify_hash(path, check_hash)
    elif check_hash is True:
        prefix = hash_prefix(path)
        if prefix is None:
            raise WeightsFileError(f"{path}: check_hash=True but the name carries no hash prefix (torchvision's "
                                   f"NAME-<first hex digits of the SHA-256>.pth); pass the digest itself as "
                                   f"check_hash='...'")
        verify_hash(path, prefix)
    elif check_hash is None:
        prefix = hash_prefix(path, _AUTO_HASH_DIGITS)
        if prefix is not None:
            verify_hash(path, prefix)
    else:
        raise TypeError(f"check_hash must be None, True, False or a hex string, got {check_hash!r}")


# ----- reading --------------------------------------------------------------------------------------------------

def detect_format(path) -> str:
    """"torch", "safetensors", "npz" or "tinycnn" (a ``tinycnn.save`` file), from the first bytes of the file.

    Raises FileNotFoundError, or WeightsFileError for a file of no known weight format (empty, text, an image)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such weight file: {path}")
    if path.is_dir():
        raise WeightsFileError(f"{path}: is a directory, not a weight file")
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise WeightsFileError(f"{path}: a damaged zip archive ({e}): truncated or corrupted") from None
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "torch"
        if SKELETON + ".npy" in names:
            return "tinycnn"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        raise WeightsFileError(f"{path}: a zip archive that is neither a PyTorch file nor an .npz of arrays")
    if len(head) >= 9 and head[8:9] == b"{":  # safetensors: u64 little-endian header size, then JSON
        (header_size,) = struct.unpack("<Q", head[:8])
        if 0 < header_size <= path.stat().st_size - 8:
            return "safetensors"
        raise WeightsFileError(f"{path}: a safetensors header of {header_size} bytes in a file of "
                               f"{path.stat().st_size}: truncated or corrupted")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):  # a pickle: torch's legacy
        return "torch"                                                                 # (pre-1.6) format
    what = "empty" if not head else f"unknown contents (first bytes {head[:8]!r})"
    raise WeightsFileError(f"{path}: not a weight file ({what}); tinycnn reads PyTorch .pth/.pt, .safetensors "
                           f"and .npz")


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def _is_state(obj, is_value) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0 and all(isinstance(k, str) for k in obj)
            and all(is_value(v) for v in obj.values()))


def _state_of(obj, path, is_value, kind: str):
    """The state dict in what a file held: the object itself, or its "state_dict" / "model" entry."""
    if _is_state(obj, is_value):
        return obj
    if isinstance(obj, Mapping):
        for key in _NESTED_KEYS:
            if key in obj and _is_state(obj[key], is_value):
                return obj[key]
        keys = ", ".join(repr(k) for k in list(obj)[:8]) + (", ..." if len(obj) > 8 else "")
        raise WeightsFileError(f"{path}: holds a dict (keys {keys}) that is not a state dict of {kind}s, and none "
                               f"is under {', '.join(map(repr, _NESTED_KEYS))}")
    raise WeightsFileError(f"{path}: holds a {type(obj).__name__}, not a state dict (a dict of names to {kind}s)")


def _read_torch(path) -> OrderedDict:
    try:
        import torch  # noqa: PLC0415 - optional: only .pth/.pt files need PyTorch
    except ImportError:
        raise WeightsFileError(f"{path}: a PyTorch file, and reading it needs PyTorch (pip install torch); or "
                               f"convert it once where PyTorch is installed, to .safetensors or .npz "
                               f"(tinycnn.weights.save_file(tinycnn.weights.load_file(PATH), 'x.safetensors')), "
                               f"which tinycnn reads without it") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)  # never an unrestricted unpickle
    except Exception as e:  # noqa: BLE001 - any failure of the parser means a bad file; say it in one line
        raise WeightsFileError(f"{path}: cannot be read as a PyTorch file: truncated, corrupted, or holding "
                               f"more than tensors ({_one_line(e)})") from None
    state = _state_of(obj, path, torch.is_tensor, "tensor")
    out = OrderedDict()
    for name, t in state.items():
        if t.layout != torch.strided or t.is_quantized:
            raise WeightsFileError(f"{path}: {name} is a {t.layout} / quantized tensor; tinycnn reads dense ones")
        t = t.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()  # exact: every bfloat16 is a float32
        out[name] = t.numpy()
    metadata = getattr(state, "_metadata", None)
    if metadata is not None:
        out._metadata = metadata  # module versions (PyTorch's load_state_dict reads them)
    return out


def _read_safetensors(path) -> OrderedDict:
    try:
        from safetensors.numpy import load_file as st_load  # noqa: PLC0415 - an optional extra
    except ImportError:
        raise WeightsFileError(f"{path}: a .safetensors file, and reading it needs the safetensors package: "
                               f"{_INSTALL_SAFETENSORS}") from None
    try:
        return OrderedDict(st_load(str(path)))
    except Exception as e:  # noqa: BLE001 - SafetensorError, or NumPy refusing a dtype (bfloat16)
        raise WeightsFileError(f"{path}: cannot be read as safetensors: truncated, corrupted or of a dtype NumPy "
                               f"lacks ({_one_line(e)})") from None


def _read_npz(path) -> OrderedDict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return OrderedDict((name, archive[name]) for name in archive.files)
    except Exception as e:  # noqa: BLE001 - BadZipFile, a CRC error, an object array refused without pickle ...
        raise WeightsFileError(f"{path}: cannot be read as .npz: truncated or corrupted ({_one_line(e)})") from None


def _read_tinycnn(path) -> OrderedDict:
    from ..serialization import load  # noqa: PLC0415 - tinycnn.save files: SHA-256-checked arrays

    obj = load(path, map_location="cpu")
    state = _state_of(obj, path, lambda v: isinstance(v, (Tensor, np.ndarray)), "array")
    return OrderedDict((k, v.data if isinstance(v, Tensor) else v) for k, v in state.items())


_READERS = {"torch": _read_torch, "safetensors": _read_safetensors, "npz": _read_npz, "tinycnn": _read_tinycnn}


def load_file(path, *, check_hash=None) -> OrderedDict:
    """Read the state dict in a weight file: ``OrderedDict`` of name -> NumPy array (dtype and shape as stored).

    Args:
        path: a ``.pth`` / ``.pt`` (PyTorch), ``.safetensors``, ``.npz`` or ``tinycnn.save`` file (the format is
            recognised from the contents).
        check_hash: whether to check the file's SHA-256 before parsing it (torch.hub's ``check_hash``). None (the
            default): when the name carries a prefix of 8 or more hex digits (``resnet18-f37072fd.pth``, every
            torchvision file); True: always, from the prefix in the name (any length, as torch.hub), an error if
            there is none; False: never; a hex string: the SHA-256 (or its start) the file must have.
            torchvision checks on download only; tinycnn checks on every load by default, because a file can be
            damaged after its download and a damaged weight is a silently wrong answer. A name whose suffix only
            looks like a hash (``run-20240131.npz``) fails the check: pass check_hash=False for it.
    Raises:
        FileNotFoundError; WeightsFileError (one line naming the file) for a failed hash check, a truncated,
        corrupted or unknown file, a PyTorch file without PyTorch installed, a .safetensors file without the
        safetensors package, or a file that holds something other than a state dict.
    """
    path = Path(os.fspath(path))
    if not path.is_file() and not path.is_dir():
        raise FileNotFoundError(f"no such weight file: {path}")
    if path.is_file():
        _check(path, check_hash)  # the checksum before anything is parsed
    return _READERS[detect_format(path)](path)


# ----- writing --------------------------------------------------------------------------------------------------

def _arrays(state) -> OrderedDict:
    if hasattr(state, "state_dict") and callable(state.state_dict):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise TypeError(f"save_file: expected a Module or a state dict, got {type(state).__name__}")
    out = OrderedDict()
    for name, value in state.items():
        if not isinstance(name, str):
            raise TypeError(f"save_file: state dict keys must be str, got {name!r}")
        data = value.data if isinstance(value, Tensor) else value
        if not (isinstance(data, (np.ndarray, np.generic)) or backend.is_cupy_array(data)):
            raise TypeError(f"save_file: {name} is a {type(value).__name__}, not a Tensor or array")
        array = np.asarray(backend.to_device(data, "cpu"))
        out[name] = array if array.flags.c_contiguous else array.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
    return out


def _torch_bytes(arrays, path) -> bytes:
    try:
        import torch  # noqa: PLC0415 - optional
    except ImportError:
        raise RuntimeError(f"save_file: writing {path} (a PyTorch file) needs PyTorch (pip install torch); "
                           f"write .safetensors or .npz instead") from None
    buffer = io.BytesIO()
    torch.save(OrderedDict((k, torch.from_numpy(np.array(a, copy=True))) for k, a in arrays.items()), buffer)
    return buffer.getvalue()


def _safetensors_bytes(arrays, path) -> bytes:
    try:
        from safetensors.numpy import save as st_save  # noqa: PLC0415 - optional
    except ImportError:
        raise RuntimeError(f"save_file: writing {path} needs the safetensors package: {_INSTALL_SAFETENSORS}") \
            from None
    return st_save(dict(arrays), metadata={"format": "pt"})  # "pt": safetensors.torch reads it as a state dict


def _npz_bytes(arrays, path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # np.savez's layout: NAME.npy entries
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, array, allow_pickle=False)
    return buffer.getvalue()


_WRITERS = {"torch": _torch_bytes, "safetensors": _safetensors_bytes, "npz": _npz_bytes}


def save_file(state, path, *, format: str | None = None) -> Path:  # noqa: A002 - the format's name
    """Write a state dict (or a Module's) to ``path``, atomically; returns the path.

    Args:
        state: a Module, or a mapping of name -> Tensor / NumPy / CuPy array (copied to the CPU).
        path: the file; its suffix picks the format (.pth / .pt: PyTorch, through ``torch.save``, needs PyTorch;
            .safetensors: needs the safetensors package; .npz: always) unless ``format`` ("torch",
            "safetensors", "npz") is given. torch.load(weights_only=True), safetensors.torch.load_file and
            np.load read the files back (as does ``load_file``).
    Raises:
        ValueError for an unknown suffix or format, TypeError for a value that is not an array, RuntimeError
        when the package a format needs is missing.
    """
    path = Path(os.fspath(path))
    fmt = format if format is not None else FORMATS.get(path.suffix.lower())
    if fmt not in _WRITERS:
        raise ValueError(f"save_file: cannot tell the format of {path} (suffix {path.suffix!r}); use .pth, .pt, "
                         f".safetensors or .npz, or format='torch' / 'safetensors' / 'npz'")
    atomic_write_bytes(path, _WRITERS[fmt](_arrays(state), path))
    return path
