"""The Module surface of issue 12, as torch.nn.Module: in-place replacement of children, registration rules,
shared modules, traversal, modes, dtype/device conversion, state_dict sharing memory, load_state_dict's checks
and result, repr; each against hand values and, marked peer, against torch on the same weights."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
from tinycnn import optim


class Net(nn.Module):
    """A course-style Module subclass: a feature extractor and a head, used by name in forward."""

    def __init__(self, lib):
        super().__init__()
        self.features = lib.Sequential(OrderedDict([
            ("conv1", lib.Conv2d(1, 4, 3, padding=1)), ("bn1", lib.BatchNorm2d(4)), ("relu", lib.ReLU()),
            ("conv2", lib.Conv2d(4, 4, 3)), ("relu2", lib.ReLU())]))
        self.flatten = lib.Flatten()
        self.fc = lib.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(self.flatten(self.features(x)))


def torch_net(torch):
    """The same network built with torch.nn (the class named Net too, for the error messages)."""
    model = type("Net", (torch.nn.Module,), {"forward": Net.forward})()
    model.features = torch.nn.Sequential(OrderedDict([
        ("conv1", torch.nn.Conv2d(1, 4, 3, padding=1)), ("bn1", torch.nn.BatchNorm2d(4)), ("relu", torch.nn.ReLU()),
        ("conv2", torch.nn.Conv2d(4, 4, 3)), ("relu2", torch.nn.ReLU())]))
    model.flatten = torch.nn.Flatten()
    model.fc = torch.nn.Linear(4 * 4 * 4, 3)
    return model


def copy_weights_to_torch(ours, theirs, torch):
    state = {k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()}
    result = theirs.load_state_dict(state)  # strict: the same names, num_batches_tracked included
    assert not result.missing_keys and not result.unexpected_keys


# ----- replacing a child keeps its place ------------------------------------------------------------------

def test_replacing_a_child_keeps_its_position():
    model = Net(nn)
    model.features.conv1 = nn.Conv2d(1, 4, 5, padding=2)  # "change the stem"
    model.features.relu = nn.Tanh()
    assert list(model.features._modules) == ["conv1", "bn1", "relu", "conv2", "relu2"]
    assert [type(m).__name__ for m in model.features] == ["Conv2d", "BatchNorm2d", "Tanh", "Conv2d", "ReLU"]
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["features.conv1.weight", "features.conv1.bias"]
    model(tc.Tensor(np.zeros((2, 1, 6, 6), np.float32)))  # runs: the stem still comes first
    model.fc = nn.Linear(64, 10)  # a new head, the transfer-learning edit
    assert list(model._modules) == ["features", "flatten", "fc"]
    lin = nn.Linear(2, 2)
    bias = lin.bias
    lin.weight = nn.Parameter(np.zeros((2, 2), np.float32))
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"] and lin.bias is bias


@pytest.mark.peer
def test_edited_model_gives_torchs_logits():
    torch = pytest.importorskip("torch")
    tc.manual_seed(0)
    ours, theirs = Net(nn), torch_net(torch)
    ours.features.conv1 = nn.Conv2d(1, 4, 5, padding=2)
    ours.features.relu = nn.Tanh()
    ours.fc = nn.Linear(64, 10)
    theirs.features.conv1 = torch.nn.Conv2d(1, 4, 5, padding=2)
    theirs.features.relu = torch.nn.Tanh()
    theirs.fc = torch.nn.Linear(64, 10)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_weights_to_torch(ours, theirs, torch)
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        expected = theirs(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(ours(tc.Tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.features.bn1.running_mean.numpy(), theirs.features.bn1.running_mean.numpy(),
                               rtol=1e-5, atol=1e-8)


# ----- registration rules ---------------------------------------------------------------------------------

def test_assignment_type_rules_as_torch():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        lin.weight = tc.Tensor(np.zeros((2, 2), np.float32))
    model = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match="cannot assign 'int' as child module '0'"):
        setattr(model, "0", 3)
    lin.bias = None  # allowed: the parameter becomes None and leaves the parameter list, keeping its slot
    assert "bias" in lin._parameters and [n for n, _ in lin.named_parameters()] == ["weight"]
    bn = nn.BatchNorm2d(2)
    with pytest.raises(TypeError, match="buffer 'running_mean'"):
        bn.running_mean = [0.0, 0.0]
    bn.running_mean = np.ones(2, np.float32)  # an array is wrapped (a NumPy convenience)
    assert isinstance(bn.running_mean, tc.Tensor)
    assert list(bn._buffers) == ["running_mean", "running_var", "num_batches_tracked"]


def test_register_methods_and_their_errors():
    m = nn.Module()
    m.register_parameter("w", nn.Parameter(np.zeros(2)))
    m.register_buffer("stat", np.zeros(2))
    m.register_buffer("scratch", tc.Tensor(np.zeros(3)), persistent=False)
    m.add_module("child", nn.ReLU())
    m.register_module("other", nn.Tanh())
    assert list(m.state_dict()) == ["w", "stat"]  # non-persistent buffers are not saved
    assert [n for n, _ in m.named_buffers()] == ["stat", "scratch"]
    assert [n for n, _ in m.named_children()] == ["child", "other"]
    with pytest.raises(KeyError, match="buffer name can.*t contain"):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(KeyError, match="empty string"):
        m.register_parameter("", None)
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        m.register_buffer("training", np.zeros(1))
    with pytest.raises(TypeError, match="parameter name should be a string"):
        m.register_parameter(1, None)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' object to parameter 'v'"):
        m.register_parameter("v", tc.Tensor(np.zeros(1)))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", np.zeros(1))
    x = tc.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("y", _non_leaf_parameter(x))
    del m.child
    assert [n for n, _ in m.named_children()] == ["other"]


def _non_leaf_parameter(x):
    p = nn.Parameter(np.ones(2))
    p._ctx = (x * 2)._ctx  # a Parameter that was computed: PyTorch refuses it
    return p


def test_plain_attributes_before_super_init_are_allowed_as_in_torch():
    class Early(nn.Module):
        def __init__(self):
            self.size_hint = 3  # fine in PyTorch too
            super().__init__()
            self.lin = nn.Linear(3, 1)

    assert Early().size_hint == 3


def test_get_submodule_parameter_buffer():
    model = Net(nn)
    assert model.get_submodule("features.conv2") is model.features.conv2
    assert model.get_submodule("") is model
    assert model.get_parameter("fc.bias") is model.fc.bias
    assert model.get_buffer("features.bn1.running_var") is model.features.bn1.running_var
    with pytest.raises(AttributeError, match="has no attribute `conv9`"):
        model.get_submodule("features.conv9")
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        model.get_submodule("fc.weight")


# ----- shared modules, traversal --------------------------------------------------------------------------

def shared_model(lib):
    block = lib.Linear(3, 3)
    return lib.Sequential(block, lib.ReLU(), block)


def test_module_used_twice_is_listed_once():
    model = shared_model(nn)
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in model.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)] == ["0.weight", "0.bias", "2.weight",
                                                                              "2.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # every name, as torch
    model.load_state_dict(model.state_dict())
    assert len(list(model.children())) == 2


@pytest.mark.peer
def test_shared_module_names_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = shared_model(nn), shared_model(torch.nn)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_modules(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_modules(remove_duplicate=False)]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters(prefix="m")] == [n for n, _ in theirs.named_parameters(prefix="m")]
    assert [n for n, _ in Net(nn).named_parameters(recurse=False)] == []
    assert [n for n, _ in Net(nn).named_buffers()] == [n for n, _ in torch_net(torch).named_buffers()]


def test_apply_visits_children_first_and_returns_self():
    model = Net(nn)
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "ReLU", "Sequential", "Flatten", "Linear", "Net"]

    def init(m):
        if isinstance(m, nn.Linear):
            m.weight.data.fill(0)

    model.apply(init)
    assert not model.fc.weight.data.any()


def test_modes_requires_grad_and_zero_grad():
    model = Net(nn)
    assert model.eval() is model and not model.features.bn1.training
    assert model.train() is model and model.features.relu.training
    with pytest.raises(ValueError, match="boolean"):
        model.train("no")
    assert model.features.requires_grad_(False) is model.features  # freeze the backbone
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    model.requires_grad_()
    loss = model(tc.Tensor(np.ones((2, 1, 6, 6), np.float32))).sum()
    loss.backward()
    grad = model.fc.weight.grad
    model.zero_grad(set_to_none=False)
    assert model.fc.weight.grad is grad and not grad.data.any()
    model.zero_grad()
    assert model.fc.weight.grad is None


# ----- dtype and device -----------------------------------------------------------------------------------

def test_double_float_to_keep_parameter_objects_and_int_buffers():
    model = Net(nn)
    params = list(model.parameters())
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(tc.Tensor(np.ones((2, 1, 6, 6), np.float32))).sum().backward()
    assert model.double() is model
    assert all(a is b for a, b in zip(model.parameters(), params))
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    bn = model.features.bn1
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    x = tc.Tensor(np.random.default_rng(0).standard_normal((2, 1, 6, 6)), requires_grad=True)
    assert model(x).dtype == np.float64
    assert tc.gradcheck(lambda t: model.eval()(t), [x], mode="fast")
    opt.step()  # the optimizer built before the cast updates the float64 arrays
    assert all(p.dtype == np.float64 for p in params)
    model.float()
    assert all(p.dtype == np.float32 for p in params) and bn.running_var.dtype == np.float32
    model.to(np.float64)
    assert model.fc.weight.dtype == np.float64
    model.to("cpu", dtype=np.float32)
    assert model.fc.weight.dtype == np.float32
    model.to(tc.Tensor(np.zeros(1)))  # a tensor's device and dtype
    assert model.fc.weight.dtype == np.float64 and model.cpu() is model
    model.half()
    assert model.fc.bias.dtype == np.float16
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes"):
        model.to(np.int64)
    with pytest.raises(ValueError, match="device must be"):
        model.to("gpu")
    with pytest.raises(TypeError, match="bfloat16"):
        model.bfloat16()


# ----- state_dict and load_state_dict ---------------------------------------------------------------------

def test_state_dict_keep_vars_prefix_and_sharing():
    model = Net(nn)
    sd = model.state_dict()
    assert isinstance(sd, OrderedDict)
    assert all(np.shares_memory(sd[n].data, p.data) for n, p in model.named_parameters())
    assert np.shares_memory(sd["features.bn1.running_mean"].data, model.features.bn1.running_mean.data)
    assert model.state_dict(keep_vars=True)["fc.weight"] is model.fc.weight
    assert list(model.fc.state_dict(prefix="head.")) == ["head.weight", "head.bias"]
    model.train()(tc.Tensor(np.ones((2, 1, 6, 6), np.float32)))
    assert sd["features.bn1.num_batches_tracked"].item() == 1  # the buffer moved in place: the dict sees it


def test_load_state_dict_strict_false_reports_keys():
    model = Net(nn)
    sd = {k: v.numpy().copy() for k, v in Net(nn).state_dict().items()}
    del sd["fc.bias"]
    sd["fc.extra"] = np.zeros(1)
    sd["head.weight"] = np.zeros(1)
    result = model.load_state_dict(sd, strict=False)
    # unexpected keys in traversal order (the model's own level first), as PyTorch lists them
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == ["head.weight", "fc.extra"]
    missing, unexpected = result  # a named tuple, as torch's
    assert repr(result).startswith("_IncompatibleKeys(missing_keys=['fc.bias']")
    np.testing.assert_array_equal(model.fc.weight.data, sd["fc.weight"])  # the others were loaded
    assert repr(model.load_state_dict(model.state_dict())) == "<All keys matched successfully>"


def test_a_failure_on_a_late_key_leaves_every_parameter_untouched():
    model = Net(nn)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    bad = {k: np.full(v.shape, 7.0) for k, v in before.items()}
    bad["fc.bias"] = np.zeros(5)  # the last key has the wrong shape
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(bad)
    assert str(info.value).startswith("Error(s) in loading state_dict for Net:\n\tsize mismatch for fc.bias: "
                                      "copying a param with shape (5,) from checkpoint, the shape in current model "
                                      "is (3,).")
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    del bad["fc.bias"]
    bad["fc.bias"] = np.zeros(3)
    del bad["features.conv1.weight"]
    bad["stray"] = np.zeros(1)
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "features.conv1.weight". \n\t'
                                           'Unexpected key\\(s\\) in state_dict: "stray".'):
        model.load_state_dict(bad)
    np.testing.assert_array_equal(model.fc.weight.numpy(), before["fc.weight"])


def test_load_copies_into_the_existing_arrays_with_the_models_dtype():
    model = Net(nn)
    arrays = {id(p): p.data for p in model.parameters()}
    src = Net(nn).double()
    model.load_state_dict(src.state_dict())  # float64 Tensors into float32 parameters
    for name, p in model.named_parameters():
        assert p.data is arrays[id(p)] and p.dtype == np.float32
        np.testing.assert_array_equal(p.data, src.get_parameter(name).data.astype(np.float32))
    sd = model.state_dict()
    del sd["features.bn1.num_batches_tracked"]  # a plain dict of an older checkpoint: tolerated, as PyTorch
    assert model.load_state_dict(sd).missing_keys == []
    with pytest.raises(RuntimeError, match="expected Tensor or array-like"):
        model.load_state_dict({**model.state_dict(), "fc.bias": [0.0, 0.0, 0.0]})
    with pytest.raises(TypeError, match="dict-like"):
        model.load_state_dict([("fc.bias", np.zeros(3))])


@pytest.mark.peer
def test_load_state_dict_results_and_messages_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = Net(nn), torch_net(torch)
    sd = {k: v.numpy().copy() for k, v in Net(nn).state_dict().items()}
    del sd["features.conv2.bias"]
    sd["features.conv9.weight"] = np.zeros(2)
    sd["extra"] = np.zeros(2)
    r_ours = ours.load_state_dict(sd, strict=False)
    r_theirs = theirs.load_state_dict({k: torch.tensor(v) for k, v in sd.items()}, strict=False)
    assert r_ours.missing_keys == r_theirs.missing_keys
    assert r_ours.unexpected_keys == r_theirs.unexpected_keys
    sd["fc.weight"] = np.zeros((2, 2))
    with pytest.raises(RuntimeError) as mine:
        ours.load_state_dict(sd)
    with pytest.raises(RuntimeError) as peer:
        theirs.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    assert str(mine.value) == str(peer.value).replace("torch.Size([2, 2])", "(2, 2)").replace(
        "torch.Size([3, 64])", "(3, 64)")


def test_parameter_constructor_and_deepcopy():
    t = tc.Tensor(np.ones(3, np.float32))
    p = nn.Parameter(t)
    assert p.requires_grad and np.shares_memory(p.data, t.data)
    assert nn.Parameter(np.zeros(2), requires_grad=False).requires_grad is False
    assert nn.Parameter().shape == (0,)
    model = Net(nn)
    twin = copy.deepcopy(model)
    twin.fc.weight.data[...] = 0
    assert model.fc.weight.data.any()
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in model.named_parameters()]


@pytest.mark.peer
def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ours = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                         nn.Dropout2d(0.2), nn.Flatten(), nn.Linear(10, 4, bias=False), nn.LeakyReLU(0.2),
                         nn.GELU(approximate="tanh"), nn.ELU(), nn.SiLU(), nn.Dropout(), nn.Softmax(dim=1),
                         nn.LogSoftmax(dim=1), nn.BatchNorm1d(4, momentum=None), nn.Identity(), nn.AvgPool2d(2),
                         nn.AdaptiveAvgPool2d(1), nn.Tanh(), nn.Sigmoid(), nn.CrossEntropyLoss(), nn.MSELoss(),
                         nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()]),
                         nn.ModuleDict({"a": nn.ReLU()}))
    theirs = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.BatchNorm2d(6), tnn.ReLU(inplace=True),
                            tnn.MaxPool2d(2), tnn.Dropout2d(0.2), tnn.Flatten(), tnn.Linear(10, 4, bias=False),
                            tnn.LeakyReLU(0.2), tnn.GELU(approximate="tanh"), tnn.ELU(), tnn.SiLU(), tnn.Dropout(),
                            tnn.Softmax(dim=1), tnn.LogSoftmax(dim=1), tnn.BatchNorm1d(4, momentum=None),
                            tnn.Identity(), tnn.AvgPool2d(2), tnn.AdaptiveAvgPool2d(1), tnn.Tanh(), tnn.Sigmoid(),
                            tnn.CrossEntropyLoss(), tnn.MSELoss(),
                            tnn.ModuleList([tnn.Linear(2, 2), tnn.Linear(2, 2), tnn.ReLU()]),
                            tnn.ModuleDict({"a": tnn.ReLU()}))
    # Conv2d prints its tuples as PyTorch does; its padding argument belongs to another change (helper C)
    assert repr(ours) == repr(theirs)
