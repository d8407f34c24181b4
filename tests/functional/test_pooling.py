"""max_pool2d, avg_pool2d, adaptive_avg_pool2d, global_avg_pool2d: gradchecks over kernels, strides, paddings and
ceil_mode; values against loop references written from PyTorch's definitions; errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F

seeds = st.integers(0, 2**32 - 1)


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def out_size(n, k, s, p, ceil_mode):
    """PyTorch's documented size: floor/ceil((n + 2p - k) / s) + 1, less a last window starting in the right pad."""
    out = (math.ceil((n + 2 * p - k) / s) if ceil_mode else (n + 2 * p - k) // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def windows(n, k, s, p, ceil_mode):
    """(start, end) of each window along one axis in unpadded coordinates, end clipped at the right padding."""
    return [(i * s - p, min(i * s - p + k, n + p)) for i in range(out_size(n, k, s, p, ceil_mode))]


def pool_ref(x, k, s, p, ceil_mode, kind, count_include_pad=True):
    n_, c_, h, w = x.shape
    rows, cols = windows(h, k[0], s[0], p[0], ceil_mode), windows(w, k[1], s[1], p[1], ceil_mode)
    out = np.zeros((n_, c_, len(rows), len(cols)))
    for n in range(n_):
        for c in range(c_):
            for i, (r0, r1) in enumerate(rows):
                for j, (q0, q1) in enumerate(cols):
                    vals = [x[n, c, r, q] for r in range(max(r0, 0), min(r1, h)) for q in range(max(q0, 0), min(q1, w))]
                    if kind == "max":
                        out[n, c, i, j] = max(vals)  # padding is -inf: it never wins
                    else:
                        divisor = (r1 - r0) * (q1 - q0) if count_include_pad else len(vals)
                        out[n, c, i, j] = sum(vals) / divisor
    return out


@st.composite
def pool_cases(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    size = tuple(draw(st.integers(max(1, kk - 2 * p), 7)) for kk, p in zip(k, padding))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + size
    return dict(shape=shape, kernel_size=k, stride=stride, padding=padding, ceil_mode=draw(st.booleans()),
                seed=draw(seeds))


def _as_arg(pair):
    return pair[0] if pair[0] == pair[1] else pair


@given(case=pool_cases())
def test_max_pool2d_matches_loop_reference_and_gradcheck(case):
    rng = np.random.default_rng(case["seed"])
    size = math.prod(case["shape"])
    x_np = (rng.permutation(size) - size / 2).reshape(case["shape"]).astype(np.float64)  # distinct: no ties
    x = t64(x_np)
    k, s, p, ceil_mode = case["kernel_size"], case["stride"], case["padding"], case["ceil_mode"]
    kwargs = dict(kernel_size=_as_arg(k), stride=_as_arg(s), padding=_as_arg(p), ceil_mode=ceil_mode)
    y = F.max_pool2d(x, **kwargs)
    np.testing.assert_array_equal(y.numpy(), pool_ref(x_np, k, s, p, ceil_mode, "max"))
    assert tc.gradcheck(lambda t: F.max_pool2d(t, **kwargs), [x])


@given(case=pool_cases(), count_include_pad=st.booleans())
def test_avg_pool2d_matches_loop_reference_and_gradcheck(case, count_include_pad):
    x_np = np.random.default_rng(case["seed"]).standard_normal(case["shape"])
    x = t64(x_np)
    k, s, p, ceil_mode = case["kernel_size"], case["stride"], case["padding"], case["ceil_mode"]
    kwargs = dict(kernel_size=_as_arg(k), stride=_as_arg(s), padding=_as_arg(p), ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad)
    y = F.avg_pool2d(x, **kwargs)
    np.testing.assert_allclose(y.numpy(), pool_ref(x_np, k, s, p, ceil_mode, "avg", count_include_pad), rtol=1e-12)
    assert tc.gradcheck(lambda t: F.avg_pool2d(t, **kwargs), [x])


def test_stride_defaults_to_kernel_size():
    x = t64(np.arange(16.0).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(F.max_pool2d(x, 2).numpy()[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(F.avg_pool2d(x, 2).numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(F.max_pool2d(x, (1, 2)).numpy()[0, 0], [[1, 3], [5, 7], [9, 11], [13, 15]])


def test_avg_pool2d_padding_divisor_by_hand():
    x = t64(np.ones((1, 1, 2, 2)))
    with_pad = F.avg_pool2d(x, 2, stride=1, padding=1)
    np.testing.assert_array_equal(with_pad.numpy()[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
    without = F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
    np.testing.assert_array_equal(without.numpy()[0, 0], np.ones((3, 3)))
    with_pad.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1.0, 1.0], [1.0, 1.0]])  # each pixel in 4 windows of 1/4


def test_ceil_mode_by_hand():
    x = t64(np.arange(25.0).reshape(1, 1, 5, 5))
    y = F.max_pool2d(x, 2, ceil_mode=True)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    a = F.avg_pool2d(x, 2, ceil_mode=True)
    # the last, partial windows average what they cover (the clipped window has no padding to count)
    np.testing.assert_array_equal(a.numpy()[0, 0], [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]])
    assert F.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    # a window that would start in the right padding is dropped: 5 + 2 - 3 = 4, ceil(4 / 3) + 1 = 3 -> 2
    assert F.max_pool2d(x, 3, stride=3, padding=1, ceil_mode=True).shape == (1, 1, 2, 2)


def test_googlenet_ceil_mode_sizes():
    sizes = [112]
    for _ in range(4):
        sizes.append(F.pool_output_size(sizes[-1], 3, 2, 0, ceil_mode=True))
    assert sizes == [112, 56, 28, 14, 7]
    assert F.max_pool2d(tc.tensor(np.zeros((1, 1, 14, 14), np.float32)), 3, 2, ceil_mode=True).shape == (1, 1, 7, 7)


def test_max_pool2d_nan_window_sends_the_gradient_to_its_last_nan():
    x = tc.Tensor(np.array([[[[np.nan, 1.0], [np.nan, 2.0]]]]), requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert np.isnan(y.item())
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 0], [1, 0]])


@pytest.mark.parametrize("stride", [2, 1])  # disjoint and overlapping windows
def test_max_pool2d_infinite_gradient_reaches_only_the_maximum(stride):
    # inf * 0 is NaN: the inputs that lost their window must still get exactly 0, as in PyTorch
    x = tc.Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), requires_grad=True)
    y = F.max_pool2d(x, 2, stride)
    y.backward(np.full(y.shape, np.inf))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 0], [0, np.inf]])


