"""LeNet-5 as in the 1998 paper (REFERENCE.md 1.1): trainable parameters layer by layer against the paper's
figures, Table I's partial connections, trainable subsampling, the fixed Euclidean RBF output, shapes, training."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
import tinycnn.optim as optim
from tinycnn.models import MODELS, get_model
from tinycnn.models.lenet import lenet5
from tinycnn.models.lenet_paper import (C3_TABLE, EuclideanRBF, PartialConv2d, Subsampling, lenet5_paper,
                                        prototype_codes)
from tinycnn.summary import layer_table

from tests.models.helpers import blob_batch

# Table I of the paper, written out again as REFERENCE.md 1.1 gives it (S2 maps read by each C3 map)
PAPER_TABLE = [{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {4, 5, 0}, {5, 0, 1},
               {0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 0}, {4, 5, 0, 1}, {5, 0, 1, 2},
               {0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}, {0, 1, 2, 3, 4, 5}]
# REFERENCE.md 1.1: trainable parameters and output shapes per layer
PAPER_COUNTS = {"C1": 156, "S2": 12, "C3": 1516, "S4": 32, "C5": 48120, "F6": 10164, "OUTPUT": 0}
PAPER_SHAPES = {"C1": (6, 28, 28), "S2": (6, 14, 14), "C3": (16, 10, 10), "S4": (16, 5, 5), "C5": (120, 1, 1),
                "F6": (84,), "OUTPUT": (10,)}


def to_float64(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


@pytest.fixture(scope="module")
def model():
    tc.manual_seed(0)
    return lenet5_paper()


def test_parameter_counts_layer_by_layer(model):
    for name, count in PAPER_COUNTS.items():
        assert getattr(model, name).num_parameters() == count, name
    assert model.num_parameters() == 60_000
    assert sum(PAPER_COUNTS.values()) == 60_000


def test_rbf_prototypes_are_840_fixed_values(model):
    rbf = model.OUTPUT
    assert rbf.prototypes.shape == (10, 84) and rbf.prototypes.data.size == 840  # a buffer Tensor since issue 12
    assert set(np.unique(rbf.prototypes)) == {-1.0, 1.0}
    assert not any(p is rbf.prototypes for p in model.parameters())
    assert "OUTPUT.prototypes" in model.state_dict()  # a buffer: saved, not trained


def test_output_shapes(model):
    rows = {r["name"]: r["output_shape"][1:] for r in layer_table(model, (1, 32, 32))}
    for name, shape in PAPER_SHAPES.items():
        assert rows[name] == shape, name
    # the squashing follows every layer up to F6
    assert [type(getattr(model, f"{n}_squash")) for n in ("C1", "S2", "C3", "S4", "C5", "F6")] == [nn.ScaledTanh] * 6


def test_lenet5_variant_paper_is_this_model():
    m = lenet5(variant="paper")
    assert isinstance(m.C3, PartialConv2d) and m.num_parameters() == 60_000


def test_registry_entry():
    spec = MODELS["lenet5_paper"]
    assert spec.input_shape == (1, 32, 32) and spec.small_input_size == 32
    assert get_model("lenet5_paper", num_classes=10, in_channels=1).num_parameters() == 60_000


# ----- C3: Table I -----

def test_c3_table_is_table_one():
    assert [set(row) for row in C3_TABLE] == PAPER_TABLE


def test_c3_full_kernel_is_zero_exactly_off_the_table(model):
    full = model.C3.full_weight().numpy()
    assert full.shape == (16, 6, 5, 5) and model.C3.weight.shape[0] == 60
    for o in range(16):
        for i in range(6):
            assert (np.abs(full[o, i]).sum() > 0) == (i in PAPER_TABLE[o]), (o, i)


def test_c3_output_ignores_unconnected_maps(model, rng):
    x = rng.standard_normal((1, 6, 14, 14)).astype(np.float32)
    base = model.C3(tc.Tensor(x)).numpy()
    for i in range(6):
        x2 = x.copy()
        x2[0, i] += rng.standard_normal((14, 14)).astype(np.float32)
        changed = np.abs(model.C3(tc.Tensor(x2)).numpy() - base).reshape(16, -1).max(axis=1) > 0
        assert changed.tolist() == [i in PAPER_TABLE[o] for o in range(16)], i


def test_c3_equals_conv_with_masked_kernel(rng):
    # the gather builds the same kernel a learner would write by hand: zeros where the table has no X
    layer = to_float64(PartialConv2d(6, C3_TABLE))
    mask = np.array([[i in PAPER_TABLE[o] for i in range(6)] for o in range(16)], dtype=np.float64)
    dense = np.zeros((16, 6, 5, 5))
    k = 0
    for o, row in enumerate(C3_TABLE):
        for i in row:
            dense[o, i] = layer.weight.data[k]
            k += 1
    assert (np.abs(dense).sum(axis=(2, 3)) > 0).astype(float).tolist() == mask.tolist()
    x = tc.Tensor(rng.standard_normal((2, 6, 9, 9)))
    expected = F.conv2d(x, tc.Tensor(dense), layer.bias).numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-12)


def test_gradcheck_partial_conv(rng):
    layer = to_float64(PartialConv2d(3, [(0,), (1, 2), (0, 1, 2)], kernel_size=2))
    assert layer.num_parameters() == (1 + 2 + 3) * 4 + 3
    x = tc.Tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    assert tc.gradcheck(lambda x, w, b: layer(x), [x, layer.weight, layer.bias])


def test_partial_conv_rejects_bad_table():
    with pytest.raises(ValueError, match="table"):
        PartialConv2d(3, [(0, 3)])
    with pytest.raises(ValueError, match="table"):
        PartialConv2d(3, [(1, 1)])


# ----- S2 / S4: trainable subsampling -----

def test_subsampling_hand_values():
    layer = to_float64(Subsampling(2))
    layer.weight.data[...] = [0.5, -2.0]
    layer.bias.data[...] = [0.25, 1.0]
    x = np.arange(2 * 4 * 4, dtype=np.float64).reshape(1, 2, 4, 4)
    y = layer(tc.Tensor(x)).numpy()
    # map 0, top-left block: 0 + 1 + 4 + 5 = 10 -> 10 * 0.5 + 0.25; map 1, bottom-right: 26+27+30+31 = 114
    assert y.shape == (1, 2, 2, 2)
    assert y[0, 0, 0, 0] == pytest.approx(10 * 0.5 + 0.25)
    assert y[0, 1, 1, 1] == pytest.approx(114 * -2.0 + 1.0)


def test_gradcheck_subsampling(rng):
    layer = to_float64(Subsampling(3))
    x = tc.Tensor(rng.standard_normal((2, 3, 4, 6)), requires_grad=True)
    assert tc.gradcheck(lambda x, w, b: layer(x), [x, layer.weight, layer.bias])


# ----- OUTPUT: Euclidean RBF -----

def test_rbf_values_and_logits(rng):
    protos = np.sign(rng.standard_normal((4, 6)))
    x = rng.standard_normal((3, 6))
    penalties = ((x[:, None, :] - protos[None]) ** 2).sum(axis=2)  # y_i = sum_j (x_j - w_ij)^2
    np.testing.assert_allclose(EuclideanRBF(protos, logits=False)(tc.Tensor(x)).numpy(), penalties, rtol=1e-6)
    np.testing.assert_allclose(EuclideanRBF(protos)(tc.Tensor(x)).numpy(), -penalties, rtol=1e-6)
    # the nearest prototype is the top logit: the input equal to prototype 2 is classified 2
    assert EuclideanRBF(protos)(tc.Tensor(protos[2:3])).numpy().argmax() == 2


def test_gradcheck_rbf(rng):
    layer = EuclideanRBF(np.sign(rng.standard_normal((5, 7))))
    x = tc.Tensor(rng.standard_normal((3, 7)), requires_grad=True)
    assert tc.gradcheck(layer, [x])


def test_prototype_codes():
    digits = prototype_codes(10)
    assert digits.shape == (10, 84) and set(np.unique(digits)) == {-1.0, 1.0}
    assert len({row.tobytes() for row in digits}) == 10  # ten distinct codes
    other = prototype_codes(26)
    assert other.shape == (26, 84) and np.array_equal(other, prototype_codes(26))  # fixed, not seeded by tc
    assert lenet5_paper(num_classes=26).OUTPUT.prototypes.shape == (26, 84)


# ----- init, gradients, training -----

def test_init_is_uniform_within_2_4_over_fan_in(model):
    # appendix A: U(-2.4 / F_i, 2.4 / F_i), F_i the number of inputs of the unit
    for layer, fan_in in ((model.C1, 25), (model.C5, 16 * 25), (model.F6, 120)):
        for p in (layer.weight, layer.bias):
            assert np.abs(p.data).max() <= 2.4 / fan_in
        assert np.abs(layer.weight.data).max() > 0.9 * 2.4 / fan_in  # the whole range is used
    for layer in (model.S2, model.S4):
        assert np.abs(layer.weight.data).max() <= 2.4 / 4
    kernels = np.abs(model.C3.weight.data).reshape(60, -1).max(axis=1)
    fan_in = np.array([len(row) * 25 for row in PAPER_TABLE for _ in row])
    assert np.all(kernels <= 2.4 / fan_in)


def test_every_parameter_gets_a_gradient(rng):
    m = lenet5_paper()
    x = tc.Tensor(rng.standard_normal((2, 1, 32, 32)).astype(np.float32))
    F.cross_entropy(m(x), tc.Tensor(np.array([3, 7]))).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0, name




def test_a_few_sgd_steps_lower_the_loss(rng):
    tc.manual_seed(1)
    m = lenet5_paper(num_classes=10, in_channels=1)
    x, y = blob_batch(rng)  # 28x28 padded to 32x32
    opt = optim.SGD(m.parameters(), lr=0.005, momentum=0.9)  # the RBF logits are large: a small rate
    losses = []
    for _ in range(10):
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05, losses
