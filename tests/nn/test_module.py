"""nn.Module: registration order, shared parameters, buffers, state_dict round trips and errors, modes, repr."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn


class WithBuffer(nn.Module):
    """A layer with one parameter and one buffer (what batch norm's running statistics are)."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.register_buffer("count", np.zeros(3, dtype=np.float32))

    def forward(self, x):
        return x * self.scale


class Block(nn.Module):
    """Children assigned in a deliberately non-alphabetical order: conv, then fc, then an inner block."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(4, 3)
        self.aux = WithBuffer()

    def forward(self, x):
        return x


def test_named_parameters_weight_before_bias_children_in_build_order():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(5, 4), Block())
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias",
                     "3.conv.weight", "3.conv.bias", "3.fc.weight", "3.fc.bias", "3.aux.scale"]


def test_named_parameters_are_the_layer_objects():
    lin = nn.Linear(3, 2)
    params = dict(lin.named_parameters())
    assert params["weight"] is lin.weight and params["bias"] is lin.bias
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in params.values())


def test_bias_false_has_no_bias_parameter():
    conv = nn.Conv2d(2, 3, 3, bias=False)
    assert [n for n, _ in conv.named_parameters()] == ["weight"]
    assert conv.bias is None


def test_shared_parameter_listed_once():
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    b.weight = a.weight  # tie the weights
    model = nn.Sequential(a, b)
    params = list(model.parameters())
    assert len(params) == 3  # a.weight, a.bias, b.bias
    assert sum(p is a.weight for p in params) == 1
    assert model.num_parameters() == 16 + 4 + 4


def test_shared_module_used_twice_gets_summed_gradient():
    lin = nn.Linear(1, 1, bias=False)
    lin.weight.data[...] = 3.0
    model = nn.Sequential(lin, lin)  # y = w * (w * x) = w^2 x, dy/dw = 2 w x
    assert len(list(model.parameters())) == 1
    x = tc.Tensor(np.array([[2.0]], dtype=np.float32))
    model(x).sum().backward()
    assert lin.weight.grad.numpy().item() == pytest.approx(2 * 3.0 * 2.0)


def test_num_parameters_counts_every_scalar():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Linear(10, 5), nn.Linear(5, 2, bias=False))
    assert model.num_parameters() == (8 * 3 * 3 * 3 + 8) + (10 * 5 + 5) + 5 * 2


def test_buffers_in_state_dict_after_parameters():
    block = Block()
    keys = list(block.state_dict())
    assert keys == ["conv.weight", "conv.bias", "fc.weight", "fc.bias", "aux.scale", "aux.count"]
    names = [n for n, _ in block.named_parameters()]
    assert "aux.count" not in names  # a buffer is saved but not trained


def test_state_dict_shares_memory_with_the_parameters():
    # PyTorch's semantics (issue 12): detached Tensors over the same arrays. This test asserted the opposite (a
    # NumPy copy) before.
    lin = nn.Linear(3, 2)
    sd = lin.state_dict()
    assert isinstance(sd["weight"], tc.Tensor) and not sd["weight"].requires_grad
    assert sd["weight"] is not lin.weight and np.shares_memory(sd["weight"].data, lin.weight.data)
    sd["weight"].data[...] = 123.0
    np.testing.assert_array_equal(lin.weight.data, np.full((2, 3), 123.0, np.float32))
    lin.bias.data[...] = -1.0  # an optimizer step changes the values a state_dict shows
    np.testing.assert_array_equal(sd["bias"].numpy(), [-1.0, -1.0])


def test_state_dict_round_trip_copies_values():
    tc.manual_seed(0)
    src = Block()
    src.aux.count.data[...] = [1.0, 2.0, 3.0]
    tc.manual_seed(1)
    dst = Block()
    assert not np.array_equal(src.conv.weight.data, dst.conv.weight.data)
    sd = src.state_dict()
    dst.load_state_dict(sd)
    for key, value in src.state_dict().items():
        np.testing.assert_array_equal(dst.state_dict()[key], value)
    np.testing.assert_array_equal(dst.aux.count, [1.0, 2.0, 3.0])
    # not aliased: changing the dict or the source afterwards leaves the destination alone
    sd["conv.weight"].data[...] = 7.0
    src.fc.weight.data[...] = -5.0
    src.aux.count.data[...] = 0.0
    assert not np.any(dst.conv.weight.data == 7.0)
    assert not np.any(dst.fc.weight.data == -5.0)
    np.testing.assert_array_equal(dst.aux.count, [1.0, 2.0, 3.0])


def test_load_state_dict_keeps_parameter_objects_and_dtype():
    lin = nn.Linear(3, 2)
    weight = lin.weight
    lin.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})  # float64 arrays in
    assert lin.weight is weight  # an optimizer built before keeps working
    assert lin.weight.dtype == np.float32
    np.testing.assert_array_equal(lin.weight.data, np.ones((2, 3), np.float32))


def test_load_state_dict_missing_and_unexpected_keys():
    lin = nn.Linear(3, 2)
    with pytest.raises(RuntimeError) as info:  # PyTorch's RuntimeError (KeyError before issue 12)
        lin.load_state_dict({"weight": np.zeros((2, 3)), "extra.thing": np.zeros(1)})
    message = str(info.value)
    assert "bias" in message and "extra.thing" in message


def test_load_state_dict_missing_only():
    block = Block()
    sd = block.state_dict()
    del sd["aux.count"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "aux.count"'):
        block.load_state_dict(sd)


def test_load_state_dict_non_strict_ignores_unknown_keys():
    lin = nn.Linear(3, 2)
    lin.load_state_dict({"weight": np.full((2, 3), 2.0), "unknown": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(lin.weight.data, np.full((2, 3), 2.0, np.float32))


def test_load_state_dict_wrong_shape_names_key_and_shapes():
    lin = nn.Linear(3, 2)
    bad = {"weight": np.zeros((3, 2)), "bias": np.zeros(2)}
    with pytest.raises(RuntimeError) as info:  # PyTorch's RuntimeError (ValueError before issue 12)
        lin.load_state_dict(bad)
    message = str(info.value)
    assert "weight" in message and "(2, 3)" in message and "(3, 2)" in message


def test_train_eval_recursive():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), Block()))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_repr_names_layers():
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 10))
    text = repr(model)
    for name in ("Sequential", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "in_features=400"):
        assert name in text
    assert text.index("Conv2d") < text.index("ReLU") < text.index("Linear")


def test_zero_grad_sets_grads_to_none():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    x = tc.Tensor(np.ones((4, 3), dtype=np.float32))
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_assigning_before_super_init_is_an_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_reassigning_attribute_replaces_registration():
    block = Block()
    block.fc = nn.Linear(4, 1, bias=False)
    names = [n for n, _ in block.named_parameters()]
    assert names.count("fc.weight") == 1 and "fc.bias" not in names
    block.fc = None  # a plain attribute now: the child is gone
    assert "fc.weight" not in [n for n, _ in block.named_parameters()]
