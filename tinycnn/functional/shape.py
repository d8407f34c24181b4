"""Ops that move values without arithmetic, with PyTorch's signatures: reshape/view, transpose/permute, flatten,
squeeze/unsqueeze, expand, repeat, indexing, clone.

PyTorch's meanings win where NumPy's differ: ``transpose(d0, d1)`` swaps two dimensions (NumPy's permutes; that is
``permute``), ``flatten()`` flattens every dimension (``nn.Flatten`` keeps the batch: start_dim=1), ``repeat`` tiles
(NumPy's ``repeat`` repeats elements). Views (reshape when possible, view, transpose, permute, squeeze, unsqueeze,
expand, basic indexing) share the input's memory, as PyTorch's do.
"""
from __future__ import annotations

import numbers
import warnings

from .. import backend
from ..tensor import Function, Tensor, ViewFunction, _dim_index, unbroadcast
from ._util import check_tensor, empty_like_layout

__all__ = ["reshape", "view", "transpose", "permute", "flatten", "squeeze", "unsqueeze", "expand", "repeat",
           "getitem", "clone", "contiguous"]


class Reshape(ViewFunction):
    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.shape),)


class Permute(ViewFunction):
    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, g):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return (g.transpose(inverse),)


class Expand(ViewFunction):
    """A broadcast view (read-only: written to, it would change several elements at once); the gradient sums over
    the expanded dimensions."""

    def forward(self, x, shape):
        self.shape = x.shape
        return backend.get_array_module(x).broadcast_to(x, shape)

    def backward(self, g):
        return (unbroadcast(g, self.shape),)


class Repeat(Function):
    """``x`` tiled ``repeats`` times along each dimension (``torch.Tensor.repeat``, NumPy's ``tile``); the gradient
    adds the tiles up."""

    def forward(self, x, repeats):
        self.input_shape = x.shape
        self.shape = (1,) * (len(repeats) - x.ndim) + x.shape
        self.repeats = repeats
        return backend.get_array_module(x).tile(x.reshape(self.shape), repeats)

    def backward(self, g):
        split = []
        for r, n in zip(self.repeats, self.shape):
            split += [r, n]
        summed = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return (summed.reshape(self.input_shape),)


class GetItem(Function):
    """``x[index]`` for advanced NumPy indices (a copy); repeated indices add up in the gradient."""

    def forward(self, x, index):
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g):
        xp = backend.get_array_module(g)
        dx = xp.zeros(self.shape, dtype=g.dtype)
        if backend.is_cupy_array(g):  # CuPy's scatter-add (atomic adds on the GPU), beside NumPy's add.at
            import cupyx  # noqa: PLC0415

            cupyx.scatter_add(dx, self.index, g)
        else:
            xp.add.at(dx, self.index, g)  # ``dx[idx] += g`` would add a repeated index once (PITFALLS P01)
        return (dx,)


class GetItemView(ViewFunction):
    """``x[index]`` for basic indices (ints, slices, None, ...): a view; slices never repeat an element."""

    def forward(self, x, index):
        self.shape, self.index = x.shape, index
        items = index if isinstance(index, tuple) else (index,)
        if not any(i is Ellipsis for i in items):  # x[0] of a 1-D array would be a NumPy scalar, a copy
            items += (Ellipsis,)
        return x[items]

    def backward(self, g):
        if g.ndim == len(self.shape):  # slices only: dx in g's memory order (see empty_like_layout)
            dx = empty_like_layout(self.shape, g, fill=0)
        else:
            dx = backend.get_array_module(g).zeros(self.shape, dtype=g.dtype)
        dx[self.index] = g
        return (dx,)


class Clone(Function):
    """A copy (``order``: "K" keeps the memory order, as ``torch.clone``; "C" is ``contiguous()``)."""

    def forward(self, x, order):
        return x.copy(order=order)

    def backward(self, g):
        return (g,)


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all((isinstance(i, (slice, numbers.Integral)) and not isinstance(i, bool)) or i is None or i is Ellipsis
               for i in items)


