"""tinycnn: a small deep-learning engine written to be read.

A Tensor with reverse-mode autograd, convolution by im2col, pooling, the usual layers and optimizers, and the five
historical CNNs (LeNet-5, AlexNet, VGG, GoogLeNet, ResNet), on NumPy or, with CuPy, on an NVIDIA GPU.

    import tinycnn as torch     # PyTorch's names and meanings, or a clear error
    x = torch.tensor([[1.0, 2.0]], requires_grad=True)
    torch.relu(x).sum().backward()

The top level holds PyTorch's tensor API (``tinycnn.zeros``, ``tinycnn.cat``, ``tinycnn.float32`` ...); the ops are in
``tinycnn.functional`` (``torch.nn.functional``'s counterpart), layers in ``tinycnn.nn``, optimizers in
``tinycnn.optim``.
"""
import warnings as _warnings

from .tensor import Function, Tensor  # first: tensor.py imports the engine (autograd.py) at its end
from . import autograd  # noqa: F401,I001
from . import functional  # noqa: F401  (installs the Tensor operators)
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import DTYPES as _DTYPES
from .backend import get_num_threads, manual_seed, set_num_threads
from .devices import device
from . import cuda  # noqa: E402
from .functional import (abs, all, allclose, amax, amin, any, arange, argmax, argmin, as_tensor, bitwise_and,
                         bitwise_not, bitwise_or, bitwise_xor, cat, chunk, clamp, clip, clone, concat, div, empty,
                         empty_like, eq, equal, exp, eye, flatten, floor_divide, from_numpy, full, full_like, ge, gt,
                         is_tensor, isclose, isfinite, isinf, isnan, le, linspace, log, log_softmax, logical_and,
                         logical_not, logical_or, logical_xor, lt, matmul, max, maximum, mean, min, minimum, mm, mul,
                         ne, neg, numel, ones, ones_like, permute, pow, prod, rand, rand_like, randint, randn,
                         randn_like, relu, remainder, reshape, sigmoid, sign, softmax, split, sqrt, square, squeeze,
                         stack, std, sub, sum, t, tanh, tensor, transpose, true_divide, unsqueeze, var, where, zeros,
                         zeros_like)
from .functional import add  # noqa: F401
from .functional import (argsort, ceil, cos, cumsum, dot, expm1, floor, frac, gather, log1p, log2, log10, logsumexp,
                         msort, nonzero, norm, randperm, reciprocal, round, rsqrt, sin, sort, take_along_dim, topk,
                         trunc, unique)
from .gradcheck import GradcheckError, gradcheck
from .kernels import reference_ops_enabled, use_reference_ops
from .serialization import load, save
from .summary import summary

__version__ = "0.1.0"

# Every TINYCNN_* variable read now (TINYCNN_REFERENCE was, by kernels/switch.py): a bad value stops the import with
# an error naming it, which ends a program that does not catch it in one line (see _environment.py).
from . import _environment  # noqa: E402

_environment.check()

# NumPy warns when float arithmetic makes inf or NaN ("divide by zero encountered in divide"); PyTorch returns the
# same inf / NaN silently, so tinycnn's ops do too. One filter on tinycnn's own modules (warnings raised from code
# outside tinycnn are untouched), instead of an np.errstate around every op, which would cost each op 2 us.
_warnings.filterwarnings("ignore", r"(divide by zero|invalid value|overflow|underflow) encountered", RuntimeWarning,
                         r"tinycnn\.")
autograd.gradcheck = gradcheck  # torch.autograd.gradcheck

# dtypes under PyTorch's names: NumPy dtype objects (``tinycnn.float32 == numpy.float32``, and ``x.dtype is
# tinycnn.float32`` for a float32 tensor)
float16, float32, float64 = _DTYPES["float16"], _DTYPES["float32"], _DTYPES["float64"]
int8, int16, int32, int64, uint8 = (_DTYPES[n] for n in ("int8", "int16", "int32", "int64", "uint8"))
bool = _DTYPES["bool"]  # noqa: A001 - torch.bool
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001


def get_default_dtype():
    """The dtype of floating tensors made from Python floats: float32 (``torch.get_default_dtype``)."""
    return float32


def set_default_dtype(d) -> None:
    """``torch.set_default_dtype``: tinycnn supports float32 only (the default); any other dtype raises
    NotImplementedError rather than being ignored. Cast explicitly instead (``model.double()``, ``x.double()``)."""
    from .backend import parse_dtype  # noqa: PLC0415

    if parse_dtype(d, "d", "set_default_dtype") != float32:
        raise NotImplementedError(f"set_default_dtype({d!r}): tinycnn's default floating dtype is float32 only; "
                                  f"cast explicitly instead (model.double(), x.double(), dtype=tinycnn.float64)")


__all__ = [
    "Tensor", "Function", "tensor", "device", "cuda", "nn", "optim", "no_grad", "enable_grad", "inference_mode",
    "set_grad_enabled", "is_grad_enabled", "manual_seed", "gradcheck", "GradcheckError", "summary", "functional", "autograd",
    "set_num_threads", "get_num_threads", "use_reference_ops", "reference_ops_enabled", "save", "load",
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool", "half", "float", "double",
    "short", "int", "long",
    "from_numpy", "as_tensor", "zeros", "ones", "empty", "full", "arange", "linspace", "eye", "randn", "rand",
    "randint", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like", "is_tensor", "numel",
    "add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "neg", "pow", "matmul", "mm",
    "exp", "log", "sqrt", "abs", "sign", "square", "clamp", "clip", "maximum", "minimum",
    "sigmoid", "tanh", "relu", "softmax", "log_softmax",
    "sum", "mean", "prod", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "all", "any",
    "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and", "logical_or", "logical_xor", "bitwise_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "isnan", "isfinite", "isinf", "where", "isclose", "allclose", "equal",
    "reshape", "transpose", "permute", "flatten", "squeeze", "unsqueeze", "t", "clone", "cat", "concat", "stack",
    "chunk", "split", "argsort", "ceil", "cos", "cumsum", "dot", "expm1", "floor", "frac", "gather", "log1p", "log2",
    "log10", "logsumexp", "msort", "nonzero", "norm", "randperm", "reciprocal", "round", "rsqrt", "sin", "sort",
    "take_along_dim", "topk", "trunc", "unique", "get_default_dtype", "set_default_dtype",
]

from . import nn, optim  # noqa: E402  (import torch gives torch.nn and torch.optim too)
from ._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tinycnn", "torch")  # a PyTorch name tinycnn lacks: a clear AttributeError
