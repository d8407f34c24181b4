"""In-place ops (``add_``, ``zero_``, ``copy_``, ``x += 1``, ``x[i] = v`` ...) with PyTorch's rules.

* They write into the tensor's own array, so every name and view that shares it sees the change (a hand-written
  ``p -= lr * p.grad`` under ``no_grad`` updates the weights; before, Python rebound the loop variable).
* Under ``no_grad``, or on a tensor outside any graph, they just write. On a leaf that requires grad, with grad
  mode on, they raise PyTorch's RuntimeError (its gradient would refer to values that no longer exist).
* Inside a graph (the tensor, or the value written, requires grad) the op is recorded as its out-of-place twin and
  the tensor is rebased onto it (its ``grad_fn`` becomes the op), as PyTorch does. Arrays the new op saved from the
  tensor are copied first (PyTorch saves the original self too). Differences from PyTorch, each a clear error:
  an in-place op inside a graph on a view of another tensor raises NotImplementedError (PyTorch rebases the base's
  graph), and a view taken before such an op raises in backward (``autograd.mark_modified``).
* Every in-place op marks the array's storage as modified: a backward that needs values saved before the change
  raises PyTorch's "modified by an inplace operation" error instead of computing a wrong gradient.
* The result's dtype must be castable to the tensor's (``int_tensor += 1.5`` raises, ``float32 += float64``
  writes float32), and its shape must be the tensor's (``x.add_(y)`` cannot broadcast x).
"""
from __future__ import annotations

import numbers

from .. import backend
from .. import tensor as _t
from ..autograd import mark_modified, storage_root
from ..tensor import Function, Tensor, unbroadcast
from ._util import check_tensor
from .cast import as_operand, cast
from .compare import where
from .elementwise import abs, clamp, exp, log, sign, sqrt
from .math import add, div, mul, neg, sub
from .power import floor_divide, pow, remainder

__all__ = ["inplace"]


class Fill(Function):
    """``x`` replaced by ``values`` (a constant or random array of x's shape): no gradient flows back to x."""

    def forward(self, x, values):
        xp = backend.get_array_module(x)
        return xp.broadcast_to(xp.asarray(values, dtype=x.dtype), x.shape).copy()

    def backward(self, g):
        return (backend.get_array_module(g).zeros_like(g),)


class Copy(Function):
    """``x`` replaced by ``src`` (broadcast, cast to x's dtype): the gradient goes to src, none to x."""

    def forward(self, x, src):
        self.src_shape = src.shape
        return backend.get_array_module(x).broadcast_to(src, x.shape).astype(x.dtype)

    def backward(self, g):
        xp = backend.get_array_module(g)
        return xp.zeros_like(g), unbroadcast(g, self.src_shape)


class SetItem(Function):
    """``x`` with ``x[index] = value``: the gradient goes to value at index and to x everywhere else."""

    def forward(self, x, value, index):
        self.index, self.value_shape = index, value.shape
        out = x.copy()
        out[index] = value
        return out

    def backward(self, g):
        dx = g.copy()
        dx[self.index] = 0
        dv = None
        if self.needs_input_grad[1]:
            dv = g[self.index]
            xp = backend.get_array_module(g)
            dv = unbroadcast(xp.asarray(dv), self.value_shape) if dv.shape != self.value_shape else dv
        return dx, dv


def _preserve_saved(node, root, depth=0):
    """Copy the arrays of storage ``root`` that the nodes just recorded for an in-place op saved (its operands),
    since the op is about to overwrite them: PyTorch saves the original self for ``x.mul_(y)`` as well."""
    if depth > 3 or not isinstance(node, Function) or node._epoch != _t._epoch:
        return
    for name, value in list(node.__dict__.items()):
        if hasattr(value, "base") and hasattr(value, "shape") and storage_root(value) is root:
            node.__dict__[name] = value.copy()
        elif isinstance(value, tuple) and any(hasattr(v, "shape") and storage_root(v) is root for v in value):
            node.__dict__[name] = tuple(v.copy() if hasattr(v, "shape") and storage_root(v) is root else v
                                        for v in value)
    for parent in node.parents:
        _preserve_saved(parent, root, depth + 1)


