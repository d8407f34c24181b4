"""Image transforms in torchvision's style: ``Compose``, ``ToTensor``, ``Normalize``, ``RandomCrop``,
``RandomHorizontalFlip``, ``Resize``, ``CenterCrop``, ``Lambda`` (``torchvision.transforms``' names, arguments and
results; ``RandomResizedCrop`` lives in ``transforms_crop.py``).

    from tinycnn.data import transforms as T
    train_tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                          T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])

**One image** (``transform(img)``, what a Dataset calls): an image is a PIL image, a NumPy array, or a Tensor.

- Layout rule, torchvision's: a NumPy array is (H, W) or (H, W, C), as ``ToTensor`` reads it and as tinycnn's
  datasets give their images; a Tensor is (..., H, W), e.g. (C, H, W). ``ToTensor`` turns a PIL image or an
  array into a float32 Tensor (C, H, W), dividing uint8 values by 255 (other dtypes are kept as they are, as
  torchvision does). An array that looks like (C, H, W) (first axis 1 or 3 long, last axis not 1, 3 or 4), which
  torchvision would silently scramble, is a ValueError.
- On a PIL image every transform calls Pillow as torchvision does (``Resize``: Pillow's BILINEAR filter, which
  antialiases); on arrays and Tensors the same operation in NumPy (``Resize``: the bilinear filter of torch's
  ``interpolate(mode="bilinear", antialias=True)``, torchvision's tensor path; on uint8 data its values can differ
  from Pillow's by 1, Pillow rounding in fixed point between its two passes).

**A batch** (``transform.apply_batch(images, rng)``, what :class:`~tinycnn.data.DataLoader` calls for arrays): the
DataLoader's layout, (N, H, W) or (N, C, H, W), the whole batch at once with one random draw per image, as fast as
hand-written NumPy: ``ToTensor`` gives float32 (N, C, H, W) arrays (a channel axis added to (N, H, W)).
``Lambda`` and plain functions inside a ``Compose`` have no batch form: they are written for one image.

**Randomness.** The random transforms draw from the DataLoader's generator of the epoch while a loader fetches
(seeded by ``(seed, epoch)``: runs repeat, and resume, bit for bit), else from tinycnn's global generator
(``tinycnn.manual_seed``; torchvision draws from torch's). The draws themselves are NumPy's, so the crops differ
from torchvision's for the same seed; each transform draws what torchvision's draws (none when the crop fills the
image).
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import _image, _rng
from ._image import ltrb as _ltrb, pair as _pair, resized_size  # noqa: F401  (transforms_crop, callers)

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Resize", "CenterCrop",
           "RandomResizedCrop", "Lambda", "InterpolationMode"]


class InterpolationMode:
    """torchvision's interpolation names; tinycnn's Resize has BILINEAR only."""

    BILINEAR = "bilinear"


class Transform:
    """Base of the transforms: ``__call__(img)`` for one image, ``apply_batch(images, rng=None)`` for a batch."""

    def apply_batch(self, images, rng=None):
        """The transform of a batch (N, H, W) / (N, C, H, W) of arrays; ``rng`` default: :func:`_rng.current`."""
        return self._batch(images, rng if rng is not None else _rng.current(), owned=False)[0]

    def _batch(self, images, rng, owned):  # -> (array, whether the caller may write into it)
        raise TypeError(f"{type(self).__name__} has no batch form: it is written for one image")

    def __repr__(self):
        return f"{type(self).__name__}()"


class Compose(Transform):
    """Apply ``transforms`` in order (``torchvision.transforms.Compose``)."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def _batch(self, images, rng, owned):
        for t in self.transforms:
            if not isinstance(t, Transform):
                raise TypeError(f"{t!r} in a Compose has no batch form (it is written for one image): give the "
                                "array DataLoader a function of the whole batch instead")
            images, owned = t._batch(images, rng, owned)
        return images, owned

    def __repr__(self):
        return "Compose(\n" + "".join(f"    {t}\n" for t in self.transforms) + ")"


class ToTensor(Transform):
    """PIL image or array (H, W[, C]) -> float32 Tensor (C, H, W), uint8 divided by 255
    (``torchvision.transforms.ToTensor``; the layout rule is in the module docstring).

    Raises TypeError for a Tensor or another type, ValueError for an array of other than 2 or 3 dims or one laid
    out (C, H, W)."""

    def __call__(self, pic):
        if _image.is_pil(pic):
            return Tensor(_pil_to_chw(pic))
        if isinstance(pic, Tensor) or not isinstance(pic, np.ndarray):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        if pic.ndim == 3 and pic.shape[0] in (1, 3) and pic.shape[2] not in (1, 3, 4):
            raise ValueError(f"ToTensor reads arrays as (H, W, C) (torchvision's rule); this one, {pic.shape}, looks "
                             "like (C, H, W): pass pic.transpose(1, 2, 0), or a Tensor to the other transforms")
        chw = (pic[None] if pic.ndim == 2 else pic.transpose(2, 0, 1))
        return Tensor(_scaled(chw))

    def _batch(self, images, rng, owned):
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[:, None]
        elif x.ndim != 4:
            raise ValueError(f"ToTensor: a batch must be (N, H, W) or (N, C, H, W), got shape {x.shape}")
        return (_scaled(x), True) if x.dtype == np.uint8 else (x, owned)


