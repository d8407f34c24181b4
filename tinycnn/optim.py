"""Optimizers and learning-rate schedules, in PyTorch's exact update rules (``torch.optim``).

Updates run under ``no_grad`` on the parameters' arrays in place (the Parameter objects never change, so a model
moved with ``Module.to`` keeps its optimizer; the optimizer's state follows its parameter's device).
Gradients are never modified in place: they may be shared between tensors (PITFALLS P16, P17).
"""
from __future__ import annotations

import math

from . import backend
from .nn.module import Parameter

__all__ = ["Optimizer", "SGD", "Adam", "StepLR", "CosineAnnealingLR", "LRScheduler"]


class Optimizer:
    """Base class: holds the parameters, ``lr``, per-parameter state; ``zero_grad()`` and ``step()``."""

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"params[{i}] must be a Parameter, got {type(p).__name__}")
        if not (isinstance(lr, (int, float)) and lr >= 0):
            raise ValueError(f"lr must be a non-negative number, got {lr!r}")
        self.lr = float(lr)
        self.state = [dict() for _ in self.params]  # per parameter: momentum buffer, Adam moments
        self.step_count = 0

    def zero_grad(self) -> None:
        """Forget the gradients (set to None, PyTorch's default ``set_to_none=True``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.step_count += 1
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            for key, value in state.items():  # the state follows its parameter to another device
                if backend.device_of(value) != backend.device_of(p.data):
                    state[key] = backend.to_device(value, backend.device_of(p.data))
            self._update(p, p.grad.data, state)

    def _update(self, p, grad, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict:
        """lr, step count and per-parameter state as NumPy arrays (for checkpoints that resume training)."""
        return {"lr": self.lr, "step_count": self.step_count,
                "state": [{k: backend.to_device(v, "cpu") for k, v in s.items()} for s in self.state]}

    def load_state_dict(self, state: dict) -> None:
        if len(state["state"]) != len(self.params):
            raise ValueError(f"optimizer state has {len(state['state'])} entries, expected {len(self.params)}")
        self.lr, self.step_count = float(state["lr"]), int(state["step_count"])
        self.state = [{k: backend.to_device(v, backend.device_of(p.data)) for k, v in s.items()}
                      for s, p in zip(state["state"], self.params)]


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    PyTorch's form (``torch.optim.SGD``), per step with gradient g of parameter p:
        g <- g + weight_decay * p
        b <- g on the first step, else momentum * b + (1 - dampening) * g
        g <- g + momentum * b if nesterov else b
        p <- p - lr * g
    (Sutskever et al. 2013 write the velocity with lr inside; PyTorch's differs when lr changes.)
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"momentum and weight_decay must be >= 0, got {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, p, grad, state):
        dtype = p.data.dtype.type
        if self.weight_decay:
            grad = grad + dtype(self.weight_decay) * p.data
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= dtype(self.momentum)
                buf += dtype(1 - self.dampening) * grad
            grad = grad + dtype(self.momentum) * buf if self.nesterov else buf
        p.data -= dtype(self.lr) * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1) with bias correction, as ``torch.optim.Adam``:
        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    weight_decay adds weight_decay * p to g (L2, not AdamW's decoupled decay).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:  # torch.optim.Adam rejects both
            raise ValueError(f"eps and weight_decay must be >= 0, got eps={eps}, weight_decay={weight_decay}")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay

    def _update(self, p, grad, state):
        xp = backend.get_array_module(p.data)
        dtype = p.data.dtype.type
        b1, b2 = self.betas
        if self.weight_decay:
            grad = grad + dtype(self.weight_decay) * p.data
        if "exp_avg" not in state:
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
            state["step"] = 0
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        m *= dtype(b1)
        m += dtype(1 - b1) * grad
        v *= dtype(b2)
        v += dtype(1 - b2) * grad * grad
        denom = xp.sqrt(v / dtype(1 - b2 ** t)) + dtype(self.eps)
        p.data -= dtype(self.lr / (1 - b1 ** t)) * m / denom

    def state_dict(self) -> dict:
        out = super().state_dict()
        for s, src in zip(out["state"], self.state):  # "step" is an int, not an array
            if "step" in src:
                s["step"] = src["step"]
        return out


class LRScheduler:
    """Sets ``optimizer.lr`` from ``base_lr`` and the number of ``step()`` calls (one per epoch here)."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer, self.base_lr, self.epoch = optimizer, optimizer.lr, 0

    def step(self) -> float:
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Every attribute but the optimizer, as ``torch.optim.lr_scheduler.LRScheduler.state_dict`` (resume)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size) (``torch.optim.lr_scheduler.StepLR``)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2 (Loshchilov & Hutter 2017, without
    restarts; ``torch.optim.lr_scheduler.CosineAnnealingLR``)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 - PyTorch's name
        super().__init__(optimizer)
        self.T_max, self.eta_min = max(1, T_max), eta_min

    def lr_at(self, epoch):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