def inplace(x: Tensor, name: str, compute, operands=(), direct=None) -> Tensor:
    """Run an in-place op on ``x`` by PyTorch's rules (module docstring) and return x.

    ``compute()`` gives the new value as a Tensor (the out-of-place op, recorded in a graph when one is involved);
    ``operands``: the other Tensors read (to know whether a graph is involved); ``direct()``, if given, writes the
    new values into ``x.data`` itself when no graph is involved (``x[i] = v`` without copying all of x).
    """
    check_tensor("self", x, op=name)
    if x._view == "copy":
        raise RuntimeError(f"{name}: this tensor is a copy that view() had to make (tinycnn keeps conv and pooling "
                           f"outputs in another memory order), so an in-place write would not reach the original "
                           f"as PyTorch's would; use reshape() or clone() explicitly and write to that")
    grad_mode = _t._grad_enabled
    if grad_mode and x.requires_grad and x._ctx is None:
        raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an in-place operation "
                           f"(as PyTorch); do it under tinycnn.no_grad(), or on .data")
    flags = getattr(x._data, "flags", None)
    if flags is not None and hasattr(flags, "writeable") and not flags.writeable:
        raise RuntimeError(f"{name}: unsupported operation: more than one element of the written-to tensor refers to "
                           f"a single memory location (an expand() view); clone() it first")
    tracked = grad_mode and (x.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands))
    if not tracked and direct is not None:
        direct()
        mark_modified(x._data)
        return x
    if tracked:  # a fresh epoch: the nodes compute() records are told apart from older ones (_preserve_saved)
        _t._epoch += 1
    result = compute()
    if result.shape != x.shape:
        raise RuntimeError(f"{name}: output with shape {x.shape} doesn't match the broadcast shape {result.shape}")
    if result.dtype != x.dtype:
        if not backend.can_cast(result.dtype, x.dtype) and name not in ("copy_", "__setitem__"):
            raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to the desired output type "
                               f"{x.dtype}")
        result = cast(result, x.dtype)
    if tracked:
        if x._view:
            raise NotImplementedError(
                f"{name}: an in-place op inside a graph on a view of another tensor is not supported by tinycnn "
                f"(PyTorch rebases the base tensor's graph); use the out-of-place op, or clone() the view first")
        _preserve_saved(result._ctx, storage_root(x._data))
    x._data[...] = result._data
    mark_modified(x._data)
    if tracked:
        x._ctx, x._requires_grad = result._ctx, True
    return x


def _binary_inplace(op, name):
    def method(self, other, *args, **kwargs):
        return inplace(self, name, lambda: op(self, other, *args, **kwargs), (other,))

    method.__name__ = name
    method.__doc__ = f"In place: ``self = {op.__name__}(self, other)`` (``torch.Tensor.{name}``)."
    return method


def _unary_inplace(op, name):
    def method(self, *args, **kwargs):
        return inplace(self, name, lambda: op(self, *args, **kwargs))

    method.__name__ = name
    method.__doc__ = f"In place: ``self = {op.__name__}(self)`` (``torch.Tensor.{name}``)."
    return method


def zero_(x: Tensor) -> Tensor:
    """Fill with zeros in place (``torch.Tensor.zero_``)."""
    return fill_(x, 0)


def fill_(x: Tensor, value) -> Tensor:
    """Fill with ``value`` (a number or a one-element Tensor) in place (``torch.Tensor.fill_``)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"fill_: value must be a number or a one-element Tensor, got shape {value.shape}")
        value = value.item()
    if not isinstance(value, (numbers.Number,)) and not hasattr(value, "dtype"):
        raise TypeError(f"fill_: value must be a number, got {type(value).__name__}")
    return inplace(x, "fill_", lambda: Fill.apply(x, values=value))


def copy_(x: Tensor, src) -> Tensor:
    """Copy ``src`` (a Tensor or an array, broadcast to x's shape, cast to x's dtype) into x (``torch.Tensor.copy_``);
    the gradient flows to src."""
    src = src if isinstance(src, Tensor) else as_operand(src, x, "copy_")
    return inplace(x, "copy_", lambda: Copy.apply(x, src), (src,))


def _random_(name, x, draw) -> Tensor:
    check_tensor("self", x, op=name)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: needs a floating tensor, got {x.dtype}")
    rng = backend.get_rng(backend.get_array_module(x._data))
    return inplace(x, name, lambda: Fill.apply(x, values=draw(rng)))


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with draws from N(mean, std^2), from tinycnn's seeded generator (``manual_seed``; values differ from
    PyTorch's generator)."""
    return _random_("normal_", x, lambda rng: rng.normal(mean, std, x.shape))


