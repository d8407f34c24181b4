"""ImageNet-1K for pretrained classifiers: the 1000 class names and torchvision's preprocessing, built from
:mod:`tinycnn.data.transforms`.

    from tinycnn.data import imagenet_classes, imagenet_transform, pil_loader
    x = imagenet_transform()(pil_loader("cat.jpg"))       # float32 Tensor (3, 224, 224), normalized
    logits = model(x.unsqueeze(0))                          # (1, 1000); imagenet_classes()[i] names class i

The class names are torchvision's (``torchvision.models._meta._IMAGENET_CATEGORIES``, which every one of its
ImageNet weights carries as ``meta["categories"]``), shipped as the package data file ``imagenet_classes.txt``, one
name per line in class-index order: WordNet's first lemma of each ILSVRC-2012 synset, the same list as Keras' and
PyTorch Hub's ``imagenet_classes.txt`` with spaces for underscores, except that torchvision renamed the two
duplicates, class 134 "crane bird" (517 is the machine "crane") and 639 "maillot tank suit" (638 "maillot").
"""
from __future__ import annotations

import functools
from importlib import resources

from ..weights.torchvision import IMAGENET_MEAN, IMAGENET_STD
from .transforms import CenterCrop, Compose, Normalize, RandomHorizontalFlip, Resize, ToTensor
from .transforms_crop import RandomResizedCrop

__all__ = ["imagenet_classes", "imagenet_transform", "imagenet_train_transform", "IMAGENET_MEAN", "IMAGENET_STD",
           "CLASSES_FILE"]

CLASSES_FILE = "imagenet_classes.txt"
NUM_CLASSES = 1000


@functools.lru_cache(maxsize=1)
def _read_classes() -> tuple[str, ...]:
    try:
        text = resources.files(__package__).joinpath(CLASSES_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as e:
        raise FileNotFoundError(f"the package data file tinycnn/data/{CLASSES_FILE} is missing from this "
                                f"installation of tinycnn ({e}); reinstall tinycnn") from None
    names = tuple(text.splitlines())
    if len(names) != NUM_CLASSES or len(set(names)) != NUM_CLASSES or not all(names):
        raise ValueError(f"tinycnn/data/{CLASSES_FILE} is damaged: {len(names)} lines, {len(set(names))} distinct "
                         f"names, expected {NUM_CLASSES} distinct non-empty names")
    return names


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1K class names in class-index order (a new list each call), e.g. ``[0] == "tench"``,
    ``[207] == "golden retriever"``. Raises FileNotFoundError if the package data file is missing."""
    return list(_read_classes())


def imagenet_transform(resize_size: int = 256, crop_size: int = 224, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """torchvision's evaluation preprocessing of its ImageNet classifiers (``ImageClassification``, the
    ``transforms()`` of every ``*_Weights`` enum): resize the shorter side to ``resize_size`` (Pillow's bilinear
    filter for a PIL image), centre crop ``crop_size``, scale to [0, 1], normalize with ImageNet's mean and std.

    ``Compose([Resize(resize_size), CenterCrop(crop_size), ToTensor(), Normalize(mean, std)])``: an RGB PIL image
    (``pil_loader``, ``ImageFolder``'s) becomes a float32 Tensor (3, crop_size, crop_size). Most of torchvision's
    weights use 256 / 224; its V2 ResNet weights 232 / 224 (``tinycnn.weights.lookup(file).resize_size``).
    """
    return Compose([Resize(resize_size), CenterCrop(crop_size), ToTensor(), Normalize(mean, std)])


def imagenet_train_transform(crop_size: int = 224, hflip_prob: float = 0.5, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """torchvision's ImageNet training preprocessing (``references/classification/presets.py``,
    ``ClassificationPresetTrain`` with its defaults: no auto-augment, no random erasing):
    ``Compose([RandomResizedCrop(crop_size), RandomHorizontalFlip(hflip_prob), ToTensor(), Normalize(mean, std)])``.
    The random draws come from the DataLoader's generator of the epoch (runs repeat and resume bit for bit)."""
    steps = [RandomResizedCrop(crop_size)]
    if hflip_prob > 0:
        steps.append(RandomHorizontalFlip(hflip_prob))
    return Compose(steps + [ToTensor(), Normalize(mean, std)])
