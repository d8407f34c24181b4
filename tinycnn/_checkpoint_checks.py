"""The type and range checks of a checkpoint's ``meta`` and ``training`` sections (:mod:`tinycnn.checkpoint`).

A checkpoint is data that anyone can edit (``tinycnn.load``, change, ``tinycnn.save``) or damage: every field that
evaluate or a resumed run uses is checked before it is used, so a bad one gives one line naming the file and the
field (CheckpointError) rather than a traceback deep inside the model, the data loader or the scheduler, or, worse,
a run that silently does something else (an epoch skipped, a normalization by zero).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .serialization import CheckpointError

__all__ = ["check_meta", "check_training", "check_resumable", "HISTORY_FIELDS", "NATIVE_SIZES"]

# The H = W of each data set's own images (a folder run records the crop it fed the network).
NATIVE_SIZES = {"mnist": 28, "fashion-mnist": 28, "cifar10": 32, "cifar100": 32}
HISTORY_FIELDS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds",
                  "images_per_second", "lr")
TRAINING_KEYS = ("optimizer", "scheduler", "loader", "history")


def _fail(path, what: str):
    raise CheckpointError(f"{path}: {what}")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _stats(path, field: str, value, positive: bool) -> None:
    """mean / std: a finite number, a list of them (one per channel) or a float array (a mean image)."""
    if _is_real(value):
        values = np.array([value], dtype=np.float64)
    elif isinstance(value, (list, tuple)) and value and all(_is_real(v) for v in value):
        values = np.array(value, dtype=np.float64)
    elif isinstance(value, np.ndarray) and value.size and value.dtype.kind in "fiu":
        values = value.astype(np.float64)
    else:
        _fail(path, f"its metadata field {field!r} must be a number, a list of numbers or a numeric array, "
                    f"got {_show(value)}")
    if not np.isfinite(values).all() or (positive and not (values > 0).all()):
        _fail(path, f"its metadata field {field!r} must be finite{' and > 0' if positive else ''}, got "
                    f"{_show(value if not isinstance(value, np.ndarray) else values.min())}")


def check_meta(meta: dict, path) -> None:
    """The fields evaluate and a resume use: model, model_args, dataset, mean, std, input_size, epoch, config."""
    from .models import MODELS  # noqa: PLC0415 - the registry is above this module
    from .runconfig import DATASETS  # noqa: PLC0415

    if not isinstance(meta["model"], str):
        _fail(path, f"its metadata field 'model' must be a model name (a str), got {_show(meta['model'])}")
    if not isinstance(meta["model_args"], dict):
        _fail(path, f"its metadata field 'model_args' must be a dict, got {_show(meta['model_args'])}")
    dataset = meta["dataset"]
    if not isinstance(dataset, str) or dataset not in DATASETS:
        _fail(path, f"its metadata field 'dataset' must be one of {', '.join(map(repr, DATASETS))}, "
                    f"got {_show(dataset)}")
    _stats(path, "mean", meta["mean"], positive=False)
    _stats(path, "std", meta["std"], positive=True)
    if "input_size" in meta:
        size = meta["input_size"]
        native = NATIVE_SIZES.get(dataset)
        if native is not None and meta["model"] in MODELS:  # a function of (model, data set): recipes.model_args
            expected = max(MODELS[meta["model"]].small_input_size, native)
            if not (_is_int(size) and size == expected):
                _fail(path, f"its metadata field 'input_size' must be {expected} for {meta['model']} on {dataset}, "
                            f"got {_show(size)}")
        elif not (_is_int(size) and size >= 8):
            _fail(path, f"its metadata field 'input_size' must be an int >= 8, got {_show(size)}")
    if "epoch" in meta and not (_is_int(meta["epoch"]) and meta["epoch"] >= 1):
        _fail(path, f"its metadata field 'epoch' must be an int >= 1 (the epochs done), got {_show(meta['epoch'])}")
    if "config" in meta:
        _check_config(meta["config"], path)


def _check_config(config, path) -> None:
    """The run's recorded TrainConfig: a dict whose known fields pass validate_config."""
    import dataclasses  # noqa: PLC0415

    from .runconfig import ConfigError, TrainConfig, validate_config  # noqa: PLC0415

    if not isinstance(config, dict):
        _fail(path, f"its metadata field 'config' must be a dict (the run's settings), got {_show(config)}")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    try:
        validate_config(TrainConfig(**{k: v for k, v in config.items() if k in known}))
    except ConfigError as e:
        _fail(path, f"its recorded config is not valid: {e}")


