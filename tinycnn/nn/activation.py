"""Activation layers: thin Modules over ``tinycnn.functional``'s activations, as ``torch.nn``'s.

``inplace=True`` is accepted with the meaning explained in ``functional/activation.py``: PyTorch's result, written
into the input only where no graph is being recorded.
"""
from __future__ import annotations

from .. import functional as F
from ..tensor import Tensor
from .module import Module

__all__ = ["ReLU", "Tanh", "Sigmoid", "ScaledTanh", "Softmax", "LogSoftmax", "LeakyReLU", "GELU", "ELU", "SiLU",
           "Softplus", "Hardtanh", "ReLU6"]


def _check_inplace(op, inplace):
    if not isinstance(inplace, bool):
        raise TypeError(f"{op}: inplace must be a bool, got {inplace!r}")
    return inplace


class ReLU(Module):
    """max(x, 0), as ``torch.nn.ReLU`` (the gradient at 0 is 0)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = _check_inplace("ReLU", inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x, self.inplace) if self.inplace else F.relu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Tanh(Module):
    """tanh(x), as ``torch.nn.Tanh``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), as ``torch.nn.Sigmoid``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class ScaledTanh(Module):
    """LeCun's squashing function 1.7159 tanh(2x/3) (LeNet-5 paper, Sec. II.B and appendix A)."""

    def __init__(self, amplitude: float = 1.7159, slope: float = 2 / 3):
        super().__init__()
        self.amplitude, self.slope = amplitude, slope

    def forward(self, x):
        return F.scaled_tanh(x, self.amplitude, self.slope)

    def extra_repr(self):
        return f"amplitude={self.amplitude}, slope={self.slope:.4g}"


class Softmax(Module):
    """Softmax along ``dim``, as ``torch.nn.Softmax``; ``dim=None`` is PyTorch's deprecated implicit choice (with
    its warning)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably, as ``torch.nn.LogSoftmax`` (pair it with ``NLLLoss``)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.log_softmax(x, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope * x`` otherwise (``torch.nn.LeakyReLU``; Maas et al. 2013)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        F.leaky_relu(Tensor([0.0]), negative_slope)  # validates the slope now, naming it
        self.negative_slope = negative_slope
        self.inplace = _check_inplace("LeakyReLU", inplace)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x Phi(x) (``torch.nn.GELU``; Hendrycks & Gimpel 2016); ``approximate`` "none" (erf) or "tanh"."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """x for x > 0, ``alpha (exp(x) - 1)`` otherwise (``torch.nn.ELU``; Clevert et al. 2016)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        F.elu(Tensor([0.0]), alpha)  # validates alpha now, naming it
        self.alpha = alpha
        self.inplace = _check_inplace("ELU", inplace)

    def forward(self, x):
        return F.elu(x, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SiLU(Module):
    """x sigmoid(x) (``torch.nn.SiLU``, "swish")."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = _check_inplace("SiLU", inplace)

    def forward(self, x):
        return F.silu(x, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``, linear past ``threshold`` (``torch.nn.Softplus``)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        F.softplus(Tensor([0.0]), beta, threshold)  # validates the arguments now, naming them
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """``x`` clipped to [min_val, max_val] (``torch.nn.Hardtanh``)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        F.hardtanh(Tensor([0.0]), min_val, max_val)  # validates the bounds now, naming them
        self.min_val, self.max_val = min_val, max_val
        self.inplace = _check_inplace(type(self).__name__, inplace)

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)`` (``torch.nn.ReLU6``)."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""
