"""``torch.utils.data``'s names and meanings: code written for it works with the import changed.

    from tinycnn.utils.data import DataLoader, TensorDataset     # was: from torch.utils.data import ...
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    for xb, yb in loader:                                        # Tensors, collated as torch's default_collate
        ...

``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split`` and ``default_collate`` are
:mod:`tinycnn.data`'s (PyTorch's semantics). :class:`DataLoader` takes PyTorch's arguments; what it does not
support is an error naming it, never ignored: ``num_workers`` > 0 (tinycnn loads in the main process),
``sampler`` / ``batch_sampler`` (use ``shuffle``, or a ``Subset`` for a fixed selection), ``generator`` (there is
no ``torch.Generator``: pass ``seed=N``, tinycnn's addition), ``batch_size=None``, and the worker options.
``pin_memory`` is accepted and does nothing (there is no pinned memory on NumPy; PyTorch's does nothing without a
GPU either).

Randomness: the shuffle order of each epoch is a function of (``seed``, epoch) as in
:class:`tinycnn.data.DataLoader` (``set_epoch``, ``state_dict``); without ``seed`` the loader takes one from
tinycnn's global generator when it is built, so ``tinycnn.manual_seed`` makes runs repeat as
``torch.manual_seed`` does. The orders themselves differ from PyTorch's for the same seed.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..data import loader as _loader
from ..data.collate import default_collate
from ..data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from ..tensor import Tensor

__all__ = ["DataLoader", "Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "default_collate"]

_WORKER_OPTIONS = {"timeout": 0, "worker_init_fn": None, "multiprocessing_context": None, "prefetch_factor": None,
                   "persistent_workers": False}


class DataLoader(_loader.DataLoader):
    """``torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False, ..., collate_fn=None, drop_last=False)``
    over any dataset (``__len__`` and ``__getitem__``), giving batches collated by ``collate_fn`` (default:
    :func:`default_collate`, Tensors as torch's).

    Args beyond PyTorch's: ``seed`` (non-negative int): the seed of the per-epoch shuffle order and of the random
    transforms' draws (module docstring).
    Raises:
        NotImplementedError naming each unsupported option given (module docstring); ValueError for a bad
        batch_size; TypeError for a dataset without ``__len__`` / ``__getitem__``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers: int = 0,
                 collate_fn=None, pin_memory: bool = False, drop_last: bool = False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True, seed=None):
        given = {"timeout": timeout, "worker_init_fn": worker_init_fn,
                 "multiprocessing_context": multiprocessing_context, "prefetch_factor": prefetch_factor,
                 "persistent_workers": persistent_workers}
        unsupported = [f"num_workers={num_workers!r} (tinycnn loads in the main process: num_workers=0)"
                       ] if num_workers != 0 else []
        unsupported += [f"{name}={value!r} (a worker option)" for name, value in given.items()
                        if value != _WORKER_OPTIONS[name]]
        if sampler is not None or batch_sampler is not None:
            unsupported.append("sampler / batch_sampler (use shuffle=True or False, or a Subset of the dataset)")
        if generator is not None:
            unsupported.append("generator (tinycnn has no torch.Generator: pass seed=N)")
        if batch_size is None:
            unsupported.append("batch_size=None (samples one by one, without batching)")
        if unsupported:
            raise NotImplementedError("tinycnn.utils.data.DataLoader does not support " + "; ".join(unsupported))
        if seed is None:  # from the global generator: tinycnn.manual_seed repeats it, as torch.manual_seed would
            seed = int(backend.get_rng(np).integers(0, 2**63 - 1))
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader needs a dataset with __len__ and __getitem__, got {type(dataset).__name__}")
        self.collate_fn = collate_fn
        self.pin_memory, self.num_workers = pin_memory, num_workers
        super().__init__(_AsDataset(dataset) if isinstance(dataset, (np.ndarray, Tensor)) else dataset,
                         batch_size=batch_size, shuffle=bool(shuffle), seed=seed, drop_last=drop_last)

    def _gather_ok(self) -> bool:
        return self.collate_fn is None  # a collate_fn of the user's sees the samples, not our shortcut

    def _collate(self, samples):
        return (self.collate_fn or default_collate)(samples)

    def _from_gathered(self, batch):
        if isinstance(batch, tuple):  # default_collate gives a list for tuple samples
            return [Tensor(np.ascontiguousarray(b)) for b in batch]
        return Tensor(np.ascontiguousarray(batch))


class _AsDataset:
    """An array or Tensor used as a dataset, as torch allows: its rows are the samples (``loader.dataset.data``
    is the array)."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i]

    def _gather(self, idx):
        rows = self.data.numpy() if isinstance(self.data, Tensor) else self.data
        if isinstance(self.data, Tensor) and self.data.requires_grad:
            return None
        return np.asarray(rows)[idx]
