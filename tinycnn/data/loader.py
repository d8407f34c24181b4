"""Turning uint8 images into float32 batches: normalization, the DataLoader, simple augmentation functions.

Everything here works on NumPy arrays; the training loop moves a batch to a Tensor (and a device) itself
(``tinycnn.utils.data.DataLoader`` gives Tensors). The torchvision-style transforms are in
:mod:`tinycnn.data.transforms`; ``random_crop`` / ``random_hflip`` are their batch forms as plain functions.
"""

from __future__ import annotations

import inspect
import math
from typing import Callable, Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _rng
from .collate import numpy_collate
from .transforms import Transform

__all__ = ["MNIST_MEAN", "MNIST_STD", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD",
           "normalize", "DataLoader", "random_crop", "random_hflip"]

# Mean and standard deviation of the MNIST training pixels scaled to [0, 1] (the values PyTorch's examples use).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
# The same for Fashion-MNIST (measured on the 60,000 training images of the Debian package: 0.28604, 0.35302).
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530


def normalize(images, mean=MNIST_MEAN, std=MNIST_STD) -> np.ndarray:
    """uint8 pixels -> float32 ``((x / 255) - mean) / std``, with a channel axis.

    Args:
        images: uint8 array (N, H, W) or (N, C, H, W), values 0..255.
        mean, std: a scalar, one value per channel (length C), or an array (C, H, W): a per-pixel mean image, as
            the AlexNet and ResNet papers subtract (He et al. 2016, Sec. 4.2: "the per-pixel mean subtracted").
    Returns:
        A new float32 array (N, 1, H, W) for (N, H, W) input, else (N, C, H, W).
    Raises:
        TypeError if ``images`` is not uint8 (already-scaled floats would be divided by 255 twice);
        ValueError for another number of dims, or a mean/std that does not match the channels or image size.
    The cast to float32 comes BEFORE any arithmetic: on uint8, x - 128 wraps around (0 - 128 = 128).
    """
    x = np.asarray(images)
    if x.dtype != np.uint8:
        raise TypeError(f"normalize expects uint8 pixels 0..255, got {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W): a view, no copy
    elif x.ndim != 4:
        raise ValueError(f"normalize expects (N, H, W) or (N, C, H, W) images, got shape {x.shape}")
    mean = _per_channel(mean, x.shape[1:], "mean")
    std = _per_channel(std, x.shape[1:], "std")
    out = x.astype(np.float32)  # the one copy; the rest is in place
    out /= np.float32(255)
    out -= mean
    out /= std
    return out


def _per_channel(value, chw: tuple, what: str) -> np.ndarray:
    """A scalar, a per-channel sequence or a (C, H, W) array as float32 broadcastable against (N, C, H, W)."""
    v = np.asarray(value, dtype=np.float32)
    if v.ndim == 0:
        return v
    if v.shape == chw:
        return v[None]
    if v.shape != (chw[0],):
        raise ValueError(f"{what} must be a scalar, {chw[0]} values (one per channel) or a {chw} array, got "
                         f"{v.shape}")
    return v.reshape(1, chw[0], 1, 1)


class DataLoader:
    """Iterate over batches of arrays, or of a Dataset's samples, optionally shuffled and transformed, repeatably.

    ``DataLoader(images, labels, ...)`` batches two arrays (the fast path: one slice or gather per batch);
    ``DataLoader(dataset, ...)`` fetches ``dataset[i]`` for each index of a batch and collates the samples
    (:func:`~tinycnn.data.collate.numpy_collate`: an ``(image, label)`` sample gives a ``(x, y)`` batch of arrays),
    or takes the whole batch at once from a dataset that can give it (a TensorDataset, MNIST or CIFAR without a
    transform: see :mod:`tinycnn.data.dataset`). ``tinycnn.utils.data.DataLoader`` is the same loader with
    PyTorch's signature, giving Tensors.

    Args:
        dataset: array (N, ...) of images, e.g. uint8 (N, 28, 28) (then ``labels`` is required), or a Dataset
            (``__len__`` and ``__getitem__``).
        labels: array (N,), e.g. int64, for the array path; None for a Dataset.
        batch_size: positive int (default 128).
        shuffle: visit the N samples in a new random order each epoch.
        seed: non-negative int. The order of epoch ``e`` and the random numbers its transforms draw come from
            generators seeded by ``(seed, e)`` alone (``np.random.SeedSequence([seed, e])``, one child stream for
            the order, one for the transforms), so they do not depend on what happened before: not on how many
            times ``iter()`` was called (a progress bar calls it once more), nor on a restart. None draws a fresh
            seed from the OS, kept in ``loader.seed`` so that the run can be repeated.
        drop_last: drop the final batch when it has fewer than ``batch_size`` samples.
        transform: applied to each batch of images (the first field of a Dataset's batches); labels pass
            unchanged. A transform of :mod:`tinycnn.data.transforms` (or a ``Compose`` of them) runs its batch
            form, ``transform.apply_batch(batch, rng)``; a plain function is called as ``transform(batch)``, or
            ``transform(batch, rng=generator)`` if it has a parameter named ``rng``. The random transforms that a
            Dataset applies to each sample draw from the same generator while the loader fetches.
    Raises:
        ValueError for a non-positive or non-integer batch_size, a negative or non-integer seed, or
        len(images) != len(labels); TypeError for an array without labels or a dataset without len/getitem.

    Epochs: ``loader.epoch`` is the epoch the next pass uses. A pass starts when its first batch is drawn (not at
    ``iter()``, as with ``torch.utils.data.DataLoader``, whose sampler also draws at the first batch), takes the
    order of ``loader.epoch`` and advances it by one; ``set_epoch(e)`` sets it, as
    ``torch.utils.data.distributed.DistributedSampler.set_epoch`` does (a training loop that resumes at epoch e
    calls it and gets the order the uninterrupted run had).

    ``len(loader)`` is the number of batches per epoch. Every sample appears exactly once per epoch (minus the
    dropped tail). Array path without shuffle: a batch is a view of ``images`` (no copy), so a transform must not
    modify its input in place; with shuffle a batch is gathered with a slice of the permutation (one copy).
    """

    def __init__(self, dataset, labels=None, batch_size: int = 128, shuffle: bool = False, seed=None,
                 drop_last: bool = False, transform: Callable[..., np.ndarray] | None = None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if labels is not None:
            images, labels = np.asarray(dataset), np.asarray(labels)
            if images.ndim == 0 or labels.ndim == 0 or len(images) != len(labels):
                raise ValueError(
                    f"images and labels must have the same length, got {images.shape} and {labels.shape}"
                )
            self.images, self.labels, self.dataset = images, labels, None
        else:
            self._check_dataset(dataset)
            self.images = self.labels = None
            self.dataset = dataset
        if seed is None:
            seed = np.random.SeedSequence().entropy  # a fresh 128-bit seed, recorded
        self.seed = _non_negative_int(seed, "seed")
        self.batch_size = int(batch_size)
        self.shuffle, self.drop_last, self.transform = shuffle, drop_last, transform
        self._transform_takes_rng = transform is not None and _takes_rng(transform)
        self.epoch = 0

    def _check_dataset(self, dataset):
        if isinstance(dataset, np.ndarray):
            raise TypeError("DataLoader(images, labels): the labels are missing (a dataset of arrays alone is a "
                            "TensorDataset(images))")
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader needs arrays (images, labels) or a Dataset with __len__ and __getitem__, "
                            f"got {type(dataset).__name__}")

    def __len__(self) -> int:
        n = len(self.images) if self.dataset is None else len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch ``epoch`` (a non-negative int): its order and transform draws are those of
        ``(seed, epoch)``. Raises ValueError for anything else."""
        self.epoch = _non_negative_int(epoch, "epoch")

    def generators(self, epoch: int) -> tuple[np.random.Generator, np.random.Generator]:
        """The two generators of ``epoch``: (order, transform), independent streams of SeedSequence([seed, epoch])."""
        order_seq, transform_seq = np.random.SeedSequence([self.seed, _non_negative_int(epoch, "epoch")]).spawn(2)
        return np.random.default_rng(order_seq), np.random.default_rng(transform_seq)

    def state_dict(self) -> dict:
        """``{"seed", "epoch"}``: all a later loader over the same arrays needs to continue the same sequence."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.seed = _non_negative_int(state["seed"], "seed")
        self.set_epoch(state["epoch"])

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self._batches()  # a generator: nothing is drawn, and the epoch does not advance, before next()

    def _batches(self):
        epoch = self.epoch
        self.epoch = epoch + 1
        order_rng, transform_rng = self.generators(epoch)
        n = len(self.images) if self.dataset is None else len(self.dataset)
        order = order_rng.permutation(n) if self.shuffle else None
        bs = self.batch_size
        for start in range(0, len(self) * bs, bs):
            if self.dataset is not None:
                idx = order[start:start + bs] if order is not None else np.arange(start, min(start + bs, n))
                batch = self._fetch(idx, transform_rng)
                if self.transform is not None:
                    if not isinstance(batch, (tuple, list)):
                        raise TypeError("DataLoader(transform=...) transforms the first field of (x, y) batches; "
                                        f"this dataset's batches are {type(batch).__name__}")
                    batch = type(batch)([self._transformed(batch[0], transform_rng, True), *batch[1:]])
                yield batch
                continue
            if order is None:
                x, y = self.images[start:start + bs], self.labels[start:start + bs]
            else:
                idx = order[start:start + bs]
                x, y = self.images[idx], self.labels[idx]
            yield (x if self.transform is None else self._transformed(x, transform_rng, order is not None)), y

    def _transformed(self, x, rng, owned: bool):
        if isinstance(self.transform, Transform):
            return self.transform._batch(x, rng, owned)[0]
        if self._transform_takes_rng:
            return self.transform(x, rng=rng)
        return self.transform(x)

    def _fetch(self, idx, rng):
        """The collated batch of ``dataset[i]`` for ``i`` in ``idx``, the dataset's random transforms drawing from
        ``rng``; at once through ``dataset._gather`` where the dataset offers it."""
        gather = getattr(self.dataset, "_gather", None) if self._gather_ok() else None
        if gather is not None:
            batch = gather(idx)
            if batch is not None:
                return self._from_gathered(batch)
        with _rng.using(rng):
            samples = [self.dataset[int(i)] for i in idx]
        return self._collate(samples)

    def _gather_ok(self) -> bool:
        return True

    def _collate(self, samples):
        return numpy_collate(samples)

    def _from_gathered(self, batch: tuple):
        return batch


def _non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def _takes_rng(fn) -> bool:
    try:
        return "rng" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def random_crop(images, pad: int = 4, rng=None) -> np.ndarray:
    """Pad each image with ``pad`` zeros on every side, then cut a random window of the original size.

    Args:
        images: array (N, H, W) or (N, C, H, W), any dtype (usually uint8, before normalize).
        pad: non-negative int; offsets are uniform in 0..2*pad on each axis, one pair per image.
        rng: a ``np.random.Generator`` (pass the same one every batch), or a seed for a new one.
    Returns:
        A new array of the same shape and dtype. Vectorised: one gather, no loop over samples.
    Raises:
        ValueError for a negative pad or fewer than 3 dims.
    """
    x = np.asarray(images)
    if pad < 0 or x.ndim < 3:
        raise ValueError(f"random_crop needs pad >= 0 and (N, [C,] H, W) images, got pad={pad}, {x.shape}")
    rng = np.random.default_rng(rng)
    n, (h, w) = len(x), x.shape[-2:]
    padded = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(pad, pad), (pad, pad)])
    # windows[i, ..., dy, dx] is the (h, w) window of image i starting at (dy, dx): a view, no copy.
    windows = sliding_window_view(padded, (h, w), axis=(-2, -1))
    dy = rng.integers(0, 2 * pad + 1, size=n)
    dx = rng.integers(0, 2 * pad + 1, size=n)
    middle = (slice(None),) * (x.ndim - 3)  # the channel axis, if any
    return windows[(np.arange(n), *middle, dy, dx)]


def random_hflip(images, rng=None, p: float = 0.5) -> np.ndarray:
    """Mirror each image left-right with probability ``p``.

    Args:
        images: array (N, H, W) or (N, C, H, W), any dtype.
        rng: a ``np.random.Generator`` (pass the same one every batch), or a seed for a new one.
        p: probability of a flip, in [0, 1].
    Returns:
        A new array of the same shape and dtype. Vectorised: a mask over the batch, no loop over samples.
    Raises:
        ValueError for p outside [0, 1] or fewer than 3 dims.
    """
    x = np.asarray(images)
    if not 0.0 <= p <= 1.0 or x.ndim < 3:
        raise ValueError(f"random_hflip needs 0 <= p <= 1 and (N, [C,] H, W) images, got p={p}, {x.shape}")
    flip = np.random.default_rng(rng).random(len(x)) < p
    return np.where(flip.reshape((-1,) + (1,) * (x.ndim - 1)), x[..., ::-1], x)
