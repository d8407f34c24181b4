"""Numerical gradient checking by central differences, in float64.

The analytic gradient (from ``backward``) of the scalar ``L = sum(fn(*inputs) * R)``, with R a fixed random
array, is compared with (L(x + eps) - L(x - eps)) / (2 eps):

* full mode perturbs every element of every input that requires grad (as ``torch.autograd.gradcheck``);
* fast mode perturbs all elements at once along one random direction v and compares the directional derivative
  <grad, v> with (L(x + eps v) - L(x - eps v)) / (2 eps) (as Chainer's ``check_backward``): one pair of forward
  calls per input instead of two per element.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckError", "numerical_grad"]


class GradcheckError(AssertionError):
    """A gradient check failed. Attributes: input_index, index (the worst element, or None in fast mode),
    analytic, numeric, rel_error."""

    def __init__(self, message, input_index, index, analytic, numeric, rel_error):
        super().__init__(message)
        self.input_index, self.index = input_index, index
        self.analytic, self.numeric, self.rel_error = analytic, numeric, rel_error


def _scalar(fn, inputs, weights):
    with no_grad():
        outs = fn(*inputs)
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        total = 0.0
        for out, w in zip(outs, weights):
            total += float((out.data.astype(np.float64) * w).sum())
    return total


def numerical_grad(fn, inputs, i, weights, eps=1e-6):
    """Central-difference gradient of sum(fn(*inputs) * weights) with respect to ``inputs[i]``, element by element."""
    x = inputs[i].data
    grad = backend.get_array_module(x).zeros(x.shape, dtype=np.float64)
    for k in np.ndindex(*x.shape):  # index x itself: x.reshape(-1) is a copy when x is not contiguous
        orig = x[k].item()
        x[k] = orig + eps
        plus = _scalar(fn, inputs, weights)
        x[k] = orig - eps
        minus = _scalar(fn, inputs, weights)
        x[k] = orig
        grad[k] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="full", seed=0, raise_exception=True):
    """Check the gradients that ``backward`` gives ``fn`` against central differences.

    Args:
        fn: callable taking the tensors ``inputs`` and returning a Tensor (or a tuple of them).
        inputs: sequence of Tensors; those with ``requires_grad`` are checked. They must be float64: float32's
            7 digits cannot resolve a difference quotient (eps 1e-6 on values near 1 loses all precision).
        eps: step of the central difference. atol, rtol: pass if |analytic - numeric| <= atol + rtol |numeric|.
        mode: "full" (every element) or "fast" (one random direction per input, as Chainer).
        seed: seeds the random weights R of the scalar L = sum(fn(inputs) * R) and the fast-mode directions.
        raise_exception: raise on failure (default), or return False.

    Returns:
        True when every checked input passes.

    Raises:
        GradcheckError: naming the input, the worst element's index (full mode), the analytic and numeric values
            and the relative error.
        TypeError: an input that is not a float64 Tensor.
        ValueError: no input requires grad, or an unknown mode.
    """
    if mode not in ("full", "fast"):
        raise ValueError(f"gradcheck: mode must be 'full' or 'fast', got {mode!r}")
    inputs = list(inputs)
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck: inputs[{k}] must be a Tensor, got {type(t).__name__}")
        if t.requires_grad and t.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs[{k}] must be float64 for finite differences, got {t.dtype}")
    checked = [k for k, t in enumerate(inputs) if t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")

    rng = np.random.default_rng(seed)
    outs = fn(*inputs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    xp = backend.get_array_module(outs[0].data)
    weights = [xp.asarray(rng.standard_normal(o.shape)) for o in outs]
    for t in inputs:
        t.grad = None
    total = None
    for o, w in zip(outs, weights):
        if o.requires_grad:
            term = (o * Tensor(w.astype(o.dtype))).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()

    for k in checked:
        t = inputs[k]
        analytic = t.grad.data if t.grad is not None else xp.zeros(t.shape, dtype=np.float64)
        if mode == "full":
            numeric = numerical_grad(fn, inputs, k, weights, eps)
            err = abs(analytic - numeric) - (atol + rtol * abs(numeric))
            worst = int(err.argmax()) if err.size else 0
            if err.size and float(err.reshape(-1)[worst]) > 0:
                index = tuple(int(v) for v in np.unravel_index(worst, t.shape))
                a, n = float(analytic.reshape(-1)[worst]), float(numeric.reshape(-1)[worst])
                rel = abs(a - n) / max(abs(n), 1e-12)
                message = (f"gradcheck: input {k} (shape {t.shape}): worst element {index}: analytic {a:.8g}, "
                           f"numeric {n:.8g}, relative error {rel:.3g} (atol {atol}, rtol {rtol})")
                if raise_exception:
                    raise GradcheckError(message, k, index, a, n, rel)
                return False
        else:
            direction = xp.asarray(rng.standard_normal(t.shape))
            x = t.data
            orig = x.copy()
            x += eps * direction
            plus = _scalar(fn, inputs, weights)
            x[...] = orig - eps * direction
            minus = _scalar(fn, inputs, weights)
            x[...] = orig
            n = (plus - minus) / (2 * eps)
            a = float((analytic * direction).sum())
            if abs(a - n) > atol + rtol * abs(n):
                rel = abs(a - n) / max(abs(n), 1e-12)
                message = (f"gradcheck (fast): input {k} (shape {t.shape}): directional derivative analytic {a:.8g},"
                           f" numeric {n:.8g}, relative error {rel:.3g} (atol {atol}, rtol {rtol})")
                if raise_exception:
                    raise GradcheckError(message, k, None, a, n, rel)
                return False
    return True
