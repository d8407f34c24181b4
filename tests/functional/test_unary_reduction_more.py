"""The one-input functions, activations and reductions the conformance snippets found missing (issue 12): log1p,
expm1, log2, log10, sin, cos, reciprocal, rsqrt, floor/ceil/round/trunc/frac, softplus, hardtanh, relu6, norm,
logsumexp, dot, cumsum; smooth_l1_loss and huber_loss. Hand values, float64 gradchecks, dtypes, and the peer."""

import math

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn

X = np.array([[0.3, -1.2, 2.5], [-0.7, 0.9, 1.7]])


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


SMOOTH = {  # name: (tinycnn function, NumPy reference, input)
    "log1p": (tc.log1p, np.log1p, np.abs(X)), "expm1": (tc.expm1, np.expm1, X), "log2": (tc.log2, np.log2, np.abs(X)),
    "log10": (tc.log10, np.log10, np.abs(X)), "sin": (tc.sin, np.sin, X), "cos": (tc.cos, np.cos, X),
    "reciprocal": (tc.reciprocal, lambda a: 1 / a, X), "rsqrt": (tc.rsqrt, lambda a: 1 / np.sqrt(a), np.abs(X)),
    "softplus": (F.softplus, lambda a: np.log1p(np.exp(a)), X),
    "softplus_beta": (lambda a: F.softplus(a, beta=2.0, threshold=3.0),
                      lambda a: np.where(2 * a > 3, a, np.log1p(np.exp(2 * a)) / 2), X),
    "hardtanh": (lambda a: F.hardtanh(a, -1.0, 2.0), lambda a: np.clip(a, -1, 2), X),
    "relu6": (lambda a: F.relu6(a * 3), lambda a: np.clip(a * 3, 0, 6), X),
    "norm": (tc.norm, lambda a: np.sqrt((a * a).sum()), X),
    "norm_dim": (lambda a: a.norm(dim=1), lambda a: np.sqrt((a * a).sum(1)), X),
    "norm_1": (lambda a: a.norm(p=1, dim=0, keepdim=True), lambda a: np.abs(a).sum(0, keepdims=True), X),
    "norm_3": (lambda a: a.norm(p=3), lambda a: (np.abs(a) ** 3).sum() ** (1 / 3), X),
    "norm_inf": (lambda a: a.norm(p=float("inf"), dim=1), lambda a: np.abs(a).max(1), X),
    "logsumexp": (lambda a: tc.logsumexp(a, dim=1), lambda a: np.log(np.exp(a).sum(1)), X),
    "cumsum": (lambda a: a.cumsum(dim=1), lambda a: np.cumsum(a, 1), X),
    "cumsum0": (lambda a: tc.cumsum(a, 0), lambda a: np.cumsum(a, 0), X),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_values_and_float64_gradcheck(name):
    fn, reference, values = SMOOTH[name]
    x = t64(values)
    y = fn(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), reference(values), rtol=1e-13, atol=1e-15)
    assert tc.gradcheck(fn, [x])


def test_integer_inputs_follow_torch():
    i = tc.tensor([1, 4])
    for fn in (tc.log1p, tc.sin, tc.rsqrt, tc.log2):
        assert fn(i).dtype == np.float32
    for fn in (tc.floor, tc.ceil, tc.round, tc.trunc):
        assert fn(i).dtype == np.int64 and fn(i).tolist() == [1, 4]
    assert tc.cumsum(tc.tensor([True, True, False]), 0).tolist() == [1, 2, 2]
    assert tc.cumsum(tc.tensor([1, 2], dtype=tc.int32), 0).dtype == np.int64
    assert tc.dot(tc.tensor([1, 2]), tc.tensor([3, 4])).item() == 11
    with pytest.raises(TypeError, match="floating point"):
        tc.tensor([1, 2]).norm()
    with pytest.raises(TypeError, match="same dtype"):
        tc.dot(tc.tensor([1.0]), tc.tensor([1]))
    with pytest.raises(ValueError, match="1D tensors"):
        tc.dot(tc.zeros(2, 2), tc.zeros(2, 2))


def test_rounding_half_to_even_and_zero_gradient():
    x = t64([0.5, 1.5, 2.5, -0.5, -1.7, 1.25])
    assert tc.round(x).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 1.0]
    assert x.round(decimals=1).tolist() == [0.5, 1.5, 2.5, -0.5, -1.7, 1.2]
    assert x.floor().tolist() == [0.0, 1.0, 2.0, -1.0, -2.0, 1.0] and x.ceil().tolist()[4] == -1.0
    assert x.trunc().tolist()[4] == -1.0
    (x.round() + x.floor() + x.ceil() + x.trunc()).sum().backward()
    assert x.grad.tolist() == [0.0] * 6
    x.grad = None
    x.frac().sum().backward()
    assert x.grad.tolist() == [1.0] * 6


