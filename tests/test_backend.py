"""tinycnn.backend: device names, array modules, transfers, the errors when CuPy or a GPU is absent or when two
devices meet, manual_seed, and the optimizer's state following its parameters.

Two kinds of tests:

* CPU tests, run everywhere. Where a second device is needed they use the strict stand-in device of
  ``tests/backends.py`` (it plays "cuda:0" with NumPy underneath).
* GPU tests, parametrized by the ``xp`` fixture (tests/conftest.py) over NumPy and CuPy: the CuPy instances are
  marked ``gpu`` and skipped where CuPy or a GPU is absent. They compare CuPy's results with NumPy's within
  float32 tolerance (a GPU sums in another order: atomic adds, cuBLAS) and run float64 gradchecks on the GPU.
  The NumPy instances run the same code against NumPy itself: they only prove the harness works.
"""
import sys

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
from tinycnn import backend, nn, optim
from tinycnn.models import lenet5

from .backends import (OP_CASES, StrictArray, float64_case, run_case, strict_device, to_host,  # noqa: F401
                       to_strict, train_steps)

# ----- device names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [("cpu", "cpu"), (None, "cpu"), ("cuda", "cuda:0"),
                                            ("cuda:0", "cuda:0"), ("cuda:3", "cuda:3"), ("cpu:1", "cpu"),
                                            ("cpu:0", "cpu"), (0, "cuda:0"), (2, "cuda:2"),
                                            (tc.device("cuda", 1), "cuda:1"), (tc.device("cpu"), "cpu")])
def test_device_names_are_normalized(name, expected):
    # as torch.device: "cpu:0" is the CPU, an int N is cuda:N; device objects give their names (R1 #8: "CPU" is
    # refused below, as torch.device("CPU") raises; it used to be taken for the CPU here and for CUDA by fit)
    assert backend.parse_device(name) == expected


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "cuda:-1", "cuda0", "tpu", "", "cpu:x", -1, 1.5,
                                  "CPU", " Cuda ", "cpu ", "cuda:01", "cuda:0:1"])  # torch.device refuses each
def test_bad_device_names_raise_value_error_naming_the_value(name):
    with pytest.raises(ValueError, match="'cpu', 'cuda' or 'cuda:N'") as info:
        backend.parse_device(name)
    assert repr(name) in str(info.value)


def test_numpy_arrays_live_on_the_cpu():
    a = np.ones((2, 3), np.float32)
    assert backend.get_array_module(a) is np
    assert backend.get_array_module(a, 1.0, np.float32(2)) is np
    assert backend.get_array_module() is np
    assert not backend.is_cupy_array(a)
    assert backend.device_of(a) == "cpu"
    assert backend.to_device(a, "cpu") is a
    t = tc.Tensor(a)
    assert str(t.device) == "cpu" and t.to("cpu") is t and t.to(None) is t
    assert tc.tensor([1.0], device="cpu").device == tc.device("cpu")


def test_tensor_to_keeps_requires_grad_and_copies_across_devices(strict_device):
    t = tc.Tensor(np.arange(3, dtype=np.float32), requires_grad=True)
    d = t.to("cuda")
    assert isinstance(d.data, StrictArray) and str(d.device) == "cuda:0" and d.requires_grad
    assert d.to("cuda:0") is d
    back = d.to("cpu")
    assert type(back.data) is np.ndarray and back.requires_grad
    np.testing.assert_array_equal(back.data, t.data)
    assert "device='cuda:0'" in repr(d)
    assert d.sum().item() == 3.0


# ----- CuPy or a GPU absent: one clear error that says what to install --------------------------------------

@pytest.fixture
def no_cupy(monkeypatch):
    """``import cupy`` fails, as on a machine without it (even where it is installed)."""
    monkeypatch.setitem(sys.modules, "cupy", None)


