"""The ops of tinycnn, one file per family, each a ``Function`` with forward and backward side by side.

``import tinycnn.functional as F`` then ``F.conv2d(x, weight, bias, stride=1, padding=0)``, as in PyTorch.
"""
from .activation import log_softmax, relu, scaled_tanh, sigmoid, softmax, tanh
from .conv import col2im, conv2d, conv_output_size, im2col
from .loss import cross_entropy, nll_loss
from .normalization import batch_norm, local_response_norm
from .math import add, div, exp, linear, log, matmul, mean, mul, neg, pow, sub, sum
from .pooling import adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d, pool_output_size
from .regularization import dropout
from .shape import concat, flatten, getitem, pad, reshape, transpose

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "sum", "mean", "exp", "log", "linear",
    "reshape", "transpose", "flatten", "concat", "pad", "getitem",
    "relu", "tanh", "sigmoid", "scaled_tanh", "softmax", "log_softmax",
    "cross_entropy", "nll_loss",
    "conv2d", "im2col", "col2im", "conv_output_size",
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d", "pool_output_size",
    "dropout", "batch_norm", "local_response_norm",
]
