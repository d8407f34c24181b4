"""Layers and containers (``import tinycnn.nn as nn``), as ``torch.nn``.

``tinycnn.nn.functional`` is ``tinycnn.functional`` (``torch.nn.functional``'s counterpart), so both
``import tinycnn.functional as F`` and ``import tinycnn.nn.functional as F`` work, as ``nn.functional.relu`` does.
"""
import sys as _sys

from .. import functional
from . import init, utils
from .activation import (ELU, GELU, Hardtanh, LeakyReLU, LogSoftmax, ReLU, ReLU6, ScaledTanh, Sigmoid, SiLU, Softmax,
                         Softplus, Tanh)
from .containers import Concat, ModuleDict, ModuleList, Residual, Sequential, Tap, Tapped
from .dropout import Dropout, Dropout2d
from .layers import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, Flatten, GlobalAvgPool2d, Identity, Linear,
                     LocalResponseNorm, MaxPool2d)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, FrozenBatchNorm2d

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Concat", "Residual", "Tap", "Tapped",
           "Conv2d", "Linear", "ReLU", "Tanh", "ScaledTanh", "Sigmoid", "Softmax", "LogSoftmax", "LeakyReLU", "GELU",
           "ELU", "SiLU", "Softplus", "Hardtanh", "ReLU6", "SmoothL1Loss", "HuberLoss",
           "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool2d", "Flatten", "Dropout",
           "Dropout2d", "Identity", "BatchNorm1d", "BatchNorm2d", "FrozenBatchNorm2d", "LocalResponseNorm",
           "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "init", "utils"]

_sys.modules[__name__ + ".functional"] = functional  # import tinycnn.nn.functional as F

from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tinycnn.nn", "torch.nn")
