"""Module hooks (``register_forward_pre_hook``, ``register_forward_hook``, ``register_full_backward_hook``), as
``torch.nn.Module`` runs them.

``Module.__call__`` calls ``forward`` directly when no hook is registered (the training hot path pays three empty
dict checks), and ``call_with_hooks`` below otherwise. The backward hooks are identity ``Function``s wrapped
around the module's inputs and outputs, the way PyTorch's ``BackwardHook`` does it: the identity on an output
records the gradient with respect to that output (``grad_output``) when backward reaches it; the identity on the
inputs runs last, with the gradients with respect to the inputs (``grad_input``), and calls the hooks, which may
return replacements for ``grad_input``.
"""
from __future__ import annotations

import itertools
import warnings
from collections import OrderedDict

from .. import backend
from ..tensor import Function, Tensor, is_grad_enabled

__all__ = ["RemovableHandle", "HookMixin", "call_with_hooks"]

_next_id = itertools.count()


class RemovableHandle:
    """What ``register_*_hook`` returns: ``handle.remove()`` unregisters the hook (``torch.utils.hooks``).

    Also a context manager: ``with module.register_forward_hook(fn): ...`` removes the hook on exit.
    """

    def __init__(self, *tables):
        self.id = next(_next_id)
        self._tables = tables  # the hook dict first, then the flag dicts the hook may be listed in

    def remove(self) -> None:
        for table in self._tables:
            table.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def add_hook(table: OrderedDict, hook, prepend: bool, *flag_tables) -> RemovableHandle:
    """Register ``hook`` in ``table`` (first when ``prepend``); ``flag_tables`` get the hook's id too."""
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(table, *flag_tables)
    table[handle.id] = hook
    for flags in flag_tables:
        flags[handle.id] = True
    if prepend:
        table.move_to_end(handle.id, last=False)
    return handle


class HookMixin:
    """``Module``'s hook registration methods (the tables themselves are made by ``Module.__init__``)."""

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """Call ``hook(module, args)`` before each forward; a non-None result replaces the positional inputs
        (a non-tuple is wrapped in one). With ``with_kwargs``: ``hook(module, args, kwargs)`` returning None or
        ``(args, kwargs)``. Returns a handle whose ``remove()`` unregisters it (``torch.nn.Module``'s API)."""
        flags = (self._forward_pre_hooks_with_kwargs,) if with_kwargs else ()
        return add_hook(self._forward_pre_hooks, hook, prepend, *flags)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False):
        """Call ``hook(module, args, output)`` after each forward (a student's feature-map viewer); a non-None
        result replaces the output. With ``with_kwargs``: ``hook(module, args, kwargs, output)``. With
        ``always_call`` the hook also runs (with output None) when forward raises. Returns a removable handle."""
        flags = (self._forward_hooks_with_kwargs,) if with_kwargs else ()
        if always_call:
            flags += (self._forward_hooks_always_called,)
        handle = add_hook(self._forward_hooks, hook, prepend, *flags)
        handle._tables = (self._forward_hooks, self._forward_hooks_with_kwargs, self._forward_hooks_always_called)
        return handle

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to the module's inputs
        are computed: ``grad_input`` has one entry per positional argument (None for non-tensors and inputs that
        do not require grad), ``grad_output`` one per output tensor. A non-None result (a tuple as long as
        grad_input) replaces grad_input. When no input requires grad, the hook runs with grad_input all None
        and must return None. Returns a removable handle (``torch.nn.Module.register_full_backward_hook``)."""
        return add_hook(self._backward_hooks, hook, prepend)

    def register_backward_hook(self, hook):
        raise NotImplementedError("register_backward_hook (deprecated in PyTorch, with misleading grad_input) is "
                                  "not supported; use register_full_backward_hook")


def call_with_hooks(module, args: tuple, kwargs: dict):
    """``module(*args, **kwargs)`` with its hooks, in PyTorch's order: forward pre-hooks (may replace the inputs),
    the backward hook's input wrapping, ``forward``, forward hooks (may replace the output), the output wrapping."""
    for hook_id, hook in list(module._forward_pre_hooks.items()):
        if hook_id in module._forward_pre_hooks_with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                                       f"but got {result!r}")
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)

    state = None
    if module._backward_hooks:
        state = _BackwardHookState(module, list(module._backward_hooks.values()))
        args = state.wrap_inputs(args)

    try:
        output = module.forward(*args, **kwargs)
    except Exception:
        for hook_id, hook in list(module._forward_hooks.items()):
            if hook_id in module._forward_hooks_always_called:
                hook(module, args, kwargs, None) if hook_id in module._forward_hooks_with_kwargs \
                    else hook(module, args, None)
        raise
    for hook_id, hook in list(module._forward_hooks.items()):
        if hook_id in module._forward_hooks_with_kwargs:
            result = hook(module, args, kwargs, output)
        else:
            result = hook(module, args, output)
        if result is not None:
            output = result

    if state is not None:
        output = state.wrap_outputs(output)
    return output


