"""CIFAR-style ResNet-20..110 and their plain twins (He et al. 2016, Sec. 4.2): exact parameter counts
(REFERENCE.md section 5), stage shapes at 32x32 and 28x28, option A's shortcut, float64 gradchecks of the three
block kinds, gradients reaching every parameter, initialization, and a few training steps."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
from tinycnn import optim
from tinycnn.models import MODELS, resnet_cifar
from tinycnn.models.resnet_cifar import ZeroPadShortcut, plain_block, residual_block

# REFERENCE.md section 5, Table 6 row "exact option A" (10 classes, 3 input channels)
COUNTS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


def float64(module):
    """Cast every parameter and floating buffer to float64 in place (gradchecks need float64): ``double()``,
    which replaced a hand-written cast in issue 12."""
    return module.double()


def images(shape, seed=0):
    return tc.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("depth", sorted(COUNTS))
def test_parameter_counts(depth):
    resnet = getattr(resnet_cifar, f"resnet{depth}")()
    plain = getattr(resnet_cifar, f"plain{depth}")()
    assert resnet.num_parameters() == COUNTS[depth]
    assert plain.num_parameters() == COUNTS[depth]  # option A adds no parameters
    # the twins have the same parameter names and shapes, in the same order
    assert [(n, p.shape) for n, p in resnet.named_parameters()] == [(n, p.shape) for n, p in plain.named_parameters()]
    # depth 6n + 2: 6n + 1 convolutions and one FC layer
    convs = [m for m in resnet.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == depth


def test_counts_scale_with_classes_and_channels():
    # the FC layer has 64 inputs; conv1 has 16 x in_channels x 3 x 3 weights
    assert resnet_cifar.resnet20(num_classes=100).num_parameters() == COUNTS[20] + 90 * 65
    assert resnet_cifar.resnet20(in_channels=1).num_parameters() == COUNTS[20] - 2 * 16 * 9


def test_plain_differs_only_by_the_shortcut():
    resnet, plain = resnet_cifar.resnet20(), resnet_cifar.plain20()
    assert sum(isinstance(m, nn.Residual) for m in resnet.modules()) == 9
    assert not any(isinstance(m, nn.Residual) for m in plain.modules())
    shortcuts = [m.shortcut for m in resnet.modules() if isinstance(m, nn.Residual)]
    assert sum(isinstance(s, ZeroPadShortcut) for s in shortcuts) == 2  # where stages 2 and 3 begin
    assert sum(s is None for s in shortcuts) == 7
    # same weights -> the plain net computes the residual net's body without the additions
    plain.load_state_dict(resnet.state_dict())
    x = images((2, 3, 8, 8))
    assert not np.allclose(resnet.eval()(x).numpy(), plain.eval()(x).numpy())


@pytest.mark.parametrize("size, in_channels", [(32, 3), (28, 1)])
def test_stage_shapes(size, in_channels):
    model = resnet_cifar.resnet20(num_classes=10, in_channels=in_channels).eval()
    x = images((1, in_channels, size, size))
    shapes = {}
    with tc.no_grad():
        for name, child in model.named_children():
            x = child(x)
            shapes[name] = x.shape[1:]
    half, quarter = (size + 1) // 2, (size + 3) // 4
    assert shapes["relu"] == (16, size, size)
    assert shapes["stage1"] == (16, size, size)
    assert shapes["stage2"] == (32, half, half)      # 16 (32) or 14 (28)
    assert shapes["stage3"] == (64, quarter, quarter)  # 8 or 7
    assert shapes["fc"] == (10,)


def test_zero_pad_shortcut_values_and_gradient():
    x = tc.Tensor(np.arange(2 * 2 * 4 * 4, dtype=np.float64).reshape(2, 2, 4, 4), requires_grad=True)
    shortcut = ZeroPadShortcut(2, 5, stride=2)
    assert list(shortcut.parameters()) == []
    y = shortcut(x)
    assert y.shape == (2, 5, 2, 2)
    np.testing.assert_array_equal(y.numpy()[:, :2], x.numpy()[:, :, ::2, ::2])
    np.testing.assert_array_equal(y.numpy()[:, 2:], 0.0)
    y.sum().backward()
    expected = np.zeros((2, 2, 4, 4))
    expected[:, :, ::2, ::2] = 1.0  # only the kept positions feed the output
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    # odd sizes: ceil(7 / 2) = 4, the size a 3x3 stride-2 conv with padding 1 gives
    assert ZeroPadShortcut(1, 2)(tc.Tensor(np.ones((1, 1, 7, 7)))).shape == (1, 2, 4, 4)
    with pytest.raises(ValueError):
        ZeroPadShortcut(4, 2)


@pytest.mark.parametrize("kind", ["option A shortcut", "identity shortcut", "plain", "plain strided"])
def test_block_gradcheck_float64(kind):
    tc.manual_seed(0)
    block = {"option A shortcut": lambda: residual_block(2, 4, stride=2),
             "identity shortcut": lambda: residual_block(3, 3, stride=1),
             "plain": lambda: plain_block(3, 3, stride=1),
             "plain strided": lambda: plain_block(2, 4, stride=2)}[kind]()
    float64(block)
    in_channels = 2 if kind in ("option A shortcut", "plain strided") else 3
    x = tc.Tensor(np.random.default_rng(1).standard_normal((2, in_channels, 4, 4)), requires_grad=True)
    params = list(block.parameters())
    assert tc.gradcheck(lambda x_, *p: block(x_), [x] + params)  # batch norm in training mode


@pytest.mark.parametrize("name", ["resnet20", "plain20"])
def test_every_parameter_gets_a_gradient(name):
    tc.manual_seed(0)
    model = getattr(resnet_cifar, name)(num_classes=10, in_channels=1)
    x = images((4, 1, 28, 28))
    F.cross_entropy(model(x), np.array([0, 1, 2, 3])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert np.isfinite(p.grad.numpy()).all(), pname
        assert np.abs(p.grad.numpy()).max() > 0, pname


def test_initialization_is_kaiming_normal_fan_in():
    tc.manual_seed(0)
    model = resnet_cifar.resnet20()
    w = dict(model.named_parameters())["stage3.1.body.conv2.weight"].numpy()  # (64, 64, 3, 3): fan_in 576
    assert abs(w.mean()) < 0.002
    assert w.std() == pytest.approx(np.sqrt(2 / 576), rel=0.03)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            np.testing.assert_array_equal(m.weight.numpy(), 1.0)
            np.testing.assert_array_equal(m.bias.numpy(), 0.0)


@pytest.mark.slow  # 15-35 s each on the shared 2-core machine
@pytest.mark.parametrize("name", ["resnet20", "plain20"])
def test_loss_goes_down_on_a_fixed_batch(name):
    tc.manual_seed(0)
    model = getattr(resnet_cifar, name)(num_classes=10, in_channels=1)
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((32, 1, 28, 28)).astype(np.float32))
    y = rng.integers(0, 10, 32)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(10):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.85 * losses[0], losses  # about 2.30 -> 1.6 for both (random labels, memorized)


def test_registry():
    for depth in COUNTS:
        for prefix in ("resnet", "plain"):
            spec = MODELS[f"{prefix}{depth}"]
            assert spec.input_shape == (3, 32, 32)
            assert spec.small_input_size == 28 and spec.small_kwargs == {}
            assert spec.constructor(num_classes=10, in_channels=1).num_parameters() == COUNTS[depth] - 2 * 16 * 9
