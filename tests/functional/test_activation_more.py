"""leaky_relu, elu, silu, gelu (both forms), softmax/log_softmax's dim=, inplace=: hand values, float64
gradchecks, the error function, and the PyTorch peer on the same inputs."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycnn as tc
import tinycnn.functional as F
from tinycnn.functional.activation import _erf

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def away_from_zero(rng, shape):
    return rng.uniform(0.05, 3.0, shape) * rng.choice([-1.0, 1.0], shape)


# The definitions, written plainly (math.erf is the C library's).
PHI = np.vectorize(lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2))))
REFERENCES = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: F.elu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * (np.exp(x) - 1))),
    "silu": (F.silu, lambda x: x / (1 + np.exp(-x))),
    "gelu": (F.gelu, lambda x: x * PHI(x)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
}


@given(shape=shapes, seed=seeds, name=st.sampled_from(sorted(REFERENCES)))
def test_values_and_gradcheck(shape, seed, name):
    fn, reference = REFERENCES[name]
    x_np = away_from_zero(np.random.default_rng(seed), shape)  # leaky_relu and elu have a kink at 0
    x = t64(x_np)
    y = fn(x)
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), reference(x_np), rtol=1e-13, atol=1e-15)
    assert tc.gradcheck(fn, [x])


def test_hand_values_and_the_slope_at_zero():
    x = t64([-2.0, 0.0, 3.0])
    y = F.leaky_relu(x, 0.1)
    np.testing.assert_allclose(y.numpy(), [-0.2, 0.0, 3.0])
    y.backward(np.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), [0.1, 0.1, 1.0])  # PyTorch: the negative slope at exactly 0
    x = t64([-1.0, 0.0, 2.0])
    y = F.elu(x, alpha=2.0)
    np.testing.assert_allclose(y.numpy(), [2 * (math.exp(-1) - 1), 0.0, 2.0])
    y.backward(np.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), [2 * math.exp(-1), 2.0, 1.0])  # alpha exp(0) = alpha at 0
    np.testing.assert_allclose(F.silu(t64([0.0, math.log(3.0)])).numpy(), [0.0, 0.75 * math.log(3.0)])
    # gelu(x) = x Phi(x): Phi(0) = 1/2, Phi(1) = 0.8413447460685429 (a table value)
    np.testing.assert_allclose(F.gelu(t64([0.0, 1.0, -1.0])).numpy(),
                               [0.0, 0.8413447460685429, -(1 - 0.8413447460685429)], rtol=1e-15, atol=1e-16)


def test_no_overflow_and_float32_kept():
    with np.errstate(all="raise"):
        y = F.elu(tc.tensor([1000.0, -1000.0]))
        s = F.silu(tc.tensor([1000.0, -1000.0]))
        g = F.gelu(tc.tensor([1000.0, -1000.0]))
    np.testing.assert_array_equal(y.numpy(), [1000.0, -1.0])
    np.testing.assert_array_equal(s.numpy(), [1000.0, -0.0])
    np.testing.assert_array_equal(g.numpy(), [1000.0, -0.0])
    for out in (y, s, g, F.leaky_relu(tc.tensor([1.0]))):
        assert out.dtype == np.float32


def test_erf_to_double_precision():
    """Cody's approximations against the C library's erf on every range they cover, edges included."""
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, 0.46875, -0.46875, 4.0, -4.0, 26.0, 30.0, 1e-300, -1e-8]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(_erf(x), expected, rtol=1e-15, atol=1e-300)  # within 2 ulp
    assert _erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0]
    assert np.isnan(_erf(np.array([np.nan])))[0]
    assert _erf(np.array([0.3], np.float32)).dtype == np.float32


def test_softmax_dim_keyword_and_numpy_alias():
    x = t64(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(F.softmax(x, dim=0).numpy(), F.softmax(x, axis=0).numpy())
    np.testing.assert_allclose(F.softmax(x, 1).numpy().sum(axis=1), [1.0, 1.0])
    with pytest.raises(TypeError, match="dim=0 and axis=1"):
        F.softmax(x, dim=0, axis=1)
    with pytest.raises(NotImplementedError, match="dtype"):
        F.softmax(x, dim=1, dtype=np.float32)
    y = x.softmax(dim=1)
    np.testing.assert_allclose(y.numpy(), F.softmax(x, dim=1).numpy())


def test_implicit_softmax_dim_is_pytorchs_choice_with_its_warning():
    x = t64(np.random.default_rng(0).standard_normal((2, 3, 4)))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(x)
    np.testing.assert_allclose(y.numpy(), F.softmax(x, dim=0).numpy())  # 3-D: dim 0, as PyTorch
    x4 = t64(np.random.default_rng(1).standard_normal((2, 3, 2, 2)))
    with pytest.warns(UserWarning, match="log_softmax"):
        y = F.log_softmax(x4)
    np.testing.assert_allclose(y.numpy(), F.log_softmax(x4, dim=1).numpy())  # 4-D: the channels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmax(x, dim=-1)  # no warning with a dim


def test_inplace_outside_a_graph_writes_into_the_input():
    x = tc.Tensor(np.array([-1.0, 2.0]))
    y = F.relu(x, inplace=True)
    assert y is x and x.numpy().tolist() == [0.0, 2.0]
    x = tc.Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    with tc.no_grad():
        assert F.leaky_relu(x, 0.5, inplace=True) is x
    assert x.numpy().tolist() == [-0.5, 2.0]
    # in a recorded graph: PyTorch's values in a new tensor, the input untouched (documented difference)
    x = tc.Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    y = F.elu(x, inplace=True)
    assert y is not x and x.numpy().tolist() == [-1.0, 2.0]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [math.exp(-1), 1.0])
    with pytest.raises(TypeError, match="inplace must be a bool"):
        F.relu(x, inplace="yes")


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.leaky_relu(t64([1.0]), "0.1"), TypeError, "leaky_relu: negative_slope must be a number"),
    (lambda: F.elu(t64([1.0]), None), TypeError, "elu: alpha must be a number"),
    (lambda: F.gelu(t64([1.0]), approximate="fast"), ValueError, "gelu: approximate must be 'none' or 'tanh'"),
    (lambda: F.silu(tc.tensor([1, 2])), TypeError, "silu: x must have a floating dtype"),
    (lambda: F.gelu([1.0]), TypeError, "gelu: x must be a Tensor"),
    (lambda: F.softmax(t64([1.0]), dim=1.5), TypeError, "softmax: dim must be an int"),
])
def test_errors_name_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()


# ----- against PyTorch -----------------------------------------------------------------------------------

@pytest.mark.peer
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), seed=seeds,
       name=st.sampled_from(["leaky_relu", "elu", "silu", "gelu", "gelu_tanh", "softmax", "log_softmax"]))
def test_against_torch(shape, seed, name):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(seed)
    x_np = 3 * rng.standard_normal(shape)
    dim = int(rng.integers(-len(shape), len(shape)))
    ours_fn, theirs_fn = {
        "leaky_relu": (lambda t: F.leaky_relu(t, 0.3), lambda t: tf.leaky_relu(t, 0.3)),
        "elu": (lambda t: F.elu(t, 0.7), lambda t: tf.elu(t, 0.7)),
        "silu": (F.silu, tf.silu),
        "gelu": (F.gelu, tf.gelu),
        "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"), lambda t: tf.gelu(t, approximate="tanh")),
        "softmax": (lambda t: F.softmax(t, dim=dim), lambda t: tf.softmax(t, dim=dim)),
        "log_softmax": (lambda t: F.log_softmax(t, dim=dim), lambda t: tf.log_softmax(t, dim=dim)),
    }[name]
    x, tx = t64(x_np), torch.tensor(x_np, requires_grad=True)
    y, ty = ours_fn(x), theirs_fn(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-15)
    g = rng.standard_normal(shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)
