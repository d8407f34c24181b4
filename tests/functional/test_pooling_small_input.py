"""max_pool2d / avg_pool2d on inputs smaller than the kernel (reviewer R1's finding 21): with ceil_mode=True PyTorch
returns an output whenever its size formula gives at least one window, the kernel larger than the padded input or
not; tinycnn raised. Both tiers run (tests/functional), against loop references written from PyTorch's definitions
and against torch itself."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F

from .test_pooling import out_size, pool_ref


@st.composite
def small_input_cases(draw):
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    size = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))  # often smaller than the kernel
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 2))) + size, kernel_size=k, stride=stride,
                padding=padding, ceil_mode=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))


def _expected_size(case):
    return tuple(out_size(n, k, s, p, case["ceil_mode"]) for n, k, s, p in
                 zip(case["shape"][2:], case["kernel_size"], case["stride"], case["padding"]))


def _kwargs(case):
    return dict(kernel_size=case["kernel_size"], stride=case["stride"], padding=case["padding"],
                ceil_mode=case["ceil_mode"])


def test_the_reviewers_case():
    """x (2, 2, 1, 12), kernel 3, ceil_mode: one row of windows over the single input row, as in torch."""
    x_np = np.arange(48.0).reshape(2, 2, 1, 12)
    x = tc.Tensor(x_np, requires_grad=True)
    y = F.max_pool2d(x, 3, ceil_mode=True)
    assert y.shape == (2, 2, 1, 4)
    np.testing.assert_array_equal(y.numpy(), x_np[:, :, :, 2::3])  # each window's max is its last column
    a = F.avg_pool2d(x, 3, ceil_mode=True)  # the divisor counts the one real row (PyTorch clips at H + pad)
    np.testing.assert_allclose(a.numpy(), x_np.reshape(2, 2, 1, 4, 3).mean(axis=-1))
    with pytest.raises(ValueError, match=r"kernel_size \(3, 3\) is larger than the padded input"):
        F.max_pool2d(x, 3)  # floor mode: no window fits, as torch says too


@given(case=small_input_cases())
def test_small_inputs_match_the_loop_reference_or_raise(case):
    rng = np.random.default_rng(case["seed"])
    size = math.prod(case["shape"])
    x_np = (rng.permutation(size) - size / 2).reshape(case["shape"]).astype(np.float64)
    k, s, p, ceil_mode = case["kernel_size"], case["stride"], case["padding"], case["ceil_mode"]
    x = tc.Tensor(x_np, requires_grad=True)
    if min(_expected_size(case)) < 1:
        for fn in (F.max_pool2d, F.avg_pool2d):
            with pytest.raises(ValueError, match="is larger than the padded input"):
                fn(x, **_kwargs(case))
        return
    np.testing.assert_array_equal(F.max_pool2d(x, **_kwargs(case)).numpy(), pool_ref(x_np, k, s, p, ceil_mode, "max"))
    assert tc.gradcheck(lambda t: F.max_pool2d(t, **_kwargs(case)), [x])
    for include in (True, False):
        y = F.avg_pool2d(x, **_kwargs(case), count_include_pad=include)
        np.testing.assert_allclose(y.numpy(), pool_ref(x_np, k, s, p, ceil_mode, "avg", include), rtol=1e-12)
        assert tc.gradcheck(lambda t: F.avg_pool2d(t, **_kwargs(case), count_include_pad=include), [x])


@pytest.mark.peer
@given(case=small_input_cases(), count_include_pad=st.booleans())
def test_small_inputs_match_torch(case, count_include_pad):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(case["seed"])
    size = math.prod(case["shape"])
    x_np = (rng.permutation(size) - size / 2).reshape(case["shape"]).astype(np.float64)
    for name, extra in (("max_pool2d", {}), ("avg_pool2d", {"count_include_pad": count_include_pad})):
        x, tx = tc.Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        try:
            theirs = getattr(torch.nn.functional, name)(tx, **_kwargs(case), **extra)
        except RuntimeError:  # torch: "Output size is too small"
            with pytest.raises(ValueError, match="is larger than the padded input"):
                getattr(F, name)(x, **_kwargs(case), **extra)
            continue
        ours = getattr(F, name)(x, **_kwargs(case), **extra)
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = rng.standard_normal(ours.shape)
        ours.backward(g)
        theirs.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
