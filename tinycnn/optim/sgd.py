"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay, as ``torch.optim.SGD``."""
from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD in PyTorch's exact form (``torch.optim.SGD``), per step with gradient g of parameter p:

        g <- -g if maximize
        g <- g + weight_decay * p                              (L2 penalty, coupled)
        b <- g on the first step, else momentum * b + (1 - dampening) * g
        g <- g + momentum * b if nesterov else b               (when momentum != 0)
        p <- p - lr * g

    (Sutskever et al. 2013 write the velocity with lr inside; PyTorch's form differs when lr changes.) The
    momentum buffer is ``optimizer.state[p]["momentum_buffer"]``.

    Args: params, lr (1e-3, PyTorch's default), momentum, dampening, weight_decay, nesterov; keyword-only
    maximize, and foreach / differentiable / fused, accepted at their defaults only.
    Raises ValueError for negative lr, momentum or weight_decay, or nesterov without momentum or with dampening.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False, foreach=None,
                 differentiable: bool = False, fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _check_options(self, o: dict) -> None:
        self._check_unsupported(o)
        self._check_number("learning rate (lr)", o["lr"])
        self._check_number("momentum", o["momentum"])
        self._check_number("weight_decay", o["weight_decay"])
        self._check_number("dampening", o["dampening"], minimum=-float("inf"))
        if o["nesterov"] and (o["momentum"] <= 0 or o["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening (nesterov=True needs "
                             "momentum > 0 and dampening = 0)")

    def _step_group(self, group: dict) -> None:
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = p.grad.data
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + weight_decay * p.data
            if momentum != 0:
                state = self._state_of(p, ("momentum_buffer",))
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = Tensor(g.copy())  # a copy: never alias the gradient
                else:
                    b = buf.data
                    b *= momentum
                    b += (1 - dampening) * g
                g = g + momentum * buf.data if nesterov else buf.data
            p.data -= lr * g
