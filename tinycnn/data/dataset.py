"""The Dataset protocol and PyTorch's generic datasets: ``Dataset``, ``TensorDataset``, ``Subset``,
``ConcatDataset``, ``random_split`` (``torch.utils.data``'s names and meanings).

A dataset is anything with ``__len__`` (the number of samples) and ``__getitem__(i)`` (sample ``i``, usually an
``(input, target)`` pair): a :class:`~tinycnn.data.DataLoader` draws indices, fetches the samples and collates them
into batches. Subclassing :class:`Dataset` is optional (it adds ``+``, as PyTorch's does).

A dataset may also define ``_gather(indices)``: the whole batch of those samples at once, as NumPy arrays equal to
what collating the samples one by one gives (``numpy_collate``). The loaders use it when no per-sample work is
needed: a ``TensorDataset``, or MNIST / CIFAR without a transform, then batch as fast as arrays do.
"""
from __future__ import annotations

import bisect
import itertools
import math
import warnings

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]


class Dataset:
    """Base class of map-style datasets (``torch.utils.data.Dataset``): subclasses define ``__getitem__`` and
    ``__len__``. ``a + b`` is ``ConcatDataset([a, b])``."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other) -> "ConcatDataset":
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples ``tuple(t[i] for t in tensors)`` of tensors that share their first dimension
    (``torch.utils.data.TensorDataset``).

    Args:
        *tensors: Tensors (NumPy arrays are taken as Tensors), all of the same length N.
    Raises:
        ValueError ("Size mismatch between tensors") when the lengths differ, as torch's assertion.
    """

    def __init__(self, *tensors):
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        if not tensors or any(t.ndim == 0 for t in tensors):
            raise ValueError("TensorDataset needs one or more tensors with a first dimension")
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError(f"Size mismatch between tensors: {[t.shape for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _gather(self, indices):
        if any(t.requires_grad for t in self.tensors):  # let indexing record the graph
            return None
        return tuple(np.asarray(backend.to_device(t.data, "cpu"))[indices] for t in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (``torch.utils.data.Subset``)."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)

    def _gather(self, indices):
        gather = getattr(self.dataset, "_gather", None)
        return None if gather is None else gather(np.asarray(self.indices)[np.asarray(indices)])


class ConcatDataset(Dataset):
    """Several datasets one after the other (``torch.utils.data.ConcatDataset``); negative indices count from the
    end. Raises ValueError for no datasets, or an index beyond the length."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = 0 if which == 0 else self.cumulative_sizes[which - 1]
        return self.datasets[which][idx - start]


def _split_lengths(n: int, lengths) -> list[int]:
    """torch's random_split lengths: integers summing to n, or fractions summing to 1 (each floor(n * f), the
    remainder given one by one to the first splits)."""
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            counts.append(int(math.floor(n * frac)))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, length in enumerate(counts):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              UserWarning, stacklevel=3)
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    return [int(v) for v in lengths]


def random_split(dataset, lengths, generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths
    (``torch.utils.data.random_split``).

    Args:
        lengths: integers summing to ``len(dataset)``, or fractions summing to 1 (torch's rounding: each split gets
            floor(N * fraction), the remainder goes one by one to the first splits).
        generator: a ``numpy.random.Generator`` (or an int seed) to draw the permutation from; default tinycnn's
            global generator (seeded by ``tinycnn.manual_seed``). The permutation is drawn by NumPy, so the subsets
            differ from torch's for the same seed (their sizes do not).
    Raises:
        ValueError as torch's: lengths that do not sum to the dataset's length, a fraction outside [0, 1].
        TypeError for a torch.Generator or another kind of generator.
    """
    counts = _split_lengths(len(dataset), lengths)
    if generator is None:
        generator = backend.get_rng(np)
    elif isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        generator = np.random.default_rng(int(generator))
    elif not isinstance(generator, np.random.Generator):
        raise TypeError(f"random_split: generator must be a numpy.random.Generator or an int seed (tinycnn has no "
                        f"torch.Generator), got {type(generator).__name__}")
    order = generator.permutation(sum(counts)).tolist()
    return [Subset(dataset, order[end - length:end])
            for end, length in zip(itertools.accumulate(counts), counts)]