def _scaled(x: np.ndarray) -> np.ndarray:
    """uint8 -> float32 x / 255 (a new array); other dtypes unchanged, as torchvision's to_tensor."""
    if x.dtype != np.uint8:
        return np.ascontiguousarray(x)
    out = x.astype(np.float32)
    out /= np.float32(255)
    return out


def _pil_to_chw(pic) -> np.ndarray:
    """torchvision's PIL branch of to_tensor: modes I, I;16, F keep their values; "1" becomes 0/255 uint8."""
    dtypes = {"I": np.int32, "I;16": np.int16, "F": np.float32}
    array = np.array(pic, dtype=dtypes.get(pic.mode, np.uint8), copy=True)
    if pic.mode == "1":
        array = array * np.uint8(255)
    if array.ndim == 2:
        array = array[:, :, None]
    return _scaled(array.transpose(2, 0, 1))


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` per channel of a float image (..., C, H, W) (``torchvision.transforms.Normalize``:
    mean and std cast to the image's dtype first).

    Raises TypeError for a PIL image or an integer image (normalize after ToTensor), ValueError for fewer than 3
    dims, a std that is zero, or a mean/std whose length is not the number of channels."""

    def __init__(self, mean, std, inplace: bool = False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def _stats(self, x: np.ndarray):
        if x.dtype.kind != "f":
            raise TypeError(f"Input tensor should be a float tensor. Got {x.dtype}.")
        if x.ndim < 3:
            raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = "
                             f"{x.shape}.")
        mean, std = (np.asarray(v, dtype=x.dtype) for v in (self.mean, self.std))
        if (std == 0).any():
            raise ValueError(f"std evaluated to zero after conversion to {x.dtype}, leading to division by zero.")
        channels = x.shape[-3]
        for name, v in (("mean", mean), ("std", std)):
            if v.ndim > 1 or (v.ndim == 1 and len(v) not in (1, channels)):
                raise ValueError(f"Normalize: {name} has {v.size} values for an image of {channels} channels")
        return mean.reshape(-1, 1, 1) if mean.ndim else mean, std.reshape(-1, 1, 1) if std.ndim else std

    def __call__(self, tensor):
        if _image.is_pil(tensor):
            raise TypeError("img should be Tensor Image. Got a PIL image: apply ToTensor first")
        x = np.asarray(tensor.numpy() if isinstance(tensor, Tensor) else tensor)
        mean, std = self._stats(x)
        out = x if (self.inplace and not isinstance(tensor, Tensor)) else x.copy()
        out -= mean
        out /= std
        if isinstance(tensor, Tensor):
            if self.inplace:
                tensor.data[...] = out
                return tensor
            return Tensor(out)
        return out

    def _batch(self, images, rng, owned):
        x = np.asarray(images)
        mean, std = self._stats(x)
        out = x if owned else x.copy()
        out -= mean
        out /= std
        return out, True

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


def _pad(img, ltrb, fill, mode, batch: bool):
    """Pad one image (any kind), or a batch array on its last two axes."""
    if batch:
        return _image.pad_array(img, img.ndim - 2, img.ndim - 1, ltrb, fill, mode)
    return _image.pad(img, ltrb, fill, mode)


def _size(img, batch: bool) -> tuple[int, int]:
    return tuple(img.shape[-2:]) if batch else _image.size_of(img)


class RandomCrop(Transform):
    """Pad by ``padding`` (if given), then cut a random ``size`` window (``torchvision.transforms.RandomCrop``).

    Args:
        size: int or (h, w). padding: int, (left/right, top/bottom) or (left, top, right, bottom).
        pad_if_needed: pad an image smaller than ``size`` up to it. fill: the constant for padding_mode
            "constant"; padding_mode: "constant", "edge", "reflect" or "symmetric".
    The window's top-left corner is uniform over every position inside the padded image (one draw of the row,
    then of the column; none when the window fills the image). Raises ValueError when the (padded) image is
    smaller than ``size``, or for a bad padding or padding_mode.
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant"):
        self.size = _pair(size, "RandomCrop")
        self.padding = None if padding is None else _ltrb(padding)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def _padded(self, img, batch=False):
        if self.padding is not None:
            img = _pad(img, self.padding, self.fill, self.padding_mode, batch)
        height, width = _size(img, batch)
        th, tw = self.size
        if self.pad_if_needed and width < tw:
            img = _pad(img, (tw - width, 0, tw - width, 0), self.fill, self.padding_mode, batch)
        if self.pad_if_needed and height < th:
            img = _pad(img, (0, th - height, 0, th - height), self.fill, self.padding_mode, batch)
        height, width = _size(img, batch)
        if height < th or width < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(height, width)}")
        return img, height, width

    def __call__(self, img):
        img, height, width = self._padded(img)
        th, tw = self.size
        if (height, width) == (th, tw):
            return img
        rng = _rng.current()
        i, j = int(rng.integers(0, height - th + 1)), int(rng.integers(0, width - tw + 1))
        return _image.crop(img, i, j, th, tw)

    def _batch(self, images, rng, owned):
        from numpy.lib.stride_tricks import sliding_window_view  # noqa: PLC0415

        x = np.asarray(images)
        padded, height, width = self._padded(x, batch=True)
        th, tw = self.size
        if (height, width) == (th, tw):
            return padded, owned if padded is x else True
        x = padded
        n = len(x)
        # windows[k, ..., i, j] is the (th, tw) window of image k at (i, j): a view; one gather copies the batch
        windows = sliding_window_view(x, (th, tw), axis=(-2, -1))
        i, j = rng.integers(0, height - th + 1, size=n), rng.integers(0, width - tw + 1, size=n)
        middle = (slice(None),) * (x.ndim - 3)
        return windows[(np.arange(n), *middle, i, j)], True

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(Transform):
    """Mirror left-right with probability ``p`` (``torchvision.transforms.RandomHorizontalFlip``): one uniform draw
    per image, flipped when it is below ``p``. Raises ValueError for p outside [0, 1]."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must lie in [0, 1], got {p}")
        self.p = p

    def __call__(self, img):
        return _image.hflip(img) if _rng.current().random() < self.p else img

    def _batch(self, images, rng, owned):
        x = np.asarray(images)
        flip = rng.random(len(x)) < self.p
        return np.where(flip.reshape((-1,) + (1,) * (x.ndim - 1)), x[..., ::-1], x), True

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class Resize(Transform):
    """Resize to ``size`` (``torchvision.transforms.Resize``): (h, w), or an int for the shorter side (the longer
    keeps the aspect ratio, truncated). Bilinear only; a PIL image goes through Pillow's BILINEAR filter, arrays
    and Tensors through torch's antialiased bilinear filter (module docstring; ``antialias=False``: plain
    bilinear on arrays and Tensors, ignored for PIL as in torchvision). An image already of that size is
    returned as it is. Raises NotImplementedError for another interpolation, ValueError for a bad size."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias: bool = True):
        if str(getattr(interpolation, "value", interpolation)).lower() not in ("bilinear", "2"):
            raise NotImplementedError(f"Resize: only bilinear interpolation is supported, got {interpolation!r}")
        if not (isinstance(size, int) or (isinstance(size, (tuple, list)) and len(size) in (1, 2))):
            raise ValueError(f"Size must be an int or a 1 or 2 element tuple/list, got {size!r}")
        self.size, self.max_size, self.antialias = size, max_size, bool(antialias)

    def __call__(self, img):
        height, width = _image.size_of(img)
        out = resized_size(height, width, self.size, self.max_size)
        return img if out == (height, width) else _image.resize(img, out, self.antialias)

    def _batch(self, images, rng, owned):
        x = np.asarray(images)
        out = resized_size(x.shape[-2], x.shape[-1], self.size, self.max_size)
        if out == x.shape[-2:]:
            return x, owned
        return _image.resize_array(x, x.ndim - 2, x.ndim - 1, out, self.antialias), True

    def __repr__(self):
        return f"Resize(size={self.size}, interpolation=bilinear, max_size={self.max_size}, antialias={self.antialias})"


class CenterCrop(Transform):
    """The central ``size`` window (``torchvision.transforms.CenterCrop``): offsets ``int(round((H - h) / 2))``
    (Python's round, half to even, as torchvision), zero padding first where the image is smaller."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def _offsets(self, img, batch=False):
        height, width = _size(img, batch)
        th, tw = self.size
        if tw > width or th > height:
            img = _pad(img, ((tw - width) // 2 if tw > width else 0, (th - height) // 2 if th > height else 0,
                             (tw - width + 1) // 2 if tw > width else 0,
                             (th - height + 1) // 2 if th > height else 0), 0, "constant", batch)
            height, width = _size(img, batch)
        return img, int(round((height - th) / 2.0)), int(round((width - tw) / 2.0))

    def __call__(self, img):
        img, top, left = self._offsets(img)
        return _image.crop(img, top, left, *self.size)

    def _batch(self, images, rng, owned):
        x = np.asarray(images)
        padded, top, left = self._offsets(x, batch=True)
        th, tw = self.size
        return padded[..., top:top + th, left:left + tw], owned if padded is x else True

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


class Lambda(Transform):
    """A function of one image as a transform (``torchvision.transforms.Lambda``); no batch form. Raises TypeError
    when ``lambd`` is not callable."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return "Lambda()"


from .transforms_crop import RandomResizedCrop  # noqa: E402  (it subclasses Transform, defined above)
