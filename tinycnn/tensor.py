"""The autograd core: ``Tensor`` and ``Function`` (the engine, grad modes and hooks are in ``autograd.py``).

A ``Tensor`` wraps one NumPy or CuPy array (``.data``). When an op is applied to tensors that require gradients,
the op's ``Function`` object is recorded on the output (``out._ctx``, PyTorch's ``grad_fn``) together with where
each input came from (the Function that made it, or a leaf tensor); the functions and leaves form a directed
acyclic graph. ``loss.backward()`` (``tinycnn/autograd.py``) walks that graph from the loss back to the leaves in
reverse topological order, calling each function's ``backward`` once with the summed gradient of its output.

Semantics follow PyTorch's autograd:

* gradients of leaves accumulate in place: calling ``backward()`` twice without zeroing adds the two gradients
  into the same ``.grad`` array (``optimizer.zero_grad()`` resets them); the graph is kept, so a second backward is
  allowed (PyTorch needs ``retain_graph=True`` for it: tinycnn is more permissive, never different);
* a tensor used by several ops receives the sum of the gradients from each use (residual adds, shared weights);
* ops that broadcast reduce the gradient back to each input's shape (``unbroadcast``);
* under ``with no_grad():`` (or ``inference_mode()``) no graph is recorded (evaluation, optimizer updates);
* an in-place change to an array that a recorded op saved for its backward makes that backward raise, as PyTorch's
  version counter does (see ``autograd.mark_modified``).

The operators (``+ - * / @ ** == <``...), reductions, shape and in-place methods are installed on ``Tensor`` by
``tinycnn.functional`` so that this file stays below the ops in the house plan.
"""
from __future__ import annotations

import numpy as np

from . import backend
from . import _format
from ._shapes import DimensionError, _dim_index, unbroadcast  # noqa: F401  (imported from here by the ops)
from . import devices as _devices

__all__ = ["Tensor", "Function", "ViewFunction", "no_grad", "enable_grad", "inference_mode", "set_grad_enabled",
           "is_grad_enabled", "unbroadcast"]

_grad_enabled = True  # set by the grad-mode context managers (grad_mode.py), read by Function.apply
_epoch = 0  # the count of in-place ops so far: see autograd.mark_modified


