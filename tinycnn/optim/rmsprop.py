"""RMSprop (Hinton's lecture 6e; Graves 2013 for the centered form), as ``torch.optim.RMSprop``."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop in PyTorch's exact form (``torch.optim.RMSprop``), per step:

        g <- -g if maximize;  g <- g + weight_decay * p
        v <- alpha v + (1 - alpha) g^2
        centered: a <- a + (1 - alpha) (g - a);  d <- sqrt(v - a^2) + eps     else d <- sqrt(v) + eps
        momentum > 0: b <- momentum b + g / d;  p <- p - lr b                  else p <- p - lr g / d

    Note eps is added outside the square root (PyTorch's and TensorFlow's Keras differ here). State per parameter:
    "step", "square_avg" (and "momentum_buffer", "grad_avg").

    Args: params, lr (1e-2), alpha (0.99), eps (1e-8), weight_decay (0), momentum (0), centered (False),
    capturable / foreach / differentiable at their defaults, maximize. Raises ValueError for negative lr, alpha,
    eps, momentum or weight_decay.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, capturable: bool = False, foreach=None,
                 maximize: bool = False, differentiable: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_options(self, o: dict) -> None:
        self._check_unsupported(o)
        self._check_number("learning rate (lr)", o["lr"])
        self._check_number("epsilon (eps)", o["eps"])
        self._check_number("momentum", o["momentum"])
        self._check_number("weight_decay", o["weight_decay"])
        self._check_number("alpha", o["alpha"])

    def _step_group(self, group: dict) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered, maximize = (group["weight_decay"], group["momentum"], group["centered"],
                                                      group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = backend.get_array_module(p.data)
            state = self._state_of(p, ("square_avg", "momentum_buffer", "grad_avg"))
            if not state:
                state["step"] = Tensor(np.array(0.0, dtype=np.float32))
                state["square_avg"] = Tensor(xp.zeros_like(p.data))
            # options switched on after the first step start from zero (PyTorch would raise a KeyError)
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = Tensor(xp.zeros_like(p.data))
            if centered and "grad_avg" not in state:
                state["grad_avg"] = Tensor(xp.zeros_like(p.data))
            g = p.grad.data
            if maximize:
                g = -g
            state["step"].data += 1
            if weight_decay != 0:
                g = g + weight_decay * p.data
            v = state["square_avg"].data
            v *= alpha
            v += (1 - alpha) * g * g
            if centered:
                a = state["grad_avg"].data
                a += (1 - alpha) * (g - a)
                avg = xp.sqrt(v - a * a)
            else:
                avg = xp.sqrt(v)
            avg += eps
            if momentum > 0:
                b = state["momentum_buffer"].data
                b *= momentum
                b += g / avg
                p.data -= lr * b
            else:
                p.data -= lr * (g / avg)
