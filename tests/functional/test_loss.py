"""cross_entropy and nll_loss: gradchecks, values against the plain formula, reductions, errors."""

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


def naive_cross_entropy(z, t):
    """Per-row -log(exp(z_t) / sum_j exp(z_j)), written as loops."""
    out = []
    for row, label in zip(z, t):
        total = sum(np.exp(v) for v in row)
        out.append(-np.log(np.exp(row[label]) / total))
    return np.array(out)


def reduce(losses, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](losses)


@given(n=st.integers(1, 4), c=st.integers(1, 5), reduction=reductions, seed=seeds,
       target_kind=st.sampled_from(["tensor", "list", "int32"]))
def test_cross_entropy(n, c, reduction, seed, target_kind):
    rng = np.random.default_rng(seed)
    z_np, t_np = 2 * rng.standard_normal((n, c)), rng.integers(0, c, n)
    target = {"tensor": tc.tensor(t_np.tolist()), "list": t_np.tolist(), "int32": t_np.astype(np.int32)}[target_kind]
    z = t64(z_np)
    loss = F.cross_entropy(z, target, reduction=reduction)
    expected = reduce(naive_cross_entropy(z_np, t_np), reduction)
    assert loss.shape == np.shape(expected) and loss.dtype == np.float64
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-10)
    assert tc.gradcheck(lambda u: F.cross_entropy(u, target, reduction=reduction), [z])


@given(n=st.integers(1, 4), c=st.integers(1, 5), reduction=reductions, seed=seeds)
def test_nll_loss(n, c, reduction, seed):
    rng = np.random.default_rng(seed)
    lp_np, t_np = rng.standard_normal((n, c)), rng.integers(0, c, n)
    lp = t64(lp_np)
    loss = F.nll_loss(lp, t_np, reduction=reduction)
    picked = np.array([-lp_np[i, t_np[i]] for i in range(n)])
    np.testing.assert_allclose(loss.numpy(), reduce(picked, reduction), rtol=1e-12)
    assert tc.gradcheck(lambda u: F.nll_loss(u, t_np, reduction=reduction), [lp])
    # cross-entropy is nll_loss of log_softmax
    z = t64(lp_np)
    np.testing.assert_allclose(F.cross_entropy(z, t_np, reduction=reduction).numpy(),
                               F.nll_loss(F.log_softmax(z, axis=1), t_np, reduction=reduction).numpy(), rtol=1e-12)


def test_cross_entropy_hand_values():
    # uniform logits over 4 classes: loss ln 4, gradient (1/4 - onehot) / N
    z = t64(np.zeros((2, 4)))
    loss = F.cross_entropy(z, [1, 3])
    assert loss.shape == () and loss.item() == pytest.approx(np.log(4))
    loss.backward()
    np.testing.assert_allclose(z.grad.numpy(), [[0.125, -0.375, 0.125, 0.125], [0.125, 0.125, 0.125, -0.375]])
    f32 = F.cross_entropy(tc.tensor([[0.0, 0.0]]), [0])
    assert f32.dtype == np.float32 and f32.item() == pytest.approx(np.log(2))


def test_nll_loss_repeated_labels_hand_values():
    lp = t64([[-1.0, -2.0], [-3.0, -4.0], [-5.0, -6.0]])
    loss = F.nll_loss(lp, [0, 0, 1], reduction="sum")
    assert loss.item() == 1.0 + 3.0 + 6.0
    loss.backward()
    np.testing.assert_array_equal(lp.grad.numpy(), [[-1, 0], [-1, 0], [0, -1]])


# --- errors --------------------------------------------------------------------------------------------------

def test_cross_entropy_label_out_of_range_names_it():
    z = t64(np.zeros((3, 10)))
    with pytest.raises(ValueError) as info:
        F.cross_entropy(z, [1, 10, 2])
    msg = str(info.value)
    assert "target[1] = 10" in msg and "10 classes" in msg
    with pytest.raises(ValueError, match=r"target\[0\] = -1"):
        F.cross_entropy(z, [-1, 0, 0])


def test_cross_entropy_errors():
    z = t64(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"target must have shape \(3,\).*\(3, 4\).*got \(2,\)"):
        F.cross_entropy(z, [0, 1])
    with pytest.raises(TypeError, match="target must hold integer class indices, got dtype float64"):
        F.cross_entropy(z, np.zeros(3))
    # a 1-D input is PyTorch's unbatched (C,) form, with a 0-d target (it used to raise "must be 2-D")
    with pytest.raises(ValueError, match=r"target must have shape \(\) to match logits \(4,\), got \(1,\)"):
        F.cross_entropy(t64(np.zeros(4)), [0])
    with pytest.raises(ValueError, match=r"logits must have at least 1 dim"):
        F.cross_entropy(t64(0.0), 0)
    with pytest.raises(ValueError, match="reduction.*'avg'"):
        F.cross_entropy(z, [0, 0, 0], reduction="avg")
    with pytest.raises(TypeError, match="logits must have a floating dtype"):
        F.cross_entropy(tc.tensor([[1, 2]]), [0])


def test_nll_loss_errors():
    # Regression: nll_loss checked nothing: label -1 silently picked the last class, a label C raised a bare
    # IndexError, and an unknown reduction was taken as "mean".
    lp = t64(np.zeros((3, 10)))
    with pytest.raises(ValueError, match=r"nll_loss: target\[1\] = 10 .*10 classes"):
        F.nll_loss(lp, [1, 10, 2])
    with pytest.raises(ValueError, match=r"nll_loss: target\[0\] = -1"):
        F.nll_loss(lp, [-1, 0, 0])
    with pytest.raises(ValueError, match=r"nll_loss: target must have shape \(3,\).*got \(2,\)"):
        F.nll_loss(lp, [0, 1])
    with pytest.raises(TypeError, match="nll_loss: target must hold integer"):
        F.nll_loss(lp, np.zeros(3))
    with pytest.raises(ValueError, match="nll_loss: reduction.*'avg'"):
        F.nll_loss(lp, [0, 0, 0], reduction="avg")
    with pytest.raises(ValueError, match=r"nll_loss: target must have shape \(\) to match log_probs \(10,\)"):
        F.nll_loss(t64(np.zeros(10)), [0])
