"""Containers: the layer graphs that networks are trees of.

* ``Sequential``: layers one after another (LeNet, AlexNet, VGG).
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

from collections import OrderedDict

from .. import functional as F
from .module import Module

__all__ = ["Sequential", "Concat", "Residual", "Tap", "Tapped"]


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