def _assert_install_hint(message):
    assert "pip install 'tinycnn[gpu]'" in message
    for wheel, cuda in (("cupy-cuda12x", "CUDA 12"), ("cupy-cuda11x", "CUDA 11"), ("cupy-cuda13x", "CUDA 13")):
        assert wheel in message and cuda in message, f"{wheel} / {cuda} missing from: {message}"


@pytest.mark.parametrize("move", [
    lambda: tc.Tensor(np.ones(3, np.float32)).to("cuda"),
    lambda: tc.Tensor(np.ones(3, np.float32)).to("cuda:1"),
    lambda: tc.tensor([1.0, 2.0], device="cuda"),
    lambda: nn.Linear(2, 3).to("cuda"),
    lambda: lenet5().to("cuda:0"),
    lambda: backend.to_device(np.ones(2), "cuda"),
], ids=["Tensor.to", "Tensor.to cuda:1", "tensor(device=)", "Linear.to", "lenet5.to", "to_device"])
def test_cuda_without_cupy_raises_device_error_naming_the_extra(move, no_cupy):
    with pytest.raises(backend.DeviceError) as info:
        move()
    assert "CuPy" in str(info.value)
    _assert_install_hint(str(info.value))
    assert isinstance(info.value, RuntimeError)


class _FakeCupy:
    """A CuPy that imports but finds no GPU (no driver, or a machine without one)."""

    def __init__(self, count=0, error=None):
        runtime = type("runtime", (), {})()

        def get_device_count():
            if error is not None:
                raise error
            return count

        runtime.getDeviceCount = get_device_count
        self.cuda = type("cuda", (), {"runtime": runtime})()


@pytest.mark.parametrize("fake", [_FakeCupy(count=0), _FakeCupy(error=RuntimeError("cudaErrorNoDevice"))],
                         ids=["no GPU", "no driver"])
def test_cupy_without_a_gpu_raises_device_error(fake, monkeypatch):
    monkeypatch.setattr(backend, "_cupy", lambda: fake)
    with pytest.raises(backend.DeviceError, match="no CUDA GPU") as info:
        tc.Tensor(np.ones(2, np.float32)).to("cuda")
    assert "device='cpu'" in str(info.value)


def test_a_model_on_the_cpu_never_imports_cupy(no_cupy):
    model = lenet5().to("cpu")
    loss = F.cross_entropy(model(tc.Tensor(np.zeros((2, 1, 28, 28), np.float32))), np.array([0, 1]))
    loss.backward()
    assert np.isfinite(loss.item())


# ----- two devices in one op -------------------------------------------------------------------------------

@pytest.mark.parametrize("op", [
    lambda a, b: a + b,
    lambda a, b: F.mul(b, a),
    lambda a, b: F.matmul(a.reshape(2, 3), b.reshape(3, 2)),
    lambda a, b: F.concat([a, b], axis=0),
    lambda a, b: F.linear(a.reshape(2, 3), b.reshape(2, 3)),
    lambda a, b: F.conv2d(a.reshape(1, 1, 2, 3), b.reshape(1, 1, 2, 3)),
], ids=["add", "mul", "matmul", "concat", "linear", "conv2d"])
def test_mixing_devices_in_one_op_raises_device_error_naming_both(op, strict_device):
    host = tc.Tensor(np.ones(6, np.float32), requires_grad=True)
    device = tc.Tensor(to_strict(np.ones(6, np.float32)), requires_grad=True)
    with pytest.raises(backend.DeviceError, match=r"different devices \['cpu', 'cuda:0'\]; move them with .to\(\)"):
        op(host, device)


def test_a_model_on_the_device_fed_a_host_batch_raises_device_error(strict_device):
    model = lenet5().to("cuda")
    with pytest.raises(backend.DeviceError, match=r"Conv2d: inputs are on different devices \['cpu', 'cuda:0'\]"):
        model(tc.Tensor(np.zeros((1, 1, 28, 28), np.float32)))


# ----- manual_seed ------------------------------------------------------------------------------------------

