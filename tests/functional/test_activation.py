"""relu, tanh, sigmoid, scaled_tanh, softmax, log_softmax: gradchecks, values against their formulas, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycnn as tc
import tinycnn.functional as F

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3)


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def away_from_zero(rng, shape):
    return rng.uniform(0.05, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# Elementwise activations and their definitions, written plainly.
REFERENCES = {
    "relu": lambda x: np.where(x > 0, x, 0.0),
    "tanh": lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "scaled_tanh": lambda x: 1.7159 * np.tanh(2.0 / 3.0 * x),
}


@given(shape=shapes, seed=seeds, name=st.sampled_from(sorted(REFERENCES)))
def test_elementwise_activations(shape, seed, name):
    x_np = away_from_zero(np.random.default_rng(seed), shape)  # relu has a kink at 0
    x = t64(x_np)
    fn = getattr(F, name)
    y = fn(x)
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), REFERENCES[name](x_np), rtol=1e-12, atol=1e-15)
    assert tc.gradcheck(fn, [x])


def test_relu_hand_values():
    x = t64([-1.0, 0.0, 2.0, -np.inf, np.inf])
    y = F.relu(x)
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 2.0, 0.0, np.inf])  # relu(-inf) = 0, not NaN
    y.backward(np.ones(5))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0, 0.0, 1.0])
    assert F.relu(tc.tensor([1.0])).dtype == np.float32
    assert tc.tensor([-3.0]).relu().item() == 0.0


def test_tanh_and_sigmoid_hand_values():
    np.testing.assert_allclose(F.tanh(t64([0.0, np.log(2.0)])).numpy(), [0.0, 0.6])  # (4-1)/(4+1)
    np.testing.assert_allclose(F.sigmoid(t64([0.0, np.log(3.0)])).numpy(), [0.5, 0.75])
    x = t64([0.0])
    F.sigmoid(x).backward()
    assert x.grad.item() == pytest.approx(0.25)  # s (1 - s)
    x = t64([0.0])
    F.tanh(x).backward()
    assert x.grad.item() == pytest.approx(1.0)  # 1 - tanh^2


def test_sigmoid_saturates_without_overflow():
    with np.errstate(all="raise"):
        y = F.sigmoid(tc.tensor([-1000.0, 1000.0, -1e30]))
    np.testing.assert_array_equal(y.numpy(), [0.0, 1.0, 0.0])
    assert y.dtype == np.float32


def test_scaled_tanh_is_lecuns_function():
    # A = 1.7159, S = 2/3 were chosen so that f(1) = 1 and f(-1) = -1 (LeCun et al. 1998, appendix A).
    np.testing.assert_allclose(F.scaled_tanh(t64([1.0, -1.0])).numpy(), [1.0, -1.0], atol=1e-4)
    x = t64([0.3, -1.2])
    np.testing.assert_allclose(F.scaled_tanh(x, amplitude=2.0, slope=0.5).numpy(), 2 * np.tanh(0.5 * x.data))
    assert tc.gradcheck(lambda t: F.scaled_tanh(t, amplitude=2.0, slope=0.5), [x])


# --- softmax and log_softmax ---------------------------------------------------------------------------------

def naive_softmax(x, axis):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), seed=seeds, data_=st.data())
def test_softmax_and_log_softmax(shape, seed, data_):
    axis = data_.draw(st.integers(-len(shape), len(shape) - 1))
    x_np = 3 * np.random.default_rng(seed).standard_normal(shape)
    x = t64(x_np)
    s = F.softmax(x, axis=axis)
    ls = F.log_softmax(x, axis=axis)
    np.testing.assert_allclose(s.numpy(), naive_softmax(x_np, axis), rtol=1e-12)
    np.testing.assert_allclose(s.numpy().sum(axis=axis), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ls.numpy(), np.log(naive_softmax(x_np, axis)), rtol=1e-10, atol=1e-12)
    assert tc.gradcheck(lambda t: F.softmax(t, axis=axis), [x])
    assert tc.gradcheck(lambda t: F.log_softmax(t, axis=axis), [x])


def test_softmax_hand_values():
    # a NumPy float64 in the list would keep float64, as torch
    y = F.softmax(tc.tensor([[0.0, float(np.log(3.0))]]), dim=1)
    np.testing.assert_allclose(y.numpy(), [[0.25, 0.75]], rtol=1e-6)
    assert y.dtype == np.float32
    y = F.softmax(t64([[1.0, 1.0], [2.0, 2.0]]), axis=0)  # columns
    np.testing.assert_allclose(y.numpy(), [[1 / (1 + np.e)] * 2, [np.e / (1 + np.e)] * 2])
    # the softmax gradient of a sum is 0: the outputs always sum to 1
    x = t64([[0.3, -1.0, 2.0]])
    F.softmax(x, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.0, atol=1e-15)


def test_log_softmax_of_extreme_logits_is_finite():
    x = t64([[1e4, 0.0, -1e4]])
    y = F.log_softmax(x, dim=1)
    np.testing.assert_array_equal(y.numpy(), [[0.0, -1e4, -2e4]])
    y.backward(np.array([[0.0, 1.0, 0.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[-1.0, 1.0, 0.0]])


# --- errors --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "scaled_tanh", "softmax", "log_softmax"])
def test_activation_errors(name):
    fn = getattr(F, name)
    with pytest.raises(TypeError, match=f"{name}: x must have a floating dtype, got int64"):
        fn(tc.tensor([1, 2]))
    with pytest.raises(TypeError, match=f"{name}: x must be a Tensor, got list"):
        fn([1.0, 2.0])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_axis_out_of_range(name):
    # PyTorch's IndexError (this test expected ValueError before the PyTorch-conformance change of issue 12)
    with pytest.raises(IndexError, match=r"Dimension out of range .*\[-2, 1\].* got 2.*\(2, 3\)"):
        getattr(F, name)(t64(np.ones((2, 3))), axis=2)
    with pytest.raises(IndexError, match=r"Dimension out of range .*\[-1, 0\].* got 1.*\(\)"):
        getattr(F, name)(t64(1.0), dim=1)
    # a 0-d input is a one-element distribution, as in PyTorch (softmax 1, log_softmax 0); it used to raise
    y = getattr(F, name)(t64(1.0), dim=-1)
    assert y.shape == () and y.item() == (1.0 if name == "softmax" else 0.0)


def test_relu_infinite_or_nan_gradient_stops_at_inactive_units():
    # inf * 0 and nan * 0 are NaN: an inactive unit must still pass exactly 0, as PyTorch's threshold_backward
    x = tc.Tensor(np.array([-1.0, 0.0, 2.0, 3.0]), requires_grad=True)
    F.relu(x).backward(np.array([np.inf, np.nan, np.inf, 1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, np.inf, 1.0])
