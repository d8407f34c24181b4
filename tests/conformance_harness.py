"""The harness of the conformance snippets (issue 12, item 6): PyTorch-style code run with torch and with tinycnn.

Each snippet is written once, against PyTorch's documented API, as a function of the four modules a course imports::

    @snippets.same
    def sgd_by_hand(torch, nn, F, optim):
        ...
        return {"w": w, "loss": loss.item()}

and run twice: with ``torch, torch.nn, torch.nn.functional, torch.optim`` (the peer) and with ``tinycnn,
tinycnn.nn, tinycnn.functional, tinycnn.optim`` standing in. What it returns must be the same in both runs
(``assert_same``): tensors by shape, dtype and values (float tolerance), numbers by type and value, dtypes and
devices by name, containers element by element. Inputs are built from NumPy arrays (the two engines' random
streams differ) and models get the same weights through ``seeded_state``.

A snippet tinycnn does not support is registered with ``@snippets.unsupported(ExceptionType, "message regex")``:
tinycnn must raise that error (checked without torch), and torch must run the snippet (peer), so the listed
snippet is valid PyTorch code. ``@snippets.raises(ExceptionType, "regex")`` is PyTorch's own refusal (an in-place
op on a leaf that requires grad): both engines must raise that type. ``@snippets.xfail(reason)`` marks what
belongs to another part of the project (``torch.utils.data``, torchvision): strict, so the mark goes as soon as
the snippet passes.

``python -m tests.conformance_harness`` prints the counts over every ``tests/test_conformance*.py``.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import numbers
import pathlib

import numpy as np
import pytest


@dataclasses.dataclass
class Snippet:
    fn: object
    kind: str  # "same", "raises", "unsupported" or "xfail"
    exc: type | None = None
    match: str | None = None
    reason: str = ""
    rtol: float = 1e-5
    atol: float = 1e-6

    @property
    def name(self) -> str:
        return self.fn.__name__


class Snippets:
    """The snippets of one test file, and the three tests that run them."""

    def __init__(self):
        self.cases: list[Snippet] = []

    def same(self, fn=None, *, rtol: float = 1e-5, atol: float = 1e-6):
        """Register a snippet whose results must equal torch's (``rtol``/``atol`` for floating values)."""
        def register(f):
            self.cases.append(Snippet(f, "same", rtol=rtol, atol=atol))
            return f
        return register if fn is None else register(fn)

    def unsupported(self, exc: type, match: str):
        """Register a snippet that tinycnn must refuse with ``exc`` whose message matches ``match``."""
        def register(f):
            self.cases.append(Snippet(f, "unsupported", exc=exc, match=match))
            return f
        return register

    def raises(self, exc: type, match: str):
        """Register a snippet that both engines refuse with ``exc`` (tinycnn's message must match ``match``):
        PyTorch's own errors, e.g. an in-place op on a leaf that requires grad."""
        def register(f):
            self.cases.append(Snippet(f, "raises", exc=exc, match=match))
            return f
        return register

    def xfail(self, reason: str):
        """Register a snippet that needs another helper's part (strict xfail: it must fail today)."""
        def register(f):
            self.cases.append(Snippet(f, "xfail", reason=reason))
            return f
        return register

    def of(self, *kinds):
        return [pytest.param(c, id=c.name) for c in self.cases if c.kind in kinds]

    def tests(self):
        """The test functions for a test module: ``test_same_as_torch, test_tinycnn_raises, test_torch_side =
        snippets.tests()``."""
        xfails = [pytest.param(c, id=c.name, marks=pytest.mark.xfail(strict=True, reason=c.reason))
                  for c in self.cases if c.kind == "xfail"]

        @pytest.mark.peer
        @pytest.mark.parametrize("case", self.of("same") + xfails)
        def test_same_as_torch(case):
            torch_mods = torch_modules()
            expected = case.fn(*torch_mods)
            got = case.fn(*tinycnn_modules())
            assert_same(got, expected, rtol=case.rtol, atol=case.atol)

        @pytest.mark.parametrize("case", self.of("unsupported", "raises"))
        def test_tinycnn_raises(case):
            with pytest.raises(case.exc, match=case.match):
                case.fn(*tinycnn_modules())

        @pytest.mark.peer
        @pytest.mark.parametrize("case", self.of("unsupported", "raises"))
        def test_torch_side(case):
            if case.kind == "raises":  # PyTorch refuses it too, with the same exception type
                with pytest.raises(case.exc):
                    case.fn(*torch_modules())
            else:
                case.fn(*torch_modules())  # the snippet is valid PyTorch code that tinycnn does not support

        if not self.of("unsupported", "raises"):  # no empty parametrizations (they show up as skips)
            test_tinycnn_raises = test_torch_side = None
        return test_same_as_torch, test_tinycnn_raises, test_torch_side


def torch_modules():
    torch = pytest.importorskip("torch")
    import torch.nn.functional  # noqa: PLC0415
    import torch.optim.lr_scheduler  # noqa: F401,PLC0415

    return torch, torch.nn, torch.nn.functional, torch.optim


