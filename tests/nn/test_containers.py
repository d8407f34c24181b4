"""Containers: Sequential, Concat (Inception), Residual (ResNet): structure, shapes, gradients, errors."""

from collections import OrderedDict

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn


def t(array, requires_grad=False, dtype=np.float32):
    return tc.Tensor(np.asarray(array, dtype=dtype), requires_grad=requires_grad)


def to_float64(module):
    """Turn every parameter of ``module`` into float64 in place (for finite-difference gradient checks)."""
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


# ----- Sequential -----

def test_sequential_index_len_iter_slice(rng):
    layers = [nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3), nn.Tanh()]
    seq = nn.Sequential(*layers)
    assert len(seq) == 4
    assert seq[0] is layers[0] and seq[2] is layers[2] and seq[-1] is layers[3]
    assert list(seq) == layers
    head = seq[:3]
    assert isinstance(head, nn.Sequential) and len(head) == 3
    assert list(head) == layers[:3]
    assert [n for n, _ in head.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(IndexError):
        seq[4]
    # a slice runs the same layers: seq = tanh(head(x))
    x = t(rng.standard_normal((2, 4)))
    np.testing.assert_allclose(seq(x).numpy(), np.tanh(head(x).numpy()), rtol=1e-6)


def test_sequential_forward_is_composition(rng):
    a, b = nn.Linear(3, 4), nn.Linear(4, 2)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    expected = np.maximum(x @ a.weight.numpy().T + a.bias.numpy(), 0) @ b.weight.numpy().T + b.bias.numpy()
    out = nn.Sequential(a, nn.ReLU(), b)(t(x)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_sequential_ordered_dict_names_and_append():
    seq = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert [n for n, _ in seq.named_parameters()] == ["conv.weight", "conv.bias"]
    assert seq.conv is seq[0]
    seq2 = nn.Sequential(nn.ReLU()).append(nn.Linear(2, 2))
    assert len(seq2) == 2 and [n for n, _ in seq2.named_parameters()] == ["1.weight", "1.bias"]


# ----- Concat -----

def test_concat_output_channels_are_the_sum(rng):
    block = nn.Concat(nn.Conv2d(3, 4, 1), nn.Conv2d(3, 5, 3, padding=1),
                      nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(3, 2, 1)))
    x = t(rng.standard_normal((2, 3, 6, 6)))
    out = block(x)
    assert out.shape == (2, 4 + 5 + 2, 6, 6)
    # the channels are the branches' outputs, in branch order
    np.testing.assert_allclose(out.numpy()[:, :4], block._modules["0"](x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(out.numpy()[:, 4:9], block._modules["1"](x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(out.numpy()[:, 9:], block._modules["2"](x).numpy(), rtol=1e-6)


def test_concat_branch_parameters_in_branch_order():
    block = nn.Concat(nn.Conv2d(3, 4, 1), nn.Conv2d(3, 5, 3))
    assert [n for n, _ in block.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_concat_mismatched_spatial_sizes_raise(rng):
    block = nn.Concat(nn.Conv2d(3, 4, 1), nn.Conv2d(3, 5, 3))  # 6x6 vs 4x4
    with pytest.raises(ValueError, match="tensors\\[1\\]"):
        block(t(rng.standard_normal((1, 3, 6, 6))))


def test_concat_needs_a_branch():
    with pytest.raises(ValueError):
        nn.Concat()


# ----- Residual -----

def test_residual_identity_gradient_flows_through_both_paths(rng):
    x = t(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    out = nn.Residual(nn.Identity())(x)
    np.testing.assert_allclose(out.numpy(), 2 * x.numpy())
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(x.shape, 2.0))


def test_residual_gradient_with_scaling_body(rng):
    class Scale(nn.Module):
        def forward(self, x):
            return x * 3.0

    x = t(rng.standard_normal((2, 5)), requires_grad=True)
    nn.Residual(Scale())(x).sum().backward()  # d(3x + x)/dx = 4
    np.testing.assert_allclose(x.grad.numpy(), np.full(x.shape, 4.0))


def test_residual_forward_value_with_projection_and_relu(rng):
    body = nn.Conv2d(2, 4, 3, padding=1)
    short = nn.Conv2d(2, 4, 1)
    x = t(rng.standard_normal((1, 2, 5, 5)))
    out = nn.Residual(body, short, nn.ReLU())(x).numpy()
    np.testing.assert_allclose(out, np.maximum(body(x).numpy() + short(x).numpy(), 0), rtol=1e-5, atol=1e-6)


def test_residual_registers_body_before_shortcut():
    block = nn.Residual(nn.Conv2d(2, 4, 3, padding=1), nn.Conv2d(2, 4, 1), nn.ReLU())
    assert [n for n, _ in block.named_parameters()] == ["body.weight", "body.bias", "shortcut.weight",
                                                         "shortcut.bias"]


@pytest.mark.parametrize("body", [
    nn.Conv2d(3, 4, 1),                 # channels differ
    nn.Conv2d(3, 3, 3),                 # spatial size differs
    nn.Conv2d(3, 1, 1),                 # would broadcast silently: must still be an error
])
def test_residual_mismatched_shapes_raise(rng, body):
    x = t(rng.standard_normal((2, 3, 6, 6)))
    with pytest.raises(ValueError) as info:
        nn.Residual(body)(x)
    message = str(info.value)
    assert str(tuple(body(x).shape)) in message and "(2, 3, 6, 6)" in message


# ----- float64 gradient checks through whole blocks -----

def _check_block(block, x_shape, rng):
    tc.manual_seed(0)
    to_float64(block)
    x = t(rng.standard_normal(x_shape), requires_grad=True, dtype=np.float64)
    params = list(block.parameters())
    assert all(p.dtype == np.float64 for p in params)
    assert tc.gradcheck(lambda x, *ps: block(x), [x] + params)


def test_gradcheck_residual_with_projection(rng):
    tc.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 3, 3, padding=1))
    block = nn.Residual(body, nn.Conv2d(2, 3, 1), nn.ReLU())
    _check_block(block, (2, 2, 4, 4), rng)


def test_gradcheck_residual_identity(rng):
    tc.manual_seed(1)
    body = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1))
    _check_block(nn.Residual(body, None, nn.ReLU()), (2, 2, 4, 4), rng)


def test_gradcheck_concat(rng):
    tc.manual_seed(2)
    block = nn.Concat(nn.Conv2d(2, 3, 1), nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU()))
    _check_block(block, (2, 2, 4, 4), rng)


def test_gradcheck_catches_a_broken_block(rng):
    """The checks above can fail: a layer whose backward is wrong is caught through the same containers."""
    from tinycnn.tensor import Function

    class WrongDouble(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, g):
            return (3 * g,)

    class Broken(nn.Module):
        def forward(self, x):
            return WrongDouble.apply(x)

    block = nn.Residual(nn.Sequential(nn.Conv2d(2, 2, 1), Broken()))
    with pytest.raises(tc.GradcheckError):
        _check_block(block, (1, 2, 3, 3), rng)
