"""Loading a weight file into a model, with an error that says what does not fit and what would.

``load_weights(model, path)`` is ``model.load_state_dict(load_file(path), strict)`` (PyTorch's semantics: every
key, strict by default, shapes checked before anything is copied, values cast to each parameter's dtype and
device), with a better error when the file and the model disagree: the missing and unexpected keys with their
shapes, the size mismatches with both shapes, and a hint where one is cheap to give (the file looks like
torchvision's resnet50; its classifier has 10 outputs, so pass num_classes=10; the keys carry DataParallel's
"module." prefix).
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from ..tensor import Tensor
from .files import load_file
from .torchvision import guess_architecture, lookup

__all__ = ["load_weights", "WeightsMismatchError"]

_SHOWN = 8  # keys listed per kind before "... and N more"


class WeightsMismatchError(RuntimeError):
    """A state dict that does not fit the model: the message lists the keys and shapes involved (a RuntimeError,
    as PyTorch's ``load_state_dict`` raises)."""


def _shape(value) -> tuple:
    data = value.data if isinstance(value, Tensor) else value
    return tuple(np.shape(data))


def _listing(items) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f", ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _tolerated(model, state) -> set:
    """Keys that PyTorch lets a state dict lack: a BatchNorm's num_batches_tracked when the dict carries no module
    version 2 or later (checkpoints older than the counter, or plain dicts without metadata)."""
    metadata = getattr(state, "_metadata", None)
    out = set()
    for prefix, module in model.named_modules():
        version = None if metadata is None else metadata.get(prefix, {}).get("version")
        if version is None or version < 2:
            out.update(f"{prefix}.{name}" if prefix else name for name in getattr(module, "_optional_state", ()))
    return out


def _hints(model, model_name, state, missing, unexpected, mismatched) -> list:
    hints = []
    guess = guess_architecture(state)
    if guess is not None and guess != model_name:
        hints.append(f"the file's keys and shapes are those of {guess}: build that network instead "
                     f"(get_model({guess!r}, weights=...))")
    if unexpected and all(k.startswith("module.") for k in unexpected) and not missing - {
            k[len("module."):] for k in unexpected}:
        hints.append("every key starts with 'module.' (saved from DataParallel): strip it first, "
                     "{k.removeprefix('module.'): v for k, v in state.items()}")
    params = [(name, p) for name, p in model.named_parameters() if p.ndim == 2]
    if params and mismatched:
        head = params[-1][0]  # the last linear layer: the classifier
        if head in mismatched and set(mismatched) <= {head, head[:-len("weight")] + "bias"}:
            hints.append(f"the file's classifier has {mismatched[head][0][0]} outputs: build the model with "
                         f"num_classes={mismatched[head][0][0]} (and replace the head afterwards to fine-tune)")
    first = next(((n, p) for n, p in model.named_parameters() if p.ndim == 4), None)
    if first is not None and first[0] in mismatched:
        (file_shape, model_shape) = mismatched[first[0]]
        if file_shape[0] == model_shape[0] and file_shape[1] != model_shape[1]:
            hints.append(f"the file's first convolution takes {file_shape[1]} input channels: build the model "
                         f"with in_channels={file_shape[1]}")
    return hints


def _mismatch_message(model, model_name, state, source, strict) -> str | None:
    ours = {name: _shape(v) for name, v in model.state_dict().items()}
    theirs = {name: _shape(v) for name, v in state.items()}
    missing = set(ours) - set(theirs) - _tolerated(model, state) if strict else set()
    unexpected = [k for k in theirs if k not in ours] if strict else []
    mismatched = {k: (theirs[k], ours[k]) for k in ours if k in theirs and theirs[k] != ours[k]
                  and not (ours[k] == () and theirs[k] == (1,))}  # a 1-element vector for a scalar: accepted
    if not (missing or unexpected or mismatched):
        return None
    name = model_name or type(model).__name__
    lines = [f"{name} cannot take the weights in {source}" + (" (strict loading)" if strict else "") + ":"]
    if missing:
        ordered = [k for k in ours if k in missing]
        lines.append(f"  missing in the file ({len(ordered)} of the model's {len(ours)} entries): "
                     + _listing([f"{k} {ours[k]}" for k in ordered]))
    if unexpected:
        lines.append(f"  unexpected in the file ({len(unexpected)} of its {len(theirs)} entries): "
                     + _listing([f"{k} {theirs[k]}" for k in unexpected]))
    if mismatched:
        lines.append(f"  size mismatch ({len(mismatched)}): "
                     + _listing([f"{k}: file {f}, model {m}" for k, (f, m) in mismatched.items()]))
    lines += [f"  hint: {h}" for h in _hints(model, model_name, state, missing, unexpected, mismatched)]
    return "\n".join(lines)


def _not_a_file_hint(weights) -> str:
    """A torchvision enum name passed as weights= (torchvision accepts "IMAGENET1K_V1"; tinycnn wants a file)."""
    text = os.fspath(weights)
    entry = lookup(text)
    if entry is not None or text in ("DEFAULT", "IMAGENET1K_V1", "IMAGENET1K_V2"):
        where = f" ({entry.url})" if entry is not None else ""
        return (f"weights={text!r} names torchvision weights{where}, not a file: tinycnn downloads nothing by "
                f"itself; download the file (tinycnn.weights.download(url) or by hand) and pass its path")
    return ""


def load_weights(model, weights, *, strict: bool = True, check_hash=None, model_name: str | None = None,
                 source: str | None = None):
    """Load a weight file (or a state dict) into ``model``, in place, as ``model.load_state_dict(state, strict)``.

    Args:
        model: a tinycnn Module (its parameters keep their dtype and device; the values are cast and copied).
        weights: a path (.pth / .pt, .safetensors, .npz or a ``tinycnn.save`` file: ``load_file``) or a mapping
            of name -> Tensor / array.
        strict: every key of the model in the file and no other (PyTorch's default); shapes are always checked.
        check_hash: see ``load_file`` (default: check the SHA-256 prefix a torchvision-style name carries).
        model_name: how the error names the model ("resnet18"); the class name by default.
        source: how the error names a state dict given as a mapping (the file it was read from).
    Returns:
        ``(missing_keys, unexpected_keys)``, as ``load_state_dict`` (both empty with ``strict``).
    Raises:
        WeightsMismatchError (a RuntimeError) listing the missing and unexpected keys and the size mismatches with
        their shapes, plus hints (the architecture the file looks like, num_classes=, in_channels=); nothing is
        copied then. FileNotFoundError, WeightsFileError (one line) for an unreadable file or a failed hash check.
    """
    if isinstance(weights, Mapping):
        state, source = weights, source or "the given state dict"
    elif isinstance(weights, (str, os.PathLike)):
        if not os.path.exists(weights):
            hint = _not_a_file_hint(weights)
            raise FileNotFoundError(hint or f"no such weight file: {weights}")
        state, source = load_file(weights, check_hash=check_hash), os.fspath(weights)
    else:
        raise TypeError(f"weights must be a path or a state dict (a mapping of names to arrays), got "
                        f"{type(weights).__name__}")
    message = _mismatch_message(model, model_name, state, source, strict)
    if message is not None:
        raise WeightsMismatchError(message)
    return model.load_state_dict(state, strict=strict)
