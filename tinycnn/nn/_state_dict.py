"""``Module.state_dict`` and ``Module.load_state_dict``, with ``torch.nn.Module``'s semantics.

* ``state_dict()`` maps dotted names to detached Tensors that SHARE memory with the parameters and persistent
  buffers (PyTorch's semantics: copy them, e.g. ``{k: v.numpy().copy()}``, to keep a snapshot). Order: for each
  module, depth first, its parameters, then its buffers, then its children; a module or parameter reachable under
  two names appears under both, as in PyTorch.
* ``load_state_dict()`` checks every key and shape first and copies nothing unless everything fits (PyTorch
  copies as it goes and can leave a model half loaded; here a failure leaves it untouched). It copies into the
  existing arrays, cast to each parameter's dtype and device, and returns PyTorch's ``_IncompatibleKeys``.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["IncompatibleKeys", "state_dict", "load_state_dict"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _IncompatibleKeys(IncompatibleKeys):
    """``(missing_keys, unexpected_keys)``, printed as PyTorch prints it."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _local_state(module) -> "OrderedDict[str, Tensor]":
    """A module's own parameters, then its persistent buffers, None entries left out."""
    out = OrderedDict((k, v) for k, v in module._parameters.items() if v is not None)
    skip = module._non_persistent_buffers_set
    out.update((k, v) for k, v in module._buffers.items() if v is not None and k not in skip)
    return out


def state_dict(module, destination=None, prefix: str = "", keep_vars: bool = False):
    """See ``Module.state_dict``."""
    if destination is None:
        destination = OrderedDict()
    for name, value in _local_state(module).items():
        destination[prefix + name] = value if keep_vars else value.detach()
    for name, child in module._modules.items():
        if child is not None:
            state_dict(child, destination, prefix + name + ".", keep_vars)
    return destination


def _is_array(value) -> bool:
    return isinstance(value, (np.ndarray, np.generic)) or backend.is_cupy_array(value)


def load_state_dict(module, state_dict, strict: bool = True, assign: bool = False):
    """See ``Module.load_state_dict``."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
    if assign:
        raise NotImplementedError("load_state_dict: assign=True is not supported by tinycnn; load with "
                                  "assign=False (the default), which copies into the existing parameters")
    found = _Found(getattr(state_dict, "_metadata", None))
    _check(module, state_dict, list(state_dict), "", found)
    errors = found.errors
    if strict:
        if found.unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in found.unexpected)))
        if found.missing:
            errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in found.missing)))
    if errors:
        raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(type(module).__name__,
                                                                                "\n\t".join(errors)))
    for target, array in found.copies:  # everything checked: now copy, in place
        data = target.data
        src = backend.to_device(array, backend.device_of(data))
        data[...] = src.astype(data.dtype, copy=False)
    return _IncompatibleKeys(found.missing, found.unexpected)


class _Found:
    def __init__(self, metadata):
        self.metadata = metadata
        self.missing, self.unexpected, self.errors, self.copies = [], [], [], []


def _check(module, state_dict, keys, prefix, found) -> None:
    """Match ``module``'s own entries against ``keys`` (those of ``state_dict`` under ``prefix``), then recurse."""
    local = _local_state(module)
    version = None
    if found.metadata is not None:
        version = found.metadata.get(prefix[:-1], {}).get("version")
    for name, target in local.items():
        key = prefix + name
        if key not in state_dict:
            # PyTorch: a state dict older than BatchNorm's version 2, or without a version (a plain dict), may
            # lack num_batches_tracked; the module then keeps its own
            if name in getattr(module, "_optional_state", ()) and (version is None or version < 2):
                continue
            found.missing.append(key)
            continue
        value = state_dict[key]
        array = value.data if isinstance(value, Tensor) else value
        if not _is_array(array):
            found.errors.append(f'While copying the parameter named "{key}", expected Tensor or array-like object '
                                f"from checkpoint but received {type(value)}")
            continue
        if isinstance(array, np.generic):
            array = np.asarray(array)
        if target.ndim == 0 and array.ndim == 1 and array.shape[0] == 1:
            array = array.reshape(())  # PyTorch accepts a 1-element vector for a scalar (old checkpoints)
        if tuple(array.shape) != tuple(target.shape):
            found.errors.append(f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} from "
                                f"checkpoint, the shape in current model is {tuple(target.shape)}.")
            continue
        found.copies.append((target, array))
    for key in keys:
        head = key[len(prefix):].split(".", 1)[0]
        if head not in module._modules and head not in local:
            found.unexpected.append(key)
    for name, child in module._modules.items():
        if child is not None:
            child_prefix = prefix + name + "."
            _check(child, state_dict, [k for k in keys if k.startswith(child_prefix)], child_prefix, found)
