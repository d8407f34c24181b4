"""F.batch_norm: PITFALLS P10 exactly, float64 gradchecks in training and eval mode over hypothesis-drawn shapes,
eval on the running statistics, errors, and forward / backward / running statistics against PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F

seeds = st.integers(0, 2**32 - 1)

# PITFALLS P10: N = 3 samples, C = 4 channels
P10_X = np.array([[2, 15, 2, 1], [2, 17, 2, 1], [-4, -2, -2, -1]], dtype=np.float64)
P10_BIASED_VAR = np.array([8, 218 / 3, 32 / 9, 8 / 9])  # [8, 72.6667, 3.5556, 0.8889]
P10_RUNNING_MEAN = np.array([0, 1, 0.066667, 0.033333])
P10_RUNNING_VAR = np.array([2.1, 11.8, 1.433333, 1.033333])


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def p10_stats():
    return np.zeros(4), np.ones(4)


# --- PITFALLS P10 --------------------------------------------------------------------------------------------

def test_p10_normalizes_with_biased_variance():
    rm, rv = p10_stats()
    y = F.batch_norm(t64(P10_X, requires_grad=False), rm, rv, training=True, momentum=0.1, eps=1e-5)
    mean = np.array([0, 10, 2 / 3, 1 / 3])
    expected = (P10_X - mean) / np.sqrt(P10_BIASED_VAR + 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    # with the unbiased variance (x 3/2) the outputs would be sqrt(2/3) smaller: a different answer
    assert not np.allclose(y.numpy(), (P10_X - mean) / np.sqrt(P10_BIASED_VAR * 1.5 + 1e-5), rtol=1e-3)


def test_p10_running_statistics_after_one_step():
    rm, rv = p10_stats()
    F.batch_norm(t64(P10_X, requires_grad=False), rm, rv, training=True, momentum=0.1)
    # running = 0.9 running + 0.1 batch; the variance stored unbiased (n / (n - 1) = 3 / 2)
    np.testing.assert_allclose(rm, P10_RUNNING_MEAN, atol=1e-6)
    np.testing.assert_allclose(rv, P10_RUNNING_VAR, atol=1e-6)


def test_p10_gradient_of_sum_is_zero():
    for weight, bias in ((None, None), (t64([1.0, 2.0, -0.5, 3.0]), t64([0.1, 0.2, 0.3, 0.4]))):
        x = t64(P10_X)
        rm, rv = p10_stats()
        F.batch_norm(x, rm, rv, weight, bias, training=True).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 0.0, atol=1e-12)
        if bias is not None:  # d(sum y)/d beta = N per channel, d(sum y)/d gamma = sum x_hat = 0
            np.testing.assert_allclose(bias.grad.numpy(), [3.0] * 4)
            np.testing.assert_allclose(weight.grad.numpy(), 0.0, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 4), (1, 4, 1, 1)])
def test_training_with_one_value_per_channel_raises(shape):
    x = t64(np.ones(shape))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(x, np.zeros(4), np.ones(4), training=True)
    # evaluation needs no batch statistics: one image is fine there
    y = F.batch_norm(x, np.zeros(4), np.full(4, 4.0), training=False, eps=0.0)
    np.testing.assert_allclose(y.numpy(), np.full(shape, 0.5))


def test_momentum_is_the_weight_of_the_new_batch():
    rm, rv = np.zeros(4), np.ones(4)
    F.batch_norm(t64(P10_X, requires_grad=False), rm, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(rm, [0, 10, 2 / 3, 1 / 3])        # all batch: momentum not reversed
    np.testing.assert_allclose(rv, P10_BIASED_VAR * 1.5)
    rm, rv = np.zeros(4), np.ones(4)
    F.batch_norm(t64(P10_X, requires_grad=False), rm, rv, training=True, momentum=0.0)
    np.testing.assert_array_equal(rm, 0.0)
    np.testing.assert_array_equal(rv, 1.0)


# --- evaluation ----------------------------------------------------------------------------------------------

def test_eval_uses_running_statistics_and_leaves_them_alone():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 2, 2))
    rm, rv = np.array([0.5, -1.0, 2.0]), np.array([4.0, 0.25, 1.0])
    w, b = t64([2.0, 1.0, -1.0]), t64([0.0, 1.0, 3.0])
    y = F.batch_norm(t64(x), rm, rv, w, b, training=False, eps=1e-5)
    c = (1, -1, 1, 1)
    expected = (x - rm.reshape(c)) / np.sqrt(rv.reshape(c) + 1e-5) * w.numpy().reshape(c) + b.numpy().reshape(c)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(rm, [0.5, -1.0, 2.0])
    np.testing.assert_array_equal(rv, [4.0, 0.25, 1.0])
    # a batch of one in eval gives the same row as inside the batch: no batch statistics involved
    y0 = F.batch_norm(t64(x[:1]), rm, rv, w, b, training=False)
    np.testing.assert_allclose(y0.numpy(), y.numpy()[:1], rtol=1e-12)


def test_train_output_has_zero_mean_unit_variance_per_channel():
    x = np.random.default_rng(1).normal(3.0, 5.0, (8, 3, 4, 4))
    y = F.batch_norm(t64(x, requires_grad=False), None, None, training=True).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, atol=1e-5)


def test_float32_stays_float32():
    x = tc.Tensor(np.ones((2, 3, 2, 2), np.float32) * np.arange(2, dtype=np.float32).reshape(2, 1, 1, 1))
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    for training in (True, False):
        y = F.batch_norm(x, rm, rv, tc.Tensor(np.ones(3, np.float32)), tc.Tensor(np.zeros(3, np.float32)),
                         training=training)
        assert y.dtype == np.float32
    assert rm.dtype == np.float32 and rv.dtype == np.float32


def test_errors_name_the_argument():
    x = t64(np.ones((2, 3)))
    with pytest.raises(ValueError, match="running_mean must have shape \\(3,\\)"):
        F.batch_norm(x, np.zeros(4), np.ones(3), training=True)
    with pytest.raises(ValueError, match="weight must have shape"):
        F.batch_norm(x, None, None, t64(np.ones(2)), training=True)
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(TypeError, match="momentum must be a float, got None"):  # torch's F refuses None too
        F.batch_norm(x, None, None, training=True, momentum=None)


# --- float64 gradchecks --------------------------------------------------------------------------------------

@st.composite
def bn_shapes(draw):
    """2-D (N, C) or 4-D (N, C, H, W) with at least 2 values per channel (training needs them)."""
    c = draw(st.integers(1, 3))
    if draw(st.booleans()):
        return (draw(st.integers(2, 5)), c)
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if n * h * w < 2:
        n = 2
    return (n, c, h, w)


@given(shape=bn_shapes(), seed=seeds, affine=st.booleans())
def test_gradcheck_training(shape, seed, affine):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = t64(rng.normal(0.5, 2.0, shape))
    inputs = [x] + ([t64(rng.normal(1.0, 0.5, c)), t64(rng.standard_normal(c))] if affine else [])
    # no running statistics: every finite-difference forward then sees the same function
    assert tc.gradcheck(lambda *t: F.batch_norm(t[0], None, None, *t[1:], training=True), inputs)


@given(shape=bn_shapes(), seed=seeds, affine=st.booleans())
def test_gradcheck_eval(shape, seed, affine):
    rng = np.random.default_rng(seed)
    c = shape[1]
    rm, rv = rng.standard_normal(c), rng.uniform(0.2, 3.0, c)
    x = t64(rng.standard_normal(shape))
    inputs = [x] + ([t64(rng.normal(1.0, 0.5, c)), t64(rng.standard_normal(c))] if affine else [])
    assert tc.gradcheck(lambda *t: F.batch_norm(t[0], rm, rv, *t[1:], training=False), inputs)


# --- against PyTorch -----------------------------------------------------------------------------------------

@pytest.mark.peer
@given(shape=bn_shapes(), seed=seeds, momentum=st.sampled_from([0.1, 0.3]))
def test_against_torch_over_several_steps(shape, seed, momentum):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    c = shape[1]
    w0, b0 = rng.normal(1.0, 0.5, c), rng.standard_normal(c)
    rm, rv = np.zeros(c), np.ones(c)
    trm, trv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    for step in range(3):
        x0 = rng.normal(step, 1.0 + step, shape)
        r = rng.standard_normal(shape)
        training = step < 2  # two training steps, then one in eval on the running statistics
        x, w, b = t64(x0), t64(w0), t64(b0)
        y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum)
        (y * t64(r, requires_grad=False)).sum().backward()
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x0, w0, b0))
        ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=training, momentum=momentum)
        (ty * torch.tensor(r)).sum().backward()
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
        for mine, peer in ((x, tx), (w, tw), (b, tb)):
            np.testing.assert_allclose(mine.grad.numpy(), peer.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-12, atol=1e-12)
