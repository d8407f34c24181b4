"""Containers: the layer graphs that networks are trees of.

* ``Sequential``: layers one after another (LeNet, AlexNet, VGG).
* ``Concat``: parallel branches on the same input whose outputs are concatenated on channels (the Inception
  module, Szegedy et al. 2015, Fig. 2).
* ``Residual``: ``activation(body(x) + shortcut(x))`` with an identity or projection shortcut (He et al. 2016,
  Fig. 2 and Eq. 1-2).

The same tree serves forward, ``tinycnn.summary`` and the drawing of the architecture.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import functional as F
from .module import Module

__all__ = ["Sequential", "Concat", "Residual"]


class Sequential(Module):
    """Apply modules in order, as ``torch.nn.Sequential``; children are named "0", "1", ... or by an OrderedDict."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[index][1]


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
