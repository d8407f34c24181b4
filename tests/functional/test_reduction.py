"""Reductions with dim/keepdim (issue 12, item 4): values, dtypes, PyTorch's tie rules for values, indices and
gradients, float64 gradchecks, and the same calls against torch (peer)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycnn as tc
import tinycnn.functional as F

seeds = st.integers(0, 2**32 - 1)


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# --- sum, mean, prod ------------------------------------------------------------------------------------------

def test_sum_and_mean_with_dim_and_keepdim():
    x = t64(np.arange(6.0).reshape(2, 3))
    assert x.sum().item() == 15.0 and x.sum(dim=0).tolist() == [3.0, 5.0, 7.0]
    assert x.sum(1, keepdim=True).tolist() == [[3.0], [12.0]] and x.sum(dim=(0, 1)).item() == 15.0
    assert x.mean(dim=[0]).tolist() == [1.5, 2.5, 3.5] and x.mean(-1).tolist() == [1.0, 4.0]
    assert x.sum(axis=0, keepdims=True).shape == (1, 3)  # NumPy's spellings stay as aliases
    assert tc.sum(x, 1).tolist() == [3.0, 12.0] and tc.mean(x).item() == 2.5
    with pytest.raises(TypeError, match="both dim and its alias axis"):
        x.sum(dim=0, axis=0)


def test_integer_sums_are_int64_and_integer_mean_raises():
    assert tc.tensor([1, 2, 3]).sum().dtype == np.int64
    assert tc.tensor([True, True, False]).sum().tolist() == 2
    assert tc.tensor([200, 100], dtype=tc.uint8).sum().tolist() == 300  # int64: no wrap, as torch
    assert tc.tensor([1, 2], dtype=tc.int32).prod().dtype == np.int64
    with pytest.raises(TypeError, match="floating"):
        tc.tensor([1, 2]).mean()
    assert tc.tensor([1, 2]).mean(dtype=tc.float32).item() == 1.5
    assert tc.tensor([1, 2]).sum(dtype=tc.float64).dtype == np.float64


def test_prod_values_and_gradient_with_zeros():
    x = t64([2.0, 0.0, 3.0])
    x.prod().backward()
    assert x.grad.tolist() == [0.0, 6.0, 0.0]  # the product of the others, exact at a zero
    y = t64([[2.0, 0.0, 3.0], [1.0, 2.0, 3.0]])
    y.prod(1).sum().backward()
    assert y.grad.tolist() == [[0.0, 6.0, 0.0], [6.0, 3.0, 2.0]]
    with pytest.raises(TypeError, match="dim must be an int"):
        y.prod(dim=(0, 1))


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), seed=seeds, data=st.data())
def test_reduction_gradchecks(shape, seed, data):
    x = t64(np.random.default_rng(seed).uniform(0.5, 2.0, shape) * np.random.default_rng(seed + 1).choice(
        [-1.0, 1.0], shape))
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    keep = data.draw(st.booleans())
    for fn in (lambda t: t.sum(d, keep), lambda t: t.mean(d, keep), lambda t: t.prod(d, keep), lambda t: t.prod(),
               lambda t: t.var(d, keepdim=keep), lambda t: t.std(d, keepdim=keep, correction=0)):
        assert tc.gradcheck(fn, [x])
    if x.numel() > 1:
        assert tc.gradcheck(lambda t: t.std(), [x])


# --- var and std ---------------------------------------------------------------------------------------------

def test_var_and_std_default_to_unbiased():
    y = tc.tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose(y.var().item(), 7 / 3, rtol=1e-6)
    np.testing.assert_allclose(y.std().item(), np.sqrt(7 / 3), rtol=1e-6)
    np.testing.assert_allclose(y.var(unbiased=False).item(), 14 / 9, rtol=1e-6)
    np.testing.assert_allclose(y.var(correction=0).item(), 14 / 9, rtol=1e-6)
    np.testing.assert_allclose(y.std(False).item(), np.sqrt(14 / 9), rtol=1e-6)  # the legacy std(unbiased)
    assert y.std(dim=0, keepdim=True).shape == (1,)
    assert np.isnan(tc.tensor([1.0]).std().item())  # one element, unbiased: NaN, as torch
    with pytest.raises(TypeError, match="floating"):
        tc.tensor([1, 2]).var()
    with pytest.raises(TypeError, match="not both"):
        y.var(unbiased=True, correction=1)


# --- max, min, amax, amin, argmax, argmin ----------------------------------------------------------------------

def test_max_forms_and_tie_rules():
    x = t64([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    m = x.max()
    assert m.item() == 3.0 and m.shape == ()
    m.backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]  # full max(): shared among ties, as torch
    x.grad = None
    values, indices = x.max(dim=1)
    assert values.tolist() == [3.0, 2.0] and indices.tolist() == [1, 0] and indices.dtype == np.int64
    r = x.max(1, keepdim=True)
    assert r.values.shape == (2, 1) and r.indices.tolist() == [[1], [0]]
    values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]  # max(dim): to the returned (first) index
    x.grad = None
    x.amax(dim=1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]]  # amax: shared among ties
    assert tc.max(tc.tensor([1.0, 5.0]), tc.tensor([3.0, 2.0])).tolist() == [3.0, 5.0]  # elementwise
    assert x.min().item() == 0.0 and x.min(dim=0).indices.tolist() == [0, 1, 1] and x.amin((0, 1)).item() == 0.0


def test_argmax_argmin_first_index_and_keepdim():
    x = tc.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    assert x.argmax().item() == 1 and x.argmax(dim=1).tolist() == [1, 0]
    assert x.argmin(dim=0, keepdim=True).tolist() == [[0, 1, 1]] and tc.argmin(x).item() == 4
    assert tc.argmax(x, 1).dtype == np.int64


def test_accuracy_the_course_way():
    logits = tc.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5], [0.0, 0.1, 0.2]])
    labels = tc.tensor([1, 0, 0])
    _, predicted = tc.max(logits, 1)
    assert (predicted == labels).sum().item() == 2
    assert (logits.argmax(dim=1) == labels).float().mean().item() == pytest.approx(2 / 3)


def test_nan_wins():
    x = tc.tensor([float("nan"), 1.0])
    assert np.isnan(x.max().item()) and x.argmax().item() == 0
    r = tc.tensor([1.0, float("nan")]).max(dim=0)
    assert np.isnan(r.values.item()) and r.indices.item() == 1


def test_reduction_edge_cases_and_errors():
    s = tc.tensor(3.0)
    r = s.max(dim=0)
    assert r.values.item() == 3.0 and r.indices.item() == 0
    assert s.sum(0).item() == 3.0 and s.argmax(0).item() == 0
    assert tc.tensor([]).sum().item() == 0.0
    with pytest.raises(RuntimeError, match="numel"):
        tc.tensor([]).max()
    with pytest.raises(TypeError, match="dim must be an int"):
        tc.ones(2, 2).max(dim=(0, 1))
    with pytest.raises(IndexError, match="dim 2 .*out of range.*\\(2, 2\\)"):
        tc.ones(2, 2).argmax(dim=2)
    with pytest.raises(TypeError, match="x must be a Tensor"):
        F.max([1.0, 2.0])
    with pytest.raises(TypeError, match=r"x must be a Tensor, got a numpy array; tinycnn's t.data is the array"):
        F.sum(np.ones(2))  # PyTorch's t.data is a Tensor: say so
    # the tutorials' torch.max(outputs.data, 1): max/min/argmax/argmin take the array as the Tensor it is in PyTorch
    values, indices = F.max(np.array([[1.0, 3.0], [4.0, 2.0]]), 1)
    assert values.tolist() == [3.0, 4.0] and indices.tolist() == [1, 0]
    assert F.argmin(np.array([2.0, 1.0, 1.0])).item() == 1


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds, data=st.data())
def test_extrema_gradchecks_without_ties(shape, seed, data):
    x = t64(np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.5 + 0.25)
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    for fn in (lambda t: t.max(), lambda t: t.min(), lambda t: t.max(d).values, lambda t: t.min(d, True)[0],
               lambda t: t.amax(d), lambda t: t.amin((d,), keepdim=True)):
        assert tc.gradcheck(fn, [x])


# --- against torch -------------------------------------------------------------------------------------------

CALLS = {
    "sum": lambda x, o: x.sum(), "sum dim": lambda x, o: x.sum(dim=1),
    "sum dims keepdim": lambda x, o: x.sum((0, 2), True), "mean dim": lambda x, o: x.mean(-1),
    "mean keepdim": lambda x, o: x.mean(dim=0, keepdim=True), "prod dim": lambda x, o: x.prod(1),
    "prod": lambda x, o: x.prod(), "var": lambda x, o: x.var(), "var dim": lambda x, o: x.var(1),
    "var unbiased=False": lambda x, o: x.var(unbiased=False),
    "std dim correction 0": lambda x, o: x.std(dim=2, correction=0), "std keepdim": lambda x, o: x.std(0, keepdim=True),
    "max": lambda x, o: x.max(), "min": lambda x, o: x.min(), "max dim": lambda x, o: x.max(dim=1)[0],
    "min dim keepdim": lambda x, o: x.min(2, keepdim=True).values, "amax": lambda x, o: x.amax(dim=(0, 1)),
    "amin": lambda x, o: x.amin(-1), "max of two": lambda x, o: x.max(o), "minimum": lambda x, o: x.minimum(o),
}


@pytest.mark.peer
@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("ties", [False, True])
def test_reductions_match_torch_in_values_and_gradients(name, ties):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x_np = rng.integers(-2, 3, (2, 3, 4)).astype(np.float64) if ties else rng.standard_normal((2, 3, 4))
    other_np = x_np[::-1].copy()  # equal to x in places when there are ties
    results, g = [], None
    for lib in (tc, torch):
        x = lib.tensor(x_np, requires_grad=True)
        y = CALLS[name](x, lib.tensor(other_np))
        if g is None:
            g = np.random.default_rng(4).standard_normal(tuple(y.shape))
        y.backward(lib.tensor(g))
        results.append((y.detach().numpy(), x.grad.numpy()))
    (y1, g1), (y2, g2) = results
    np.testing.assert_allclose(y1, y2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-12)


@pytest.mark.peer
def test_indices_and_dtypes_match_torch():
    torch = pytest.importorskip("torch")
    x_np = np.random.default_rng(5).integers(-2, 3, (3, 4, 5)).astype(np.float32)  # many ties
    x, tx = tc.tensor(x_np), torch.tensor(x_np)
    for d in (0, 1, 2, -1):
        for k in (False, True):
            np.testing.assert_array_equal(x.max(d, k).indices.numpy(), tx.max(d, k).indices.numpy())
            np.testing.assert_array_equal(x.min(d, k).indices.numpy(), tx.min(d, k).indices.numpy())
            np.testing.assert_array_equal(x.argmax(d, k).numpy(), tx.argmax(d, k).numpy())
            np.testing.assert_array_equal(x.argmin(d, k).numpy(), tx.argmin(d, k).numpy())
    assert x.argmax().item() == tx.argmax().item() and x.argmin().item() == tx.argmin().item()
    for data in ([1, 2], [True, False], np.array([1, 2], dtype=np.uint8), np.array([1, 2], dtype=np.int32)):
        assert tc.tensor(data).sum().dtype.name == str(torch.tensor(data).sum().dtype)[6:]
        assert tc.tensor(data).prod().dtype.name == str(torch.tensor(data).prod().dtype)[6:]


def test_numpy_reductions_on_a_tensor_keep_numpys_meaning():
    # np.sum(t), np.std(t) ... call the tensor's methods with out= and ddof=; the answers are NumPy's
    t = tc.tensor([1.0, 2.0, 4.0])
    assert np.sum(t).item() == 7.0 and np.max(t).item() == 4.0 and np.argmax(t).item() == 2
    np.testing.assert_allclose(np.std(t).item(), np.std([1.0, 2.0, 4.0]), rtol=1e-6)  # ddof=0, NumPy's default
    np.testing.assert_allclose(np.var(t, ddof=1).item(), np.var([1.0, 2.0, 4.0], ddof=1), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="out="):
        t.sum(out=tc.zeros(()))
    with pytest.raises(TypeError, match="ddof"):
        t.std(correction=1, ddof=0)
