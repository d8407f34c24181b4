"""nn layers: shapes, weight layouts, default initialization, argument errors, modes; nn.init."""

import math

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
from tinycnn.nn import init


def t(array):
    return tc.Tensor(np.asarray(array, dtype=np.float32))


def randn(rng, *shape):
    return t(rng.standard_normal(shape))


# ----- Conv2d -----

@pytest.mark.parametrize("args, kwargs, x_shape, out_shape", [
    ((1, 6, 5), {}, (2, 1, 28, 28), (2, 6, 24, 24)),
    ((1, 6, 5), {"padding": 2}, (2, 1, 28, 28), (2, 6, 28, 28)),
    ((3, 8, 3), {"stride": 2, "padding": 1}, (2, 3, 9, 9), (2, 8, 5, 5)),
    ((3, 4, (3, 1)), {"padding": (1, 0)}, (1, 3, 6, 5), (1, 4, 6, 5)),
    ((4, 6, 3), {"groups": 2}, (1, 4, 7, 7), (1, 6, 5, 5)),
    ((2, 3, 3), {"dilation": 2}, (1, 2, 9, 9), (1, 3, 5, 5)),
])
def test_conv2d_output_shape(rng, args, kwargs, x_shape, out_shape):
    conv = nn.Conv2d(*args, **kwargs)
    assert conv(randn(rng, *x_shape)).shape == out_shape


def test_conv2d_weight_layout():
    conv = nn.Conv2d(4, 6, (3, 5), groups=2)
    assert conv.weight.shape == (6, 2, 3, 5)  # (out, in/groups, kH, kW), PyTorch's layout
    assert conv.bias.shape == (6,)
    assert conv.weight.dtype == np.float32 and conv.bias.dtype == np.float32


def test_conv2d_values_match_plain_loops(rng):
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    out = conv(t(x)).numpy()
    w, b = conv.weight.numpy(), conv.bias.numpy()
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros((2, 3, 3, 3))
    for n in range(2):
        for o in range(3):
            for i in range(3):
                for j in range(3):
                    patch = xp[n, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
                    expected[n, o, i, j] = (patch * w[o]).sum() + b[o]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_conv2d_wrong_channels_names_expected_and_actual(rng):
    conv = nn.Conv2d(1, 6, 5)
    with pytest.raises(ValueError) as info:
        conv(randn(rng, 2, 3, 28, 28))
    message = str(info.value)
    assert "1 channels" in message
    assert "(2, 3, 28, 28)" in message


@pytest.mark.parametrize("kwargs, name", [
    ({"in_channels": 0, "out_channels": 6, "kernel_size": 5}, "in_channels"),
    ({"in_channels": 1, "out_channels": -2, "kernel_size": 5}, "out_channels"),
    ({"in_channels": 1, "out_channels": 6, "kernel_size": 0}, "kernel_size"),
    ({"in_channels": 1, "out_channels": 6, "kernel_size": 3, "stride": 0}, "stride"),
    ({"in_channels": 1, "out_channels": 6, "kernel_size": 3, "padding": -1}, "padding"),
    ({"in_channels": 1, "out_channels": 6, "kernel_size": 3, "dilation": 0}, "dilation"),
    ({"in_channels": 3, "out_channels": 6, "kernel_size": 3, "groups": 2}, "groups"),
    ({"in_channels": 2, "out_channels": 6, "kernel_size": 3, "groups": 0}, "groups"),
])
def test_conv2d_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        nn.Conv2d(**kwargs)


# ----- Linear -----

def test_linear_shapes_and_layout(rng):
    lin = nn.Linear(7, 3)
    assert lin.weight.shape == (3, 7)  # (out, in)
    assert lin.bias.shape == (3,)
    assert lin(randn(rng, 4, 7)).shape == (4, 3)
    assert lin(randn(rng, 2, 5, 7)).shape == (2, 5, 3)


def test_linear_values(rng):
    lin = nn.Linear(4, 2)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    expected = x @ lin.weight.numpy().T + lin.bias.numpy()
    np.testing.assert_allclose(lin(t(x)).numpy(), expected, rtol=1e-6, atol=1e-6)


def test_linear_wrong_in_features_names_expected_and_actual(rng):
    lin = nn.Linear(400, 120)
    with pytest.raises(ValueError) as info:
        lin(randn(rng, 2, 256))
    message = str(info.value)
    assert "400" in message and "(2, 256)" in message


@pytest.mark.parametrize("args, name", [((0, 3), "in_features"), ((3, -1), "out_features"),
                                        ((2.5, 3), "in_features")])
def test_linear_bad_arguments(args, name):
    with pytest.raises(ValueError, match=name):
        nn.Linear(*args)


# ----- default initialization -----

@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Conv2d(16, 64, 5), 16 * 25),
    (lambda: nn.Conv2d(8, 64, 3, groups=4), 2 * 9),
    (lambda: nn.Linear(300, 200), 300),
])
def test_default_init_bound_is_one_over_sqrt_fan_in(make, fan_in):
    tc.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    w = layer.weight.numpy()
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    # a large uniform sample fills its interval: the extreme is near the bound, the std near bound / sqrt(3)
    assert np.abs(w).max() >= 0.99 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert abs(w.mean()) < 0.05 * bound
    b = layer.bias.numpy()
    assert np.abs(b).max() <= bound * (1 + 1e-6)
    assert np.abs(b).max() >= 0.5 * bound


