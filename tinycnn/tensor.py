"""The autograd core: ``Tensor``, ``Function`` and reverse-mode ``backward()``.

A ``Tensor`` wraps one NumPy or CuPy array (``.data``). When an op is applied to tensors that require gradients,
the op's ``Function`` object is recorded on the output (``out._ctx``) together with where each input came from
(the Function that made it, or a leaf tensor); the functions and leaves form a directed acyclic graph.
``loss.backward()`` walks that graph from the loss back to the leaves in reverse topological order, calling each
function's ``backward`` once with the summed gradient of its output.

Semantics follow PyTorch's autograd:

* gradients of leaves accumulate: calling ``backward()`` twice without zeroing adds the two gradients
  (``optimizer.zero_grad()`` resets them), and the graph is kept, so a second backward is allowed;
* a tensor used by several ops receives the sum of the gradients from each use (residual adds, shared weights);
* ops that broadcast reduce the gradient back to each input's shape (``unbroadcast``);
* under ``with no_grad():`` no graph is recorded (evaluation, optimizer updates).

The operators (``+ - * / @ **``, ``x.sum()``, ``x.reshape()`` ...) are installed on ``Tensor`` by
``tinycnn.functional`` so that this file stays below the ops in the house plan.
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np

from . import backend

__all__ = ["Tensor", "Function", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "unbroadcast"]

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.prev = []  # a stack: as a decorator one object is entered again by recursive or nested calls

    def __enter__(self):
        global _grad_enabled
        self.prev.append(_grad_enabled)
        _grad_enabled = self.enabled

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev.pop()
        return False


def no_grad():
    """Context manager (and decorator) that records no graph, as ``torch.no_grad``."""
    return _GradMode(False)


def enable_grad():
    """Context manager (and decorator) that turns graph recording back on inside ``no_grad()``."""
    return _GradMode(True)


def _as_array(data, dtype=None):
    """Turn ``data`` into a NumPy/CuPy array; Python floats become float32 and Python ints int64 (PyTorch's defaults)."""
    if type(data) is np.ndarray and dtype is None:  # every op's output: the common case, kept cheap
        return data
    if isinstance(data, Tensor):
        data = data.data
    xp = backend.get_array_module(data)
    if isinstance(data, (np.ndarray, np.generic)) or backend.is_cupy_array(data):
        arr = data if dtype is None else data.astype(dtype, copy=False)
        return xp.asarray(arr)
    arr = np.asarray(data)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iu" and arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    return arr


class Tensor:
    """An n-dimensional array that can record the ops applied to it and compute gradients.

    Args:
        data: array-like (list, scalar, NumPy or CuPy array, Tensor). NumPy/CuPy arrays keep their dtype; Python
            floats become float32 and ints int64, as ``torch.tensor`` does.
        requires_grad: whether ``backward()`` should compute this tensor's gradient (only for floating dtypes).
        dtype: optional dtype to cast to.

    Attributes:
        data: the underlying array; shape, dtype and device are those of ``data``.
        grad: a Tensor of the same shape as ``data`` after ``backward()``, else None. Accumulates across backward
            calls, as in PyTorch.

    Raises:
        TypeError: ``requires_grad=True`` on an integer or boolean tensor.
    """

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "name", "__weakref__")
    __array_priority__ = 1000  # so that ``ndarray + Tensor`` calls Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad needs a floating dtype, got {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None  # the Function that produced this tensor, None for a leaf
        self.name = None

    # ----- plain properties -----
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        dev = "" if self.device == "cpu" else f", device='{self.device}'"
        body = np.array2string(self.numpy(), precision=4, separator=", ", threshold=20)
        return f"tensor({body}, dtype={self.dtype}{dev}{grad})"

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (copied from the GPU when on CUDA)."""
        return backend.to_device(self.data, "cpu")

    def item(self):
        """The value of a one-element tensor as a Python number. Raises ValueError for more elements."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self.data)

    def to(self, device) -> "Tensor":
        """This tensor on ``device`` ("cpu", "cuda", "cuda:N"); ``self`` when already there. Keeps requires_grad."""
        data = backend.to_device(self.data, device)
        if data is self.data:
            return self
        return Tensor(data, requires_grad=self.requires_grad)

    def zero_grad(self) -> None:
        self.grad = None

    # ----- the backward pass -----
    def backward(self, grad=None) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad.

        Args:
            grad: gradient of some scalar with respect to this tensor (same shape); may be omitted only when
                this tensor holds a single element, in which case it is 1.

        Leaves' ``.grad`` accumulate (``+=``) as in PyTorch; the graph is kept, so calling backward twice without
        zeroing doubles the leaf gradients. The walk is iterative: graphs thousands of ops deep do not hit
        Python's recursion limit.

        Raises:
            RuntimeError: this tensor does not require grad.
            ValueError: ``grad`` omitted for a non-scalar, or of the wrong shape.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() called on a tensor that does not require grad (did you use no_grad?)")
        xp = backend.get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() without grad needs a one-element tensor, got shape {self.shape}")
            grad = xp.ones_like(self.data)
        else:
            grad = _as_array(grad, self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"grad must have shape {self.shape}, got {grad.shape}")

        root = self if self._ctx is None else self._ctx
        grads = {id(root): grad}
        for node in _topological_order(root):
            g = grads.pop(id(node), None)
            if g is None:  # no path from the output reaches this node through a differentiable input
                continue
            if isinstance(node, Tensor):  # a leaf: accumulate, never aliasing an array that someone else holds
                node.grad = Tensor(_owned(g) if node.grad is None else node.grad.data + g)
                continue
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

    # Arithmetic operators, reductions and shape methods are attached by tinycnn.functional (see module doc).


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


