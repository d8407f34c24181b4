"""conv2d (and im2col / col2im): gradchecks over strides, paddings, dilations and groups; values against a direct
loop convolution; errors that name the argument and the shapes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F

seeds = st.integers(0, 2**32 - 1)


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def conv2d_ref(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Cross-correlation straight from its definition: y[n, o, i, j] = b[o] + sum over the input channels c of o's
    group and kernel offsets (ki, kj) of w[o, c, ki, kj] * x[n, c, i*s - p + ki*d, j*s - p + kj*d], zero outside."""
    n_, c_, h, wd = x.shape
    o_, c_g, kh, kw = w.shape
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n_, o_, ho, wo))
    o_per_group = o_ // groups
    for n in range(n_):
        for o in range(o_):
            g = o // o_per_group
            for i in range(ho):
                for j in range(wo):
                    acc = 0.0 if b is None else b[o]
                    for c in range(c_g):
                        for ki in range(kh):
                            for kj in range(kw):
                                r = i * stride[0] - padding[0] + ki * dilation[0]
                                s = j * stride[1] - padding[1] + kj * dilation[1]
                                if 0 <= r < h and 0 <= s < wd:
                                    acc += w[o, c, ki, kj] * x[n, g * c_g + c, r, s]
                    out[n, o, i, j] = acc
    return out


