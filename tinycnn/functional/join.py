"""Joining, splitting and padding: ``cat``/``concat``, ``stack``, ``chunk``, ``split`` and ``pad``, with PyTorch's
signatures (``cat`` joins along dim 0 by default; ``pad`` takes ``torch.nn.functional.pad``'s flat tuple)."""
from __future__ import annotations

import numbers

from .. import backend
from ..tensor import Function, Tensor, _dim_index
from ._util import check_tensor, empty_like_layout
from .cast import promote
from .shape import getitem, unsqueeze

__all__ = ["cat", "concat", "stack", "chunk", "split", "pad"]


class Concat(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        self.bounds = []
        start = 0
        for a in arrays:
            self.bounds.append((start, start + a.shape[axis]))
            start += a.shape[axis]
        return backend.get_array_module(*arrays).concatenate(arrays, axis=axis)

    def backward(self, g):
        index = [slice(None)] * g.ndim
        grads = []
        for (lo, hi), needed in zip(self.bounds, self.needs_input_grad):
            index[self.axis] = slice(lo, hi)
            grads.append(g[tuple(index)] if needed else None)
        return tuple(grads)


class Pad(Function):
    """Constant padding by (before, after) per dimension; a negative width crops, as PyTorch's. The gradient takes
    back the part of the output that came from x."""

    def forward(self, x, widths, value):
        xp = backend.get_array_module(x)
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, widths))
        self.shape = x.shape
        self.src = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, widths))
        self.dst = tuple(slice(max(lo, 0), max(lo, 0) + s.stop - s.start) for (lo, _), s in zip(widths, self.src))
        out = empty_like_layout(shape, x, fill=value)  # in x's memory order (see empty_like_layout)
        out[self.dst] = x[self.src]
        return out

    def backward(self, g):
        dx = empty_like_layout(self.shape, g, fill=0)
        dx[self.src] = g[self.dst]
        return (dx,)


def _tensor_list(op, tensors) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: tensors must be a list or tuple of Tensors, got {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: tensors must not be empty")
    for i, t in enumerate(tensors):
        check_tensor(f"tensors[{i}]", t, op=op)
    return tensors


def _dim_arg(op, dim, axis, default):
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both dim and its alias axis")
        return axis
    return default if dim is None else dim


def cat(tensors, dim: int = None, *, axis=None) -> Tensor:
    """Join tensors along an existing dimension ``dim`` (0 by default), as ``torch.cat``; their dtypes are promoted
    to a common one (the gradient comes back in each one's own). ``axis=`` is NumPy's alias for dim.

    Raises ValueError naming the first tensor whose other dimensions differ, IndexError for a dim out of range.
    """
    tensors = _tensor_list("cat", tensors)
    dim = _dim_arg("cat", dim, axis, 0)
    ref = tensors[0]
    if ref.ndim == 0:
        raise ValueError("cat: zero-dimensional tensor (tensors[0]) cannot be concatenated")
    d = _dim_index(dim, ref.ndim, "cat", "dim", ref.shape)
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != ref.ndim or any(a != b for k, (a, b) in enumerate(zip(t.shape, ref.shape)) if k != d):
            raise ValueError(f"cat: tensors[{i}] has shape {t.shape}, which differs from tensors[0]'s {ref.shape} "
                             f"outside dim {d}")
    if any(t.dtype != ref.dtype for t in tensors):
        tensors, _ = promote("cat", *tensors)
    return Concat.apply(*tensors, axis=d)


concat = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dimension ``dim`` (``torch.stack``).

    Raises ValueError naming the first tensor whose shape differs."""
    tensors = _tensor_list("stack", tensors)
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: expects each tensor to be equal size, but got {tensors[0].shape} at entry 0 "
                             f"and {t.shape} at entry {i}")
    d = _dim_index(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def _along(x, d, lo, hi):
    return getitem(x, (slice(None),) * d + (slice(lo, hi),))


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of ``x`` along ``dim`` (``torch.split``): pieces of ``split_size_or_sections`` elements (the last may
    be smaller), or of the sizes in a list (which must add up to the dimension's length).

    Raises ValueError for sizes that do not fit, TypeError for other arguments."""
    check_tensor("x", x, op="split")
    d = _dim_index(dim, x.ndim, "split", "dim", x.shape)
    n = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral) and not isinstance(split_size_or_sections, bool):
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    elif isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"split: split sizes {sizes} must be non-negative and add up to {n} (dim {d} of "
                             f"shape {x.shape})")
    else:
        raise TypeError(f"split: split_size_or_sections must be an int or a list of ints, got "
                        f"{type(split_size_or_sections).__name__}")
    pieces, start = [], 0
    for s in sizes:
        pieces.append(_along(x, d, start, start + s))
        start += s
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    """``x`` split into ``chunks`` views along ``dim`` of ceil(n / chunks) elements each (``torch.chunk``; fewer
    pieces when they run out). Raises ValueError unless chunks is a positive int."""
    check_tensor("x", x, op="chunk")
    if not isinstance(chunks, numbers.Integral) or isinstance(chunks, bool) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    n = x.shape[_dim_index(dim, x.ndim, "chunk", "dim", x.shape)]
    return split(x, max(-(-n // int(chunks)), 1), dim)


def pad(x: Tensor, pad, mode: str = "constant", value=None) -> Tensor:  # noqa: A002
    """Pad ``x`` with a constant, as ``torch.nn.functional.pad``: ``pad`` is a flat tuple of (before, after) pairs
    starting from the LAST dimension: ``(left, right)`` pads the width, ``(left, right, top, bottom)`` width and
    height. A negative width crops. ``value`` defaults to 0.

    Raises ValueError for an odd or too long ``pad`` or a negative resulting size, TypeError for a non-int entry,
    NotImplementedError for ``mode`` "reflect", "replicate" or "circular" (tinycnn pads with a constant only).
    """
    check_tensor("x", x, op="pad")
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported by tinycnn; only 'constant'")
    if not isinstance(pad, (tuple, list)) or not all(isinstance(p, numbers.Integral) and not isinstance(p, bool)
                                                     for p in pad):
        raise TypeError(f"pad: pad must be a flat tuple of ints (left, right, top, bottom, ...) starting from the "
                        f"last dimension, as torch.nn.functional.pad; got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding length should be at most twice the dims ({x.ndim}) of x, got {len(pad)}")
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    for d, ((lo, hi), n) in enumerate(zip(widths, x.shape)):
        if n + min(lo, 0) + min(hi, 0) < 0:
            raise ValueError(f"pad: the padded size of dim {d} would be {n + lo + hi} (shape {x.shape}, pad {pad})")
    return Pad.apply(x, widths=tuple(widths), value=0 if value is None else value)


def _install_methods():
    Tensor.chunk = chunk
    Tensor.split = split


_install_methods()
