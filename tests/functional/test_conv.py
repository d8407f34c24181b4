"""conv2d (and im2col / col2im): gradchecks over strides, paddings, dilations and groups; values against a direct
loop convolution; errors that name the argument and the shapes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.functional.conv as conv_module

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


@given(case=conv_cases())
def test_conv2d_gradcheck_when_columns_are_rebuilt(case):
    # With a column budget of 1 byte every output row is its own band: forward and backward go band by band and
    # the weight gradient rebuilds each band's columns from the saved input instead of keeping them.
    rng = np.random.default_rng(case["seed"])
    x = t64(rng.standard_normal(case["x_shape"]), requires_grad=False)
    w = t64(rng.standard_normal(case["w_shape"]))
    geometry = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    saved = conv_module.COLS_BUDGET
    conv_module.COLS_BUDGET = 1
    try:  # each band's GEMM writes into its rows of the output: the values must be the one-band values
        np.testing.assert_allclose(F.conv2d(x, w, **geometry).numpy(), conv2d_ref(x.numpy(), w.numpy(), **geometry),
                                   rtol=1e-10, atol=1e-12)
        assert tc.gradcheck(lambda a, b: F.conv2d(a, b, **geometry), [x, w], mode="fast")
        assert tc.gradcheck(lambda a, b: F.conv2d(a, b, **geometry), [x, w])
    finally:
        conv_module.COLS_BUDGET = saved


@given(case=conv_cases(row_windows=True), one_row_bands=st.booleans())
def test_row_windows_match_direct_convolution_and_gradcheck(case, one_row_bands):
    # The row windows (_row_windows: the forward and the weight gradient) serve rows of W_out * N >=
    # ROW_WINDOW_MIN_COLUMNS, which cases this small never reach: with the threshold at 1 they take them, on one
    # band or, with a 1-byte budget, on one band per output row, whose U rows overlap the next band's.
    rng = np.random.default_rng(case["seed"])
    x_np, w_np = rng.standard_normal(case["x_shape"]), rng.standard_normal(case["w_shape"])
    b_np = rng.standard_normal(case["w_shape"][0]) if case["bias"] else None
    geometry = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    inputs = [t64(x_np), t64(w_np)] + ([t64(b_np)] if case["bias"] else [])
    saved = conv_module.ROW_WINDOW_MIN_COLUMNS, conv_module.COLS_BUDGET, conv_module._row_windows
    calls = []
    conv_module.ROW_WINDOW_MIN_COLUMNS = 1
    conv_module._row_windows = lambda *args: calls.append(1) or saved[2](*args)  # a spy: the path was taken
    if one_row_bands:
        conv_module.COLS_BUDGET = 1
    try:
        np.testing.assert_allclose(F.conv2d(*inputs, **geometry).numpy(), conv2d_ref(x_np, w_np, b_np, **geometry),
                                   rtol=1e-10, atol=1e-12)
        assert calls == [1]
        assert tc.gradcheck(lambda *ts: F.conv2d(*ts, **geometry), inputs, mode="fast")
    finally:
        conv_module.ROW_WINDOW_MIN_COLUMNS, conv_module.COLS_BUDGET, conv_module._row_windows = saved


@pytest.mark.parametrize("stride", [1, 2])
def test_row_window_bands_fill_the_budget_and_never_exceed_it(stride, monkeypatch):
    # A band of b output rows copies (b - 1) * stride + kH rows of the unfolded input U: every band must hold as
    # many output rows as fit the budget and no more (the last takes what is left), and together they cover H_out.
    rng = np.random.default_rng(stride)
    x, w = tc.Tensor(rng.standard_normal((2, 3, 23, 130))), tc.Tensor(rng.standard_normal((4, 3, 3, 3)))
    u_row = 3 * 3 * ((130 - 3) // stride + 1) * 2 * 8  # bytes of one row of U: C * kW * W_out * N float64s
    budget = 10 * u_row + 1  # ten rows of U; a layer with up to STREAM_MAX_CHANNELS outputs gets a quarter of
    monkeypatch.setattr(conv_module, "COLS_BUDGET", 4 * budget)  # COLS_BUDGET
    monkeypatch.setattr(conv_module, "ROW_WINDOW_MIN_COLUMNS", 1)
    u_rows = []
    real = conv_module._width_cols

    def spy(*args):
        u = real(*args)
        u_rows.append(u.shape[0])
        return u

    monkeypatch.setattr(conv_module, "_width_cols", spy)
    h_out = F.conv2d(x, w, stride=stride).shape[2]
    assert max(u_rows) * u_row <= budget
    assert sum((r - 3) // stride + 1 for r in u_rows) == h_out  # each band's output rows
    assert all((r + stride) * u_row > budget for r in u_rows[:-1])  # one more output row would not fit


@pytest.mark.parametrize("x_shape, w_shape, params, path", [
    ((128, 1, 28, 28), (6, 1, 5, 5), dict(padding=2), "windows"),  # LeNet's C1
    ((128, 6, 14, 14), (16, 6, 5, 5), {}, "windows"),  # LeNet's C3
    ((16, 3, 227, 227), (8, 3, 11, 11), dict(stride=4), "windows"),  # AlexNet's conv1: 55 x 16 columns a row
    ((2, 3, 227, 227), (8, 3, 11, 11), dict(stride=4), "narrow rows"),  # 55 x 2 columns: one GEMM per band wins
    ((128, 2, 9, 9), (4, 2, 3, 3), dict(dilation=2), "never"),  # a row's columns are not one block of U
    ((128, 4, 6, 6), (8, 4, 1, 1), {}, "never"),  # the input is the columns
    ((128, 4, 8, 8), (8, 4, 2, 2), dict(stride=2), "never"),  # windows that share no row: U as large as im2col's
])
def test_row_windows_for_wide_rows_agree_with_bands(x_shape, w_shape, params, path, monkeypatch):
    # Real layer sizes in float32: the forward and the weight gradient take the row windows exactly where they
    # should (a spy counts the calls), and forcing the other path (the threshold at infinity, or at 1) gives the
    # same output and gradients to float32 rounding.
    rng = np.random.default_rng(x_shape[0])
    x_np = rng.standard_normal(x_shape, dtype=np.float32)
    w_np = rng.standard_normal(w_shape, dtype=np.float32) * 0.2
    b_np = rng.standard_normal(w_shape[0], dtype=np.float32)
    calls = []
    real = conv_module._row_windows
    monkeypatch.setattr(conv_module, "_row_windows", lambda *args: calls.append(1) or real(*args))

    def run():
        x, w, b = (tc.Tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
        y = F.conv2d(x, w, b, **params)
        y.backward(np.cos(np.arange(y.data.size, dtype=np.float32)).reshape(y.shape))
        return y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()

    first = run()
    assert len(calls) == 2 * (path == "windows")  # forward and weight gradient
    monkeypatch.setattr(conv_module, "ROW_WINDOW_MIN_COLUMNS", 10**9 if path == "windows" else 1)
    other = run()
    assert len(calls) == 2 * (path != "never")  # "narrow rows" now took the windows, "windows" the bands
    for a, b in zip(first, other):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3 * np.abs(b).max())


@pytest.mark.parametrize("budget", [None, 1])
def test_stacked_convolutions_sharing_the_scratch_columns_gradcheck(budget, monkeypatch):
    # every conv builds its columns in the same reused buffer: a later layer's forward, and each layer's
    # backward, must not see another layer's columns
    if budget is not None:
        monkeypatch.setattr(conv_module, "COLS_BUDGET", budget)
    rng = np.random.default_rng(5)
    x = t64(rng.standard_normal((2, 2, 6, 6)))
    weights = [t64(rng.standard_normal(shape)) for shape in [(3, 2, 3, 3), (3, 3, 1, 1), (2, 3, 3, 3)]]

    def net(x, w1, w2, w3):
        h = F.conv2d(x, w1, padding=1)
        h = F.conv2d(h, w2, stride=1)
        return F.conv2d(h, w3, stride=2, padding=1)

    assert tc.gradcheck(net, [x] + weights)


@pytest.mark.parametrize("out_channels", [1, 6, 8, 9, 13, 16, 17])  # 6 and 13 are padded
@pytest.mark.parametrize("budget", [None, 4 * 3024])  # one band; 1-row bands up to 16 channels, 4-row bands above
def test_conv2d_any_out_channels_on_any_bands(out_channels, budget, monkeypatch):
    # The forward pads the GEMM's weight with zero rows up to a multiple of GEMM_ROW_BLOCK when 5-7 rows are left
    # over and returns the first out_channels, and layers with up to STREAM_MAX_CHANNELS outputs take bands a
    # quarter of COLS_BUDGET (one row of columns here is 3 * 3 * 3 * 7 * 2 * 8 = 3024 bytes): every count, padded or
    # not, on either band size, must give the reference values and gradients, with the bias added once, and an
    # output that the next layer reads as (C, H, W, N) without a copy.
    if budget is not None:
        monkeypatch.setattr(conv_module, "COLS_BUDGET", budget)
    rng = np.random.default_rng(out_channels)
    x, w, b = (t64(rng.standard_normal(shape)) for shape in [(2, 3, 7, 7), (out_channels, 3, 3, 3), (out_channels,)])
    y = F.conv2d(x, w, b, padding=1)
    assert y.shape == (2, out_channels, 7, 7)
    np.testing.assert_allclose(y.numpy(), conv2d_ref(x.numpy(), w.numpy(), b.numpy(), padding=(1, 1)),
                               rtol=1e-10, atol=1e-12)
    assert y.data.transpose(1, 2, 3, 0).flags.c_contiguous
    assert tc.gradcheck(lambda *ts: F.conv2d(*ts, padding=1), [x, w, b])


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
    # inside conv2d a 1x1 kernel's columns are a view of the input (stride 1) or of its one stride phase
    x = np.ascontiguousarray(np.arange(48.0).reshape(3, 2, 2, 4).transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    cols = conv_module.im2col(x, (1, 1), stride=(stride, stride))
    np.testing.assert_array_equal(cols, x[:, :, ::stride, ::stride].transpose(1, 2, 3, 0).reshape(2, -1))
    cols[...] = 0
    assert x.sum() == np.arange(48.0).sum()


@given(case=conv_cases())
def test_padded_phases_are_the_strided_slices_of_the_padded_input(case):
    # _padded_phases cuts each stride phase straight from the NCHW input, working out where the padding falls in
    # it: each must be the phase of the plainly padded (C, H, W, N) input, and exactly the phases the kernel meets
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"])
    k, s, p, d = case["w_shape"][2:], case["stride"], case["padding"], case["dilation"]
    xpad = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))).transpose(1, 2, 3, 0)
    phases = conv_module._padded_phases(x, p, k, s, d)
    assert set(phases) == {(i * d[0] % s[0], j * d[1] % s[1]) for i in range(k[0]) for j in range(k[1])}
    for (a, b), phase in phases.items():
        np.testing.assert_array_equal(phase, xpad[:, a::s[0], b::s[1]])
        assert phase.flags.c_contiguous


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
