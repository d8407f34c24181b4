"""Test helpers for tinycnn's backends: a strict stand-in device, the op cases every backend must pass, runners.

Why a stand-in. CuPy needs a GPU; CI has none. The bug that matters most for "one code path on NumPy and CuPy" is
an op that calls a NumPy function on what would be device data (``np.concatenate(arrays)`` instead of
``xp.concatenate``): it works on the CPU and fails on the GPU. ``StrictArray`` is an ``ndarray`` subclass that
behaves like a CuPy array in the ways that catch this bug:

* a ``numpy.*`` function called on it directly raises TypeError ("NumPy function np.X called on device data"),
  through NumPy's ``__array_function__`` protocol; ``np.asarray`` / ``np.array`` / ``np.ascontiguousarray``
  (which NumPy does not dispatch) are guarded by the fixture instead, as CuPy refuses an implicit conversion;
* ufuncs and operators on it are allowed (CuPy has them) and return StrictArrays, but a ufunc that mixes it with
  a plain host ``ndarray`` raises TypeError (CuPy refuses that too), as does writing a host array into it;
* full reductions, ``argmax`` and element access return 0-d StrictArrays, not NumPy scalars (CuPy's rule), so a
  value that stays on the device is never mistaken for a host copy;
* ``bool()``, ``float()``, ``int()``, ``.item()`` on it are allowed (CuPy syncs) and counted in ``STATS``.

``strict_xp`` is the stand-in array module (the role of ``cupy``): the NumPy namespace, whose functions accept
StrictArrays (they unwrap them, call NumPy, and re-wrap the results) and treat a host array as an explicit
transfer (``strict_xp.asarray(host)`` copies, like ``cupy.asarray``). The ``strict_device`` fixture routes
``tinycnn.backend`` through them: StrictArrays live on device ``"cuda:0"``, ``Tensor.to("cuda")`` and
``Module.to("cuda")`` move to the stand-in, and every ``Function`` is checked to return StrictArrays (forward and
backward) for StrictArray inputs: a plain ndarray there would be a silent host copy.

What it cannot see: a NumPy call on data that is host data on purpose (the data loader), a CUDA kernel's own
correctness (atomic adds, CuPy-only paths such as ``cupyx.scatter_add``), speed. Those need the real GPU tests
(``xp`` fixture, ``-m gpu``) and ``benchmarks/gpu_check.py``.
"""
from __future__ import annotations

import dataclasses
import types
from typing import Callable

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
from tinycnn import backend

STAND_IN_DEVICE = "cuda:0"

# NumPy's conversions, captured before any fixture guards them.
_NP_ARRAY = np.array
_NP_CONVERSIONS = ("asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray")

STATS = {"syncs": 0, "to_host": 0, "to_device": 0}


def reset_stats() -> None:
    for key in STATS:
        STATS[key] = 0


def _is_host_array(a) -> bool:
    return isinstance(a, np.ndarray) and not isinstance(a, StrictArray)


