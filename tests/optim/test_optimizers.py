"""Optimizers as torch.optim's: trajectories over several steps with parameter groups for SGD, Adam, AdamW and
RMSprop and all their options; state and state dicts (PyTorch's layout, resuming identically); frozen and
gradient-less parameters; closures; argument checking."""

import copy
import json

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
from tinycnn import optim

SHAPES = [(3, 4), (5,), (2, 1, 3)]

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.8, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True, weight_decay=0.05, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.03, weight_decay=0.2, amsgrad=True, betas=(0.7, 0.9))),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.02, momentum=0.3, maximize=True, eps=1e-4)),
]
# a second group with its own options: tested with every optimizer
GROUP_OPTIONS = {"SGD": dict(lr=0.02, momentum=0.5), "Adam": dict(lr=0.002, betas=(0.5, 0.6)),
                 "AdamW": dict(lr=0.004, weight_decay=0.5), "RMSprop": dict(lr=0.003, alpha=0.5)}


def make_pair(torch, name, config, grouped, inits):
    ours = [nn.Parameter(v.copy()) for v in inits]
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in inits]
    if grouped:
        extra = GROUP_OPTIONS[name]
        opt = getattr(optim, name)([{"params": ours[:1]}, {"params": ours[1:], **extra}], **config)
        topt = getattr(torch.optim, name)([{"params": theirs[:1]}, {"params": theirs[1:], **extra}], **config)
    else:
        opt, topt = getattr(optim, name)(ours, **config), getattr(torch.optim, name)(theirs, **config)
    return ours, theirs, opt, topt


def run(ours, theirs, opt, topt, grads, torch):
    for step_grads in grads:
        for p, tp, g in zip(ours, theirs, step_grads):
            if g is None:
                p.grad, tp.grad = None, None
            else:
                p.grad, tp.grad = tc.Tensor(g.copy()), torch.tensor(g)
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-13)


def grads_for(rng, steps, skip=True):
    out = []
    for s in range(steps):
        # the last parameter has no gradient on step 2 (a frozen layer): skipped, no state change
        out.append([None if (skip and s == 2 and i == len(SHAPES) - 1) else rng.standard_normal(shape)
                    for i, shape in enumerate(SHAPES)])
    return out


@pytest.mark.peer
@pytest.mark.parametrize("grouped", [False, True], ids=["one group", "two groups"])
@pytest.mark.parametrize("name, config", CONFIGS, ids=lambda v: str(v))
def test_trajectory_matches_torch(name, config, grouped):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    inits = [rng.standard_normal(s) for s in SHAPES]
    ours, theirs, opt, topt = make_pair(torch, name, config, grouped, inits)
    run(ours, theirs, opt, topt, grads_for(rng, 6), torch)
    assert [sorted(g) for g in opt.param_groups] == [sorted(g) for g in topt.param_groups]
    for group, tgroup in zip(opt.param_groups, topt.param_groups):
        for key, value in tgroup.items():
            if key != "params":
                assert group[key] == value, key


@pytest.mark.peer
@pytest.mark.parametrize("name, config", CONFIGS[1::2], ids=lambda v: str(v))
def test_state_dict_layout_and_resume_match_torch(name, config):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    inits = [rng.standard_normal(s) for s in SHAPES]
    grads = grads_for(rng, 7)
    ours, theirs, opt, topt = make_pair(torch, name, config, True, inits)
    run(ours, theirs, opt, topt, grads[:4], torch)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == [{k: v for k, v in g.items()} for g in tsd["param_groups"]]
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for index, values in tsd["state"].items():
        assert sorted(sd["state"][index]) == sorted(values)
        for key, value in values.items():
            np.testing.assert_allclose(np.asarray(sd["state"][index][key]), value.numpy(), rtol=1e-12)
    # a checkpoint: copied (json for the options, arrays kept), then loaded into a fresh optimizer that resumes
    saved = copy.deepcopy(sd)
    saved["param_groups"] = json.loads(json.dumps(saved["param_groups"]))  # tuples become lists, as a file would
    saved["state"] = {str(k): v for k, v in saved["state"].items()}  # and int keys strings
    resumed = [nn.Parameter(p.data.copy()) for p in ours]
    opt2 = getattr(optim, name)([{"params": resumed[:1]}, {"params": resumed[1:], **GROUP_OPTIONS[name]}],
                                **config)
    opt2.load_state_dict(saved)
    run(ours, theirs, opt, topt, grads[4:], torch)
    for step_grads in grads[4:]:
        for p, g in zip(resumed, step_grads):
            p.grad = None if g is None else tc.Tensor(g.copy())
        opt2.step()
    for p, q in zip(ours, resumed):
        np.testing.assert_array_equal(p.data, q.data)


def test_state_is_keyed_by_parameter_and_follows_torchs_names():
    w = nn.Parameter(np.ones(3))
    opt = optim.Adam([w], lr=0.1)
    w.grad = tc.Tensor(np.ones(3))
    opt.step()
    assert set(opt.state[w]) == {"step", "exp_avg", "exp_avg_sq"} and opt.state[w]["step"].item() == 1.0
    assert isinstance(opt.state[w]["exp_avg"], tc.Tensor)
    sgd = optim.SGD([w], lr=0.1)
    sgd.step()
    assert dict(sgd.state) == {}  # no momentum: no state, as PyTorch
    assert sgd.state_dict() == {"state": {}, "param_groups": [{
        "lr": 0.1, "momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": False, "maximize": False,
        "foreach": None, "differentiable": False, "fused": None, "params": [0]}]}


