"""The backward engine (``backward``, ``grad``), grad modes, tensor hooks and the in-place check.

``loss.backward()`` walks the graph recorded by ``Function.apply`` (functions and the leaf tensors that require
grad) from the loss back to the leaves in reverse topological order, calling each function's ``backward`` once
with the summed gradient of its output, running the tensors' hooks on the way, and accumulating into the leaves'
``.grad`` in place (PyTorch's ``AccumulateGrad``: a saved reference to ``x.grad`` sees later accumulation).
``tinycnn.autograd.grad`` returns the gradients instead of accumulating them (``torch.autograd.grad``).
"""
from __future__ import annotations

import itertools
import sys
import weakref

import numpy as np

from . import backend
from . import tensor as _t
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .tensor import Function, Tensor

__all__ = ["backward", "grad", "no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled",
           "RemovableHandle", "mark_modified", "storage_root"]


# ----- the in-place check: PyTorch's version counter, per storage -----
# Every in-place op on a Tensor (``add_``, ``x += 1``, ``x[i] = v`` ...) stamps the array's storage (the root of its
# ``.base`` chain, so views share it) with a new epoch (tensor._epoch); every recorded node keeps the epoch at which
# it was recorded. In backward, a node recorded before the latest in-place op checks the arrays it saved for its
# backward: if one of their storages was stamped after the node, its gradient would be computed from overwritten
# values, so it raises PyTorch's error. Nodes never pay for this unless an in-place op happened after them (one
# compare). Changes made through ``.data`` are not seen, as in PyTorch.
_modified: dict = {}  # id(storage root) -> [epoch, weakref to the root or None]


def storage_root(array):
    """The object at the end of ``array``'s ``.base`` chain: what the array's memory belongs to."""
    base = getattr(array, "base", None)
    while base is not None:
        array, base = base, getattr(base, "base", None)
    return array


def mark_modified(array) -> None:
    """Record that ``array``'s storage was changed in place (by an in-place op on a Tensor holding it)."""
    _t._epoch += 1
    root = storage_root(array)
    key = id(root)
    entry = _modified.get(key)
    if entry is not None:
        entry[0] = _t._epoch
        return
    try:  # forget the storage when it is freed: its id may be reused
        ref = weakref.ref(root, lambda _, key=key: _modified.pop(key, None))
    except TypeError:
        ref = None
    _modified[key] = [_t._epoch, ref]


def _saved_arrays(value, depth=0):
    if isinstance(value, np.ndarray) or backend.is_cupy_array(value):
        yield value
    elif depth < 2 and isinstance(value, (tuple, list)):
        for v in value:
            yield from _saved_arrays(v, depth + 1)
    elif depth < 2 and isinstance(value, dict):
        for v in value.values():
            yield from _saved_arrays(v, depth + 1)


def _check_saved(node) -> None:
    """Raise if an array that ``node`` saved for its backward (or, for a view, the storage it views) was modified
    in place after ``node`` was recorded."""
    recorded = node._epoch
    root_id = node.__dict__.get("_root_id")
    if root_id is not None:
        entry = _modified.get(root_id)
        if entry is not None and entry[0] > recorded:
            raise RuntimeError(
                f"a tensor was modified by an inplace operation after {node.name()} took a view of it: PyTorch "
                f"replays the view, tinycnn does not; take the view after the in-place op, or use an out-of-place op")
    for name, value in node.__dict__.items():
        for a in _saved_arrays(value):
            entry = _modified.get(id(storage_root(a)))
            if entry is not None and entry[0] > recorded:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: an array of shape {tuple(a.shape)} and dtype {a.dtype} that {node.name()} saved "
                    f"({name}) was changed after the op was recorded (PyTorch: 'is at version N; expected version "
                    f"M instead'); clone() it before the in-place op, or use the out-of-place op")