def test_kinks_and_limits_as_torch():
    x = t64([-1.0, 1.0, 0.0, 6.0, 3.0])
    F.hardtanh(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]  # 0 at the bounds themselves, as PyTorch
    x.grad = None
    F.relu6(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 0.0, 1.0]
    z = t64([0.0, 0.0])
    z.norm().backward()
    assert z.grad.tolist() == [0.0, 0.0]  # not NaN: PyTorch's subgradient
    big = t64([1000.0, -1000.0])
    np.testing.assert_allclose(F.softplus(big).numpy(), [1000.0, 0.0])
    assert tc.logsumexp(tc.tensor([[-math.inf, -math.inf]]), dim=1).tolist() == [-math.inf]
    assert tc.logsumexp(tc.tensor([1e4, 1e4]), 0).item() == pytest.approx(1e4 + math.log(2))
    with pytest.raises(NotImplementedError, match="nuclear"):
        t64(X).norm(p="nuc")
    with pytest.raises(ValueError, match="max_val"):
        F.hardtanh(x, 1.0, -1.0)


def test_layers_and_repr():
    assert repr(nn.ReLU6()) == "ReLU6()" and repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    x = t64(X)
    np.testing.assert_allclose(nn.Softplus(beta=2)(x).numpy(), np.log1p(np.exp(2 * X)) / 2, rtol=1e-13)
    np.testing.assert_allclose(nn.ReLU6()(x * 3).numpy(), np.clip(3 * X, 0, 6))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_smooth_l1_and_huber(reduction):
    x, y = t64(X), t64(X[::-1].copy() * 0.5, requires_grad=False)
    d = X - X[::-1] * 0.5
    smooth = np.where(np.abs(d) < 0.8, 0.5 * d * d / 0.8, np.abs(d) - 0.4)
    huber = np.where(np.abs(d) < 0.8, 0.5 * d * d, 0.8 * (np.abs(d) - 0.4))
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction]
    np.testing.assert_allclose(F.smooth_l1_loss(x, y, reduction=reduction, beta=0.8).numpy(), reduce(smooth))
    np.testing.assert_allclose(nn.HuberLoss(reduction, delta=0.8)(x, y).numpy(), reduce(huber))
    assert tc.gradcheck(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.8), [x, t64(y.numpy())])
    assert tc.gradcheck(lambda a: F.huber_loss(a, y, reduction=reduction, delta=0.8), [x])
    np.testing.assert_allclose(nn.SmoothL1Loss(beta=0.0)(x, y).numpy(), np.abs(d).mean())  # beta 0: L1
    with pytest.raises(ValueError, match="beta"):
        F.smooth_l1_loss(x, y, beta=-1.0)


def test_calculate_gain_as_torch():
    assert nn.init.calculate_gain("relu") == math.sqrt(2) and nn.init.calculate_gain("conv2d") == 1
    assert nn.init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))  # param None: slope 0.01
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert nn.init.calculate_gain("tanh") == 5 / 3 and nn.init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")


@pytest.mark.peer
def test_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    cases = [lambda m, f, a: m.log1p(a.abs()), lambda m, f, a: a.expm1(),
             lambda m, f, a: m.log2(a.abs()), lambda m, f, a: a.abs().log10(),
             lambda m, f, a: m.sin(a) * m.cos(a), lambda m, f, a: a.reciprocal(),
             lambda m, f, a: a.abs().rsqrt(), lambda m, f, a: f.softplus(a, beta=1.5, threshold=2),
             lambda m, f, a: f.hardtanh(a, -0.5, 1.0), lambda m, f, a: f.relu6(a * 4),
             lambda m, f, a: m.norm(a, dim=0), lambda m, f, a: a.norm(p=1),
             lambda m, f, a: a.norm(p=float("inf")), lambda m, f, a: a.norm(p=0.5, dim=1),
             lambda m, f, a: m.logsumexp(a, dim=(0, 1)), lambda m, f, a: a.cumsum(1) * a,
             lambda m, f, a: f.smooth_l1_loss(a, a * 0.3, beta=0.5),
             lambda m, f, a: f.huber_loss(a, a * 0.1, delta=0.3),
             lambda m, f, a: m.dot(a[0], a[1]), lambda m, f, a: a.round(decimals=1) + a.frac()]
    for fn in cases:
        ours, theirs = t64(X), torch.tensor(X, requires_grad=True)
        y_ours, y_theirs = fn(tc, F, ours), fn(torch, tf, theirs)
        np.testing.assert_allclose(y_ours.numpy(), y_theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
        y_ours.sum().backward()
        y_theirs.sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-15)
