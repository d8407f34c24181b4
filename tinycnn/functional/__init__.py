"""The ops of tinycnn, one file per family, each a ``Function`` with forward and backward side by side.

``import tinycnn.functional as F`` then ``F.conv2d(x, weight, bias, stride=1, padding=0)``, as in PyTorch.
"""
from .activation import elu, gelu, leaky_relu, log_softmax, relu, scaled_tanh, sigmoid, silu, softmax, tanh
from .conv import col2im, conv2d, conv_output_size, im2col
from .elementwise_loss import binary_cross_entropy, binary_cross_entropy_with_logits, l1_loss, mse_loss
from .loss import cross_entropy, nll_loss, one_hot
from .normalization import batch_norm, local_response_norm
from .math import add, div, exp, linear, log, matmul, mean, mul, neg, pow, sub, sum
from .pooling import adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d, pool_output_size
from .regularization import dropout, dropout2d
from .shape import concat, flatten, getitem, pad, reshape, transpose

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "sum", "mean", "exp", "log", "linear",
    "reshape", "transpose", "flatten", "concat", "pad", "getitem",
    "relu", "tanh", "sigmoid", "scaled_tanh", "softmax", "log_softmax", "leaky_relu", "elu", "silu", "gelu",
    "cross_entropy", "nll_loss", "one_hot", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d", "im2col", "col2im", "conv_output_size",
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d", "pool_output_size",
    "dropout", "dropout2d", "batch_norm", "local_response_norm",
]
