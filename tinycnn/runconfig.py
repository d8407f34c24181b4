"""What decides a training run (``TrainConfig``), its validation, and the run folder's rules.

Every field of a ``TrainConfig`` is checked up front, type and range, before any data is loaded or any folder is
written; an error is a :class:`ConfigError` (a ValueError) naming the field, what it must be and the value given.
The output folder is then checked: it must be a folder that tinycnn can write, and it must not hold an earlier
run unless ``resume`` (continue it) or ``overwrite`` (replace it) says what to do with that run. A named data
folder must exist.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from pathlib import Path

from . import backend

__all__ = ["TrainConfig", "ConfigError", "RunError", "validate_config", "check_output_folder", "check_data_dir",
           "RUN_FILES", "existing_run_files", "RESUMABLE_FIELDS", "RECIPE_FIELDS", "config_mismatches"]

# What a run writes into its folder; a folder holding any of them holds a run.
RUN_FILES = ("checkpoint.npz", "metrics.json", "curves.png")
DATASETS = ("mnist", "fashion-mnist", "cifar10", "cifar100", "folder")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "step", "multistep", "none")
AUGMENTS = ("none", "crop-flip", "resized-crop-flip")
# Fields a resumed run may change: they decide where and how a run goes, not what it computes. (The device may
# change the last bits of float32 sums: a run resumed on another device is equal to no uninterrupted run.)
RESUMABLE_FIELDS = ("data_dir", "out", "device", "progress", "resume", "overwrite", "verify")
# Fields whose None means "the recipe's value" (tinycnn.recipes resolves them before a run starts).
RECIPE_FIELDS = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule", "augment")


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides a training run; saved into metrics.json and the checkpoint.

    A field left at None takes the value of the recipe for the model and data set (:mod:`tinycnn.recipes`): on
    MNIST and Fashion-MNIST the LeNet-5 recipe that reaches about 99.2% on MNIST in 10 epochs (SGD with momentum
    0.9, lr 0.05 with cosine decay to 0 over the run, weight decay 5e-4, batch 128, inputs standardized with the
    training set's mean and standard deviation; REFERENCE.md, section 1.2); for the CIFAR ResNets and plain nets on
    CIFAR the ResNet paper's (Sec. 4.2: batch 128, SGD momentum 0.9, lr 0.1 divided by 10 at 50% and 75% of the
    iterations, weight decay 1e-4, 164 epochs = 64k iterations, 4-pixel padding with random 32x32 crops and
    flips, the per-pixel mean subtracted). The run records the resolved values.

    ``resume=True`` continues the run in ``out`` from its last checkpoint (the settings must be the run's own;
    a folder without a checkpoint starts a new run); ``overwrite=True`` replaces the run in ``out``. With
    neither, a folder that already holds a run is refused: results are never replaced silently.
    """
    model: str = "lenet5"
    dataset: str = "mnist"
    epochs: int | None = None       # None: the recipe's (10; 164 for the paper's CIFAR ResNets)
    batch_size: int | None = None   # None: the recipe's (128)
    lr: float | None = None         # None: the recipe's (the model's ModelSpec.lr, 0.05 for most; 0.1 in the paper's)
    optimizer: str = "sgd"          # "sgd" or "adam"
    momentum: float | None = None   # None: the recipe's (0.9)
    weight_decay: float | None = None  # None: the recipe's (5e-4; 1e-4 in the paper's)
    schedule: str | None = None     # "cosine", "step" (x0.1 every third of the run), "multistep" (x0.1 at 50% and
    #                                 75% of the iterations, stepped every iteration) or "none"; None: the recipe's
    augment: str | None = None      # "none" or "crop-flip" (pad 4, random crop, horizontal flip); None: the recipe's
    seed: int = 0
    data_dir: str | None = None
    out: str = "runs/lenet5"
    device: str = "cpu"
    train_limit: int | None = None  # use only the first N training images (tests, quick looks)
    test_limit: int | None = None
    progress: bool = True           # tqdm bar per epoch
    resume: bool = False            # continue the run in `out` from its last checkpoint
    overwrite: bool = False         # replace the run in `out`
    verify: bool = True             # False: the files in data_dir need not be the official ones (a warning)
    # Your own photos (dataset="folder": data_dir holds one sub-folder per class, or train/ and val/) and
    # fine-tuning a pretrained network on them (tinycnn.rundata; README "Pretrained weights"):
    weights: str | None = None      # a weight file (.pth, .safetensors, .npz) to start from; its head is replaced
    freeze_backbone: bool = False   # train the new head only (requires_grad_(False) for the rest)
    freeze_batch_norm: bool = False  # batch norms keep the pretrained statistics (FrozenBatchNorm2d)
    val_fraction: float | None = None  # share of each class held out for validation (None: 0.2, or val/)
    image_size: int | None = None   # the crop fed to the network (None: 224, the weight file's own)

    def __post_init__(self):
        # A pathlib.Path (any os.PathLike) is stored as its str: the config is recorded as JSON-able data.
        for field in ("out", "data_dir", "weights"):
            value = getattr(self, field)
            if isinstance(value, os.PathLike):
                setattr(self, field, os.fspath(value))