def test_manual_seed_makes_layers_repeat():
    tc.manual_seed(42)
    a = nn.Conv2d(3, 8, 3)
    tc.manual_seed(42)
    b = nn.Conv2d(3, 8, 3)
    tc.manual_seed(43)
    c = nn.Conv2d(3, 8, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


# ----- nn.init -----

def param(*shape):
    return nn.Parameter(np.empty(shape, dtype=np.float32))


def test_calculate_fans():
    assert init.calculate_fans((64, 16, 5, 3)) == (16 * 15, 64 * 15)
    assert init.calculate_fans((10, 7)) == (7, 10)
    with pytest.raises(ValueError):
        init.calculate_fans((5,))


@pytest.mark.parametrize("fill, draw", [
    (lambda p: init.normal_(p, 0.5, 2.0), lambda rng, shape: rng.normal(0.5, 2.0, shape)),
    (lambda p: init.uniform_(p, -1.0, 3.0), lambda rng, shape: rng.uniform(-1.0, 3.0, shape)),
])
def test_init_drawn_in_chunks_gives_the_values_of_one_draw(fill, draw, monkeypatch):
    # big layers are drawn chunk by chunk (no float64 copy of a whole layer); the values must not change:
    # they are the generator's float64 stream, cast to float32
    reference = draw(np.random.default_rng(7), (37, 11)).astype(np.float32)
    monkeypatch.setattr(init, "_CHUNK", 50)
    tc.manual_seed(7)
    np.testing.assert_array_equal(fill(param(37, 11)).numpy(), reference)


def test_kaiming_normal_std():
    tc.manual_seed(0)
    w = init.kaiming_normal_(param(256, 128, 3, 3), nonlinearity="relu").numpy()
    assert w.std() == pytest.approx(math.sqrt(2.0 / (128 * 9)), rel=0.01)
    assert abs(w.mean()) < 0.01 * w.std()
    w = init.kaiming_normal_(param(256, 128, 3, 3), mode="fan_out", nonlinearity="relu").numpy()
    assert w.std() == pytest.approx(math.sqrt(2.0 / (256 * 9)), rel=0.01)


def test_kaiming_uniform_bound():
    tc.manual_seed(0)
    w = init.kaiming_uniform_(param(128, 64, 3, 3), nonlinearity="relu").numpy()
    bound = math.sqrt(2.0) * math.sqrt(3.0 / (64 * 9))
    assert bound * 0.99 <= np.abs(w).max() <= bound * (1 + 1e-6)


def test_xavier_uniform_bound():
    tc.manual_seed(0)
    w = init.xavier_uniform_(param(300, 200)).numpy()
    bound = math.sqrt(6.0 / (200 + 300))
    assert bound * 0.99 <= np.abs(w).max() <= bound * (1 + 1e-6)
    w = init.xavier_uniform_(param(300, 200), gain=2.0).numpy()
    assert 2 * bound * 0.99 <= np.abs(w).max() <= 2 * bound * (1 + 1e-6)


def test_xavier_normal_std():
    tc.manual_seed(0)
    w = init.xavier_normal_(param(400, 300)).numpy()
    assert w.std() == pytest.approx(math.sqrt(2.0 / 700), rel=0.01)


def test_lecun_uniform_bound():
    tc.manual_seed(0)
    w = init.lecun_uniform_(param(16, 6, 5, 5)).numpy()  # LeNet-5 C3: fan_in 150
    bound = 2.4 / 150
    assert bound * 0.99 <= np.abs(w).max() <= bound * (1 + 1e-6)


def test_constant_zeros_ones():
    p = param(2, 3)
    np.testing.assert_array_equal(init.zeros_(p).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.ones_(p).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(init.constant_(p, 0.25).numpy(), np.full((2, 3), 0.25))


def test_init_keeps_dtype_and_object():
    p = nn.Parameter(np.empty((50, 40), dtype=np.float64))
    data = p.data
    init.kaiming_normal_(p)
    assert p.data is data and p.dtype == np.float64


def test_init_repeats_under_manual_seed():
    tc.manual_seed(7)
    a = init.kaiming_normal_(param(32, 16, 3, 3)).numpy().copy()
    b = init.xavier_uniform_(param(20, 10)).numpy().copy()
    tc.manual_seed(7)
    np.testing.assert_array_equal(init.kaiming_normal_(param(32, 16, 3, 3)).numpy(), a)
    np.testing.assert_array_equal(init.xavier_uniform_(param(20, 10)).numpy(), b)


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity"):
        init.kaiming_normal_(param(4, 4), nonlinearity="swish")


# ----- Dropout -----

def test_dropout_train_vs_eval():
    tc.manual_seed(0)
    drop = nn.Dropout(0.5)
    x = t(np.ones((200, 500)))
    out = drop(x).numpy()
    zero = out == 0
    assert abs(zero.mean() - 0.5) < 0.01  # 100,000 draws: std of the fraction 0.0016
    np.testing.assert_allclose(out[~zero], 2.0)  # inverted dropout: survivors scaled by 1/(1-p)
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())


def test_dropout_p_zero_and_one():
    x = t(np.full((10, 10), 3.0))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), np.zeros((10, 10)))


