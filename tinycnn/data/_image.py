"""The pixel operations behind :mod:`tinycnn.data.transforms`, for the three kinds of image they take.

- a PIL image: Pillow's own methods, as torchvision's PIL path calls them (``img.crop``, ``img.transpose``,
  ``ImageOps.expand``, ``img.resize(..., BILINEAR)``), so results are Pillow's exactly;
- a NumPy array in torchvision's layout for arrays (what ``ToTensor`` reads): (H, W) or (H, W, C);
- a Tensor, or a batch array in the DataLoader's layout: (..., H, W), the last two axes (torchvision's rule for
  tensors: (C, H, W) or (N, C, H, W)).

Arrays and Tensors go through NumPy on the CPU; a Tensor comes back as a new Tensor (no autograd through data
augmentation).

Also the transforms' size and padding arguments read by torchvision's rules (``pair``, ``ltrb``, ``resized_size``).
"""
from __future__ import annotations

import numbers
import sys

import numpy as np

from ..tensor import Tensor

PIL_EXTRA = "pip install 'tinycnn[images]'"


def pil_image_module():
    """``PIL.Image``, or ImportError naming the extra that installs Pillow."""
    try:
        from PIL import Image  # noqa: PLC0415
    except ImportError:
        raise ImportError(f"reading and transforming PIL images needs Pillow, which is not installed: {PIL_EXTRA} "
                          "(or pip install Pillow)") from None
    return Image


def is_pil(img) -> bool:
    """Whether ``img`` is a PIL image, without importing Pillow (if it is not imported, no PIL image exists)."""
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(img, module.Image)


def spatial_axes(img) -> tuple[np.ndarray, int, int, bool]:
    """(array, height axis, width axis, is_tensor) of an array or Tensor image; TypeError for anything else."""
    if isinstance(img, Tensor):
        data = np.asarray(img.numpy())
        if data.ndim < 2:
            raise ValueError(f"expected a Tensor image (..., H, W), got shape {tuple(data.shape)}")
        return data, data.ndim - 2, data.ndim - 1, True
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"expected an image array (H, W) or (H, W, C), got shape {img.shape}")
        return img, 0, 1, False
    raise TypeError(f"img should be a PIL image, a NumPy array (H, W[, C]) or a Tensor (..., H, W); got "
                    f"{type(img).__name__}")


def size_of(img) -> tuple[int, int]:
    """(height, width) of any kind of image."""
    if is_pil(img):
        return img.size[1], img.size[0]
    data, h, w, _ = spatial_axes(img)
    return data.shape[h], data.shape[w]


def _wrap(out: np.ndarray, is_tensor: bool):
    return Tensor(np.ascontiguousarray(out)) if is_tensor else out


_NUMPY_MODES = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def pad_array(data: np.ndarray, h: int, w: int, ltrb, fill=0, mode: str = "constant") -> np.ndarray:
    """Pad the axes ``h`` and ``w`` of ``data`` by (left, top, right, bottom)."""
    left, top, right, bottom = ltrb
    widths = [(0, 0)] * data.ndim
    widths[h], widths[w] = (top, bottom), (left, right)
    if mode == "constant":
        if not isinstance(fill, (int, float, np.integer, np.floating)):
            raise TypeError(f"fill must be a number for arrays and Tensors, got {fill!r}")
        return np.pad(data, widths, mode="constant", constant_values=fill)
    return np.pad(data, widths, mode=_NUMPY_MODES[mode])


def pad(img, ltrb, fill=0, mode: str = "constant"):
    """``torchvision.transforms.functional.pad`` with the padding already as (left, top, right, bottom)."""
    if is_pil(img):
        if mode == "constant":
            from PIL import ImageOps  # noqa: PLC0415

            palette = img.getpalette() if img.mode == "P" else None
            out = ImageOps.expand(img, border=tuple(ltrb), fill=fill)
            if palette is not None:
                out.putpalette(palette)
            return out
        Image = pil_image_module()  # noqa: N806
        out = Image.fromarray(pad_array(np.asarray(img), 0, 1, ltrb, mode=mode))
        return out
    data, h, w, is_tensor = spatial_axes(img)
    return _wrap(pad_array(data, h, w, ltrb, fill, mode), is_tensor)


def crop(img, top: int, left: int, height: int, width: int):
    """The window of ``height`` x ``width`` at (top, left); parts outside the image are zeros (torchvision's crop)."""
    if is_pil(img):
        return img.crop((left, top, left + width, top + height))
    data, h, w, is_tensor = spatial_axes(img)
    H, W = data.shape[h], data.shape[w]  # noqa: N806
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > W or bottom > H:
        ltrb = (max(-left, 0), max(-top, 0), max(right - W, 0), max(bottom - H, 0))
        data = pad_array(data, h, w, ltrb)
        top, left = top + ltrb[1], left + ltrb[0]
    index = [slice(None)] * data.ndim
    index[h], index[w] = slice(top, top + height), slice(left, left + width)
    return _wrap(data[tuple(index)], is_tensor)


