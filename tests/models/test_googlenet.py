"""GoogLeNet / Inception v1 as in the paper (Szegedy et al. 2015): exact parameter counts with and without the
auxiliary heads, Table 1's filter numbers, shapes at 224x224, MACs, the auxiliary outputs in training mode only,
float64 gradchecks of an Inception module (with and without an auxiliary head), the small-input form.
Figures from REFERENCE.md section 4; each full-size network is built once per module."""

from collections import OrderedDict

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
from tinycnn.models import MODELS
from tinycnn.models.googlenet import aux_head, googlenet, inception
from tinycnn.summary import layer_table
from tinycnn.train import _outputs_and_loss

# REFERENCE.md 4, Table 1: output size, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
TABLE1 = {
    "3a": (28, 256, 64, 96, 128, 16, 32, 32), "3b": (28, 480, 128, 128, 192, 32, 96, 64),
    "4a": (14, 512, 192, 96, 208, 16, 48, 64), "4b": (14, 512, 160, 112, 224, 24, 64, 64),
    "4c": (14, 512, 128, 128, 256, 24, 64, 64), "4d": (14, 528, 112, 144, 288, 32, 64, 64),
    "4e": (14, 832, 256, 160, 320, 32, 128, 128), "5a": (7, 832, 256, 160, 320, 32, 128, 128),
    "5b": (7, 1024, 384, 192, 384, 48, 128, 128),
}
WITHOUT_AUX, WITH_AUX, AUX1, AUX2 = 6_998_552, 13_378_280, 3_188_840, 3_190_888


@pytest.fixture(scope="module")
def full():
    tc.manual_seed(0)
    return googlenet()


@pytest.fixture(scope="module")
def no_aux():
    tc.manual_seed(0)
    return googlenet(aux_logits=False)


@pytest.fixture(scope="module")
def small():
    tc.manual_seed(0)
    return googlenet(num_classes=10, in_channels=1, small_input=True)


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts(full, no_aux):
    assert no_aux.num_parameters() == WITHOUT_AUX
    assert full.num_parameters() == WITH_AUX
    children = dict(full.named_children())
    assert count(children["aux1"]) == AUX1 and count(children["aux2"]) == AUX2
    assert not any(isinstance(m, nn.Tap) for m in no_aux.modules())


def test_tree_order_and_aux_placement(full):
    names = [n for n, _ in full.named_children()]
    stages = [n for n in names if n.startswith("inception")]
    assert stages == [f"inception{s}" for s in TABLE1]
    assert names.index("aux1") == names.index("inception4a") + 1  # on the output of 4a
    assert names.index("aux2") == names.index("inception4d") + 1  # on the output of 4d
    assert isinstance(dict(full.named_children())["aux1"], nn.Tap)


