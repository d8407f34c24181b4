"""A training run's folder: its lock, what it holds, resuming it, and what a failed write leaves (used by ``fit``).

- **One run at a time.** ``fit`` holds :class:`RunLock` (``OUT/.tinycnn-train.lock``, created with O_EXCL and
  holding the process id) for as long as it may write into the folder; a second run into the same folder is refused
  with the other run's pid. A lock whose process is gone (the run was SIGKILLed) is removed, with a note.
- **Resuming** (:func:`resume_state`): the checkpoint must hold a training state that fits the run (its settings,
  its epoch and history: :mod:`tinycnn._checkpoint_checks`). A run that has already finished is reported without
  writing anything (:func:`finished_run`), so ``--resume`` of a finished run works in a read-only folder.
- **A run stopped before its first checkpoint** keeps its settings in ``OUT/.tinycnn-settings.json`` (written
  when a new run starts in a folder holding no run, removed once its first checkpoint is written), so ``--resume``
  starts it again with them instead of with the defaults (a fine-tune stopped in its first epoch would otherwise
  have become a new MNIST run).
- **A failed write** (a full disk): :func:`write_failure` names the file, the reason, the last good checkpoint and
  how to continue.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ._checkpoint_checks import check_resumable, check_state_fits
from ._fileio import _alive, atomic_write_bytes
from .checkpoint import CheckpointError, read_checkpoint
from .runconfig import RunError, config_mismatches, existing_run_files

__all__ = ["RunLock", "RunWriteError", "LOCK_NAME", "CHECKPOINT", "SETTINGS", "describe_run", "resume_state",
           "finished_run", "restore_training", "write_failure", "write_settings", "read_settings", "saved_config"]

CHECKPOINT = "checkpoint.npz"
LOCK_NAME = ".tinycnn-train.lock"
SETTINGS = ".tinycnn-settings.json"


def write_settings(out: Path, recorded: dict) -> None:
    """Record a new run's settings (``recorded``: its resolved config) until its first checkpoint holds them."""
    text = json.dumps({"format": "tinycnn-run-settings", "config": recorded}, indent=1, sort_keys=True)
    atomic_write_bytes(Path(out) / SETTINGS, text.encode())


def read_settings(out: Path) -> dict | None:
    """The config recorded by :func:`write_settings` in ``out``, or None if there is none.

    Raises RunError naming the file when it cannot be read or is not what write_settings writes."""
    path = Path(out) / SETTINGS
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunError(f"{path}: unreadable run settings ({e}); remove it, or pass --overwrite (overwrite=True)") \
            from None
    if not isinstance(saved, dict) or saved.get("format") != "tinycnn-run-settings" or \
            not isinstance(saved.get("config"), dict):
        raise RunError(f"{path}: not a tinycnn run-settings file (expected a JSON object with format "
                       "'tinycnn-run-settings' and a config object); remove it, or pass --overwrite (overwrite=True)")
    return saved["config"]


def saved_config(out: Path) -> dict:
    """The settings of the run in ``out``: its checkpoint's, else those of a run stopped before its first
    checkpoint, else {} (an unreadable checkpoint gives {}: resuming it reports why)."""
    out = Path(out)
    if (out / CHECKPOINT).exists():
        try:
            return dict(read_checkpoint(out / CHECKPOINT)["meta"].get("config", {}))
        except (OSError, ValueError):
            return {}
    return read_settings(out) or {}


class RunWriteError(OSError):
    """A file of the run could not be written (``errno`` / ``strerror`` as the OSError's); the message says which,
    the last good checkpoint and how to continue."""

    def __str__(self) -> str:  # the message alone: OSError's own str would be "[Errno 28] ...: 'path'"
        return self.args[0]


class RunLock:
    """``OUT/.tinycnn-train.lock``: created with O_EXCL (only one process can), holding the owner's pid.

    :meth:`acquire` raises RunError naming the folder and the pid of a live owner; a lock whose pid is no running
    process (or that holds no pid) is stale: it is removed and ``log`` says so. :meth:`release` removes the lock
    if it is still this process's. (The pid of a dead run may have been reused by another process: the message
    says which file to remove if no run is going on.)
    """

    def __init__(self, out):
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self.held = False

    def acquire(self, log) -> "RunLock":
        for _ in range(5):  # another run may take a stale lock's place between our tries
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = self._owner()
                if pid is not None and _alive(pid):
                    raise RunError(f"{self.out} is in use by another tinycnn train run (pid {pid}): wait for it to end "
                                   f"or give another --out (if no such run is going on, remove {self.path})") from None
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                whose = f"of pid {pid}, which is no longer running" if pid is not None else "holding no process id"
                log(f"removed {self.path}, a stale lock {whose}")
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            self.held = True
            return self
        raise RunError(f"could not lock {self.out}: other runs keep taking it")

    def _owner(self) -> int | None:
        for _ in range(20):  # a lock created a moment ago may not hold its pid yet
            try:
                text = self.path.read_text()
            except FileNotFoundError:
                return None
            except OSError:
                break
            if text.strip().isdigit():
                return int(text)
            time.sleep(0.05)
        return None

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            if self.path.read_text().strip() == str(os.getpid()):
                os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def describe_run(out: Path) -> str:
    """The run in ``out`` in words: model, epoch of epochs, test accuracy; else the names of its files."""
    try:
        meta = read_checkpoint(out / CHECKPOINT)["meta"]
    except (OSError, ValueError):
        return ", ".join(existing_run_files(out))
    epochs = meta.get("config", {}).get("epochs", "?")
    accuracy = meta.get("test_accuracy")
    accuracy = f"{100 * accuracy:.2f}%" if isinstance(accuracy, float) else "?"
    return f"{meta['model']}, epoch {meta.get('epoch', '?')} of {epochs}, test accuracy {accuracy}"


