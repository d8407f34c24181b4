"""Every op, and training steps of small networks, on a stand-in device that rejects NumPy calls on device data.

The stand-in (``tests/backends.py``) plays the GPU on a machine without one: its arrays refuse ``np.X(array)``,
``np.asarray(array)`` and mixing with host arrays, as CuPy does, and every op is checked to keep its results on
the device. Results must equal plain NumPy's bit for bit (the same NumPy code runs underneath), so a test here
fails for exactly one reason: an op that would not run, or would silently copy to the host, on CuPy.
"""
import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
from tinycnn import backend, optim

from .backends import (OP_CASES, STATS, StrictArray, float64_case, run_case, strict_device, strict_xp,  # noqa: F401
                       tiny_residual_concat_net, to_host, to_strict, train_steps)


def host_put(a):
    return np.array(a, copy=True)


def assert_same(host_result, device_result, what):
    assert isinstance(device_result, StrictArray), f"{what}: {type(device_result).__name__} is not device data"
    np.testing.assert_array_equal(to_host(device_result), host_result, err_msg=what)


# ----- the stand-in itself catches what it must ------------------------------------------------------------

def test_stand_in_rejects_numpy_functions_and_accepts_its_array_module(strict_device):
    x = to_strict(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match=r"NumPy function np.concatenate called on device data: "
                                        r"use xp = backend.get_array_module\(x\)"):
        np.concatenate([x, x])
    for call in (lambda: np.asarray(x), lambda: np.array(x), lambda: np.ascontiguousarray(x)):
        with pytest.raises(TypeError, match="device data"):
            call()
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        x + np.ones(3)  # CuPy refuses a host array in a ufunc
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        x[0] = np.ones(3)
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        strict_xp.concatenate([x, np.ones((1, 3))])
    assert backend.get_array_module(x) is strict_xp and backend.device_of(x) == "cuda:0"
    # what CuPy allows: ufuncs, operators, methods, the array module's functions; all stay on the device
    for result in (x + 1, np.maximum(x, 0.0), x.sum(axis=0), x.sum(), x.mean(), x.max(), x.argmax(), x[0, 1],
                   strict_xp.concatenate([x, x]), strict_xp.pad(x, 1), strict_xp.where(x > 1, x, np.float64(0)),
                   strict_xp.random.default_rng(0).random((2,), dtype=np.float32)):
        assert isinstance(result, StrictArray)
    host = np.ones(3)
    moved = strict_xp.asarray(host)  # an explicit transfer copies, as cupy.asarray does
    moved += 1
    assert host[0] == 1.0
    STATS["syncs"] = 0
    assert float(x.sum()) == 15.0 and bool(x.any()) and x[1, 2].item() == 5.0
    assert STATS["syncs"] == 3


def test_stand_in_checks_every_function_output(strict_device):
    class HostCopy(tc.Function):  # the bug the check exists for: an op that goes through the host
        def forward(self, x):
            return x.view(np.ndarray) * 2

        def backward(self, g):
            return (g * 2,)

    with pytest.raises(AssertionError, match="HostCopy.forward returned a numpy.ndarray for device inputs"):
        HostCopy.apply(tc.Tensor(to_strict(np.ones(3, np.float32)), requires_grad=True))


# ----- every op, forward and backward ----------------------------------------------------------------------

@pytest.mark.parametrize("case", OP_CASES, ids=[c.name for c in OP_CASES])
def test_op_runs_on_the_device_and_equals_numpy(case, strict_device):
    out_ref, grads_ref, raws_ref = run_case(case, host_put)
    out, grads, raws = run_case(case, to_strict)
    assert_same(out_ref, out, f"{case.name}: output")
    for i, (g_ref, g) in enumerate(zip(grads_ref, grads)):
        if g_ref is None:
            assert g is None, f"{case.name}: input {i} got a gradient on the device only"
        else:
            assert_same(g_ref, g, f"{case.name}: gradient of input {i}")
    for i, (r_ref, r) in enumerate(zip(raws_ref, raws)):  # batch norm's running statistics, updated in place
        assert_same(r_ref, r, f"{case.name}: raw input {i} after the call")
    assert STATS["to_host"] == 0, f"{case.name}: copied device data to the host {STATS['to_host']} times"


