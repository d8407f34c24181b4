"""Weight initialization, as ``torch.nn.init`` (in place on a Parameter's data, drawing from tinycnn's generator).

fan_in = in_channels/groups * kH * kW for a conv weight (in_features for a linear one); fan_out = out_channels *
kH * kW. Sources: LeCun et al. 1998 ("Efficient BackProp": uniform in +-2.4/fan_in for LeNet-5), Glorot & Bengio
2010 (variance 2/(fan_in + fan_out)), He et al. 2015 (variance 2/fan for ReLU layers).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend

__all__ = ["calculate_fans", "calculate_gain", "uniform_", "normal_", "zeros_", "ones_", "constant_",
           "kaiming_uniform_",
           "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "lecun_uniform_", "default_init_"]


def calculate_fans(shape) -> tuple:
    """(fan_in, fan_out) of a weight of ``shape``: (out, in) for linear, (out, in/groups, kH, kW) for conv."""
    if len(shape) < 2:
        raise ValueError(f"calculate_fans: a weight needs at least 2 dims, got shape {tuple(shape)}")
    receptive = 1
    for n in shape[2:]:
        receptive *= n
    return shape[1] * receptive, shape[0] * receptive


# Values are drawn in float64 (the generator's native type) and cast, in chunks of this many: NumPy's generator
# yields the same numbers in chunks as in one draw, without a float64 copy of a whole layer (VGG-16's fc6 would
# take 822 MB more than its 411 MB of float32 weights).
_CHUNK = 1 << 20


def _fill(param, sample):
    data = param.data
    xp = backend.get_array_module(data)
    rng = backend.get_rng(xp)
    if xp is not np or not data.flags.c_contiguous or data.size <= _CHUNK:
        data[...] = sample(rng, data.shape).astype(data.dtype, copy=False)
        return param
    flat = data.reshape(-1)  # a view: the data are C-contiguous
    for start in range(0, flat.size, _CHUNK):
        stop = min(start + _CHUNK, flat.size)
        flat[start:stop] = sample(rng, (stop - start,))
    return param


def _no_generator(op, generator):
    if generator is not None:
        raise NotImplementedError(f"{op}: generator= is not supported by tinycnn (its draws come from the generator "
                                  f"that tinycnn.manual_seed seeds)")


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with U(a, b) (``torch.nn.init.uniform_``)."""
    _no_generator("uniform_", generator)
    return _fill(tensor, lambda rng, shape: rng.uniform(a, b, shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with N(mean, std^2) (``torch.nn.init.normal_``)."""
    _no_generator("normal_", generator)
    return _fill(tensor, lambda rng, shape: rng.normal(mean, std, shape))


def constant_(tensor, val: float):
    """Fill with ``val`` (``torch.nn.init.constant_``)."""
    tensor.data[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def _gain(nonlinearity: str, a: float = 0.0) -> float:
    """``torch.nn.init.calculate_gain`` for the cases used here."""
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + a * a))
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (``torch.nn.init.calculate_gain``): 1 for linear, conv and sigmoid,
    5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``, 0.01 when None, as
    PyTorch), 3/4 for selu. Raises ValueError for another name or a non-number param."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
              "sigmoid")
    if nonlinearity in linear:
        return 1
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity == "leaky_relu":
        if param is None:
            param = 0.01
        elif not isinstance(param, (int, float)) or isinstance(param, bool):
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + param ** 2))
    if nonlinearity in ("tanh", "relu"):
        return _gain(nonlinearity)
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He et al. 2015: U(-b, b), b = gain * sqrt(3 / fan), gain sqrt(2) for ReLU."""
    _no_generator("kaiming_uniform_", generator)
    fan = calculate_fans(tensor.shape)[0 if mode == "fan_in" else 1]
    bound = _gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He et al. 2015: N(0, gain^2 / fan); torchvision's ResNet uses mode="fan_out", nonlinearity="relu"."""
    _no_generator("kaiming_normal_", generator)
    fan = calculate_fans(tensor.shape)[0 if mode == "fan_in" else 1]
    return normal_(tensor, 0.0, _gain(nonlinearity, a) / math.sqrt(fan))


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot & Bengio 2010: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    _no_generator("xavier_uniform_", generator)
    fan_in, fan_out = calculate_fans(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot & Bengio 2010: N(0, gain^2 2 / (fan_in + fan_out))."""
    _no_generator("xavier_normal_", generator)
    fan_in, fan_out = calculate_fans(tensor.shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def lecun_uniform_(param, scale: float = 2.4):
    """LeCun et al. 1998 (LeNet-5, appendix A): U(-scale/fan_in, scale/fan_in)."""
    fan_in = calculate_fans(param.shape)[0]
    return uniform_(param, -scale / fan_in, scale / fan_in)


def default_init_(weight, bias=None):
    """PyTorch's default for Conv2d and Linear: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    for the weight, and the same bound for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1.0 / math.sqrt(calculate_fans(weight.shape)[0])
        uniform_(bias, -bound, bound)

from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tinycnn.nn.init", "torch.nn.init")
