"""The fast batch norm kernel (tinycnn/kernels/normalization.py) equals the reference BatchNorm in float64: outputs,
running statistics and the gradients of x, weight and bias, over hypothesis-drawn shapes (2-D and 4-D), values far
from zero mean and unit variance, training and evaluation, with and without weight and bias, inputs and gradients in
every memory order (NCHW, the (C, H, W, N) of conv outputs, others), blocks of one channel or many, and threads."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.kernels.normalization as bn_kernel
from tinycnn import backend

LAYOUTS = ["nchw", "chwn", "nhwc", "strided"]


def laid_out(a, layout):
    """``a``'s values in the memory order ``layout`` (4-D; a 2-D array stays as it is, or is transposed)."""
    if a.ndim == 2:
        return np.asfortranarray(a) if layout in ("chwn", "nhwc") else a
    if layout == "chwn":
        return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    if layout == "nhwc":
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if layout == "strided":  # a view with gaps, as conv's input gradient (the interior of a padded array)
        big = np.zeros(a.shape[:2] + (a.shape[2] + 2, a.shape[3] + 2))
        big[:, :, 1:-1, 1:-1] = a
        return big[:, :, 1:-1, 1:-1]
    return a


@st.composite
def bn_cases(draw):
    four_d = draw(st.booleans())
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    shape = (n, c, draw(st.integers(1, 5)), draw(st.integers(1, 5))) if four_d else (n, c)
    training = draw(st.booleans())
    if training and n * int(np.prod(shape[2:])) < 2:
        shape = (n + 1,) + shape[1:]
    return dict(shape=shape, training=training, affine=draw(st.sampled_from(["none", "weight", "weight and bias"])),
                x_layout=draw(st.sampled_from(LAYOUTS)), g_layout=draw(st.sampled_from(LAYOUTS)),
                wanted=draw(st.tuples(st.booleans(), st.booleans(), st.booleans())),
                momentum=draw(st.sampled_from([0.1, 0.5, 1.0])), seed=draw(st.integers(0, 2**32 - 1)))


def run_tier(reference, case, x, w, b, g):
    """Output, running mean and variance, and the gradients of x, weight and bias (None where not wanted)."""
    wanted = [case["wanted"][0], case["wanted"][1] and w is not None, case["wanted"][2] and b is not None]
    wanted[0] = wanted[0] or not any(wanted)  # something needs a gradient: a graph is recorded
    xt = tc.Tensor(x.copy(order="K"), requires_grad=wanted[0])
    wt = None if w is None else tc.Tensor(w.copy(), requires_grad=wanted[1])
    bt = None if b is None else tc.Tensor(b.copy(), requires_grad=wanted[2])
    c = x.shape[1]
    rm, rv = np.linspace(-1.0, 2.0, c, dtype=x.dtype), np.linspace(0.5, 3.0, c, dtype=x.dtype)
    with tc.use_reference_ops(reference):
        y = F.batch_norm(xt, rm, rv, wt, bt, training=case["training"], momentum=case["momentum"], eps=1e-5)
    assert type(y._ctx).__name__ == ("BatchNorm" if reference else "FastBatchNorm")
    if y.requires_grad:
        y.backward(g)
    grads = [None if t is None or t.grad is None else t.grad.numpy() for t in (xt, wt, bt)]
    return [y.numpy(), rm, rv] + grads