def _unwrap(obj):
    """StrictArrays (also inside tuples, lists, dicts) as plain ndarray views of the same memory."""
    if isinstance(obj, StrictArray):
        return obj.view(np.ndarray)
    if isinstance(obj, tuple):
        return tuple(_unwrap(o) for o in obj)
    if isinstance(obj, list):
        return [_unwrap(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _wrap(obj):
    """NumPy results as device results: ndarrays -> StrictArray views, NumPy scalars -> 0-d StrictArrays."""
    if isinstance(obj, StrictArray):
        return obj
    if isinstance(obj, np.ndarray):
        return obj.view(StrictArray)
    if isinstance(obj, np.generic):
        return obj[...].view(StrictArray)
    if isinstance(obj, tuple):
        return tuple(_wrap(o) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    if isinstance(obj, np.random.Generator):
        return _StrictProxy(obj, "Generator")
    return obj


class StrictArray(np.ndarray):
    """An ndarray that behaves like device (CuPy) data: see the module docstring."""

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"NumPy function np.{func.__name__} called on device data: "
                        f"use xp = backend.get_array_module(x)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out") or ()
        checked = (inputs[0],) + inputs[2:] if method == "at" else inputs  # ufunc.at's indices may be host
        for a in checked + tuple(out):
            if _is_host_array(a):
                where = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
                raise TypeError(f"{where} mixes device data with a host numpy.ndarray of shape {a.shape}: "
                                f"CuPy refuses this; create the array with xp = backend.get_array_module(x)")
        args = _unwrap(inputs)
        kwargs = {k: (_unwrap(v) if k in ("out", "where") else v) for k, v in kwargs.items()}
        result = getattr(ufunc, method)(*args, **kwargs)
        if method == "at":
            return None
        if out:
            return out[0] if len(out) == 1 else tuple(out)
        return _wrap(result)

    # element access and index reductions give 0-d device arrays, as CuPy does
    def __getitem__(self, index):
        return _wrap(super().__getitem__(index))

    def __setitem__(self, index, value):
        if _is_host_array(value) and value.ndim > 0:
            raise TypeError(f"a host numpy.ndarray of shape {value.shape} written into device data: a hidden "
                            f"host-to-device copy; build the values on the device with xp")
        super().__setitem__(index, value)

    def argmax(self, *args, **kwargs):
        return _wrap(super().argmax(*args, **kwargs))

    def argmin(self, *args, **kwargs):
        return _wrap(super().argmin(*args, **kwargs))

    # host syncs: allowed, counted
    def _sync(self):
        STATS["syncs"] += 1
        return self.view(np.ndarray)

    def __bool__(self):
        return bool(self._sync())

    def __float__(self):
        return float(self._sync())

    def __int__(self):
        return int(self._sync())

    def __index__(self):
        return self._sync().__index__()

    def item(self, *args):
        return self._sync().item(*args)

    def tolist(self):
        return self._sync().tolist()

    def __repr__(self):
        return f"StrictArray({np.ndarray.__repr__(self.view(np.ndarray))})"

    __str__ = __repr__


class _StrictProxy:
    """A NumPy module (or object, e.g. a random Generator) whose callables run on StrictArrays."""

    _CONVERSIONS = set(_NP_CONVERSIONS)

    def __init__(self, target, name):
        self._target, self._name = target, name

    def __repr__(self):
        return f"<strict stand-in for {self._name}>"

    def __getattr__(self, attr):
        obj = getattr(self._target, attr)
        name = f"{self._name}.{attr}"
        if isinstance(obj, types.ModuleType):
            return _StrictProxy(obj, name)
        if isinstance(obj, (np.ufunc, type)) or not callable(obj):
            return obj  # ufuncs handle StrictArrays themselves; dtypes, constants pass through
        conversion = self._target is np and attr in self._CONVERSIONS

        def device_function(*args, **kwargs):
            if conversion:  # xp.asarray(host) is an explicit transfer: a copy, as cupy.asarray
                args = tuple(a.copy() if _is_host_array(a) else a for a in args)
                if any(_is_host_array(a) for a in args):
                    STATS["to_device"] += 1
            else:
                flat = [a for v in list(args) + list(kwargs.values())
                        for a in (v if isinstance(v, (list, tuple)) else (v,))]
                for a in flat:
                    if _is_host_array(a):
                        raise TypeError(f"{name} got a host numpy.ndarray of shape {a.shape} next to device data:"
                                        f" CuPy refuses it; move it with xp.asarray first")
            return _wrap(obj(*_unwrap(args), **_unwrap(kwargs)))

        device_function.__name__ = attr
        return device_function


strict_xp = _StrictProxy(np, "strict_xp")
"""The stand-in array module: NumPy's namespace working on StrictArrays (the role of ``cupy``)."""


def to_strict(array) -> StrictArray:
    """A copy of a host array on the stand-in device."""
    return _wrap(_NP_ARRAY(_unwrap(array), copy=True))


def to_host(array) -> np.ndarray:
    """A NumPy copy of a NumPy, StrictArray or CuPy array (for assertions)."""
    if isinstance(array, StrictArray):
        return array.view(np.ndarray).copy()
    if backend.is_cupy_array(array):
        return array.get()
    return _NP_ARRAY(array, copy=True)


# ----- the fixture -----------------------------------------------------------------------------------------

def _guard_conversion(name, fn):
    def guarded(obj, *args, **kwargs):
        items = obj if isinstance(obj, (list, tuple)) else (obj,)
        if any(isinstance(o, StrictArray) for o in items):
            raise TypeError(f"np.{name} called on device data (an implicit device-to-host copy, which CuPy "
                            f"refuses): use xp = backend.get_array_module(x), or backend.to_device(x, 'cpu')")
        return fn(obj, *args, **kwargs)

    guarded.__name__ = name
    return guarded


def install_strict_device(monkeypatch) -> None:
    """Route ``tinycnn.backend`` through the stand-in device and guard NumPy's conversions (see module doc)."""
    orig_gam, orig_device_of, orig_parse = backend.get_array_module, backend.device_of, backend.parse_device

    def get_array_module(*arrays):
        if any(isinstance(a, StrictArray) for a in arrays):
            return strict_xp
        return orig_gam(*arrays)

    def device_of(array):
        return STAND_IN_DEVICE if isinstance(array, StrictArray) else orig_device_of(array)

    def to_device(array, device):
        device = orig_parse(device)
        if device == "cpu":
            if isinstance(array, StrictArray):
                STATS["to_host"] += 1
                return array.view(np.ndarray).copy()
            return array
        if device != STAND_IN_DEVICE:
            raise backend.DeviceError(f"the stand-in device has one GPU, {STAND_IN_DEVICE}; got {device}")
        if isinstance(array, StrictArray):
            return array
        STATS["to_device"] += 1
        return to_strict(array)

    for name, fn in (("get_array_module", get_array_module), ("device_of", device_of), ("to_device", to_device)):
        monkeypatch.setattr(backend, name, fn)
    for name in _NP_CONVERSIONS:
        monkeypatch.setattr(np, name, _guard_conversion(name, getattr(np, name)))
    monkeypatch.setattr(tc.Function, "apply", classmethod(_checked_apply))
    monkeypatch.setattr(backend, "_rngs", {})  # fresh generators; restored after the test
    reset_stats()


_ORIG_APPLY = tc.Function.apply.__func__


def _checked_apply(cls, *inputs, **params):
    """Function.apply that fails when an op given device inputs returns host arrays (forward or backward)."""
    on_device = any(isinstance(getattr(t, "data", None), StrictArray) for t in inputs)
    out = _ORIG_APPLY(cls, *inputs, **params)
    if not on_device or (cls.__name__ == "ToDevice" and params.get("device") == "cpu"):  # .to("cpu"): on purpose
        return out
    if not isinstance(out.data, StrictArray):
        raise AssertionError(f"{cls.__name__}.forward returned a {type(out.data).__module__}."
                             f"{type(out.data).__name__} for device inputs: a silent host copy")
    fn = out._ctx
    if fn is not None:
        backward = fn.backward

        def checked_backward(g):
            grads = backward(g)
            for i, gi in enumerate(grads if isinstance(grads, tuple) else (grads,)):
                if gi is not None and not isinstance(gi, StrictArray):
                    raise AssertionError(f"{cls.__name__}.backward returned a {type(gi).__module__}."
                                         f"{type(gi).__name__} for input {i} of device data: a silent host copy")
            return grads

        fn.backward = checked_backward
    return out


@pytest.fixture
def strict_device(monkeypatch):
    """The strict stand-in device as ``"cuda:0"`` for the duration of one test (see the module docstring)."""
    install_strict_device(monkeypatch)
    yield types.SimpleNamespace(device=STAND_IN_DEVICE, put=to_strict, xp=strict_xp, stats=STATS)


# ----- op cases: every op of tinycnn.functional, forward and backward -----------------------------------------

@dataclasses.dataclass
class OpCase:
    """One op call. ``inputs`` are (kind, host array builder) with kind "grad" (a Tensor that requires grad),
    "const" (a Tensor that does not) or "raw" (the array itself, e.g. batch norm's running statistics, class
    labels, an index array). ``fn`` gets them in order and returns a Tensor. ``random``: the result depends on
    the device's random generator (dropout), so values are only compared where the generators agree."""
    name: str
    inputs: list
    fn: Callable
    random: bool = False


def _normal(*shape, scale=1.0, dtype=np.float32):
    return lambda rng: (rng.standard_normal(shape) * scale).astype(dtype)


def _positive(*shape, dtype=np.float32):
    return lambda rng: (rng.uniform(0.5, 2.0, shape)).astype(dtype)


def _ints(high, *shape):
    return lambda rng: rng.integers(0, high, shape).astype(np.int64)


def _ties(*shape):  # values with many exact ties (max-pool's first-maximum rule) and negative values
    return lambda rng: rng.integers(-3, 3, shape).astype(np.float32)


G, C, R = "grad", "const", "raw"

OP_CASES = [
    # convolution
    OpCase("conv2d", [(G, _normal(2, 3, 7, 7)), (G, _normal(4, 3, 3, 3, scale=0.3)), (G, _normal(4))],
           lambda x, w, b: F.conv2d(x, w, b)),
    OpCase("conv2d stride/padding", [(G, _normal(2, 3, 8, 7)), (G, _normal(5, 3, 3, 2, scale=0.3)), (G, _normal(5))],
           lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2))),
    OpCase("conv2d dilation, no bias", [(G, _normal(1, 2, 9, 9)), (G, _normal(3, 2, 3, 3, scale=0.3))],
           lambda x, w: F.conv2d(x, w, stride=2, padding=2, dilation=2)),
    OpCase("conv2d groups", [(G, _normal(2, 4, 6, 6)), (G, _normal(6, 2, 3, 3, scale=0.3)), (G, _normal(6))],
           lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2)),
    OpCase("conv2d 1x1 stride 2", [(G, _normal(2, 4, 6, 6)), (G, _normal(3, 4, 1, 1))],
           lambda x, w: F.conv2d(x, w, stride=2)),
    OpCase("conv2d row windows", [(G, _normal(2, 2, 4, 260)), (G, _normal(3, 2, 3, 3, scale=0.3)), (G, _normal(3))],
           lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=1)),  # W_out * N = 260: row windows
    OpCase("conv2d input without grad", [(C, _normal(2, 1, 6, 6)), (G, _normal(2, 1, 5, 5, scale=0.3))],
           lambda x, w: F.conv2d(x, w, padding=2)),
    # pooling
    OpCase("max_pool2d", [(G, _normal(2, 3, 6, 6))], lambda x: F.max_pool2d(x, 2)),
    OpCase("max_pool2d ties", [(G, _ties(2, 2, 6, 6))], lambda x: F.max_pool2d(x, 2)),
    OpCase("max_pool2d 3x3/2 overlap, padding", [(G, _normal(2, 2, 7, 7))],
           lambda x: F.max_pool2d(x, 3, stride=2, padding=1)),
    OpCase("max_pool2d ceil_mode", [(G, _normal(1, 2, 8, 7))], lambda x: F.max_pool2d(x, 3, stride=2, ceil_mode=True)),
    OpCase("max_pool2d NaN", [(G, lambda rng: np.where(rng.random((1, 1, 4, 4)) < 0.2, np.nan,
                                                        rng.standard_normal((1, 1, 4, 4))).astype(np.float32))],
           lambda x: F.max_pool2d(x, 2)),
    OpCase("avg_pool2d", [(G, _normal(2, 3, 6, 6))], lambda x: F.avg_pool2d(x, 2)),
    OpCase("avg_pool2d padding, ceil_mode", [(G, _normal(2, 2, 7, 8))],
           lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)),
    OpCase("avg_pool2d count_include_pad=False", [(G, _normal(1, 2, 5, 5))],
           lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)),
    OpCase("adaptive_avg_pool2d 7->3", [(G, _normal(2, 3, 7, 7))], lambda x: F.adaptive_avg_pool2d(x, 3)),
    OpCase("adaptive_avg_pool2d (2, 5)", [(G, _normal(1, 2, 5, 6))], lambda x: F.adaptive_avg_pool2d(x, (2, 5))),
    OpCase("adaptive_avg_pool2d 1 (global)", [(G, _normal(2, 3, 5, 4))], lambda x: F.adaptive_avg_pool2d(x, 1)),
    OpCase("global_avg_pool2d", [(G, _normal(2, 3, 5, 4))], F.global_avg_pool2d),
    # normalization
    OpCase("batch_norm train 4-D", [(G, _normal(4, 3, 5, 5)), (R, _normal(3)), (R, _positive(3)),
                                    (G, _positive(3)), (G, _normal(3))],
           lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=True)),
    OpCase("batch_norm eval 4-D", [(G, _normal(4, 3, 5, 5)), (R, _normal(3)), (R, _positive(3)),
                                   (G, _positive(3)), (G, _normal(3))],
           lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=False)),
    OpCase("batch_norm train 2-D, no affine", [(G, _normal(6, 4)), (R, _normal(4)), (R, _positive(4))],
           lambda x, rm, rv: F.batch_norm(x, rm, rv, training=True, momentum=0.3)),
    OpCase("local_response_norm", [(G, _normal(2, 7, 4, 4))], lambda x: F.local_response_norm(x, 5, 1e-2, 0.75, 2.0)),
    OpCase("local_response_norm even size, 2-D", [(G, _normal(3, 6))], lambda x: F.local_response_norm(x, 4, 0.1)),
    # linear algebra
    OpCase("linear", [(G, _normal(5, 4)), (G, _normal(3, 4)), (G, _normal(3))], lambda x, w, b: F.linear(x, w, b)),
    OpCase("linear 3-D input, no bias", [(G, _normal(2, 5, 4)), (G, _normal(3, 4))], lambda x, w: F.linear(x, w)),
    OpCase("matmul 2-D", [(G, _normal(3, 4)), (G, _normal(4, 2))], F.matmul),
    OpCase("matmul batched broadcast", [(G, _normal(2, 1, 3, 4)), (G, _normal(3, 4, 5))], F.matmul),
    OpCase("matmul vector @ matrix", [(G, _normal(4)), (G, _normal(4, 3))], F.matmul),
    OpCase("matmul matrix @ vector", [(G, _normal(3, 4)), (G, _normal(4))], F.matmul),
    OpCase("matmul vector @ vector", [(G, _normal(4)), (G, _normal(4))], F.matmul),
    OpCase("operator @ with a constant", [(G, _normal(3, 4)), (C, _normal(4, 2))], lambda a, b: a @ b),
    # elementwise and reductions
    OpCase("add broadcast", [(G, _normal(2, 3, 4)), (G, _normal(3, 1))], F.add),
    OpCase("sub broadcast", [(G, _normal(3, 1)), (G, _normal(2, 3, 4))], F.sub),
    OpCase("mul broadcast", [(G, _normal(2, 3, 4)), (G, _normal(4))], F.mul),
    OpCase("div broadcast", [(G, _normal(2, 3)), (G, _positive(1, 3))], F.div),
    OpCase("operators with Python numbers", [(G, _positive(2, 3))],
           lambda x: (2.0 - x) * 3.0 / (x + 1.0) + 1.0 / x - (-x) ** 2),
    OpCase("neg", [(G, _normal(3, 2))], F.neg),
    OpCase("pow 3", [(G, _normal(3, 2))], lambda x: F.pow(x, 3)),
    OpCase("pow -0.5", [(G, _positive(3, 2))], lambda x: x ** -0.5),
    OpCase("pow 0", [(G, _normal(3, 2))], lambda x: x ** 0),
    OpCase("exp", [(G, _normal(3, 2))], F.exp),
    OpCase("log", [(G, _positive(3, 2))], F.log),
    OpCase("sum all", [(G, _normal(2, 3, 4))], lambda x: F.sum(x)),
    OpCase("sum axes keepdims", [(G, _normal(2, 3, 4))], lambda x: F.sum(x, axis=(0, 2), keepdims=True)),
    OpCase("mean axis", [(G, _normal(2, 3, 4))], lambda x: F.mean(x, axis=-1)),
    OpCase("mean all", [(G, _normal(2, 3, 4))], lambda x: x.mean()),
    # activations and losses
    OpCase("relu", [(G, _ties(3, 4))], F.relu),
    OpCase("tanh", [(G, _normal(3, 4))], F.tanh),
    OpCase("sigmoid", [(G, _normal(3, 4, scale=10))], F.sigmoid),
    OpCase("scaled_tanh", [(G, _normal(3, 4))], F.scaled_tanh),
    OpCase("softmax", [(G, _normal(3, 5, scale=5))], lambda x: F.softmax(x, dim=-1)),
    OpCase("softmax axis 0", [(G, _normal(3, 5))], lambda x: F.softmax(x, axis=0)),
    OpCase("log_softmax", [(G, _normal(3, 5, scale=5))], lambda x: F.log_softmax(x, axis=1)),
    OpCase("cross_entropy mean", [(G, _normal(6, 5, scale=3)), (R, _ints(5, 6))], F.cross_entropy),
    OpCase("cross_entropy sum", [(G, _normal(6, 5)), (R, _ints(5, 6))],
           lambda x, t: F.cross_entropy(x, t, reduction="sum")),
    OpCase("cross_entropy none", [(G, _normal(6, 5)), (R, _ints(5, 6))],
           lambda x, t: F.cross_entropy(x, t, reduction="none")),
    OpCase("cross_entropy, target a Tensor", [(G, _normal(4, 3)), (C, _ints(3, 4))], F.cross_entropy),
    OpCase("nll_loss", [(G, _normal(6, 5)), (R, _ints(5, 6))], lambda x, t: F.nll_loss(F.log_softmax(x, dim=1), t)),
    OpCase("leaky_relu", [(G, _ties(3, 4))], lambda x: F.leaky_relu(x, 0.1)),
    OpCase("elu", [(G, _normal(3, 4, scale=3))], lambda x: F.elu(x, 0.5)),
    OpCase("silu", [(G, _normal(3, 4, scale=3))], F.silu),
    OpCase("gelu", [(G, _normal(3, 4, scale=3))], F.gelu),
    OpCase("gelu tanh", [(G, _normal(3, 4, scale=3))], lambda x: F.gelu(x, approximate="tanh")),
    OpCase("cross_entropy weight, ignore_index, smoothing", [(G, _normal(6, 5)), (R, lambda rng: np.array(
        [0, 4, -100, 2, 2, 1])), (C, _positive(5))],
        lambda x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.2)),
    OpCase("cross_entropy (N, C, H, W)", [(G, _normal(2, 4, 3, 3)), (R, _ints(4, 2, 3, 3))], F.cross_entropy),
    OpCase("cross_entropy probabilities", [(G, _normal(4, 3)), (G, _positive(4, 3))],
           lambda x, q: F.cross_entropy(x, q, reduction="sum")),
    OpCase("nll_loss weight none", [(G, _normal(5, 3)), (R, _ints(3, 5)), (C, _positive(3))],
           lambda x, t, w: F.nll_loss(x, t, weight=w, reduction="none")),
    OpCase("mse_loss", [(G, _normal(3, 4)), (G, _normal(3, 4))], F.mse_loss),
    OpCase("l1_loss sum", [(G, _normal(3, 4)), (G, _normal(3, 4))], lambda a, b: F.l1_loss(a, b, reduction="sum")),
    OpCase("binary_cross_entropy", [(G, lambda rng: rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32)),
                                    (G, lambda rng: rng.uniform(0, 1, (3, 4)).astype(np.float32)), (C, _positive(4))],
           lambda p, y, w: F.binary_cross_entropy(p, y, weight=w)),
    OpCase("binary_cross_entropy_with_logits", [(G, _normal(3, 4, scale=3)),
                                                (C, lambda rng: rng.uniform(0, 1, (3, 4)).astype(np.float32)),
                                                (C, _positive(4))],
           lambda z, y, pw: F.binary_cross_entropy_with_logits(z, y, pos_weight=pw, reduction="none")),
    OpCase("dropout2d", [(G, _normal(3, 4, 2, 2))], lambda x: F.dropout2d(x, 0.5), random=True),
    OpCase("dropout", [(G, _normal(4, 6))], lambda x: F.dropout(x, 0.5), random=True),
    OpCase("dropout p=0.2 4-D", [(G, _normal(2, 3, 4, 4))], lambda x: F.dropout(x, 0.2), random=True),
    # shape
    OpCase("concat axis 1", [(G, _normal(2, 3, 4)), (G, _normal(2, 1, 4)), (C, _normal(2, 2, 4))],
           lambda *ts: F.concat(ts, axis=1)),
    OpCase("concat axis -1", [(G, _normal(2, 3)), (G, _normal(2, 2))], lambda *ts: F.concat(ts, axis=-1)),
    OpCase("pad", [(G, _normal(2, 3, 4))], lambda x: F.pad(x, (2, 0, 1, 2), value=1.5)),  # last dim first, as torch
    OpCase("pad negative crops", [(G, _normal(2, 5, 4))], lambda x: F.pad(x, (-1, 2, 1, -2))),
    OpCase("getitem slices", [(G, _normal(4, 5, 6))], lambda x: x[1:3, ::2, -3:]),
    OpCase("getitem int and None", [(G, _normal(4, 5))], lambda x: x[2, None, 1:]),
    OpCase("getitem index array with repeats", [(G, _normal(5, 3)), (R, lambda rng: np.array([0, 2, 2, 4, 0]))],
           lambda x, i: F.getitem(x, i)),
    OpCase("getitem tuple of index arrays", [(G, _normal(4, 5)), (R, lambda rng: np.array([0, 3, 3])),
                                             (R, lambda rng: np.array([1, 1, 4]))],
           lambda x, i, j: F.getitem(x, (i, j))),
    OpCase("getitem boolean mask", [(G, _normal(3, 4)), (R, lambda rng: rng.random((3, 4)) > 0.5)],
           lambda x, m: F.getitem(x, m)),
    OpCase("reshape", [(G, _normal(2, 3, 4))], lambda x: x.reshape(4, -1)),
    OpCase("permute", [(G, _normal(2, 3, 4))], lambda x: F.permute(x, 2, 0, 1)),
    OpCase("transpose", [(G, _normal(2, 3, 4))], lambda x: F.transpose(x, 0, 2)),
    OpCase("T", [(G, _normal(2, 3))], lambda x: x.T),
    OpCase("flatten", [(G, _normal(2, 3, 2, 2))], F.flatten),
    OpCase("flatten from dim 1", [(G, _normal(2, 3, 2, 2))], lambda x: F.flatten(x, 1)),
    OpCase("flatten middle axes", [(G, _normal(2, 3, 2, 2))], lambda x: F.flatten(x, 1, 2)),
    # the tensor API of issue 12: elementwise, reductions, comparisons, shape, casts and in-place ops
    OpCase("abs, sqrt, sign, clamp", [(G, _positive(3, 4))],
           lambda x: (x - 1).abs() + x.sqrt() + x.sign() * x.clamp(0.7, 1.5)),
    OpCase("maximum, minimum", [(G, _ties(3, 4)), (G, _ties(4))], lambda a, b: tc.maximum(a, b) - tc.minimum(a, b) * 2),
    OpCase("where", [(G, _normal(3, 4)), (G, _normal(4))], lambda a, b: tc.where(a > 0, a, b)),
    OpCase("remainder, pow tensor", [(G, _positive(3, 4)), (G, _positive(3, 4))], lambda a, b: a % b + a ** b),
    OpCase("prod, var, std", [(G, _positive(2, 3, 4))],
           lambda x: x.prod(2) + x.var(2) + x.std(dim=(1, 2), keepdim=True)),
    OpCase("max dim, amax, max", [(G, _ties(2, 3, 4))], lambda x: x.max(2).values + x.amax(dim=(0, 2)) + x.max()),
    OpCase("min dim keepdim, amin", [(G, _normal(2, 3, 4))], lambda x: x.min(2, keepdim=True)[0] + x.amin(1, True)),
    OpCase("view, squeeze, unsqueeze, expand, repeat", [(G, _normal(2, 1, 3))],
           lambda x: x.view(2, 3).unsqueeze(0).expand(2, 2, 3).repeat(1, 2, 1).squeeze()),
    OpCase("stack, cat of two dtypes", [(G, _normal(2, 3)), (G, _normal(2, 3, dtype=np.float64))],
           lambda a, b: tc.cat([tc.stack([a, a], 1).reshape(4, 3), b], 0)),
    OpCase("chunk, split, clone", [(G, _normal(4, 6))],
           lambda x: x.chunk(2, 1)[0].clone() * x.split([1, 3])[1][:1, :3]),
    OpCase("cast to float64", [(G, _normal(3, 2))], lambda x: x.double() * 2),
    OpCase("in-place ops in a graph", [(G, _normal(3, 4)), (G, _normal(4))],
           lambda x, y: _inplace_chain(x, y)),
    OpCase("a small graph: shared input, residual add", [(G, _normal(2, 3)), (G, _normal(3, 3))],
           lambda x, w: F.relu(x @ w) + x * F.sigmoid(x)),
]


