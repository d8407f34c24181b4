"""The ``Optimizer`` base class, as ``torch.optim.Optimizer``: parameter groups, per-parameter state, state dicts.

* ``param_groups``: a list of dicts, each with its ``"params"`` (a list of leaf Tensors) and its own options
  (``lr``, ``momentum``, ...); an option a group does not give takes the optimizer's default (``defaults``).
  ``optimizer.param_groups[0]["lr"] = 0.01`` changes the learning rate (what schedulers do).
* ``state``: a dict keyed by parameter (``optimizer.state[p]["momentum_buffer"]``), values Tensors on the
  parameter's device (they follow it when ``Module.to`` moves the model).
* ``state_dict()`` / ``load_state_dict()`` in PyTorch's form: ``{"state": {0: {...}, 1: {...}}, "param_groups":
  [{"lr": ..., ..., "params": [0, 1]}]}`` where the integers number the parameters in group order; arrays are
  host NumPy arrays (references on the CPU, copies from a GPU), so a checkpoint can store them.

Updates run on the parameters' arrays in place (the Parameter objects never change). Gradients are read, never
modified (PITFALLS P16, P17). A parameter whose ``grad`` is None is skipped, as in PyTorch (a frozen layer).
"""
from __future__ import annotations

import copy
import numbers
import warnings
from collections import defaultdict

import numpy as np

