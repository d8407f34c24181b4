"""Optimizers and schedules: PyTorch's exact update rules (PITFALLS P16, P17), state, errors, schedules."""

import copy
import math

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
from tinycnn import optim


def param(value, dtype=np.float64):
    return nn.Parameter(np.array(value, dtype=dtype))


def set_grad(p, value):
    p.grad = tc.Tensor(np.broadcast_to(np.asarray(value, dtype=p.dtype), p.shape).copy())


def trajectory(opt, p, grad, steps=3):
    values = []
    for _ in range(steps):
        set_grad(p, grad)
        opt.step()
        values.append(float(p.data.reshape(-1)[0]))
    return values


# ----- PITFALLS P16 and P17, exactly -----

def test_p16_sgd_momentum():
    p = param([1.0])
    assert trajectory(optim.SGD([p], lr=0.1, momentum=0.9), p, 1.0) == pytest.approx([0.9, 0.71, 0.439], abs=1e-12)


def test_p16_sgd_nesterov():
    p = param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    assert trajectory(opt, p, 1.0) == pytest.approx([0.81, 0.539, 0.1951], abs=1e-12)


def test_p16_sgd_weight_decay_without_momentum():
    p = param([1.0])
    opt = optim.SGD([p], lr=0.1, weight_decay=0.1)
    assert trajectory(opt, p, 0.0) == pytest.approx([0.99, 0.9801, 0.970299], abs=1e-12)


def test_plain_sgd():
    p = param([1.0, -2.0])
    opt = optim.SGD([p], lr=0.5)
    set_grad(p, [2.0, -4.0])
    opt.step()
    np.testing.assert_allclose(p.data, [0.0, 0.0])


def test_p17_adam_bias_correction():
    p = param([1.0])
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    assert trajectory(opt, p, 0.5) == pytest.approx([0.9, 0.8, 0.7], abs=1e-7)


def test_float32_parameters_stay_float32():
    p = param([1.0, 2.0], dtype=np.float32)
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True), optim.Adam([p], lr=0.1)):
        set_grad(p, 1.0)
        opt.step()
        assert p.dtype == np.float32


# ----- against torch.optim, float64 -----

SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.1),
    dict(lr=0.1, momentum=0.8, dampening=0.5),
    dict(lr=0.02, momentum=0.9, weight_decay=0.05, nesterov=True),
    dict(lr=0.1, momentum=0.5, weight_decay=0.01, dampening=0.3),
]
ADAM_CONFIGS = [
    dict(lr=0.01),
    dict(lr=0.1, weight_decay=0.1),
    dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01),
]


def _compare_with_torch(ours_cls, torch_cls, config, steps=5):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (5,), (2, 1, 3, 3)]
    inits = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    ours = [param(v) for v in inits]
    theirs = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for v in inits]
    opt, topt = ours_cls(ours, **config), torch_cls(theirs, **config)
    for step_grads in grads:
        for p, tp, g in zip(ours, theirs, step_grads):
            set_grad(p, g)
            tp.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.peer
@pytest.mark.parametrize("config", SGD_CONFIGS, ids=str)
def test_sgd_matches_torch(config):
    torch = pytest.importorskip("torch")
    _compare_with_torch(optim.SGD, torch.optim.SGD, config)


@pytest.mark.peer
@pytest.mark.parametrize("config", ADAM_CONFIGS, ids=str)
def test_adam_matches_torch(config):
    torch = pytest.importorskip("torch")
    _compare_with_torch(optim.Adam, torch.optim.Adam, config)


@pytest.mark.peer
def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    for make, tmake in [
        (lambda o: optim.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
        (lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    ]:
        opt = optim.SGD([param([1.0])], lr=0.1)
        topt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
        sched, tsched = make(opt), tmake(topt)
        for _ in range(7):
            opt.step()
            topt.step()
            tsched.step()
            sched.step()  # returns None, as PyTorch's (it returned the lr before issue 12)
            assert sched.get_last_lr()[0] == pytest.approx(tsched.get_last_lr()[0], rel=1e-9)
            assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-9)


# ----- gradients, state -----

@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.2),
    lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1),
])
def test_step_does_not_modify_gradients(make):
    rng = np.random.default_rng(1)
    ps = [param(rng.standard_normal((3, 2))), param(rng.standard_normal(4))]
    opt = make(ps)
    for _ in range(3):
        grads = [rng.standard_normal(p.shape) for p in ps]
        for p, g in zip(ps, grads):
            set_grad(p, g)
        opt.step()
        for p, g in zip(ps, grads):
            np.testing.assert_array_equal(p.grad.data, g)


def test_momentum_buffer_does_not_alias_gradient():
    """The first momentum buffer is the gradient's value, not the gradient array itself."""
    p = param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    grad = tc.Tensor(np.array([1.0]))
    p.grad = grad
    opt.step()
    p.grad = grad  # the same gradient object again (e.g. a gradient kept from the step before)
    opt.step()
    np.testing.assert_array_equal(grad.data, [1.0])
    assert float(p.data[0]) == pytest.approx(0.71)