class RunError(ValueError):
    """A run that cannot start as asked: the output folder holds another run, or a resume that does not fit."""


class ConfigError(ValueError):
    """A bad setting: ``field`` (a TrainConfig field name), what it ``must`` be, and the ``value`` given."""

    def __init__(self, field: str, must: str, value):
        self.field, self.must, self.value = field, must, value
        super().__init__(f"{field} {must}, got {_show(value)}")

    def for_option(self, option: str) -> str:
        """The same message naming a command-line option (``--batch-size``) instead of the field."""
        return f"{option} {self.must}, got {_show(self.value)}"


def _show(value) -> str:
    if isinstance(value, _typed):
        return repr(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        return repr(os.fspath(value))
    return f"{value!r} ({_article(type(value).__name__)})"


def _int(field, value, minimum, maximum=None, optional=False):
    if optional and value is None:
        return
    ok = isinstance(value, int) and not isinstance(value, bool)
    must = f"must be an int >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    if optional:
        must += " (or None)"
    if not ok:
        raise ConfigError(field, must, _typed(value))
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigError(field, must, value)


class _typed:
    """Shows a value with its type in messages: batch_size="64" is '64' (a str), not the number 64."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"{self.value!r} ({_article(type(self.value).__name__)})"


def _article(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _real(field, value, positive: bool, optional=False):
    if optional and value is None:
        return
    must = ("must be a finite number > 0" if positive else "must be a finite number >= 0") + \
        (" (or None)" if optional else "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(field, must, _typed(value))
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ConfigError(field, must, value)


def _choice(field, value, choices):
    if value not in choices:
        raise ConfigError(field, f"must be one of {', '.join(map(repr, choices))}",
                          value if isinstance(value, str) else _typed(value))


def _bool(field, value):
    if not isinstance(value, bool):
        raise ConfigError(field, "must be True or False", _typed(value))


def _path(field, value, optional):
    if optional and value is None:
        return
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ConfigError(field, "must be a non-empty path" + (" (or None)" if optional else ""), _typed(value))


def validate_config(config) -> None:
    """Check every field of ``config`` (type and range); raise ConfigError naming the first bad one.

    Nothing is read or written: the folders are checked by :func:`check_output_folder` / :func:`check_data_dir`.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"expected a TrainConfig, got {type(config).__name__}")
    from .models import MODELS  # noqa: PLC0415 - the registry is above this module

    _choice("model", config.model, sorted(MODELS))
    _choice("dataset", config.dataset, DATASETS)
    _int("epochs", config.epochs, 1, optional=True)
    _int("batch_size", config.batch_size, 1, optional=True)
    _real("lr", config.lr, positive=True, optional=True)
    _choice("optimizer", config.optimizer, OPTIMIZERS)
    _real("momentum", config.momentum, positive=False, optional=True)
    _real("weight_decay", config.weight_decay, positive=False, optional=True)
    if config.schedule is not None:
        _choice("schedule", config.schedule, SCHEDULES)
    if config.augment is not None:
        _choice("augment", config.augment, AUGMENTS)
    _int("seed", config.seed, 0, 2**63 - 1)
    _path("data_dir", config.data_dir, optional=True)
    _path("out", config.out, optional=False)
    if not isinstance(config.device, str):  # PyTorch's spellings only: "CPU" is refused, as torch.device refuses it
        raise ConfigError("device", "must be 'cpu', 'cuda' or 'cuda:N'", _typed(config.device))
    try:
        backend.parse_device(config.device)
    except ValueError:
        raise ConfigError("device", "must be 'cpu', 'cuda' or 'cuda:N'", config.device) from None
    _int("train_limit", config.train_limit, 1, optional=True)
    _int("test_limit", config.test_limit, 1, optional=True)
    for field in ("progress", "resume", "overwrite", "verify", "freeze_backbone", "freeze_batch_norm"):
        _bool(field, getattr(config, field))
    _folder_fields(config)
    check_pretrained_options(config)
    if config.resume and config.overwrite:
        raise ConfigError("overwrite", "cannot be combined with resume (continue the run, or replace it: not both)",
                          True)


