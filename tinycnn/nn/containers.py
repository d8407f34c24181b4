"""Containers: the layer graphs that networks are trees of.

* ``Sequential``: layers one after another (LeNet, AlexNet, VGG), with ``torch.nn.Sequential``'s list API.
* ``ModuleList`` and ``ModuleDict``: a list / dict of modules whose parameters are registered (PyTorch's).
* ``Concat``: parallel branches on the same input whose outputs are concatenated on channels (the Inception
  module, Szegedy et al. 2015, Fig. 2).
* ``Residual``: ``activation(body(x) + shortcut(x))`` with an identity or projection shortcut (He et al. 2016,
  Fig. 2 and Eq. 1-2).
* ``Tap`` and ``Tapped``: a side branch that only looks (GoogLeNet's auxiliary classifiers, Szegedy et al. 2015,
  Sec. 5): a ``Tap(head)`` passes its input on unchanged and, in training mode, runs ``head`` on it; the
  ``Tapped`` Sequential around it returns ``(output, *head outputs)`` in training mode and the output alone in eval.

The same tree serves forward, ``tinycnn.summary`` and the drawing of the architecture.
"""
from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from itertools import chain, islice

from .. import functional as F
from .module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict", "Concat", "Residual", "Tap", "Tapped"]


def _index(container, idx) -> int:
    """``idx`` as a position in [0, len), negative counting from the end; IndexError as a Python list."""
    size = len(container)
    idx = operator.index(idx)
    if not -size <= idx < size:
        raise IndexError(f"index {idx} is out of range")
    return idx % size


def _renumber(container) -> None:
    """Name the children "0", "1", ... again after a deletion (PyTorch renumbers, named children included)."""
    container._modules = OrderedDict((str(i), m) for i, m in enumerate(container._modules.values()))


class Sequential(Module):
    """Apply modules in order, as ``torch.nn.Sequential``; children are named "0", "1", ... or by an OrderedDict.

    List API as PyTorch's: ``seq[i]`` (negative too), ``seq[a:b]`` (a Sequential of the same modules),
    ``seq[i] = m`` (replaces in place), ``del seq[i]`` (then renumbers), ``append``, ``insert``, ``extend``,
    ``pop``, ``len``, iteration, ``+``. Raises IndexError for an index out of range, TypeError for a non-Module.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return next(islice(self._modules.values(), _index(self, idx), None))

    def __setitem__(self, idx, module) -> None:
        key = next(islice(self._modules.keys(), _index(self, idx), None))
        setattr(self, key, module)

    def __delitem__(self, idx) -> None:
        if isinstance(idx, slice):
            for key in list(self._modules.keys())[idx]:
                delattr(self, key)
        else:
            delattr(self, next(islice(self._modules.keys(), _index(self, idx), None)))
        _renumber(self)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other) -> "Sequential":
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        out = Sequential()
        for layer in chain(self, other):
            out.append(layer)
        return out

    def __iadd__(self, other) -> "Sequential":
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        return self.extend(other)

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end, named ``str(len(self))``. Returns self."""
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Insert ``module`` before position ``index`` (negative counts from the end), as PyTorch's."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: module must be a Module, got {type(module).__name__}")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        if index < 0:
            index += n
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module
        return self

    def extend(self, sequential) -> "Sequential":
        """Append every module of ``sequential`` (any iterable of modules). Returns self."""
        for layer in sequential:
            self.append(layer)
        return self

    def pop(self, key):
        """Remove and return the module at ``key`` (then renumber)."""
        v = self[key]
        del self[key]
        return v


