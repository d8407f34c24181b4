"""dropout: gradcheck with a fixed seed, inverted scaling, eval mode, p = 0 and p = 1, seeding, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycnn as tc
import tinycnn.functional as F

seeds = st.integers(0, 2**32 - 1)


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), p=st.sampled_from([0.2, 0.5, 0.8]),
       seed=seeds)
def test_dropout_gradcheck_with_a_fixed_mask(shape, p, seed):
    x = t64(np.random.default_rng(seed).uniform(0.5, 2.0, shape))

    def fn(t):
        tc.manual_seed(seed % 1000)  # the same mask on every forward call of the check
        return F.dropout(t, p=p)

    assert tc.gradcheck(fn, [x])
    assert tc.gradcheck(fn, [x], mode="fast")


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), p=st.sampled_from([0.1, 0.5, 0.9]),
       seed=seeds)
def test_dropout_keeps_or_scales_each_element(shape, p, seed):
    x_np = np.random.default_rng(seed).uniform(0.5, 2.0, shape)
    x = t64(x_np)
    tc.manual_seed(seed % 1000)
    y = F.dropout(x, p=p)
    y_np = y.numpy()
    kept = y_np != 0
    np.testing.assert_array_equal(y_np[kept], x_np[kept] * (1.0 / (1.0 - p)))
    # the backward multiplies by the very mask of the forward: dy/dx = y / x
    y.backward(np.ones(shape))
    np.testing.assert_array_equal(x.grad.numpy(), np.where(kept, 1.0 / (1.0 - p), 0.0))


def test_dropout_rate_is_the_drop_probability():
    tc.manual_seed(0)
    x = tc.tensor(np.ones(100_000, dtype=np.float32))
    for p in (0.1, 0.3, 0.8):
        zeros = float((F.dropout(x, p=p).numpy() == 0).mean())
        assert abs(zeros - p) < 0.01  # std of the fraction is sqrt(p(1-p)/1e5) < 0.0016
    assert F.dropout(x, p=0.3).dtype == np.float32


def test_dropout_identity_cases():
    x = t64([[1.0, -2.0], [3.0, 4.0]])
    assert F.dropout(x, p=0.5, training=False) is x
    assert F.dropout(x, p=0.0) is x
    y = F.dropout(x, p=1.0)
    np.testing.assert_array_equal(y.numpy(), np.zeros((2, 2)))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 2)))


def test_dropout_seeding():
    x = tc.tensor(np.ones(1000, dtype=np.float32))
    tc.manual_seed(7)
    first = F.dropout(x).numpy()
    second = F.dropout(x).numpy()
    tc.manual_seed(7)
    again = F.dropout(x).numpy()
    tc.manual_seed(8)
    other = F.dropout(x).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)  # the generator advances between calls
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("p", [1.5, -0.1, float("nan"), "0.5"])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError) as info:
        F.dropout(t64([1.0]), p=p)
    assert "p must be a probability in [0, 1]" in str(info.value) and repr(p) in str(info.value)


def test_dropout_errors():
    with pytest.raises(TypeError, match="dropout: x must have a floating dtype, got int64"):
        F.dropout(tc.tensor([1, 2]))
    with pytest.raises(TypeError, match="dropout: x must be a Tensor"):
        F.dropout(np.ones(2))
    with pytest.raises(TypeError, match="seed must be an int"):
        tc.manual_seed(1.5)
