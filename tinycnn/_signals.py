"""SIGINT (Ctrl-C) and SIGTERM (what a job scheduler, ``docker stop`` or a closed terminal sends) during training.

Inside ``with InterruptGuard() as guard:`` both signals raise :class:`TrainingInterrupted` (a KeyboardInterrupt,
so code that catches Ctrl-C catches both) at once, abandoning the step in progress: the weights in memory may be
half-updated, but only the last checkpoint counts. Inside ``with guard.deferred():`` (the end-of-epoch writes of
the checkpoint, metrics.json and curves.png) a signal is held until the block ends, so those files always describe
the same epoch. The previous handlers are restored on exit. Handlers can only be set from the main thread;
elsewhere the guard does nothing (the signals keep their usual meaning).
"""
from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["TrainingInterrupted", "InterruptGuard", "HANDLED"]

HANDLED = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by a signal; ``signum`` is its number (exit with ``128 + signum``, as a shell reports)."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class InterruptGuard:
    """Turns SIGINT and SIGTERM into TrainingInterrupted while active; :meth:`deferred` holds them back."""

    def __init__(self):
        self._previous: dict[int, object] = {}
        self._depth = 0
        self._pending: int | None = None

    def __enter__(self) -> "InterruptGuard":
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if self._depth:
            self._pending = signum
            return
        raise TrainingInterrupted(signum)

    @contextlib.contextmanager
    def deferred(self):
        """Run the block to its end even if a signal comes; raise TrainingInterrupted after it if one came."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0 and self._pending is not None:
            signum, self._pending = self._pending, None
            raise TrainingInterrupted(signum)
