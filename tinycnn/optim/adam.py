"""Adam and AdamW, as ``torch.optim.Adam`` / ``torch.optim.AdamW``."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1) in PyTorch's exact form (``torch.optim.Adam``), per step t:

        g <- -g if maximize;  g <- g + weight_decay * p        (coupled L2; AdamW: p <- p (1 - lr weight_decay))
        m <- m + (1 - b1) (g - m);  v <- b2 v + (1 - b2) g^2
        v_max <- max(v_max, v) with amsgrad (Reddi et al. 2018), used instead of v below
        p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    State per parameter: "step" (a float32 count on the host), "exp_avg", "exp_avg_sq" (and "max_exp_avg_sq").

    Args: params, lr (1e-3), betas ((0.9, 0.999)), eps (1e-8), weight_decay (0), amsgrad; keyword-only maximize,
    decoupled_weight_decay (AdamW's decay), and foreach / capturable / differentiable / fused at their defaults.
    Raises ValueError for negative lr, eps or weight_decay, betas outside [0, 1).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 amsgrad: bool = False, *, foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused=None, decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_options(self, o: dict) -> None:
        self._check_unsupported(o)
        self._check_number("learning rate (lr)", o["lr"])
        self._check_number("epsilon (eps)", o["eps"])
        self._check_number("weight_decay", o["weight_decay"])
        betas = o["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            self._check_number(f"beta parameter at index {i} (betas)", beta, minimum=0.0, below=1.0)

    def _step_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = backend.get_array_module(p.data)
            state = self._state_of(p, keys)
            if not state:
                state["step"] = Tensor(np.array(0.0, dtype=np.float32))
                state["exp_avg"] = Tensor(xp.zeros_like(p.data))
                state["exp_avg_sq"] = Tensor(xp.zeros_like(p.data))
            if amsgrad and "max_exp_avg_sq" not in state:  # also when switched on later (PyTorch: KeyError)
                state["max_exp_avg_sq"] = Tensor(xp.zeros_like(p.data))
            g = p.grad.data
            if maximize:
                g = -g
            state["step"].data += 1
            step = float(state["step"].data)
            if weight_decay != 0:
                if decoupled:
                    p.data *= 1 - lr * weight_decay
                else:
                    g = g + weight_decay * p.data
            m, v = state["exp_avg"].data, state["exp_avg_sq"].data
            m += (1 - beta1) * (g - m)  # PyTorch's lerp
            v *= beta2
            v += (1 - beta2) * g * g
            step_size = lr / (1 - beta1 ** step)
            bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
            if amsgrad:
                v_max = state["max_exp_avg_sq"].data
                xp.maximum(v_max, v, out=v_max)
                v = v_max
            denom = xp.sqrt(v) / bias_correction2_sqrt + eps
            p.data -= step_size * (m / denom)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019), ``torch.optim.AdamW``: Adam with DECOUPLED weight decay, p <- p (1 - lr
    weight_decay) before the Adam step, and PyTorch's default weight_decay of 1e-2. Arguments and errors as Adam's
    (without decoupled_weight_decay, always True)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False, foreach=None, capturable: bool = False,
                 differentiable: bool = False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # PyTorch: an AdamW always decouples, whatever was saved
            group["decoupled_weight_decay"] = True
