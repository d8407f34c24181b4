"""The two tiers of ops (issue 16, DESIGN.md's op contract): the switch between the textbook reference and the fast
kernels, the contract the reference ops keep, and how short the reference conv stays.

That each fast kernel equals its reference is in tests/kernels/; that every op test and gradient check passes in
both tiers is the ``ops_tier`` fixture of tests/conftest.py (tests/functional, test_gradcheck.py,
test_strict_device.py run twice).
"""
import inspect
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
from tinycnn.functional import activation, elementwise_loss, join, loss, math, normalization, regularization
from tinycnn.functional import conv as reference_conv
from tinycnn.functional import pooling as reference_pooling
from tinycnn.kernels import switch

# The longest the reference conv's forward and backward may grow, in source lines each (the def line, comments and
# continuation lines included): one screen for the pair, the textbook algorithm and nothing else.
CONV_METHOD_MAX_LINES = 12
# ... and the whole class, docstring included.
CONV_CLASS_MAX_LINES = 32

# Every reference op: the classes the functional wrappers apply in reference mode. Conv2d, MaxPool2d, AvgPool2d and
# BatchNorm have a fast kernel beside them (tinycnn/kernels); the others have one implementation, the reference.
REFERENCE_FUNCTIONS = [
    reference_conv.Conv2d, reference_pooling.MaxPool2d, reference_pooling.AvgPool2d,
    reference_pooling.AdaptiveAvgPool2d, reference_pooling.GlobalAvgPool2d,
    normalization.BatchNorm, normalization.LocalResponseNorm,
    activation.ReLU, activation.Tanh, activation.ScaledTanh, activation.Sigmoid, activation.Softmax,
    activation.LogSoftmax, activation.LeakyReLU, activation.ELU, activation.SiLU, activation.GELU,
    loss._ClassLoss, elementwise_loss._Distance, elementwise_loss._BinaryCrossEntropy,
    elementwise_loss._BinaryCrossEntropyWithLogits, regularization.Dropout, join.Concat, math.Add,
]


def conv_case(dtype=np.float64):
    rng = np.random.default_rng(0)
    return [tc.Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in [(2, 4, 7, 6), (6, 2, 3, 3),
                                                                                         (6,)]]


OPS = {  # name: (call, inputs)
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), conv_case),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, padding=1, ceil_mode=True), lambda dtype=np.float64: conv_case(
        dtype)[:1]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True, count_include_pad=False),
                   lambda dtype=np.float64: conv_case(dtype)[:1]),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                   lambda dtype=np.float64: [conv_case(dtype)[0]] + [tc.Tensor(np.linspace(0.5, 2.0, 4).astype(
                       dtype), requires_grad=True) for _ in range(2)]),
}
FAST_NAMES = {"conv2d": "FastConv2d", "max_pool2d": "FastMaxPool2d", "avg_pool2d": "FastAvgPool2d",
              "batch_norm": "FastBatchNorm"}
REFERENCE_NAMES = {"conv2d": "Conv2d", "max_pool2d": "MaxPool2d", "avg_pool2d": "AvgPool2d",
                   "batch_norm": "BatchNorm"}


def tier_of(name):
    call, inputs = OPS[name]
    return type(call(*inputs())._ctx).__name__


# ----- the switch ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", OPS)
def test_default_is_fast_and_the_switch_selects_the_reference(name):
    assert not tc.reference_ops_enabled()  # this process runs without TINYCNN_REFERENCE (see the subprocess test)
    assert tier_of(name) == FAST_NAMES[name]
    with tc.use_reference_ops():
        assert tc.reference_ops_enabled()
        assert tier_of(name) == REFERENCE_NAMES[name]
        with tc.use_reference_ops(False):  # nests: the fast kernels inside a reference block
            assert tier_of(name) == FAST_NAMES[name]
        assert tier_of(name) == REFERENCE_NAMES[name]
    assert tier_of(name) == FAST_NAMES[name]


