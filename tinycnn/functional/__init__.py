"""The ops of tinycnn, one file per family, each a ``Function`` with forward and backward side by side.

``import tinycnn.functional as F`` then ``F.conv2d(x, weight, bias, stride=1, padding=0)``, as in PyTorch. The
tensor-level functions (reductions, comparisons, shape ops, creation) are here too, and at the top level
(``tinycnn.sum``, ``tinycnn.cat``...), with ``torch``'s signatures. Importing this package installs the operators and
methods on ``Tensor``.
"""
from . import cast as _cast  # noqa: F401  (dtype methods: .float(), .to() ...)
from .activation import elu, gelu, leaky_relu, log_softmax, relu, scaled_tanh, sigmoid, silu, softmax, tanh
from .compare import (allclose, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, eq, equal, ge, gt, isclose,
                      isfinite, isinf, isnan, le, logical_and, logical_not, logical_or, logical_xor, lt, ne, where)
from .conv import col2im, conv2d, conv_output_size, im2col
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, is_tensor, linspace,
                       numel, ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros,
                       zeros_like)
from .elementwise import abs, clamp, clip, exp, log, maximum, minimum, sign, sqrt, square
from .join import cat, chunk, concat, pad, split, stack
from .elementwise_loss import (binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss, l1_loss, mse_loss,
                               smooth_l1_loss)
from .loss import cross_entropy, nll_loss, one_hot
from .math import add, div, linear, matmul, mm, mul, neg, sub, true_divide
from .normalization import batch_norm, local_response_norm
from .power import floor_divide, pow, remainder
from .pooling import adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d, pool_output_size
from .reduction import all, amax, amin, any, argmax, argmin, max, mean, min, prod, std, sum, var
from .reduction_more import cumsum, dot, logsumexp, norm
from .indexing import gather, nonzero, take_along_dim
from .sorting import argsort, msort, sort, topk, unique
from .unary import (ceil, cos, expm1, floor, frac, hardtanh, log1p, log2, log10, reciprocal, relu6, round, rsqrt,
                    sin, softplus, trunc)
from .regularization import dropout, dropout2d
from .shape import (clone, contiguous, expand, flatten, getitem, permute, repeat, reshape, squeeze, t, transpose,
                    unsqueeze, view)
from . import inplace as _inplace  # noqa: F401,E402  (in-place methods: add_, zero_, x[i] = v ...)
from . import methods as _methods  # noqa: F401,E402  (softmax/log_softmax methods)

__all__ = [
    "add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "neg", "pow", "matmul", "mm", "linear",
    "exp", "log", "sqrt", "abs", "sign", "square", "clamp", "clip", "maximum", "minimum",
    "sum", "mean", "prod", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "all", "any",
    "norm", "logsumexp", "dot", "cumsum", "gather", "nonzero", "take_along_dim", "sort", "argsort", "msort", "topk",
    "unique", "log1p", "expm1", "log2", "log10", "sin", "cos", "reciprocal", "rsqrt", "floor", "ceil", "round",
    "trunc", "frac", "softplus", "hardtanh", "relu6",
    "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and", "logical_or", "logical_xor", "bitwise_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "isnan", "isfinite", "isinf", "where", "isclose", "allclose", "equal",
    "reshape", "view", "transpose", "permute", "flatten", "squeeze", "unsqueeze", "expand", "repeat", "t", "getitem",
    "clone", "contiguous", "cat", "concat", "stack", "chunk", "split", "pad",
    "tensor", "from_numpy", "as_tensor", "zeros", "ones", "empty", "full", "arange", "linspace", "eye", "randn",
    "rand", "randint", "randperm", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like",
    "is_tensor",
    "numel",
    "relu", "tanh", "sigmoid", "scaled_tanh", "softmax", "log_softmax", "leaky_relu", "elu", "silu", "gelu",
    "cross_entropy", "nll_loss", "one_hot", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d", "im2col", "col2im", "conv_output_size",
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d", "pool_output_size",
    "dropout", "dropout2d", "batch_norm", "local_response_norm",
]

from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tinycnn.functional", "torch.nn.functional")
