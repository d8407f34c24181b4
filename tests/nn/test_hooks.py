"""Module hooks as torch.nn.Module's: forward pre-hooks and forward hooks (may replace inputs / outputs),
full backward hooks (grad_input, grad_output; may replace grad_input), removable handles; against torch."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn


class Mul(nn.Module):
    """Two tensor inputs and a non-tensor one: forward(x, y, scale) = scale * x * y."""

    def forward(self, x, y, scale=1.0):
        return x * y * scale


def test_forward_pre_hook_and_forward_hook_replace_and_remove():
    lin = nn.Linear(2, 2)
    x = tc.Tensor(np.ones((1, 2), np.float32))
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: seen.append(("pre", args[0].shape)))
    h2 = lin.register_forward_hook(lambda m, args, out: seen.append(("post", out.shape)))
    expected = lin(x).numpy()
    assert seen == [("pre", (1, 2)), ("post", (1, 2))]
    h3 = lin.register_forward_pre_hook(lambda m, args: args[0] * 0)  # a non-tuple result replaces the input
    np.testing.assert_allclose(lin(x).numpy(), lin.bias.numpy()[None])
    h3.remove()
    h4 = lin.register_forward_hook(lambda m, args, out: out * 2)
    np.testing.assert_allclose(lin(x).numpy(), 2 * expected)
    for h in (h1, h2, h4):
        h.remove()
    seen.clear()
    np.testing.assert_allclose(lin(x).numpy(), expected)
    assert seen == []  # removed hooks run no more
    h1.remove()  # removing twice is harmless


def test_hook_order_prepend_kwargs_and_context_manager():
    m = Mul()
    order = []
    m.register_forward_pre_hook(lambda mod, args: order.append("a"))
    m.register_forward_pre_hook(lambda mod, args: order.append("b"), prepend=True)
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {**kwargs, "scale": 10.0}), with_kwargs=True)
    with m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["scale"], with_kwargs=True):
        out = m(tc.Tensor(np.array([2.0])), tc.Tensor(np.array([3.0])), scale=1.0)
    assert order == ["b", "a"] and out.item() == 60.0 + 10.0
    out = m(tc.Tensor(np.array([2.0])), tc.Tensor(np.array([3.0])))
    assert out.item() == 60.0  # the forward hook left with its handle; the kwargs pre-hook stays
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        m.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
        m(tc.Tensor(np.array([2.0])), tc.Tensor(np.array([3.0])))


def test_always_call_hook_runs_when_forward_raises():
    seen = []
    lin = nn.Linear(2, 2)
    lin.register_forward_hook(lambda m, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError):
        lin(tc.Tensor(np.ones((1, 3), np.float32)))
    assert seen == [None]


def test_feature_maps_of_every_layer():
    """The course exercise: record each layer's output with forward hooks."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    maps = {}
    handles = [m.register_forward_hook(lambda mod, args, out, name=name: maps.__setitem__(name, out.shape))
               for name, m in model.named_children()]
    model(tc.Tensor(np.ones((1, 1, 4, 4), np.float32)))
    assert maps == {"0": (1, 2, 2, 2), "1": (1, 2, 2, 2), "2": (1, 8), "3": (1, 3)}
    for h in handles:
        h.remove()
    assert not any(m._forward_hooks for m in model.modules())


def test_no_hooks_call_forward_directly():
    lin = nn.Linear(2, 2)
    assert not lin._forward_pre_hooks and not lin._forward_hooks and not lin._backward_hooks
    y = lin(tc.Tensor(np.ones((1, 2), np.float32), requires_grad=True))
    assert y._ctx is not None and "Hook" not in type(y._ctx).__name__  # no identity wrapped around the output


def _torch_grads(torch, module, inputs, upstream, replace=None):
    record = {}

    def hook(m, grad_input, grad_output):
        record["in"] = [None if g is None else g.detach().numpy().copy() for g in grad_input]
        record["out"] = [None if g is None else g.detach().numpy().copy() for g in grad_output]
        if replace is not None:
            return tuple(None if g is None else g * replace for g in grad_input)
        return None

    module.register_full_backward_hook(hook)
    out = module(*inputs)
    out.backward(torch.tensor(upstream))
    return record


