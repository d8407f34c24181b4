"""``Module`` and ``Parameter``: layers that own tensors, as ``torch.nn.Module``.

A Module registers what is assigned to it: a ``Parameter`` becomes a trainable weight, a Module a child, and
``register_buffer`` a non-trained Tensor saved with the weights (batch norm's running_mean). Names follow the
assignment order, so ``named_parameters()`` lists a layer's weight before its bias and a block's layers in the
order they were built, as PyTorch does; a PyTorch state dict then maps one to one. Assigning to a name that is
already registered replaces the entry in place, keeping its position (``model.conv1 = nn.Conv2d(...)`` in a
``Sequential`` stays first), as PyTorch does.

Saving and loading live in ``_state_dict.py``, hooks in ``_hooks.py``, ``to`` / ``double`` ... in
``_convert.py`` (``Module`` inherits the last two as mixins).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import backend
from ..tensor import Tensor, zero_grads
from . import _hooks, _state_dict
from ._convert import DeviceDtypeMixin
from ._hooks import HookMixin

__all__ = ["Module", "Parameter"]


class Parameter(Tensor):
    """A Tensor that a Module trains, as ``torch.nn.Parameter``: ``requires_grad`` is True by default.

    ``data`` may be a Tensor (whose array is shared, as PyTorch shares the storage) or an array / array-like.
    Raises TypeError for ``requires_grad=True`` on an integer array.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, dtype=np.float32)  # PyTorch: Parameter() is an empty float tensor
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _typename(value) -> str:
    return type(value).__name__


