"""Optimizers and learning-rate schedulers (``import tinycnn.optim as optim``), as ``torch.optim``.

``optim.SGD``, ``optim.Adam``, ``optim.AdamW``, ``optim.RMSprop`` with PyTorch's exact update rules, parameter
groups and state dicts; ``optim.lr_scheduler`` with PyTorch's schedulers. ``optim.StepLR`` and
``optim.CosineAnnealingLR`` are the same classes as ``optim.lr_scheduler``'s (kept importable from here).
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .lr_scheduler import CosineAnnealingLR, LRScheduler, StepLR
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler", "LRScheduler", "StepLR",
           "CosineAnnealingLR"]

from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tinycnn.optim", "torch.optim")