@given(case=bn_cases(), path=st.sampled_from(["default", "one channel per block", "threads"]))
def test_fast_batch_norm_equals_the_reference(case, path):
    # The reference is the specification: the same outputs, running statistics and gradients to float64 rounding,
    # for any memory order of x and of the incoming gradient (a gradient laid out otherwise than x is copied into
    # x's order), blocks of any size, and blocks split across threads.
    rng = np.random.default_rng(case["seed"])
    shape, c = case["shape"], case["shape"][1]
    # far from zero mean and unit variance, per channel: the centring and the scaling both matter
    x = rng.standard_normal(shape) * rng.uniform(0.1, 10.0, (1, c) + (1,) * (len(shape) - 2)) + rng.uniform(
        -20.0, 20.0, (1, c) + (1,) * (len(shape) - 2))
    x = laid_out(x, case["x_layout"])
    w = rng.standard_normal(c) if case["affine"] != "none" else None
    b = rng.standard_normal(c) if case["affine"] == "weight and bias" else None
    g = laid_out(rng.standard_normal(shape), case["g_layout"])
    with pytest.MonkeyPatch.context() as mp:
        if path == "one channel per block":
            mp.setattr(bn_kernel, "CHUNK_BYTES", 1)
        elif path == "threads":  # the blocks split across 3 threads
            mp.setattr(bn_kernel, "CHUNK_BYTES", 8)
            mp.setattr(backend, "PARALLEL_MIN_BYTES", 1)
            mp.setattr(backend, "_num_threads", 3)
        fast = run_tier(False, case, x, w, b, g)
    backend._drop_pool()
    ref = run_tier(True, case, x, w, b, g)
    for name, a, r in zip(["output", "running_mean", "running_var", "dx", "dweight", "dbias"], fast, ref):
        if r is None:
            assert a is None, name
        else:
            assert a.dtype == np.float64, name
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(r).max()), err_msg=name)


@pytest.mark.parametrize("training", [True, False])
def test_fast_batch_norm_equals_the_reference_in_float32_and_keeps_the_layout(training):
    # float32, the training dtype: the same values within float32 rounding, float32 out; a conv output's (C, H, W, N)
    # memory order is kept for the output and for dx, so that the next ReLU and conv read it in long runs
    rng = np.random.default_rng(1)
    x = laid_out((rng.standard_normal((8, 4, 5, 6)) * 3 + 5).astype(np.float32), "chwn")
    w, b = (rng.standard_normal(4).astype(np.float32) for _ in range(2))
    g = laid_out(rng.standard_normal(x.shape).astype(np.float32), "chwn")
    case = dict(training=training, momentum=0.1, wanted=(True, True, True))
    fast, ref = (run_tier(r, case, x, w, b, g) for r in (False, True))
    for a, r in zip(fast, ref):
        assert a.dtype == r.dtype == np.float32
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-5 * np.abs(r).max())
    for a in (fast[0], fast[3]):
        assert a.transpose(1, 2, 3, 0).flags.c_contiguous


def test_blocks_cover_every_channel_once():
    xv = np.zeros((1, 10, 1000))  # 8,000 bytes per channel
    for budget, expected in [(1, 10), (8000, 10), (16000, 5), (24000, 4), (10**9, 1)]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(bn_kernel, "CHUNK_BYTES", budget)
            chunks = bn_kernel._chunks(xv)
        assert len(chunks) == expected
        assert [c for c0, c1 in chunks for c in range(c0, c1)] == list(range(10))


def test_channel_blocks_are_views_for_the_two_layouts_and_none_otherwise():
    a = np.zeros((2, 3, 4, 5))
    assert bn_kernel.channel_blocks(a).shape == (2, 3, 20) and np.shares_memory(bn_kernel.channel_blocks(a), a)
    c = laid_out(a, "chwn")
    assert bn_kernel.channel_blocks(c).shape == (1, 3, 40) and np.shares_memory(bn_kernel.channel_blocks(c), c)
    assert bn_kernel.channel_blocks(laid_out(a, "nhwc")) is None
    assert bn_kernel.channel_blocks(laid_out(a, "strided")) is None


# ----- the module over several steps: fast tier, reference tier and PyTorch ------------------------------------

MODULE_CASES = [  # (momentum, affine, dtype, layout, N): momentum None is the cumulative average (nn.BatchNorm2d)
    (0.1, True, np.float64, "nchw", 4), (None, True, np.float64, "chwn", 4), (None, False, np.float32, "nchw", 3),
    (0.3, False, np.float64, "strided", 2), (0.1, True, np.float32, "nhwc", 5), (0.1, True, np.float64, "chwn", 1),
    (None, True, np.float64, "strided", 1),
]
MODULE_IDS = [f"momentum={m}-affine={a}-{np.dtype(d).name}-{lay}-N={n}" for m, a, d, lay, n in MODULE_CASES]


