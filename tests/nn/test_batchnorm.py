"""nn.BatchNorm2d and BatchNorm1d: parameters and buffers, PITFALLS P10 through the layer, train/eval behaviour, state_dict, a
float64 gradcheck in both modes, and the layer against torch.nn.BatchNorm2d over several steps."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.nn as nn

P10_X = np.array([[2, 15, 2, 1], [2, 17, 2, 1], [-4, -2, -2, -1]], dtype=np.float32)


def test_parameters_and_buffers():
    bn = nn.BatchNorm2d(4)
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(4))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(4))
    assert bn.num_parameters() == 8  # running statistics are not parameters (torchvision's count)
    state = bn.state_dict()
    # PyTorch's buffers, num_batches_tracked included (it was missing before issue 12)
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_array_equal(state["running_mean"], np.zeros(4))
    np.testing.assert_array_equal(state["running_var"], np.ones(4))
    assert state["running_var"].dtype == np.float32
    assert state["num_batches_tracked"].dtype == np.int64 and state["num_batches_tracked"].shape == ()
    assert state["num_batches_tracked"].item() == 0


def test_p10_through_the_layer():
    bn = nn.BatchNorm1d(4)  # (N, C) inputs: BatchNorm1d (BatchNorm2d took them before issue 12; PyTorch's raises)
    x = tc.Tensor(P10_X, requires_grad=True)
    y = bn(x)
    mean = np.array([0, 10, 2 / 3, 1 / 3])
    biased = np.array([8, 218 / 3, 32 / 9, 8 / 9])
    np.testing.assert_allclose(y.numpy(), (P10_X - mean) / np.sqrt(biased + 1e-5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_mean, [0, 1, 0.066667, 0.033333], atol=1e-6)
    np.testing.assert_allclose(bn.running_var, [2.1, 11.8, 1.433333, 1.033333], atol=1e-5)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.0, atol=1e-5)
    with pytest.raises(ValueError):
        bn(tc.Tensor(np.ones((1, 4), np.float32)))
    with pytest.raises(ValueError):
        nn.BatchNorm2d(4)(tc.Tensor(np.ones((1, 4, 1, 1), np.float32)))


def test_state_dict_carries_running_statistics():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3)
    for _ in range(3):
        bn(tc.Tensor(rng.normal(2.0, 3.0, (4, 3, 2, 2)).astype(np.float32)))
    state = bn.state_dict()
    assert not np.allclose(state["running_mean"], 0) and not np.allclose(state["running_var"], 1)
    fresh = nn.BatchNorm2d(3)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.running_mean, bn.running_mean)
    np.testing.assert_array_equal(fresh.running_var, bn.running_var)
    x = tc.Tensor(rng.standard_normal((2, 3, 2, 2)).astype(np.float32))
    np.testing.assert_array_equal(fresh.eval()(x).numpy(), bn.eval()(x).numpy())
    state["running_var"] = state["running_var"] * 2  # a copy: changing it leaves the layer alone
    assert not np.array_equal(state["running_var"], bn.running_var)


def test_eval_uses_running_statistics():
    bn = nn.BatchNorm2d(2)
    bn.running_mean.data[...] = [1.0, -2.0]
    bn.running_var.data[...] = [4.0, 9.0]
    bn.eval()
    x = np.arange(16, dtype=np.float32).reshape(2, 2, 2, 2)
    y = bn(tc.Tensor(x)).numpy()
    expected = (x - np.array([1.0, -2.0]).reshape(1, 2, 1, 1)) / np.sqrt(np.array([4.0, 9.0]) + 1e-5).reshape(
        1, 2, 1, 1)
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    np.testing.assert_array_equal(bn.running_mean, [1.0, -2.0])  # not updated in eval
    bn.train()
    y_train = bn(tc.Tensor(x)).numpy()
    assert not np.allclose(y_train, expected)


def test_wrong_channel_count_raises():
    with pytest.raises(ValueError, match="\\(3,\\)"):
        nn.BatchNorm2d(3)(tc.Tensor(np.ones((2, 4, 2, 2), np.float32)))


def _bn64(c, four_d=True):
    bn = (nn.BatchNorm2d if four_d else nn.BatchNorm1d)(c, dtype=np.float64)
    rng = np.random.default_rng(c)
    bn.weight.data[...] = rng.normal(1.0, 0.5, c)
    bn.bias.data[...] = rng.standard_normal(c)
    bn.running_mean.data[...] = rng.standard_normal(c)
    bn.running_var.data[...] = rng.uniform(0.3, 2.0, c)
    return bn


@given(n=st.integers(2, 3), c=st.integers(1, 3), hw=st.integers(1, 3), four_d=st.booleans(),
       training=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_gradcheck_float64(n, c, hw, four_d, training, seed):
    bn = _bn64(c, four_d).train(training)
    shape = (n, c, hw, hw) if four_d else (n, c)
    x = tc.Tensor(np.random.default_rng(seed).normal(0.3, 1.5, shape), requires_grad=True)
    # in training mode each forward also moves the running statistics, which the output does not read
    assert tc.gradcheck(lambda x_, w, b: bn(x_), [x, bn.weight, bn.bias])


@pytest.mark.peer
def test_against_torch_batchnorm2d_over_several_steps():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    c = 3
    mine = nn.BatchNorm2d(c, momentum=0.2, dtype=np.float64)
    peer = torch.nn.BatchNorm2d(c, momentum=0.2, dtype=torch.float64)
    w0, b0 = rng.normal(1.0, 0.3, c), rng.standard_normal(c)
    mine.weight.data[...] = w0
    mine.bias.data[...] = b0
    with torch.no_grad():
        peer.weight.copy_(torch.tensor(w0))
        peer.bias.copy_(torch.tensor(b0))
    for step in range(5):
        training = step < 4
        mine.train(training)
        peer.train(training)
        x0 = rng.normal(step, 1.0 + step, (4, c, 3, 2))
        r = rng.standard_normal(x0.shape)
        mine.zero_grad()
        peer.zero_grad()
        x, tx = tc.Tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
        y, ty = mine(x), peer(tx)
        (y * tc.Tensor(r)).sum().backward()
        (ty * torch.tensor(r)).sum().backward()
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(mine.weight.grad.numpy(), peer.weight.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(mine.bias.grad.numpy(), peer.bias.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(mine.running_mean, peer.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(mine.running_var, peer.running_var.numpy(), rtol=1e-12)
