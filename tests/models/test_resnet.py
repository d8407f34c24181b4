"""ImageNet ResNet-18..152 (He et al. 2016): exact parameter counts, torchvision's parameter names, order and shapes
and module tree, stage shapes and MACs at 224x224 (both bottleneck stride placements), 32x32 inputs,
initialization, float64 gradchecks of the basic and bottleneck blocks. Figures from REFERENCE.md section 5.

Each network is built once per module (ResNet-152 alone holds 240 MB of float32 weights)."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
from tinycnn.models import MODELS, resnet
from tinycnn.summary import layer_table

# name: (block kind, blocks per stage, parameters for 1000 classes) -- REFERENCE.md 5, Table 1 and counts
SPECS = {
    "resnet18": ("basic", [2, 2, 2, 2], 11_689_512),
    "resnet34": ("basic", [3, 4, 6, 3], 21_797_672),
    "resnet50": ("bottleneck", [3, 4, 6, 3], 25_557_032),
    "resnet101": ("bottleneck", [3, 4, 23, 3], 44_549_160),
    "resnet152": ("bottleneck", [3, 8, 36, 3], 60_192_808),
}


@pytest.fixture(scope="module")
def build():
    """build(name, **kwargs): each distinct model constructed once for the whole module."""
    cache = {}

    def get(name, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            tc.manual_seed(0)
            cache[key] = getattr(resnet, name)(**kwargs)
        return cache[key]

    yield get
    cache.clear()


def torchvision_parameters(kind, counts, num_classes=1000):
    """(name, shape) of torchvision's ResNet ``named_parameters()``, written out from its ``resnet.py``
    (``_make_layer``: a block's conv/bn pairs, then ``downsample`` where stride != 1 or channels change)."""
    out = [("conv1.weight", (64, 3, 7, 7)), ("bn1.weight", (64,)), ("bn1.bias", (64,))]
    expansion = 1 if kind == "basic" else 4
    inplanes = 64
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), counts), 1):
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1
            p = f"layer{stage}.{i}."
            if kind == "basic":
                convs = [(planes, inplanes, 3, 3), (planes, planes, 3, 3)]
            else:
                convs = [(planes, inplanes, 1, 1), (planes, planes, 3, 3), (planes * 4, planes, 1, 1)]
            for k, shape in enumerate(convs, 1):
                out += [(f"{p}conv{k}.weight", shape), (f"{p}bn{k}.weight", shape[:1]), (f"{p}bn{k}.bias", shape[:1])]
            if stride != 1 or inplanes != planes * expansion:
                c = planes * expansion
                out += [(f"{p}downsample.0.weight", (c, inplanes, 1, 1)), (f"{p}downsample.1.weight", (c,)),
                        (f"{p}downsample.1.bias", (c,))]
            inplanes = planes * expansion
    return out + [("fc.weight", (num_classes, 512 * expansion)), ("fc.bias", (num_classes,))]


@pytest.mark.parametrize("name", list(SPECS))
def test_parameter_count(build, name):
    assert build(name).num_parameters() == SPECS[name][2]


@pytest.mark.parametrize("name", list(SPECS))
def test_named_parameters_follow_torchvision(build, name):
    kind, counts, total = SPECS[name]
    expected = torchvision_parameters(kind, counts)
    assert sum(int(np.prod(s)) for _, s in expected) == total  # the written-out list is itself right
    mine = [(n, p.shape) for n, p in build(name).named_parameters()]
    assert [s for _, s in mine] == [s for _, s in expected]  # shapes, in order
    assert [n for n, _ in mine] == [n for n, _ in expected]  # names: torchvision's, as they are (issue 15)
    # the buffers too: every batch norm's running statistics and, since issue 12, num_batches_tracked as well
    bns = [n[:-len(".weight")] for n, s in expected if len(s) == 1 and n.endswith(".weight")]
    buffers = {n for n, _ in build(name).named_buffers()}
    stats = ("running_mean", "running_var", "num_batches_tracked")
    assert buffers == {f"{bn}.{stat}" for bn in bns for stat in stats}


