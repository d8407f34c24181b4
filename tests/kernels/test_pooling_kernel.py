"""The fast pooling kernels (tinycnn/kernels/pooling.py) equal the reference MaxPool2d / AvgPool2d in float64, values
and gradients, over hypothesis-drawn geometries (kernel, stride, padding, ceil_mode, count_include_pad, odd sizes,
batch 1), inputs with ties, -inf and NaN, both memory layouts, and on several threads."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F
from tinycnn import backend

from ..functional.test_pooling import pool_cases

VALUES = ["normal", "ties", "ties and -inf", "ties and NaN"]


def pool_input(shape, values, rng, chwn):
    if values == "normal":
        x = rng.standard_normal(shape)
    else:  # few distinct values: many windows with tied maxima
        x = rng.integers(-2, 2, shape).astype(np.float64)
        special = {"ties and -inf": -np.inf, "ties and NaN": np.nan}.get(values)
        if special is not None:
            x[rng.random(shape) < 0.3] = special
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2) if chwn else x


def both_tiers(fn, x, g):
    """[(output, dx, argmax or None)] for the fast tier and the reference, same input and upstream gradient."""
    results = []
    for reference in (False, True):
        t = tc.Tensor(x.copy(), requires_grad=True)
        with tc.use_reference_ops(reference):
            y = fn(t)
        assert type(y._ctx).__name__.startswith("Fast") != reference
        y.backward(g)
        results.append((y.numpy(), t.grad.numpy(), getattr(y._ctx, "argmax", None)))
    return results


@given(case=pool_cases(), values=st.sampled_from(VALUES), chwn=st.booleans(), threads=st.booleans())
def test_fast_max_pool_equals_the_reference(case, values, chwn, threads):
    # the same winner in every window (ties: the first maximum; NaN: the last NaN; an all -inf window: its first
    # real input, never the -inf padding), hence the same output and the same gradient
    rng = np.random.default_rng(case["seed"])
    x = pool_input(case["shape"], values, rng, chwn)
    kwargs = {k: case[k] for k in ("kernel_size", "stride", "padding", "ceil_mode")}
    y_shape = F.max_pool2d(tc.Tensor(x), **kwargs).shape
    g = rng.standard_normal(y_shape)
    with pytest.MonkeyPatch.context() as mp:
        if threads:
            mp.setattr(backend, "PARALLEL_MIN_BYTES", 1)
            mp.setattr(backend, "_num_threads", 3)
        (y_fast, dx_fast, arg_fast), (y_ref, dx_ref, arg_ref) = both_tiers(lambda t: F.max_pool2d(t, **kwargs), x, g)
    backend._drop_pool()
    np.testing.assert_array_equal(arg_fast, arg_ref)
    np.testing.assert_array_equal(y_fast, y_ref)  # a max is exact
    np.testing.assert_allclose(dx_fast, dx_ref, rtol=1e-12, atol=1e-12)


@given(case=pool_cases(), count_include_pad=st.booleans(), chwn=st.booleans())
def test_fast_avg_pool_equals_the_reference(case, count_include_pad, chwn):
    rng = np.random.default_rng(case["seed"])
    x = pool_input(case["shape"], "normal", rng, chwn)
    kwargs = {k: case[k] for k in ("kernel_size", "stride", "padding", "ceil_mode")}
    kwargs["count_include_pad"] = count_include_pad
    g = rng.standard_normal(F.avg_pool2d(tc.Tensor(x), **kwargs).shape)
    (y_fast, dx_fast, _), (y_ref, dx_ref, _) = both_tiers(lambda t: F.avg_pool2d(t, **kwargs), x, g)
    np.testing.assert_allclose(y_fast, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx_fast, dx_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_fast_pooling_equals_the_reference_in_float32_on_a_conv_output(pool):
    # AlexNet's pool: 3x3 / 2 with ceil_mode, on a conv output (its (C, H, W, N) memory), in float32
    rng = np.random.default_rng(0)
    conv_out = F.conv2d(tc.Tensor(rng.standard_normal((4, 3, 15, 15), dtype=np.float32)),
                        tc.Tensor(rng.standard_normal((5, 3, 3, 3), dtype=np.float32))).data
    fn = (lambda t: F.max_pool2d(t, 3, 2, ceil_mode=True)) if pool == "max" else (
        lambda t: F.avg_pool2d(t, 3, 2, padding=1, ceil_mode=True))
    g = rng.standard_normal(fn(tc.Tensor(conv_out)).shape).astype(np.float32)
    (y_fast, dx_fast, _), (y_ref, dx_ref, _) = both_tiers(fn, conv_out, g)
    assert y_fast.dtype == y_ref.dtype == dx_fast.dtype == dx_ref.dtype == np.float32
    np.testing.assert_allclose(y_fast, y_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx_fast, dx_ref, rtol=1e-6, atol=1e-6)
