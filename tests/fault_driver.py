"""Runs ``tinycnn train ARGS`` in this process with one fault hook, for tests/test_faults.py.

    python tests/fault_driver.py MODE MARKER ARGS...

MODE is one of:
    none                 run as is;
    pause-step:K         after the K-th training step, create MARKER, then sleep 0.05 s after every step, so that a
                         signal sent once MARKER exists lands in the middle of an epoch;
    pause-write:N:S      during the N-th checkpoint write (its bytes written and flushed, not yet renamed), create
                         MARKER and sleep S seconds, so that a signal sent then lands in the middle of the write;
    enospc:NAME:N        the N-th write of the run file NAME fails as on a full disk (OSError ENOSPC at its fsync).
The exit status is the CLI's.
"""
import os
import sys
import time
from pathlib import Path

from tinycnn import train
from tinycnn.cli import main


def pause_after_steps(k: int, marker: str) -> None:
    original, count = train._outputs_and_loss, [0]

    def step(outputs, target):  # called once per training step, by the training loop only
        count[0] += 1
        if count[0] == k:
            Path(marker).touch()
        if count[0] >= k:
            time.sleep(0.05)
        return original(outputs, target)

    train._outputs_and_loss = step


def pause_in_checkpoint_write(n: int, seconds: float, marker: str) -> None:
    original, count = os.fsync, [0]

    def fsync(fd):
        original(fd)
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".checkpoint.npz."):
            count[0] += 1
            if count[0] == n:
                Path(marker).touch()
                time.sleep(seconds)

    os.fsync = fsync


def full_disk_at(name: str, n: int) -> None:
    import errno

    original, count = os.fsync, [0]

    def fsync(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(f".{name}."):
            count[0] += 1
            if count[0] == n:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        original(fd)

    os.fsync = fsync


if __name__ == "__main__":
    mode, marker, *args = sys.argv[1:]
    kind, *params = mode.split(":")
    if kind == "pause-step":
        pause_after_steps(int(params[0]), marker)
    elif kind == "pause-write":
        pause_in_checkpoint_write(int(params[0]), float(params[1]), marker)
    elif kind == "enospc":
        full_disk_at(params[0], int(params[1]))
    elif kind != "none":
        sys.exit(f"unknown mode {mode!r}")
    sys.exit(main(["train", *args]))