def _folder_fields(config) -> None:
    """The fields of folder runs and fine-tuning, and how they combine with the rest."""
    _path("weights", config.weights, optional=True)
    if config.val_fraction is not None:
        _real("val_fraction", config.val_fraction, positive=True)
        if config.val_fraction >= 1:
            raise ConfigError("val_fraction", "must be a number between 0 and 1 (exclusive)", config.val_fraction)
    _int("image_size", config.image_size, 8, optional=True)
    if config.dataset == "folder":
        if config.data_dir is None:
            raise ConfigError("data_dir", "must name the folder of images for dataset 'folder' (one sub-folder "
                                          "per class, or train/ and val/)", None)
        if config.augment == "crop-flip":
            raise ConfigError("augment", "must be 'resized-crop-flip' or 'none' for dataset 'folder' (images of "
                                         "any size: torchvision's RandomResizedCrop)", config.augment)
        return
    for field, value in (("weights", config.weights), ("val_fraction", config.val_fraction),
                         ("image_size", config.image_size)):
        if value is not None:
            raise ConfigError(field, "is for dataset 'folder' only (fine-tuning on your own images; the "
                                     "MNIST/CIFAR recipes use small-input forms that pretrained weights do not fit)",
                              value)
    if config.augment == "resized-crop-flip":
        raise ConfigError("augment", f"'resized-crop-flip' is for dataset 'folder'; {config.dataset} takes "
                                     "'crop-flip' or 'none'", config.augment)


def check_pretrained_options(config) -> None:
    """Freezing needs pretrained weights: freezing a random backbone would train a head on random features."""
    for field in ("freeze_backbone", "freeze_batch_norm"):
        if getattr(config, field) and config.weights is None:
            raise ConfigError(field, "needs weights (--weights FILE): freezing a randomly initialized backbone "
                                     "trains the head on random features", True)


def check_data_dir(data_dir) -> None:
    """A data folder that was named must exist: ConfigError otherwise (never a silent fallback)."""
    if data_dir is not None and not Path(data_dir).is_dir():
        what = "is not a folder" if Path(data_dir).exists() else "does not exist"
        raise ConfigError("data_dir", f"must be an existing folder (it {what})", data_dir)


def existing_run_files(out) -> list[str]:
    """The names of RUN_FILES present in ``out``."""
    out = Path(out)
    return [name for name in RUN_FILES if (out / name).exists()]


def check_output_folder(out) -> None:
    """Create ``out`` if needed and prove it writable (a temporary file written and removed).

    Raises ConfigError naming the folder: a file in the way, a folder that cannot be created or written.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError("out", "must be a folder (a file of that name is in the way)", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".tinycnn-write-test.", suffix=".tmp")
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise ConfigError("out", f"must be a folder tinycnn can write ({e.strerror or e})", out) from None


def config_mismatches(saved: dict, config: TrainConfig) -> list[str]:
    """``field: saved -> given`` for each field that decides the numbers and differs between a run's saved config
    and ``config`` (a field None in ``config`` means the recipe's value, which ``saved`` holds resolved)."""
    given = dataclasses.asdict(config)
    out = []
    for field, value in given.items():
        if field in RESUMABLE_FIELDS or field not in saved:
            continue
        if value is None and field in RECIPE_FIELDS:
            continue
        if saved[field] != value:
            out.append(f"{field}={saved[field]!r} (given {value!r})")
    return out