def _as_array(data, dtype):
    """The array behind ``Tensor(data)``, PyTorch's legacy constructor: see ``Tensor``."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray) or backend.is_cupy_array(data):
        arr = data
    elif isinstance(data, np.generic):  # an op's full reduction on NumPy returns a NumPy scalar
        arr = np.asarray(data)
    elif isinstance(data, (bool, int, float, complex)):
        raise TypeError(f"Tensor({data!r}): a Python number is not data for tinycnn.Tensor (torch.Tensor(3) makes "
                        f"an uninitialized tensor of shape (3,), torch.Tensor(2.5) raises); use "
                        f"tinycnn.tensor({data!r}) for a 0-d tensor or tinycnn.empty(n) for a shape")
    else:  # Python data: float32, as torch.Tensor([...])
        arr = np.asarray(data, dtype=np.float32 if dtype is None else backend.parse_dtype(dtype))
    if dtype is not None:
        arr = arr.astype(backend.parse_dtype(dtype), copy=False)
    return arr


class Tensor:
    """An n-dimensional array that can record the ops applied to it and compute gradients.

    ``Tensor(data)`` is PyTorch's legacy constructor: Python lists (of numbers, even ints or bools) become float32,
    as ``torch.Tensor([1, 2])``. Difference from PyTorch: a NumPy or CuPy array (and a Tensor) is used as it is,
    sharing its memory and keeping its dtype (``torch.Tensor`` would copy it to float32); the ops build their outputs
    this way, without a copy. For PyTorch's ``torch.tensor`` (copies, infers int64/float32/bool) use
    ``tinycnn.tensor``; to share a NumPy array, ``tinycnn.from_numpy``.

    Args:
        data: a list or nested lists of numbers, a NumPy or CuPy array, a Tensor.
        requires_grad: whether ``backward()`` should compute this tensor's gradient (only for floating dtypes).
        dtype: optional dtype to cast to (``tinycnn.float64``...).

    Attributes:
        data: the underlying array (``.data = x`` accepts an array or a Tensor, whose array it takes); shape,
            dtype and device are those of ``data``. Changing it is not seen by autograd, as in PyTorch.
        grad: a Tensor of the same shape after ``backward()``, else None; accumulates in place across backward
            calls, as in PyTorch.

    Raises:
        TypeError: a Python number as ``data`` (see above); ``requires_grad=True`` on an integer or boolean tensor.
    """

    __slots__ = ("_data", "_requires_grad", "_grad", "_ctx", "_hooks", "_view", "__weakref__")
    __array_priority__ = 1000  # NumPy defers to Tensor (with __array_ufunc__ below)
    __hash__ = object.__hash__  # identity, as torch: tensors are dict keys although == is element-wise

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if type(data) is not np.ndarray or dtype is not None:  # an op's output is a plain ndarray: kept cheap
            data = _as_array(data, dtype)
        self._data = data
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"only Tensors of floating dtype can require gradients, got {data.dtype}")
        self._requires_grad = bool(requires_grad)  # the slots behind the checked properties below
        self._grad = None
        self._ctx = None  # the Function that produced this tensor, None for a leaf
        self._hooks = None  # a leaf's gradient hooks (a non-leaf's live on its Function)
        self._view = None  # True: a view of another tensor's memory; "copy": view() had to copy

    # ----- plain properties -----
    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            value = value._data
        elif isinstance(value, np.generic):
            value = np.asarray(value)
        elif not (isinstance(value, np.ndarray) or backend.is_cupy_array(value)):
            raise TypeError(f"Tensor.data must be set to an array or a Tensor, got {type(value).__name__}")
        self._data = value

    @property
    def requires_grad(self) -> bool:
        """Whether ``backward()`` computes this tensor's gradient. Set it on a leaf only, to a bool, and to True only
        on a floating tensor: anything else raises, as in PyTorch (RuntimeError; TypeError for a non-bool and for an
        integer tensor, as tinycnn's dtype errors)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"requires_grad must be a bool, got {type(value).__name__}")
        if self._ctx is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables; use detach() to get a "
                               "leaf (PyTorch raises the same)")
        if value and self._data.dtype.kind != "f":
            raise TypeError(f"only Tensors of floating dtype can require gradients, got {self._data.dtype}")
        self._requires_grad = bool(value)

    @property
    def grad(self):
        """The gradient accumulated by ``backward()`` (a Tensor of this tensor's shape and dtype), or None.
        Assigning checks what PyTorch checks: a Tensor (TypeError otherwise) of the same shape, dtype and device
        (RuntimeError otherwise), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            data, own = value._data, self._data
            if (data.shape != own.shape or data.dtype != own.dtype
                    or backend.device_of(data) != backend.device_of(own)):
                raise RuntimeError(f"attempting to assign a gradient of shape {data.shape}, dtype {data.dtype} on "
                                   f"{backend.device_of(data)} to a tensor of shape {own.shape}, dtype {own.dtype} on "
                                   f"{backend.device_of(own)}: they must match")
        self._grad = value

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def device(self):
        """Where the data lives, a ``tinycnn.device`` as PyTorch's ``torch.device``: ``device(type='cpu')`` or
        ``device(type='cuda', index=N)``. Compare ``x.device.type == "cpu"`` (a device never equals a string, as
        in PyTorch); ``str(x.device)`` is ``"cpu"`` or ``"cuda:N"``."""
        return _devices.of_name(backend.device_of(self._data))

    def get_device(self) -> int:
        """The GPU index of a CUDA tensor, -1 on the CPU (``torch.Tensor.get_device``)."""
        name = backend.device_of(self._data)
        return -1 if name == "cpu" else int(name.split(":")[1])

    @property
    def is_cuda(self) -> bool:
        return backend.is_cupy_array(self._data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        """The Function that made this tensor (PyTorch's ``grad_fn``), None for a leaf."""
        return self._ctx

    def __repr__(self) -> str:
        """PyTorch's layout (``tinycnn/_format.py``): ``tensor([1.5000, 2.0000], requires_grad=True)``."""
        return _format.tensor_repr(self, self.numpy())

    def __format__(self, spec):  # f"{loss:.4f}" on a one-element tensor, as torch
        if self._data.ndim == 0 or (spec and self._data.size == 1):
            return format(self.item(), spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy meeting a Tensor: ``array + t`` runs tinycnn's op (a Tensor, as ``t + array``); an in-place NumPy
        update such as ``p.data -= lr * p.grad`` runs on the raw arrays, so ``p.data`` stays the same ndarray."""
        op = _UFUNC_OPS.get(ufunc) if method == "__call__" and not kwargs else None
        if op is not None:
            return op(*inputs)
        inputs = tuple(x._data if isinstance(x, Tensor) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(o._data if isinstance(o, Tensor) else o for o in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            values = "no values" if self._data.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {values} is ambiguous")
        return bool(self.item())

    def _scalar(self):
        if self._data.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars, got shape {self.shape}")
        return self.item()

    def __int__(self) -> int:
        return int(self._scalar())

    def __float__(self) -> float:
        return float(self._scalar())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array: the same memory on the CPU (as ``torch.Tensor.numpy``), a copy from the GPU.
        Difference from PyTorch: allowed on a tensor that requires grad and on a GPU tensor (PyTorch raises)."""
        return backend.to_device(self._data, "cpu")

    def item(self):
        """The value of a one-element tensor as a Python number. Raises ValueError for more elements."""
        if self._data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        """The values as nested Python lists (a number for a 0-d tensor), as ``torch.Tensor.tolist``."""
        return self.numpy().tolist()

    # ----- autograd -----
    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, cut from the graph (``torch.Tensor.detach``)."""
        return Tensor(self._data)

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph in place: it becomes a leaf that does not require grad."""
        self._ctx = None
        self._requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return self (``torch.Tensor.requires_grad_``).

        Raises TypeError for a non-floating tensor, RuntimeError to turn it off on a non-leaf (as PyTorch).
        """
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"requires_grad_: requires_grad must be a bool, got {type(requires_grad).__name__}")
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"only Tensors of floating dtype can require gradients, got {self._data.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables; use detach() to get a "
                               "tensor that does not require grad")
        self._requires_grad = bool(requires_grad)
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad
        (``torch.Tensor.backward``; see ``tinycnn.autograd.backward``).

        Args:
            gradient: gradient of some scalar with respect to this tensor (same shape; a Tensor or an array); may be
                omitted only when this tensor holds a single element, in which case it is 1.
            retain_graph: accepted; tinycnn always keeps the graph, so a second backward works where PyTorch
                raises without ``retain_graph=True`` (more permissive, never a different result).
            create_graph: True (higher-order gradients) raises NotImplementedError.
            inputs: optional tensors to accumulate into instead of every leaf.

        Raises:
            RuntimeError: this tensor does not require grad, or a saved array was modified in place.
            ValueError: ``gradient`` omitted for a non-scalar, or of the wrong shape.
        """
        _autograd.backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    # No __getattr__ here, although it would let x.median() say that tinycnn lacks it: a class with __getattr__
    # loses CPython's fast attribute lookups, which costs every op about 5% (measured). Python's AttributeError
    # names the missing method; the modules' __getattr__ (tinycnn._missing) cover torch.median, nn.PReLU ...

    # Arithmetic operators, reductions, shape, casting and in-place methods are attached by tinycnn.functional.


# ufunc -> the tinycnn op NumPy runs for ``ndarray <op> Tensor`` (filled by tinycnn.functional)
_UFUNC_OPS: dict = {}


class Function:
    """One differentiable op: ``forward`` and ``backward`` side by side.

    Subclasses implement

    * ``forward(self, *arrays, **params) -> array``: raw NumPy/CuPy arrays in, one array out; it saves on
      ``self`` what backward needs (only what ``self.needs_input_grad`` asks for, where that saves memory);
    * ``backward(self, grad_output) -> tuple``: one gradient array per array input of forward, each of that
      input's shape and dtype, or None where not needed (``self.needs_input_grad[i]`` is False).

    ``Function.apply(*inputs, **params)`` wraps the arrays of its Tensor inputs, runs forward and, when grad mode
    is on and an input requires grad, records the node on the output tensor (``out._ctx``). For each input the
    node keeps in ``parents`` what the gradient flows on to: the Function that computed it, the tensor itself for
    a leaf that requires grad, or None. Not the intermediate tensors: the graph holds functions, as PyTorch's
    ``grad_fn.next_functions`` does, so an activation's array is freed as soon as no function saved it for its
    backward (ResNet-50 keeps each batch norm's output and each residual sum only while the next op runs).
    """

    __slots__ = ("parents", "input_shapes", "needs_input_grad", "_epoch", "__dict__")
    _out_hooks = None  # hooks on the output tensor (register_hook on a non-leaf), set per node when used
    _retain = None  # weakref to the output tensor whose .grad is retained (retain_grad)

    @classmethod
    def apply(cls, *inputs, **params) -> Tensor:
        fn = cls()
        try:
            arrays = [t._data for t in inputs]
        except AttributeError:
            bad = next(i for i, t in enumerate(inputs) if not isinstance(t, Tensor))
            raise TypeError(f"{cls.__name__}: input {bad} must be a Tensor, got {type(inputs[bad]).__name__}") from None
        if len(arrays) > 1:
            _check_same_device(cls.__name__, arrays)
        record = False
        if _grad_enabled:
            needs = tuple([t._requires_grad for t in inputs])
            record = True in needs
        fn.needs_input_grad = needs if record else (False,) * len(arrays)
        out = Tensor(fn.forward(*arrays, **params))
        if record:
            out._requires_grad = True
            out._ctx = fn
            fn.parents = tuple([(t if t._ctx is None else t._ctx) if t._requires_grad else None for t in inputs])
            fn.input_shapes = tuple([a.shape for a in arrays])
            fn._epoch = _epoch
        return out

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_output):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def name(cls) -> str:
        """The node's name, as PyTorch's ``grad_fn.name()`` ("MulBackward")."""
        return f"{cls.__name__}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class ViewFunction(Function):
    """A Function whose output shares its first input's memory (reshape, transpose, basic indexing...).

    The output is marked as a view: an in-place op on it inside a graph raises (PyTorch replays views; tinycnn
    does not), and the node remembers the storage it views, so backward raises if that storage was changed in
    place after the view was taken (the view's gradient would not see the change).
    """

    @classmethod
    def apply(cls, *inputs, **params) -> Tensor:
        out = Function.apply.__func__(cls, *inputs, **params)
        root = _autograd.storage_root(out._data)
        if root is _autograd.storage_root(inputs[0]._data):  # NumPy's reshape copies when the memory order forbids
            out._view = True
            if out._ctx is not None:
                out._ctx._root_id = id(root)
        return out


def _check_same_device(op: str, arrays) -> None:
    for a in arrays:
        if type(a) is not np.ndarray:
            break
    else:  # all on the CPU: nothing to check
        return
    devices = {backend.device_of(a) for a in arrays}
    if len(devices) > 1:
        raise backend.DeviceError(f"{op}: inputs are on different devices {sorted(devices)}; move them with .to()")


# The engine, grad modes and hooks live in autograd.py, which imports Tensor and Function from here.
from . import autograd as _autograd  # noqa: E402
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402,F401


def zero_grads(params, set_to_none: bool = True) -> None:
    """``zero_grad`` of Module and Optimizer (PyTorch's): each parameter's grad set to None (the default), or, with
    ``set_to_none=False``, filled with zeros in place (a reference to it stays valid)."""
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad.requires_grad = False
            p.grad.data.fill(0)