# ----- tensor hooks and retain_grad -----
class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook (``torch.utils.hooks``)."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self.id = next(self._ids)
        self._hooks = hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def register_hook(self, hook) -> RemovableHandle:
    """Call ``hook(grad)`` with this tensor's gradient in each backward (``torch.Tensor.register_hook``); a Tensor
    it returns replaces the gradient (same shape), None keeps it. On a leaf the hooks run before the gradient is
    accumulated into ``.grad``; a retained ``.grad`` sees their result. Returns a handle whose ``remove()``
    unregisters the hook.

    Raises RuntimeError on a tensor that does not require grad, TypeError if ``hook`` is not callable.
    """
    if not callable(hook):
        raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._ctx is None:
        if self._hooks is None:
            self._hooks = {}
        hooks = self._hooks
    else:
        if self._ctx._out_hooks is None:
            self._ctx._out_hooks = {}
        hooks = self._ctx._out_hooks
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def retain_grad(self) -> None:
    """Keep this non-leaf tensor's gradient in ``.grad`` after backward (leaves always do), as
    ``torch.Tensor.retain_grad``; it accumulates over backward calls. Raises RuntimeError if the tensor does not
    require grad."""
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self._ctx is not None:
        self._ctx._retain = weakref.ref(self)


def _retains_grad(self) -> bool:
    retain = None if self._ctx is None else self._ctx._retain
    return retain is not None and retain() is self


def _run_hooks(hooks: dict, g):
    for hook in list(hooks.values()):
        new = hook(Tensor(g))
        if new is None:
            continue
        if not isinstance(new, Tensor):
            raise TypeError(f"a tensor hook must return a Tensor or None, got {type(new).__name__}")
        if new.shape != g.shape:
            raise RuntimeError(f"a tensor hook changed the gradient's shape from {g.shape} to {new.shape}")
        g = new._data.astype(g.dtype, copy=False)
    return g


