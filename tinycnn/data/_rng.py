"""Which generator the random transforms draw from: the DataLoader's generator of the epoch, or tinycnn's own.

torchvision's random transforms draw from torch's global generator. tinycnn's draw from :func:`current`: inside a
:class:`~tinycnn.data.DataLoader` pass, the loader's transform generator of that epoch (seeded by ``(seed, epoch)``
alone, so that runs repeat and a resumed run draws what the uninterrupted one drew); anywhere else, tinycnn's
global generator, which ``tinycnn.manual_seed`` seeds (``torch.manual_seed``'s role).
"""
from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from .. import backend

__all__ = ["current", "using"]

_active: contextvars.ContextVar = contextvars.ContextVar("tinycnn_data_generator", default=None)


def current() -> np.random.Generator:
    """The loader's generator while it fetches samples (see :func:`using`), else tinycnn's seeded global one."""
    generator = _active.get()
    return generator if generator is not None else backend.get_rng(np)


@contextlib.contextmanager
def using(generator: np.random.Generator):
    """Make ``generator`` what :func:`current` returns inside the block (per thread, and restored after it)."""
    token = _active.set(generator)
    try:
        yield generator
    finally:
        _active.reset(token)
