"""The switch between the two tiers of ops: the textbook reference (``tinycnn/functional``) and the fast kernels
(``tinycnn/kernels``). Default: fast.

    with tinycnn.use_reference_ops():        # a block
        loss = model(x).sum(); loss.backward()

    @tinycnn.use_reference_ops()             # a function
    def step(): ...

    TINYCNN_REFERENCE=1 python train.py      # a whole process (notebooks, debuggers)

The functional wrappers (``F.conv2d``, ``F.max_pool2d``, ``F.avg_pool2d``, ``F.batch_norm``) read ``REFERENCE``
when they are called and build the reference or the fast ``Function``; a graph keeps the Functions it was built
with, so its backward runs the tier of its forward whatever the switch says later. The switch is process-wide, as
``no_grad`` is here (not per thread). Ops that have no fast kernel run their one implementation, which is the
reference, in both modes.
"""
from __future__ import annotations

import contextlib

from .. import _environment

__all__ = ["use_reference_ops", "reference_ops_enabled", "ENV_VAR"]

ENV_VAR = _environment.REFERENCE  # "TINYCNN_REFERENCE": a bad value is an error at import, in one line

REFERENCE = _environment.reference_flag()
"""True while the reference tier runs: read by the functional wrappers on every call (one attribute lookup)."""


def reference_ops_enabled() -> bool:
    """Whether the ops run their textbook reference now (``use_reference_ops``, ``TINYCNN_REFERENCE``)."""
    return REFERENCE


class use_reference_ops(contextlib.ContextDecorator):  # noqa: N801 - a function-like name, as torch.no_grad
    """Context manager and decorator: run the reference implementation of every op inside (``enabled=True``), or
    the fast kernels (``enabled=False``, e.g. to time them inside a ``TINYCNN_REFERENCE=1`` process). Restores the
    previous mode on exit, also after an exception; nests and may be re-entered (as a decorator, by recursion).

    Raises TypeError unless ``enabled`` is a bool.
    """

    def __init__(self, enabled: bool = True):
        if not isinstance(enabled, bool):
            raise TypeError(f"use_reference_ops: enabled must be a bool, got {enabled!r}")
        self.enabled = enabled
        self._previous = []  # a stack: one decorator object is entered again by recursive or nested calls

    def __enter__(self):
        global REFERENCE
        self._previous.append(REFERENCE)
        REFERENCE = self.enabled
        return self

    def __exit__(self, *exc):
        global REFERENCE
        REFERENCE = self._previous.pop()
        return False