def test_switch_as_a_decorator_restores_the_mode_also_after_an_exception():
    @tc.use_reference_ops()
    def reference_depth(n):
        if n == 0:
            assert tc.reference_ops_enabled()
            raise KeyError("inside")
        return reference_depth(n - 1)  # the same decorator object entered again, recursively

    with pytest.raises(KeyError, match="inside"):
        reference_depth(3)
    assert not tc.reference_ops_enabled()
    with pytest.raises(TypeError, match="enabled must be a bool, got 1"):
        tc.use_reference_ops(1)


def test_a_graph_runs_the_backward_of_the_tier_that_built_it():
    x, w, b = conv_case()
    with tc.use_reference_ops():
        y = F.conv2d(x, w, b, groups=2)
    assert type(y._ctx).__name__ == "Conv2d"
    y.sum().backward()  # outside the block: still the reference's backward, which kept what it needs
    np.testing.assert_allclose(b.grad.numpy(), np.full(6, 2 * 5 * 4.0))


@pytest.mark.parametrize("value, expected", [("1", "Conv2d"), ("true", "Conv2d"), ("0", "FastConv2d"),
                                             ("", "FastConv2d")])
def test_environment_variable_sets_the_tier_of_a_whole_process(value, expected):
    code = ("import numpy as np, tinycnn as tc, tinycnn.functional as F\n"
            "y = F.conv2d(tc.Tensor(np.ones((1, 1, 3, 3)), requires_grad=True), tc.Tensor(np.ones((1, 1, 2, 2))))\n"
            "print(type(y._ctx).__name__, tc.reference_ops_enabled())")
    env = {**os.environ, switch.ENV_VAR: value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [expected, str(expected == "Conv2d")]


def test_an_unreadable_environment_variable_is_an_error_not_a_silent_default():
    env = {**os.environ, switch.ENV_VAR: "reference"}
    proc = subprocess.run([sys.executable, "-c", "import tinycnn"], env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.startswith("tinycnn: error: TINYCNN_REFERENCE must be one of 1, true, yes, on")
    assert "got 'reference'" in proc.stderr


# ----- the op contract holds for the reference ops ---------------------------------------------------------------

@pytest.mark.parametrize("fn", REFERENCE_FUNCTIONS, ids=lambda f: f.__name__)
def test_reference_op_is_a_function_with_forward_and_backward_side_by_side(fn):
    assert issubclass(fn, tc.Function)
    assert "forward" in vars(fn) and "backward" in vars(fn), f"{fn.__name__} inherits forward or backward"
    source = inspect.getsource(fn)
    # the array module comes from the data (xp), so the op runs on CuPy too: no numpy calls on tensor data
    assert not re.search(r"\bnp\.(?!errstate\b)", source), f"{fn.__name__} calls numpy directly"


@pytest.mark.parametrize("module", [reference_conv, reference_pooling], ids=lambda m: m.__name__)
def test_reference_op_files_do_not_import_numpy(module):
    assert not re.search(r"^\s*(import numpy|from numpy)", inspect.getsource(module), re.MULTILINE)


@pytest.mark.parametrize("name", OPS)
def test_reference_ops_keep_float32(name):
    call, inputs = OPS[name]
    ts = inputs(np.float32)
    with tc.use_reference_ops():
        y = call(*ts)
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == np.float32
    assert all(t.grad.dtype == np.float32 for t in ts)


def test_reference_conv_stays_short():
    for method in (reference_conv.Conv2d.forward, reference_conv.Conv2d.backward):
        lines = len(inspect.getsource(method).splitlines())
        assert lines <= CONV_METHOD_MAX_LINES, f"{method.__qualname__} has {lines} lines"
    lines = len(inspect.getsource(reference_conv.Conv2d).splitlines())
    assert lines <= CONV_CLASS_MAX_LINES, f"the reference Conv2d has {lines} lines"
    # the textbook algorithm: the plain im2col, a matrix product, col2im
    source = inspect.getsource(reference_conv.Conv2d)
    assert "im2col(" in source and "col2im(" in source and "@" in source