def uniform_(x: Tensor, a: float = 0.0, b: float = 1.0, **kwargs) -> Tensor:
    """Fill with draws from U[a, b) (``torch.Tensor.uniform_(from, to)``; the keywords ``from``/``to`` work too), from
    tinycnn's seeded generator."""
    a, b = kwargs.pop("from", a), kwargs.pop("to", b)
    if kwargs:
        raise TypeError(f"uniform_: unexpected keyword arguments {sorted(kwargs)}")
    return _random_("uniform_", x, lambda rng: rng.uniform(a, b, x.shape))


def setitem(x: Tensor, index, value) -> None:
    """``x[index] = value`` in place, with NumPy's (and PyTorch's) indexing; differentiable in x and value."""
    if isinstance(index, Tensor):
        index = index._data
    elif isinstance(index, tuple):
        index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = backend.get_array_module(x._data).asarray(index)
    if isinstance(value, Tensor):
        val = value
    else:
        val = Tensor(backend.get_array_module(x._data).asarray(
            value._data if isinstance(value, Tensor) else value).astype(x.dtype))

    def direct():
        x._data[index] = val._data

    inplace(x, "__setitem__", lambda: SetItem.apply(x, cast(val, x.dtype), index=index), (val,), direct)


def masked_fill(x: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` (a number or a one-element Tensor, cast to x's dtype) where the bool ``mask`` holds, x elsewhere
    (``torch.Tensor.masked_fill``); differentiable in x."""
    check_tensor("self", x, op="masked_fill")
    check_tensor("mask", mask, op="masked_fill")
    if not isinstance(value, Tensor):
        value = Tensor(backend.get_array_module(x._data).asarray(value, dtype=x.dtype))
    return where(mask, cast(value.reshape(()), x.dtype), x)


def _install_methods():
    T = Tensor
    for op, name in ((add, "add_"), (sub, "sub_"), (mul, "mul_"), (div, "div_"), (pow, "pow_"),
                     (floor_divide, "floor_divide_"), (remainder, "remainder_")):
        setattr(T, name, _binary_inplace(op, name))
    T.multiply_, T.divide_, T.true_divide_ = T.mul_, T.div_, T.div_
    for op, name in ((neg, "neg_"), (abs, "abs_"), (sqrt, "sqrt_"), (exp, "exp_"), (log, "log_"),
                     (sign, "sign_"), (clamp, "clamp_")):
        setattr(T, name, _unary_inplace(op, name))
    T.clip_ = T.clamp_
    T.zero_, T.fill_, T.copy_, T.normal_, T.uniform_ = zero_, fill_, copy_, normal_, uniform_
    T.__setitem__ = setitem
    T.masked_fill = masked_fill
    T.masked_fill_ = lambda self, mask, value: inplace(self, "masked_fill_", lambda: masked_fill(self, mask, value),
                                                       (mask, value))
    for dunder, name in (("__iadd__", "add_"), ("__isub__", "sub_"), ("__imul__", "mul_"),
                         ("__itruediv__", "div_"), ("__ifloordiv__", "floor_divide_"), ("__imod__", "remainder_"),
                         ("__ipow__", "pow_")):
        setattr(T, dunder, getattr(T, name))
    from .compare import bitwise_and, bitwise_or, bitwise_xor  # noqa: PLC0415

    for op, name, dunder in ((bitwise_and, "bitwise_and_", "__iand__"), (bitwise_or, "bitwise_or_", "__ior__"),
                             (bitwise_xor, "bitwise_xor_", "__ixor__")):
        setattr(T, name, _binary_inplace(op, name))
        setattr(T, dunder, getattr(T, name))


_install_methods()
