"""Elementwise functions and activation methods (issue 12, item 4): abs, sqrt, exp, log, sign, clamp, maximum,
minimum, and x.sigmoid()/x.softmax(dim)...: gradchecks, hand values, and torch (peer)."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_hand_values_and_dtypes():
    x = tc.tensor([-2.0, 0.0, 4.0])
    assert x.abs().tolist() == [2.0, 0.0, 4.0] and abs(x).tolist() == [2.0, 0.0, 4.0]
    assert x.sign().tolist() == [-1.0, 0.0, 1.0] and tc.sqrt(tc.tensor([4.0, 9.0])).tolist() == [2.0, 3.0]
    assert x.clamp(min=-1.0).tolist() == [-1.0, 0.0, 4.0] and x.clamp(max=1).tolist() == [-2.0, 0.0, 1.0]
    assert x.clip(-1, 1).tolist() == [-1.0, 0.0, 1.0] and tc.clamp(x, -1, 1).tolist() == [-1.0, 0.0, 1.0]
    assert tc.exp(tc.tensor([0.0])).tolist() == [1.0] and tc.log(tc.tensor([1.0])).tolist() == [0.0]
    ints = tc.tensor([1, 4])
    assert ints.sqrt().dtype == np.float32 and ints.exp().dtype == np.float32 and ints.log().dtype == np.float32
    assert ints.abs().dtype == np.int64 and ints.clamp(max=2).dtype == np.int64
    assert ints.clamp(max=2.5).tolist() == [1.0, 2.5] and ints.clamp(max=2.5).dtype == np.float32  # as torch
    assert tc.maximum(x, tc.tensor([0.0])).tolist() == [0.0, 0.0, 4.0]
    assert tc.minimum(x, tc.tensor([0.0])).tolist() == [-2.0, 0.0, 0.0]
    assert x.square().tolist() == [4.0, 0.0, 16.0]


def test_activation_methods_delegate():
    x = tc.tensor([[-1.0, 0.0, 2.0]])
    np.testing.assert_allclose(x.sigmoid().numpy(), F.sigmoid(x).numpy())
    np.testing.assert_allclose(x.tanh().numpy(), np.tanh(x.numpy()))
    assert x.relu().tolist() == [[0.0, 0.0, 2.0]] and tc.relu(x).tolist() == [[0.0, 0.0, 2.0]]
    np.testing.assert_allclose(x.softmax(dim=1).numpy(), F.softmax(x, 1).numpy())
    np.testing.assert_allclose(x.softmax(1).sum(1).numpy(), [1.0], rtol=1e-6)
    np.testing.assert_allclose(x.log_softmax(-1).numpy(), np.log(x.softmax(-1).numpy()), rtol=1e-6)
    np.testing.assert_allclose(tc.softmax(x, 1).numpy(), x.softmax(1).numpy())
    with pytest.raises(TypeError, match="dim"):
        x.softmax()  # dim is required, as torch's Tensor.softmax
    with pytest.raises(TypeError, match="dim must be an int"):
        x.softmax(None)


def test_gradients_at_the_kinks_follow_torch():
    x = t64([-1.0, 0.0, 2.0])
    x.abs().sum().backward()
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]
    x.grad = None
    x.clamp(-1.0, 2.0).sum().backward()  # both ends included
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    x.grad = None
    tc.maximum(x, t64([-1.0, 1.0, 3.0], requires_grad=False)).sum().backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.0]  # a tie shares the gradient in halves
    x.grad = None
    x.sign().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_gradchecks():
    rng = np.random.default_rng(0)
    x = t64(rng.uniform(0.5, 2.0, (2, 3)) * rng.choice([-1.0, 1.0], (2, 3)))
    pos = t64(rng.uniform(0.5, 2.0, (2, 3)))
    other = t64(rng.standard_normal((3,)))
    assert tc.gradcheck(lambda t: t.abs(), [x])
    assert tc.gradcheck(lambda t: t.exp() + t.sign(), [x])
    assert tc.gradcheck(lambda t: t.sqrt() + t.log(), [pos])
    assert tc.gradcheck(lambda t: t.clamp(-0.7, 1.3), [x])
    assert tc.gradcheck(lambda t: t.clamp(min=other.detach()), [x])
    assert tc.gradcheck(lambda a, b: tc.maximum(a, b) + tc.minimum(a, b) * 2, [x, other])
    assert tc.gradcheck(lambda t: t.square(), [x])


def test_errors():
    x = tc.tensor([1.0])
    with pytest.raises(ValueError, match="at least one"):
        x.clamp()
    with pytest.raises(TypeError, match="min must be"):
        x.clamp(min="a")
    with pytest.raises(TypeError, match="bool"):
        tc.tensor([True]).abs()
    with pytest.raises(TypeError, match="x must be a Tensor"):
        tc.exp(1.0)
    with pytest.raises(TypeError, match="other must be a Tensor"):
        tc.maximum(x, 1.0)  # torch.maximum needs two tensors


@pytest.mark.peer
@pytest.mark.parametrize("name", ["abs", "sqrt", "exp", "log", "sign", "clamp", "sigmoid", "tanh", "relu",
                                  "softmax", "log_softmax", "maximum", "minimum", "square"])
def test_elementwise_match_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x_np = rng.integers(-3, 4, (3, 4)).astype(np.float64) / 2  # zeros and ties included
    if name in ("sqrt", "log"):
        x_np = np.abs(x_np) + 0.25
    o_np = rng.integers(-3, 4, (4,)).astype(np.float64) / 2
    calls = {"clamp": lambda t, o: t.clamp(-0.5, 1.0), "softmax": lambda t, o: t.softmax(1),
             "log_softmax": lambda t, o: t.log_softmax(0), "maximum": lambda t, o: t.maximum(o),
             "minimum": lambda t, o: t.minimum(o)}
    fn = calls.get(name, lambda t, o: getattr(t, name)())
    out = []
    for lib in (tc, torch):
        x = lib.tensor(x_np, requires_grad=True)
        y = fn(x, lib.tensor(o_np))
        y.backward(lib.tensor(np.cos(np.arange(12.0)).reshape(3, 4)))
        out.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-12, atol=1e-12)
