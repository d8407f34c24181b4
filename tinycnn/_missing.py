"""Clear errors for PyTorch names tinycnn does not have (and subpackages imported on first use).

Code written for PyTorch that reaches a name tinycnn lacks (``torch.median``, ``x.median()``, ``nn.PReLU``) gets an
AttributeError that says so, names the PyTorch counterpart and points to the README's list of differences,
instead of Python's bare "has no attribute". It is still an AttributeError, so ``hasattr`` and ``getattr(m, name,
default)`` work as before; dunder and private names get Python's usual message.
"""
from __future__ import annotations

import importlib.util

_HINT = "see README.md, 'Differences from PyTorch'"


def message(owner: str, torch_name: str, name: str) -> str:
    return (f"{owner} has no attribute {name!r}: tinycnn does not support {torch_name}.{name} ({_HINT}); "
            f"check the spelling if you expected it to exist")


def module_getattr(module_name: str, torch_name: str):
    """A module-level ``__getattr__`` for ``module_name`` (tinycnn's counterpart of ``torch_name``): a subpackage not
    imported yet is imported (``tinycnn.models`` after ``import tinycnn``, as ``torch.utils.data`` is there after
    ``import torch``); any other public name raises the clear AttributeError."""

    def __getattr__(name: str):
        if name.startswith("_"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        try:
            submodule = importlib.util.find_spec(f"{module_name}.{name}") is not None
        except (ImportError, ValueError):
            submodule = False
        if submodule:  # tinycnn.models, tinycnn.data ...: imported on first use, as torch's are there after import
            return importlib.import_module(f"{module_name}.{name}")
        raise AttributeError(message(f"module {module_name!r}", torch_name, name))

    return __getattr__
