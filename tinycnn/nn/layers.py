"""Layers: thin Modules that own parameters and call ``tinycnn.functional``. Arguments take PyTorch's names."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional._util import pair
from ..functional.conv import PADDING_MODES, conv_padding, pad_by_mode
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = ["Conv2d", "Linear", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool2d", "Flatten",
           "Identity", "LocalResponseNorm"]
# The activations live in activation.py, Dropout in dropout.py, batch norm in normalization.py.


def _positive_int(op, name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(value)


class Conv2d(Module):
    """2-D convolution layer, as ``torch.nn.Conv2d``.

    Args:
        in_channels, out_channels: channel counts (C_in, C_out).
        kernel_size, stride, dilation: an int or a pair. groups: split channels into independent groups.
        padding: an int or a pair, or 'valid' (none) or 'same' (the output as large as the input, stride 1 only;
            an odd total puts the extra pixel at the bottom/right), as PyTorch.
        bias: learn an additive bias per output channel.
        padding_mode: what the padding holds: 'zeros' (default), 'reflect', 'replicate' or 'circular'
            (``torch.nn.functional.pad``'s modes, as ``torch.nn.Conv2d``).

    Shapes: input (N, C_in, H, W) -> (N, C_out, H_out, W_out); weight (C_out, C_in/groups, kH, kW) float32.
    Initialized as PyTorch does (U(+-1/sqrt(fan_in)), ``init.default_init_``); the models re-initialize as their
    papers say.

    Raises ValueError for non-positive sizes or channels not divisible by groups, a padding string other than
    'valid' / 'same', 'same' with a stride, an unknown padding_mode; calling it on an input with the wrong number of
    channels raises ValueError naming both shapes, and with 'reflect' / 'circular' padding larger than the input
    allows (below its size / at most its size) ValueError naming both.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        op = "Conv2d"
        self.in_channels = _positive_int(op, "in_channels", in_channels)
        self.out_channels = _positive_int(op, "out_channels", out_channels)
        self.groups = _positive_int(op, "groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{op}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                             f"divisible by groups ({groups})")
        self.kernel_size = pair("kernel_size", kernel_size, op, minimum=1)
        self.stride = pair("stride", stride, op, minimum=1)
        self.dilation = pair("dilation", dilation, op, minimum=1)
        # a pair, or PyTorch's string kept as given ('same' checks the stride now, as torch.nn.Conv2d)
        sides = conv_padding(padding, self.kernel_size, self.stride, self.dilation, op)
        self.padding = padding if isinstance(padding, str) else (sides[0][0], sides[1][0])
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{op}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        dtype = np.float32 if dtype is None else dtype
        self.weight = Parameter(np.empty((out_channels, in_channels // groups) + self.kernel_size, dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        init.default_init_(self.weight, self.bias)
        if device is not None:
            self.to(device)

    def forward(self, x: Tensor) -> Tensor:
        padding = self.padding
        if self.padding_mode != "zeros":  # pad by the mode first, then convolve without padding (as PyTorch)
            sides = conv_padding(padding, self.kernel_size, self.stride, self.dilation, "Conv2d")
            x, padding = (pad_by_mode(x, sides, self.padding_mode) if sides != ((0, 0), (0, 0)) else x), 0
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):  # a pair, or 'same' / 'valid' shown as torch.nn.Conv2d shows them
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Linear(Module):
    """Fully connected layer ``y = x W^T + b``, as ``torch.nn.Linear``.

    Shapes: input (*, in_features) -> (*, out_features); weight (out_features, in_features), float32 unless
    ``dtype`` says otherwise; ``device`` places the parameters. Initialized as PyTorch does (``init.default_init_``).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        dtype = np.float32 if dtype is None else dtype
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        init.default_init_(self.weight, self.bias)
        if device is not None:
            self.to(device)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class MaxPool2d(Module):
    """Max pooling, as ``torch.nn.MaxPool2d`` (stride defaults to kernel_size; -inf padding; optional ceil_mode).

    PyTorch's signature (kernel_size, stride, padding, dilation, return_indices, ceil_mode); ``dilation`` other
    than 1 and ``return_indices=True`` raise NotImplementedError.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        if dilation not in (1, (1, 1)):
            raise NotImplementedError(f"MaxPool2d: dilation={dilation!r} is not supported (only 1)")
        if return_indices:
            raise NotImplementedError("MaxPool2d: return_indices=True is not supported")
        self.kernel_size, self.stride, self.padding, self.ceil_mode = kernel_size, stride, padding, ceil_mode
        self.dilation, self.return_indices = dilation, return_indices

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return (f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Average pooling, as ``torch.nn.AvgPool2d`` (count_include_pad=True by default); ``divisor_override`` is
    not supported (NotImplementedError)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        if divisor_override is not None:
            raise NotImplementedError(f"AvgPool2d: divisor_override={divisor_override!r} is not supported")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, None

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (``torch.nn.AdaptiveAvgPool2d``)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(Module):
    """Mean of each feature map: (N, C, H, W) -> (N, C, 1, 1) (GoogLeNet and ResNet heads)."""

    def forward(self, x):
        return F.global_avg_pool2d(x)


class Flatten(Module):
    """Flatten axes ``start_dim..end_dim`` (``torch.nn.Flatten``): (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input (a placeholder: ``model.fc = nn.Identity()`` to get features), as ``torch.nn.Identity``;
    any constructor arguments are ignored, as PyTorch's are."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class LocalResponseNorm(Module):
    """Local response normalization across channels, PyTorch's definition (alpha divided by ``size``).

    ``LocalResponseNorm.paper(size=5, alpha=1e-4, beta=0.75, k=2.0)`` builds the AlexNet paper's form (Sec. 3.3),
    whose alpha is not divided by n: it passes alpha * size here.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = _positive_int("LocalResponseNorm", "size", size)
        self.alpha, self.beta, self.k = alpha, beta, k

    @classmethod
    def paper(cls, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> "LocalResponseNorm":
        """The AlexNet paper's b = a / (k + alpha * sum a^2) ** beta, i.e. PyTorch's form with alpha * size."""
        return cls(size, alpha=alpha * size, beta=beta, k=k)

    def forward(self, x):
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha:g}, beta={self.beta}, k={self.k}"
