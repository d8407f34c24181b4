"""What the ops keep for backward: nothing bigger than what their neighbours hold anyway.

A network's memory is the arrays its graph keeps between forward and backward. conv2d keeps its input (which the
layer before holds) instead of the 9x larger im2col columns, batch norm recomputes x_hat from its input instead of
keeping a copy, and ReLU keeps its output (which the next layer holds) instead of a mask. benchmarks/memory.py
measures the effect: ResNet-50's batch-8 peak fell from 2.05x to about 1.25x PyTorch's.
"""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.kernels.conv as conv_module


def saved_arrays(out):
    """Every array the op that made ``out`` keeps for its backward (attributes of its Function)."""
    found = []
    for value in vars(out._ctx).values():
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(v, np.ndarray):
                found.append(v)
    return found


def extra_bytes(out, *held):
    """Bytes of saved arrays that share no memory with ``held`` (arrays that others keep alive anyway)."""
    return sum(a.nbytes for a in saved_arrays(out) if not any(np.shares_memory(a, h) for h in held))


@pytest.mark.parametrize("kernel, stride, padding", [(3, 1, 1), (1, 1, 0), (1, 2, 0), (5, 1, 2)])
@pytest.mark.parametrize("budget", [None, 1])  # the fast kernel on one band, and on one band per output row
def test_conv2d_keeps_its_input_not_the_columns(kernel, stride, padding, budget, monkeypatch):
    if budget is not None:
        monkeypatch.setattr(conv_module, "COLS_BUDGET", budget)
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((4, 8, 12, 12)).astype(np.float32), requires_grad=True)
    w = tc.Tensor(rng.standard_normal((8, 8, kernel, kernel)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, stride=stride, padding=padding)
    assert extra_bytes(y, x.data, w.data) == 0
    y.backward(np.ones(y.shape, np.float32))  # and the rebuilt columns give the right gradient:
    # with an upstream gradient of ones, dw[o, c, i, j] = the sum of the inputs that kernel offset (i, j) meets
    xpad = np.pad(x.numpy().astype(np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = y.shape[2]
    expected = np.empty(w.shape)
    for i in range(kernel):
        for j in range(kernel):
            met = xpad[:, :, i:i + stride * (h_out - 1) + 1:stride, j:j + stride * (h_out - 1) + 1:stride]
            expected[:, :, i, j] = met.sum(axis=(0, 2, 3))
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-4, atol=1e-3)


def test_relu_keeps_only_its_output():
    x = tc.Tensor(np.random.default_rng(1).standard_normal((64, 64)), requires_grad=True)
    y = F.relu(x)
    assert extra_bytes(y, y.data) == 0
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.numpy(), (x.numpy() > 0).astype(float))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_keeps_its_input_and_per_channel_statistics(training):
    rng = np.random.default_rng(2)
    c = 5
    x = tc.Tensor(rng.standard_normal((6, c, 4, 4)), requires_grad=True)
    weight, bias = tc.Tensor(np.ones(c), requires_grad=True), tc.Tensor(np.zeros(c), requires_grad=True)
    y = F.batch_norm(x, np.zeros(c), np.ones(c), weight, bias, training=training)
    assert all(np.shares_memory(a, x.data) or a.size <= c for a in saved_arrays(y))


def test_batch_norm_eval_backward_uses_the_statistics_of_its_forward():
    # the running statistics may move (another training step) between this forward and its backward
    c = 3
    running_mean, running_var = np.full(c, 0.5), np.full(c, 4.0)
    x = tc.Tensor(np.random.default_rng(3).standard_normal((2, c, 3, 3)), requires_grad=True)
    weight = tc.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = F.batch_norm(x, running_mean, running_var, weight, training=False, eps=0.0)
    expected_dw = ((x.numpy() - 0.5) / 2.0).sum(axis=(0, 2, 3))
    running_mean += 10.0
    running_var *= 9.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to((weight.numpy() / 2.0)[None, :, None, None],
                                                                x.shape))
    np.testing.assert_allclose(weight.grad.numpy(), expected_dw)
