"""Creation functions and dtypes at the top level (issue 12, item 1): hand values and, marked peer, PyTorch's."""

import numpy as np
import pytest

import tinycnn as tc

DTYPE_NAMES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


# --- dtypes --------------------------------------------------------------------------------------------------

def test_dtypes_are_numpy_dtypes_under_torch_names():
    for name in DTYPE_NAMES:
        assert getattr(tc, name) == np.dtype(name)
    assert (tc.float, tc.double, tc.half, tc.long, tc.int, tc.short) == (
        tc.float32, tc.float64, tc.float16, tc.int64, tc.int32, tc.int16)
    assert tc.tensor([1.0]).dtype is tc.float32 and tc.tensor([1]).dtype is tc.int64
    assert tc.zeros(2, dtype=tc.float64).dtype == np.float64


def test_dtype_arguments_accept_python_types_and_refuse_others():
    assert tc.zeros(2, dtype=float).dtype == np.float64  # as torch: float is double
    assert tc.zeros(2, dtype=int).dtype == np.int64
    assert tc.zeros(2, dtype=bool).dtype == np.bool_
    assert tc.zeros(2, dtype=np.float32).dtype == np.float32
    with pytest.raises(TypeError, match="dtype must be one of"):
        tc.zeros(2, dtype=np.complex64)
    with pytest.raises(TypeError, match="dtype"):
        tc.ones(2, dtype="uint16")


# --- tensor, from_numpy, as_tensor ---------------------------------------------------------------------------

def test_tensor_copies_an_ndarray():
    # Regression: tinycnn.tensor(ndarray) shared the array; torch.tensor copies (from_numpy shares)
    a = np.array([1.0, 2.0])
    t = tc.tensor(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0] and t.dtype == np.float64
    t.data[1] = 5.0
    assert a[1] == 2.0


def test_tensor_copies_a_tensor_and_cuts_the_graph():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = tc.tensor(x * 2)
    assert not y.requires_grad and y.is_leaf and y.tolist() == [2.0, 4.0]
    z = tc.tensor(x)
    z.data[0] = 7.0
    assert x.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("data, dtype", [
    (3, np.int64), (2.5, np.float32), (True, np.bool_), ([1, 2], np.int64), ([1, 2.5], np.float32),
    ([True, 1], np.int64), ([[1.0], [2.0]], np.float32), ([], np.float32),
    (np.array([1, 2], dtype=np.int32), np.int32), (np.array([1.0], dtype=np.float64), np.float64),
    (np.float64(1.5), np.float64), ([np.float64(1.5), 2.0], np.float64), (np.uint8(3), np.uint8),
])
def test_tensor_infers_torch_dtypes(data, dtype):
    assert tc.tensor(data).dtype == dtype


@pytest.mark.peer
@pytest.mark.parametrize("data", [
    3, 2.5, True, [1, 2], [1, 2.5], [True, 1], [[1.0], [2.0]], [], np.array([1, 2], dtype=np.int32),
    np.array([1.0], dtype=np.float64), np.float64(1.5), [np.float64(1.5), 2.0], np.array([[1, 2]], dtype=np.uint8),
])
def test_tensor_dtype_matches_torch(data):
    torch = pytest.importorskip("torch")
    expected = torch.tensor(data)
    got = tc.tensor(data)
    assert str(expected.dtype).replace("torch.", "") == got.dtype.name
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_tensor_arguments():
    t = tc.tensor([1, 2], dtype=tc.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad
    with pytest.raises(TypeError, match="floating"):
        tc.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError):
        tc.tensor([1.0], True)  # requires_grad is keyword-only, as torch
    with pytest.raises(TypeError, match="numbers"):
        tc.tensor("abc")
    with pytest.raises(TypeError, match="numbers"):
        tc.tensor([1, [2, 3]])


def test_from_numpy_and_as_tensor_share_memory():
    a = np.zeros(3, dtype=np.float32)
    t = tc.from_numpy(a)
    a[0] = 5.0
    t.data[1] = 6.0
    assert t.tolist() == [5.0, 6.0, 0.0] and a[1] == 6.0 and t.dtype == np.float32
    assert tc.as_tensor(a).data is a
    assert tc.as_tensor(a, dtype=tc.float64).data is not a
    assert tc.as_tensor([1, 2]).dtype == np.int64
    x = tc.tensor([1.0])
    assert tc.as_tensor(x) is x
    with pytest.raises(TypeError, match="np.ndarray"):
        tc.from_numpy([1, 2])
    with pytest.raises(TypeError, match="complex64"):
        tc.from_numpy(np.zeros(2, dtype=np.complex64))


def test_legacy_tensor_constructor_keeps_an_ndarray_as_documented():
    a = np.zeros(2, dtype=np.float64)
    t = tc.Tensor(a)  # shares and keeps float64: the ops build their outputs this way (a documented difference)
    assert t.data is a and t.dtype == np.float64
    assert tc.Tensor([1, 2]).dtype == np.float32


# --- zeros, ones, full, empty and their size forms -----------------------------------------------------------

