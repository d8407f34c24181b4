"""The data and the network of a training run: what ``fit`` trains on, evaluates on, and starts from.

Two kinds of data set:

- MNIST, Fashion-MNIST, CIFAR-10/100: uint8 arrays, padded to the model's input size, batched by the array
  DataLoader with the recipe's batch transform (:mod:`tinycnn.recipes`).
- ``"folder"``: your own photos (:mod:`tinycnn.data.folder_split`: one sub-folder per class, or train/ and val/),
  preprocessed as torchvision preprocesses ImageNet: for training each image goes through
  ``RandomResizedCrop(image_size)`` and a horizontal flip ("resized-crop-flip", torchvision's reference recipe) or
  the evaluation transform ("none"), then ``ToTensor`` and ``Normalize(IMAGENET_MEAN, IMAGENET_STD)``, drawn from
  the loader's generator of the epoch; the validation images are resized (shorter side ``resize_size``) and
  centre-cropped once, as ``imagenet_transform``. ``image_size`` defaults to the weight file's crop (224) and
  ``resize_size`` to its resize (256; 232 for torchvision's V2 ResNets), or ``image_size * 256 / 224``. The run's
  "test" numbers are those of the validation split.

With ``weights`` (folder runs only) the network is built from the weight file with the file's classes, its head
replaced by one for the folder's classes, the backbone and the batch norms frozen if asked
(:func:`tinycnn.models.transfer.pretrained`); the checkpoint records how to rebuild it (``meta["transfer"]``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import recipes
from .data import DataLoader, load_dataset

__all__ = ["RunData", "prepare", "new_model", "evaluation_data", "pad_images", "folder_sizes"]


@dataclass
class RunData:
    """What a run trains and evaluates on: ``loader`` (training batches: float32 (N, C, H, W), int64 (N,)),
    ``test_x`` / ``test_y`` (uint8 images and labels, normalized by ``mean`` / ``std`` at evaluation), the
    network's ``model_args`` and ``input_size``, the ``source`` in words, ``n_train``, and ``meta`` (more for the
    checkpoint: a folder's classes and sizes)."""
    loader: DataLoader
    test_x: np.ndarray
    test_y: np.ndarray
    mean: object
    std: object
    model_args: dict
    input_size: int
    source: str
    n_train: int
    meta: dict = field(default_factory=dict)


def pad_images(images, size: int):
    """Zero-pad uint8 images (N, H, W) or (N, C, H, W) symmetrically to size x size: the background of MNIST is 0,
    so a network defined for 32x32 inputs (LeNet-5 in the paper) sees the 28x28 digit centred as LeCun et al. did.

    Raises ValueError when ``size`` is smaller than the images.
    """
    h, w = images.shape[-2:]
    if (h, w) == (size, size):
        return images
    if size < h or size < w:
        raise ValueError(f"pad_images: size must be at least the image size {(h, w)}, got {size}")
    top, left = (size - h) // 2, (size - w) // 2
    pad = [(0, 0)] * (images.ndim - 2) + [(top, size - h - top), (left, size - w - left)]
    return np.pad(images, pad)


def prepare(config) -> RunData:
    """The data of a resolved ``config`` (every recipe field set)."""
    if config.dataset == "folder":
        return _prepare_folder(config)
    from .data import last_source  # noqa: PLC0415

    train_x, train_y = load_dataset(config.dataset, "train", root=config.data_dir, verify=config.verify)
    source = str(last_source())
    test_x, test_y = load_dataset(config.dataset, "test", root=config.data_dir, verify=config.verify)
    if config.train_limit:
        train_x, train_y = train_x[:config.train_limit], train_y[:config.train_limit]
    if config.test_limit:
        test_x, test_y = test_x[:config.test_limit], test_y[:config.test_limit]
    model_args, input_size = recipes.model_args(config.model, config.dataset, train_x)
    train_x, test_x = pad_images(train_x, input_size), pad_images(test_x, input_size)
    mean, std = recipes.input_stats(config.dataset, train_x)
    loader = DataLoader(train_x, train_y, batch_size=config.batch_size, shuffle=True, seed=config.seed,
                        transform=recipes.train_transform(config.augment, mean, std, input_size))
    return RunData(loader, test_x, test_y, mean, std, model_args, input_size, source, len(train_x))