def _our_grads(module, inputs, upstream, replace=None):
    record = {}

    def hook(m, grad_input, grad_output):
        record["in"] = [None if g is None else g.numpy().copy() for g in grad_input]
        record["out"] = [None if g is None else g.numpy().copy() for g in grad_output]
        if replace is not None:
            return tuple(None if g is None else g * replace for g in grad_input)
        return None

    module.register_full_backward_hook(hook)
    out = module(*inputs)
    out.backward(upstream)
    return record


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


@pytest.mark.peer
@pytest.mark.parametrize("case", ["linear", "first layer", "two inputs", "one of two inputs", "replace"])
def test_full_backward_hook_against_torch(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x_np, y_np = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    upstream = rng.standard_normal((3, 4))
    replace = 3.0 if case == "replace" else None
    if case in ("linear", "first layer", "replace"):
        w, b = rng.standard_normal((4, 4)), rng.standard_normal(4)
        ours, theirs = nn.Linear(4, 4, dtype=np.float64), torch.nn.Linear(4, 4, dtype=torch.float64)
        ours.weight.data[...], ours.bias.data[...] = w, b
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(w))
            theirs.bias.copy_(torch.tensor(b))
        needs = case != "first layer"
        x, tx = tc.Tensor(x_np, requires_grad=needs), torch.tensor(x_np, requires_grad=needs)
        args, targs = (x,), (tx,)
    else:
        ours = Mul()
        theirs = type("Mul", (torch.nn.Module,), {"forward": Mul.forward})()
        needs_y = case == "two inputs"
        x, tx = tc.Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        y, ty = tc.Tensor(y_np, requires_grad=needs_y), torch.tensor(y_np, requires_grad=needs_y)
        args, targs = (x, y, 2.0), (tx, ty, 2.0)
    if case == "first layer":  # no input requires grad: both libraries warn that the hook sees outputs only
        with pytest.warns(UserWarning, match="Full backward hook is firing"):
            mine = _our_grads(ours, args, upstream, replace)
        with pytest.warns(UserWarning, match="Full backward hook is firing"):
            peer = _torch_grads(torch, theirs, targs, upstream, replace)
    else:
        mine = _our_grads(ours, args, upstream, replace)
        peer = _torch_grads(torch, theirs, targs, upstream, replace)
    _same(mine["in"], peer["in"])
    _same(mine["out"], peer["out"])
    for a, ta in zip(args, targs):
        if isinstance(a, tc.Tensor) and a.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)  # a replacement flows on
    if case != "first layer" and case in ("linear", "replace"):
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


def test_backward_hook_errors_and_no_grad():
    lin = nn.Linear(2, 2, dtype=np.float64)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    x = tc.Tensor(np.ones((1, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but expected 1"):
        lin(x).sum().backward()
    with tc.no_grad():
        assert not lin(x).requires_grad  # nothing wrapped, nothing called
    first = nn.Linear(2, 2, dtype=np.float64)
    first.register_full_backward_hook(lambda m, gi, go: (tc.Tensor(np.zeros((1, 2))),))
    with pytest.raises(RuntimeError, match="no input requires gradient should always return None"), \
            pytest.warns(UserWarning, match="no inputs require gradients"):
        first(tc.Tensor(np.ones((1, 2)))).sum().backward()
    with pytest.raises(TypeError, match="hook must be callable"):
        lin.register_forward_hook(3)
    with pytest.raises(NotImplementedError, match="register_full_backward_hook"):
        lin.register_backward_hook(lambda *a: None)


def test_backward_hook_sees_each_backward_of_a_retained_graph():
    lin = nn.Linear(2, 1, dtype=np.float64)
    calls = []
    lin.register_full_backward_hook(lambda m, gi, go: calls.append(go[0].numpy().copy()))
    x = tc.Tensor(np.ones((1, 2)), requires_grad=True)
    out = lin(x)
    out.backward(np.array([[2.0]]))
    out.backward(np.array([[5.0]]))
    assert [c.item() for c in calls] == [2.0, 5.0]
