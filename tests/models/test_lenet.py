"""LeNet-5 (the modern variant, REFERENCE.md 1.2): parameter count, shapes per stage, gradients, registry."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
from tinycnn.models import MODELS, get_model, lenet5
from tinycnn.summary import layer_table


def images(rng, n=2, c=1, size=28):
    return tc.Tensor(rng.standard_normal((n, c, size, size)).astype(np.float32))


def test_parameter_count_61706():
    model = lenet5()
    # 156 + 2,416 + 48,120 + 10,164 + 850 (REFERENCE.md 1.2), counted by hand per layer:
    by_hand = (6 * 1 * 5 * 5 + 6) + (16 * 6 * 5 * 5 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert by_hand == 61_706
    assert model.num_parameters() == 61_706
    assert sum(p.numel() for p in model.parameters()) == 61_706


def test_output_shape(rng):
    model = lenet5()
    for n in (1, 3):
        out = model(images(rng, n))
        assert out.shape == (n, 10)
        assert out.dtype == np.float32


def test_per_stage_shapes():
    rows = layer_table(lenet5(), (1, 28, 28))
    shapes = [r["output_shape"][1:] for r in rows]
    types = [r["type"] for r in rows]
    assert types == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
                     "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    stages = [s for s, kind in zip(shapes, types) if kind in ("Conv2d", "MaxPool2d", "Flatten", "Linear")]
    assert stages == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,), (84,), (10,)]


def test_parameters_per_layer():
    rows = layer_table(lenet5(), (1, 28, 28))
    with_params = [r["parameters"] for r in rows if r["parameters"]]
    assert with_params == [156, 2_416, 48_120, 10_164, 850]


def test_every_parameter_gets_a_gradient(rng):
    model = lenet5()
    x = images(rng, 4)
    loss = F.cross_entropy(model(x), np.array([0, 3, 7, 9]))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.shape == p.shape, name
        assert np.isfinite(p.grad.numpy()).all(), name
        assert np.abs(p.grad.numpy()).sum() > 0, name


def test_num_classes_and_in_channels(rng):
    model = lenet5(num_classes=7, in_channels=3)
    assert model(images(rng, 2, c=3)).shape == (2, 7)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    assert weights[0].shape == (6, 3, 5, 5)
    assert weights[-1].shape == (7, 84)
    assert model.num_parameters() == 61_706 + 6 * 2 * 25 - (84 * 3 + 3)
    with pytest.raises(ValueError, match="3 channels"):
        model(images(rng, 1, c=1))


def test_get_model_builds_lenet5(rng):
    model = get_model("lenet5", num_classes=10, in_channels=1)
    assert isinstance(model, nn.Module)
    assert model.num_parameters() == 61_706
    assert "lenet5" in MODELS


def test_get_model_unknown_name_lists_known_names():
    with pytest.raises(KeyError) as info:
        get_model("lenet6")
    message = str(info.value)
    assert "lenet6" in message and "lenet5" in message


def test_same_seed_same_weights():
    tc.manual_seed(5)
    a = lenet5().state_dict()
    tc.manual_seed(5)
    b = lenet5().state_dict()
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_state_dict_names_match_torch_sequential():
    names = list(lenet5().state_dict())
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias",
                     "11.weight", "11.bias"]


def test_unknown_variant():
    with pytest.raises(ValueError, match="variant"):
        lenet5(variant="classic")


def test_a_few_steps_reduce_the_loss(rng):
    """A model that cannot fit 16 fixed images in 30 SGD steps is broken somewhere (forward, backward or wiring)."""
    from tinycnn.optim import SGD

    tc.manual_seed(0)
    model = lenet5()
    x = images(rng, 16)
    y = rng.integers(0, 10, 16)
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    first = None
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_every_registered_name_imports_as_its_constructor():
    # regression: `from tinycnn.models import alexnet` gave the submodule alexnet.py, not the constructor
    import tinycnn.models as models

    for name, spec in models.MODELS.items():
        assert getattr(models, name) is spec.constructor, name
    from tinycnn.models import alexnet, googlenet  # noqa: PLC0415

    assert callable(alexnet) and callable(googlenet)