def _inplace_chain(x, y):
    h = x * 1
    h *= y
    h += x
    h[0] = y * 2
    h.clamp_(-1.5, 1.5)
    return h


def float64_case(case: OpCase) -> OpCase:
    """The same case with float64 inputs (for gradchecks)."""
    def cast(build):
        return lambda rng: (lambda a: a.astype(np.float64) if a.dtype == np.float32 else a)(build(rng))

    return dataclasses.replace(case, inputs=[(kind, cast(build)) for kind, build in case.inputs])


def run_case(case: OpCase, put: Callable, seed: int = 0):
    """Run ``case`` forward and backward with its inputs built on the host and put on a device by ``put``.

    Returns (output array, [gradient array or None per input], [raw arrays after the call]) as device arrays;
    the backward pass gets a fixed random gradient (``put`` on the device as well). ``tc.manual_seed(seed)`` is
    called first, so dropout draws the same mask from any device whose generator follows NumPy's.
    """
    rng = np.random.default_rng(seed)
    host = [(kind, build(rng)) for kind, build in case.inputs]
    args, tensors, raws = [], [], []
    for kind, a in host:
        if kind == R:
            arg = put(a)
            raws.append(arg)
        else:
            arg = tc.Tensor(put(a), requires_grad=(kind == G))
            tensors.append(arg)
        args.append(arg)
    tc.manual_seed(seed)
    out = case.fn(*args)
    g = put(rng.standard_normal(out.shape).astype(out.dtype))
    if out.requires_grad:
        out.backward(g)
    grads = [None if t.grad is None else t.grad.data for t in tensors]
    return out.data, grads, raws