def test_im2col_col2im_on_the_device(strict_device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    geometry = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    cols_ref = F.im2col(x, **geometry)
    cols = F.im2col(to_strict(x), **geometry)
    assert_same(cols_ref, cols, "im2col")
    assert_same(F.col2im(cols_ref, x.shape, **geometry), F.col2im(cols, x.shape, **geometry), "col2im")


GRADCHECK_CASES = ["conv2d groups", "max_pool2d 3x3/2 overlap, padding", "avg_pool2d padding, ceil_mode",
                   "adaptive_avg_pool2d 7->3", "batch_norm train 4-D", "local_response_norm", "linear",
                   "cross_entropy mean", "getitem index array with repeats", "concat axis 1", "pad"]


@pytest.mark.parametrize("name", GRADCHECK_CASES)
def test_gradcheck_runs_on_the_device(name, strict_device):
    case = float64_case(next(c for c in OP_CASES if c.name == name))
    rng = np.random.default_rng(1)
    args = []
    for kind, build in case.inputs:
        a = to_strict(build(rng))
        args.append(a if kind == "raw" else tc.Tensor(a, requires_grad=(kind == "grad")))
    tensors = [a for a in args if isinstance(a, tc.Tensor)]
    raw_positions = [i for i, a in enumerate(args) if not isinstance(a, tc.Tensor)]

    def fn(*ts):
        it = iter(ts)
        full = [a if i in raw_positions else next(it) for i, a in enumerate(args)]
        if name.startswith("batch_norm"):  # running statistics must not drift between the evaluations
            full[1], full[2] = full[1].copy(), full[2].copy()
        return case.fn(*full)

    assert tc.gradcheck(fn, tensors, mode="full" if name == "conv2d groups" else "fast")


# ----- training steps of small networks --------------------------------------------------------------------

def _batches(shape, classes, n=2, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, classes, shape[0])) for _ in range(n)]


OPTIMIZERS = {
    "sgd": lambda params: optim.SGD(params, lr=0.05),
    "sgd momentum nesterov wd": lambda params: optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True,
                                                         weight_decay=5e-4),
    "adam": lambda params: optim.Adam(params, lr=1e-3, weight_decay=1e-4),
    "adamw amsgrad": lambda params: optim.AdamW(params, lr=1e-3, amsgrad=True),
    "rmsprop centered momentum": lambda params: optim.RMSprop(params, lr=1e-3, momentum=0.9, centered=True),
}


def _compare_training(build, batches, opt, device, steps=2):
    tc.manual_seed(0)
    model_ref = build()
    tc.manual_seed(0)
    losses_ref, state_ref, _ = train_steps(model_ref, OPTIMIZERS[opt], batches, host_put, steps=steps)
    tc.manual_seed(0)
    model = build().to(device)
    tc.manual_seed(0)  # dropout draws the same mask from the device's generator as from NumPy's above
    STATS["to_host"] = 0
    losses, state, optimizer = train_steps(model, OPTIMIZERS[opt], batches, to_strict, steps=steps)
    assert STATS["to_host"] == len(state)  # train_steps copies each state array once; nothing else left the device
    for p in model.parameters():
        assert isinstance(p.data, StrictArray)
    for s in optimizer.state.values():  # keyed by parameter, values Tensors, as PyTorch's (issue 12)
        for key, value in s.items():
            assert key == "step" or isinstance(value.data, StrictArray), f"optimizer state {key} left the device"
    np.testing.assert_array_equal(np.array(losses), np.array(losses_ref))
    assert list(state) == list(state_ref)
    for name in state:
        np.testing.assert_array_equal(state[name], state_ref[name], err_msg=name)


@pytest.mark.parametrize("opt", ["sgd momentum nesterov wd", "adam"])
def test_lenet5_training_step_on_the_device(opt, strict_device):
    from tinycnn.models import lenet5

    _compare_training(lenet5, _batches((8, 1, 28, 28), 10), opt, strict_device.device)


@pytest.mark.parametrize("opt", ["sgd", "sgd momentum nesterov wd", "adam"])
def test_residual_concat_net_training_step_on_the_device(opt, strict_device):
    _compare_training(tiny_residual_concat_net, _batches((4, 3, 12, 12), 5), opt, strict_device.device, steps=3)


def test_training_step_syncs_with_the_host_only_where_documented(strict_device, ops_tier):
    """A training step may read a few scalars back (each a sync that stalls the GPU queue), never arrays.

    Known syncs per step: cross_entropy's label range check (one ``bool``) and, in the fast tier, one NaN check per
    max-pool forward (``bool(isnan(out).any())``); LeNet-5 has two max-pools: 3 in all (1 for the reference ops).
    """
    from tinycnn.models import lenet5

    tc.manual_seed(0)
    model = lenet5().to(strict_device.device)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _batches((4, 1, 28, 28), 10, n=1)[0]
    x, y = tc.Tensor(to_strict(x)), to_strict(y)
    STATS.update(syncs=0, to_host=0)
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert STATS["to_host"] == 0
    assert STATS["syncs"] == (3 if ops_tier == "fast" else 1)


