"""Regression tests for what the conformance snippets revealed outside the ops (issue 12): clear errors for PyTorch
names tinycnn lacks, randperm, the default dtype, ``torch.autograd.gradcheck``, NumPy's inf/NaN warnings silenced as
PyTorch is silent, optimizer state dicts holding Tensors."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
import tinycnn.optim as optim


@pytest.mark.parametrize("get, text", [
    (lambda: tc.median, "module 'tinycnn' has no attribute 'median': tinycnn does not support torch.median"),
    (lambda: nn.PReLU, "does not support torch.nn.PReLU"), (lambda: F.prelu, "torch.nn.functional.prelu"),
    (lambda: optim.LBFGS, "torch.optim.LBFGS"), (lambda: optim.lr_scheduler.CyclicLR, "lr_scheduler.CyclicLR"),
    (lambda: nn.init.orthogonal_, "torch.nn.init.orthogonal_"), (lambda: tc.autograd.functional, "autograd"),
    (lambda: tc.cuda.memory_allocated, "torch.cuda.memory_allocated")])
def test_missing_pytorch_names_raise_a_clear_attribute_error(get, text):
    # regression: code written for PyTorch got Python's bare "has no attribute"; now the error says what tinycnn
    # does not support and points to the README's differences
    with pytest.raises(AttributeError) as info:
        get()
    assert text in str(info.value) and "Differences from PyTorch" in str(info.value)


def test_missing_names_stay_attribute_errors():
    assert not hasattr(tc, "median") and getattr(tc.zeros(1), "median", None) is None
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'median'"):
        tc.zeros(1).median()  # Python's own message (a Tensor.__getattr__ would slow every op down)
    with pytest.raises(AttributeError, match="no attribute '_private'$"):
        tc._private  # noqa: B018
    # a subpackage that `import tinycnn` does not import is imported on first use (torch.utils.data is there after
    # `import torch`)
    code = "import tinycnn\nprint(tinycnn.models.lenet5.__name__, tinycnn.data.load_mnist.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["lenet5", "load_mnist"]


def test_randperm():
    tc.manual_seed(0)
    p = tc.randperm(10)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(10))
    tc.manual_seed(0)
    assert tc.randperm(10).tolist() == p.tolist()  # seeded
    assert tc.randperm(0).shape == (0,) and tc.randperm(3, dtype=tc.float32).dtype == np.float32
    with pytest.raises(ValueError, match="non-negative"):
        tc.randperm(-1)


def test_default_dtype():
    assert tc.get_default_dtype() is tc.float32 and tc.tensor([1.0]).dtype == tc.get_default_dtype()
    tc.set_default_dtype(tc.float32)  # the default itself is accepted
    with pytest.raises(NotImplementedError, match="float32 only"):
        tc.set_default_dtype(tc.float64)  # never silently ignored


def test_autograd_gradcheck_is_torch_spelling():
    x = tc.tensor([[0.3, -0.2]], dtype=tc.float64, requires_grad=True)
    assert tc.autograd.gradcheck(lambda a: (a * a).sum(), (x,), eps=1e-6, atol=1e-5) is True
    assert tc.autograd.gradcheck is tc.gradcheck


def test_numpy_inf_nan_warnings_are_silent_as_in_torch():
    # regression: tc.tensor([-1.]) ** 0.5 and x / 0 printed NumPy's RuntimeWarnings; torch returns nan / inf silently
    code = ("import numpy as np, tinycnn as tc\n"
            "print((tc.tensor([-1.0]) ** 0.5).tolist(), (tc.tensor([1.0]) / 0).tolist(),\n"
            "      tc.tensor([0.0]).log().tolist())\n"
            "np.array([1.0]) / 0  # the user's own NumPy code still warns\n")
    run = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[nan] [inf] [-inf]"
    assert "tinycnn" not in run.stderr and run.stderr.count("RuntimeWarning") == 1, run.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", r"(divide by zero|invalid value) encountered", RuntimeWarning, r"tinycnn\.")
        assert np.isinf((tc.tensor([1.0]) / 0).item())


def test_optimizer_state_dict_holds_tensors_sharing_memory():
    # regression: the state dict held NumPy arrays where torch's holds tensors (sd["state"][0]["step"] printed as an
    # array, had no .item() returning a float tensor's value...); the values share memory with the optimizer's state
    model = nn.Linear(2, 1)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(tc.ones(1, 2)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    state = sd["state"][0]
    assert all(isinstance(v, tc.Tensor) for v in state.values())
    assert state["step"].item() == 1.0 and state["step"].dtype == np.float32
    assert np.shares_memory(state["exp_avg"].numpy(), opt.state[model.weight]["exp_avg"].numpy())
    opt2 = optim.Adam(nn.Linear(2, 1).parameters(), lr=0.1)
    opt2.load_state_dict(sd)
    assert not np.shares_memory(next(iter(opt2.state.values()))["exp_avg"].numpy(), state["exp_avg"].numpy())


REPR_CASES = [lambda t: t.tensor([1.5, 2.25]), lambda t: t.tensor([1.0, 2.0]), lambda t: t.tensor([1e-5, 1.0]),
              lambda t: t.tensor([1e9, 1.0]), lambda t: t.tensor(3.5), lambda t: t.tensor([[1.5, 2.0], [3.0, 4.0]]),
              lambda t: t.tensor([1, 2]), lambda t: t.tensor([True, False]), lambda t: t.tensor([True]),
              lambda t: t.zeros(0), lambda t: t.zeros(2, 0), lambda t: t.tensor([float("nan"), float("inf"), 1.5]),
              lambda t: t.arange(30.0), lambda t: t.tensor([-1.5, 2.0]), lambda t: t.tensor([1.0], requires_grad=True),
              lambda t: t.tensor([[-1, 20], [3, 4]]), lambda t: t.tensor([0.0, 1000.0, 2000.0])]


@pytest.mark.peer
def test_repr_as_torch():
    # regression: tensors printed as NumPy arrays with "dtype=float32" always and summarized past 20 elements;
    # a notebook's output now reads like the tutorials' (dtype names aside: tinycnn.float64 for torch.float64)
    torch = pytest.importorskip("torch")
    for make in REPR_CASES:
        assert repr(make(tc)) == repr(make(torch))
    assert repr(tc.tensor([1.5], dtype=tc.float64)) == "tensor([1.5000], dtype=tinycnn.float64)"
    assert repr(tc.tensor([1.0], requires_grad=True) * 2) == "tensor([2.], grad_fn=<MulBackward>)"
    assert "..." in repr(tc.zeros(2000)) and "..." not in repr(tc.zeros(1000))


def test_requires_grad_and_grad_assignments_checked_as_torch():
    # regression: x.requires_grad = True on an int tensor, False on a non-leaf (cutting the graph silently), and a
    # .grad of another shape or a number were all accepted; PyTorch refuses each
    x = tc.tensor([1, 2])
    with pytest.raises(TypeError, match="floating dtype"):
        x.requires_grad = True
    x.requires_grad = False  # allowed, as torch
    a = tc.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        b.requires_grad = False
    with pytest.raises(TypeError, match="must be a bool"):
        a.requires_grad = 1
    with pytest.raises(TypeError, match="Tensor or None"):
        a.grad = 5
    with pytest.raises(RuntimeError, match="shape"):
        a.grad = tc.zeros(3)
    with pytest.raises(RuntimeError, match="dtype"):
        a.grad = tc.zeros(2, dtype=tc.float64)
    a.grad = tc.ones(2)
    b.sum().backward()
    assert a.grad.tolist() == [3.0, 3.0]  # accumulated into the assigned gradient
    c = tc.tensor([1.0])
    c.grad = tc.tensor([2.0])  # as torch: a gradient may be set on a tensor that does not require grad
    assert c.grad.tolist() == [2.0]
    a.grad = None
    assert a.grad is None and a.requires_grad and b.requires_grad


def test_import_tinycnn_gives_nn_optim_and_nn_functional():
    # regression: code that does `import torch` and then uses torch.nn / torch.optim / torch.nn.functional got
    # AttributeErrors with tinycnn (nn and optim were not imported by the package; nn.functional did not exist)
    code = ("import tinycnn\nprint(tinycnn.nn.Linear.__name__, tinycnn.optim.SGD.__name__, "
            "tinycnn.nn.functional.relu.__name__)\nimport tinycnn.nn.functional as F\nprint(F is tinycnn.functional)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["Linear", "SGD", "relu", "True"]
