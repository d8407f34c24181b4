"""Positional arguments mean what they mean in PyTorch (issue 12's rule applied to signatures): for every public
function and class of tinycnn.functional / nn / nn.init / nn.utils / optim / lr_scheduler that torch has too, the
positional parameters are torch's, in torch's order, with torch's defaults. A mismatch is a silent difference:
``F.max_pool2d(x, 3, 2, 0, 1)`` meant ``ceil_mode=1`` in tinycnn and ``dilation=1`` in torch."""

import inspect

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
import tinycnn.optim as optim

# torch's positional parameters that tinycnn does not take (a keyword would raise TypeError, never mean another
# thing): deprecated ones, and varargs of torch's base classes
ALLOWED_MISSING = {"nn.Hardtanh": {"min_value", "max_value"}, "nn.Module": {"*args"}, "nn.Sigmoid": {"*args"},
                   "nn.Tanh": {"*args"}}
# torch functions written in C (no signature to read): their documented positional parameters
DOCUMENTED = {"conv2d": ["input", "weight", "bias", "stride", "padding", "dilation", "groups"],
              "avg_pool2d": ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"],
              "max_pool2d": ["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"]}


def _positional(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return [("*" if p.kind == p.VAR_POSITIONAL else "") + p.name for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]


def _defaults(fn):
    return {p.name: p.default for p in inspect.signature(fn).parameters.values() if p.default is not p.empty}


def _pairs(torch):
    import torch.nn.functional  # noqa: PLC0415
    import torch.nn.init  # noqa: PLC0415
    import torch.nn.utils  # noqa: PLC0415
    import torch.optim.lr_scheduler  # noqa: PLC0415

    for label, ours, theirs in (("F", F, torch.nn.functional), ("nn", nn, torch.nn), ("init", nn.init, torch.nn.init),
                                ("utils", nn.utils, torch.nn.utils), ("optim", optim, torch.optim),
                                ("lr_scheduler", optim.lr_scheduler, torch.optim.lr_scheduler)):
        for name in sorted(n for n in dir(ours) if not n.startswith("_")):
            o, t = getattr(ours, name), getattr(theirs, name, None)
            if t is None or not callable(o) or inspect.ismodule(o):
                continue
            if isinstance(o, type):
                yield f"{label}.{name}", o.__init__, t.__init__, True
            else:
                yield f"{label}.{name}", o, t, False


@pytest.mark.peer
def test_positional_parameters_and_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    problems, checked = [], 0
    for label, ours, theirs, is_class in _pairs(torch):
        mine = _positional(ours)
        expected = _positional(theirs) or DOCUMENTED.get(label.split(".", 1)[1])
        if mine is None or expected is None:
            continue
        checked += 1
        if is_class:
            mine, expected = mine[1:], expected[1:]  # self
        first = 0 if is_class else 1  # a function's first argument may be named x where torch says input
        for i, (m, e) in enumerate(zip(mine, expected)):
            if e.startswith("*"):  # torch takes anything from here (Parameter's __init__): nothing to compare
                break
            if i >= first and m != e:
                problems.append(f"{label}: positional {i} is {m!r}, torch's is {e!r}")
                break
        missing = set(expected[len(mine):]) - ALLOWED_MISSING.get(label, set())
        if missing:
            problems.append(f"{label}: lacks torch's positional parameters {sorted(missing)}")
        try:
            ours_d, theirs_d = _defaults(ours), _defaults(theirs)
        except (TypeError, ValueError):
            continue
        for name in set(ours_d) & set(theirs_d):
            a, b = ours_d[name], theirs_d[name]
            if not (a is b or (type(a) is type(b) and a == b) or (isinstance(a, (int, float)) and
                                                                  isinstance(b, (int, float)) and a == b)):
                problems.append(f"{label}: default {name}={a!r}, torch's is {b!r}")
    assert checked > 60, checked
    assert not problems, "\n".join(problems)


def test_max_pool2d_fifth_positional_is_dilation():
    # regression: F.max_pool2d(x, k, stride, padding, ceil_mode) took ceil_mode fifth, where torch has dilation
    x = tc.tensor(np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5))
    assert F.max_pool2d(x, 2, 2, 0, 1).shape == (1, 1, 2, 2)  # dilation=1, floor: as torch
    assert F.max_pool2d(x, 2, 2, 0, 1, True).shape == (1, 1, 3, 3)  # ceil_mode sixth
    with pytest.raises(NotImplementedError, match="dilation=2"):
        F.max_pool2d(x, 2, 2, 0, 2)
    with pytest.raises(NotImplementedError, match="return_indices"):
        F.max_pool2d(x, 2, return_indices=True)


def test_init_keywords_are_torchs():
    # regression: nn.init.uniform_(w, a=..., b=...) and constant_(w, val=...) raised TypeError (low/high/value)
    w = tc.empty(3, 4)
    nn.init.uniform_(w, a=-0.1, b=0.1)
    assert float(w.abs().max()) <= 0.1
    assert nn.init.constant_(tensor=w, val=0.25).tolist() == [[0.25] * 4] * 3
    with pytest.raises(NotImplementedError, match="generator"):
        nn.init.normal_(w, generator=object())


def test_conv2d_takes_device_and_dtype_as_torch():
    conv = nn.Conv2d(1, 2, 3, 1, 0, 1, 1, True, "zeros", "cpu", tc.float64)
    assert conv.weight.dtype == np.float64 and conv.weight.device == tc.device("cpu")