def test_frozen_backbone_and_add_param_group():
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = model[0].weight.data.copy()
    model(tc.Tensor(np.ones((4, 3), np.float32))).sum().backward()
    opt.step()
    np.testing.assert_array_equal(model[0].weight.data, before)  # no grad: not stepped
    assert id(model[0].weight) not in {id(p) for p in opt.state}
    opt2 = optim.SGD(model[2].parameters(), lr=0.1)
    model[0].requires_grad_(True)
    opt2.add_param_group({"params": model[0].parameters(), "lr": 0.01})  # unfreeze with a smaller lr
    assert [g["lr"] for g in opt2.param_groups] == [0.1, 0.01]
    assert opt2.param_groups[1]["momentum"] == 0  # the defaults fill what the group lacks
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt2.add_param_group({"params": [model[2].weight]})
    with pytest.raises(TypeError, match="sets"):
        opt2.add_param_group({"params": {model[2].bias}})


def test_zero_grad_closure_and_named_parameters():
    lin = nn.Linear(2, 1, dtype=np.float64)
    opt = optim.SGD(lin.named_parameters(), lr=0.5)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    x = tc.Tensor(np.array([[1.0, 2.0]]))
    calls = []

    def closure():
        opt.zero_grad()
        loss = (lin(x) ** 2).sum()
        loss.backward()
        calls.append(loss.item())
        return loss

    loss = opt.step(closure)
    assert calls and loss.item() == calls[0]
    grad = lin.weight.grad
    opt.zero_grad(set_to_none=False)
    assert lin.weight.grad is grad and not grad.data.any()
    before = lin.weight.data.copy()
    opt.step()  # a zero gradient is still a step (unlike None): nothing moves without momentum
    np.testing.assert_array_equal(lin.weight.data, before)


@pytest.mark.parametrize("make, error, words", [
    (lambda ps: optim.SGD(ps, lr=-1.0), ValueError, "Invalid learning rate"),
    (lambda ps: optim.SGD([{"params": ps, "lr": -1.0}], lr=0.1), ValueError, "Invalid learning rate"),
    (lambda ps: optim.SGD(ps, lr=0.1, foreach=True), NotImplementedError, "foreach=True is not supported"),
    (lambda ps: optim.Adam(ps, fused=True), NotImplementedError, "fused=True"),
    (lambda ps: optim.Adam(ps, capturable=True), NotImplementedError, "capturable"),
    (lambda ps: optim.AdamW(ps, differentiable=True), NotImplementedError, "differentiable"),
    (lambda ps: optim.Adam(ps, betas=(0.9,)), ValueError, "betas must be a pair"),
    (lambda ps: optim.Adam(ps, lr=tc.Tensor(np.array(0.1))), TypeError, "\\(lr\\) as a Tensor"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.1), ValueError, "Invalid alpha"),
    (lambda ps: optim.RMSprop(ps, momentum=-0.1), ValueError, "Invalid momentum"),
    (lambda ps: optim.SGD(ps[0], lr=0.1), TypeError, "iterable of Tensors or dicts"),
    (lambda ps: optim.SGD([{"lr": 0.1}], lr=0.1), ValueError, "'params' entry"),
    (lambda ps: optim.SGD([tc.tensor([1, 2])], lr=0.1), TypeError, "only floating tensors"),
    (lambda ps: optim.SGD(ps, lr="0.1"), TypeError, "learning rate \\(lr\\) must be a number"),
])
def test_bad_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make([nn.Parameter(np.ones(2))])


def test_load_state_dict_is_checked_before_anything_changes():
    ps = [nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = tc.Tensor(np.ones(p.shape))
    opt.step()
    good = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    bad = copy.deepcopy(good)
    bad["state"][1]["momentum_buffer"] = np.zeros(4)
    with pytest.raises(ValueError, match="'momentum_buffer' of parameter 1 has shape \\(4,\\)"):
        opt.load_state_dict(bad)
    adam = optim.Adam([nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))])
    with pytest.raises(ValueError, match="no 'betas'.*another kind of optimizer"):
        adam.load_state_dict(good)
    bad = copy.deepcopy(good)
    bad["param_groups"][0]["lr"] = -3
    with pytest.raises(ValueError, match="Invalid learning rate"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="expects the dict of optimizer.state_dict"):
        opt.load_state_dict({"lr": 0.1, "step_count": 3})  # the old tinycnn layout
    np.testing.assert_array_equal(opt.state[ps[1]]["momentum_buffer"].data, np.ones(3))  # untouched
    assert opt.param_groups[0]["lr"] == 0.1


def test_optimizer_lr_attribute_is_a_clear_error():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1)
    with pytest.raises(AttributeError, match="param_groups"):
        opt.lr
    with pytest.raises(AttributeError, match="param_groups"):
        opt.lr = 0.5
    assert "Parameter Group 0" in repr(opt) and "lr: 0.1" in repr(opt)


def test_float32_parameters_stay_float32_and_in_place():
    for make in (lambda ps: optim.AdamW(ps, amsgrad=True), lambda ps: optim.RMSprop(ps, centered=True, momentum=0.9)):
        p = nn.Parameter(np.ones(3, np.float32))
        data = p.data
        opt = make([p])
        for _ in range(2):
            p.grad = tc.Tensor(np.full(3, 0.5, np.float32))
            opt.step()
        assert p.data is data and p.dtype == np.float32
        assert all(v.dtype == np.float32 for k, v in ((k, v.data) for k, v in opt.state[p].items()) if k != "step")
