"""The five historical networks, built from tinycnn's layers, and a name -> constructor registry.

``get_model("lenet5", num_classes=10, in_channels=1)``; ``MODELS`` lists every name that ``tinycnn train`` and
``tinycnn summary`` accept, with the input size each expects by default (``INPUT_SHAPES``).
"""
from __future__ import annotations

from .lenet import lenet5

MODELS = {
    "lenet5": lenet5,
}

# The input (C, H, W) each network is defined for; the CLI and summary use it when none is given.
INPUT_SHAPES = {
    "lenet5": (1, 28, 28),
}


def register(name: str, constructor, input_shape) -> None:
    """Add a model constructor to the registry under ``name``."""
    MODELS[name] = constructor
    INPUT_SHAPES[name] = tuple(input_shape)


def get_model(name: str, **kwargs):
    """Build the model registered as ``name`` with ``kwargs`` (num_classes=, in_channels=, ...).

    Raises KeyError listing the known names when ``name`` is unknown.
    """
    try:
        constructor = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None
    return constructor(**kwargs)


__all__ = ["lenet5", "MODELS", "INPUT_SHAPES", "get_model", "register"]