@pytest.mark.parametrize("kernel_size, stride", [(2, 2), (3, 2), (3, 1)])
def test_max_pool2d_gradient_does_not_depend_on_memory_layouts(kernel_size, stride):
    # tinycnn's conv outputs lie (C, H, W, N) in memory; Flatten's gradient comes back NCHW: every mix gives
    # the same dx
    rng = np.random.default_rng(4)
    x_np, results = rng.standard_normal((3, 2, 7, 7)), []
    for x_layout in ("nchw", "chwn"):
        for g_layout in ("nchw", "chwn"):
            x_data = x_np if x_layout == "nchw" else np.ascontiguousarray(x_np.transpose(1, 2, 3, 0)).transpose(
                3, 0, 1, 2)
            x = tc.Tensor(x_data, requires_grad=True)
            y = F.max_pool2d(x, kernel_size, stride)
            g = np.sin(np.arange(y.numel())).reshape(y.shape)
            if g_layout == "chwn":
                g = np.ascontiguousarray(g.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
            y.backward(g)
            results.append((y.numpy(), x.grad.numpy()))
    for y, dx in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(dx, results[0][1])


def test_max_pool2d_float32_and_negative_values():
    x = tc.tensor(-np.arange(1.0, 10.0, dtype=np.float32).reshape(1, 1, 3, 3))
    y = F.max_pool2d(x, 3, stride=1, padding=1)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy()[0, 0], [[-1, -1, -2], [-1, -1, -2], [-4, -4, -5]])


# --- adaptive and global average pooling ---------------------------------------------------------------------

