"""The fast conv2d kernel (tinycnn/kernels/conv.py, columns.py): equal to the reference Conv2d in float64, values
and gradients, over hypothesis-drawn geometries and on each of its paths (row windows, bands of one output row, the
GEMM rows padded to OpenBLAS's block, the folded bias, threads); its internals (bands within their budget, stride
phases, the scratch buffer shared by stacked layers, the (C, H, W, N) output layout)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.kernels.columns as columns
import tinycnn.kernels.conv as conv_module
from tinycnn import backend

from ..functional.test_conv import conv2d_ref, conv_cases, t64
from ..functional.test_saved_for_backward import extra_bytes, saved_arrays

PATHS = ["default", "row windows", "one-row bands", "threads"]


def run_tier(reference, arrays, wanted, g, geometry):
    """Output and the gradients of the inputs flagged in ``wanted`` (x, weight[, bias]) in one tier."""
    ts = [tc.Tensor(a.copy(), requires_grad=f) for a, f in zip(arrays, wanted)]
    with tc.use_reference_ops(reference):
        y = F.conv2d(*ts, **geometry)
    assert type(y._ctx).__name__ == ("Conv2d" if reference else "FastConv2d")
    y.backward(g)
    return [y.numpy()] + [None if t.grad is None else t.grad.numpy() for t in ts]


@given(case=conv_cases(), path=st.sampled_from(PATHS), wanted=st.tuples(st.booleans(), st.booleans(), st.booleans()),
       chwn=st.booleans())
def test_fast_conv_equals_the_reference(case, path, wanted, chwn):
    # The reference is the specification: every path of the fast kernel, for any subset of inputs needing a
    # gradient (a first layer skips dx; the bias gradient rides in the weight gradient's GEMM only when both are
    # needed), and for an input in NCHW or in the (C, H, W, N) memory a conv output has, gives its values and
    # gradients to float64 rounding.
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"])
    if chwn:
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    arrays = [x, rng.standard_normal(case["w_shape"])] + ([rng.standard_normal(case["w_shape"][0])] if case["bias"]
                                                         else [])
    wanted = wanted[:len(arrays)] if any(wanted[:len(arrays)]) else (True,) * len(arrays)
    geometry = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    with pytest.MonkeyPatch.context() as mp:
        if path == "row windows":  # wherever they apply (a kernel taller than its stride, no groups...)
            mp.setattr(conv_module, "ROW_WINDOW_MIN_COLUMNS", 1)
        elif path == "one-row bands":
            mp.setattr(conv_module, "COLS_BUDGET", 1)
        elif path == "threads":  # every copy split across 3 threads
            mp.setattr(backend, "PARALLEL_MIN_BYTES", 1)
            mp.setattr(backend, "_num_threads", 3)
        y_ref = F.conv2d(*[tc.Tensor(a) for a in arrays], **geometry).numpy()
        g = rng.standard_normal(y_ref.shape)
        fast = run_tier(False, arrays, wanted, g, geometry)
    backend._drop_pool()  # the next parallel_for makes a pool of the default size again
    ref = run_tier(True, arrays, wanted, g, geometry)
    for name, a, b in zip(["output", "dx", "dw", "db"], fast, ref):
        if b is None:
            assert a is None, name
        else:
            assert a.dtype == np.float64
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(b).max()), err_msg=name)


@st.composite
def transposed_cases(draw):
    """Stride-1 geometries whose input gradient is the convolution of the output gradient with the flipped kernel
    (``conv._transposed_input_grad``: padding from half the kernel's reach to all of it), groups and dilation
    included."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_g, o_g = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(-(-d * (kk - 1) // 2), d * (kk - 1))) for kk, d in zip(k, dilation))
    size = tuple(draw(st.integers(max(1, d * (kk - 1) + 1 - 2 * p), 6)) for kk, p, d in zip(k, padding, dilation))
    return dict(x_shape=(draw(st.integers(1, 3)), groups * c_g) + size, w_shape=(groups * o_g, c_g) + k,
                stride=(1, 1), padding=padding, dilation=dilation, groups=groups, bias=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)))