def folder_sizes(model: str, weights, image_size) -> tuple[int, int]:
    """(resize_size, crop_size) of a folder run (module docstring)."""
    from .weights import lookup  # noqa: PLC0415

    entry = lookup(os.fspath(weights)) if weights is not None else None
    if entry is not None and entry.model != model:
        entry = None
    crop = image_size or (entry.crop_size if entry is not None else 224)
    if entry is not None and crop == entry.crop_size:
        return entry.resize_size, crop
    return int(crop * 256 / 224), crop


def _split(config, data_dir, train_transform=None):
    from .data.folder_split import split_image_folder  # noqa: PLC0415

    return split_image_folder(data_dir, config.val_fraction, config.seed, train_transform)


def _prepare_folder(config) -> RunData:
    from .data.dataset import Subset  # noqa: PLC0415
    from .data.folder_split import folder_arrays  # noqa: PLC0415
    from .data.imagenet import IMAGENET_MEAN, IMAGENET_STD, imagenet_train_transform, imagenet_transform  # noqa

    resize, crop = folder_sizes(config.model, config.weights, config.image_size)
    train_tf = imagenet_train_transform(crop) if config.augment == "resized-crop-flip" else \
        imagenet_transform(resize, crop)
    split = _split(config, config.data_dir, train_tf)
    train, val = split.train, split.val
    if config.train_limit:
        train = Subset(train, list(range(min(config.train_limit, len(train)))))
    if config.test_limit:
        val = Subset(val, list(range(min(config.test_limit, len(val)))))
    val_x, val_y = folder_arrays(val, resize, crop)
    loader = DataLoader(train, batch_size=config.batch_size, shuffle=True, seed=config.seed)
    model_args = {"num_classes": len(split.classes), "in_channels": 3}
    meta = {"classes": list(split.classes), "resize_size": resize, "split": split.layout}
    return RunData(loader, val_x, val_y, list(IMAGENET_MEAN), list(IMAGENET_STD), model_args, crop, split.layout,
                   len(train), meta)


def new_model(config, data: RunData):
    """(model, extra metadata) of a new run: ``get_model(config.model, **data.model_args)``, or with
    ``config.weights`` the pretrained network with a new head (meta: {"transfer": record with the file's path and
    SHA-256})."""
    from .models import get_model  # noqa: PLC0415

    if config.weights is None:
        return get_model(config.model, **data.model_args), {}
    from .models.transfer import pretrained  # noqa: PLC0415
    from .weights import sha256_of  # noqa: PLC0415

    model, record = pretrained(config.model, config.weights, data.model_args["num_classes"],
                               freeze=config.freeze_backbone, freeze_bn=config.freeze_batch_norm,
                               model_args={"in_channels": 3})
    record.update(weights=os.fspath(config.weights), weights_sha256=sha256_of(config.weights))
    return model, {"transfer": record}


def evaluation_data(meta: dict, data_dir=None, verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation images and labels of a checkpoint's run (its test set; a folder run's validation split,
    split again as the run split it), uint8, at the checkpoint's input size. ``data_dir`` replaces the folder
    the run used. Raises ValueError when a folder's classes are not the checkpoint's."""
    if meta["dataset"] != "folder":
        images, labels = load_dataset(meta["dataset"], "test", root=data_dir, verify=verify)
        return pad_images(images, meta.get("input_size", images.shape[-1])), labels
    from types import SimpleNamespace  # noqa: PLC0415

    from .data.folder_split import folder_arrays  # noqa: PLC0415

    config = meta.get("config", {})
    folder = data_dir or config.get("data_dir")
    if folder is None:
        raise ValueError("the checkpoint does not say which folder it was trained on: pass --data-dir")
    split = _split(SimpleNamespace(val_fraction=config.get("val_fraction"), seed=config.get("seed", 0)), folder)
    if list(split.classes) != list(meta["classes"]):
        raise ValueError(f"{folder} holds the classes {split.classes}, the checkpoint was trained on "
                         f"{meta['classes']}")
    return folder_arrays(split.val, int(meta["resize_size"]), int(meta["input_size"]))