def tiny_residual_concat_net(num_classes: int = 5) -> "tc.nn.Module":
    """A small net that uses every container and most layers: Residual (identity and projection shortcut),
    Concat (Inception-like branches), batch norm, LRN, max/avg/adaptive pooling, dropout, linear."""
    from tinycnn import nn  # noqa: PLC0415

    def conv_bn(cin, cout, k, stride=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout))

    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Residual(nn.Sequential(conv_bn(4, 4, 3), nn.ReLU(), conv_bn(4, 4, 3)), activation=nn.ReLU()),
        nn.Residual(nn.Sequential(conv_bn(4, 8, 3, stride=2), nn.ReLU(), conv_bn(8, 8, 3)),
                    shortcut=conv_bn(4, 8, 1, stride=2), activation=nn.ReLU()),
        nn.Concat(nn.Conv2d(8, 4, 1),
                  nn.Sequential(nn.Conv2d(8, 2, 1), nn.ReLU(), nn.Conv2d(2, 4, 3, padding=1)),
                  nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(8, 4, 1))),
        nn.LocalResponseNorm(3),
        nn.AvgPool2d(2, ceil_mode=True),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(12 * 4, num_classes),
    )


def train_steps(model, optimizer_factory, batches, put, device=None, steps: int = 2):
    """``steps`` optimizer steps on ``batches`` (host (x, y) pairs) with ``put`` moving each to the device.

    Returns the host losses and a host copy of the final state dict (name -> ndarray). ``device``: moves the model first.
    """
    if device is not None:
        model.to(device)
    optimizer = optimizer_factory(model.parameters())
    losses = []
    model.train()
    for step in range(steps):
        x, y = batches[step % len(batches)]
        logits = model(tc.Tensor(put(x)))
        loss = F.cross_entropy(logits, put(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(to_host(loss.data))
    # a host copy: state_dict() values are Tensors sharing the parameters' (device) arrays, as PyTorch's
    return losses, {k: backend.to_device(v.data, "cpu") for k, v in model.state_dict().items()}, optimizer