def resume_state(config, out: Path, log):
    """The checkpoint to resume from (checked: it fits ``config``, a resolved TrainConfig), or None for a new run."""
    path = out / CHECKPOINT
    if not path.exists():
        if existing_run_files(out):
            raise RunError(f"cannot resume the run in {out}: {path} is missing (the folder holds "
                           f"{', '.join(existing_run_files(out))}); pass --overwrite (overwrite=True) for a new run")
        settings = read_settings(out)
        if settings is None:
            log(f"no checkpoint in {out}: starting a new run there")
            return None
        mismatches = config_mismatches(settings, config)
        if mismatches:
            raise RunError(f"cannot resume the run in {out} with other settings: it was started with "
                           f"{'; '.join(mismatches)} and stopped before its first checkpoint. Give its settings, or "
                           "--overwrite (overwrite=True) or another --out for a new run")
        log(f"no checkpoint in {out}: the run started there stopped before its first epoch ended; starting it again "
            f"with its settings ({out / SETTINGS})")
        return None
    checkpoint = read_checkpoint(path)
    if checkpoint.get("training") is None or "epoch" not in checkpoint["meta"]:
        raise CheckpointError(f"{path}: holds weights only (no optimizer or history, e.g. written by an older "
                              "tinycnn): it can be evaluated but not resumed; pass --overwrite (overwrite=True)")
    check_resumable(checkpoint, path, config.epochs)
    mismatches = config_mismatches(checkpoint["meta"]["config"], config)
    if mismatches:
        raise RunError(f"cannot resume the run in {out} with other settings: it was started with "
                       f"{'; '.join(mismatches)}. Give its settings, or --overwrite (overwrite=True) or another "
                       "--out for a new run")
    return checkpoint


def finished_run(config, out: Path, log, rebuild_result):
    """The result of the run in ``out`` if it has finished (its checkpoint is at ``config.epochs``), else None.

    Nothing is written when metrics.json agrees with the checkpoint (a read-only folder is fine); metrics.json and
    curves.png are rewritten from the checkpoint (``rebuild_result(checkpoint)`` -> (result, write)) only when they
    are missing or behind it (a write that failed after the last checkpoint), and the folder can be written.
    """
    checkpoint = resume_state(config, out, lambda *a: None) if (out / CHECKPOINT).exists() else None
    if checkpoint is None or checkpoint["meta"]["epoch"] < config.epochs:
        return None
    result = _metrics_of(out, checkpoint)
    if result is None:
        result, write = rebuild_result(checkpoint)
        try:
            with RunLock(out).acquire(log):
                write(result)
            log(f"rewrote {out / 'metrics.json'} and curves.png from the checkpoint (they were missing or behind it)")
        except (OSError, RunError) as e:
            log(f"metrics.json in {out} is missing or behind the checkpoint and could not be rewritten ({e})")
    return result


def _metrics_of(out: Path, checkpoint) -> dict | None:
    """metrics.json if it describes the checkpoint's epoch, else None."""
    try:
        metrics = json.loads((out / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    history = checkpoint["training"]["history"]
    if not isinstance(metrics, dict) or metrics.get("epochs_done") != len(history) or \
            metrics.get("test_accuracy") != history[-1]["test_accuracy"]:
        return None
    return metrics


def restore_training(checkpoint, path, optimizer, scheduler, loader) -> None:
    """Load the optimizer's, scheduler's and loader's states (as torch's recipe: built first, then loaded); a state
    that does not fit them is a CheckpointError naming the file, before anything trains."""
    training = checkpoint["training"]
    saved = training["scheduler"]
    if (scheduler is None) != (saved is None):
        raise CheckpointError(f"{path}: its scheduler state does not fit this run's schedule ("
                              f"{'none saved' if saved is None else 'one saved, the run has none'})")
    if scheduler is not None:
        check_state_fits(saved, scheduler.state_dict(), path, "scheduler")
    for what, target, state in (("optimizer", optimizer, training["optimizer"]), ("scheduler", scheduler, saved),
                                ("data loader", loader, training["loader"])):
        if target is None:
            continue
        try:
            target.load_state_dict(state)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
            raise CheckpointError(f"{path}: its {what} state does not fit this run's {what} ({e})") from None


def write_failure(path, error: OSError, out: Path, epoch: int | None, earlier: str | None) -> RunWriteError:
    """The error for ``error`` raised while writing ``path``: which file, why, the last good checkpoint (``epoch``:
    None when this run has saved none; ``earlier``: the earlier run an --overwrite run has not replaced yet)."""
    reason = error.strerror or str(error)
    if epoch is not None:
        then = (f"the last good checkpoint is {out / CHECKPOINT} (epoch {epoch}); continue with --resume "
                "(resume=True) once the problem is fixed")
    elif earlier:
        then = f"nothing of this run was saved; the earlier run in {out} ({earlier}) is left as it was"
    else:
        then = "nothing was saved"
    failure = RunWriteError(f"could not write {path} ({reason}); {then}")
    failure.errno, failure.strerror, failure.filename = error.errno, error.strerror, os.fspath(path)
    return failure
