"""tinycnn's environment variables, read in one place: a bad value is an error naming the variable and the value,
never a silently ignored setting.

    TINYCNN_REFERENCE    1, true, yes, on: the textbook reference tier of ops; 0, false, no, off or empty: the fast
                         kernels (tinycnn/kernels/switch.py)
    TINYCNN_NUM_THREADS  an integer >= 1: threads for the CPU copies around the GEMMs; unset or empty: one per CPU
                         (backend.get_num_threads)

Both are checked when tinycnn is imported, so a typo stops a run before it starts. The error is a
:class:`SettingError` (a ValueError). A setting is not a bug in the program, so when such an error is not caught,
the process ends with one line, ``tinycnn: error: TINYCNN_REFERENCE must be ..., got 'maybe'``, instead of a
traceback: for the command line, which cannot catch what happens while ``tinycnn`` is imported, and for any script.
Every other uncaught exception keeps Python's traceback.
"""
from __future__ import annotations

import os
import sys

__all__ = ["SettingError", "reference_flag", "num_threads", "check"]

REFERENCE = "TINYCNN_REFERENCE"
NUM_THREADS = "TINYCNN_NUM_THREADS"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


class SettingError(ValueError):
    """A bad value of one of tinycnn's environment variables; the message names the variable and the value."""


def _report_in_one_line(kind, value, traceback) -> None:
    if issubclass(kind, SettingError):
        print(f"tinycnn: error: {value}", file=sys.stderr)
    else:
        _report_in_one_line.previous(kind, value, traceback)


def _refuse(message: str) -> SettingError:
    """The error to raise, after making sure that, if it ends the program, it is reported in one line."""
    if sys.excepthook is not _report_in_one_line:
        _report_in_one_line.previous = sys.excepthook
        sys.excepthook = _report_in_one_line
    return SettingError(message)


def reference_flag() -> bool:
    """TINYCNN_REFERENCE as a bool (unset: False). Raises SettingError for any other value than those above."""
    raw = os.environ.get(REFERENCE, "")
    value = raw.strip().lower()
    if value not in _TRUE + _FALSE:
        raise _refuse(f"{REFERENCE} must be one of 1, true, yes, on (reference ops) or 0, false, no, off, empty "
                      f"(fast kernels), got {raw!r}")
    return value in _TRUE


def num_threads() -> int | None:
    """TINYCNN_NUM_THREADS as an int >= 1, or None when unset or empty. Raises SettingError for any other value."""
    raw = os.environ.get(NUM_THREADS, "")
    if not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise _refuse(f"{NUM_THREADS} must be an integer >= 1 (unset or empty: one thread per CPU), got {raw!r}")
    return value


def check() -> None:
    """Read every variable now (at import): raises SettingError for the first bad one."""
    reference_flag()
    num_threads()