def test_module_tree_is_torchvisions(build):
    """The tree a student prints is torchvision's: ResNet > layerN (Sequential) > BasicBlock / Bottleneck with
    conv1, bn1, relu, conv2, bn2 (conv3, bn3) and downsample (a Sequential of a 1x1 conv and a batch norm) where
    the shape changes. (The peer tests compare the whole repr with a torch rebuild.)"""
    r18, r50 = build("resnet18"), build("resnet50")
    assert type(r18).__name__ == "ResNet" and list(r18._modules) == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    assert list(r18.layer2[0]._modules) == ["conv1", "bn1", "relu", "conv2", "bn2", "downsample"]
    assert list(r18.layer2[1]._modules) == ["conv1", "bn1", "relu", "conv2", "bn2"] and r18.layer2[1].downsample is None
    assert list(r50.layer1[0]._modules) == ["conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "relu", "downsample"]
    assert type(r50.layer1[0]).__name__ == "Bottleneck" and type(r18.layer1[0]).__name__ == "BasicBlock"
    assert [type(m).__name__ for m in r50.layer3[0].downsample] == ["Conv2d", "BatchNorm2d"]
    assert r50.layer3[0].downsample[0].stride == (2, 2) and r50.layer3[0].downsample[0].kernel_size == (1, 1)
    assert "(downsample): Sequential(" in repr(r18) and ".body" not in str(list(r18.state_dict()))


def test_replacing_the_head_in_place(build):
    model = resnet.resnet18(num_classes=3)
    model.fc = nn.Linear(model.fc.in_features, 5)
    assert list(model._modules)[-1] == "fc" and model.fc.out_features == 5
    assert model(tc.Tensor(np.zeros((2, 3, 32, 32), dtype=np.float32))).shape == (2, 5)
    assert [n for n, _ in model.named_parameters()][-2:] == ["fc.weight", "fc.bias"]


def test_missing_projection_is_an_error():
    block = resnet.BasicBlock(4, 8, stride=2)  # no downsample where the shape changes
    with pytest.raises(ValueError, match="downsample"):
        block(tc.Tensor(np.zeros((1, 4, 8, 8), dtype=np.float32)))


def _stage_outputs(rows):
    """Output shape (C, H, W) of the stem's max-pool and of each stage: the last layer called inside it."""
    out = {}
    for r in rows:
        top = r["name"].split(".")[0]
        out[top] = r["output_shape"][1:]
    return out


@pytest.mark.parametrize("name, widths, macs", [
    ("resnet18", (64, 128, 256, 512), 1.814),
    ("resnet50", (256, 512, 1024, 2048), 4.089),  # torchvision's v1.5: the stride in the 3x3
])
def test_stage_shapes_and_macs_at_224(build, name, widths, macs):
    rows = layer_table(build(name), (3, 224, 224))  # one forward of one image, eval mode
    stages = _stage_outputs(rows)
    assert stages["conv1"] == (64, 112, 112)
    assert stages["maxpool"] == (64, 56, 56)
    for k, (c, hw) in enumerate(zip(widths, (56, 28, 14, 7)), 1):
        assert stages[f"layer{k}"] == (c, hw, hw)
    assert stages["avgpool"] == (widths[-1], 1, 1)
    assert stages["fc"] == (1000,)
    assert round(sum(r["macs"] for r in rows) / 1e9, 3) == macs


def test_stride_in_1x1_is_the_paper_form(build):
    v15, v1 = build("resnet50"), build("resnet50", stride_in_1x1=True)
    named15, named1 = dict(v15.named_modules()), dict(v1.named_modules())
    assert named15["layer2.0.conv1"].stride == (1, 1) and named15["layer2.0.conv2"].stride == (2, 2)
    assert named1["layer2.0.conv1"].stride == (2, 2) and named1["layer2.0.conv2"].stride == (1, 1)
    assert v1.num_parameters() == SPECS["resnet50"][2]  # the same weights, fewer MACs
    rows = layer_table(v1, (3, 224, 224))
    assert round(sum(r["macs"] for r in rows) / 1e9, 3) == 3.858
    assert _stage_outputs(rows)["layer4"] == (2048, 7, 7)


def test_32x32_input_runs_as_is(build):
    model = build("resnet18")
    x = tc.Tensor(np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
    model.train()
    logits = model(x)  # layer4 works on 1x1 maps; batch norm sees 2 values per channel
    assert logits.shape == (2, 1000)
    F.cross_entropy(logits, np.array([1, 2])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.numpy()).max() > 0, pname
    model.zero_grad()
    model.eval()
    assert model(x).shape == (2, 1000)
    assert _stage_outputs(layer_table(model, (3, 32, 32)))["layer4"] == (512, 1, 1)


def test_initialization_as_torchvision(build):
    model = build("resnet18")
    named = dict(model.named_modules())
    w = named["layer4.1.conv2"].weight.numpy()  # (512, 512, 3, 3): fan_out 4608
    assert w.std() == pytest.approx(np.sqrt(2 / 4608), rel=0.01)
    assert abs(w.mean()) < 1e-3
    stem = named["conv1"].weight.numpy()  # (64, 3, 7, 7): fan_out 3136 (fan_in would be 147)
    assert stem.std() == pytest.approx(np.sqrt(2 / 3136), rel=0.05)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert (m.weight.numpy() == 1).all() and (m.bias.numpy() == 0).all()
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
    fc = named["fc"].weight.numpy()
    assert np.abs(fc).max() <= 1 / np.sqrt(512)


def float64(module):
    return module.double()  # parameters and floating buffers (issue 12; this cast them by hand before)


@pytest.mark.parametrize("kind, args, in_channels", [
    ("basic, projection", dict(inplanes=2, planes=3, stride=2), 2),
    ("basic, identity", dict(inplanes=3, planes=3, stride=1), 3),
    ("bottleneck, projection, stride in 3x3", dict(inplanes=4, planes=2, stride=2), 4),
    ("bottleneck, projection, stride in 1x1", dict(inplanes=4, planes=2, stride=2, stride_in_1x1=True), 4),
    ("bottleneck, identity", dict(inplanes=8, planes=2, stride=1), 8),
])
def test_block_gradcheck_float64(kind, args, in_channels):
    tc.manual_seed(0)
    block_cls = resnet.BasicBlock if kind.startswith("basic") else resnet.Bottleneck
    out_channels = args["planes"] * block_cls.expansion
    if "projection" in kind:  # as ResNet._make_layer: a projection where the shape changes
        args = dict(args, downsample=resnet.projection(args["inplanes"], out_channels, args["stride"]))
    block = float64(block_cls(**args))
    assert (block.downsample is None) == ("identity" in kind)
    x = tc.Tensor(np.random.default_rng(2).standard_normal((2, in_channels, 4, 4)), requires_grad=True)
    out = block(x)
    stride = args["stride"]
    assert out.shape == (2, args["planes"] * (1 if kind.startswith("basic") else 4), 4 // stride, 4 // stride)
    assert tc.gradcheck(lambda x_, *p: block(x_), [x] + list(block.parameters()))


def test_registry():
    for name in SPECS:
        spec = MODELS[name]
        assert spec.input_shape == (3, 224, 224)
        assert spec.small_input_size == 32 and spec.small_kwargs == {}
        assert spec.constructor is getattr(resnet, name)