def _check_name(kind: str, name, module, table) -> None:
    """PyTorch's checks on a name given to register_parameter / register_buffer / add_module."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if hasattr(module, name) and name not in table:
        raise KeyError(f"attribute '{name}' already exists")


class Module(DeviceDtypeMixin, HookMixin):
    """Base class of layers and networks (``torch.nn.Module``).

    Subclasses call ``super().__init__()`` first, set their parameters and child modules as attributes, and
    implement ``forward(*inputs)``; calling the module runs its forward pre-hooks, ``forward`` and its forward
    hooks. ``training`` is True after construction; ``eval()`` switches dropout and batch norm to inference.
    """

    _version = 1

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks_always_called"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()

    # ----- calling -----
    def forward(self, *inputs):  # pragma: no cover - abstract
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
            return _hooks.call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)  # no hook: the hot path pays the three checks above

    # ----- registration -----
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call (call "
                                     "super().__init__() first)")
            self._remove_from(name, d, self._buffers, self._modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"(tinycnn.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            modules = d.get("_modules")
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call (call super().__init__() "
                                     "first)")
            self._remove_from(name, d, self._parameters, self._buffers)
            modules[name] = value  # an existing name keeps its position
        elif name in d.get("_modules", ()):
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                f"(tinycnn.nn.Module or None expected)")
            d["_modules"][name] = None
        elif name in d.get("_buffers", ()):
            d["_buffers"][name] = self._as_buffer(name, value)
        else:
            object.__setattr__(self, name, value)

    def _remove_from(self, name, *tables) -> None:
        for table in tables:
            table.pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    @staticmethod
    def _as_buffer(name, value):
        if value is None or isinstance(value, Tensor):
            return value
        if isinstance(value, np.ndarray) or backend.is_cupy_array(value):
            return Tensor(value)  # an array is wrapped, sharing its memory (a NumPy convenience)
        raise TypeError(f"cannot assign '{_typename(value)}' object to buffer '{name}' (Tensor, array or None "
                        f"required)")

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        """Register ``param`` (a Parameter, or None) under ``name``; an existing name keeps its position.

        Raises TypeError for a name that is not a string or a value that is not a Parameter, KeyError for a
        name with a dot, an empty name or one taken by a plain attribute, ValueError for a non-leaf tensor.
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call (call super().__init__() "
                                 "first)")
        _check_name("parameter", name, self, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            f"(tinycnn.nn.Parameter or None required)")
        if param is not None and not param.is_leaf:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             f"created explicitly; to express '{name}' as a function of another Tensor, compute "
                             f"the value in the forward() method.")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register a Tensor (or an array, wrapped without a copy; or None) that is not trained but moved by
        ``to`` and, when ``persistent``, saved in ``state_dict`` (batch norm's running_mean).

        Raises the errors of ``register_parameter`` for a bad name, TypeError for another kind of value.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call (call super().__init__() "
                                 "first)")
        _check_name("buffer", name, self, self._buffers)
        self._buffers[name] = self._as_buffer(name, tensor)
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register ``module`` as a child under ``name`` (what ``self.name = module`` does); an existing name
        keeps its position. Raises TypeError for a value that is not a Module or None, KeyError for a bad name."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        _check_name("module", name, self, self._modules)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        """The module at dotted path ``target`` (``"layer1.0.conv1"``); ``""`` is self. Raises AttributeError."""
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{type(module).__name__} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``"layer1.0.conv1.weight"``). Raises AttributeError."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter `{name}`")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target`` (``"bn1.running_mean"``). Raises AttributeError."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._buffers:
            raise AttributeError(f"{type(module).__name__} has no buffer `{name}`")
        return module._buffers[name]

    # ----- the tree -----
    def named_children(self):
        """(name, child) for each direct child, a child registered twice listed once."""
        memo = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for this module and every descendant, depth first in registration order.

        A module reachable under several names is listed once, under the first (``remove_duplicate``), as
        PyTorch does; ``memo`` is the set of modules already listed (PyTorch's argument)."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self, remove_duplicate: bool = True):
        for _, m in self.named_modules(remove_duplicate=remove_duplicate):
            yield m

    def _named_members(self, table: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, Parameter) pairs in registration order, a layer's weight before its bias; a shared
        parameter once, under its first name (unless ``remove_duplicate=False``)."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, buffer Tensor) pairs, persistent or not, in registration order."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every child (recursively) and then on self, as ``torch.nn.Module.apply`` (e.g.
        a weight initialization). Returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def num_parameters(self, trainable_only: bool = True) -> int:
        """Number of scalar parameters (the figure papers quote); a tinycnn extra."""
        return int(sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only))

    # ----- modes and gradients -----
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active, batch norm on batch statistics) here and in every descendant.
        Returns self. Raises ValueError when ``mode`` is not a bool (PyTorch's check)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode: ``train(False)``. Returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` of every parameter (freeze a backbone with False). Returns self."""
        for p in self.parameters():
            if requires_grad and p.dtype.kind != "f":
                raise TypeError(f"requires_grad needs a floating dtype, got a parameter of dtype {p.dtype}")
            p.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the parameters' gradients: set them to None (PyTorch's default), or fill them with zeros in
        place with ``set_to_none=False``."""
        zero_grads(self.parameters(), set_to_none)

    # ----- saving and loading -----
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """OrderedDict of dotted name -> detached Tensor SHARING memory with each parameter and persistent
        buffer, as ``torch.nn.Module.state_dict`` (changing the model changes the values: copy them to keep a
        snapshot). A module or parameter reachable under two names appears under both. ``keep_vars=True``
        returns the Parameters themselves."""
        return _state_dict.state_dict(self, destination, prefix, keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy the Tensors or arrays of ``state_dict`` into the parameters and buffers of the same names, in
        place, cast to each one's dtype and device, as ``torch.nn.Module.load_state_dict``.

        Everything (keys with ``strict``, shapes, value types) is checked before anything is copied: on an error
        the model is untouched. Returns ``_IncompatibleKeys(missing_keys, unexpected_keys)`` (also with
        ``strict=False``). Raises RuntimeError in PyTorch's words ("Error(s) in loading state_dict for ResNet:
        Missing key(s) ..., Unexpected key(s) ..., size mismatch for ..."), TypeError for a non-mapping,
        NotImplementedError for ``assign=True``.
        """
        return _state_dict.load_state_dict(self, state_dict, strict, assign)

    # ----- printing -----
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The layer's settings shown inside its repr's parentheses (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))
