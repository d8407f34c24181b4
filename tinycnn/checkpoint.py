"""Training checkpoints: a model's weights, what rebuilds it, and (for resuming) the whole training state.

A checkpoint is a :func:`tinycnn.save` file (an .npz of arrays plus a JSON skeleton; every array SHA-256-checked
on load, no pickle, written atomically) holding one dict::

    {"kind": "tinycnn.train checkpoint",
     "meta": {"model", "model_args", "dataset", "mean", "std", "input_size", "epoch", "config", ...},
     #        a folder run adds "classes", "resize_size", "split"; a fine-tuned one "transfer" (how to rebuild
     #        it: tinycnn.models.transfer.rebuild)
     "model": {name: array},                     # model.state_dict()
     "training": {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict() or None,
                  "loader": loader.state_dict(), "history": [per-epoch records]}  # or None: weights only
    }

Every way a file can fail to be a usable checkpoint raises :class:`CheckpointError` (a ValueError) with one line
naming the file and what is wrong; a missing file raises FileNotFoundError. Checkpoints written before checksums
existed (``meta`` + ``param/*`` entries) still load, with a warning that nothing could be verified.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from . import backend
from ._checkpoint_checks import check_meta, check_training
from .models import MODELS, get_model
from .serialization import CheckpointError, SKELETON, load, open_archive, read_file_bytes, read_npz_entry, save
from .tensor import Tensor

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "checked_checkpoint", "is_checkpoint", "build_model",
           "CheckpointError", "KIND", "META_FIELDS"]

KIND = "tinycnn.train checkpoint"
META_FIELDS = ("model", "model_args", "dataset", "mean", "std")  # what evaluate needs


def _as_array(value):
    """A state-dict value (NumPy, CuPy, or a Tensor sharing memory with a parameter) as a NumPy copy."""
    data = value.data if isinstance(value, Tensor) else value
    return np.array(backend.to_device(data, "cpu"), copy=True)


def save_checkpoint(path, model, meta: dict, training: dict | None = None) -> None:
    """Save ``model.state_dict()``, ``meta`` and optionally the training state to ``path``, atomically.

    Args:
        meta: JSON-able dict naming at least "model" and "model_args" (what rebuilds the model), "dataset",
            "mean", "std" and "epoch".
        training: None (weights only) or {"optimizer", "scheduler", "loader", "history"} as fit saves them.
    Raises TypeError (from tinycnn.save) for anything that is not data, OSError if the file cannot be written.
    """
    state = {name: _as_array(value) for name, value in model.state_dict().items()}
    save({"kind": KIND, "meta": meta, "model": state, "training": training}, path)


def _read_legacy(path, data: bytes) -> dict | None:
    """The checkpoint of an older tinycnn (np.savez of ``meta`` + ``param/NAME``), or None if ``data`` is not one."""
    archive = open_archive(data, path)
    with archive:
        names = set(archive.namelist())
        if SKELETON + ".npy" in names or "meta.npy" not in names:
            return None
        try:
            meta = json.loads(read_npz_entry(archive, "meta", path).tobytes().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{path}: corrupted (its meta entry is not JSON: {e})") from None
        state = {n[len("param/"):-len(".npy")]: read_npz_entry(archive, n[:-len(".npy")], path)
                 for n in archive.namelist() if n.startswith("param/") and n.endswith(".npy")}
    warnings.warn(f"{path} was written by an older tinycnn, without checksums: its weights could not be verified",
                  UserWarning, stacklevel=4)
    return {"kind": KIND, "meta": meta, "model": state, "training": None}


def read_checkpoint(path) -> dict:
    """The checkpoint dict at ``path`` (see the module docstring), checked for its structure and metadata.

    Raises FileNotFoundError for a missing file, CheckpointError (one line naming the file) for anything else:
    a directory, not a checkpoint (text, an image, a pickle, another archive, a tinycnn file holding something
    else), truncated, corrupted (zip CRC or an array's SHA-256), metadata lacking a field or holding a value of the
    wrong type or range (:mod:`tinycnn._checkpoint_checks`), or a training state of the wrong structure.
    """
    path = Path(path)
    data = read_file_bytes(path, "checkpoint file")
    checkpoint = _read_legacy(path, data)
    if checkpoint is None:
        checkpoint = load(path, map_location="cpu")
    return checked_checkpoint(checkpoint, path)


def is_checkpoint(obj) -> bool:
    """Whether ``obj`` (what ``tinycnn.load`` gave) is a training checkpoint rather than another tinycnn file."""
    return isinstance(obj, dict) and obj.get("kind") == KIND


def checked_checkpoint(checkpoint, path) -> dict:
    """``checkpoint`` (a loaded object) checked as :func:`read_checkpoint` checks it; CheckpointError otherwise."""
    if not is_checkpoint(checkpoint):
        what = f"a {type(checkpoint).__name__}" if not isinstance(checkpoint, dict) else \
            f"a dict with keys {sorted(map(str, checkpoint))[:6]}"
        raise CheckpointError(f"{path}: a tinycnn file but not a training checkpoint (it holds {what}; a saved "
                              "state dict loads with tinycnn.load and model.load_state_dict)")
    meta = checkpoint.get("meta")
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the checkpoint has no metadata dict")
    for field in META_FIELDS:
        if field not in meta:
            raise CheckpointError(f"{path}: the checkpoint's metadata lacks the field {field!r}")
    if not isinstance(checkpoint.get("model"), dict):
        raise CheckpointError(f"{path}: the checkpoint holds no weights (no 'model' state dict)")
    check_meta(meta, path)  # types and ranges: one line naming the field, never a traceback later
    check_training(checkpoint.get("training"), path)
    return checkpoint


def build_model(checkpoint: dict, path, device: str = "cpu"):
    """The model a checkpoint names, with its weights, on ``device``; CheckpointError if they do not fit."""
    meta = checkpoint["meta"]
    name, args = meta["model"], meta["model_args"]
    if name not in MODELS:
        raise CheckpointError(f"{path}: holds a model named {name!r}, which this tinycnn does not know")
    if not isinstance(args, dict):
        raise CheckpointError(f"{path}: its model_args must be a dict, got {args!r}")
    transfer = meta.get("transfer")
    try:
        if transfer is not None:  # a fine-tuned network: the pretrained one, its head replaced, frozen as recorded
            from .models.transfer import rebuild  # noqa: PLC0415

            model = rebuild(name, transfer)
        else:
            model = get_model(name, **args)
    except (TypeError, ValueError, KeyError) as e:
        what = f"transfer record {transfer}" if transfer is not None else f"model_args {args}"
        raise CheckpointError(f"{path}: its {what} do not build {name} ({e})") from None
    state = {k: _as_array(v) for k, v in checkpoint["model"].items()}
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as e:  # load_state_dict's errors are RuntimeErrors, as PyTorch's
        message = " ".join(str(e.args[0] if e.args else e).split())  # one line: the strict message has several
        raise CheckpointError(f"{path}: its weights do not fit {name}({args}): {message}") from None
    return model.to(device)


def load_checkpoint(path, device: str = "cpu"):
    """(model, meta) from a checkpoint written by :func:`save_checkpoint` (or ``fit``): the model rebuilt from the
    registry with the checkpoint's weights, on ``device``.

    Raises FileNotFoundError for a missing file, CheckpointError (a ValueError; one line naming the file and what
    is wrong) for a file that is not a usable checkpoint, including weights that do not fit the model it names.
    """
    checkpoint = read_checkpoint(path)
    return build_model(checkpoint, Path(path), device), checkpoint["meta"]
