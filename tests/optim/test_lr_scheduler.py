"""tinycnn.optim.lr_scheduler as torch.optim.lr_scheduler: learning rates (and OneCycleLR's momenta) step by
step over a run with two parameter groups, chained schedulers, a hand-changed lr, state dicts that resume
identically, ReduceLROnPlateau on a metric sequence, warnings and argument checks."""

import copy
import math
import warnings

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
from tinycnn import optim
from tinycnn.optim import lr_scheduler as lrs

SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=[lambda e: 0.95 ** e, lambda e: 1 / (e + 1)]),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=4),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=20),
    "OneCycleLR linear 3-phase": lambda m, o: m.OneCycleLR(o, max_lr=0.3, epochs=4, steps_per_epoch=5,
                                                          anneal_strategy="linear", three_phase=True,
                                                          pct_start=0.25),
}
OPTIMIZERS = {"SGD": lambda m, groups: m.SGD(groups, lr=0.1, momentum=0.9),
              "Adam": lambda m, groups: m.Adam(groups, lr=0.01)}


def groups_of(params):
    return [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]


def pair(torch, sched_name, opt_name="SGD"):
    ours = [nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))]
    theirs = [torch.nn.Parameter(torch.ones(2, dtype=torch.float64)), torch.nn.Parameter(torch.ones(3,
                                                                                                   dtype=torch.float64))]
    opt, topt = OPTIMIZERS[opt_name](optim, groups_of(ours)), OPTIMIZERS[opt_name](torch.optim, groups_of(theirs))
    return ours, theirs, opt, topt, SCHEDULERS[sched_name](lrs, opt), SCHEDULERS[sched_name](
        torch.optim.lr_scheduler, topt)


def assert_same_groups(opt, topt):
    for g, tg in zip(opt.param_groups, topt.param_groups):
        assert g["lr"] == pytest.approx(tg["lr"], rel=1e-13, abs=1e-16)
        for key in ("momentum", "betas", "initial_lr", "max_lr", "min_lr"):
            if key in tg:
                assert np.allclose(g[key], tg[key], rtol=1e-13), key


def one_epoch(params, tparams, opt, topt):
    for p, tp in zip(params, tparams):
        p.grad = tc.Tensor(np.full(p.shape, 0.1))
        tp.grad = tp.detach() * 0 + 0.1
    opt.step()
    topt.step()


@pytest.mark.peer
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("sched_name", sorted(SCHEDULERS))
def test_lr_sequence_matches_torch(sched_name, opt_name):
    torch = pytest.importorskip("torch")
    params, tparams, opt, topt, sched, tsched = pair(torch, sched_name, opt_name)
    assert_same_groups(opt, topt)
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)
    steps = 19 if sched_name.startswith("OneCycle") else 12
    for _ in range(steps):
        one_epoch(params, tparams, opt, topt)
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13, abs=1e-16)
        assert sched.last_epoch == tsched.last_epoch
        assert_same_groups(opt, topt)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)


@pytest.mark.peer
@pytest.mark.parametrize("sched_name", ["StepLR", "CosineAnnealingLR", "MultiStepLR", "LinearLR"])
def test_state_dict_resumes_identically(sched_name):
    torch = pytest.importorskip("torch")
    params, tparams, opt, topt, sched, tsched = pair(torch, sched_name)
    for _ in range(5):
        one_epoch(params, tparams, opt, topt)
        sched.step()
        tsched.step()
    saved_sched, saved_opt = copy.deepcopy(sched.state_dict()), copy.deepcopy(opt.state_dict())
    assert "optimizer" not in saved_sched and saved_sched["last_epoch"] == 5
    # resume: a fresh optimizer and scheduler, then load the optimizer's state and the scheduler's
    fresh = [nn.Parameter(p.data.copy()) for p in params]
    opt2 = OPTIMIZERS["SGD"](optim, groups_of(fresh))
    sched2 = SCHEDULERS[sched_name](lrs, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    for _ in range(6):
        one_epoch(params, tparams, opt, topt)
        for p in fresh:
            p.grad = tc.Tensor(np.full(p.shape, 0.1))
        opt2.step()
        for s in (sched, tsched, sched2):
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)
    for p, q in zip(params, fresh):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.peer
def test_chained_schedulers_and_a_hand_changed_lr_match_torch():
    torch = pytest.importorskip("torch")
    params, tparams, opt, topt, _, _ = pair(torch, "StepLR")
    a, b = lrs.LinearLR(opt, start_factor=0.5, total_iters=3), lrs.ExponentialLR(opt, gamma=0.9)
    ta = torch.optim.lr_scheduler.LinearLR(topt, start_factor=0.5, total_iters=3)
    tb = torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.9)
    for epoch in range(8):
        one_epoch(params, tparams, opt, topt)
        if epoch == 4:
            for g, tg in zip(opt.param_groups, topt.param_groups):  # a hand change persists (chainable form)
                g["lr"] *= 10
                tg["lr"] *= 10
        for s in (a, b, ta, tb):
            s.step()
        assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups],
                                                                     rel=1e-13)