from .. import backend
from ..tensor import Tensor, enable_grad, zero_grads

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """The default of an option every group must give (PyTorch's ``torch.optim.optimizer.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

# Options PyTorch's optimizers have that tinycnn does not implement: only their default value is accepted.
_UNSUPPORTED = {"foreach": (None, False), "fused": (None, False), "capturable": (False,), "differentiable": (False,)}


def _typename(value) -> str:
    return type(value).__name__


class Optimizer:
    """Base class of the optimizers (``torch.optim.Optimizer``).

    Args:
        params: an iterable of Tensors (leaves, e.g. ``model.parameters()``), of (name, Tensor) pairs
            (``model.named_parameters()``), or of dicts, each a parameter group with ``"params"`` and options.
        defaults: the options of a group that does not give them.

    Subclasses implement ``_step_group(group)`` and ``_check_options(options)``. Raises TypeError for a non-Tensor
    parameter, a single Tensor or a set as ``params``; ValueError for an empty list, a non-leaf tensor, a
    parameter in two groups, a missing required option or an invalid option value (named);
    NotImplementedError for PyTorch options tinycnn does not implement (foreach, fused, capturable,
    differentiable set to a non-default value).
    """

    def __init__(self, params, defaults: dict):
        self._check_options(defaults)
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(f"params argument given to the optimizer should be an iterable of Tensors or dicts, but "
                            f"got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __getstate__(self) -> dict:
        """For pickle / deepcopy: what PyTorch keeps (a scheduler's wrapper around ``step`` is left out)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("step", "_opt_called")}

    # ----- options -----
    def _check_options(self, options: dict) -> None:  # pragma: no cover - every optimizer overrides it
        pass

    @staticmethod
    def _check_unsupported(options: dict) -> None:
        for name, allowed in _UNSUPPORTED.items():
            if name in options and not any(options[name] is a for a in allowed):
                raise NotImplementedError(f"{name}={options[name]!r} is not supported by tinycnn's optimizers (leave "
                                          f"it at its default {allowed[0]!r})")

    @staticmethod
    def _check_number(name: str, value, minimum=0.0, below=None) -> None:
        """Raise ValueError unless ``value`` is a real number >= ``minimum`` (and < ``below``)."""
        if isinstance(value, Tensor):
            raise TypeError(f"{name} as a Tensor is not supported; pass a Python float, got {value!r}")
        if value is required:
            return
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if not value >= minimum or (below is not None and not value < below):  # NaN fails too
            bound = f"in [{minimum}, {below})" if below is not None else f">= {minimum}"
            raise ValueError(f"Invalid {name} value: {value} (must be {bound})")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (those it lacks come from ``defaults``), as PyTorch's:
        e.g. a backbone unfrozen during fine-tuning with a smaller ``lr``. Raises as the constructor does."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry (the parameters of the group)")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group = dict(param_group, params=params)
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_typename(p)} "
                                f"(params[{i}])")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (params[{i}] was computed from others)")
            if p.dtype.kind != "f":
                raise TypeError(f"params[{i}] has dtype {p.dtype}; only floating tensors can be optimized")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        self._check_options(param_group)
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error", UserWarning, stacklevel=3)
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        for group in self.param_groups:
            if ("param_names" in group) != ("param_names" in param_group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(f"all optimizer param groups should be with/without names. cannot add param group "
                                 f"{which} to the optimizer")
        if taken & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ----- stepping -----
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (PyTorch's default), or zero them in place with
        ``set_to_none=False`` (then a parameter that gets no gradient is still stepped, with 0)."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """One update of every parameter that has a gradient. ``closure``: a function that re-evaluates the model
        and returns the loss (run with grad enabled); its result is returned, else None."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _state_of(self, p, keys) -> dict:
        """``self.state[p]`` with its Tensors in ``keys`` moved to ``p``'s device if ``Module.to`` moved p."""
        state = self.state[p]
        device = None
        for key in keys:
            t = state.get(key)
            if t is not None and type(t.data) is not type(p.data):  # cheap test; then the real one
                device = device or backend.device_of(p.data)
                if backend.device_of(t.data) != device:
                    t.data = backend.to_device(t.data, device)
        return state

    # ----- saving and loading -----
    def state_dict(self) -> dict:
        """``{"state": {index: {name: Tensor or number}}, "param_groups": [{option: value, "params": [index]}]}``,
        PyTorch's form. The state Tensors share memory with the optimizer's on the CPU, as PyTorch's references;
        from a GPU they are host copies (PyTorch keeps them on the GPU), so a checkpoint can store them."""
        mapping, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                mapping.setdefault(id(p), len(mapping))
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            key = mapping.get(id(p), p) if isinstance(p, Tensor) else p
            state[key] = {k: Tensor(backend.to_device(v.data, "cpu")) if isinstance(v, Tensor) else v
                          for k, v in values.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load ``state_dict()``'s result (of an optimizer of the same kind over the same parameters, in the same
        order): options per group and the state, cast to each parameter's dtype and device.

        Everything is checked before anything changes. Raises TypeError / ValueError naming what does not fit:
        not a dict with "state" and "param_groups", another number of groups or of parameters in a group, a
        group lacking an option of this optimizer (saved by another kind), an invalid option value, a state array
        whose shape differs from its parameter's.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("optimizer.load_state_dict expects the dict of optimizer.state_dict() (with 'state' and "
                             "'param_groups')")
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        groups = self.param_groups
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups ({len(saved_groups)}, "
                             f"this optimizer has {len(groups)})")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if not isinstance(s, dict) or "params" not in s:
                raise ValueError(f"loaded state dict's param_groups[{i}] is not a parameter group dict")
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group (param_groups[{i}]: {len(s['params'])} saved, "
                                 f"{len(g['params'])} here)")
            for name, default in self.defaults.items():
                if name not in s:
                    if name in _UNSUPPORTED or isinstance(default, bool):  # flags newer than the saved dict
                        s[name] = default
                    else:
                        raise ValueError(f"loaded state dict's param_groups[{i}] has no {name!r}: was it saved by "
                                         f"another kind of optimizer than {type(self).__name__}?")
            self._check_options(s)
        id_map = {}
        for g, s in zip(groups, saved_groups):
            for saved_id, p in zip(s["params"], g["params"]):
                id_map[_as_key(saved_id)] = p
        state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            key = _as_key(key)
            if key not in id_map:
                state[key] = values  # kept as is, as PyTorch does
                continue
            p = id_map[key]
            state[p] = {name: self._cast_state(p, key, name, v) for name, v in values.items()}
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.state, self.param_groups = state, saved_groups

    @staticmethod
    def _cast_state(p, index, name, value):
        """A saved state value as a Tensor on ``p``'s device (floating ones in ``p``'s dtype; "step" stays on the
        host, as PyTorch keeps it)."""
        if isinstance(value, Tensor):
            value = value.data
        if isinstance(value, (numbers.Number, np.generic)) and not isinstance(value, bool) and name == "step":
            value = np.asarray(value, dtype=np.float32)
        if not (isinstance(value, np.ndarray) or backend.is_cupy_array(value)):
            return value
        if name == "step":
            return Tensor(backend.to_device(value, "cpu").astype(np.float32, copy=True))
        if tuple(value.shape) != tuple(p.shape):
            raise ValueError(f"loaded optimizer state {name!r} of parameter {index} has shape {tuple(value.shape)}, "
                             f"the parameter has {tuple(p.shape)}")
        arr = backend.to_device(value, backend.device_of(p.data))
        dtype = p.dtype if arr.dtype.kind == "f" else arr.dtype
        return Tensor(arr.astype(dtype, copy=True))

    # ----- printing -----
    @property
    def lr(self):
        raise AttributeError("optimizer.lr does not exist (as in PyTorch): read and set the learning rate of each "
                             "group, optimizer.param_groups[i]['lr']")

    @lr.setter
    def lr(self, value):
        raise AttributeError("optimizer.lr does not exist (as in PyTorch), and setting it would change nothing: set "
                             "optimizer.param_groups[i]['lr'] for each group")

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _as_key(key):
    """A state / params index, also when a checkpoint format turned the int keys into strings ("0")."""
    if isinstance(key, str) and key.isdigit():
        return int(key)
    if isinstance(key, np.integer):
        return int(key)
    return key
