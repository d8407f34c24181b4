"""Layers and containers (``import tinycnn.nn as nn``), as ``torch.nn``."""
from . import init
from .containers import Concat, Residual, Sequential, Tap, Tapped
from .layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Identity, Linear,
                     LocalResponseNorm, MaxPool2d, ReLU, ScaledTanh, Sigmoid, Softmax, Tanh)
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "Sequential", "Concat", "Residual", "Tap", "Tapped", "Conv2d", "Linear", "ReLU",
           "Tanh", "ScaledTanh", "Sigmoid", "Softmax", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool2d",
           "Flatten", "Dropout", "Identity", "BatchNorm2d", "LocalResponseNorm", "init"]