def _topological_order(root) -> list:
    """The graph's nodes reachable from ``root``, each after every node that uses it: Functions, and the leaf
    Tensors that require grad.

    An iterative depth-first search (an explicit stack instead of recursion) so deep graphs are fine.
    """
    order, visited = [], set()
    stack = [(root, False)]
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


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so that it gets ``shape`` back.

    NumPy broadcasting prepends axes and stretches axes of length 1; the gradient of a broadcast input is the
    sum over those axes (PITFALLS P12).
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Function:
    """One differentiable op: ``forward`` and ``backward`` side by side.

    Subclasses implement

    * ``forward(self, *arrays, **params) -> array``: raw NumPy/CuPy arrays in, one array out; it saves on
      ``self`` what backward needs;
    * ``backward(self, grad_output) -> tuple``: one gradient array per array input of forward, each of that
      input's shape, or None where not needed (``self.needs_input_grad[i]`` is False).

    ``Function.apply(*inputs, **params)`` wraps the arrays of its Tensor inputs, runs forward and, when grad mode
    is on and an input requires grad, records the node on the output tensor (``out._ctx``). For each input the
    node keeps in ``parents`` what the gradient flows on to: the Function that computed it, the tensor itself for
    a leaf that requires grad, or None. Not the intermediate tensors: the graph holds functions, as PyTorch's
    ``grad_fn.next_functions`` does, so an activation's array is freed as soon as no function saved it for its
    backward (ResNet-50 keeps each batch norm's output and each residual sum only while the next op runs).
    """

    __slots__ = ("parents", "input_shapes", "needs_input_grad", "__dict__")

    @classmethod
    def apply(cls, *inputs, **params) -> Tensor:
        fn = cls()
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"{cls.__name__}: input {i} must be a Tensor, got {type(t).__name__}")
        arrays = [t.data for t in inputs]
        _check_same_device(cls.__name__, inputs)
        record = _grad_enabled and any(t.requires_grad for t in inputs)
        fn.needs_input_grad = tuple(record and t.requires_grad for t in inputs)
        out = Tensor(fn.forward(*arrays, **params))
        if record:
            out.requires_grad = True
            out._ctx = fn
            fn.parents = tuple([(t if t._ctx is None else t._ctx) if t.requires_grad else None for t in inputs])
            fn.input_shapes = tuple([t.data.shape for t in inputs])
        return out

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_output):  # pragma: no cover - abstract
        raise NotImplementedError


def _check_same_device(op: str, inputs) -> None:
    if len(inputs) < 2 or all(type(t.data) is np.ndarray for t in inputs):  # all on the CPU: nothing to check
        return
    devices = {backend.device_of(t.data) for t in inputs}
    if len(devices) > 1:
        raise backend.DeviceError(f"{op}: inputs are on different devices {sorted(devices)}; move them with .to()")


def tensor(data, requires_grad: bool = False, dtype=None, device=None) -> Tensor:
    """Make a Tensor from array-like ``data`` (as ``torch.tensor``), optionally on ``device``."""
    t = Tensor(data, requires_grad=requires_grad, dtype=dtype)
    if device is not None:
        t.data = backend.to_device(t.data, device)
    return t