def module_steps(make_module, as_input, momentum, affine, dtype, layout, n):
    """Three training steps then one evaluation step of a (n, 3, 4, 5) BatchNorm2d: per step the output and the
    gradients of x, weight and bias; at the end the running statistics and num_batches_tracked. ``as_input`` turns a
    NumPy array into the library's input tensor (requires_grad)."""
    rng = np.random.default_rng(7)
    bn = make_module(momentum, affine, dtype)
    results = []
    for step in range(4):
        x = laid_out(rng.normal(step - 1.0, 1.0 + step, (n, 3, 4, 5)) * np.array([1.0, 5.0, 0.2])[:, None, None]
                     + np.array([10.0, -3.0, 0.0])[:, None, None], layout).astype(dtype, copy=False)
        x = laid_out(x, layout)  # the cast may have changed the memory order back
        r = rng.standard_normal(x.shape).astype(dtype)
        if step == 3:
            bn.eval()
        xt = as_input(x)
        y = bn(xt)
        (y * as_input(r).detach()).sum().backward()
        grads = [xt.grad] + ([bn.weight.grad, bn.bias.grad] if affine else [])
        results.append([np.array(y.detach().numpy())] + [np.array(g.numpy()) for g in grads])
        for p in bn.parameters():
            p.grad = None
    stats = [np.array(bn.running_mean.numpy()), np.array(bn.running_var.numpy()),
             int(bn.num_batches_tracked.numpy())]
    return results, stats


def tinycnn_module(reference):
    def make(momentum, affine, dtype):
        return tc.nn.BatchNorm2d(3, momentum=momentum, affine=affine, dtype=dtype)

    def as_input(a):
        return tc.Tensor(a.copy(order="K"), requires_grad=True)

    def run(*case):
        with tc.use_reference_ops(reference):
            return module_steps(make, as_input, *case)
    return run


def assert_steps_equal(a, b, dtype):
    rtol, atol = (1e-10, 1e-10) if dtype == np.float64 else (1e-4, 1e-4)
    for step_a, step_b in zip(a[0], b[0]):
        assert len(step_a) == len(step_b)
        for u, v in zip(step_a, step_b):
            assert u.dtype == v.dtype == dtype
            np.testing.assert_allclose(u, v, rtol=rtol, atol=atol * max(1.0, np.abs(v).max()))
    for u, v in zip(a[1][:2], b[1][:2]):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=atol)
    assert a[1][2] == b[1][2] == 3


@pytest.mark.parametrize("momentum, affine, dtype, layout, n", MODULE_CASES, ids=MODULE_IDS)
def test_fast_batch_norm_module_equals_the_reference_over_steps(momentum, affine, dtype, layout, n):
    # nn.BatchNorm2d on the fast kernel: training steps (running statistics updated with momentum, or with
    # 1 / num_batches_tracked for momentum=None), then evaluation on those statistics; N = 1; no affine
    # parameters; float32 and float64; inputs in several memory orders, views with gaps among them
    case = (momentum, affine, dtype, layout, n)
    fast, ref = tinycnn_module(False)(*case), tinycnn_module(True)(*case)
    assert_steps_equal(fast, ref, np.dtype(dtype))


@pytest.mark.peer
@pytest.mark.parametrize("momentum, affine, dtype, layout, n", MODULE_CASES, ids=MODULE_IDS)
def test_fast_batch_norm_module_equals_torch_over_steps(momentum, affine, dtype, layout, n):
    torch = pytest.importorskip("torch")

    def make(momentum, affine, dtype):
        return torch.nn.BatchNorm2d(3, momentum=momentum, affine=affine, dtype=torch.from_numpy(np.zeros(0, dtype))
                                    .dtype)

    def as_input(a):
        return torch.tensor(a, requires_grad=True)

    case = (momentum, affine, dtype, layout, n)
    assert_steps_equal(tinycnn_module(False)(*case), module_steps(make, as_input, *case), np.dtype(dtype))


def test_fast_batch_norm_evaluation_on_one_value_per_channel():
    # evaluation needs no batch statistics: N = 1 and a 1x1 image are fine, and equal the reference
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4, 1, 1))
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4)
    ys = []
    for reference in (False, True):
        xt = tc.Tensor(x.copy(), requires_grad=True)
        with tc.use_reference_ops(reference):
            y = F.batch_norm(xt, rm, rv, training=False)
        y.sum().backward()
        ys.append((y.numpy(), xt.grad.numpy()))
    np.testing.assert_allclose(ys[0][0], (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5), rtol=1e-12)
    for a, b in zip(ys[0], ys[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