def adaptive_ref(x, out_hw):
    """PyTorch's rule: output cell i averages input rows [floor(i H / O), ceil((i + 1) H / O))."""
    n_, c_, h, w = x.shape
    out = np.zeros((n_, c_) + out_hw)
    for i in range(out_hw[0]):
        r0, r1 = (i * h) // out_hw[0], math.ceil((i + 1) * h / out_hw[0])
        for j in range(out_hw[1]):
            q0, q1 = (j * w) // out_hw[1], math.ceil((j + 1) * w / out_hw[1])
            out[:, :, i, j] = x[:, :, r0:r1, q0:q1].sum(axis=(2, 3)) / ((r1 - r0) * (q1 - q0))
    return out


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       out_h=st.integers(1, 7), out_w=st.integers(1, 7), seed=seeds)
def test_adaptive_avg_pool2d(n, c, h, w, out_h, out_w, seed):
    x_np = np.random.default_rng(seed).standard_normal((n, c, h, w))
    x = t64(x_np)
    size = out_h if out_h == out_w else (out_h, out_w)
    y = F.adaptive_avg_pool2d(x, size)
    np.testing.assert_allclose(y.numpy(), adaptive_ref(x_np, (out_h, out_w)), rtol=1e-12)
    assert tc.gradcheck(lambda t: F.adaptive_avg_pool2d(t, size), [x])


def test_adaptive_avg_pool2d_non_divisible_by_hand():
    # 7 -> 3: bins [0, 3), [2, 5), [4, 7) overlap; 5 -> 2: [0, 3), [2, 5)
    x = t64(np.arange(7.0).reshape(1, 1, 1, 7))
    np.testing.assert_array_equal(F.adaptive_avg_pool2d(x, (1, 3)).numpy().ravel(), [1.0, 3.0, 5.0])
    y = F.adaptive_avg_pool2d(t64(np.arange(5.0).reshape(1, 1, 5, 1)), (2, 1))
    np.testing.assert_array_equal(y.numpy().ravel(), [1.0, 3.0])
    F.adaptive_avg_pool2d(x, (1, 3)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy().ravel(), [1 / 3, 1 / 3, 2 / 3, 1 / 3, 2 / 3, 1 / 3, 1 / 3])


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5), seed=seeds)
def test_global_avg_pool2d(n, c, h, w, seed):
    x_np = np.random.default_rng(seed).standard_normal((n, c, h, w))
    x = t64(x_np)
    expected = np.array([[[[x_np[i, j].sum() / (h * w)]] for j in range(c)] for i in range(n)])
    np.testing.assert_allclose(F.global_avg_pool2d(x).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).numpy(), expected, rtol=1e-12)
    assert tc.gradcheck(F.global_avg_pool2d, [x])


# --- errors --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pool_errors(name):
    fn = getattr(F, name)
    with pytest.raises(ValueError) as info:
        fn(t64(np.ones((1, 1, 2, 2))), 3)
    msg = str(info.value)
    assert "kernel_size (3, 3)" in msg and "larger" in msg and "(1, 1, 2, 2)" in msg
    x = t64(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"padding must be at most half of kernel_size \(2, 2\), got \(2, 2\)"):
        fn(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"stride must be >= 1, got \(0, 0\)"):
        fn(x, 2, stride=0)
    with pytest.raises(ValueError, match=r"kernel_size must be >= 1, got \(0, 0\)"):
        fn(x, 0)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair of ints, got 2.0"):
        fn(x, 2.0)
    with pytest.raises(ValueError, match=r"x must be 4-D, got shape \(4, 4\)"):
        fn(t64(np.ones((4, 4))), 2)
    with pytest.raises(TypeError, match="x must have a floating dtype, got int64"):
        fn(tc.tensor(np.ones((1, 1, 4, 4), dtype=np.int64)), 2)


def test_adaptive_and_global_pool_errors():
    with pytest.raises(ValueError, match=r"output_size must be >= 1, got \(0, 0\)"):
        F.adaptive_avg_pool2d(t64(np.ones((1, 1, 4, 4))), 0)
    with pytest.raises(ValueError, match=r"x must be 4-D, got shape \(1, 4, 4\)"):
        F.adaptive_avg_pool2d(t64(np.ones((1, 4, 4))), 2)
    with pytest.raises(ValueError, match=r"x must be 4-D, got shape \(4, 4\)"):
        F.global_avg_pool2d(t64(np.ones((4, 4))))
    with pytest.raises(TypeError, match="x must be a Tensor"):
        F.global_avg_pool2d(np.ones((1, 1, 2, 2)))
