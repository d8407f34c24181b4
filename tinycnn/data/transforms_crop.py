"""``RandomResizedCrop``: the crop of torchvision's ImageNet training recipe (the "Inception" crop), in
:mod:`tinycnn.data.transforms`' style (one image: PIL, array or Tensor; a batch: arrays, one draw per image).

Kept apart from ``transforms.py`` only for its length; import it from there (``transforms.RandomResizedCrop``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from . import _image, _rng
from .transforms import InterpolationMode, Transform, _pair

__all__ = ["RandomResizedCrop"]


class RandomResizedCrop(Transform):
    """A random window of random area and aspect ratio, resized to ``size``
    (``torchvision.transforms.RandomResizedCrop``: Szegedy et al. 2015's crop, the first step of torchvision's
    ImageNet training recipe, ``references/classification/presets.py``).

    Args:
        size: int or (h, w): the output size.
        scale: (min, max) of the window's area as a fraction of the image's (default (0.08, 1.0)).
        ratio: (min, max) of the window's aspect ratio width / height (default (3/4, 4/3)), drawn uniformly on a
            log scale.
        interpolation: bilinear only (a PIL image goes through Pillow's BILINEAR filter, arrays and Tensors through
            the antialiased bilinear filter of :class:`~tinycnn.data.transforms.Resize`).
        antialias: as Resize's (ignored for PIL images, as in torchvision).
    Algorithm (torchvision's ``get_params``): up to 10 tries of an area ``A * U(scale)`` and a ratio
    ``exp(U(log ratio))``, ``w = round(sqrt(area * ratio))``, ``h = round(sqrt(area / ratio))``; the first that
    fits inside the image is placed at a uniform random top-left corner. If none fits, the central crop of the
    largest window whose ratio lies within ``ratio`` (the whole image when its own ratio does). The draws are
    NumPy's (see the transforms module docstring), so the windows differ from torchvision's for the same seed.
    Raises NotImplementedError for another interpolation, ValueError for a bad size; warns (as torchvision) when
    scale or ratio is not (min, max).
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias: bool = True):
        if str(getattr(interpolation, "value", interpolation)).lower() not in ("bilinear", "2"):
            raise NotImplementedError(f"RandomResizedCrop: only bilinear interpolation is supported, got "
                                      f"{interpolation!r}")
        self.size = _pair(size, "RandomResizedCrop")
        if not isinstance(scale, (tuple, list)) or not isinstance(ratio, (tuple, list)) or \
                len(scale) != 2 or len(ratio) != 2:
            raise TypeError("Scale and ratio should be sequences of two numbers (min, max)")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            warnings.warn("Scale and ratio should be of kind (min, max)", UserWarning, stacklevel=2)
        self.scale, self.ratio = (float(scale[0]), float(scale[1])), (float(ratio[0]), float(ratio[1]))
        self.antialias = bool(antialias)

    @staticmethod
    def get_params(height: int, width: int, scale, ratio, rng) -> tuple[int, int, int, int]:
        """(top, left, h, w) of the window for an image ``height`` x ``width`` (torchvision's get_params, which
        takes the image itself)."""
        area = height * width
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * float(rng.uniform(scale[0], scale[1]))
            aspect_ratio = math.exp(float(rng.uniform(log_ratio[0], log_ratio[1])))
            w = int(round(math.sqrt(target_area * aspect_ratio)))
            h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                return top, left, h, w
        in_ratio = width / height  # fall back to a central crop
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        height, width = _image.size_of(img)
        top, left, h, w = self.get_params(height, width, self.scale, self.ratio, _rng.current())
        window = _image.crop(img, top, left, h, w)
        if (h, w) == self.size:
            return window
        return _image.resize(window, self.size, self.antialias)

    def _batch(self, images, rng, owned):
        x = np.asarray(images)
        height, width = x.shape[-2:]
        out = np.empty(x.shape[:-2] + self.size, dtype=x.dtype if x.dtype.kind in "uif" else np.float32)
        for k in range(len(x)):  # each image its own window: one resize each
            top, left, h, w = self.get_params(height, width, self.scale, self.ratio, rng)
            window = x[k, ..., top:top + h, left:left + w]
            out[k] = window if (h, w) == self.size else _image.resize_array(
                window, window.ndim - 2, window.ndim - 1, self.size, self.antialias)
        return out, True

    def __repr__(self):
        return (f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={tuple(round(r, 4) for r in self.ratio)},"
                f" interpolation=bilinear, antialias={self.antialias})")
