"""Ops that move values without arithmetic: reshape, transpose, flatten, concat, pad and indexing."""
from __future__ import annotations

import numbers

from .. import backend
from ..tensor import Function, Tensor
from ._util import check_same_dtype, check_tensor

__all__ = ["reshape", "transpose", "flatten", "concat", "pad", "getitem"]


class Reshape(Function):
    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.shape),)


class Transpose(Function):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return (g.transpose(inverse),)


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
    """Constant padding, ``numpy.pad(x, pad_width, constant_values=value)``; the gradient crops it away."""

    def forward(self, x, pad_width, value=0.0):
        self.crop = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape))
        return backend.get_array_module(x).pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g):
        return (g[self.crop],)


class GetItem(Function):
    """``x[index]`` for basic or advanced NumPy indices; repeated indices add up in the gradient."""

    def forward(self, x, index):
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g):
        xp = backend.get_array_module(g)
        dx = xp.zeros(self.shape, dtype=g.dtype)
        if _is_basic(self.index):
            dx[self.index] = g  # basic slices never repeat an element
        elif backend.is_cupy_array(g):  # CuPy's scatter-add (atomic adds on the GPU), beside NumPy's add.at
            import cupyx  # noqa: PLC0415

            cupyx.scatter_add(dx, self.index, g)
        else:
            xp.add.at(dx, self.index, g)  # ``dx[idx] += g`` would add a repeated index once (PITFALLS P01)
        return (dx,)


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (slice, numbers.Integral)) or i is None or i is Ellipsis for i in items)


def reshape(x: Tensor, *shape) -> Tensor:
    """``x`` with a new shape holding the same number of elements (one dimension may be -1), as ``torch.reshape``.

    Raises ValueError naming both shapes when the sizes differ.
    """
    check_tensor("x", x, op="reshape")
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(n) for n in shape)
    known = 1
    for n in shape:
        known *= n if n != -1 else 1
    unknown = shape.count(-1)
    fits = (unknown == 0 and known == x.size) or (unknown == 1 and known > 0 and x.size % known == 0)
    if unknown > 1 or any(n < -1 for n in shape) or not fits:
        raise ValueError(f"reshape: cannot reshape x of shape {x.shape} ({x.size} elements) into {shape}")
    return Reshape.apply(x, shape=shape)


def transpose(x: Tensor, *axes) -> Tensor:
    """Permute the axes of ``x`` (``numpy.transpose``; no axes reverses them). Raises ValueError for a bad permutation."""
    check_tensor("x", x, op="transpose")
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(int(a) + x.ndim if int(a) < 0 else int(a) for a in axes)  # -1 is the last axis; no wrapping
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes must be a permutation of 0..{x.ndim - 1} for shape {x.shape}, got {axes}")
    return Transpose.apply(x, axes=axes)


def flatten(x: Tensor, start_axis: int = 1, end_axis: int = -1) -> Tensor:
    """Merge axes ``start_axis..end_axis`` into one (``torch.flatten``; default keeps the batch axis: (N, *) -> (N, -1))."""
    check_tensor("x", x, op="flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    for name, a in (("start_axis", start_axis), ("end_axis", end_axis)):
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"flatten: {name} {a} is out of range for x of shape {x.shape}")
    start, end = start_axis % x.ndim, end_axis % x.ndim
    if start > end:
        raise ValueError(f"flatten: start_axis ({start_axis}) must not come after end_axis ({end_axis}) "
                         f"for shape {x.shape}")
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def concat(tensors, axis: int = 1) -> Tensor:
    """Join tensors along ``axis`` (channels by default: the Inception module), as ``torch.cat``.

    Raises ValueError naming the first tensor whose other dimensions differ; TypeError for mixed dtypes.
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concat: tensors must not be empty")
    for i, t in enumerate(tensors):
        check_tensor(f"tensors[{i}]", t, op="concat")
    ref = tensors[0]
    if not -ref.ndim <= axis < ref.ndim:
        raise ValueError(f"concat: axis {axis} is out of range for tensors[0] of shape {ref.shape}")
    axis = axis % ref.ndim
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != ref.ndim or any(a != b for d, (a, b) in enumerate(zip(t.shape, ref.shape)) if d != axis):
            raise ValueError(f"concat: tensors[{i}] has shape {t.shape}, which differs from tensors[0]'s "
                             f"{ref.shape} outside axis {axis}")
    check_same_dtype("concat", **{f"tensors[{i}]": t for i, t in enumerate(tensors)})
    return Concat.apply(*tensors, axis=axis)


def pad(x: Tensor, pad_width, value: float = 0.0) -> Tensor:
    """Pad ``x`` with a constant: ``pad_width`` is NumPy's ((before, after), ...) per axis.

    Raises ValueError when ``pad_width`` does not give one non-negative pair per axis.
    """
    check_tensor("x", x, op="pad")
    pad_width = tuple((int(lo), int(hi)) for lo, hi in pad_width)
    if len(pad_width) != x.ndim or any(lo < 0 or hi < 0 for lo, hi in pad_width):
        raise ValueError(f"pad: pad_width must be {x.ndim} non-negative (before, after) pairs, got {pad_width}")
    return Pad.apply(x, pad_width=pad_width, value=value)


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with NumPy's indexing rules; differentiable."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return GetItem.apply(check_tensor("x", x, op="getitem"), index=index)


def _install_methods():
    Tensor.reshape = reshape
    Tensor.transpose = transpose
    Tensor.flatten = flatten
    Tensor.__getitem__ = getitem
    Tensor.T = property(lambda self: transpose(self))


_install_methods()