class ModuleList(Module):
    """A list of modules whose parameters belong to the parent, as ``torch.nn.ModuleList`` (no forward).

    ``ml[i]`` (negative too), ``ml[a:b]`` (a ModuleList), ``ml[i] = m``, ``del ml[i]`` (renumbers), ``append``,
    ``extend``, ``insert``, ``pop``, ``len``, iteration, ``+`` and ``+=``. Raises IndexError out of range.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self += modules

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[str(_index(self, idx))]

    def __setitem__(self, idx, module) -> None:
        setattr(self, str(_index(self, idx)), module)

    def __delitem__(self, idx) -> None:
        if isinstance(idx, slice):
            for k in range(len(self._modules))[idx]:
                delattr(self, str(k))
        else:
            delattr(self, str(_index(self, idx)))
        _renumber(self)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other) -> "ModuleList":
        combined = ModuleList()
        for i, module in enumerate(chain(self, other)):
            combined.add_module(str(i), module)
        return combined

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (negative counts from the end, as ``list.insert``)."""
        n = len(self._modules)
        index = max(0, index + n) if index < 0 else min(index, n)
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def pop(self, key=-1):
        v = self[key]
        del self[key]
        return v

    def extend(self, modules) -> "ModuleList":
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got {type(modules).__name__}")
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: iterate over it in the parent's forward")

    def __repr__(self) -> str:
        """Runs of equal children are printed once, as PyTorch prints them: ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []  # [start, end, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = []
        for start, end, r in runs:
            line = f"({start}): {r}" if start == end else f"({start}-{end}): {end - start + 1} x {r}"
            lines.append(line.replace("\n", "\n  "))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules whose parameters belong to the parent, as ``torch.nn.ModuleDict``.

    ``md[key]``, ``md[key] = m``, ``del md[key]``, ``in``, ``len``, iteration over keys, ``keys``, ``values``,
    ``items``, ``update``, ``pop``, ``clear``. Raises KeyError for a missing key or one that is an attribute name.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        v = self[key]
        del self[key]
        return v

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules) -> None:
        """Add or replace entries from a mapping or an iterable of (key, module) pairs."""
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleDict.update should be called with an iterable of key/value pairs, but got "
                            f"{type(modules).__name__}")
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        for j, m in enumerate(modules):
            if not isinstance(m, Iterable):
                raise TypeError(f"ModuleDict update sequence element #{j} should be Iterable; is {type(m).__name__}")
            if len(m) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length {len(m)}; 2 is required")
            self[m[0]] = m[1]

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: index it in the parent's forward")


class Concat(Module):
    """Run every branch on the same input and concatenate the outputs along ``axis`` (channels).

    Shapes: each branch maps (N, C, H, W) to (N, C_i, H', W') with the same H', W'; the output is
    (N, sum C_i, H', W'). Raises ValueError (from ``F.concat``) naming the branch whose output does not fit.
    """

    def __init__(self, *branches, axis: int = 1):
        super().__init__()
        if not branches:
            raise ValueError("Concat: needs at least one branch")
        self.axis = axis
        for i, b in enumerate(branches):
            self.add_module(str(i), b)

    def forward(self, x):
        return F.concat([b(x) for b in self._modules.values()], axis=self.axis)


class Residual(Module):
    """``activation(body(x) + shortcut(x))``: the residual block of He et al. 2016.

    Args:
        body: the residual function F(x) (for ResNet: conv-bn-relu-conv-bn).
        shortcut: None for the identity, or a module mapping x to body(x)'s shape (a 1x1 projection with batch
            norm, option B; or the zero-padding shortcut, option A).
        activation: applied after the addition (ReLU in ResNet), or None.

    The body is registered before the shortcut, so ``named_parameters()`` lists the main path first, as
    torchvision's blocks do ("downsample" after the convolutions). Raises ValueError when body and shortcut
    outputs differ in shape.
    """

    def __init__(self, body: Module, shortcut: Module | None = None, activation: Module | None = None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.activation = activation

    def forward(self, x):
        out = self.body(x)
        skip = x if self.shortcut is None else self.shortcut(x)
        if out.shape != skip.shape:
            raise ValueError(f"Residual: body output {out.shape} and shortcut output {skip.shape} must match; "
                             f"use a projection shortcut where the shape changes")
        out = F.add(out, skip)
        return out if self.activation is None else self.activation(out)


class Tap(Module):
    """Pass the input on unchanged; in training mode also run ``head`` on it and keep the result in ``output``
    for the enclosing ``Tapped`` to return. In eval mode the head is skipped (GoogLeNet discards its auxiliary
    classifiers at inference, Szegedy et al. 2015, Sec. 5), so it costs nothing there.

    The head is a child (named "head"): its parameters are the model's, and summary and drawing see it.
    """

    def __init__(self, head: Module):
        super().__init__()
        self.head = head
        self.output = None  # set by forward in training mode, collected and cleared by Tapped

    def forward(self, x):
        if self.training:
            self.output = self.head(x)
        return x


class Tapped(Sequential):
    """A ``Sequential`` that also returns what the ``Tap`` modules inside it saw.

    Training mode: returns ``(output, tap_1.output, tap_2.output, ...)``, the taps in tree order (the order of
    ``modules()``); eval mode, or no Tap inside: the output alone. So a GoogLeNet returns (logits, aux1, aux2)
    while training and logits in eval (torchvision's returns the same three as logits, aux2, aux1). Raises
    RuntimeError when a Tap inside did not run in training mode (left in eval mode by hand, or off the path).
    """

    def forward(self, x):
        taps = [(name, m) for name, m in self.named_modules() if isinstance(m, Tap)]
        for _, tap in taps:
            tap.output = None  # never return a stale result from an earlier call
        out = super().forward(x)
        if not self.training or not taps:
            return out
        silent = [name for name, tap in taps if tap.output is None]
        if silent:
            raise RuntimeError(f"Tapped: the Tap modules {silent} did not run in training mode; "
                               f"call train() on the whole model")
        extra = tuple(tap.output for _, tap in taps)
        for _, tap in taps:
            tap.output = None  # the caller holds the outputs now; the taps keep no graph alive
        return (out,) + extra