@pytest.mark.peer
@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", threshold_mode="abs", threshold=0.5, cooldown=2,
                                                 patience=1, min_lr=[0.02, 0.001], factor=0.5)])
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    params, tparams, opt, topt, _, _ = pair(torch, "StepLR")
    sched = lrs.ReduceLROnPlateau(opt, **{**dict(patience=2), **kwargs})
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **{**dict(patience=2), **kwargs})
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.8, 0.81, 0.82, 0.83, 0.9, 1.5, 1.6, 1.2, 1.1, 1.0, 1.0, 1.0]
    for m in metrics:
        one_epoch(params, tparams, opt, topt)
        sched.step(tc.Tensor(np.array(m)) if m == 0.9 else m)  # a 0-d tensor metric works too
        tsched.step(m)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)
        assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter) == pytest.approx(
            (tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter))
    state = copy.deepcopy(sched.state_dict())
    again = lrs.ReduceLROnPlateau(opt)
    again.load_state_dict(state)
    assert again.mode == sched.mode and again.best == sched.best and again.patience == sched.patience


def test_hand_values_and_closed_forms():
    p = nn.Parameter(np.ones(1))
    opt = optim.SGD([p], lr=1.0)
    sched = lrs.MultiStepLR(opt, milestones=[2, 4], gamma=0.1)
    seen = [sched.get_last_lr()[0]]
    for _ in range(5):
        opt.step()
        sched.step()
        seen.append(sched.get_last_lr()[0])
    assert seen == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(1)  # jumps with the closed form
    assert sched.get_last_lr() == pytest.approx([1.0])
    cos = lrs.CosineAnnealingLR(optim.SGD([nn.Parameter(np.ones(1))], lr=0.2), T_max=4)
    values = []
    for _ in range(4):
        cos.optimizer.step()
        cos.step()
        values.append(cos.get_last_lr()[0])
    assert values == pytest.approx([0.1 * (1 + math.cos(math.pi * t / 4)) for t in range(1, 5)], abs=1e-15)
    warm = lrs.LinearLR(optim.SGD([nn.Parameter(np.ones(1))], lr=1.0), start_factor=0.5, total_iters=2)
    assert warm.get_last_lr() == [0.5]


def test_warnings_as_torch():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched = lrs.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    opt2 = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched2 = lrs.StepLR(opt2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt2.step()
        sched2.step()  # the right order: silent


@pytest.mark.parametrize("make, error, words", [
    (lambda o: lrs.StepLR(o, step_size=0), ValueError, "step_size must be an int >= 1"),
    (lambda o: lrs.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be an int >= 1"),
    (lambda o: lrs.LinearLR(o, start_factor=0), ValueError, "Starting multiplicative factor"),
    (lambda o: lrs.LambdaLR(o, [lambda e: 1, lambda e: 2]), ValueError, "Expected 1 lr_lambdas"),
    (lambda o: lrs.LambdaLR(o, 3), TypeError, "lr_lambda should be a function"),
    (lambda o: lrs.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps OR"),
    (lambda o: lrs.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
    (lambda o: lrs.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda o: lrs.ReduceLROnPlateau(o, mode="best"), ValueError, "mode best is unknown"),
    (lambda o: lrs.StepLR("opt", 2), TypeError, "is not an Optimizer"),
    (lambda o: lrs.StepLR(o, 2, last_epoch=3), KeyError, "initial_lr"),
])
def test_bad_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make(optim.SGD([nn.Parameter(np.ones(1))], lr=1.0))


def test_one_cycle_beyond_total_steps_and_momentum_requirement():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched = lrs.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    # cycle_momentum gives an SGD built without momentum one, as PyTorch
    assert opt.param_groups[0]["max_momentum"] == 0.95 and opt.param_groups[0]["momentum"] > 0.85
    opt.step()
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
    assert optim.StepLR is lrs.StepLR and optim.CosineAnnealingLR is lrs.CosineAnnealingLR


def test_multistep_state_dict_through_json_keys():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched = lrs.MultiStepLR(opt, milestones=[1, 3])
    state = sched.state_dict()
    state["milestones"] = {str(k): v for k, v in state["milestones"].items()}  # as a JSON file gives it back
    again = lrs.MultiStepLR(optim.SGD([nn.Parameter(np.ones(1))], lr=1.0), milestones=[7])
    again.load_state_dict(state)
    again.optimizer.step()
    again.step()
    assert again.get_last_lr() == pytest.approx([0.1])
