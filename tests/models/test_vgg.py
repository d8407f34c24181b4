"""VGG-11/13/16/19, plain and with batch norm (REFERENCE.md 3): exact parameter counts, per-stage shapes at 224,
torchvision's parameter names and order, torchvision's init, the small-input adaptation (gradients, training)."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
import tinycnn.nn.init as init_module
import tinycnn.optim as optim
from tinycnn.models import MODELS
from tinycnn.models.vgg import vgg11, vgg13, vgg16, vgg19
from tinycnn.summary import layer_table

from tests.models.helpers import blob_batch, eval_loss

BUILDERS = {"vgg11": vgg11, "vgg13": vgg13, "vgg16": vgg16, "vgg19": vgg19}
# REFERENCE.md 3: exact parameters for 1000 classes, plain and with batch norm
COUNTS = {"vgg11": (132_863_336, 132_868_840), "vgg13": (133_047_848, 133_053_736),
          "vgg16": (138_357_544, 138_365_992), "vgg19": (143_667_240, 143_678_248)}
# conv layers per stage: A 1-1-2-2-2, B 2-2-2-2-2, D 2-2-3-3-3, E 2-2-4-4-4
STACKS = {"vgg11": (1, 1, 2, 2, 2), "vgg13": (2, 2, 2, 2, 2), "vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)
FC_PARAMETERS = 123_642_856  # REFERENCE.md 3: the three FC layers


def build_without_init(monkeypatch, builder, **kwargs):
    """A full-size model with zero weights: filling 138 M random values takes many seconds on 2 cores and is not
    what these tests look at (init is tested on a small model, through the same code)."""
    with monkeypatch.context() as m:
        m.setattr(init_module, "_fill", lambda param, sample: init_module.zeros_(param))
        return builder(**kwargs)


def torchvision_names(name, batch_norm):
    """torchvision's named_parameters() for vgg*, by hand from its published make_layers: each conv is followed by
    (BatchNorm2d and) ReLU, each stage by a max-pool; the classifier is Linear, ReLU, Dropout x2 then Linear."""
    out, index, c_in = [], 0, 3
    for convs, width in zip(STACKS[name], WIDTHS):
        for _ in range(convs):
            out += [(f"features.{index}.weight", (width, c_in, 3, 3)), (f"features.{index}.bias", (width,))]
            if batch_norm:
                out += [(f"features.{index + 1}.weight", (width,)), (f"features.{index + 1}.bias", (width,))]
            index += 3 if batch_norm else 2
            c_in = width
        index += 1  # the max-pool
    return out + [("classifier.0.weight", (4096, 25088)), ("classifier.0.bias", (4096,)),
                  ("classifier.3.weight", (4096, 4096)), ("classifier.3.bias", (4096,)),
                  ("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))]


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_parameter_count_and_torchvision_names(name, batch_norm, monkeypatch):
    model = build_without_init(monkeypatch, BUILDERS[name], batch_norm=batch_norm)
    assert model.num_parameters() == COUNTS[name][batch_norm]
    assert [(n, p.shape) for n, p in model.named_parameters()] == torchvision_names(name, batch_norm)
    assert model.classifier.num_parameters() == FC_PARAMETERS
    if batch_norm:  # conv -> batch norm -> ReLU, as torchvision's make_layers
        kinds = [type(m).__name__ for m in model.features if not isinstance(m, nn.MaxPool2d)]
        assert kinds == ["Conv2d", "BatchNorm2d", "ReLU"] * (len(kinds) // 3)
    del model


def test_vgg16_stage_shapes_at_224(monkeypatch):
    """One forward at 3x224x224 (15.5 G multiply-adds): the per-stage shapes of REFERENCE.md 3."""
    model = build_without_init(monkeypatch, vgg16)
    rows = layer_table(model, (3, 224, 224))
    pools = [r["output_shape"][1:] for r in rows if r["type"] == "MaxPool2d"]
    assert pools == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]
    before_pool = [rows[i - 1]["output_shape"][1:] for i, r in enumerate(rows) if r["type"] == "MaxPool2d"]
    assert before_pool == [(64, 224, 224), (128, 112, 112), (256, 56, 56), (512, 28, 28), (512, 14, 14)]
    fcs = [r["output_shape"][1:] for r in rows if r["type"] == "Linear"]
    assert fcs == [(4096,), (4096,), (1000,)]
    assert next(r for r in rows if r["type"] == "AdaptiveAvgPool2d")["output_shape"] == (1, 512, 7, 7)
    assert next(r for r in rows if r["type"] == "Linear")["parameters"] == 25_088 * 4096 + 4096  # flattened 25,088
    del model


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_stage_shapes_at_32(name):
    """A 32x32 image halves five times to 1x1 (the small-input model; the conv stack is the full one)."""
    model = BUILDERS[name](num_classes=10, in_channels=1, small_input=True)
    rows = layer_table(model, (1, 32, 32))
    pools = [r["output_shape"][1:] for r in rows if r["type"] == "MaxPool2d"]
    assert pools == [(w, 32 >> (i + 1), 32 >> (i + 1)) for i, w in enumerate(WIDTHS)]
    convs = [r for r in rows if r["type"] == "Conv2d"]
    assert len(convs) == sum(STACKS[name])
    assert rows[-1]["output_shape"] == (1, 10)


def test_full_size_model_takes_32x32_as_is(monkeypatch):
    model = build_without_init(monkeypatch, vgg11, num_classes=10, in_channels=1)
    rows = layer_table(model, (1, 32, 32))
    assert next(r for r in rows if r["type"] == "AdaptiveAvgPool2d")["output_shape"] == (1, 512, 7, 7)
    assert rows[-1]["output_shape"] == (1, 10)


def test_small_input_parameter_count():
    # the documented adaptation, counted by hand: the conv stack of D on 1 channel, pool to 1x1, FC 512-512-10
    convs, c_in = 0, 1
    for n, width in zip(STACKS["vgg16"], WIDTHS):
        for _ in range(n):
            convs += width * c_in * 9 + width
            c_in = width
    fc = (512 * 512 + 512) * 2 + 512 * 10 + 10
    assert vgg16(num_classes=10, in_channels=1, small_input=True).num_parameters() == convs + fc


def test_init_as_torchvision():
    tc.manual_seed(0)
    model = vgg13(num_classes=10, in_channels=1, small_input=True, batch_norm=True)
    conv = [m for m in model.features if isinstance(m, nn.Conv2d)][-1]  # 512 -> 512, 3x3
    fan_out = 512 * 9
    assert abs(float(conv.weight.data.std()) / np.sqrt(2 / fan_out) - 1) < 0.02  # He normal, fan_out, ReLU
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            assert np.all(m.bias.data == 0)
        if isinstance(m, nn.BatchNorm2d):
            assert np.all(m.weight.data == 1) and np.all(m.bias.data == 0)
    fc = model.classifier[0].weight.data
    assert abs(float(fc.std()) - 0.01) < 3e-4 and abs(float(fc.mean())) < 3e-4


def test_registry_entries():
    for name in list(BUILDERS) + [f"{n}_bn" for n in BUILDERS]:
        spec = MODELS[name]
        assert spec.input_shape == (3, 224, 224) and spec.small_input_size == 32
        assert spec.small_kwargs == {"small_input": True}
    small = MODELS["vgg16_bn"].constructor(num_classes=10, in_channels=1, small_input=True)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in small.modules()) == 13
    assert small.num_parameters() == vgg16(10, 1, batch_norm=True, small_input=True).num_parameters()


def test_unknown_config():
    from tinycnn.models.vgg import vgg
    with pytest.raises(KeyError, match="config"):
        vgg("C")


@pytest.mark.peer
def test_vgg11_bn_names_against_a_torch_rebuild():
    """torchvision's make_layers rebuilt with torch.nn on the meta device (no memory): same names, same shapes,
    same order (torchvision itself is not installed)."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    with torch.device("meta"):
        layers, c_in = [], 3
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
            else:
                layers += [tnn.Conv2d(c_in, v, 3, padding=1), tnn.BatchNorm2d(v), tnn.ReLU(True)]
                c_in = v
        ref = tnn.Module()
        ref.features = tnn.Sequential(*layers)
        ref.avgpool = tnn.AdaptiveAvgPool2d(7)
        ref.classifier = tnn.Sequential(tnn.Linear(25088, 4096), tnn.ReLU(True), tnn.Dropout(), tnn.Linear(4096, 4096),
                                        tnn.ReLU(True), tnn.Dropout(), tnn.Linear(4096, 1000))
    theirs = [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    with pytest.MonkeyPatch.context() as mp:
        ours = build_without_init(mp, vgg11, batch_norm=True)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == theirs
    their_buffers = {n for n, _ in ref.named_buffers()}  # num_batches_tracked included since issue 12
    assert {n for n, _ in ours.named_buffers()} == their_buffers


@pytest.mark.peer
def test_small_vgg11_bn_matches_torch(rng):
    """The same layers in torch.nn with our weights loaded: the same logits (eval mode)."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    tc.manual_seed(0)
    ours = vgg11(num_classes=10, in_channels=1, batch_norm=True, small_input=True).eval()
    layers, c_in = [], 1
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if v == "M":
            layers.append(tnn.MaxPool2d(2, 2))
        else:
            layers += [tnn.Conv2d(c_in, v, 3, padding=1), tnn.BatchNorm2d(v), tnn.ReLU()]
            c_in = v
    ref = tnn.Sequential(tnn.Sequential(*layers), tnn.AdaptiveAvgPool2d(1), tnn.Flatten(),
                         tnn.Sequential(tnn.Linear(512, 512), tnn.ReLU(), tnn.Dropout(), tnn.Linear(512, 512),
                                        tnn.ReLU(), tnn.Dropout(), tnn.Linear(512, 10))).eval()
    renamed = {"features": "0", "classifier": "3"}  # our named parts -> the torch Sequential's indices
    state = {renamed[k.split(".")[0]] + k[k.index("."):]: torch.tensor(v.numpy())
             for k, v in ours.state_dict().items()}
    missing, unexpected = ref.load_state_dict(state, strict=False)
    assert not unexpected and not missing  # num_batches_tracked too, since issue 12
    x = rng.standard_normal((2, 1, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.tensor(x)).numpy()
    assert np.abs(expected[0] - expected[1]).max() > 0.1 * np.abs(expected).max()  # inputs matter
    with tc.no_grad():
        np.testing.assert_allclose(ours(tc.Tensor(x)).numpy(), expected, rtol=1e-4,
                                   atol=1e-5 * np.abs(expected).max())


# ----- the small-input adaptation: gradients and training -----





@pytest.mark.parametrize("batch_norm", [False, True])
def test_every_parameter_gets_a_gradient(batch_norm, rng):
    tc.manual_seed(0)
    model = vgg11(num_classes=10, in_channels=1, batch_norm=batch_norm, small_input=True)
    x = tc.Tensor(rng.standard_normal((2, 1, 32, 32)).astype(np.float32))
    F.cross_entropy(model(x), tc.Tensor(np.array([2, 9]))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0, name


@pytest.mark.parametrize("name", [pytest.param("vgg11"), pytest.param("vgg13"),
                                  pytest.param("vgg16", marks=pytest.mark.slow),
                                  pytest.param("vgg19", marks=pytest.mark.slow)])
def test_small_input_trains(name, rng):
    tc.manual_seed(0)
    model = BUILDERS[name](num_classes=10, in_channels=1, small_input=True)
    x, y = blob_batch(rng)  # 28x28 padded to 32x32
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    before = eval_loss(model, x, y)
    for _ in range(3):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert eval_loss(model, x, y) < before
