"""Training recipes: what ``tinycnn train MODEL --dataset DATA`` does when an option is not given, and the data
pipeline that goes with it (input statistics, augmentation, the model's input form).

=============================  ======  =====  ====================  =====  ==========  ========================
model, data set                epochs  batch  lr                    decay  schedule    augmentation
=============================  ======  =====  ====================  =====  ==========  ========================
CIFAR ResNets and plain nets   164     128    0.1                   1e-4   multistep   crop-flip
(resnet20 ... plain110) on
CIFAR-10 / CIFAR-100
any other model on CIFAR       10      128    the model's (0.05)    5e-4   cosine      crop-flip
MNIST, Fashion-MNIST           10      128    the model's (0.05)    5e-4   cosine      none
a folder, fine-tuning          25      4      0.001                 0      step        resized-crop-flip
(--weights FILE)
a folder, from scratch         25      32     the model's (0.05)    5e-4   cosine      resized-crop-flip
=============================  ======  =====  ====================  =====  ==========  ========================

All with SGD, momentum 0.9. The first row is the ResNet paper's CIFAR recipe (He et al. 2016, Sec. 4.2): "a
weight decay of 0.0001 and momentum of 0.9 ... mini-batch size of 128 ... We start with a learning rate of 0.1,
divide it by 10 at 32k and 48k iterations, and terminate training at 64k iterations"; "4 pixels are padded on each
side, and a 32x32 crop is randomly sampled from the padded image or its horizontal flip"; "the per-pixel mean
subtracted". 64k iterations of 391 (50,000 images in batches of 128) are 163.7 epochs: 164. The multistep schedule
divides the rate by 10 at 50% and 75% of the run's iterations (32k/64k and 48k/64k), stepped every iteration, so
``--epochs E`` scales the recipe to E epochs (the default's milestones fall at iterations 32,062 and 48,093 of
64,124, within 0.2% of the paper's). Not reproduced: the paper's warm-up at lr 0.01 for ResNet-110's first 400
iterations.

Fine-tuning on a folder of photos follows PyTorch's transfer-learning tutorial ("Transfer Learning for Computer
Vision": SGD lr 0.001 momentum 0.9, batch 4, 25 epochs, the rate x0.1 every 7 epochs; here "step" divides it by 10
every third of the run, every 8 epochs of 25) with torchvision's ImageNet preprocessing
(:mod:`tinycnn.rundata`): RandomResizedCrop and a flip for training, resize and centre crop for validation, ImageNet's
mean and std.

Inputs: MNIST and Fashion-MNIST are standardized by their training set's mean and standard deviation; CIFAR has
the per-pixel mean image of the training images used (after ``--train-limit``) subtracted, values scaled to [0, 1]
first, no division (the paper's; AlexNet's too). Augmentation "crop-flip" follows the paper's order: the mean is
subtracted first, so the 4-pixel zero padding is the mean colour, then a random 32x32 window and a flip with
probability 1/2, both drawn from the loader's generator of the epoch (runs repeat and resume bit for bit).
"""
from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np

from .data import normalize
from .data.loader import FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_MEAN, MNIST_STD
from .data.transforms import RandomCrop, RandomHorizontalFlip
from .models import MODELS
from .models.resnet_cifar import REGISTRY as _CIFAR_NETS
from .optim.lr_scheduler import CosineAnnealingLR, MultiStepLR, StepLR
from .runconfig import RECIPE_FIELDS, TrainConfig

__all__ = ["recipe", "resolve", "make_scheduler", "input_stats", "train_transform", "model_args", "NUM_CLASSES",
           "PAPER_CIFAR_MODELS", "MILESTONE_FRACTIONS"]

PAPER_CIFAR_MODELS = tuple(sorted(_CIFAR_NETS))
CIFAR = ("cifar10", "cifar100")
NUM_CLASSES = {"mnist": 10, "fashion-mnist": 10, "cifar10": 10, "cifar100": 100}
PAPER_ITERATIONS = 64_000
MILESTONE_FRACTIONS = (32_000 / PAPER_ITERATIONS, 48_000 / PAPER_ITERATIONS)
PAPER_EPOCHS = math.ceil(PAPER_ITERATIONS / math.ceil(50_000 / 128))  # 164
CROP_PADDING = 4


