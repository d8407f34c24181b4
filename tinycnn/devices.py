"""``tinycnn.device``: where a tensor's memory lives, with ``torch.device``'s semantics.

``device("cpu")``, ``device("cuda")`` (no index: the current GPU, which is GPU 0 in tinycnn), ``device("cuda:1")``,
``device("cuda", 1)`` or ``device(type="cuda", index=1)``; ``.type`` is ``"cpu"`` or ``"cuda"``, ``.index`` an int or
None. As torch's: two devices are equal when type and index are (``device("cuda") != device("cuda:0")``), a device
never equals a string (``x.device == "cpu"`` is False in PyTorch too: compare ``x.device.type == "cpu"``), ``str()``
gives ``"cpu"`` / ``"cuda:0"`` and ``repr()`` ``device(type='cuda', index=0)``. Every ``device=`` argument and every
``.to(...)`` of tinycnn accepts a device, its string, or a ``torch.device``. ``Tensor.device`` returns one (PyTorch's
choice; the NumPy-backed ``"cpu"`` tensors report ``device(type='cpu')``).

A malformed name raises ValueError (PyTorch: RuntimeError), naming what was given and what is accepted.
"""
from __future__ import annotations

import numbers
import re

__all__ = ["device"]

_NAME = re.compile(r"(cpu|cuda)(?::(0|[1-9][0-9]*))?")


class device:  # noqa: N801 - torch's name
    """A device: ``device(type_or_name, index=None)`` (see the module docstring).

    Raises ValueError for an unknown type ("gpu", "CPU"), a malformed name ("cuda:x", "cuda:-1"), a negative index
    or an index given twice ("cuda:1", 1); TypeError for an argument of another kind.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type=None, index=None):  # noqa: A002 - torch's argument names
        if isinstance(type, device) or _is_torch_device(type):
            if index is not None:
                raise TypeError("device(device) takes no index")
            type, index = type.type, type.index
        elif isinstance(type, numbers.Integral) and not isinstance(type, bool) and index is None:
            type, index = "cuda", int(type)  # torch.device(0) is the GPU of index 0
        if not isinstance(type, str):
            raise TypeError(f"device: expected a device name such as 'cpu', 'cuda' or 'cuda:0', got "
                            f"{type.__class__.__name__} {type!r}")
        match = _NAME.fullmatch(type)
        if match is None:
            hint = " (a GPU is 'cuda')" if type.strip().lower() == "gpu" else ""
            raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N' (PyTorch's names), got {type!r}{hint}")
        kind, named = match.group(1), match.group(2)
        if index is not None:
            if named is not None:
                raise ValueError(f"device: the name {type!r} must not include an index when index={index!r} is "
                                 f"passed too")
            if not isinstance(index, numbers.Integral) or isinstance(index, bool):
                raise TypeError(f"device: index must be an int, got {index!r}")
            if index < 0:
                raise ValueError(f"device: index must not be negative, got {index}")
            named = int(index)
        object.__setattr__(self, "_type", kind)
        object.__setattr__(self, "_index", None if named is None else int(named))

    @property
    def type(self) -> str:  # noqa: A003
        """``"cpu"`` or ``"cuda"``."""
        return self._type

    @property
    def index(self):
        """The device's index (``cuda:1`` -> 1), or None when it was not given."""
        return self._index

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        index = "" if self._index is None else f", index={self._index}"
        return f"device(type='{self._type}'{index})"

    def __eq__(self, other):
        if isinstance(other, device) or _is_torch_device(other):
            return (self._type, self._index) == (other.type, other.index)
        return NotImplemented  # a string is not a device: False, as in PyTorch

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __reduce__(self):
        return device, (str(self),)


def _is_torch_device(value) -> bool:
    return type(value).__name__ == "device" and type(value).__module__ == "torch"


_CPU = device("cpu")
_CUDA: dict = {}


def of_name(name: str) -> device:
    """The (shared, immutable) device object for a normalized name, "cpu" or "cuda:N" (``Tensor.device``)."""
    if name == "cpu":
        return _CPU
    dev = _CUDA.get(name)
    if dev is None:
        dev = _CUDA[name] = device(name)
    return dev
