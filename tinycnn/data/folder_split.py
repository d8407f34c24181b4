"""A folder of your own photos as training and validation data (``tinycnn train MODEL --dataset folder``).

Two layouts, the first that fits:

- ``DIR/train/<class>/...`` and ``DIR/val/<class>/...`` (torchvision's ImageNet layout, and that of PyTorch's
  transfer-learning tutorial): the two splits as given; both must have the same class folders.
- ``DIR/<class>/...`` (one ImageFolder): a validation split held out of each class, ``val_fraction`` of its images
  (rounded half up, at least one and at most all but one when the class has two or more images), chosen by a
  generator seeded with the run's seed, so a run, its resume and ``tinycnn evaluate`` use the same split.

The validation images are decoded once, resized and centre-cropped (:func:`folder_arrays`) into uint8 arrays
(N, 3, crop, crop), 3 * crop**2 bytes each (150 KB at 224): ``normalize(images, IMAGENET_MEAN, IMAGENET_STD)``
then gives exactly what ``ToTensor()`` and ``Normalize`` give.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from .dataset import Subset
from .folder import ImageFolder
from .transforms import CenterCrop, Compose, Resize

__all__ = ["FolderSplit", "split_image_folder", "folder_arrays", "DEFAULT_VAL_FRACTION"]

DEFAULT_VAL_FRACTION = 0.2


@dataclass
class FolderSplit:
    """``train`` (a Dataset of (PIL image, class) with ``train_transform`` applied), ``val`` (a Dataset of (PIL
    image, class), untransformed), ``classes`` (sorted folder names), ``layout`` (how it was split, in words) and
    ``val_fraction`` (None for a train/ and val/ layout)."""
    train: object
    val: object
    classes: list
    layout: str
    val_fraction: float | None


def _has_split_layout(root: str) -> bool:
    return os.path.isdir(os.path.join(root, "train")) and os.path.isdir(os.path.join(root, "val"))


def _held_out(targets, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of the validation images: per class, round(n * fraction) of them (see the module docstring)."""
    targets = np.asarray(targets)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E1]))  # its own stream, apart from the loader's
    chosen = []
    for c in np.unique(targets):
        members = np.flatnonzero(targets == c)
        n = len(members)
        k = 0 if n < 2 else min(max(int(math.floor(n * fraction + 0.5)), 1), n - 1)
        chosen.extend(rng.permutation(members)[:k].tolist())
    return np.sort(np.asarray(chosen, dtype=np.int64))


def split_image_folder(root, val_fraction: float | None = None, seed: int = 0, train_transform=None) -> FolderSplit:
    """The training and validation Datasets of a folder of photos (layouts in the module docstring).

    Args:
        root: the folder. val_fraction: the share of each class held out for validation when there is no
            train/ + val/ layout (default 0.2); must be None with that layout. seed: the split's seed.
        train_transform: applied to each training image (a PIL image), e.g. ``imagenet_train_transform()``.
    Raises:
        FileNotFoundError (no such folder, no class folders, a class without images), ValueError for a
        val_fraction outside (0, 1), one given with a train/ + val/ layout, train/ and val/ with other classes,
        or a split leaving no validation image.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"the image folder {root} does not exist" if not os.path.exists(root)
                                else f"{root} is not a folder")
    if _has_split_layout(root):
        if val_fraction is not None:
            raise ValueError(f"{root} has its own train/ and val/ folders: no val_fraction (--val-fraction) to give")
        train = ImageFolder(os.path.join(root, "train"), transform=train_transform)
        val = ImageFolder(os.path.join(root, "val"))
        if train.classes != val.classes:
            only_train = sorted(set(train.classes) - set(val.classes))
            only_val = sorted(set(val.classes) - set(train.classes))
            raise ValueError(f"{root}: train/ and val/ must hold the same class folders; only in train/: "
                             f"{only_train or 'none'}, only in val/: {only_val or 'none'}")
        return FolderSplit(train, val, train.classes, f"{root}/train and {root}/val", None)
    fraction = DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"val_fraction must be a number between 0 and 1 (exclusive), got {fraction!r}")
    full = ImageFolder(root)
    held = _held_out(full.targets, fraction, seed)
    if len(held) == 0:
        raise ValueError(f"{root}: no class has two images, so no validation image can be held out; add images "
                         f"or give train/ and val/ folders")
    kept = np.setdiff1d(np.arange(len(full)), held)
    train = Subset(ImageFolder(root, transform=train_transform), kept.tolist())
    val = Subset(full, held.tolist())
    layout = f"{root}, {len(held)} of {len(full)} images held out for validation ({fraction:g} of each class, seed {seed})"
    return FolderSplit(train, val, full.classes, layout, float(fraction))


def folder_arrays(dataset, resize_size: int, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, 3, crop, crop), int64 labels (N,)): each (PIL image, class) sample of ``dataset``
    resized (shorter side ``resize_size``, Pillow's bilinear filter) and centre-cropped, as
    ``imagenet_transform`` does before ``ToTensor``."""
    prepare = Compose([Resize(resize_size), CenterCrop(crop_size)])
    images = np.empty((len(dataset), 3, crop_size, crop_size), dtype=np.uint8)
    labels = np.empty(len(dataset), dtype=np.int64)
    for i in range(len(dataset)):
        image, label = dataset[i]
        images[i] = np.asarray(prepare(image), dtype=np.uint8).transpose(2, 0, 1)
        labels[i] = label
    return images, labels
