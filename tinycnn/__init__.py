"""tinycnn: a small deep-learning engine written to be read.

A Tensor with reverse-mode autograd, convolution by im2col, pooling, the usual layers and optimizers, and the five
historical CNNs (LeNet-5, AlexNet, VGG, GoogLeNet, ResNet), on NumPy or, with CuPy, on an NVIDIA GPU.

    import tinycnn as tc
    import tinycnn.functional as F
    x = tc.tensor([[1.0, 2.0]], requires_grad=True)
    F.relu(x).sum().backward()
"""
from . import functional  # noqa: F401  (installs the Tensor operators)
from .backend import get_num_threads, manual_seed, set_num_threads
from .gradcheck import GradcheckError, gradcheck
from .serialization import load, save
from .summary import summary
from .tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad, tensor

__version__ = "0.1.0"

__all__ = ["Tensor", "Function", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "manual_seed",
           "gradcheck", "GradcheckError", "summary", "functional", "set_num_threads", "get_num_threads",
           "save", "load"]