def _dropout_mask(shape=(4, 50)):
    x = tc.Tensor(np.ones(shape, np.float32))
    return F.dropout(x, 0.5).data != 0


def test_manual_seed_repeats_dropout_masks_and_initialization():
    tc.manual_seed(7)
    mask_a, state_a = _dropout_mask(), lenet5().state_dict()
    tc.manual_seed(7)
    mask_b, state_b = _dropout_mask(), lenet5().state_dict()
    np.testing.assert_array_equal(mask_a, mask_b)
    for name in state_a:
        np.testing.assert_array_equal(state_a[name], state_b[name], err_msg=name)
    tc.manual_seed(8)
    assert not np.array_equal(_dropout_mask(), mask_a)
    assert not np.array_equal(lenet5().state_dict()["0.weight"], state_a["0.weight"])


@pytest.mark.parametrize("seed", [1.0, "1", True, None])
def test_manual_seed_rejects_non_integers(seed):
    with pytest.raises(TypeError, match="seed must be an int"):
        tc.manual_seed(seed)


def test_manual_seed_also_seeds_a_device_generator_created_after_it(strict_device):
    """``fit`` seeds, then moves the model to the GPU, which imports CuPy: its generator must start from the seed
    too, or dropout on the GPU would differ from run to run."""
    tc.manual_seed(3)  # the stand-in's generator does not exist yet
    x = tc.Tensor(to_strict(np.ones((4, 50), np.float32)))
    first = to_host(F.dropout(x, 0.5).data)
    tc.manual_seed(3)
    np.testing.assert_array_equal(to_host(F.dropout(x, 0.5).data), first)
    tc.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(tc.Tensor(np.ones((4, 50), np.float32)), 0.5).data, first)


# ----- Module.to and the optimizer's state -----------------------------------------------------------------

