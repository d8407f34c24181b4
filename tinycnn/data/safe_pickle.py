"""Reading a pickle without letting it run code: an unpickler that admits a fixed list of globals and no other.

Unpickling runs whatever callables the file names (``os.system`` included), so tinycnn never opens a pickle it has
not verified by checksum, and even then reads it only through :func:`restricted_loads`: the file may build the
plain types the pickle opcodes make by themselves (dict, list, tuple, str, bytes, int, float, bool, None) and call
only the globals in ``allowed``. Any other global is refused before it is looked up, with an
``UnpicklingError`` naming it and the file. Persistent ids are refused too (the stdlib's default).
"""
from __future__ import annotations

import io
import pickle

import numpy as np

__all__ = ["restricted_loads", "NUMPY_ARRAY_GLOBALS"]

try:  # NumPy 2 moved numpy.core to numpy._core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

# What a pickled ndarray names at protocols 0-4: the array rebuilder, the ndarray type and dtype. A pickle written by
# NumPy 1 (and by Python 2, as the CIFAR files were) spells the rebuilder numpy.core.multiarray; NumPy 2 writes
# numpy._core.multiarray. Both are the same function.
NUMPY_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _Restricted(pickle.Unpickler):
    def __init__(self, data: bytes, allowed: dict, name: str, encoding: str):
        super().__init__(io.BytesIO(data), encoding=encoding)
        self.allowed, self.name = allowed, name

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"{self.name}: refusing to unpickle {module}.{name} (this file may only "
                                         f"build {', '.join(sorted(f'{m}.{n}' for m, n in self.allowed))})")
        return self.allowed[(module, name)]


def restricted_loads(data: bytes, allowed: dict, name: str, encoding: str = "bytes"):
    """The object pickled in ``data``, built only from plain types and the globals in ``allowed``.

    Args:
        data: the pickle's bytes (verify their checksum first).
        allowed: {(module, name): object} that the pickle may name, e.g. :data:`NUMPY_ARRAY_GLOBALS`.
        name: the file's name, for messages.
        encoding: how Python 2 ``str`` objects are decoded; "bytes" keeps them as bytes (the CIFAR files' keys are
            then ``b"data"``, as the data set's home page describes them).
    Raises:
        ValueError naming the file for any pickle that is refused or malformed (a global outside ``allowed``, a
        truncated stream, bad opcodes): the UnpicklingError, EOFError... is chained.
    """
    try:
        return _Restricted(data, allowed, name, encoding).load()
    except pickle.UnpicklingError as e:
        message = str(e) if str(e).startswith(name) else f"{name}: truncated or malformed pickle ({e})"
        raise ValueError(message) from e
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError,
            UnicodeDecodeError, MemoryError) as e:
        raise ValueError(f"{name}: truncated or malformed pickle ({type(e).__name__}: {e})") from e
