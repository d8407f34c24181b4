"""In-place ops with PyTorch's rules (issue 12, item 7): the hand-written SGD step, += in place, x[i] = v, the
leaf rule, rebasing inside a graph, the version check, dtype and shape rules, and p.data staying an array."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
from tinycnn import nn


def test_hand_written_sgd_step_under_no_grad_updates_the_weights():
    # Regression: Tensor had no __isub__, so `p -= lr * p.grad` rebound the loop variable and nothing changed
    tc.manual_seed(0)
    model = nn.Linear(3, 2)
    x, y = tc.randn(4, 3), np.array([0, 1, 0, 1])
    before = [p.data.copy() for p in model.parameters()]
    F.cross_entropy(model(x), y).backward()
    grads = [p.grad.data.copy() for p in model.parameters()]
    with tc.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    for b, g, p in zip(before, grads, model.parameters()):
        np.testing.assert_allclose(p.data, b - np.float32(0.1) * g, rtol=1e-6)
        assert p.is_leaf and p.requires_grad


def test_p_data_stays_an_array():
    # Regression: `p.data -= lr * p.grad` turned p.data into a Tensor
    p = nn.Parameter(tc.ones(3))
    p.grad = tc.full((3,), 2.0)
    array = p.data
    p.data -= 0.5 * p.grad
    assert type(p.data) is np.ndarray and p.data is array and p.tolist() == [0.0, 0.0, 0.0]
    p.data = tc.full((3,), 4.0)  # assigning a Tensor unwraps it
    assert type(p.data) is np.ndarray and p.tolist() == [4.0, 4.0, 4.0]
    with pytest.raises(TypeError, match="array or a Tensor"):
        p.data = [1.0, 2.0, 3.0]


def test_augmented_assignment_modifies_the_tensor_in_place():
    # Regression: x += 1 made a new tensor
    x = tc.tensor([1.0, 2.0])
    alias, array = x, x.data
    x += 1
    x *= 3
    x -= tc.tensor([1.0, 1.0])
    x /= 2
    assert x is alias and x.data is array and x.tolist() == [2.5, 4.0]
    i = tc.tensor([7, 8])
    i //= 2
    i %= 3
    assert i.tolist() == [0, 1] and i.dtype == np.int64
    m = tc.tensor([True, False])
    m &= tc.tensor([True, True])
    m |= tc.tensor([False, True])
    assert m.tolist() == [True, True]


def test_named_in_place_methods():
    t = tc.zeros(2, 3)
    assert t.fill_(2.5) is t and t.tolist() == [[2.5] * 3] * 2
    assert t.zero_().sum().item() == 0.0
    t.copy_(tc.tensor([1, 2, 3]))  # broadcast and cast, as torch
    assert t.tolist() == [[1.0, 2.0, 3.0]] * 2
    t.clamp_(min=1.5, max=2.5)
    assert t.tolist() == [[1.5, 2.0, 2.5]] * 2
    q = tc.ones(2)
    assert q.add_(1, alpha=2).tolist() == [3.0, 3.0] and q.sub_(tc.ones(2), alpha=3).tolist() == [0.0, 0.0]
    assert q.add_(4).mul_(tc.tensor([1.0, 0.5])).div_(2).tolist() == [2.0, 1.0]
    assert q.pow_(2).sqrt_().neg_().abs_().tolist() == [2.0, 1.0]
    assert tc.tensor([1.0, 0.0]).masked_fill_(tc.tensor([False, True]), 9).tolist() == [1.0, 9.0]
    assert tc.tensor([1, 2]).masked_fill(tc.tensor([True, False]), 0.7).tolist() == [0, 2]  # cast to int, as torch
    tc.manual_seed(1)
    r = tc.zeros(1000).normal_(2.0, 0.5)
    assert abs(r.mean().item() - 2.0) < 0.1 and abs(r.std().item() - 0.5) < 0.1
    u = tc.zeros(1000).uniform_(-1, 1)
    assert u.min().item() >= -1 and u.max().item() < 1 and tc.zeros(2).uniform_(**{"from": 3, "to": 4}).min() >= 3
    with pytest.raises(TypeError, match="floating"):
        tc.zeros(2, dtype=tc.int64).normal_()


def test_setitem():
    t = tc.zeros(2, 3)
    t[0] = tc.tensor([1, 2, 3])
    t[:, 1] = 7
    t[1, [0, 2]] = tc.tensor([5.0, 6.0])
    t[t > 6] = -1.0
    assert t.tolist() == [[1.0, -1.0, 3.0], [5.0, -1.0, 6.0]]
    i = tc.zeros(2, dtype=tc.int64)
    i[0] = 1.7  # cast, as torch
    assert i.tolist() == [1, 0]


def test_setitem_inside_a_graph_records_it():
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = tc.zeros(3)
    b[0] = x[0] * 5
    b[1:] = x[1:] ** 2
    assert b.requires_grad and b.grad_fn is not None
    b.sum().backward()
    assert x.grad.tolist() == [5.0, 4.0, 6.0]
    y = tc.tensor([0.5, -1.0, 2.0], dtype=tc.float64, requires_grad=True)
    v = tc.tensor([3.0, 4.0], dtype=tc.float64, requires_grad=True)

    def overwrite(y, v):
        z = y * 1
        z[[0, 2]] = v * y[1]
        return z

    assert tc.gradcheck(overwrite, [y, v])


def test_leaf_that_requires_grad_raises_outside_no_grad():
    w = tc.ones(3, requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.__setitem__(0, 2.0), lambda: w.__iadd__(1)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            op()
    with tc.no_grad():
        w -= 0.5
        w[0] = 0.0
    assert w.tolist() == [0.0, 0.5, 0.5] and w.is_leaf and w.requires_grad


def test_in_place_inside_a_graph_is_recorded_as_torch():
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 2
    h.mul_(3)
    h += x
    assert h.grad_fn is not None
    h.sum().backward()
    assert x.grad.tolist() == [7.0, 7.0, 7.0]
    x.grad = None
    y = tc.tensor([3.0, 4.0, 5.0], requires_grad=True)
    h = x * 1
    h.mul_(y)  # the original h is kept for y's gradient, as torch saves it
    h.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0, 5.0] and y.grad.tolist() == [1.0, 2.0, 3.0]
    x.grad = None
    h = x * 2
    h.zero_()
    (h + 1).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]  # the gradient through an overwritten value is 0
    buf = tc.zeros(3)
    buf.copy_(x)
    assert buf.requires_grad and not buf.is_leaf
    x.grad = None
    buf.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_in_place_gradcheck():
    x = tc.tensor([0.5, -1.5, 2.0], dtype=tc.float64, requires_grad=True)
    y = tc.tensor([1.5, 0.25, -0.5], dtype=tc.float64, requires_grad=True)

    def f(x, y):
        h = x * 1
        h *= y
        h += x ** 2
        h.clamp_(-2.0, 2.5)  # away from the kinks (h = 3 would sit on one)
        h /= y + 3
        out = tc.zeros(4, dtype=tc.float64)
        out[1:].copy_(h.detach())  # a constant written through a view, outside the graph
        out = out * 1
        out[1:] = h
        return out

    assert tc.gradcheck(f, [x, y])


def test_version_check_raises_instead_of_a_wrong_gradient():
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = x.sigmoid()
    s.mul_(2)  # sigmoid saved its output for backward, as torch's: the version check must fire
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()
    c = tc.ones(3)
    y = (x * c).sum()
    c.add_(1)  # a constant that Mul saved for x's gradient
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    d = x.detach()
    y = (x * x).sum()
    with tc.no_grad():
        d.add_(1)  # through a detached alias: the same storage
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_version_check_does_not_fire_when_nothing_saved_was_changed():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = h + 1  # Add saves no array
    h.add_(5)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    model = nn.Linear(2, 1)
    for _ in range(2):  # the next step's graph is recorded after the update: no false alarm
        loss = model(tc.ones(1, 2)).sum()
        model.zero_grad()
        loss.backward()
        with tc.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad


def test_views_inside_a_graph_raise_clearly():
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1
    with pytest.raises(NotImplementedError, match="view"):
        h[0:2].mul_(2)
    h = x * 1
    v = h[0:2]
    h.mul_(2)
    with pytest.raises(RuntimeError, match="view"):
        v.sum().backward()
    with tc.no_grad():  # outside a graph a view writes through, as torch
        base = tc.zeros(3)
        base[1:].add_(1)
        assert base.tolist() == [0.0, 1.0, 1.0]


def test_dtype_and_shape_rules():
    i = tc.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += 1.5
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.div_(2)
    f = tc.ones(2)
    f += tc.ones(2, dtype=tc.float64)
    assert f.dtype == np.float32
    with pytest.raises(RuntimeError, match="broadcast shape"):
        f.add_(tc.ones(2, 2))
    with pytest.raises(TypeError, match="fill_"):
        f.fill_("a")


@pytest.mark.peer
def test_in_place_sequence_matches_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tc, torch):
        x = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([1.5, 0.25, -0.5], dtype=lib.float64, requires_grad=True)
        h = x * 1
        h *= y
        h += x ** 2
        h.clamp_(-2.0, 3.0)
        h[1] = y[0] * 4
        h.sub_(y, alpha=0.5)
        buf = lib.zeros(3, dtype=lib.float64)
        buf.copy_(h)
        buf.sum().backward()
        results.append([buf.detach().numpy(), x.grad.numpy(), y.grad.numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_copy_and_fill_gradchecks():
    x = tc.tensor([0.5, -1.5, 2.0], dtype=tc.float64, requires_grad=True)
    s = tc.tensor([3.0], dtype=tc.float64, requires_grad=True)

    def copied(x, s):
        buf = tc.zeros(2, 3, dtype=tc.float64)
        buf.copy_(x * s)  # broadcast into buf: the gradient sums back to x's shape
        return buf

    def filled(x):
        h = x * 2
        h.fill_(1.5)  # the old values of h no longer matter: zero gradient through them
        return h * x

    assert tc.gradcheck(copied, [x, s])
    assert tc.gradcheck(filled, [x])