@pytest.mark.parametrize("fn, value", [(tc.zeros, 0.0), (tc.ones, 1.0)])
def test_size_argument_forms(fn, value):
    for args in ((2, 3), ((2, 3),), ([2, 3],)):
        t = fn(*args)
        assert t.shape == (2, 3) and t.dtype == np.float32 and t.size() == (2, 3)
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value))
    assert fn().shape == () and fn(()).shape == ()
    assert fn(3, dtype=tc.int64).dtype == np.int64
    t = fn(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_size_errors():
    with pytest.raises(ValueError, match="non-negative"):
        tc.zeros(-1)
    with pytest.raises(TypeError, match="size must be ints"):
        tc.zeros(2, (3,))
    with pytest.raises(TypeError, match="size must be ints"):
        tc.ones(2.5)
    with pytest.raises(TypeError, match="floating"):
        tc.zeros(2, dtype=tc.int64, requires_grad=True)


def test_full_and_empty():
    assert tc.full((2,), 3).dtype == np.int64 and tc.full((2,), 3).tolist() == [3, 3]
    assert tc.full((2,), 3.0).dtype == np.float32
    assert tc.full((2,), True).dtype == np.bool_
    assert tc.full([1, 2], 1.5, dtype=tc.float64).dtype == np.float64
    assert tc.empty(2, 3).shape == (2, 3) and tc.empty(2).dtype == np.float32
    with pytest.raises(TypeError, match="tuple"):
        tc.full(3, 1.0)


def test_like_functions_keep_shape_dtype_and_device():
    x = tc.tensor([[1, 2, 3]], dtype=tc.int32)
    for fn in (tc.zeros_like, tc.ones_like, tc.empty_like):
        y = fn(x)
        assert y.shape == (1, 3) and y.dtype == np.int32 and str(y.device) == "cpu"
    assert tc.zeros_like(x, dtype=tc.float64).dtype == np.float64
    assert tc.full_like(x, 2.7).tolist() == [[2, 2, 2]]  # cast to x's dtype, as torch
    assert tc.ones_like(x).tolist() == [[1, 1, 1]]
    f = tc.tensor([1.0, 2.0], dtype=tc.float64)
    assert tc.rand_like(f).dtype == np.float64 and tc.randn_like(f).shape == (2,)
    with pytest.raises(TypeError, match="floating"):
        tc.rand_like(x)
    with pytest.raises(TypeError, match="input must be a Tensor"):
        tc.zeros_like(np.zeros(2))


# --- arange, linspace, eye -----------------------------------------------------------------------------------

def test_arange_hand_values():
    assert tc.arange(5).tolist() == [0, 1, 2, 3, 4] and tc.arange(5).dtype == np.int64
    assert tc.arange(5.0).dtype == np.float32
    assert tc.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert tc.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
    assert tc.arange(0, 5, 2, dtype=tc.float64).tolist() == [0.0, 2.0, 4.0]
    with pytest.raises(ValueError, match="nonzero"):
        tc.arange(0, 5, 0)
    with pytest.raises(ValueError, match="step sign"):
        tc.arange(5, 0, 1)


def test_linspace_and_eye():
    np.testing.assert_allclose(tc.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    assert tc.linspace(0, 1, 5).dtype == np.float32 and tc.linspace(0, 1, 0).shape == (0,)
    np.testing.assert_array_equal(tc.eye(2, 3).numpy(), [[1, 0, 0], [0, 1, 0]])
    assert tc.eye(3).shape == (3, 3) and tc.eye(2).dtype == np.float32
    with pytest.raises(ValueError, match="steps"):
        tc.linspace(0, 1, -1)


@pytest.mark.peer
@pytest.mark.parametrize("args, kwargs", [
    ((5,), {}), ((5.0,), {}), ((0, 1, 0.25), {}), ((10, 0, -3), {}), ((1, 2.5, 0.5), {}), ((0, 10, 3.0), {}),
    ((-3, 4), {"dtype": "float64"}), ((0, 0.95, 0.1), {}),
])
def test_arange_matches_torch(args, kwargs):
    torch = pytest.importorskip("torch")
    tkw = {k: getattr(torch, v) for k, v in kwargs.items()}
    expected = torch.arange(*args, **tkw)
    got = tc.arange(*args, **kwargs)
    assert got.dtype.name == str(expected.dtype).replace("torch.", "")
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.peer
@pytest.mark.parametrize("start, end, steps", [(0, 1, 5), (-2.5, 7, 11), (3, 3, 1), (0, 1, 1), (1, -1, 4)])
def test_linspace_and_eye_match_torch(start, end, steps):
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(tc.linspace(start, end, steps).numpy(), torch.linspace(start, end, steps).numpy(),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(tc.eye(steps, 3).numpy(), torch.eye(steps, 3).numpy())


# --- random --------------------------------------------------------------------------------------------------

def test_random_functions_draw_from_the_seeded_generator():
    tc.manual_seed(123)
    a = [tc.randn(3, 2), tc.rand(4), tc.randint(0, 10, (5,)), tc.randint(3, (2, 2))]
    tc.manual_seed(123)
    b = [tc.randn(3, 2), tc.rand(4), tc.randint(0, 10, (5,)), tc.randint(3, (2, 2))]
    for x, y in zip(a, b):
        assert tc.equal(x, y)
    assert a[0].dtype == np.float32 and a[0].shape == (3, 2)
    assert a[1].min().item() >= 0 and a[1].max().item() < 1
    assert a[2].dtype == np.int64 and 0 <= a[2].min().item() and a[2].max().item() < 10
    assert a[3].shape == (2, 2) and a[3].max().item() < 3
    assert tc.randn(2, dtype=tc.float64).dtype == np.float64
    assert tc.rand(2, 3, requires_grad=True).requires_grad
    big = tc.randn(20000)
    assert abs(big.mean().item()) < 0.05 and abs(big.std().item() - 1) < 0.05


def test_random_errors():
    with pytest.raises(TypeError, match="floating"):
        tc.randn(2, dtype=tc.int64)
    with pytest.raises(ValueError, match="less than"):
        tc.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="size"):
        tc.randint(5)
    with pytest.raises(NotImplementedError, match="generator"):
        tc.rand(2, generator=object())


def test_is_tensor_and_numel():
    t = tc.zeros(2, 3)
    assert tc.is_tensor(t) and not tc.is_tensor(np.zeros(2))
    assert tc.numel(t) == 6 and t.numel() == 6 and t.nelement() == 6