def test_module_to_moves_parameters_buffers_and_gradients_in_place(strict_device):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    params = list(model.parameters())
    model(tc.Tensor(np.ones((2, 1, 4, 4), np.float32))).sum().backward()
    model.to("cuda")
    assert list(model.parameters()) == params  # the same Parameter objects: optimizers keep working
    for p in params:
        assert isinstance(p.data, StrictArray) and isinstance(p.grad.data, StrictArray)
    for name, b in model.named_buffers():
        assert isinstance(b.data, StrictArray), name
    # state_dict() shares the parameters' and buffers' arrays, on their device (PyTorch's semantics; it returned
    # host NumPy copies before issue 12)
    assert all(isinstance(v.data, StrictArray) for v in model.state_dict().values())
    model.to("cpu")
    assert all(type(p.data) is np.ndarray for p in params)
    assert all(type(b.data) is np.ndarray for _, b in model.named_buffers())


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.01),
], ids=["sgd momentum", "sgd nesterov", "adam"])
def test_optimizer_state_follows_a_parameter_moved_to_another_device(make_opt, strict_device):
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((4, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 4)) for _ in range(3)]

    def host_put(a):
        return np.array(a, copy=True)

    tc.manual_seed(0)
    ref_model = lenet5()
    ref_losses, ref_state, _ = train_steps(ref_model, make_opt, batches, host_put, steps=3)

    tc.manual_seed(0)
    model = lenet5()
    opt = make_opt(model.parameters())
    losses = []
    for step, (x, y) in enumerate(batches):
        device = ["cpu", "cuda", "cpu"][step]  # a step on the CPU, one on the device, one back on the CPU
        model.to(device)
        put = to_strict if device == "cuda" else host_put
        loss = F.cross_entropy(model(tc.Tensor(put(x))), put(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(to_host(loss.data))
        for s in opt.state.values():  # keyed by parameter, values Tensors, as PyTorch's (issue 12)
            for key, value in s.items():
                if key != "step":
                    assert isinstance(value.data, StrictArray) == (device == "cuda"), (step, key)
    np.testing.assert_array_equal(np.array(losses), np.array(ref_losses))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, ref_state[name], err_msg=name)
    # the optimizer's own state_dict holds host Tensors (as torch's, Tensors); loading it puts the state on each
    # parameter's device
    model.to("cuda")
    saved = opt.state_dict()
    assert all(isinstance(v, tc.Tensor) and type(v.data) is not StrictArray
               for s in saved["state"].values() for v in s.values())
    opt.load_state_dict(saved)
    assert all(isinstance(v.data, StrictArray) for s in opt.state.values() for k, v in s.items() if k != "step")


# ===== on a real GPU: CuPy against NumPy (skipped where CuPy or a GPU is absent) ============================

def _device_of(xp):
    return "cpu" if xp is np else "cuda:0"


def _put(xp):
    return (lambda a: np.array(a, copy=True)) if xp is np else xp.asarray


FLOAT32 = dict(rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("case", OP_CASES, ids=[c.name for c in OP_CASES])
def test_op_on_each_backend_matches_numpy(case, xp):
    out_ref, grads_ref, raws_ref = run_case(case, _put(np))
    out, grads, raws = run_case(case, _put(xp))
    assert backend.get_array_module(out) is xp
    assert out.dtype == out_ref.dtype, f"{case.name}: {xp.__name__} gives {out.dtype}, NumPy {out_ref.dtype}"
    if case.random:  # another device draws another mask: check that it is a dropout mask, used consistently
        rng = np.random.default_rng(0)  # rebuild the inputs as run_case did: x, then the output gradient
        x = case.inputs[0][1](rng)
        g = rng.standard_normal(x.shape).astype(x.dtype)
        y, dx = to_host(out), to_host(grads[0])
        kept = y != 0
        assert 0 < kept.mean() < 1
        scale = float((y[kept] / x[kept]).mean())  # 1 / (1 - p)
        np.testing.assert_allclose(y[kept], x[kept] * scale, **FLOAT32)
        np.testing.assert_allclose(dx, g * kept * np.float32(scale), **FLOAT32)
        return
    np.testing.assert_allclose(to_host(out), out_ref, err_msg=f"{case.name}: output", **FLOAT32)
    for i, (g_ref, g) in enumerate(zip(grads_ref, grads)):
        assert (g is None) == (g_ref is None)
        if g is not None:
            assert backend.get_array_module(g) is xp and g.dtype == g_ref.dtype
            np.testing.assert_allclose(to_host(g), g_ref, err_msg=f"{case.name}: gradient {i}", **FLOAT32)
    for i, (r_ref, r) in enumerate(zip(raws_ref, raws)):
        np.testing.assert_allclose(to_host(r), r_ref, err_msg=f"{case.name}: raw input {i}", **FLOAT32)


GPU_GRADCHECK_CASES = ["conv2d stride/padding", "conv2d groups", "max_pool2d 3x3/2 overlap, padding",
                       "max_pool2d ceil_mode", "avg_pool2d padding, ceil_mode", "adaptive_avg_pool2d 7->3",
                       "batch_norm train 4-D", "batch_norm eval 4-D", "local_response_norm", "linear",
                       "matmul batched broadcast", "log_softmax", "cross_entropy mean",
                       "getitem index array with repeats", "concat axis 1", "pad", "sigmoid", "div broadcast"]


@pytest.mark.parametrize("name", GPU_GRADCHECK_CASES)
def test_float64_gradcheck_on_each_backend(name, xp):
    case = float64_case(next(c for c in OP_CASES if c.name == name))
    rng = np.random.default_rng(1)
    args = []
    for kind, build in case.inputs:
        a = _put(xp)(build(rng))
        args.append(a if kind == "raw" else tc.Tensor(a, requires_grad=(kind == "grad")))
    tensors = [a for a in args if isinstance(a, tc.Tensor)]
    raw = {i: a for i, a in enumerate(args) if not isinstance(a, tc.Tensor)}

    def fn(*ts):
        it = iter(ts)
        full = [raw[i].copy() if i in raw else next(it) for i in range(len(args))]  # running stats must not drift
        return case.fn(*full)

    assert tc.gradcheck(fn, tensors, mode="full")


@pytest.mark.parametrize("make_opt", [lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=5e-4),
                                      lambda ps: optim.Adam(ps, lr=1e-3)], ids=["sgd", "adam"])
def test_lenet5_training_steps_on_each_backend_match_numpy(make_opt, xp):
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((16, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 16)) for _ in range(2)]
    tc.manual_seed(0)
    ref_losses, ref_state, _ = train_steps(lenet5(), make_opt, batches, _put(np), steps=3)
    tc.manual_seed(0)
    model = lenet5()
    losses, state, opt = train_steps(model, make_opt, batches, _put(xp), device=_device_of(xp), steps=3)
    assert all(str(p.device) == _device_of(xp) for p in model.parameters())
    np.testing.assert_allclose(np.array(losses), np.array(ref_losses), rtol=1e-4)
    for name in ref_state:
        np.testing.assert_allclose(state[name], ref_state[name], rtol=1e-3, atol=1e-5, err_msg=name)


