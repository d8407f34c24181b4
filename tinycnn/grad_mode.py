"""Grad modes: ``no_grad``, ``enable_grad``, ``inference_mode``, ``set_grad_enabled``, ``is_grad_enabled``.

The flag itself is ``tensor._grad_enabled``, which ``Function.apply`` reads on every op.
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import tensor as _t

__all__ = ["no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled"]


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` / ``inference_mode()`` (``torch.is_grad_enabled``)."""
    return _t._grad_enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled):
        self.enabled = enabled  # None: leave the mode as it is (inference_mode(False))
        self.prev = []  # a stack: as a decorator one object is entered again by recursive or nested calls

    def __enter__(self):
        self.prev.append(_t._grad_enabled)
        if self.enabled is not None:
            _t._grad_enabled = self.enabled

    def __exit__(self, *exc):
        _t._grad_enabled = self.prev.pop()
        return False


def _mode(enabled, func):
    mode = _GradMode(enabled)
    return mode if func is None else mode(func)  # ``@no_grad`` without parentheses, as torch allows


def no_grad(func=None):
    """Context manager (and decorator, with or without parentheses) that records no graph, as ``torch.no_grad``."""
    return _mode(False, func)


def enable_grad(func=None):
    """Context manager (and decorator) that turns graph recording back on inside ``no_grad()``."""
    return _mode(True, func)


def inference_mode(mode=True):
    """``torch.inference_mode``: context manager and decorator (``@inference_mode()`` or ``@inference_mode``).

    In tinycnn it is ``no_grad()`` (``mode=False``: changes nothing). Difference from PyTorch: tensors made inside
    it may later be used in autograd, where PyTorch raises ("Inference tensors cannot be saved for backward"); the
    values are the same.
    """
    if callable(mode):
        return _mode(False, mode)
    return _GradMode(False if mode else None)


class set_grad_enabled(contextlib.ContextDecorator):  # noqa: N801 - torch's name
    """``torch.set_grad_enabled(mode)``: sets grad mode when called, and restores the previous mode on leaving
    when used as a context manager. Raises TypeError unless ``mode`` is a bool."""

    def __init__(self, mode: bool):
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
        self.prev = _t._grad_enabled
        _t._grad_enabled = bool(mode)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _t._grad_enabled = self.prev
        return False
