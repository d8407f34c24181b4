"""``tinycnn.device`` and ``tinycnn.cuda`` (issue 12): torch.device's semantics, accepted by every device argument;
the courses' device idiom picks the CPU without CuPy or a GPU."""

import pickle

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
from tinycnn import backend


@pytest.mark.parametrize("args, kwargs, name, type_, index", [
    (("cpu",), {}, "cpu", "cpu", None), (("cuda",), {}, "cuda", "cuda", None), (("cuda:0",), {}, "cuda:0", "cuda", 0),
    (("cuda", 1), {}, "cuda:1", "cuda", 1), ((), {"type": "cuda", "index": 2}, "cuda:2", "cuda", 2),
    (("cpu:0",), {}, "cpu:0", "cpu", 0), ((3,), {}, "cuda:3", "cuda", 3)])
def test_construction_type_index_str(args, kwargs, name, type_, index):
    d = tc.device(*args, **kwargs)
    assert (str(d), d.type, d.index) == (name, type_, index)
    assert tc.device(d) == d and tc.device(str(d)) == d


def test_repr_equality_and_hash_as_torch():
    assert repr(tc.device("cpu")) == "device(type='cpu')"
    assert repr(tc.device("cuda", 0)) == "device(type='cuda', index=0)"
    assert tc.device("cuda") != tc.device("cuda:0")  # no index is not index 0, as torch
    assert tc.device("cpu") == tc.device("cpu") and hash(tc.device("cpu")) == hash(tc.device("cpu"))
    # a device never equals a string (torch.device("cpu") == "cpu" is False): compare .type
    assert (tc.device("cpu") == "cpu") is False and tc.device("cpu") != "cpu"
    assert {tc.device("cuda:1"): 1}[tc.device("cuda", 1)] == 1
    assert pickle.loads(pickle.dumps(tc.device("cuda:1"))) == tc.device("cuda:1")
    with pytest.raises(AttributeError, match="immutable"):
        tc.device("cpu").index = 1


@pytest.mark.parametrize("args, exc, match", [
    (("gpu",), ValueError, "a GPU is 'cuda'"), (("CPU",), ValueError, "'CPU'"), (("cuda:x",), ValueError, "cuda:x"),
    (("cuda:-1",), ValueError, "cuda:-1"), ((" cpu",), ValueError, "' cpu'"), (("cuda", -1), ValueError, "negative"),
    (("cuda:1", 1), ValueError, "must not include an index"), ((1.5,), TypeError, "float"),
    (("cuda", "0"), TypeError, "index must be an int"), ((None,), TypeError, "NoneType")])
def test_bad_devices_raise_naming_the_value(args, exc, match):
    with pytest.raises(exc, match=match):
        tc.device(*args)


def test_tensor_device_is_a_device():
    # regression: Tensor.device was the string "cpu"; torch returns a torch.device, so printing and comparing it
    # with another device must behave as torch's
    x = tc.zeros(2)
    assert isinstance(x.device, tc.device) and x.device == tc.device("cpu") and x.device.type == "cpu"
    assert str(x.device) == "cpu" and f"{x.device}" == "cpu" and x.device.index is None
    assert x.device is tc.zeros(3).device  # one shared object per device name
    assert x.get_device() == -1 and not x.is_cuda


def test_every_device_argument_accepts_a_device_object():
    cpu = tc.device("cpu")
    x = tc.ones(2, 3)
    assert x.to(cpu) is x and x.to(cpu, tc.float64).dtype == np.float64 and x.to(device=cpu) is x
    assert x.to("cpu:0") is x and x.cpu() is x
    for t in (tc.zeros(2, device=cpu), tc.ones(2, device=cpu), tc.full((2,), 1.0, device=cpu),
              tc.arange(3, device=cpu), tc.tensor([1.0], device=cpu), tc.randn(2, device=cpu),
              tc.rand(2, device=cpu), tc.randint(0, 3, (2,), device=cpu), tc.eye(2, device=cpu),
              tc.zeros_like(x, device=cpu), tc.empty(2, device=cpu), tc.linspace(0, 1, 3, device=cpu)):
        assert t.device == cpu
    model = nn.Linear(3, 2).to(cpu)
    assert model is model.to(device=cpu) and next(model.parameters()).device == cpu
    assert model.to(cpu, tc.float64).weight.dtype == np.float64


def test_cuda_device_without_a_gpu_raises_a_clear_error():
    if tc.cuda.is_available():
        pytest.skip("a GPU is present: the transfer works")
    with pytest.raises(backend.DeviceError, match="CuPy|GPU"):
        tc.zeros(2).to(tc.device("cuda"))
    with pytest.raises(backend.DeviceError, match="CuPy|GPU"):
        tc.zeros(2, device="cuda")


def test_cuda_queries_never_raise():
    count = tc.cuda.device_count()
    assert isinstance(count, int) and count >= 0
    assert tc.cuda.is_available() == (count > 0)
    device = tc.device("cuda" if tc.cuda.is_available() else "cpu")
    assert device.type == ("cuda" if count else "cpu")


def test_cuda_queries_without_cupy(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", lambda: None)
    assert tc.cuda.device_count() == 0 and tc.cuda.is_available() is False
    with pytest.raises(backend.DeviceError):
        tc.cuda.current_device()
    with pytest.raises(backend.DeviceError):
        tc.cuda.synchronize()


def test_cuda_manual_seed_leaves_the_cpu_stream_alone():
    tc.manual_seed(3)
    a = tc.rand(4)
    tc.manual_seed(3)
    tc.cuda.manual_seed_all(99)  # seeds the GPU's generator only, as torch.cuda.manual_seed_all
    b = tc.rand(4)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(TypeError, match="seed must be an int"):
        tc.cuda.manual_seed(1.5)


@pytest.mark.peer
def test_device_semantics_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("cpu", "cuda", "cuda:0", "cuda:3", "cpu:0"):
        ours, theirs = tc.device(name), torch.device(name)
        assert (str(ours), repr(ours), ours.type, ours.index) == (str(theirs), repr(theirs), theirs.type, theirs.index)
        assert (ours == name) == (theirs == name)
        assert ours == theirs  # interoperates: tinycnn accepts torch.device arguments too
    assert str(tc.zeros(1).to(torch.device("cpu")).device) == "cpu"
