"""AlexNet, the paper's two-tower form and torchvision's single tower (REFERENCE.md 2): exact parameter counts,
output shapes per stage, LRN and groups where the paper puts them, the paper's init, torchvision's parameter
names, the small-input adaptation (gradients, training)."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
import tinycnn.nn.init as init_module
import tinycnn.optim as optim
from tinycnn.models import MODELS
from tinycnn.models.alexnet import alexnet
from tinycnn.summary import layer_table

from tests.models.helpers import blob_batch, eval_loss

# REFERENCE.md 2, "Shapes and params at 227x227 with groups = 2": (output shape, parameters) per layer
PAPER_LAYERS = [("conv1", (96, 55, 55), 34_944), ("pool1", (96, 27, 27), 0), ("conv2", (256, 27, 27), 307_456),
                ("pool2", (256, 13, 13), 0), ("conv3", (384, 13, 13), 885_120), ("conv4", (384, 13, 13), 663_936),
                ("conv5", (256, 13, 13), 442_624), ("pool5", (256, 6, 6), 0), ("fc6", (4096,), 37_752_832),
                ("fc7", (4096,), 16_781_312), ("fc8", (1000,), 4_097_000)]
# torchvision's alexnet(), by hand from its published architecture: name, shape, in named_parameters() order
TORCHVISION_PARAMETERS = [
    ("features.0.weight", (64, 3, 11, 11)), ("features.0.bias", (64,)),
    ("features.3.weight", (192, 64, 5, 5)), ("features.3.bias", (192,)),
    ("features.6.weight", (384, 192, 3, 3)), ("features.6.bias", (384,)),
    ("features.8.weight", (256, 384, 3, 3)), ("features.8.bias", (256,)),
    ("features.10.weight", (256, 256, 3, 3)), ("features.10.bias", (256,)),
    ("classifier.1.weight", (4096, 9216)), ("classifier.1.bias", (4096,)),
    ("classifier.4.weight", (4096, 4096)), ("classifier.4.bias", (4096,)),
    ("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,)),
]
TORCHVISION_SHAPES = [(64, 55, 55), (64, 27, 27), (192, 27, 27), (192, 13, 13), (384, 13, 13), (256, 13, 13),
                      (256, 13, 13), (256, 6, 6)]


def build_without_init(monkeypatch, **kwargs):
    """Build a full-size model with zero weights: the random fills of 61 M values take seconds and are not what
    these tests look at (init is tested on its own)."""
    with monkeypatch.context() as m:
        m.setattr(init_module, "_fill", lambda param, sample: init_module.zeros_(param))
        return alexnet(**kwargs)


@pytest.fixture(scope="module")
def paper():
    tc.manual_seed(0)
    model = alexnet()  # the real init, once for this module
    yield model
    del model


def leaf_layers(model, types):
    return [m for _, m in model.named_modules() if isinstance(m, types)]


def test_paper_parameter_count(paper):
    assert paper.num_parameters() == 60_965_224
    assert sum(p for _, _, p in PAPER_LAYERS) == 60_965_224


def test_paper_layer_by_layer(paper):
    rows = [r for r in layer_table(paper, (3, 227, 227)) if r["type"] in ("Conv2d", "MaxPool2d", "Linear")]
    assert len(rows) == len(PAPER_LAYERS)
    for row, (name, shape, params) in zip(rows, PAPER_LAYERS):
        assert row["output_shape"][1:] == shape, name
        assert row["parameters"] == params, name


def test_paper_lrn_groups_pools_and_dropout(paper):
    f = paper.features
    types = [type(m).__name__ for m in f]
    assert types == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d", "Conv2d", "ReLU", "LocalResponseNorm",
                     "MaxPool2d", "Conv2d", "ReLU", "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    convs = leaf_layers(paper.features, nn.Conv2d)
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]  # the two GPUs: conv2, conv4, conv5 within a tower
    assert convs[0].kernel_size == (11, 11) and convs[0].stride == (4, 4)
    for lrn in leaf_layers(paper, nn.LocalResponseNorm):  # k=2, n=5, alpha=1e-4 undivided, beta=0.75
        assert (lrn.size, lrn.k, lrn.beta) == (5, 2.0, 0.75) and lrn.alpha == pytest.approx(5 * 1e-4)
    for pool in leaf_layers(paper, nn.MaxPool2d):  # overlapping: z = 3, s = 2
        assert (pool.kernel_size, pool.stride) == (3, 2)
    c = [type(m).__name__ for m in paper.classifier]
    # dropout in the first two FC layers (on their outputs), none before fc8's input is fc7's dropped output
    assert c == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert all(d.p == 0.5 for d in leaf_layers(paper, nn.Dropout))


def test_paper_init(paper):
    # Sec. 5: weights N(0, 0.01^2); biases 1 in conv2, conv4, conv5 and the hidden FC layers, 0 elsewhere
    layers = leaf_layers(paper, (nn.Conv2d, nn.Linear))
    for layer, bias in zip(layers, [0, 1, 0, 1, 1, 1, 1, 0]):
        assert np.all(layer.bias.data == bias)
        w = layer.weight.data
        if w.size > 100_000:
            assert abs(float(w.std()) - 0.01) < 5e-4 and abs(float(w.mean())) < 5e-4


def test_paper_input_must_be_227(paper):
    # the text's 224 gives 256x5x5 = 6,400 features, which fc6 (9,216 inputs) does not take (REFERENCE.md 2)
    with tc.no_grad(), pytest.raises(ValueError):
        paper.eval()(tc.Tensor(np.zeros((1, 3, 224, 224), dtype=np.float32)))


def test_torchvision_count_names_and_shapes(monkeypatch):
    model = build_without_init(monkeypatch, variant="torchvision")
    assert model.num_parameters() == 61_100_840
    assert [(n, p.shape) for n, p in model.named_parameters()] == TORCHVISION_PARAMETERS
    shapes = [r["output_shape"][1:] for r in layer_table(model, (3, 224, 224))
              if r["type"] in ("Conv2d", "MaxPool2d")]
    assert shapes == TORCHVISION_SHAPES
    assert not leaf_layers(model, nn.LocalResponseNorm)


def test_registry_entries():
    spec = MODELS["alexnet"]
    assert spec.input_shape == (3, 227, 227) and spec.small_kwargs == {"small_input": True}
    assert spec.small_input_size in (28, 32)
    assert MODELS["alexnet_torchvision"].input_shape == (3, 224, 224)


def test_unknown_variant():
    with pytest.raises(ValueError, match="variant"):
        alexnet(variant="caffe")


@pytest.mark.peer
def test_torchvision_variant_against_a_torch_rebuild(monkeypatch, rng):
    """torchvision's AlexNet rebuilt with torch.nn (torchvision itself is not installed): same parameter names and
    shapes in the same order, and, with its weights loaded, the same outputs."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    torch.manual_seed(0)
    ref = tnn.Module()
    ref.features = tnn.Sequential(
        tnn.Conv2d(3, 64, 11, 4, 2), tnn.ReLU(), tnn.MaxPool2d(3, 2), tnn.Conv2d(64, 192, 5, padding=2), tnn.ReLU(),
        tnn.MaxPool2d(3, 2), tnn.Conv2d(192, 384, 3, padding=1), tnn.ReLU(), tnn.Conv2d(384, 256, 3, padding=1),
        tnn.ReLU(), tnn.Conv2d(256, 256, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2))
    ref.avgpool = tnn.AdaptiveAvgPool2d(6)
    ref.classifier = tnn.Sequential(tnn.Dropout(0.5), tnn.Linear(9216, 4096), tnn.ReLU(), tnn.Dropout(0.5),
                                    tnn.Linear(4096, 4096), tnn.ReLU(), tnn.Linear(4096, 1000))
    ref.eval()
    with torch.no_grad():  # He-scaled weights so that the logits depend clearly on the input
        for layer in ref.modules():
            if isinstance(layer, (tnn.Conv2d, tnn.Linear)):
                layer.weight.normal_(0.0, float(np.sqrt(2 / (layer.weight.numel() // layer.weight.shape[0]))))
                layer.bias.normal_(0.0, 0.1)
    model = build_without_init(monkeypatch, variant="torchvision").eval()
    theirs = [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    assert [(n, p.shape) for n, p in model.named_parameters()] == theirs
    model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    x = rng.standard_normal((2, 3, 99, 99)).astype(np.float32)  # small: adaptive pooling makes it 6x6
    with torch.no_grad():
        expected = torch.flatten(ref.avgpool(ref.features(torch.tensor(x))), 1)
        expected = ref.classifier(expected).numpy()
    assert np.abs(expected[0] - expected[1]).max() > 0.1 * np.abs(expected).max()  # inputs matter
    with tc.no_grad():
        np.testing.assert_allclose(model(tc.Tensor(x)).numpy(), expected, rtol=1e-4,
                                   atol=1e-5 * np.abs(expected).max())


@pytest.mark.peer
def test_small_paper_variant_matches_torch(rng):
    """groups=2, the paper's LRN and overlapping pools, rebuilt with torch.nn on our weights: the same logits."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    tc.manual_seed(0)
    model = alexnet(num_classes=10, in_channels=1, small_input=True).eval()
    ref = tnn.Sequential(
        tnn.Conv2d(1, 96, 5, padding=2), tnn.ReLU(), tnn.LocalResponseNorm(5, 5e-4, 0.75, 2.0), tnn.MaxPool2d(3, 2),
        tnn.Conv2d(96, 256, 5, padding=2, groups=2), tnn.ReLU(), tnn.LocalResponseNorm(5, 5e-4, 0.75, 2.0),
        tnn.MaxPool2d(3, 2), tnn.Conv2d(256, 384, 3, padding=1), tnn.ReLU(),
        tnn.Conv2d(384, 384, 3, padding=1, groups=2), tnn.ReLU(), tnn.Conv2d(384, 256, 3, padding=1, groups=2),
        tnn.ReLU(), tnn.MaxPool2d(3, 2), tnn.AdaptiveAvgPool2d(2), tnn.Flatten(),
        tnn.Linear(1024, 1024), tnn.ReLU(), tnn.Dropout(), tnn.Linear(1024, 1024), tnn.ReLU(), tnn.Dropout(),
        tnn.Linear(1024, 10)).eval()
    # He-scaled weights and small random biases, so that the logits depend on the input (with the paper's init
    # the biases of 1 dominate and every input gives almost the same logits)
    for layer in leaf_layers(model, (nn.Conv2d, nn.Linear)):
        fan_in = layer.weight.numel() // layer.weight.shape[0]
        layer.weight.data[...] = rng.standard_normal(layer.weight.shape) * np.sqrt(2 / fan_in)
        layer.bias.data[...] = rng.standard_normal(layer.bias.shape) * 0.1
    ours = list(model.parameters())
    theirs = list(ref.parameters())
    assert [p.shape for p in ours] == [tuple(t.shape) for t in theirs]
    with torch.no_grad():
        for t, p in zip(theirs, ours):
            t.copy_(torch.tensor(p.numpy()))
        x = rng.standard_normal((2, 1, 28, 28)).astype(np.float32) * 3
        expected = ref(torch.tensor(x)).numpy()
    assert np.abs(expected[0] - expected[1]).max() > 0.1 * np.abs(expected).max()  # inputs matter
    with tc.no_grad():
        np.testing.assert_allclose(model(tc.Tensor(x)).numpy(), expected, rtol=1e-4,
                                   atol=1e-5 * np.abs(expected).max())


# ----- the small-input adaptation -----





@pytest.mark.parametrize("variant", ["paper", "torchvision"])
def test_small_input_shapes_and_count(variant):
    model = alexnet(num_classes=10, in_channels=1, variant=variant, small_input=True)
    rows = layer_table(model, (1, 28, 28))
    pools = [r["output_shape"][1:] for r in rows if r["type"] == "MaxPool2d"]
    c1, c2 = (96, 256) if variant == "paper" else (64, 192)
    assert pools == [(c1, 13, 13), (c2, 6, 6), (256, 2, 2)]  # 28 -> 13 -> 6 -> 2 with 3x3/2 pools
    assert rows[-1]["output_shape"] == (1, 10)
    assert layer_table(model, (1, 32, 32))[-1]["output_shape"] == (1, 10)  # 32x32 works too
    # the count, by hand from the documented layers: conv1 5x5 on 1 channel, FC 1024-1024-10
    if variant == "paper":
        convs = (25 + 1) * 96 + (48 * 25 + 1) * 256 + (256 * 9 + 1) * 384 + (192 * 9 + 1) * 384 + (192 * 9 + 1) * 256
    else:
        convs = (25 + 1) * 64 + (64 * 25 + 1) * 192 + (192 * 9 + 1) * 384 + (384 * 9 + 1) * 256 + (256 * 9 + 1) * 256
    assert model.num_parameters() == convs + 1025 * 1024 + 1025 * 1024 + 1025 * 10


def test_small_input_paper_variant_init():
    # the documented adaptation: He normal (fan_in, ReLU) and zero biases instead of N(0, 0.01^2) and ones
    tc.manual_seed(0)
    model = alexnet(num_classes=10, in_channels=1, small_input=True)
    for layer in leaf_layers(model, (nn.Conv2d, nn.Linear)):
        assert np.all(layer.bias.data == 0)
    conv3 = model.features[8]  # 384 x 256 x 3 x 3
    assert abs(float(conv3.weight.data.std()) / np.sqrt(2 / (256 * 9)) - 1) < 0.02


@pytest.mark.parametrize("variant", ["paper", "torchvision"])
def test_small_input_every_parameter_gets_a_gradient(variant, rng):
    tc.manual_seed(0)
    model = alexnet(num_classes=10, in_channels=1, variant=variant, small_input=True)
    x = tc.Tensor(rng.standard_normal((2, 1, 28, 28)).astype(np.float32))
    F.cross_entropy(model(x), tc.Tensor(np.array([1, 4]))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0, name


@pytest.mark.parametrize("variant", ["paper", "torchvision"])
def test_small_input_trains(variant, rng):
    tc.manual_seed(0)
    model = alexnet(num_classes=10, in_channels=1, variant=variant, small_input=True)
    x, y = blob_batch(rng, pad=0)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    before = eval_loss(model, x, y)
    for _ in range(4):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert eval_loss(model, x, y) < before