@given(case=transposed_cases(), path=st.sampled_from(["transposed", "col2im", "row windows"]), chwn=st.booleans())
def test_input_gradient_as_a_transposed_convolution_equals_the_reference(case, path, chwn):
    # the input gradient as the forward convolution of the output gradient with the kernel flipped and its channels
    # swapped per group (on bands, or on row windows), and by GEMM and col2im: each the reference's dx
    assert conv_module._transposed_input_grad(case["w_shape"][2:], (1, 1), case["padding"], case["dilation"])
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"])
    if chwn:
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    arrays = [x, rng.standard_normal(case["w_shape"])]
    geometry = dict(stride=(1, 1), padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    y_shape = F.conv2d(*[tc.Tensor(a) for a in arrays], **geometry).shape
    g = rng.standard_normal(y_shape)
    with pytest.MonkeyPatch.context() as mp:
        if path == "col2im":
            mp.setattr(conv_module, "_transposed_input_grad", lambda *args: False)
        elif path == "row windows":
            mp.setattr(conv_module, "ROW_WINDOW_MIN_COLUMNS", 1)
        fast = run_tier(False, arrays, (True, False), g, geometry)
    ref = run_tier(True, arrays, (True, False), g, geometry)
    np.testing.assert_allclose(fast[1], ref[1], rtol=1e-10, atol=1e-12 * max(1.0, np.abs(ref[1]).max()))


@pytest.mark.parametrize("kernel, stride, padding, transposed", [
    (3, 1, 1, True),    # ResNet's and VGG's 3x3 'same' layers
    (5, 1, 2, True),    # AlexNet's conv2
    (1, 1, 0, True),    # a 1x1 projection: dx = W^T g, no col2im
    (5, 1, 0, False),   # LeNet's conv2, 'valid': the flipped kernel would multiply twice as many zeros
    (3, 2, 1, False),   # strided: the transposed convolution would need a dilated gradient
    (3, 1, 3, False),   # padding beyond the kernel's reach
])
def test_which_layers_take_the_transposed_input_gradient(kernel, stride, padding, transposed, monkeypatch):
    calls = []
    real = conv_module.conv_forward
    monkeypatch.setattr(conv_module, "conv_forward", lambda *args: calls.append(args[0].shape) or real(*args))
    x = tc.Tensor(np.ones((2, 3, 8, 8)), requires_grad=True)
    y = F.conv2d(x, tc.Tensor(np.ones((4, 3, kernel, kernel))), stride=stride, padding=padding)
    y.backward(np.ones(y.shape))
    assert calls == [x.shape] + ([y.shape] if transposed else [])
    if transposed:  # dx comes out contiguous (C, H, W, N), without the gaps of col2im's padded buffer
        assert x.grad.data.transpose(1, 2, 3, 0).flags.c_contiguous


@pytest.mark.parametrize("out_channels", [5, 6, 7, 13])  # padded to 8 / 16 rows in the fast kernel's GEMM
def test_fast_conv_equals_the_reference_in_float32(out_channels):
    # float32, the training dtype: the same values within float32 rounding, and float32 out
    rng = np.random.default_rng(out_channels)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(4, 3, 9, 8), (out_channels, 3, 3, 3),
                                                                       (out_channels,)])
    g = rng.standard_normal((4, out_channels, 9, 8)).astype(np.float32)
    fast, ref = (run_tier(r, [x, w, b], (True, True, True), g, dict(padding=1)) for r in (False, True))
    for a, b in zip(fast, ref):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


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
    # The row windows (row_windows: the forward and the weight gradient) serve rows of W_out * N >=
    # ROW_WINDOW_MIN_COLUMNS, which cases this small never reach: with the threshold at 1 they take them, on one
    # band or, with a 1-byte budget, on one band per output row, whose U rows overlap the next band's.
    rng = np.random.default_rng(case["seed"])
    x_np, w_np = rng.standard_normal(case["x_shape"]), rng.standard_normal(case["w_shape"])
    b_np = rng.standard_normal(case["w_shape"][0]) if case["bias"] else None
    geometry = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    inputs = [t64(x_np), t64(w_np)] + ([t64(b_np)] if case["bias"] else [])
    saved = conv_module.ROW_WINDOW_MIN_COLUMNS, conv_module.COLS_BUDGET, conv_module.row_windows
    calls = []
    conv_module.ROW_WINDOW_MIN_COLUMNS = 1
    conv_module.row_windows = lambda *args: calls.append(1) or saved[2](*args)  # a spy: the path was taken
    if one_row_bands:
        conv_module.COLS_BUDGET = 1
    try:
        np.testing.assert_allclose(F.conv2d(*inputs, **geometry).numpy(), conv2d_ref(x_np, w_np, b_np, **geometry),
                                   rtol=1e-10, atol=1e-12)
        assert calls == [1]
        assert tc.gradcheck(lambda *ts: F.conv2d(*ts, **geometry), inputs, mode="fast")
    finally:
        conv_module.ROW_WINDOW_MIN_COLUMNS, conv_module.COLS_BUDGET, conv_module.row_windows = saved


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
    real = columns.width_cols

    def spy(*args):
        u = real(*args)
        u_rows.append(u.shape[0])
        return u

    monkeypatch.setattr(columns, "width_cols", spy)
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
    # same output and gradients to float32 rounding. (Only the calls on x count: an input gradient computed as the
    # convolution of the output gradient (``_transposed_input_grad``) takes the windows of its own geometry.)
    rng = np.random.default_rng(x_shape[0])
    x_np = rng.standard_normal(x_shape, dtype=np.float32)
    w_np = rng.standard_normal(w_shape, dtype=np.float32) * 0.2
    b_np = rng.standard_normal(w_shape[0], dtype=np.float32)
    calls = []
    real = conv_module.row_windows
    monkeypatch.setattr(conv_module, "row_windows",
                        lambda *args: calls.append(args[0].shape == x_shape) or real(*args))

    def run():
        x, w, b = (tc.Tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
        y = F.conv2d(x, w, b, **params)
        y.backward(np.cos(np.arange(y.data.size, dtype=np.float32)).reshape(y.shape))
        return y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()

    first = run()
    assert sum(calls) == 2 * (path == "windows")  # forward and weight gradient
    monkeypatch.setattr(conv_module, "ROW_WINDOW_MIN_COLUMNS", 10**9 if path == "windows" else 1)
    other = run()
    assert sum(calls) == 2 * (path != "never")  # "narrow rows" now took the windows, "windows" the bands
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



@given(case=conv_cases())
def test_padded_phases_are_the_strided_slices_of_the_padded_input(case):
    # padded_phases cuts each stride phase straight from the NCHW input, working out where the padding falls in
    # it: each must be the phase of the plainly padded (C, H, W, N) input, and exactly the phases the kernel meets
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"])
    k, s, p, d = case["w_shape"][2:], case["stride"], case["padding"], case["dilation"]
    xpad = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))).transpose(1, 2, 3, 0)
    phases = columns.padded_phases(x, p, k, s, d)
    assert set(phases) == {(i * d[0] % s[0], j * d[1] % s[1]) for i in range(k[0]) for j in range(k[1])}
    for (a, b), phase in phases.items():
        np.testing.assert_array_equal(phase, xpad[:, a::s[0], b::s[1]])
        assert phase.flags.c_contiguous


def test_conv2d_keeps_nothing_when_the_weight_needs_no_gradient():
    # a first layer: the fast kernel keeps its input only for the weight gradient (the reference keeps it always)
    x = tc.Tensor(np.ones((2, 3, 6, 6), np.float32), requires_grad=True)
    w = tc.Tensor(np.ones((4, 3, 3, 3), np.float32))
    y = F.conv2d(x, w, padding=1)
    assert extra_bytes(y, w.data) == 0 and not any(np.shares_memory(a, x.data) for a in saved_arrays(y))