# ----- devices meet: moving, mixing, the optimizer following its parameters ---------------------------------

def test_training_loop_helpers_run_on_the_device(strict_device):
    from tinycnn.models import lenet5
    from tinycnn.train import evaluate, predict

    tc.manual_seed(0)
    model = lenet5()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 10)
    ref = predict(model, images, batch_size=4)
    loss_ref, acc_ref = evaluate(model, images, labels, batch_size=4)
    model.to("cuda")
    logits = predict(model, images, batch_size=4, device="cuda")
    assert type(logits) is np.ndarray
    np.testing.assert_array_equal(logits, ref)
    assert evaluate(model, images, labels, batch_size=4, device="cuda") == (loss_ref, acc_ref)


# ----- every network family: forward, backward and an optimizer step on the device --------------------------

# one network per model file and block type; the deeper twins (resnet34/101/152, resnet32..110, vgg13..19) reuse
# the same layers
# Known host-to-device copies per training step, to be removed by their model's owner:
# lenet5_paper: PartialConv2d.full_weight does xp.asarray(self.index) every forward (a host int64 (16, 6) table);
#   registering the table as a buffer would let Module.to move it once.
KNOWN_TRANSFERS = {"lenet5_paper": 1}
NETWORKS = ["lenet5_paper", "alexnet", "vgg11", "googlenet", "resnet18", "resnet50", "resnet20", "plain20"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n == "lenet5_paper" else pytest.mark.slow)
                                  for n in NETWORKS])
def test_network_trains_on_the_device_without_host_copies(name, strict_device):
    from tinycnn.models import MODELS, get_model
    from tinycnn.train import _outputs_and_loss

    if name not in MODELS:
        pytest.skip(f"{name} is not registered (yet)")
    spec = MODELS[name]
    channels, size = spec.input_shape[0], spec.small_input_size
    tc.manual_seed(0)
    model = get_model(name, num_classes=10, in_channels=channels, **spec.small_kwargs).to("cuda")
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = tc.Tensor(to_strict(rng.standard_normal((2, channels, size, size)).astype(np.float32)))
    y = to_strict(np.array([3, 7]))
    STATS.update(to_host=0, to_device=0)
    logits, loss = _outputs_and_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert isinstance(logits.data, StrictArray) and logits.shape == (2, 10)
    assert np.isfinite(to_host(loss.data))
    for pname, p in model.named_parameters():
        assert isinstance(p.data, StrictArray), pname
        assert p.grad is not None and isinstance(p.grad.data, StrictArray), pname
    assert STATS["to_host"] == 0, f"{name}: {STATS['to_host']} device-to-host copies in one training step"
    assert STATS["to_device"] <= KNOWN_TRANSFERS.get(name, 0), \
        f"{name}: {STATS['to_device']} host-to-device copies in one training step"


def test_module_state_dicts_clipping_and_one_hot_on_the_device(strict_device):
    """Issue 12's Module and nn.utils surface keeps device data on the device: state_dict values share the
    device arrays, load_state_dict copies host arrays into them, dtype casts stay there, clipping and one_hot run
    there, and hooks wrap device tensors."""
    import tinycnn.nn as nn  # noqa: PLC0415

    tc.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.GELU(), nn.Linear(4, 2))
    host = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.to(strict_device.device)
    arrays = {id(p): p.data for p in model.parameters()}
    assert all(isinstance(v.data, StrictArray) for v in model.state_dict().values())
    result = model.load_state_dict({k: v + 1 if v.dtype.kind == "f" else v for k, v in host.items()})
    assert result.missing_keys == [] and all(p.data is arrays[id(p)] for p in model.parameters())
    np.testing.assert_allclose(np.asarray(model[0].weight.data.view(np.ndarray)), host["0.weight"] + 1)
    grads = []
    model[3].register_full_backward_hook(lambda m, gi, go: grads.append(go[0].data))
    x = tc.Tensor(strict_xp.asarray(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)))
    loss = F.cross_entropy(model(x), strict_xp.asarray(np.array([0, 1, 1, 0, 1])), label_smoothing=0.1)
    loss.backward()
    assert isinstance(grads[0], StrictArray)
    total = nn.utils.clip_grad_norm_(model.parameters(), 0.01)
    assert isinstance(total.data, StrictArray)
    assert all(isinstance(p.grad.data, StrictArray) for p in model.parameters())
    model.double()
    assert isinstance(model[1].running_var.data, StrictArray) and model[1].running_var.dtype == np.float64
    hot = F.one_hot(tc.Tensor(strict_xp.asarray(np.array([2, 0]))), 3)
    assert isinstance(hot.data, StrictArray)
