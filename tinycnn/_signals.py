"""SIGINT (Ctrl-C) and SIGTERM (what a job scheduler, ``docker stop`` or a closed terminal sends) during training.

Inside ``with InterruptGuard() as guard:`` both signals raise :class:`TrainingInterrupted` (a KeyboardInterrupt,
so code that catches Ctrl-C catches both) at once, abandoning the step in progress: the weights in memory may be
half-updated, but only the last checkpoint counts. Inside ``with guard.deferred():`` (the end-of-epoch writes of
the checkpoint, metrics.json and curves.png) a signal is held until the block ends, so those files always describe
the same epoch. The previous handlers are restored on exit. Handlers can only be set from the main thread;
elsewhere the guard does nothing (the signals keep their usual meaning).

A signal is never lost: the handler also records it as *pending*. A raise can be swallowed: when the signal lands
while a finalizer (``__del__``, a weakref callback: tqdm has both) runs, Python prints "Exception ignored in ..."
and carries on; code may also catch the KeyboardInterrupt and go on. The training loop calls :meth:`check` at its
safe points (each step, before evaluating), which raises a pending signal, and the guard raises one still pending
when it ends normally. One signal stops the run, however many times its exception is caught.

Once :meth:`complete` is called (the run's final files are all written), a signal interrupts nothing: the work it
would stop is done. It is recorded, not raised.

A signal that starts out ignored (SIG_IGN: ``nohup cmd &``, a shell's background job) is left ignored, as Python
itself leaves SIGINT alone at startup when it is inherited ignored.
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
        self._complete = False

    def __enter__(self) -> "InterruptGuard":
        self._pending, self._complete = None, False
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                if signal.getsignal(signum) is signal.SIG_IGN:  # inherited ignored: the user asked for that
                    continue
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        pending, self._pending = self._pending, None
        if exc_type is None and pending is not None and not self._complete:  # a raise swallowed since the last check
            raise TrainingInterrupted(pending)

    @property
    def pending(self) -> int | None:
        """The number of a signal received and not yet raised by :meth:`check` or the guard, else None."""
        return self._pending

    def _handle(self, signum, frame) -> None:
        self._pending = signum
        if self._depth or self._complete:
            return
        raise TrainingInterrupted(signum)

    def check(self) -> None:
        """Raise TrainingInterrupted if a signal came since the last check (its raise may have been swallowed).

        Call it at the training loop's safe points; inside :meth:`deferred` it does nothing (the block's end
        raises).
        """
        if self._pending is not None and not self._depth and not self._complete:
            signum, self._pending = self._pending, None
            raise TrainingInterrupted(signum)

    def complete(self) -> int | None:
        """The guarded work is done (a run's final files are written): from now on a signal interrupts nothing and
        is not raised, by :meth:`check`, :meth:`deferred` or the guard's end. Returns the signal that came
        and was held so far (None if none), for the caller to mention."""
        self._complete = True
        return self._pending

    @contextlib.contextmanager
    def deferred(self):
        """Run the block to its end even if a signal comes; raise TrainingInterrupted after it if one came."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        self.check()
