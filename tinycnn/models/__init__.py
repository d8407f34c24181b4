"""The five historical networks, built from tinycnn's layers, and a name -> constructor registry.

Each model file defines ``REGISTRY = {name: ModelSpec(...)}``; this module gathers them, so ``get_model(name,
num_classes=10, in_channels=1)`` builds any of them and ``MODELS`` lists every name that ``tinycnn train`` and
``tinycnn summary`` accept.
"""
from __future__ import annotations

import importlib
from typing import Callable, NamedTuple

from ._pretrained import apply_weights


class ModelSpec(NamedTuple):
    """How to build a registered network and what it is fed.

    constructor: called with num_classes=, in_channels= and ``small_kwargs`` when training on small images
        (``get_model`` loads ``weights=`` itself, so a constructor need not take it).
    input_shape: the (C, H, W) the network is defined for (its paper's input; the default of ``summary``).
    small_input_size: the H = W that MNIST's 28x28 images are zero-padded to when training on them (28 = none).
    small_kwargs: constructor arguments for small images (a documented input-size adaptation), e.g.
        ``{"small_input": True}``; empty when the network takes small images as is.
    lr: the initial learning rate ``tinycnn train`` uses when none is given (SGD with momentum 0.9).
    """
    constructor: Callable
    input_shape: tuple
    small_input_size: int = 28
    small_kwargs: dict = {}
    lr: float = 0.05


# Model files, in the order of the story; each defines REGISTRY.
_MODULES = ("lenet", "lenet_paper", "alexnet", "vgg", "googlenet", "resnet", "resnet_cifar")

MODELS: dict = {}
for _name in _MODULES:
    MODELS.update(importlib.import_module(f"{__name__}.{_name}").REGISTRY)

INPUT_SHAPES = {name: spec.input_shape for name, spec in MODELS.items()}

# tinycnn.models.vgg16 and friends: every registered constructor by its name. Bound explicitly, because importing
# a model file makes its module an attribute of this package ("alexnet", "googlenet") and would shadow the
# constructor of the same name.
globals().update({name: spec.constructor for name, spec in MODELS.items()})


def get_model(name: str, weights=None, **kwargs):
    """Build the model registered as ``name`` with ``kwargs`` (num_classes=, in_channels=, ...).

    ``weights``: None (random init), or a weight file (.pth / .pt, .safetensors, .npz) or state dict loaded
    strictly into the new model (``tinycnn.weights.load_weights``): torchvision's files for the networks it also
    has (resnet18..152, vgg11..19 and _bn, alexnet_torchvision), tinycnn's own for any network. The model is
    returned in training mode (PyTorch's constructors' default): call ``.eval()`` to predict.

    Raises KeyError listing the known names when ``name`` is unknown; what ``load_weights`` raises for weights
    that do not fit (WeightsMismatchError naming keys and shapes) or cannot be read (WeightsFileError).
    """
    try:
        spec = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None
    model = spec.constructor(**kwargs)  # constructors registered from outside need not take weights=
    return apply_weights(model, weights, name)


__all__ = ["MODELS", "INPUT_SHAPES", "ModelSpec", "get_model"] + sorted(MODELS)