@st.composite
def conv_cases(draw, row_windows=False):
    """Geometries of every kind; with ``row_windows`` only those the row windows serve (no groups, a kernel
    taller than its stride, no height dilation)."""
    groups = 1 if row_windows else draw(st.sampled_from([1, 1, 2, 3]))
    c_g = draw(st.integers(1, 3 // groups))
    o_g = draw(st.integers(1, 2))
    k = (draw(st.integers(1 + row_windows, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, k[0] - 1 if row_windows else 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (1 if row_windows else draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = tuple(draw(st.integers(max(1, d * (kk - 1) + 1 - 2 * p), 7)) for kk, p, d in zip(k, padding, dilation))
    n = draw(st.integers(1, 2))
    return dict(x_shape=(n, groups * c_g) + size, w_shape=(groups * o_g, c_g) + k, stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=draw(st.booleans()), seed=draw(seeds))


def _as_arg(pair):
    return pair[0] if pair[0] == pair[1] else pair  # an int where both sides agree: both forms get exercised


@given(case=conv_cases())
def test_conv2d_matches_direct_convolution_and_gradcheck(case):
    rng = np.random.default_rng(case["seed"])
    x_np, w_np = rng.standard_normal(case["x_shape"]), rng.standard_normal(case["w_shape"])
    b_np = rng.standard_normal(case["w_shape"][0]) if case["bias"] else None
    geometry = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    args = dict(stride=_as_arg(case["stride"]), padding=_as_arg(case["padding"]),
                dilation=_as_arg(case["dilation"]), groups=case["groups"])
    inputs = [t64(x_np), t64(w_np)] + ([t64(b_np)] if case["bias"] else [])
    y = F.conv2d(*inputs, **args)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), conv2d_ref(x_np, w_np, b_np, **geometry), rtol=1e-10, atol=1e-12)
    assert tc.gradcheck(lambda *ts: F.conv2d(*ts, **args), inputs)


@pytest.mark.parametrize("kernel, groups", [(3, 1), (1, 1), (3, 2)])  # the bias folded into the GEMM, or not
@pytest.mark.parametrize("wanted", [(True, True, True), (False, True, True), (False, False, True),
                                    (False, True, False), (True, False, False)])
def test_conv2d_gradients_of_any_subset_of_inputs(kernel, groups, wanted):
    # A 3x3 conv computes the bias gradient as one more column of the weight gradient's GEMM (a row of ones under
    # the columns) when it needs both; alone, or for 1x1 kernels and groups, as the sum of the output gradient.
    # Whichever inputs need a gradient, each must get the one it gets when all three do.
    rng = np.random.default_rng(kernel + groups)
    arrays = [rng.standard_normal(shape) for shape in [(2, 4, 5, 5), (6, 4 // groups, kernel, kernel), (6,)]]
    g = rng.standard_normal((2, 6, 5, 5))

    def grads(flags):
        ts = [tc.Tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]
        F.conv2d(*ts, padding=kernel // 2, groups=groups).backward(g)
        return [t.grad for t in ts]

    full = grads((True, True, True))
    np.testing.assert_allclose(full[2], g.sum(axis=(0, 2, 3)), rtol=1e-12)  # db: the sum of the output gradient
    for flag, got, expected in zip(wanted, grads(wanted), full):
        if flag:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        else:
            assert got is None


@pytest.mark.parametrize("stride", [1, 2])
def test_im2col_of_a_1x1_kernel_is_a_copy_the_caller_owns(stride):
    # inside the fast conv kernel a 1x1 kernel's columns are a view of the input or of its one stride phase
    x = np.ascontiguousarray(np.arange(48.0).reshape(3, 2, 2, 4).transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    cols = F.im2col(x, (1, 1), stride=(stride, stride))
    np.testing.assert_array_equal(cols, x[:, :, ::stride, ::stride].transpose(1, 2, 3, 0).reshape(2, -1))
    cols[...] = 0
    assert x.sum() == np.arange(48.0).sum()


def test_conv2d_hand_values():
    # x = 1..16 as 4x4, a 2x2 kernel picking the top-left and bottom-right: y = x[i, j] + x[i+1, j+1]
    x = t64(np.arange(1.0, 17.0).reshape(1, 1, 4, 4))
    w = t64([[[[1.0, 0.0], [0.0, 1.0]]]])
    b = t64([0.5])
    y = F.conv2d(x, w, b, stride=2)
    np.testing.assert_array_equal(y.numpy(), [[[[1 + 6 + 0.5, 3 + 8 + 0.5], [9 + 14 + 0.5, 11 + 16 + 0.5]]]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]])
    np.testing.assert_array_equal(w.grad.numpy(), [[[[1 + 3 + 9 + 11, 2 + 4 + 10 + 12],
                                                     [5 + 7 + 13 + 15, 6 + 8 + 14 + 16]]]])
    np.testing.assert_array_equal(b.grad.numpy(), [4.0])


def test_conv2d_groups_keep_channels_apart():
    # groups=2 with one channel per group: output channel k sees only input channel k
    x = t64(np.stack([np.ones((3, 3)), 10 * np.ones((3, 3))])[None])
    w = t64(np.ones((2, 1, 3, 3)))
    np.testing.assert_array_equal(F.conv2d(x, w, groups=2).numpy().reshape(2), [9.0, 90.0])


def test_conv2d_float32_stays_float32():
    y = F.conv2d(tc.tensor(np.ones((1, 2, 5, 5), dtype=np.float32)), tc.tensor(np.ones((3, 2, 3, 3), np.float32)),
                 tc.tensor(np.zeros(3, np.float32)), padding=1)
    assert y.dtype == np.float32 and y.shape == (1, 3, 5, 5)
    assert y.numpy()[0, 0, 2, 2] == 18.0 and y.numpy()[0, 0, 0, 0] == 8.0


def test_conv_output_size_hand_values():
    assert F.conv_output_size(32, 5) == 28  # LeNet-5 C1
    assert F.conv_output_size(224, 11, stride=4, padding=2) == 55  # AlexNet conv1
    assert F.conv_output_size(7, 3, stride=2, padding=1) == 4
    assert F.conv_output_size(7, 3, dilation=2) == 3


# --- im2col / col2im -----------------------------------------------------------------------------------------

@given(case=conv_cases())
def test_im2col_layout_and_col2im_is_its_adjoint(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"])
    k, s, p, d = case["w_shape"][2:], case["stride"], case["padding"], case["dilation"]
    cols = F.im2col(x, k, s, p, d)
    n_, c_, h, w = x.shape
    ho = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    wo = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    assert cols.shape == (c_ * k[0] * k[1], n_ * ho * wo)
    # rows ordered (c, ki, kj), columns (i, j, n), as documented; zero where the window meets padding
    expected = np.zeros_like(cols)
    for c in range(c_):
        for ki in range(k[0]):
            for kj in range(k[1]):
                for n in range(n_):
                    for i in range(ho):
                        for j in range(wo):
                            r, q = i * s[0] - p[0] + ki * d[0], j * s[1] - p[1] + kj * d[1]
                            if 0 <= r < h and 0 <= q < w:
                                expected[(c * k[0] + ki) * k[1] + kj, (i * wo + j) * n_ + n] = x[n, c, r, q]
    np.testing.assert_array_equal(cols, expected)
    # <im2col(x), v> == <x, col2im(v)>: col2im adds overlapping windows (the transpose of im2col)
    v = rng.standard_normal(cols.shape)
    back = F.col2im(v, x.shape, k, s, p, d)
    assert back.shape == x.shape
    np.testing.assert_allclose((cols * v).sum(), (x * back).sum(), rtol=1e-10)


# --- padding='same' / 'valid' (PyTorch's strings) ---------------------------------------------------------------

@given(k_h=st.integers(1, 4), k_w=st.integers(1, 4), d_h=st.integers(1, 2), d_w=st.integers(1, 2),
       h=st.integers(1, 6), w=st.integers(1, 6), n=st.integers(1, 2), groups=st.sampled_from([1, 2]),
       bias=st.booleans(), seed=seeds)
def test_conv2d_padding_same_keeps_the_size_and_puts_the_odd_pixel_after(k_h, k_w, d_h, d_w, h, w, n, groups, bias,
                                                                          seed):
    # 'same' pads dilation (k - 1) pixels per axis, half before and the odd one after (bottom / right), as
    # torch.nn.functional.conv2d: the reference is the direct convolution of the input padded that way by hand
    rng = np.random.default_rng(seed)
    x_np, w_np = rng.standard_normal((n, 2 * groups, h, w)), rng.standard_normal((groups, 2, k_h, k_w))
    b_np = rng.standard_normal(groups) if bias else None
    t_h, t_w = d_h * (k_h - 1), d_w * (k_w - 1)
    x_pad = np.pad(x_np, ((0, 0), (0, 0), (t_h // 2, t_h - t_h // 2), (t_w // 2, t_w - t_w // 2)))
    expected = conv2d_ref(x_pad, w_np, b_np, dilation=(d_h, d_w), groups=groups)
    inputs = [t64(x_np), t64(w_np)] + ([t64(b_np)] if bias else [])
    args = dict(padding="same", dilation=(d_h, d_w), groups=groups)
    y = F.conv2d(*inputs, **args)
    assert y.shape == (n, groups, h, w)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert tc.gradcheck(lambda *ts: F.conv2d(*ts, **args), inputs)


def test_conv2d_padding_valid_is_no_padding():
    rng = np.random.default_rng(0)
    x, w = t64(rng.standard_normal((2, 3, 6, 5))), t64(rng.standard_normal((4, 3, 3, 2)))
    np.testing.assert_array_equal(F.conv2d(x, w, padding="valid").numpy(), F.conv2d(x, w, padding=0).numpy())
    np.testing.assert_array_equal(F.conv2d(x, w, stride=2, padding="valid").numpy(),
                                  F.conv2d(x, w, stride=2).numpy())


@pytest.mark.peer
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # torch's note on its own copy
@pytest.mark.parametrize("kernel, dilation", [((2, 4), (1, 1)), ((3, 2), (2, 1)), ((1, 5), (1, 3)), ((4, 4), (2, 2))])
def test_conv2d_padding_same_against_torch(kernel, dilation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(sum(kernel))
    x_np, w_np, b_np = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3) + kernel), rng.standard_normal(4)
    ours = [t64(a) for a in (x_np, w_np, b_np)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np)]
    y = F.conv2d(*ours, padding="same", dilation=dilation)
    y_t = torch.nn.functional.conv2d(*theirs, padding="same", dilation=dilation)
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    y_t.backward(torch.tensor(g))
    for mine, peer in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), peer.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv2d_padding_string_errors():
    x, w = t64(np.ones((1, 2, 5, 5))), t64(np.ones((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided .*stride=\(2, 1\)"):
        F.conv2d(x, w, stride=(2, 1), padding="same")
    for bad in ("SAME", "full", ""):
        with pytest.raises(ValueError, match=f"padding must be an int, a pair of ints, 'valid' or 'same', got '{bad}'"):
            F.conv2d(x, w, padding=bad)


# --- errors --------------------------------------------------------------------------------------------------

def test_conv2d_channel_mismatch_names_x_and_shapes():
    x = t64(np.ones((1, 3, 5, 5)))
    w = t64(np.ones((2, 1, 3, 3)))
    with pytest.raises(ValueError) as info:
        F.conv2d(x, w)
    msg = str(info.value)
    assert "x must have 1 channels" in msg and "(1, 3, 5, 5)" in msg and "(2, 1, 3, 3)" in msg


def test_conv2d_errors():
    x, w = t64(np.ones((1, 2, 5, 5))), t64(np.ones((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"x must be 4-D, got shape \(2, 5, 5\)"):
        F.conv2d(t64(np.ones((2, 5, 5))), w)
    with pytest.raises(ValueError, match=r"weight must be 4-D, got shape \(4, 2, 3\)"):
        F.conv2d(x, t64(np.ones((4, 2, 3))))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
        F.conv2d(x, w, t64(np.ones(3)))
    with pytest.raises(ValueError, match=r"out_channels \(4\) must be divisible by groups \(3\)"):
        F.conv2d(t64(np.ones((1, 3, 5, 5))), t64(np.ones((4, 1, 3, 3))), groups=3)
    with pytest.raises(ValueError, match="x must have 4 channels.*groups=2"):
        F.conv2d(x, w, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive int, got 0"):
        F.conv2d(x, w, groups=0)
    with pytest.raises(ValueError, match=r"stride must be >= 1, got \(0, 0\)"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(TypeError, match="stride must be an int or a pair of ints, got 1.5"):
        F.conv2d(x, w, stride=1.5)
    with pytest.raises(ValueError, match=r"padding must be >= 0, got \(-1, 0\)"):
        F.conv2d(x, w, padding=(-1, 0))
    with pytest.raises(ValueError, match=r"dilation must be >= 1"):
        F.conv2d(x, w, dilation=0)
    with pytest.raises(ValueError, match=r"kernel \(3, 3\).*larger than the padded input \(2, 2\)"):
        F.conv2d(t64(np.ones((1, 2, 2, 2))), w)
    with pytest.raises(ValueError, match=r"kernel \(3, 3\) \(dilation \(3, 3\)\).*larger"):
        F.conv2d(x, w, dilation=3)
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        F.conv2d(tc.tensor(np.ones((1, 2, 5, 5), dtype=np.int64)), w)
    with pytest.raises(TypeError, match="weight must be a Tensor"):
        F.conv2d(x, np.ones((4, 2, 3, 3)))