# ----- the engine -----
def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """Accumulate into the leaves' ``.grad`` the gradient of ``tensors`` (``torch.autograd.backward``).

    Args:
        tensors: a Tensor or a sequence of them (each requires grad).
        grad_tensors: the gradient with respect to each (a Tensor or an array of its shape; cast to its dtype);
            None for a one-element tensor means 1.
        retain_graph: accepted and ignored: tinycnn keeps the graph, so backward may run again through it.
        create_graph: True raises NotImplementedError (no higher-order gradients in tinycnn).
        inputs: optional tensors (leaves or not) that alone accumulate their gradient into ``.grad``.

    Raises:
        RuntimeError: a tensor does not require grad; an array saved for backward was modified in place.
        ValueError: a missing gradient for a tensor of more than one element, or one of the wrong shape.
    """
    roots = _roots("backward", tensors, grad_tensors, create_graph)
    if inputs is None:
        _run(roots)
        return
    inputs = _as_list("backward", "inputs", inputs)
    for t, g in zip(inputs, _run(roots, inputs)):
        if g is not None:
            t.grad = Tensor(g.copy()) if t.grad is None else Tensor(t.grad._data + g)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused=None, materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated (``torch.autograd.grad``).

    Args: as ``backward`` (``grad_outputs`` are its ``grad_tensors``); ``allow_unused``: an input that the outputs
    do not depend on gets None (or zeros with ``materialize_grads=True``) instead of an error.

    Returns a tuple of Tensors, one per input. Raises RuntimeError for an unused input without ``allow_unused``.
    """
    roots = _roots("grad", outputs, grad_outputs, create_graph)
    inputs = _as_list("grad", "inputs", inputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] does not require grad")
    result = []
    for i, (t, g) in enumerate(zip(inputs, _run(roots, inputs))):
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"grad: inputs[{i}] was not used in the graph of the outputs; pass "
                                   f"allow_unused=True to get None for it")
            g = backend.get_array_module(t._data).zeros_like(t._data) if materialize_grads else None
        result.append(None if g is None else Tensor(g))
    return tuple(result)


def _as_list(op, name, value) -> list:
    items = [value] if isinstance(value, Tensor) else list(value)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name}[{i}] must be a Tensor, got {type(t).__name__}")
    return items


def _roots(op, tensors, grads, create_graph) -> list:
    if create_graph:
        raise NotImplementedError(f"{op}: create_graph=True (gradients of gradients) is not supported by tinycnn")
    tensors = _as_list(op, "tensors", tensors)
    grads = [None] * len(tensors) if grads is None else ([grads] if isinstance(grads, Tensor) else list(grads))
    if len(grads) != len(tensors):
        raise ValueError(f"{op}: got {len(grads)} gradients for {len(tensors)} tensors")
    roots = []
    for t, g in zip(tensors, grads):
        if not t.requires_grad:
            raise RuntimeError("backward() called on a tensor that does not require grad (did you use no_grad?)")
        xp = backend.get_array_module(t._data)
        if g is None:
            if t._data.size != 1:
                raise ValueError(f"backward() without a gradient needs a one-element tensor, got shape {t.shape}")
            g = xp.ones_like(t._data)
        else:
            g = xp.asarray(g._data if isinstance(g, Tensor) else g).astype(t.dtype, copy=False)
            if g.shape != t.shape:
                raise ValueError(f"the gradient must have shape {t.shape}, got {g.shape}")
        roots.append((t, g))
    return roots


def _run(roots, capture=None):
    """Walk the graph from ``roots`` ((tensor, gradient array) pairs). Without ``capture``, accumulate into the
    leaves' ``.grad``; with it (a list of tensors), return the gradient reaching each of them instead."""
    grads, starts = {}, []
    for t, g in roots:
        node = t if t._ctx is None else t._ctx
        prev = grads.get(id(node))
        grads[id(node)] = g if prev is None else prev + g
        starts.append(node)
    wanted = None if capture is None else {id(t if t._ctx is None else t._ctx): None for t in capture}
    epoch = _t._epoch
    for node in _topological_order(starts):
        g = grads.pop(id(node), None)
        if g is None:  # no path from the output reaches this node through a differentiable input
            continue
        if isinstance(node, Tensor):  # a leaf
            if node._hooks:
                g = _run_hooks(node._hooks, g)
            if wanted is not None:
                if id(node) in wanted:
                    wanted[id(node)] = g
            elif node.grad is None:  # never aliasing an array that someone else holds
                node.grad = Tensor(_owned(g))
            else:  # in place, as PyTorch: a saved reference to x.grad sees it
                node.grad._data += g
            continue
        if node._epoch < epoch:
            _check_saved(node)
        if node._out_hooks:
            g = _run_hooks(node._out_hooks, g)
        if wanted is not None and id(node) in wanted:
            wanted[id(node)] = g
        if node._retain is not None:  # autograd.grad fills retained gradients too, as PyTorch's
            kept = node._retain()
            if kept is not None and kept._ctx is node:
                kept.grad = Tensor(g.copy()) if kept.grad is None else Tensor(kept.grad._data + g)
        input_grads = node.backward(g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, pg, shape in zip(node.parents, input_grads, node.input_shapes):
            if pg is None or parent is None:
                continue
            if pg.shape != shape:  # a wrong backward must fail here, not three layers later
                raise RuntimeError(
                    f"{type(node).__name__}.backward returned a gradient of shape {pg.shape} "
                    f"for an input of shape {shape}")
            prev = grads.get(id(parent))
            grads[id(parent)] = pg if prev is None else prev + pg
        input_grads = pg = None  # hold no reference to a gradient past its step: _owned counts them
    if wanted is not None:
        return [wanted[id(t if t._ctx is None else t._ctx)] for t in capture]
    return None


def _owned(g):
    """``g`` itself when nothing else can reach it, else a copy: the array a leaf's ``.grad`` may keep.

    A backward usually returns a fresh array, and copying it would cost time and, for VGG-16's 411 MB fc6 weight
    gradient, as much memory again. But a gradient may be shared: Add hands the same array to both inputs,
    Reshape a view of it, and the caller of ``backward(grad)`` keeps theirs. So g is kept only if it is not a
    view (``base`` is None) and no other name or container refers to it (CPython's reference count: the argument
    and the caller's variable), as PyTorch steals a gradient nobody else uses. A copy keeps g's memory order
    ("K": a conv input's gradient lies (C, H, W, N)), so it is a plain copy, not a transpose.
    """
    if g.base is None and sys.getrefcount(g) <= 3:  # 3: the caller's name, this argument, getrefcount's own
        return g
    return g.copy(order="K")


def _topological_order(roots) -> list:
    """The graph's nodes reachable from ``roots``, each after every node that uses it: Functions, and the leaf
    Tensors that require grad.

    An iterative depth-first search (an explicit stack instead of recursion) so deep graphs are fine.
    """
    order, visited = [], set()
    stack = [(root, False) for root in reversed(roots)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if isinstance(node, Function):
            for parent in node.parents:
                if parent is not None and id(parent) not in visited:
                    stack.append((parent, False))
    order.reverse()  # post-order reversed: outputs before the inputs they were computed from
    return order


Tensor.register_hook = register_hook
Tensor.retain_grad = retain_grad
Tensor.retains_grad = property(_retains_grad)

from ._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tinycnn.autograd", "torch.autograd")