def test_dropout_gradient_uses_the_same_mask():
    tc.manual_seed(1)
    x = tc.Tensor(np.ones((20, 30), dtype=np.float32), requires_grad=True)
    out = nn.Dropout(0.3)(x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), out.numpy())  # d(sum(x * mask))/dx = mask = out for x = 1


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match="p"):
        nn.Dropout(p)


# ----- pooling, flatten, activations -----

def test_maxpool_avgpool_values_and_shapes(rng):
    x = rng.standard_normal((2, 3, 8, 6)).astype(np.float32)
    blocks = x.reshape(2, 3, 4, 2, 3, 2)
    out = nn.MaxPool2d(2)(t(x)).numpy()
    assert out.shape == (2, 3, 4, 3)
    np.testing.assert_array_equal(out, blocks.max(axis=(3, 5)))
    out = nn.AvgPool2d(2)(t(x)).numpy()
    np.testing.assert_allclose(out, blocks.mean(axis=(3, 5)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layer, in_hw, out_hw", [
    (nn.MaxPool2d(3, stride=2), (13, 13), (6, 6)),
    (nn.MaxPool2d(3, stride=2, padding=1), (7, 7), (4, 4)),
    (nn.MaxPool2d(3, stride=2, ceil_mode=True), (8, 8), (4, 4)),
    (nn.MaxPool2d(3, stride=2, ceil_mode=False), (8, 8), (3, 3)),
    (nn.AvgPool2d(3, stride=1, padding=1), (5, 7), (5, 7)),
    (nn.AvgPool2d((2, 1)), (6, 5), (3, 5)),
    (nn.AdaptiveAvgPool2d((1, 1)), (7, 5), (1, 1)),
    (nn.AdaptiveAvgPool2d(3), (9, 9), (3, 3)),
    (nn.AdaptiveAvgPool2d((6, 6)), (13, 13), (6, 6)),
    (nn.GlobalAvgPool2d(), (7, 7), (1, 1)),
])
def test_pool_shapes(rng, layer, in_hw, out_hw):
    assert layer(randn(rng, 2, 3, *in_hw)).shape == (2, 3) + out_hw


def test_adaptive_avg_pool_values(rng):
    x = rng.standard_normal((1, 2, 4, 6)).astype(np.float32)
    out = nn.AdaptiveAvgPool2d((2, 3))(t(x)).numpy()  # divisible sizes: plain 2x2 blocks
    np.testing.assert_allclose(out, x.reshape(1, 2, 2, 2, 3, 2).mean(axis=(3, 5)), rtol=1e-6, atol=1e-6)
    out = nn.AdaptiveAvgPool2d(1)(t(x)).numpy()
    np.testing.assert_allclose(out[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-6, atol=1e-6)


def test_flatten_shapes(rng):
    x = randn(rng, 2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 20)
    assert nn.Flatten(0)(x).shape == (120,)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.numpy().reshape(2, 60))


def test_activations():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(nn.ReLU()(t(x)).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(t(x)).numpy(), np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(t(x)).numpy(), 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(nn.ScaledTanh()(t(x)).numpy(), 1.7159 * np.tanh(2 * x / 3), rtol=1e-5)
    sm = nn.Softmax(dim=-1)(t(x)).numpy()
    np.testing.assert_allclose(sm, np.exp(x) / np.exp(x).sum(), rtol=1e-6)
    np.testing.assert_array_equal(nn.Identity()(t(x)).numpy(), x)


def test_layers_without_parameters_have_none():
    for layer in (nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(), nn.Identity()):
        assert list(layer.parameters()) == []