def recipe(model: str, dataset: str, pretrained: bool = False) -> dict:
    """The default of every recipe field (``RECIPE_FIELDS``) for ``model`` trained on ``dataset`` (table above),
    ``pretrained``: starting from a weight file (fine-tuning)."""
    if dataset == "folder":
        if pretrained:
            return {"epochs": 25, "batch_size": 4, "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0,
                    "schedule": "step", "augment": "resized-crop-flip"}
        return {"epochs": 25, "batch_size": 32, "lr": MODELS[model].lr, "momentum": 0.9, "weight_decay": 5e-4,
                "schedule": "cosine", "augment": "resized-crop-flip"}
    if dataset in CIFAR and model in PAPER_CIFAR_MODELS:
        return {"epochs": PAPER_EPOCHS, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4,
                "schedule": "multistep", "augment": "crop-flip"}
    return {"epochs": 10, "batch_size": 128, "lr": MODELS[model].lr, "momentum": 0.9, "weight_decay": 5e-4,
            "schedule": "cosine", "augment": "crop-flip" if dataset in CIFAR else "none"}


def resolve(config: TrainConfig) -> TrainConfig:
    """``config`` with every recipe field that is None set to the recipe's value (the config a run records)."""
    defaults = recipe(config.model, config.dataset, pretrained=config.weights is not None)
    return dataclasses.replace(config, **{f: defaults[f] for f in RECIPE_FIELDS if getattr(config, f) is None})


def make_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    """(scheduler or None, whether it steps every iteration) for a resolved ``config``.

    "cosine": CosineAnnealingLR over the epochs; "step": x0.1 every third of the epochs (StepLR); both stepped
    once per epoch. "multistep": MultiStepLR at MILESTONE_FRACTIONS of all iterations, stepped every iteration."""
    if config.schedule == "cosine":
        return CosineAnnealingLR(optimizer, T_max=config.epochs), False
    if config.schedule == "step":
        return StepLR(optimizer, step_size=max(1, config.epochs // 3), gamma=0.1), False
    if config.schedule == "multistep":
        total = config.epochs * steps_per_epoch
        return MultiStepLR(optimizer, milestones=[round(f * total) for f in MILESTONE_FRACTIONS], gamma=0.1), True
    return None, False


def input_stats(dataset: str, train_images: np.ndarray):
    """(mean, std) for :func:`tinycnn.data.normalize`: MNIST's and Fashion-MNIST's scalars; for CIFAR the
    per-pixel mean image (float32 (3, 32, 32), of pixels / 255) of ``train_images``, and std 1."""
    if dataset == "mnist":
        return MNIST_MEAN, MNIST_STD
    if dataset == "fashion-mnist":
        return FASHION_MNIST_MEAN, FASHION_MNIST_STD
    mean = train_images.mean(axis=0, dtype=np.float64) / 255.0
    return mean.astype(np.float32), 1.0


def train_transform(augment: str, mean, std, size: int):
    """The training loader's batch transform: normalize, then (``"crop-flip"``) pad by 4 with zeros, take a random
    ``size`` window and flip with probability 1/2, drawing from the loader's generator ``rng``."""
    if augment == "none":
        return lambda batch: normalize(batch, mean, std)
    crop, flip = RandomCrop(size, padding=CROP_PADDING), RandomHorizontalFlip(0.5)

    def crop_flip(batch, rng):
        x = normalize(batch, mean, std)
        x, _ = crop._batch(x, rng, owned=True)
        return flip._batch(x, rng, owned=True)[0]

    return crop_flip


def model_args(name: str, dataset: str, images: np.ndarray) -> tuple[dict, int]:
    """(constructor arguments, input size) of model ``name`` fed ``images`` of ``dataset``.

    The classes come from the data set, the channels from the images ((N, H, W): 1), the documented small-input
    form from the registry (``small_kwargs``); the input size is the larger of the model's ``small_input_size``
    (MNIST's 28x28 zero-padded to it) and the images' own. A constructor with an ``input_size`` parameter
    (lenet5: 32 drops conv1's padding) is told a size other than 28."""
    spec = MODELS[name]
    input_size = max(spec.small_input_size, images.shape[-1])
    args = {"num_classes": NUM_CLASSES[dataset], "in_channels": 1 if images.ndim == 3 else int(images.shape[1]),
            **spec.small_kwargs}
    if input_size != 28 and "input_size" in inspect.signature(spec.constructor).parameters:
        args["input_size"] = input_size
    return args, input_size