def _sizes(op, sizes) -> tuple:
    """PyTorch's size arguments: ``f(2, 3)`` or ``f((2, 3))`` / ``f([2, 3])``, as a tuple of ints."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    for s in sizes:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool):
            raise TypeError(f"{op}: sizes must be ints, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def _new_shape(op, x, shape) -> tuple:
    known, unknown = 1, shape.count(-1)
    for n in shape:
        known *= n if n != -1 else 1
    count = x.numel()
    fits = (unknown == 0 and known == count) or (unknown == 1 and known > 0 and count % known == 0)
    if unknown > 1 or any(n < -1 for n in shape) or not fits:
        raise ValueError(f"{op}: cannot reshape x of shape {x.shape} ({count} elements) into {shape}")
    return tuple(count // known if n == -1 else n for n in shape)


def reshape(x: Tensor, *shape) -> Tensor:
    """``x`` with a new shape of as many elements (one size may be -1), as ``torch.reshape``: a view when the
    memory allows, else a copy. ``reshape(x, 2, 3)`` or ``reshape(x, (2, 3))``.

    Raises ValueError naming both shapes when the sizes differ.
    """
    check_tensor("x", x, op="reshape")
    return Reshape.apply(x, shape=_new_shape("reshape", x, _sizes("reshape", shape)))


def view(x: Tensor, *shape) -> Tensor:
    """``torch.Tensor.view``: ``x`` with a new shape, sharing its memory (writes through either are seen by both).

    Difference from PyTorch: tinycnn keeps some outputs in another memory order (conv and pooling outputs lie
    (C, H, W, N) in memory behind their NCHW shape), so a view that PyTorch makes of its contiguous output may need a
    copy here. Then ``view`` returns that copy and marks it: an in-place op on it raises (it would not reach the
    original), instead of silently writing elsewhere. Raises ValueError when the sizes differ; TypeError for
    ``view(dtype)``, which tinycnn does not support.
    """
    check_tensor("x", x, op="view")
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, numbers.Integral)):
        raise TypeError(f"view: only shapes are supported (view(dtype) is not), got {shape[0]!r}")
    out = reshape(x, *shape)
    if out._view is not True:
        out._view = "copy"
    return out


def _dims(op, x, dims) -> tuple:
    dims = _sizes(op, dims)
    n = x.ndim
    if len(dims) != n or any(not -max(n, 1) <= d < max(n, 1) for d in dims) or len({d % max(n, 1) for d in dims}) != n:
        raise ValueError(f"{op}: dims must be a permutation of the {n} dimensions of x of shape {x.shape}, "
                         f"got {dims}")
    return tuple(d % n for d in dims)


def permute(x: Tensor, *dims) -> Tensor:
    """``x`` with its dimensions reordered: dimension i of the result is ``dims[i]`` of x (``torch.permute``,
    NumPy's ``transpose(axes)``). ``permute(2, 0, 1)`` or ``permute((2, 0, 1))``; a view.

    Raises ValueError unless ``dims`` is a permutation of x's dimensions.
    """
    check_tensor("x", x, op="permute")
    return Permute.apply(x, dims=_dims("permute", x, dims))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """``x`` with dimensions ``dim0`` and ``dim1`` swapped (``torch.transpose``); a view. For NumPy's
    ``transpose(axes)`` (a whole permutation) use ``permute``.

    Raises IndexError for a dimension out of range, TypeError for a missing or non-int dim.
    """
    check_tensor("x", x, op="transpose")
    if x.ndim == 0:
        return x
    d0 = _dim_index(dim0, x.ndim, "transpose", "dim0", x.shape)
    d1 = _dim_index(dim1, x.ndim, "transpose", "dim1", x.shape)
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = d1, d0
    return Permute.apply(x, dims=tuple(dims))


def _T(x: Tensor) -> Tensor:
    """``x.T``: the transpose of a 2-D tensor; x itself for fewer dims; more dims are reversed with PyTorch's
    deprecation warning (use ``permute`` or ``mT``)."""
    if x.ndim > 2:
        warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated "
                      "(as in PyTorch); use x.permute(*torch.arange(x.ndim - 1, -1, -1)) or x.mT", UserWarning,
                      stacklevel=2)
    return x if x.ndim < 2 else Permute.apply(x, dims=tuple(reversed(range(x.ndim))))


def t(x: Tensor) -> Tensor:
    """``torch.t``: the transpose of a tensor of at most 2 dims. Raises ValueError for more."""
    check_tensor("x", x, op="t")
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return _T(x)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one (``torch.flatten``). The default flattens everything, as
    PyTorch's; ``nn.Flatten()`` keeps the batch (start_dim=1). A 0-d tensor becomes shape (1,).

    Raises IndexError for a dim out of range, ValueError when start_dim comes after end_dim.
    """
    check_tensor("x", x, op="flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    start = _dim_index(start_dim, x.ndim, "flatten", "start_dim", x.shape)
    end = _dim_index(end_dim, x.ndim, "flatten", "end_dim", x.shape)
    if start > end:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim}) "
                         f"for shape {x.shape}")
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Remove dimensions of length 1 (``torch.squeeze``): all of them, or those in ``dim`` (an int or a tuple)
    that have length 1 (others are left, as PyTorch). A view."""
    check_tensor("x", x, op="squeeze")
    if dim is None:
        dims = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        dims = {_dim_index(d, x.ndim, "squeeze", "dim", x.shape)
                for d in ((dim,) if isinstance(dim, numbers.Integral) else dim)}
        dims = {d for d in dims if x.ndim and x.shape[d] == 1}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in dims))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dimension of length 1 at ``dim`` (``torch.unsqueeze``; -1 appends). A view.

    Raises IndexError for dim outside [-ndim-1, ndim]."""
    check_tensor("x", x, op="unsqueeze")
    d = _dim_index(dim, x.ndim + 1, "unsqueeze", "dim", x.shape)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def expand(x: Tensor, *sizes) -> Tensor:
    """``x`` broadcast to ``sizes`` without copying (``torch.Tensor.expand``): -1 keeps a size, new dimensions may be
    added in front, only length-1 dimensions may grow. The result is read-only (an in-place op on it raises).

    Raises ValueError naming the dimension that cannot be expanded.
    """
    check_tensor("x", x, op="expand")
    sizes = _sizes("expand", sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least x's dims ({x.ndim})")
    lead = len(sizes) - x.ndim
    shape = []
    for i, s in enumerate(sizes):
        old = x.shape[i - lead] if i >= lead else None
        if s == -1:
            if old is None:
                raise ValueError(f"expand: -1 is not allowed for a new leading dimension ({i})")
            s = old
        if old is not None and old != s and old != 1:
            raise ValueError(f"expand: the expanded size of the tensor ({s}) must match the existing size ({old}) "
                             f"at non-singleton dimension {i}; target sizes {sizes}, shape {x.shape}")
        shape.append(s)
    return Expand.apply(x, shape=tuple(shape))


def repeat(x: Tensor, *repeats) -> Tensor:
    """``x`` tiled ``repeats[i]`` times along dimension i (``torch.Tensor.repeat``; NumPy's ``tile``, not its
    ``repeat``). More repeats than dims add leading dimensions. A copy.

    Raises ValueError for fewer repeats than dims or a negative repeat."""
    check_tensor("x", x, op="repeat")
    repeats = _sizes("repeat", repeats)
    if len(repeats) < x.ndim or any(r < 0 for r in repeats):
        raise ValueError(f"repeat: need one non-negative repeat per dimension of shape {x.shape} (or more), "
                         f"got {repeats}")
    return Repeat.apply(x, repeats=repeats)


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with NumPy's indexing rules (as PyTorch's): a view for ints, slices, None and ``...``, a copy
    for index arrays and bool masks (repeated indices add up in the gradient); differentiable."""
    check_tensor("x", x, op="getitem")
    if isinstance(index, Tensor):
        index = index._data
    elif isinstance(index, tuple):
        index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):  # t[[0, 2]]: an index array, as PyTorch
        index = backend.get_array_module(x._data).asarray(index)
    if _is_basic(index):
        return GetItemView.apply(x, index=index)
    return GetItem.apply(x, index=index)


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` in the same memory order (``torch.clone``); differentiable (the gradient passes through)."""
    return Clone.apply(check_tensor("x", x, op="clone"), order="K")


def contiguous(x: Tensor) -> Tensor:
    """``x`` itself when its memory is C-ordered (row-major), else a C-ordered copy (``torch.Tensor.contiguous``)."""
    check_tensor("x", x, op="contiguous")
    return x if x._data.flags.c_contiguous else Clone.apply(x, order="C")


def _install_methods():
    T = Tensor
    T.reshape, T.view, T.permute, T.transpose, T.flatten = reshape, view, permute, transpose, flatten
    T.squeeze, T.unsqueeze, T.expand, T.repeat, T.t = squeeze, unsqueeze, expand, repeat, t
    T.__getitem__ = getitem
    T.clone, T.contiguous = clone, contiguous
    T.is_contiguous = lambda self: bool(self._data.flags.c_contiguous)
    T.T = property(_T)
    T.mT = property(lambda self: transpose(self, -2, -1))
    T.view_as = lambda self, other: view(self, check_tensor("other", other, op="view_as").shape)
    T.reshape_as = lambda self, other: reshape(self, check_tensor("other", other, op="reshape_as").shape)
    T.expand_as = lambda self, other: expand(self, check_tensor("other", other, op="expand_as").shape)
    T.swapaxes = T.swapdims = transpose


_install_methods()
