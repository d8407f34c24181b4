"""sort, argsort, topk, unique, gather, take_along_dim, nonzero (issue 12's conformance snippets found them missing:
``probs.topk(1, dim=1)``, ``torch.sort``, ``log_probs.gather(1, target)``, ``kept.unique()``, ``x.nonzero()``):
hand values, PyTorch's tie and NaN rules, float64 gradchecks, errors, and the peer."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_sort_hand_values_stable_ties_and_nan():
    x = tc.tensor([3.0, 1.0, 3.0, float("nan"), 2.0])
    v, i = tc.sort(x)
    np.testing.assert_array_equal(v.numpy()[:4], [1.0, 2.0, 3.0, 3.0]) and np.isnan(v.numpy()[4])
    assert i.tolist() == [1, 4, 0, 2, 3] and i.dtype == np.int64  # equal values keep their order; NaN last
    v, i = x.sort(descending=True)
    assert np.isnan(v.numpy()[0]) and i.tolist() == [3, 0, 2, 4, 1]  # NaN first, ties still in order
    assert tc.argsort(tc.tensor([[2, 1], [0, 5]]), dim=0).tolist() == [[1, 0], [0, 1]]
    assert x.sort().values is not None and type(x.sort()).__name__ == "sort"


def test_topk_values_indices_and_errors():
    x = tc.tensor([[1.0, 3.0, 3.0, 2.0], [0.0, -1.0, 5.0, 4.0]])
    v, i = x.topk(2)
    assert v.tolist() == [[3.0, 3.0], [5.0, 4.0]] and i.tolist() == [[1, 2], [2, 3]]
    v, i = tc.topk(x, 1, dim=0, largest=False)
    assert v.tolist() == [[0.0, -1.0, 3.0, 2.0]] and i.tolist() == [[1, 1, 0, 0]]
    assert x.topk(0).values.shape == (2, 0)
    with pytest.raises(ValueError, match=r"k \(5\) is out of range"):
        x.topk(5)
    with pytest.raises(TypeError, match="k must be an int"):
        x.topk(1.0)
    with pytest.raises(IndexError):
        x.topk(1, dim=2)


@given(seed=st.integers(0, 2**32 - 1), descending=st.booleans())
def test_sort_and_topk_gradcheck(seed, descending):
    x = t64(np.random.default_rng(seed).permutation(12).reshape(3, 4) * 0.5)  # distinct values: no ties at the kink
    assert tc.gradcheck(lambda a: tc.sort(a, dim=0, descending=descending).values, [x])
    assert tc.gradcheck(lambda a: a.topk(2, dim=1, largest=not descending).values, [x])


def test_unique_counts_inverse_and_no_derivative():
    x = tc.tensor([[2, 1], [2, 5]])
    assert x.unique().tolist() == [1, 2, 5]
    u, inverse, counts = tc.unique(x, return_inverse=True, return_counts=True)
    assert inverse.tolist() == [[1, 0], [1, 2]] and counts.tolist() == [1, 2, 1] and counts.dtype == np.int64
    y = t64([1.0, 1.0, 2.0])
    u = y.unique()
    assert u.requires_grad  # as PyTorch: recorded, but backward raises
    with pytest.raises(NotImplementedError, match="derivative for 'unique'"):
        u.sum().backward()
    with pytest.raises(NotImplementedError, match="dim="):
        x.unique(dim=0)


def test_gather_values_gradient_and_repeated_index():
    x = t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    index = tc.tensor([[2, 2], [0, 1]])
    y = x.gather(1, index)
    assert y.tolist() == [[3.0, 3.0], [4.0, 5.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 2.0], [1.0, 1.0, 0.0]]  # a repeated index gets both contributions
    assert tc.gather(x, 0, tc.tensor([[1, 0, 1]])).tolist() == [[4.0, 2.0, 6.0]]
    assert tc.gradcheck(lambda a: tc.gather(a, 0, tc.tensor([[1, 0], [1, 1]])), [t64(x.numpy())])


def test_gather_errors_name_the_problem():
    x = tc.zeros(2, 3)
    with pytest.raises(TypeError, match="int64"):
        x.gather(1, tc.tensor([[0]], dtype=tc.int32))
    with pytest.raises(ValueError, match="as many dimensions"):
        x.gather(1, tc.tensor([0]))
    with pytest.raises(IndexError, match="out of range"):
        x.gather(1, tc.tensor([[3]]))
    with pytest.raises(IndexError, match="out of range"):
        x.gather(1, tc.tensor([[-1]]))  # torch refuses negative indices in gather too
    with pytest.raises(ValueError, match="larger than input"):
        x.gather(1, tc.tensor([[0], [0], [0]]))


def test_nonzero_and_take_along_dim():
    x = tc.tensor([[0.0, 1.5], [2.0, 0.0]])
    assert x.nonzero().tolist() == [[0, 1], [1, 0]] and x.nonzero().dtype == np.int64
    rows, cols = tc.nonzero(x, as_tuple=True)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    assert tc.zeros(2, 2).nonzero().shape == (0, 2)
    assert tc.take_along_dim(x, tc.tensor([[1], [0]]), dim=1).tolist() == [[1.5], [2.0]]
    assert tc.take_along_dim(x, tc.tensor([3, 0])).tolist() == [0.0, 0.0]


@pytest.mark.peer
def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    a = rng.normal(size=(4, 6))
    a[1, 2] = a[1, 4]  # one tie
    idx = rng.integers(0, 6, size=(4, 3))
    ours, theirs = t64(a), torch.tensor(a, requires_grad=True)
    for f in (lambda m, x: m.sort(x, dim=1).values, lambda m, x: m.sort(x, dim=0, descending=True).values,
              lambda m, x: x.topk(3, dim=1).values * 2, lambda m, x: m.gather(x, 1, m.tensor(idx)) ** 2,
              lambda m, x: x.topk(2, dim=0, largest=False).values):
        y_ours, y_theirs = f(tc, ours), f(torch, theirs)
        np.testing.assert_allclose(y_ours.numpy(), y_theirs.detach().numpy(), rtol=1e-14)
        y_ours.sum().backward()
        y_theirs.sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-14)
    np.testing.assert_array_equal(tc.tensor(a).argsort(dim=1, stable=True).numpy(),
                                  torch.tensor(a).argsort(dim=1, stable=True).numpy())
    ints = rng.integers(0, 4, size=10)
    for kw in ({}, {"return_counts": True}, {"return_inverse": True}):
        ours, theirs = tc.tensor(ints).unique(**kw), torch.tensor(ints).unique(**kw)
        ours, theirs = (ours,) if kw == {} else ours, (theirs,) if kw == {} else theirs
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            np.testing.assert_array_equal(o.numpy(), t.numpy())