class _BackwardHookState:
    """One call's bookkeeping for the full backward hooks: which arguments are tensors, the grad_output seen."""

    def __init__(self, module, hooks):
        self.module, self.hooks = module, hooks
        self.n_inputs = 0
        self.input_index = None  # positions of the tensor arguments that require grad; None: no input needs grad
        self.zero_inputs = []
        self.grad_outputs = None
        self.n_outputs = 0
        self.output_index = ()
        self.outputs_seen = 0

    # ----- inputs -----
    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        index = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not index or not is_grad_enabled():
            return args
        self.input_index = index
        # PyTorch hands the hooks zeros for the other tensor arguments (its identity wraps every tensor)
        self.zero_inputs = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor) and not a.requires_grad]
        tensors = [args[i] for i in index]
        if len(tensors) == 1:
            wrapped = [_InputHook.apply(tensors[0], state=self)]
        else:
            wrapped = self._wrap_several(tensors)
        args = list(args)
        for i, t in zip(index, wrapped):
            args[i] = t
        return tuple(args)

    def _wrap_several(self, tensors):
        """Several inputs need grad: one identity over all of them (packed into one vector), so that the hooks
        run once, with every input's gradient, after backward has finished with the module."""
        dtypes = {t.dtype for t in tensors}
        devices = {t.device for t in tensors}
        if len(dtypes) > 1 or len(devices) > 1:
            raise NotImplementedError(
                f"register_full_backward_hook: {type(self.module).__name__} got tensor inputs of several dtypes "
                f"or devices ({sorted(map(str, dtypes))}, {sorted(devices)}); tinycnn's backward hooks need one")
        packed = _PackedInputHook.apply(*tensors, state=self)
        out, start = [], 0
        for t in tensors:
            n = t.data.size
            out.append(packed[start:start + n].reshape(t.shape))
            start += n
        return out

    def run_input_hooks(self, grads: list) -> list:
        """Call the hooks with grad_input (one entry per positional argument) and grad_output; return the
        gradients for the wrapped inputs, replaced where a hook returned new ones."""
        grad_input = [None] * self.n_inputs
        for i, g in zip(self.input_index, grads):
            grad_input[i] = Tensor(g)
        for i, a in self.zero_inputs:
            grad_input[i] = Tensor(backend.get_array_module(a.data).zeros_like(a.data))
        grad_input = tuple(grad_input)
        grad_output = tuple(self.grad_outputs) if self.grad_outputs is not None else (None,) * self.n_outputs
        for hook in self.hooks:
            result = hook(self.module, grad_input, grad_output)
            if result is None:
                continue
            if not isinstance(result, (tuple, list)) or len(result) != len(grad_input):
                count = len(result) if isinstance(result, (tuple, list)) else type(result).__name__
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {count}, but "
                                   f"expected {len(grad_input)}")
            grad_input = tuple(result)
        self.grad_outputs = None
        out = []
        for i, g in zip(self.input_index, grads):
            new = grad_input[i]
            out.append(_as_grad(new, g, i))
        return out

    # ----- outputs -----
    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        if not single and not isinstance(output, tuple):
            return output  # PyTorch warns and does not hook outputs that are not a Tensor or a tuple
        outputs = (output,) if single else output
        self.n_outputs = len(outputs)
        self.output_index = [i for i, t in enumerate(outputs) if isinstance(t, Tensor) and t.requires_grad]
        if not self.output_index or not is_grad_enabled():
            return output
        self.grad_outputs = [None] * self.n_outputs
        wrapped = list(outputs)
        for i in self.output_index:
            wrapped[i] = _OutputHook.apply(outputs[i], state=self, index=i)
        return wrapped[0] if single else tuple(wrapped)

    def record_grad_output(self, index: int, g) -> None:
        if self.grad_outputs is None:  # a second backward through the same graph starts afresh
            self.grad_outputs, self.outputs_seen = [None] * self.n_outputs, 0
        self.grad_outputs[index] = Tensor(g)
        self.outputs_seen += 1
        if self.input_index is None and self.outputs_seen == len(self.output_index):
            # no input requires grad: PyTorch calls the hooks now, with grad_input all None, and warns
            warnings.warn("Full backward hook is firing when gradients are computed with respect to module outputs "
                          "since no inputs require gradients.", UserWarning, stacklevel=2)
            grad_input, grad_output = (None,) * self.n_inputs, tuple(self.grad_outputs)
            for hook in self.hooks:
                result = hook(self.module, grad_input, grad_output)
                if result is not None and not (isinstance(result, tuple) and all(r is None for r in result)):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                       "return None or None for all gradients.")
            self.grad_outputs = None


def _as_grad(new, old, position):
    """A hook's replacement gradient as an array of ``old``'s shape, dtype and device."""
    if new is None:
        return None
    arr = new.data if isinstance(new, Tensor) else new
    if tuple(arr.shape) != tuple(old.shape):
        raise RuntimeError(f"Backward hook returned a grad_input[{position}] of shape {tuple(arr.shape)}, expected "
                           f"{tuple(old.shape)}")
    return backend.to_device(arr, backend.device_of(old)).astype(old.dtype, copy=False)


class _InputHook(Function):
    """Identity on the module's one input that requires grad; its backward runs the hooks."""

    def forward(self, x, state):
        self.state = state
        return x

    def backward(self, g):
        (new,) = self.state.run_input_hooks([g])
        return (new,)


class _PackedInputHook(Function):
    """Identity on several inputs packed into one flat vector; backward splits the gradient and runs the hooks."""

    def forward(self, *arrays, state):
        self.state = state
        self.shapes = [a.shape for a in arrays]
        xp = backend.get_array_module(*arrays)
        return xp.concatenate([a.reshape(-1) for a in arrays])

    def backward(self, g):
        grads, start = [], 0
        for shape in self.shapes:
            n = 1
            for s in shape:
                n *= s
            grads.append(g[start:start + n].reshape(shape))
            start += n
        new = self.state.run_input_hooks(grads)
        return tuple(new)


class _OutputHook(Function):
    """Identity on one output: records the gradient with respect to it (grad_output) and passes it on."""

    def forward(self, x, state, index):
        self.state, self.index = state, index
        return x

    def backward(self, g):
        self.state.record_grad_output(self.index, g)
        return (g,)
