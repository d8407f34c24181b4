"""``Module`` and ``Parameter``: layers that own tensors, as ``torch.nn.Module``.

A Module registers what is assigned to it: a ``Parameter`` becomes a trainable weight, a Module a child, and
``register_buffer`` a non-trained array saved with the weights (batch norm's running_mean). Names follow the
assignment order, so ``named_parameters()`` lists a layer's weight before its bias and a block's layers in the
order they were built, as PyTorch does; a PyTorch state dict then maps one to one.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["Module", "Parameter"]


class Parameter(Tensor):
    """A Tensor that a Module trains: ``requires_grad`` is True by default."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and networks.

    Subclasses set their parameters and child modules as attributes in ``__init__`` and implement
    ``forward(*inputs)``; calling the module runs ``forward``. ``training`` is True after construction
    (``train()``); ``eval()`` switches dropout and batch norm to their inference behaviour.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----- registration -----
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before assigning "
                                 f"attributes")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array) -> None:
        """Register an array (not trained, but saved in ``state_dict`` and moved by ``to``), e.g. running_mean."""
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        self._buffers[name] = array

    def add_module(self, name: str, module: "Module") -> None:
        """Register ``module`` as a child under ``name`` (what ``self.name = module`` does)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: module must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    # ----- the tree -----
    def forward(self, *inputs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *inputs, **kwargs):
        return self.forward(*inputs, **kwargs)

    def named_children(self):
        yield from self._modules.items()

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = ""):
        """(name, module) for this module and every descendant, depth first in registration order."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """(dotted name, Parameter) pairs in registration order: a layer's weight before its bias."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if id(p) in seen:  # a shared parameter is listed (and trained) once
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = ""):
        for mod_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    def num_parameters(self, trainable_only: bool = True) -> int:
        """Number of scalar parameters (the figure papers quote)."""
        return int(sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only))

    # ----- modes and devices -----
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active, batch norm on batch statistics) here and in every descendant."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, device) -> "Module":
        """Move every parameter and buffer to ``device`` in place (the Parameter objects stay the same, so an
        optimizer built before the move keeps working). Returns self."""
        device = backend.parse_device(device)
        for m in self.modules():
            for p in m._parameters.values():
                p.data = backend.to_device(p.data, device)
                if p.grad is not None:
                    p.grad = Tensor(backend.to_device(p.grad.data, device))
            for name, b in list(m._buffers.items()):
                if b is not None:
                    m._buffers[name] = backend.to_device(b, device)
        return self

    # ----- saving and loading -----
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Name -> NumPy array copy of every parameter and buffer, in registration order (PyTorch's names)."""
        out = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = backend.to_device(p.data, "cpu").copy()
        for name, b in self.named_buffers():
            if b is not None:
                out[name] = backend.to_device(b, "cpu").copy()
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy arrays from ``state_dict`` into the parameters and buffers of the same names.

        Raises:
            KeyError: with ``strict``, names missing from or unexpected in ``state_dict`` (both listed).
            ValueError: an array whose shape differs, naming the key, the expected and the actual shape.
        """
        own = OrderedDict(self.named_parameters())
        buffers = OrderedDict(self.named_buffers())
        missing = [k for k in list(own) + list(buffers) if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own and k not in buffers]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, value in state_dict.items():
            value = np.asarray(value) if not backend.is_cupy_array(value) else value
            target = own.get(name)
            current = target.data if target is not None else buffers.get(name)
            if target is None and name not in buffers:
                continue
            if current.shape != value.shape:
                raise ValueError(f"load_state_dict: {name} must have shape {current.shape}, got {value.shape}")
            new = backend.to_device(value.astype(current.dtype, copy=True), backend.device_of(current))
            if target is not None:
                target.data = new
            else:
                self._set_buffer(name, new)

    def _set_buffer(self, dotted: str, value) -> None:
        *path, leaf = dotted.split(".")
        module = self
        for part in path:
            module = module._modules[part]
        module._buffers[leaf] = value

    # ----- printing -----
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
