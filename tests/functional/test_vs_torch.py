"""Forward and backward against PyTorch (the optional peer) in float64, over hypothesis-drawn small cases.

Skipped as a whole where torch is absent (`make peer` installs the pinned CPU build).
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycnn as tc
import tinycnn.functional as F

from .test_conv import conv_cases
from .test_pooling import pool_cases

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = pytest.mark.peer
seeds = st.integers(0, 2**32 - 1)


def both(array):
    """The same float64 values as a tinycnn leaf and a torch leaf."""
    return tc.Tensor(array.copy(), requires_grad=True), torch.tensor(array, dtype=torch.float64, requires_grad=True)


def check(ours, theirs, pairs, rng, rtol=1e-10, atol=1e-12):
    """Same output; then the same input gradients for one random upstream gradient."""
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    g = rng.standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(torch.tensor(g))
    for mine, peer in pairs:
        np.testing.assert_allclose(mine.grad.numpy(), peer.grad.numpy(), rtol=rtol, atol=atol)


@given(case=conv_cases())
def test_conv2d(case):
    rng = np.random.default_rng(case["seed"])
    x, tx = both(rng.standard_normal(case["x_shape"]))
    w, tw = both(rng.standard_normal(case["w_shape"]))
    geometry = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    if case["bias"]:
        b, tb = both(rng.standard_normal(case["w_shape"][0]))
        check(F.conv2d(x, w, b, **geometry), TF.conv2d(tx, tw, tb, **geometry), [(x, tx), (w, tw), (b, tb)], rng)
    else:
        check(F.conv2d(x, w, **geometry), TF.conv2d(tx, tw, **geometry), [(x, tx), (w, tw)], rng)


@given(case=pool_cases())
def test_max_pool2d(case):
    rng = np.random.default_rng(case["seed"])
    size = math.prod(case["shape"])
    x, tx = both(rng.permutation(size).reshape(case["shape"]).astype(np.float64) - size / 2)
    kw = dict(kernel_size=case["kernel_size"], stride=case["stride"], padding=case["padding"],
              ceil_mode=case["ceil_mode"])
    check(F.max_pool2d(x, **kw), TF.max_pool2d(tx, **kw), [(x, tx)], rng)


@given(case=pool_cases())
def test_max_pool2d_with_ties(case):
    rng = np.random.default_rng(case["seed"])
    x, tx = both(rng.integers(0, 2, case["shape"]).astype(np.float64))  # many ties: the first maximum wins
    kw = dict(kernel_size=case["kernel_size"], stride=case["stride"], padding=case["padding"],
              ceil_mode=case["ceil_mode"])
    check(F.max_pool2d(x, **kw), TF.max_pool2d(tx, **kw), [(x, tx)], rng)


def test_max_pool2d_nan_windows():
    # PyTorch's kernel takes over on a NaN (isnan(v) || v > max): the output is NaN and the window's last NaN
    # gets the gradient
    x_np = np.array([[1.0, np.nan, 5.0, 2.0], [np.nan, 3.0, 4.0, np.nan], [7.0, 8.0, np.nan, np.nan],
                     [9.0, 9.0, 0.0, np.nan]])[None, None]
    x, tx = both(x_np)
    y, ty = F.max_pool2d(x, 2), TF.max_pool2d(tx, 2)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())  # NaN where the torch output is NaN
    y.backward(np.ones(y.shape))
    ty.backward(torch.ones(ty.shape, dtype=torch.float64))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("kw", [dict(kernel_size=2, padding=1), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=2, ceil_mode=True)])
def test_max_pool2d_all_minus_infinity_windows_never_pick_the_padding(kw):
    # -inf inputs tie with the -inf padding; PyTorch loops over real inputs only, so the first real one wins
    x_np = np.full((1, 1, 3, 3), -np.inf)
    x_np[0, 0, 2, 2] = 5.0
    x, tx = both(x_np)
    y, ty = F.max_pool2d(x, **kw), TF.max_pool2d(tx, **kw)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    y.backward(np.ones(y.shape))
    ty.backward(torch.ones(ty.shape, dtype=torch.float64))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@given(case=pool_cases(), count_include_pad=st.booleans())
def test_avg_pool2d(case, count_include_pad):
    rng = np.random.default_rng(case["seed"])
    x, tx = both(rng.standard_normal(case["shape"]))
    kw = dict(kernel_size=case["kernel_size"], stride=case["stride"], padding=case["padding"],
              ceil_mode=case["ceil_mode"], count_include_pad=count_include_pad)
    check(F.avg_pool2d(x, **kw), TF.avg_pool2d(tx, **kw), [(x, tx)], rng)


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8),
       out=st.tuples(st.integers(1, 8), st.integers(1, 8)), seed=seeds)
def test_adaptive_avg_pool2d(n, c, h, w, out, seed):
    rng = np.random.default_rng(seed)
    x, tx = both(rng.standard_normal((n, c, h, w)))
    check(F.adaptive_avg_pool2d(x, out), TF.adaptive_avg_pool2d(tx, out), [(x, tx)], rng)


@pytest.mark.parametrize("size,out", [((7, 7), (3, 3)), ((5, 5), (2, 2)), ((7, 5), (3, 2)), ((6, 6), (4, 4))])
def test_adaptive_avg_pool2d_non_divisible(size, out):
    rng = np.random.default_rng(0)
    x, tx = both(rng.standard_normal((2, 3) + size))
    check(F.adaptive_avg_pool2d(x, out), TF.adaptive_avg_pool2d(tx, out), [(x, tx)], rng)


@given(n=st.integers(1, 5), c=st.integers(1, 6), reduction=st.sampled_from(["mean", "sum", "none"]), seed=seeds,
       scale=st.sampled_from([1.0, 10.0, 1000.0]))
def test_cross_entropy(n, c, reduction, seed, scale):
    rng = np.random.default_rng(seed)
    z, tz = both(scale * rng.standard_normal((n, c)))
    target = rng.integers(0, c, n)
    ours = F.cross_entropy(z, target, reduction=reduction)
    theirs = TF.cross_entropy(tz, torch.tensor(target), reduction=reduction)
    check(ours, theirs, [(z, tz)], rng)


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), seed=seeds, data_=st.data())
def test_log_softmax(shape, seed, data_):
    axis = data_.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    x, tx = both(5 * rng.standard_normal(shape))
    check(F.log_softmax(x, axis=axis), TF.log_softmax(tx, dim=axis), [(x, tx)], rng)
    x, tx = both(5 * rng.standard_normal(shape))
    check(F.softmax(x, axis=axis), TF.softmax(tx, dim=axis), [(x, tx)], rng)


@given(lead=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), n_in=st.integers(1, 5), n_out=st.integers(1, 5),
       bias=st.booleans(), seed=seeds)
def test_linear(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    x, tx = both(rng.standard_normal(lead + (n_in,)))
    w, tw = both(rng.standard_normal((n_out, n_in)))
    if bias:
        b, tb = both(rng.standard_normal(n_out))
        check(F.linear(x, w, b), TF.linear(tx, tw, tb), [(x, tx), (w, tw), (b, tb)], rng)
    else:
        check(F.linear(x, w), TF.linear(tx, tw), [(x, tx), (w, tw)], rng)