def test_manual_seed_repeats_dropout_on_each_backend(xp):
    x = tc.Tensor(_put(xp)(np.ones((8, 64), np.float32)))
    tc.manual_seed(11)
    a = to_host(F.dropout(x, 0.5).data)
    tc.manual_seed(11)
    b = to_host(F.dropout(x, 0.5).data)
    np.testing.assert_array_equal(a, b)
    assert 0.3 < (a != 0).mean() < 0.7 and set(np.unique(a)) <= {0.0, 2.0}


def test_transfers_and_mixing_on_each_backend(xp):
    device = _device_of(xp)
    t = tc.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    d = t.to("cuda" if xp is not np else "cpu")
    assert str(d.device) == device and d.requires_grad and backend.get_array_module(d.data) is xp
    np.testing.assert_array_equal(d.to("cpu").numpy(), t.data)
    assert d.sum().item() == 15.0
    model = lenet5().to(device)
    assert all(backend.get_array_module(p.data) is xp for p in model.parameters())
    if xp is not np:
        with pytest.raises(backend.DeviceError, match=r"\['cpu', 'cuda:0'\]"):
            t + d


GPU_NETWORKS = ["lenet5_paper", "alexnet", "googlenet", "resnet18", "resnet20"]


@pytest.mark.parametrize("name", GPU_NETWORKS)
def test_network_on_each_backend_matches_numpy(name, xp):
    """Forward and backward of whole networks (eval mode: no dropout mask to differ) on CuPy against NumPy."""
    from tinycnn.models import MODELS, get_model

    if xp is np:
        pytest.skip("NumPy against itself: nothing to compare (this test is for CuPy)")
    if name not in MODELS:
        pytest.skip(f"{name} is not registered (yet)")
    spec = MODELS[name]
    channels, size = spec.input_shape[0], spec.small_input_size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, channels, size, size)).astype(np.float32)
    y = np.array([3, 7])
    results = []
    for module in (np, xp):
        tc.manual_seed(0)
        model = get_model(name, num_classes=10, in_channels=channels, **spec.small_kwargs)
        model.to(_device_of(module)).eval()
        logits = model(tc.Tensor(_put(module)(x)))
        F.cross_entropy(logits, _put(module)(y)).backward()
        results.append((to_host(logits.data), {n: to_host(p.grad.data) for n, p in model.named_parameters()}))
    (logits_ref, grads_ref), (logits, grads) = results
    np.testing.assert_allclose(logits, logits_ref, rtol=1e-3, atol=1e-4)
    for pname, g_ref in grads_ref.items():
        err = np.linalg.norm(grads[pname] - g_ref) / max(np.linalg.norm(g_ref), 1e-12)
        assert err < 1e-3, f"{name}: gradient of {pname} differs by {err:.2e} (relative L2)"
