"""Writing files so that nothing is ever half-written, and cleaning up after writers that were killed.

Every file tinycnn writes (checkpoints, metrics.json, curves.png, the data cache, IDX files) goes through
:func:`atomic_write_bytes`: the bytes go to a temporary file in the same folder, are flushed to disk, and the
temporary file is renamed over the target (``os.replace``, atomic on one file system). A reader sees the old file
or the whole new one. A writer killed with SIGKILL (or a power cut) leaves only its temporary file, named
``.NAME.PID.RANDOM.tmp``; :func:`remove_stale_temporaries` deletes those whose process is gone.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "remove_stale_temporaries", "temporary_name_pattern"]

# .checkpoint.npz.12345.k3j4h5.tmp: the target's name, the writer's pid, mkstemp's random part.
_TMP = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")


def temporary_name_pattern() -> re.Pattern:
    """The regular expression that the temporary files of :func:`atomic_write_bytes` match (groups target, pid)."""
    return _TMP


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never half of it.

    A temporary file ``.NAME.PID.RANDOM.tmp`` in the same folder (same file system, so ``os.replace`` is an atomic
    rename) is written, flushed to disk (fsync), given the mode a plain ``open()`` would give (0666 minus the
    umask), then renamed over ``path``. On any error, KeyboardInterrupt included, the temporary file is removed
    and the error re-raised; ``path`` is left as it was.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True  # cannot tell: keep the file
    return True


def remove_stale_temporaries(folder, targets=None) -> list[Path]:
    """Delete the temporary files that killed writers left in ``folder``; return the paths removed.

    Only files matching ``.NAME.PID.RANDOM.tmp`` whose PID is no running process are removed (a live writer's file
    is kept: another run may be writing it), and only for NAME in ``targets`` when given. A file that cannot be
    removed is left alone: readers never open temporary files, so a leftover is harmless, only untidy.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TMP.match(entry.name)
        if not match or (targets is not None and match["target"] not in targets):
            continue
        if _alive(int(match["pid"])):
            continue
        try:
            entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed
