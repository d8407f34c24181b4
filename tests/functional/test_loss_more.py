"""cross_entropy and nll_loss with PyTorch's options (weight, ignore_index, label_smoothing, (N, C, d1..)
inputs, unbatched inputs, probability targets), one_hot, mse_loss, l1_loss, binary_cross_entropy(_with_logits):
hand values, float64 gradchecks, errors, and the PyTorch peer on the same inputs."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F

seeds = st.integers(0, 2**32 - 1)
reductions = st.sampled_from(["mean", "sum", "none"])


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ----- hand values ----------------------------------------------------------------------------------------

def test_weighted_mean_divides_by_the_targets_weights():
    # uniform logits over 2 classes: every loss is ln 2; weights 1 and 3; targets [0, 1, 1]
    z = t64(np.zeros((3, 2)))
    w = tc.Tensor(np.array([1.0, 3.0]))
    loss = F.cross_entropy(z, [0, 1, 1], weight=w)
    # sum_i w[y_i] ln2 / sum_i w[y_i] = ln 2 (a plain mean of weighted losses would be 7 ln2 / 3)
    assert loss.item() == pytest.approx(math.log(2), rel=1e-14)
    per = F.cross_entropy(z, [0, 1, 1], weight=w, reduction="none").numpy()
    np.testing.assert_allclose(per, [math.log(2), 3 * math.log(2), 3 * math.log(2)])
    assert F.cross_entropy(z, [0, 1, 1], weight=w, reduction="sum").item() == pytest.approx(7 * math.log(2))


def test_ignore_index_leaves_out_the_target_and_its_weight():
    lp = t64([[-1.0, -2.0], [-3.0, -4.0], [-5.0, -6.0]])
    loss = F.nll_loss(lp, [0, -100, 1])
    assert loss.item() == pytest.approx((1.0 + 6.0) / 2)  # two targets count, not three
    loss.backward()
    np.testing.assert_allclose(lp.grad.numpy(), [[-0.5, 0], [0, 0], [0, -0.5]])
    assert F.nll_loss(lp, [0, 7, 1], ignore_index=7, reduction="sum").item() == 7.0
    np.testing.assert_array_equal(F.nll_loss(lp, [0, 7, 1], ignore_index=7, reduction="none").numpy(), [1, 0, 6])
    # every target ignored: 0 / 0, NaN as in PyTorch
    assert math.isnan(F.cross_entropy(t64(np.zeros((2, 3))), [-100, -100]).item())


def test_label_smoothing_mixes_with_the_uniform_distribution():
    z = np.array([[2.0, 0.0, -1.0]])
    logp = z - np.log(np.exp(z).sum())
    eps = 0.3
    expected = -((1 - eps) * logp[0, 0] + eps / 3 * logp[0].sum())
    loss = F.cross_entropy(t64(z), [0], label_smoothing=eps)
    assert loss.item() == pytest.approx(expected, rel=1e-14)
    # the same as probability targets (1 - eps) onehot + eps / C
    q = np.full((1, 3), eps / 3)
    q[0, 0] += 1 - eps
    assert F.cross_entropy(t64(z), tc.Tensor(q)).item() == pytest.approx(expected, rel=1e-14)


def test_spatial_and_unbatched_inputs():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 3, 4, 5))  # (N, C, H, W): a loss per pixel
    t = rng.integers(0, 3, (2, 4, 5))
    per = F.cross_entropy(t64(z), t, reduction="none").numpy()
    assert per.shape == (2, 4, 5)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n, h, w = np.indices(t.shape)
    np.testing.assert_allclose(per, -logp[n, t, h, w], rtol=1e-13)
    one = F.cross_entropy(t64([1.0, 2.0, 3.0]), np.array(2))  # (C,) with a 0-d target
    assert one.shape == () and one.item() == pytest.approx(-(3 - np.log(np.exp([1.0, 2.0, 3.0]).sum())))


@given(shape=st.sampled_from([(4, 3), (2, 3, 4), (2, 4, 2, 3), (5,)]), reduction=reductions, seed=seeds,
       weighted=st.booleans(), eps=st.sampled_from([0.0, 0.2]), probs=st.booleans())
def test_gradcheck(shape, reduction, seed, weighted, eps, probs):
    rng = np.random.default_rng(seed)
    c = shape[0] if len(shape) == 1 else shape[1]
    z = t64(2 * rng.standard_normal(shape))
    w = tc.Tensor(rng.uniform(0.5, 2.0, c)) if weighted else None
    if probs:
        q = rng.uniform(0.1, 1.0, shape)
        q /= q.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
        target = t64(q)  # its gradient is checked too
        inputs = [z, target]
    else:
        pos = () if len(shape) == 1 else shape[:1] + shape[2:]
        target = rng.integers(0, c, pos)
        if target.ndim:
            target.reshape(-1)[0] = -100  # one ignored position
        inputs = [z]
    assert tc.gradcheck(lambda *ts: F.cross_entropy(ts[0], ts[1] if probs else target, weight=w,
                                                    reduction=reduction, label_smoothing=eps), inputs)
    if not probs:
        assert tc.gradcheck(lambda u: F.nll_loss(u, target, weight=w, reduction=reduction), [z])


def test_one_hot():
    out = F.one_hot(tc.tensor([2, 0, 1]))
    assert out.dtype == np.int64 and out.numpy().tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert F.one_hot(tc.tensor([[1], [0]]), num_classes=4).shape == (2, 1, 4)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(tc.tensor([-1, 0]))
    with pytest.raises(ValueError, match="smaller than num_classes \\(2\\)"):
        F.one_hot(tc.tensor([2]), num_classes=2)
    with pytest.raises(TypeError, match="one_hot: tensor must hold integer"):
        F.one_hot(tc.tensor([1.0]))
    with pytest.raises(ValueError, match="empty tensor"):
        F.one_hot(tc.Tensor(np.zeros(0, np.int64)))


def test_regression_losses_hand_values():
    x, y = t64([1.0, 2.0, 4.0]), tc.Tensor(np.array([0.0, 2.0, 1.0]))
    loss = F.mse_loss(x, y)
    assert loss.item() == pytest.approx((1 + 0 + 9) / 3)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 / 3, 0, 2.0])
    x = t64([1.0, 2.0, 4.0])
    loss = F.l1_loss(x, y, reduction="sum")
    assert loss.item() == 4.0
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0])  # sign: 0 where input == target
    weighted = F.mse_loss(t64([1.0, 2.0]), tc.Tensor(np.zeros(2)), weight=tc.Tensor(np.array([1.0, 3.0])))
    assert weighted.item() == pytest.approx((1 + 12) / 4)  # sum w e / sum w


def test_mse_broadcast_warns_as_pytorch():
    pred = t64(np.arange(3.0).reshape(3, 1))
    with pytest.warns(UserWarning, match="different to the input size"):
        loss = F.mse_loss(pred.reshape(3), tc.Tensor(np.zeros((3, 1))))  # (3,) against (3, 1): (3, 3)
    assert loss.item() == pytest.approx((0 + 1 + 4) / 3)


def test_binary_cross_entropy_hand_values_and_clamp():
    p, y = t64([0.5, 0.9, 0.0]), tc.Tensor(np.array([1.0, 0.0, 1.0]))
    loss = F.binary_cross_entropy(p, y, reduction="none").numpy()
    np.testing.assert_allclose(loss, [math.log(2), -math.log(0.1), 100.0])  # log clamped at -100, as PyTorch
    z = t64([0.0, 1000.0, -1000.0])
    bce = F.binary_cross_entropy_with_logits(z, tc.Tensor(np.array([1.0, 1.0, 1.0])), reduction="none").numpy()
    np.testing.assert_allclose(bce, [math.log(2), 0.0, 1000.0])  # no overflow
    pw = F.binary_cross_entropy_with_logits(t64([0.0]), tc.Tensor(np.array([1.0])), pos_weight=tc.Tensor(
        np.array([3.0])))
    assert pw.item() == pytest.approx(3 * math.log(2))


@given(reduction=reductions, seed=seeds, weighted=st.booleans())
def test_elementwise_gradchecks(reduction, seed, weighted):
    rng = np.random.default_rng(seed)
    shape = (3, 4)
    w = tc.Tensor(rng.uniform(0.5, 2.0, shape)) if weighted else None
    a, b = t64(rng.standard_normal(shape)), t64(rng.standard_normal(shape))
    assert tc.gradcheck(lambda u, v: F.mse_loss(u, v, reduction=reduction, weight=w), [a, b])
    a, b = t64(rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)), t64(rng.standard_normal(shape) * 0.1)
    assert tc.gradcheck(lambda u, v: F.l1_loss(u, v, reduction=reduction), [a, b])
    p, y = t64(rng.uniform(0.1, 0.9, shape)), t64(rng.uniform(0, 1, shape))
    assert tc.gradcheck(lambda u, v: F.binary_cross_entropy(u, v, weight=w, reduction=reduction), [p, y])
    z = t64(2 * rng.standard_normal(shape))
    pos = tc.Tensor(rng.uniform(0.5, 3.0, (4,)))
    assert tc.gradcheck(lambda u, v: F.binary_cross_entropy_with_logits(u, v, weight=w, reduction=reduction,
                                                                        pos_weight=pos), [z, y])


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.cross_entropy(t64(np.zeros((2, 3))), [0, 1], weight=tc.Tensor(np.ones(2))), ValueError,
     r"weight must have shape \(3,\)"),
    (lambda: F.cross_entropy(t64(np.zeros((2, 3))), [0, 1], label_smoothing=1.5), ValueError, "label_smoothing"),
    (lambda: F.cross_entropy(t64(np.zeros((2, 3))), [0, 1], ignore_index=1.0), TypeError, "ignore_index"),
    (lambda: F.cross_entropy(t64(np.zeros((2, 3))), tc.Tensor(np.zeros((2, 3))), ignore_index=0),
     NotImplementedError, "ignore_index is not supported for floating point target"),
    (lambda: F.cross_entropy(t64(np.zeros((2, 3))), [0, 1], size_average=True), NotImplementedError, "reduction="),
    (lambda: F.cross_entropy(t64(np.zeros((2, 3, 4))), np.zeros((2, 3), np.int64)), ValueError,
     r"target must have shape \(2, 4\)"),
    (lambda: F.cross_entropy(t64(np.zeros((1, 3, 2))), np.array([[0, 5]])), ValueError, r"target\[0, 1\] = 5"),
    (lambda: F.mse_loss(t64([1.0]), tc.tensor([1])), TypeError, "mse_loss: target must have the input's dtype"),
    (lambda: F.mse_loss(t64([1.0, 2.0]), t64([1.0, 2.0, 3.0])), ValueError, "does not broadcast"),
    (lambda: F.l1_loss(t64([1.0]), [1.0]), TypeError, "l1_loss: target must be a Tensor or an array"),
    (lambda: F.binary_cross_entropy(t64([1.5]), t64([1.0])), ValueError, "between 0 and 1"),
    (lambda: F.binary_cross_entropy(t64([0.5]), t64([[1.0]])), ValueError, "must be the same as input size"),
    (lambda: F.binary_cross_entropy_with_logits(t64([0.5, 1.0]), t64([1.0, 0.0]), pos_weight=t64([1.0, 2.0, 3.0])),
     ValueError, "pos_weight of shape"),
    (lambda: F.mse_loss(t64([1.0]), t64([1.0]), reduction="avg"), ValueError, "reduction"),
])
def test_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


# ----- against PyTorch -----------------------------------------------------------------------------------

@pytest.mark.peer
@given(shape=st.sampled_from([(5, 4), (3, 4, 2), (2, 3, 2, 2), (4,)]), reduction=reductions, seed=seeds,
       weighted=st.booleans(), eps=st.sampled_from([0.0, 0.1]), kind=st.sampled_from(["ignore", "plain", "probs"]))
def test_cross_entropy_against_torch(shape, reduction, seed, weighted, eps, kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    c = shape[0] if len(shape) == 1 else shape[1]
    z_np = 3 * rng.standard_normal(shape)
    w_np = rng.uniform(0.2, 3.0, c) if weighted else None
    if kind == "probs":
        q = rng.uniform(0.0, 1.0, shape)
        t_ours, t_theirs = tc.Tensor(q), torch.tensor(q)
    else:
        pos = () if len(shape) == 1 else shape[:1] + shape[2:]
        t = rng.integers(0, c, pos)
        if kind == "ignore" and t.ndim:
            t.reshape(-1)[rng.integers(0, t.size)] = -100
        t_ours, t_theirs = t, torch.tensor(t)
    z, tz = t64(z_np), torch.tensor(z_np, requires_grad=True)
    w = tc.Tensor(w_np) if weighted else None
    tw = torch.tensor(w_np) if weighted else None
    y = F.cross_entropy(z, t_ours, weight=w, reduction=reduction, label_smoothing=eps)
    ty = torch.nn.functional.cross_entropy(tz, t_theirs, weight=tw, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(z.grad.numpy(), tz.grad.numpy(), rtol=1e-11, atol=1e-14)
    if kind != "probs":
        lp = t64(np.log(rng.uniform(0.05, 1.0, shape)))
        tlp = torch.tensor(lp.numpy(), requires_grad=True)
        y = F.nll_loss(lp, t_ours, weight=w, reduction=reduction)
        ty = torch.nn.functional.nll_loss(tlp, t_theirs, weight=tw, reduction=reduction)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.peer
@given(reduction=reductions, seed=seeds, weighted=st.booleans())
def test_elementwise_losses_against_torch(reduction, seed, weighted):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(seed)
    shape = (3, 4)
    w_np = rng.uniform(0.5, 2.0, shape) if weighted else None
    pw_np = rng.uniform(0.5, 3.0, (4,))
    cases = [
        ("mse", lambda a, b: F.mse_loss(a, b, reduction=reduction), lambda a, b: tf.mse_loss(a, b, reduction=reduction),
         rng.standard_normal(shape), rng.standard_normal(shape)),
        ("l1", lambda a, b: F.l1_loss(a, b, reduction=reduction), lambda a, b: tf.l1_loss(a, b, reduction=reduction),
         rng.standard_normal(shape), rng.standard_normal(shape)),
        ("bce", lambda a, b: F.binary_cross_entropy(a, b, weight=tc.Tensor(w_np) if weighted else None,
                                                    reduction=reduction),
         lambda a, b: tf.binary_cross_entropy(a, b, weight=torch.tensor(w_np) if weighted else None,
                                              reduction=reduction),
         rng.uniform(0.01, 0.99, shape), rng.uniform(0, 1, shape)),
        ("bce_logits",
         lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=tc.Tensor(w_np) if weighted else None,
                                                         reduction=reduction, pos_weight=tc.Tensor(pw_np)),
         lambda a, b: tf.binary_cross_entropy_with_logits(a, b, weight=torch.tensor(w_np) if weighted else None,
                                                          reduction=reduction, pos_weight=torch.tensor(pw_np)),
         3 * rng.standard_normal(shape), rng.uniform(0, 1, shape)),
    ]
    for name, ours, theirs, a_np, b_np in cases:
        a, b = t64(a_np), t64(b_np)
        ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
        y, ty = ours(a, b), theirs(ta, tb)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
        np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.peer
def test_one_hot_against_torch():
    torch = pytest.importorskip("torch")
    t = np.array([[3, 0], [1, 2]])
    np.testing.assert_array_equal(F.one_hot(tc.tensor(t)).numpy(), torch.nn.functional.one_hot(torch.tensor(t)))
    np.testing.assert_array_equal(F.one_hot(tc.tensor(t), 6).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(t), 6).numpy())