def tinycnn_modules():
    import tinycnn  # noqa: PLC0415
    import tinycnn.functional  # noqa: PLC0415
    import tinycnn.nn  # noqa: PLC0415
    import tinycnn.optim  # noqa: PLC0415

    return tinycnn, tinycnn.nn, tinycnn.functional, tinycnn.optim


def seeded_state(model, torch, seed: int = 0) -> dict:
    """A state dict for ``model`` with deterministic values (from NumPy), written with the snippet's ``torch``:
    floating entries drawn uniformly in [-0.5, 0.5) scaled by 1/sqrt(fan-in), other entries (counters) kept."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, value in model.state_dict().items():
        shape = tuple(value.shape)
        if value.is_floating_point():
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            arr = (rng.random(shape) - 0.5) / math.sqrt(fan_in)
            if name.endswith("running_var"):
                arr = np.abs(arr) + 0.5
            state[name] = torch.tensor(arr.astype(np.float32))
        else:
            state[name] = value
    return state


def _dtype_name(dtype) -> str | None:
    """'float32' for torch.float32 and for tinycnn's float32 (a numpy dtype); None for anything else."""
    if isinstance(dtype, np.dtype):
        return dtype.name
    if type(dtype).__module__ == "torch" and type(dtype).__name__ == "dtype":
        return str(dtype).replace("torch.", "")
    return None


def _is_torch(value, name: str) -> bool:
    return type(value).__module__.startswith("torch") and any(c.__name__ == name for c in type(value).__mro__)


def assert_same(got, expected, rtol=1e-5, atol=1e-6, path="result"):
    """Assert that ``got`` (tinycnn's result) is ``expected`` (torch's), as described in the module docstring."""
    import tinycnn  # noqa: PLC0415

    if _is_torch(expected, "Tensor"):
        assert isinstance(got, tinycnn.Tensor), f"{path}: expected a Tensor, got {type(got).__name__}"
        assert tuple(got.shape) == tuple(expected.shape), f"{path}: shape {tuple(got.shape)} != {tuple(expected.shape)}"
        assert got.dtype.name == _dtype_name(expected.dtype), f"{path}: dtype {got.dtype} != {expected.dtype}"
        assert got.requires_grad == expected.requires_grad, f"{path}: requires_grad {got.requires_grad}"
        want = expected.detach().cpu().numpy()
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got.numpy(), want, rtol=rtol, atol=atol, err_msg=path)
        else:
            np.testing.assert_array_equal(got.numpy(), want, err_msg=path)
    elif _dtype_name(expected) is not None and not isinstance(expected, np.dtype):
        assert _dtype_name(got) == _dtype_name(expected), f"{path}: dtype {got!r} != {expected!r}"
    elif _is_torch(expected, "device"):
        assert type(got).__name__ == "device", f"{path}: expected a device, got {type(got).__name__}"
        assert (got.type, got.index, str(got)) == (expected.type, expected.index, str(expected)), path
    elif isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray), f"{path}: expected an ndarray, got {type(got).__name__}"
        assert got.dtype == expected.dtype and got.shape == expected.shape, f"{path}: {got.dtype}{got.shape}"
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=path)
    elif isinstance(expected, dict):
        assert isinstance(got, dict), f"{path}: expected a dict, got {type(got).__name__}"
        assert list(got) == list(expected), f"{path}: keys {list(got)} != {list(expected)}"
        for k in expected:
            assert_same(got[k], expected[k], rtol, atol, f"{path}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(got, (list, tuple)), f"{path}: expected a sequence, got {type(got).__name__}"
        assert isinstance(got, list) == isinstance(expected, list), f"{path}: list vs tuple"
        assert len(got) == len(expected), f"{path}: length {len(got)} != {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, rtol, atol, f"{path}[{i}]")
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert type(got) is type(expected) and got == expected, f"{path}: {got!r} != {expected!r}"
    elif isinstance(expected, numbers.Integral):
        assert isinstance(got, numbers.Integral) and not isinstance(got, bool), f"{path}: {got!r} is not an int"
        assert got == expected, f"{path}: {got} != {expected}"
    elif isinstance(expected, numbers.Real):
        assert isinstance(got, float), f"{path}: {got!r} is not a float"
        assert math.isclose(got, expected, rel_tol=rtol, abs_tol=atol), f"{path}: {got} != {expected}"
    else:
        raise TypeError(f"{path}: the harness cannot compare a {type(expected).__name__}")


def counts() -> dict:
    """Snippet counts by kind over every tests/test_conformance*.py (for the report and the README)."""
    total = {"same": [], "raises": [], "unsupported": [], "xfail": []}
    for path in sorted(pathlib.Path(__file__).parent.glob("test_conformance*.py")):
        module = importlib.import_module(f"tests.{path.stem}")
        for case in module.snippets.cases:
            total[case.kind].append(f"{path.stem}::{case.name}")
    return total


if __name__ == "__main__":
    result = counts()
    for kind, names in result.items():
        print(f"{kind}: {len(names)}")
        if kind not in ("same", "raises"):
            for n in names:
                print(f"  {n}")