@pytest.mark.parametrize("stage", list(TABLE1))
def test_table1_filter_numbers(full, stage):
    _, _, n1, r3, n3, r5, n5, proj = TABLE1[stage]
    module = dict(full.named_children())[f"inception{stage}"]
    assert isinstance(module, nn.Concat)
    convs = [[m for m in branch.modules() if isinstance(m, nn.Conv2d)] for branch in module.children()]
    assert [[c.out_channels for c in b] for b in convs] == [[n1], [r3, n3], [r5, n5], [proj]]
    assert [[c.kernel_size for c in b] for b in convs] == [[(1, 1)], [(1, 1), (3, 3)], [(1, 1), (5, 5)], [(1, 1)]]
    pools = [m for m in list(module.children())[3].modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 1 and pools[0].kernel_size == 3 and pools[0].stride == 1 and pools[0].padding == 1
    # every conv is followed by a ReLU
    for branch in module.children():
        layers = list(branch.children())
        for i, m in enumerate(layers):
            if isinstance(m, nn.Conv2d):
                assert isinstance(layers[i + 1], nn.ReLU)


def test_shapes_at_224(full):
    model = full.eval()
    x = tc.Tensor(np.zeros((1, 3, 224, 224), np.float32))
    shapes = {}
    with tc.no_grad():
        for name, child in model.named_children():
            x = child(x)
            shapes[name] = x.shape[1:]
    model.train()
    assert shapes["conv1"] == (64, 112, 112)
    assert shapes["pool1"] == (64, 56, 56)  # ceil mode: floor would give 55
    assert shapes["conv2"] == (192, 56, 56)
    assert shapes["pool2"] == (192, 28, 28)
    assert shapes["pool3"] == (480, 14, 14)
    assert shapes["pool4"] == (832, 7, 7)
    for stage, (hw, c, *_) in TABLE1.items():
        assert shapes[f"inception{stage}"] == (c, hw, hw), stage
    assert shapes["aux1"] == (512, 14, 14)  # a Tap passes its input on
    assert shapes["avgpool"] == (1024, 1, 1)
    assert shapes["fc"] == (1000,)


def test_macs_at_224(no_aux):
    rows = layer_table(no_aux, (3, 224, 224))
    assert round(sum(r["macs"] for r in rows) / 1e9, 3) == 1.583  # REFERENCE.md 4: paper-faithful, 1.583 G


def test_aux_outputs_in_training_mode_only(small):
    x = tc.Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    small.train()
    out = small(x)
    assert isinstance(out, tuple) and len(out) == 3
    assert [o.shape for o in out] == [(2, 10)] * 3
    small.eval()
    out = small(x)
    assert isinstance(out, tc.Tensor) and out.shape == (2, 10)
    small.train()
    assert all(m.output is None for m in small.modules() if isinstance(m, nn.Tap))  # nothing kept alive


def test_aux_outputs_at_224_in_training_mode(full):
    full.train()
    with tc.no_grad():
        out = full(tc.Tensor(np.zeros((1, 3, 224, 224), np.float32)))
    assert [o.shape for o in out] == [(1, 1000)] * 3


def test_tap_and_tapped_containers():
    """Tap passes its input on and runs its head in training mode only; Tapped returns the heads' outputs."""
    double = nn.Tap(nn.Sequential(nn.Flatten()))
    model = nn.Tapped(OrderedDict([("relu", nn.ReLU()), ("tap", double), ("flatten", nn.Flatten())]))
    x = tc.Tensor(np.array([[[[-1.0, 2.0]]]]))
    out, seen = model(x)
    np.testing.assert_array_equal(out.numpy(), [[0.0, 2.0]])
    np.testing.assert_array_equal(seen.numpy(), [[0.0, 2.0]])  # the head saw the ReLU's output
    assert double.output is None
    np.testing.assert_array_equal(model.eval()(x).numpy(), [[0.0, 2.0]])
    model.train()
    double.eval()  # a Tap left in eval mode inside a training model is an error, not a silent short tuple
    with pytest.raises(RuntimeError, match="tap"):
        model(x)


def test_without_aux_returns_logits_in_training_mode():
    model = googlenet(num_classes=10, in_channels=1, aux_logits=False, small_input=True)
    out = model(tc.Tensor(np.zeros((2, 1, 32, 32), np.float32)))
    assert isinstance(out, tc.Tensor) and out.shape == (2, 10)


def float64(module):
    for m in module.modules():
        for p in m._parameters.values():
            p.data = p.data.astype(np.float64)
    return module


def test_inception_module_gradcheck_float64():
    tc.manual_seed(0)
    module = float64(inception(3, 2, 2, 3, 1, 2, 2))  # -> 2 + 3 + 2 + 2 = 9 channels
    x = tc.Tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4)), requires_grad=True)
    assert module(x).shape == (2, 9, 4, 4)
    assert tc.gradcheck(lambda x_, *p: module(x_), [x] + list(module.parameters()))


def test_inception_with_aux_head_gradcheck_float64():
    """Two tiny modules with a Tap between them: the head's loss reaches the first module's weights too."""
    tc.manual_seed(0)
    head = nn.Sequential(nn.AvgPool2d(3, stride=1), nn.Conv2d(5, 2, 1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8, 3), nn.ReLU(), nn.Dropout(0.7), nn.Linear(3, 2))
    model = float64(nn.Tapped(OrderedDict([
        ("inc1", inception(2, 1, 2, 2, 1, 1, 1)),  # -> 5 channels
        ("aux", nn.Tap(head)),
        ("inc2", inception(5, 1, 1, 1, 1, 1, 1)),
        ("pool", nn.GlobalAvgPool2d()), ("flatten", nn.Flatten()), ("fc", nn.Linear(4, 2)),
    ])))
    x = tc.Tensor(np.random.default_rng(1).standard_normal((2, 2, 4, 4)), requires_grad=True)

    def run(x_, *params):
        tc.manual_seed(7)  # the same dropout mask in every finite-difference forward
        return model(x_)

    main, aux = run(x)
    assert main.shape == (2, 2) and aux.shape == (2, 2)
    assert tc.gradcheck(run, [x] + list(model.parameters()))