def test_parameter_without_grad_is_skipped():
    a, b = param([1.0]), param([1.0])
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    set_grad(a, 1.0)
    opt.step()
    assert float(a.data[0]) == pytest.approx(0.9) and float(b.data[0]) == 1.0


def test_zero_grad_sets_none():
    ps = [param([1.0]), param([2.0, 3.0])]
    opt = optim.Adam(ps)
    for p in ps:
        set_grad(p, 1.0)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_step_updates_parameters_in_place():
    model = nn.Linear(3, 2)
    weight, data = model.weight, model.weight.data
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = tc.Tensor(np.ones((4, 3), dtype=np.float32))
    model(x).sum().backward()
    before = data.copy()
    opt.step()
    assert model.weight is weight and model.weight.data is data
    assert not np.array_equal(data, before)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.05, weight_decay=0.01),
])
def test_optimizer_state_dict_round_trip(make):
    rng = np.random.default_rng(2)
    inits = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    grads = [[rng.standard_normal(v.shape) for v in inits] for _ in range(5)]
    ps = [param(v) for v in inits]
    opt = make(ps)

    def run(params, optimizer, steps):
        for step_grads in steps:
            for p, g in zip(params, step_grads):
                set_grad(p, g)
            optimizer.step()

    run(ps, opt, grads[:3])
    saved = copy.deepcopy(opt.state_dict())  # as a checkpoint would: torch's state_dict also references live state
    at_step_3 = [p.data.copy() for p in ps]
    resumed = [param(v) for v in at_step_3]
    opt2 = make(resumed)
    opt2.param_groups[0]["lr"] = 123.0  # overwritten by the load
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    run(ps, opt, grads[3:])
    run(resumed, opt2, grads[3:])
    for p, q in zip(ps, resumed):
        np.testing.assert_array_equal(p.data, q.data)
    # without the saved state the continuation differs: the test sees the state
    fresh = [param(v) for v in at_step_3]
    run(fresh, make(fresh), grads[3:])
    assert not all(np.allclose(a.data, b.data) for a, b in zip(fresh, ps))


def test_optimizer_load_state_dict_wrong_length():
    opt = optim.SGD([param([1.0]), param([2.0])], lr=0.1, momentum=0.9)
    other = optim.SGD([param([1.0])], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group.*1 saved, 2 here"):
        opt.load_state_dict(other.state_dict())


# ----- schedules -----

def test_cosine_annealing_closed_form():
    base, eta_min, t_max = 0.1, 0.001, 10
    opt = optim.SGD([param([1.0])], lr=base)
    sched = optim.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    for epoch in range(1, t_max + 1):
        opt.step()  # the epoch's updates first, as PyTorch's order wants (else it warns)
        sched.step()
        lr = sched.get_last_lr()[0]
        expected = eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2
        assert lr == pytest.approx(expected, rel=1e-12) and opt.param_groups[0]["lr"] == lr
        if epoch == t_max // 2:
            assert lr == pytest.approx((base + eta_min) / 2)  # halfway: the mean of the two ends
    assert opt.param_groups[0]["lr"] == pytest.approx(eta_min)


def test_cosine_without_eta_min_reaches_zero():
    opt = optim.SGD([param([1.0])], lr=0.05)
    sched = optim.CosineAnnealingLR(opt, T_max=2)
    opt.step()
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.025])
    opt.step()
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.0], abs=1e-15)


def test_step_lr_closed_form():
    opt = optim.SGD([param([1.0])], lr=0.1)
    sched = optim.StepLR(opt, step_size=3, gamma=0.1)
    got = []
    for _ in range(7):
        opt.step()
        sched.step()
        got.append(sched.get_last_lr()[0])
    expected = [0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001]  # epochs 1..7: gamma ** (epoch // 3)
    assert got == pytest.approx(expected, rel=1e-12)


def test_schedule_changes_the_step_size():
    p = param([0.0])
    opt = optim.SGD([p], lr=1.0)
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    set_grad(p, 1.0)
    opt.step()  # lr 1
    sched.step()
    opt.step()  # lr 0.5
    assert float(p.data[0]) == pytest.approx(-1.5)


# ----- errors -----

@pytest.mark.parametrize("make, word", [
    (lambda ps: optim.SGD(ps, lr=-0.1), "lr"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), "momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1e-4), "weight_decay"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "nesterov"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda ps: optim.Adam(ps, lr=-1.0), "lr"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), "betas"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "betas"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), "eps"),
    (lambda ps: optim.Adam(ps, weight_decay=-0.1), "weight_decay"),
])
def test_bad_arguments_raise_value_error(make, word):
    with pytest.raises(ValueError, match=word):
        make([param([1.0])])


def test_empty_and_non_tensor_lists():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is list"):
        optim.SGD([[1.0, 2.0]], lr=0.1)
    # a leaf Tensor that requires grad is optimized as in PyTorch (only Parameters were accepted before issue 12)
    w = tc.Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = tc.Tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, 0.9])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
