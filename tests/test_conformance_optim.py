"""Conformance snippets, part 6: optimizers and schedulers as courses use them (SGD with momentum and Nesterov,
Adam, AdamW, RMSprop, param groups, StepLR, MultiStepLR, OneCycleLR, ReduceLROnPlateau, CosineAnnealingLR,
get_last_lr, clip_grad_norm_), each run with torch and with tinycnn (see tests/conformance_harness.py)."""

import numpy as np

from .conformance_harness import Snippets, seeded_state

snippets = Snippets()
X = np.random.default_rng(21).normal(size=(16, 5)).astype(np.float32)
Y = np.random.default_rng(22).integers(0, 3, size=16)


def _model(torch, nn, seed=0):
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    model.load_state_dict(seeded_state(model, torch, seed=seed))
    return model


def _train(torch, F, model, optimizer, steps=5, scheduler=None, clip=None, nn=None):
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    losses, lrs = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
        optimizer.step()
        if scheduler is not None:
            lrs.append(scheduler.get_last_lr())
            scheduler.step()
        losses.append(loss.item())
    return losses, lrs


@snippets.same(rtol=1e-4, atol=1e-6)
def each_optimizer_five_steps(torch, nn, F, optim):
    results = []
    makers = [lambda p: optim.SGD(p, lr=0.1), lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
              lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
              lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1),
              lambda p: optim.Adam(p, lr=1e-2), lambda p: optim.Adam(p, lr=1e-2, betas=(0.8, 0.9), weight_decay=1e-3),
              lambda p: optim.Adam(p, lr=1e-2, amsgrad=True), lambda p: optim.AdamW(p, lr=1e-2),
              lambda p: optim.AdamW(p, lr=1e-2, weight_decay=0.1), lambda p: optim.RMSprop(p, lr=1e-2),
              lambda p: optim.RMSprop(p, lr=1e-2, momentum=0.9, centered=True, alpha=0.9)]
    for make in makers:
        model = _model(torch, nn)
        losses, _ = _train(torch, F, model, make(model.parameters()))
        results.append([losses, model[0].weight.detach()])
    return results


@snippets.same(rtol=1e-4, atol=1e-6)
def param_groups_per_layer_lr(torch, nn, F, optim):
    model = _model(torch, nn)
    optimizer = optim.SGD([{"params": model[0].parameters()},
                           {"params": model[2].parameters(), "lr": 1e-3}], lr=1e-2, momentum=0.9)
    losses, _ = _train(torch, F, model, optimizer, steps=3)
    for g in optimizer.param_groups:
        g["lr"] *= 0.5
    _train(torch, F, model, optimizer, steps=1)
    return [losses, [g["lr"] for g in optimizer.param_groups], [g["momentum"] for g in optimizer.param_groups],
            len(optimizer.param_groups), model[2].bias.detach(), sorted(optimizer.param_groups[1].keys())]


@snippets.same(rtol=1e-4, atol=1e-6)
def no_decay_on_bias_groups(torch, nn, F, optim):
    model = _model(torch, nn)
    decay = [p for n, p in model.named_parameters() if not n.endswith("bias")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
    optimizer = optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-3)
    losses, _ = _train(torch, F, model, optimizer, steps=4)
    return [losses, model[0].bias.detach(), model[2].weight.detach()]


@snippets.same
def schedulers_lr_sequences(torch, nn, F, optim):
    sched = optim.lr_scheduler
    makers = [lambda o: sched.StepLR(o, step_size=3, gamma=0.1), lambda o: sched.MultiStepLR(o, [2, 5], gamma=0.5),
              lambda o: sched.CosineAnnealingLR(o, T_max=6, eta_min=0.001), lambda o: sched.ExponentialLR(o, 0.9),
              lambda o: sched.OneCycleLR(o, max_lr=0.5, total_steps=9),
              lambda o: sched.OneCycleLR(o, max_lr=0.5, steps_per_epoch=3, epochs=3, anneal_strategy="linear"),
              lambda o: sched.LambdaLR(o, lr_lambda=lambda epoch: 0.95 ** epoch),
              lambda o: sched.LinearLR(o, start_factor=0.25, total_iters=4)]
    result = []
    for make in makers:
        model = _model(torch, nn)
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scheduler = make(optimizer)
        _, lrs = _train(torch, F, model, optimizer, steps=8, scheduler=scheduler)
        result.append([lrs, scheduler.get_last_lr(), scheduler.last_epoch, optimizer.param_groups[0]["lr"]])
    return result


@snippets.same
def reduce_lr_on_plateau(torch, nn, F, optim):
    model = _model(torch, nn)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)
    val_losses = [1.0, 0.9, 0.95, 0.97, 0.96, 0.5, 0.6, 0.7, 0.8]
    lrs = []
    for val_loss in val_losses:
        optimizer.step()
        scheduler.step(val_loss)
        lrs.append(optimizer.param_groups[0]["lr"])
    return [lrs, scheduler.get_last_lr(), scheduler.num_bad_epochs, scheduler.best]


@snippets.same(rtol=1e-4, atol=1e-6)
def clip_grad_norm_in_loop(torch, nn, F, optim):
    model = _model(torch, nn)
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    losses, _ = _train(torch, F, model, optimizer, steps=3, clip=0.1, nn=nn)
    loss = F.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(Y))
    loss.backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), 1e-3)
    after = sum(p.grad.norm() ** 2 for p in model.parameters()) ** 0.5
    nn.utils.clip_grad_value_(model.parameters(), clip_value=1e-5)
    return [losses, total, after, model[2].weight.grad]


@snippets.same
def optimizer_state_and_zero_grad(torch, nn, F, optim):
    model = _model(torch, nn)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    _train(torch, F, model, optimizer, steps=2)
    sd = optimizer.state_dict()
    state0 = sd["state"][0]
    optimizer.zero_grad()
    return [sorted(sd.keys()), sorted(state0.keys()), state0["step"], state0["exp_avg"].shape,
            sd["param_groups"][0]["params"], sd["param_groups"][0]["lr"], sd["param_groups"][0]["betas"],
            model[0].weight.grad, len(optimizer.state)]


@snippets.same(rtol=1e-4, atol=1e-6)
def scheduler_on_per_batch_onecycle_with_adam(torch, nn, F, optim):
    model = _model(torch, nn)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=6)
    losses, lrs = _train(torch, F, model, optimizer, steps=6, scheduler=scheduler)
    return [losses, lrs, optimizer.param_groups[0]["betas"]]


test_same_as_torch, test_tinycnn_raises, test_torch_side = snippets.tests()