def test_aux_head_gradcheck_float64_fast():
    """The real head (2048 -> 1024 FC) in its small-input form, checked along random directions."""
    tc.manual_seed(0)
    head = float64(aux_head(4, 3, small_input=True))
    x = tc.Tensor(np.random.default_rng(2).standard_normal((2, 4, 5, 5)), requires_grad=True)

    def run(x_, *params):
        tc.manual_seed(7)
        return head(x_)

    assert run(x).shape == (2, 3)
    assert tc.gradcheck(run, [x] + list(head.parameters()), mode="fast")


def test_small_input_counts_and_shapes(small):
    # only conv1 differs from the paper: 3x3 instead of 7x7 kernels
    tc.manual_seed(0)
    assert googlenet(small_input=True).num_parameters() == WITH_AUX - 3 * 64 * 7 * 7 + 3 * 64 * 3 * 3
    # 1 channel, 10 classes: conv1 1x64x3x3, and the three classifiers (1024 -> 10) lose 990 x 1025 each
    assert small.num_parameters() == WITH_AUX - (3 * 64 * 49 - 1 * 64 * 9) - 3 * 990 * 1025
    for size, (s3, s4, s5) in ((28, (14, 7, 3)), (32, (16, 8, 4))):
        rows = layer_table(small, (1, size, size))
        last = {r["name"].split(".")[0]: r["output_shape"][1:] for r in rows}
        assert last["inception3b"][1:] == (s3, s3)
        assert last["inception4e"][1:] == (s4, s4)
        assert last["inception5b"][1:] == (s5, s5)
        assert last["fc"] == (10,)


def test_every_parameter_of_small_googlenet_gets_a_gradient(small):
    tc.manual_seed(0)
    small.train()
    small.zero_grad()
    x = tc.Tensor(np.random.default_rng(3).standard_normal((4, 1, 28, 28)).astype(np.float32))
    _, loss = _outputs_and_loss(small(x), np.array([0, 1, 2, 3]))  # main loss + 0.3 x each aux loss
    loss.backward()
    for name, p in small.named_parameters():
        assert p.grad is not None, name
        assert np.isfinite(p.grad.numpy()).all() and np.abs(p.grad.numpy()).max() > 0, name
    small.zero_grad()


def test_initialization(full):
    """He et al. 2015 (fan_in, ReLU gain) for convs and hidden FC layers, N(0, 0.01^2) classifiers, zero biases."""
    named = dict(full.named_modules())
    w = named["inception4c.1.2"].weight.numpy()  # the 3x3 conv of 4c: fan_in 128 x 9
    assert w.std() == pytest.approx(np.sqrt(2 / (128 * 9)), rel=0.02) and abs(w.mean()) < 1e-3
    fc1 = named["aux1.head.fc1"].weight.numpy()  # fan_in 2048
    assert fc1.std() == pytest.approx(np.sqrt(2 / 2048), rel=0.02)
    for name in ("fc", "aux1.head.fc2", "aux2.head.fc2"):
        assert named[name].weight.numpy().std() == pytest.approx(0.01, rel=0.05), name
    for m in full.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            assert (m.bias.numpy() == 0).all()


@pytest.mark.slow
def test_small_googlenet_loss_goes_down():
    """10 Adam steps at lr 3e-4 on a fixed batch of 8 images, heads and dropout active (about 4.5 -> 3.3)."""
    from tinycnn import optim

    tc.manual_seed(0)
    model = googlenet(num_classes=10, in_channels=1, small_input=True)
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((8, 1, 28, 28)).astype(np.float32))
    y = np.arange(8)
    opt = optim.Adam(model.parameters(), lr=3e-4)
    losses = []
    for _ in range(10):
        _, loss = _outputs_and_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < losses[0] - 0.5, losses


def test_registry():
    spec = MODELS["googlenet"]
    assert spec.input_shape == (3, 224, 224)
    assert spec.small_input_size == 28 and spec.small_kwargs == {"small_input": True}
    assert spec.lr <= 0.005  # SGD at the usual 0.05 diverges from He's initialization without batch norm
    assert spec.constructor is googlenet