def check_training(training, path) -> None:
    """The structure of the ``training`` section (None: weights only); how it fits the run: :func:`check_resumable`."""
    if training is None:
        return
    if not isinstance(training, dict):
        _fail(path, f"its training state must be a dict, got {_show(training)}")
    missing = [k for k in TRAINING_KEYS if k not in training]
    if missing:
        _fail(path, f"its training state lacks {', '.join(map(repr, missing))}")
    optimizer = training["optimizer"]
    if not (isinstance(optimizer, dict) and isinstance(optimizer.get("state"), dict)
            and isinstance(optimizer.get("param_groups"), list)
            and all(isinstance(g, dict) for g in optimizer["param_groups"])):
        _fail(path, f"its optimizer state must be a dict with 'state' and 'param_groups', got {_show(optimizer)}")
    if training["scheduler"] is not None and not isinstance(training["scheduler"], dict):
        _fail(path, f"its scheduler state must be a dict or None, got {_show(training['scheduler'])}")
    loader = training["loader"]
    if not (isinstance(loader, dict) and all(_is_int(loader.get(k)) and loader[k] >= 0 for k in ("seed", "epoch"))):
        _fail(path, f"its data loader state must be {{'seed': int >= 0, 'epoch': int >= 0}}, got {_show(loader)}")
    history = training["history"]
    if not isinstance(history, list):
        _fail(path, f"its training history must be a list of per-epoch records, got {_show(history)}")
    for i, record in enumerate(history, 1):
        if not isinstance(record, dict) or any(not _is_real(record.get(k)) for k in HISTORY_FIELDS):
            _fail(path, f"its training history's record {i} must hold the numbers {', '.join(HISTORY_FIELDS)}, got "
                        f"{_show(record)}")
        if record["epoch"] != i or not all(math.isfinite(record[k]) for k in ("seconds", "lr")):
            _fail(path, f"its training history's record {i} is for epoch {_show(record['epoch'])}")


def check_resumable(checkpoint: dict, path, epochs: int) -> None:
    """A checkpoint with a training state that continues a run of ``epochs`` epochs: its epoch is its history's
    length (the epochs done), at most ``epochs``."""
    meta, training = checkpoint["meta"], checkpoint["training"]
    if "config" not in meta:
        _fail(path, "its metadata lacks the field 'config' (the run's settings): it cannot be resumed")
    if len(training["history"]) != meta["epoch"]:
        _fail(path, f"its metadata says epoch {meta['epoch']} but its training history holds "
                    f"{len(training['history'])} epochs")
    if meta["epoch"] > epochs:
        _fail(path, f"its metadata says epoch {meta['epoch']}, more than the run's {epochs} epochs")


def check_state_fits(saved, fresh, path, what: str) -> None:
    """A saved scheduler / optimizer-group state has the keys, and kinds of values, of the freshly built one's."""
    if set(saved) != set(fresh):
        _fail(path, f"its {what} state does not fit this run's {what} (keys {sorted(map(str, saved))}, expected "
                    f"{sorted(map(str, fresh))})")
    for key, value in fresh.items():
        kinds = (type(None),) if value is None else (bool,) if isinstance(value, bool) else \
            (numbers.Real,) if _is_real(value) else (list, tuple) if isinstance(value, (list, tuple)) else \
            (dict,) if isinstance(value, dict) else (type(value),)
        if not isinstance(saved[key], kinds) or (kinds == (numbers.Real,) and isinstance(saved[key], bool)):
            _fail(path, f"its {what} state's {key!r} must be like {_show(value)}, got {_show(saved[key])}")
