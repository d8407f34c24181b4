"""dropout2d: whole channels dropped, survivors scaled by 1/(1-p), identity in eval, its gradient, errors."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn


def test_whole_channels_dropped_and_scaled():
    tc.manual_seed(0)
    x = tc.Tensor(np.ones((8, 6, 3, 3)), requires_grad=True)
    y = F.dropout2d(x, p=0.5)
    values = y.numpy()
    per_channel = values.reshape(8, 6, -1)
    # each (n, c) map is all 0 or all 2
    assert np.all((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2))
    kept = (per_channel[:, :, 0] == 2).mean()
    assert 0.2 < kept < 0.8  # 48 channels: some dropped, some kept
    y.backward(np.ones(values.shape))
    np.testing.assert_array_equal(x.grad.numpy(), values)  # the gradient uses the same mask

    def same_mask(t):  # reseeded on every call: gradcheck's evaluations all draw the same mask
        tc.manual_seed(1)
        return F.dropout2d(t, 0.3)

    assert tc.gradcheck(same_mask, [tc.Tensor(np.random.default_rng(0).standard_normal((2, 3, 2, 2)),
                                              requires_grad=True)])


def test_eval_p0_and_p1():
    x = tc.Tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4)))
    assert F.dropout2d(x, 0.5, training=False) is x
    assert F.dropout2d(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout2d(x, 1.0).numpy(), 0.0)
    layer = nn.Dropout2d(0.5)
    assert repr(layer) == "Dropout2d(p=0.5, inplace=False)"
    assert layer.eval()(x) is x


def test_three_d_input_warns_as_pytorch():
    x = tc.Tensor(np.ones((2, 3, 5)))
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        y = F.dropout2d(x, 0.5)
    per_channel = y.numpy()
    assert np.all((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2))


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.dropout2d(tc.Tensor(np.ones((2, 3, 2, 2))), 1.5), ValueError, "p must be a probability"),
    (lambda: F.dropout2d(tc.Tensor(np.ones(3)), 0.5), ValueError, "at least 2 dims"),
    (lambda: F.dropout2d(tc.tensor([[1, 2]]), 0.5), TypeError, "floating dtype"),
    (lambda: nn.Dropout2d(-0.1), ValueError, "between 0 and 1"),
    (lambda: nn.Dropout(0.5, inplace=1), TypeError, "inplace must be a bool"),
])
def test_errors(call, error, words):
    with pytest.warns(UserWarning) if "at least" in words else _nothing():
        with pytest.raises(error, match=words):
            call()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.peer
def test_statistics_match_torch():
    """Masks come from different generators; the distribution must agree: the kept fraction and the scale."""
    torch = pytest.importorskip("torch")
    tc.manual_seed(0)
    torch.manual_seed(0)
    x = np.ones((64, 32, 2, 2))
    ours = F.dropout2d(tc.Tensor(x), 0.25).numpy()
    theirs = torch.nn.functional.dropout2d(torch.tensor(x), 0.25).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 1 / 0.75}
    assert abs((ours > 0).mean() - (theirs > 0).mean()) < 0.05