def hflip(img):
    """Mirror left-right."""
    if is_pil(img):
        Image = pil_image_module()  # noqa: N806
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    data, _, w, is_tensor = spatial_axes(img)
    return _wrap(np.flip(data, axis=w), is_tensor)


# --- resizing ---------------------------------------------------------------------------------------------

def _triangle_weights(in_size: int, out_size: int, antialias: bool) -> np.ndarray:
    """(out_size, in_size) matrix of the bilinear ("triangle") filter, as Pillow's resampling builds it and torch's
    ``interpolate(mode="bilinear", align_corners=False, antialias=...)`` computes it: output pixel i is centred at
    (i + 0.5) * scale in the input; with antialiasing a downscale widens the filter by the scale (support =
    scale), so every input pixel contributes; the weights of each row are normalized to sum 1."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0) if antialias else 1.0
    support = 1.0 * filterscale
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        x = (np.arange(lo, hi) - center + 0.5) / filterscale
        wi = np.clip(1.0 - np.abs(x), 0.0, None)
        total = wi.sum()
        weights[i, lo:hi] = wi / total if total else wi
    return weights


def resize_array(data: np.ndarray, h: int, w: int, size, antialias: bool = True) -> np.ndarray:
    """Bilinear resize of axes ``h``, ``w`` to ``size`` = (height, width): separable weight matrices applied in
    float64 (the input's float dtype kept; integer input rounded half to even, clipped to its range and cast back,
    as torchvision's tensor path does)."""
    new_h, new_w = size
    out = np.asarray(data, dtype=np.float64)
    if out.shape[w] != new_w:
        out = np.moveaxis(np.tensordot(out, _triangle_weights(out.shape[w], new_w, antialias), axes=([w], [1])),
                          -1, w)
    if out.shape[h] != new_h:
        out = np.moveaxis(np.tensordot(out, _triangle_weights(out.shape[h], new_h, antialias), axes=([h], [1])),
                          -1, h)
    if data.dtype.kind in "ui":
        info = np.iinfo(data.dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(data.dtype)
    return out.astype(data.dtype if data.dtype.kind == "f" else np.float32)


def resize(img, size, antialias: bool = True):
    """Resize to ``size`` = (height, width): Pillow's BILINEAR filter for a PIL image (torchvision's PIL path,
    always antialiased), :func:`resize_array` for arrays and Tensors."""
    if is_pil(img):
        Image = pil_image_module()  # noqa: N806
        return img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    data, h, w, is_tensor = spatial_axes(img)
    return _wrap(resize_array(data, h, w, size, antialias), is_tensor)


def pair(size, name: str) -> tuple[int, int]:
    """torchvision's _setup_size: an int, or a sequence of 1 or 2 ints, as (height, width)."""
    if isinstance(size, numbers.Number) and not isinstance(size, bool):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) in (1, 2):
        return (int(size[0]), int(size[0])) if len(size) == 1 else (int(size[0]), int(size[1]))
    raise ValueError(f"{name}: please provide only two dimensions (h, w) for size, got {size!r}")


def ltrb(padding) -> tuple[int, int, int, int]:
    """torchvision's padding: an int (all sides), (left/right, top/bottom), or (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number) and not isinstance(padding, bool):
        p = int(padding)
        return p, p, p, p
    if isinstance(padding, (tuple, list)) and len(padding) in (1, 2, 4):
        if len(padding) == 1:
            return (int(padding[0]),) * 4
        if len(padding) == 2:
            return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
        return tuple(int(p) for p in padding)
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not {padding!r}")


def resized_size(height: int, width: int, size, max_size=None) -> tuple[int, int]:
    """torchvision's output size of Resize: (h, w) as given, or an int / [int] matching the shorter side, the
    longer side scaled and truncated (``int(size * long / short)``), both capped by ``max_size``."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        if max_size is not None:
            raise ValueError("max_size should only be passed if size specifies the length of the smaller edge")
        return int(size[0]), int(size[1])
    requested = int(size[0] if isinstance(size, (tuple, list)) else size)
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = requested, int(requested * long / short)
    if max_size is not None:
        if max_size <= requested:
            raise ValueError(f"max_size = {max_size} must be strictly greater than the requested size for the "
                             f"smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    return new_h, new_w
