"""Sequential's list API, ModuleList and ModuleDict as torch.nn's: the same operations give the same children
(names and types), the same errors; the containers' parameters are registered."""

from collections import OrderedDict

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn


def layout(container):
    return [(name, type(m).__name__) for name, m in container._modules.items()]


def sequential_edits(lib):
    """A script of Sequential edits; returns the layout after each step."""
    seq = lib.Sequential(lib.ReLU(), lib.Tanh(), lib.Sigmoid(), lib.Identity())
    steps = [layout(seq)]
    seq[1] = lib.ELU()
    steps.append(layout(seq))
    seq[-1] = lib.SiLU()
    steps.append(layout(seq))
    del seq[0]
    steps.append(layout(seq))
    seq.append(lib.GELU())
    steps.append(layout(seq))
    seq.insert(1, lib.LeakyReLU())
    steps.append(layout(seq))
    seq.insert(-1, lib.Softmax(dim=1))
    steps.append(layout(seq))
    seq.extend([lib.Dropout(), lib.ReLU()])
    steps.append(layout(seq))
    popped = seq.pop(2)
    steps.append(layout(seq) + [("popped", type(popped).__name__)])
    del seq[1:3]
    steps.append(layout(seq))
    steps.append(layout(seq[-2:]))
    steps.append(layout(seq[::2]))
    steps.append([type(m).__name__ for m in seq] + [len(seq)])
    steps.append(layout(seq + lib.Sequential(lib.Tanh())))
    named = lib.Sequential(OrderedDict([("a", lib.ReLU()), ("b", lib.Tanh())]))
    named.b = lib.Sigmoid()
    steps.append(layout(named))
    del named[0]
    steps.append(layout(named))  # renumbered, as PyTorch does
    return steps


def test_sequential_edits_hand_checked():
    steps = sequential_edits(nn)
    assert steps[1] == [("0", "ReLU"), ("1", "ELU"), ("2", "Sigmoid"), ("3", "Identity")]
    assert steps[3] == [("0", "ELU"), ("1", "Sigmoid"), ("2", "SiLU")]
    assert steps[-2] == [("a", "ReLU"), ("b", "Sigmoid")]
    assert steps[-1] == [("0", "Sigmoid")]


@pytest.mark.peer
def test_sequential_edits_match_torch():
    torch = pytest.importorskip("torch")
    assert sequential_edits(nn) == sequential_edits(torch.nn)


def list_and_dict_edits(lib):
    steps = []
    ml = lib.ModuleList([lib.Linear(2, 2) for _ in range(3)])
    steps.append(layout(ml))
    ml.append(lib.ReLU())
    ml.extend([lib.Tanh(), lib.Sigmoid()])
    ml.insert(1, lib.ELU())
    steps.append(layout(ml))
    ml[2] = lib.SiLU()
    ml[-1] = lib.GELU()
    steps.append(layout(ml))
    del ml[0]
    steps.append(layout(ml))
    steps.append(layout(ml[1:4]))
    steps.append(layout(ml + lib.ModuleList([lib.ReLU()])))
    ml += [lib.Identity()]
    steps.append(layout(ml) + [("pop", type(ml.pop(0)).__name__)])
    steps.append([len(ml), type(ml[-2]).__name__])
    md = lib.ModuleDict({"conv": lib.Conv2d(1, 2, 3), "act": lib.ReLU()})
    md["act"] = lib.Tanh()
    md.update([("head", lib.Linear(2, 2)), ("act", lib.Sigmoid())])
    steps.append(layout(md) + [list(md.keys()), "act" in md, len(md)])
    popped = md.pop("conv")
    steps.append(layout(md) + [type(popped).__name__, [type(v).__name__ for v in md.values()]])
    del md["head"]
    steps.append([k for k in md] + [[(k, type(v).__name__) for k, v in md.items()]])
    md.clear()
    steps.append(len(md))
    return steps


def test_list_and_dict_edits_hand_checked():
    steps = list_and_dict_edits(nn)
    assert steps[1] == [("0", "Linear"), ("1", "ELU"), ("2", "Linear"), ("3", "Linear"), ("4", "ReLU"),
                        ("5", "Tanh"), ("6", "Sigmoid")]
    assert steps[-1] == 0


@pytest.mark.peer
def test_list_and_dict_edits_match_torch():
    torch = pytest.importorskip("torch")
    assert list_and_dict_edits(nn) == list_and_dict_edits(torch.nn)


def test_errors_as_torch():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    with pytest.raises(IndexError, match="index 2 is out of range"):
        seq[2]
    with pytest.raises(IndexError, match="index -3 is out of range"):
        seq[-3] = nn.ReLU()
    with pytest.raises(IndexError, match="Index out of range: 5"):
        seq.insert(5, nn.ReLU())
    with pytest.raises(TypeError, match="module must be a Module"):
        seq.insert(0, "relu")
    with pytest.raises(TypeError, match="is not a Module subclass"):
        seq.append(np.zeros(1))
    with pytest.raises(ValueError, match="only objects of Sequential class"):
        seq + [nn.ReLU()]
    ml = nn.ModuleList()
    with pytest.raises(IndexError):
        ml[0]
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(3)
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        ml(tc.Tensor(np.ones(1)))
    md = nn.ModuleDict()
    with pytest.raises(KeyError):
        md["missing"]
    with pytest.raises(ValueError, match="has length 3; 2 is required"):
        md.update([("a", nn.ReLU(), 1)])
    with pytest.raises(KeyError, match="attribute 'train' already exists"):
        md["train"] = nn.ReLU()


def test_parameters_of_lists_and_dicts_are_the_parents():
    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
            self.heads = nn.ModuleDict({"cls": nn.Linear(3, 2), "box": nn.Linear(3, 4)})

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return {k: h(x) for k, h in self.heads.items()}

    model = Tower()
    assert [n for n, _ in model.named_parameters()] == [
        "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias",
        "heads.cls.weight", "heads.cls.bias", "heads.box.weight", "heads.box.bias"]
    out = model(tc.Tensor(np.ones((2, 3), np.float32)))
    assert out["cls"].shape == (2, 2) and out["box"].shape == (2, 4)
    assert len(model.blocks[0:1]) == 1 and model.blocks[-1] is model.blocks[1]


def test_slice_shares_the_modules_and_sequential_runs_in_order():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    head = seq[1:]
    assert head[0] is seq[1] and isinstance(head, nn.Sequential)
    x = tc.Tensor(np.ones((4, 2), np.float32))
    np.testing.assert_array_equal(seq(x).numpy(), head(seq[0](x)).numpy())
