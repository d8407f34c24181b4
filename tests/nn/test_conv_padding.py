"""nn.Conv2d's padding='same' / 'valid' and padding_mode ('zeros', 'reflect', 'replicate', 'circular'), as
torch.nn.Conv2d: shapes, values by hand, gradchecks, the PyTorch peer (values and gradients), errors, repr."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
from tinycnn.functional.conv import pad_by_mode

MODES = ["zeros", "reflect", "replicate", "circular"]


def conv64(*args, **kwargs):
    """A float64 Conv2d with random weights (seeded), for gradchecks and the peer."""
    layer = nn.Conv2d(*args, dtype=np.float64, **kwargs)
    rng = np.random.default_rng(7)
    layer.weight.data[...] = rng.standard_normal(layer.weight.shape)
    if layer.bias is not None:
        layer.bias.data[...] = rng.standard_normal(layer.bias.shape)
    return layer


def test_pad_by_mode_values_by_hand():
    x = tc.Tensor(np.arange(1.0, 5.0).reshape(1, 1, 1, 4))  # one row: 1 2 3 4
    sides = ((0, 0), (2, 3))
    row = {mode: pad_by_mode(x, sides, mode).numpy()[0, 0, 0] for mode in ("reflect", "replicate", "circular")}
    np.testing.assert_array_equal(row["reflect"], [3, 2, 1, 2, 3, 4, 3, 2, 1])  # mirrored, the edge once
    np.testing.assert_array_equal(row["replicate"], [1, 1, 1, 2, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(row["circular"], [3, 4, 1, 2, 3, 4, 1, 2, 3])
    col = pad_by_mode(tc.Tensor(np.arange(1.0, 4.0).reshape(1, 1, 3, 1)), ((1, 2), (0, 0)), "reflect")
    np.testing.assert_array_equal(col.numpy()[0, 0, :, 0], [2, 1, 2, 3, 2, 1])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_by_mode_gradcheck_adds_the_gradients_of_repeated_pixels(mode):
    x = tc.Tensor(np.random.default_rng(0).standard_normal((2, 2, 3, 4)), requires_grad=True)
    assert tc.gradcheck(lambda t: pad_by_mode(t, ((2, 1), (3, 2)), mode), [x])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding, kernel, dilation", [
    ("same", 3, 1), ("same", (2, 4), 1), ("same", (3, 2), (2, 1)), ("valid", 3, 1), ((1, 2), 3, 1), (2, (3, 1), 2)])
def test_conv2d_padding_and_mode_gradcheck(mode, padding, kernel, dilation):
    layer = conv64(2, 3, kernel, padding=padding, dilation=dilation, padding_mode=mode)
    x = tc.Tensor(np.random.default_rng(1).standard_normal((2, 2, 5, 6)), requires_grad=True)
    y = layer(x)
    if padding == "same":
        assert y.shape == (2, 3, 5, 6)
    assert tc.gradcheck(lambda t: layer(t), [x])
    y.sum().backward()
    assert layer.weight.grad.shape == layer.weight.shape


@pytest.mark.peer
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # torch's note on its own copy
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding, kernel, dilation, stride", [
    ("same", 3, 1, 1), ("same", (2, 4), 1, 1), ("same", (4, 3), (1, 2), 1), ("valid", 3, 1, 2), (1, 3, 1, 2),
    ((2, 1), (3, 2), 1, 1)])
def test_conv2d_padding_and_mode_against_torch(mode, padding, kernel, dilation, stride):
    torch = pytest.importorskip("torch")
    ours = conv64(3, 4, kernel, stride=stride, padding=padding, dilation=dilation, padding_mode=mode)
    theirs = torch.nn.Conv2d(3, 4, kernel, stride=stride, padding=padding, dilation=dilation, padding_mode=mode,
                             dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    assert repr(ours) == repr(theirs)
    x_np = np.random.default_rng(2).standard_normal((2, 3, 7, 6))
    x, x_t = tc.Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, y_t = ours(x), theirs(x_t)
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(3).standard_normal(y.shape)
    y.backward(g)
    y_t.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv2d_padding_strings_keep_their_name_and_zeros_is_the_default():
    assert nn.Conv2d(1, 2, 3, padding="same").padding == "same"
    assert nn.Conv2d(1, 2, 3, padding="valid").padding == "valid"
    layer = nn.Conv2d(1, 2, 3, padding=1)
    assert layer.padding == (1, 1) and layer.padding_mode == "zeros"
    assert repr(nn.Conv2d(1, 2, 3, padding="same", padding_mode="reflect")) == (
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=same, padding_mode=reflect)")


def test_conv2d_padding_errors():
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' is not supported for strided convolutions"):
        nn.Conv2d(1, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv2d: padding must be an int, a pair of ints, 'valid' or 'same', got 'full'"):
        nn.Conv2d(1, 2, 3, padding="full")
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be one of \('zeros', 'reflect', 'replicate', "
                                         r"'circular'\), got 'mirror'"):
        nn.Conv2d(1, 2, 3, padding_mode="mirror")
    x = tc.Tensor(np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"padding_mode='reflect': padding \(3, 3\) along the height must be at most "
                                         r"2 for an input of size 3"):
        nn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect", dtype=np.float64)(x)
    with pytest.raises(ValueError, match=r"padding_mode='circular': padding \(4, 4\).*at most 3"):
        nn.Conv2d(1, 1, 3, padding=4, padding_mode="circular", dtype=np.float64)(x)
    assert nn.Conv2d(1, 1, 3, padding=3, padding_mode="circular", dtype=np.float64)(x).shape == (1, 1, 7, 7)
    assert nn.Conv2d(1, 1, 3, padding=9, padding_mode="replicate", dtype=np.float64)(x).shape == (1, 1, 19, 19)
