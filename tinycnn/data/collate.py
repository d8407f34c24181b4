"""Merging a list of samples into one batch: PyTorch's ``default_collate``, and the same into NumPy arrays.

:func:`default_collate` follows ``torch.utils.data.default_collate`` case by case (what it returns for each kind of
sample field):

=============================  ==================================================================================
sample field                   batch
=============================  ==================================================================================
Tensor (C, H, W)               Tensor (N, C, H, W), the samples stacked, dtype kept
NumPy array (C, H, W)          the same, as a Tensor of the array's dtype (uint8 stays uint8); string and object
                               arrays are a TypeError
NumPy scalar (np.float32(1))   Tensor (N,) of its dtype
Python int / bool / float      Tensor (N,) int64 / bool / float64
str, bytes                     the list of them
dict                           a dict of the fields collated
namedtuple                     the same namedtuple of the fields collated
tuple, list                    a list of the fields collated (torch gives a list for tuples too); samples of
                               different lengths are a RuntimeError
anything else (None, objects)  TypeError, torch's message
=============================  ==================================================================================

:func:`numpy_collate` does the same with NumPy arrays in place of Tensors, and keeps tuples as tuples: it is what
:class:`tinycnn.data.DataLoader` returns, so that ``for x, y in loader`` gets arrays as its array path does.
"""
from __future__ import annotations

import collections.abc
import re

import numpy as np

from ..tensor import Tensor

__all__ = ["default_collate", "numpy_collate"]

_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
_STRING_OR_OBJECT = re.compile(r"[SaUO]")  # torch's np_str_obj_array_pattern


def _stack_tensors(batch):
    if any(t.requires_grad for t in batch):  # keep the graph, as torch.stack does
        from .. import functional as F  # noqa: PLC0415

        return F.stack(list(batch), 0)
    return Tensor(np.stack([t.data for t in batch]))


def _number_dtype(batch, elem):
    """torch's: float64 for floats (``torch.tensor(batch, dtype=float64)``); for ints ``torch.tensor(batch)``'s
    inference: bool if all are bools, int64 if all are integers, float32 (the default dtype) if any is a float."""
    if isinstance(elem, float):
        return np.float64
    if all(type(b) is bool for b in batch):
        return np.bool_
    return np.float32 if any(isinstance(b, float) for b in batch) else np.int64


def _collate(batch, tensors: bool):
    elem = batch[0]
    if isinstance(elem, Tensor):
        if tensors:
            return _stack_tensors(batch)
        return np.stack([np.asarray(t.numpy()) for t in batch])
    if isinstance(elem, (str, bytes)):  # before NumPy's scalars: np.str_ is a str
        return list(batch)
    if isinstance(elem, (np.ndarray, np.generic)):
        if _STRING_OR_OBJECT.search(elem.dtype.str):
            raise TypeError(_ERR.format(elem.dtype))
        stacked = np.stack(batch) if isinstance(elem, np.ndarray) else np.array(batch, dtype=elem.dtype)
        return Tensor(stacked) if tensors else stacked
    if isinstance(elem, (bool, int, float)):
        array = np.array(batch, dtype=_number_dtype(batch, elem))
        return Tensor(array) if tensors else array
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: _collate([d[key] for d in batch], tensors) for key in elem}
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(_collate(list(s), tensors) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [_collate(list(s), tensors) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields if tensors else tuple(fields)
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(_ERR.format(type(elem)))


def default_collate(batch):
    """A list of samples -> one batch of Tensors, as ``torch.utils.data.default_collate`` (table in the module
    docstring). Raises TypeError for fields it cannot batch, RuntimeError for sequences of unequal length."""
    return _collate(list(batch), tensors=True)


def numpy_collate(batch):
    """As :func:`default_collate`, with NumPy arrays instead of Tensors and tuples kept as tuples."""
    return _collate(list(batch), tensors=False)
