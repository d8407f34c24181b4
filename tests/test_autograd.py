"""Autograd surface (issue 12, item 8): in-place gradient accumulation, requires_grad_, retain_grad, tensor
hooks, grad_fn / is_leaf, detach / detach_, inference_mode, set_grad_enabled, backward's PyTorch arguments and
tinycnn.autograd.grad; the same scenarios against torch (peer)."""

import numpy as np
import pytest

import tinycnn as tc


def test_grad_accumulates_in_place_into_the_same_array():
    # Regression: x.grad was replaced, so a saved reference went stale
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    saved, array = x.grad, x.grad.data
    (x * 3).sum().backward()
    assert x.grad is saved and x.grad.data is array and saved.tolist() == [5.0, 7.0]


def test_requires_grad_():
    x = tc.tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(TypeError, match="floating"):
        tc.tensor([1]).requires_grad_()
    h = tc.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        h.requires_grad_(False)
    assert h.requires_grad_(True) is h


def test_grad_fn_is_leaf_detach():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.grad_fn is None and x.is_leaf and y.grad_fn is not None and not y.is_leaf
    assert y.grad_fn.name() == "MulBackward"
    assert tc.tensor([1.0]).is_leaf and (tc.tensor([1.0]) * 2).is_leaf  # no grad: leaves, as torch
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.data, y.data)
    assert y.detach_() is y and y.is_leaf and not y.requires_grad


def test_retain_grad_keeps_and_accumulates_a_non_leaf_gradient():
    x = tc.tensor([1.5, -2.5], requires_grad=True)
    h = x * 2
    assert not h.retains_grad
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    assert h.grad.tolist() == [6.0, -10.0]
    (h * h).sum().backward()
    assert h.grad.tolist() == [12.0, -20.0] and x.grad.tolist() == [24.0, -40.0]
    x.retain_grad()  # a leaf: nothing to do
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        tc.tensor([1.0]).retain_grad()


def test_hooks_replace_the_gradient_and_can_be_removed():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    handle = h.register_hook(lambda g: g * 10)
    h.retain_grad()
    h.sum().backward()
    assert h.grad.tolist() == [10.0, 10.0] and x.grad.tolist() == [20.0, 20.0]  # retain sees the hook's result
    handle.remove()
    x.grad = h.grad = None
    h.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    seen = []
    w = tc.ones(2, requires_grad=True)
    w.register_hook(lambda g: seen.append(g.tolist()))  # None keeps the gradient
    w.register_hook(lambda g: g * 2)
    (w * 3).sum().backward()
    assert seen == [[3.0, 3.0]] and w.grad.tolist() == [6.0, 6.0]
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tc.ones(2).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="callable"):
        w.register_hook(3)
    w.register_hook(lambda g: tc.ones(3))
    with pytest.raises(RuntimeError, match="shape"):
        (w * 1).sum().backward()


def test_backward_accepts_torchs_arguments():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.backward(gradient=tc.tensor([1.0, -1.0]), retain_graph=True)
    assert x.grad.tolist() == [2.0, -2.0]
    y.backward(tc.tensor([1.0, 1.0]))  # a second backward: tinycnn keeps the graph (torch needs retain_graph)
    assert x.grad.tolist() == [4.0, 0.0]
    with pytest.raises(NotImplementedError, match="create_graph"):
        y.sum().backward(create_graph=True)
    a, b = tc.tensor([1.0], requires_grad=True), tc.tensor([2.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [2.0] and b.grad is None
    with pytest.raises(ValueError, match="one-element"):
        y.backward()
    with pytest.raises(ValueError, match="shape"):
        y.backward(tc.ones(3))


def test_autograd_grad_returns_without_accumulating():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    z = tc.tensor([3.0], requires_grad=True)
    h = x * x
    (gx, gh) = tc.autograd.grad(h.sum() * 3, [x, h])
    assert gx.tolist() == [6.0, 12.0] and gh.tolist() == [3.0, 3.0] and x.grad is None
    with pytest.raises(RuntimeError, match="allow_unused"):
        tc.autograd.grad(h.sum(), [x, z])
    gx, gz = tc.autograd.grad(h.sum(), [x, z], allow_unused=True)
    assert gz is None and gx.tolist() == [2.0, 4.0]
    (gz,) = tc.autograd.grad(h.sum(), z, materialize_grads=True)
    assert gz.tolist() == [0.0]
    tc.autograd.backward([h.sum(), (x * 10).sum()])
    assert x.grad.tolist() == [12.0, 14.0]


def test_inference_mode_and_set_grad_enabled():
    x = tc.tensor([1.0], requires_grad=True)
    with tc.inference_mode():
        assert not (x * 2).requires_grad and not tc.is_grad_enabled()
    assert tc.is_grad_enabled()

    @tc.inference_mode()
    def f():
        return x * 2

    @tc.inference_mode
    def g():
        return x * 2

    @tc.no_grad
    def h():
        return x * 2

    assert not f().requires_grad and not g().requires_grad and not h().requires_grad
    with tc.inference_mode(False):
        assert (x * 2).requires_grad
    with tc.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    tc.set_grad_enabled(False)
    assert not tc.is_grad_enabled()
    tc.set_grad_enabled(True)
    assert tc.is_grad_enabled()
    with pytest.raises(TypeError, match="bool"):
        tc.set_grad_enabled("no")


def test_format_int_float_index():
    loss = tc.tensor(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{tc.tensor([2.5]):.1f}" == "2.5"
    assert int(tc.tensor([3.7])) == 3 and float(tc.tensor(2)) == 2.0 and [10, 20, 30][tc.tensor(1)] == 20
    with pytest.raises(TypeError, match="integer tensors"):
        [1, 2][tc.tensor(1.0)]
    with pytest.raises(ValueError, match="one element"):
        float(tc.tensor([1.0, 2.0]))


@pytest.mark.peer
def test_hooks_retain_grad_and_accumulation_match_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tc, torch):
        x = lib.tensor([1.5, -0.5, 2.0], requires_grad=True)
        h = x * x
        h.retain_grad()
        h.register_hook(lambda g: g * 3)
        x.register_hook(lambda g: g + 1)
        y = (h * lib.tensor([1.0, 2.0, 3.0])).sum() + x.sum()
        y.backward(retain_graph=True)
        saved = x.grad
        (x ** 3).sum().backward()
        gx, = lib.autograd.grad((h * x).sum(), x)
        results.append([h.grad.numpy().copy(), saved.numpy().copy(), x.grad.numpy().copy(), gx.numpy().copy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6)
