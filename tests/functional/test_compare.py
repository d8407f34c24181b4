"""Comparisons, logical and bitwise ops, where, allclose, equal, __bool__ and hashing (issue 12, item 3)."""

import operator

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F


def test_eq_is_elementwise_not_identity():
    # Regression: a == b tested identity (False), so accuracy code reported 0 silently
    a, b = tc.tensor([1.0, 2.0, 3.0]), tc.tensor([1, 5, 3])
    y = a == b
    assert isinstance(y, tc.Tensor) and y.dtype == np.bool_ and y.tolist() == [True, False, True]
    assert (a != b).tolist() == [False, True, False]
    preds, labels = tc.tensor([0, 2, 1, 1]), tc.tensor([0, 1, 1, 1])
    assert (preds == labels).sum().item() == 3 and (preds == labels).float().mean().item() == 0.75


def test_x_greater_than_0():
    # Regression: x > 0 raised
    x = tc.tensor([-1.0, 0.0, 2.0])
    assert (x > 0).tolist() == [False, False, True] and (x >= 0).tolist() == [False, True, True]
    assert (x < 0).tolist() == [True, False, False] and (x <= 0).tolist() == [True, True, False]
    assert (0 < x).tolist() == [False, False, True]  # reflected
    assert x[x > 0].tolist() == [2.0]  # a bool mask indexes


def test_comparison_functions_and_methods():
    a, b = tc.tensor([[1, 2], [3, 4]]), tc.tensor([2, 2])
    for name, op in (("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
                     ("gt", operator.gt), ("ge", operator.ge)):
        expected = op(a.numpy(), b.numpy()).tolist()
        assert getattr(tc, name)(a, b).tolist() == expected
        assert getattr(a, name)(b).tolist() == expected
        assert getattr(F, name)(a, 2).tolist() == op(a.numpy(), 2).tolist()


def test_comparison_with_none_or_other_objects():
    a = tc.tensor([1.0])
    assert (a == None) is False and (a != None) is True  # noqa: E711 - as torch
    assert (a == "x") is False
    with pytest.raises(TypeError):
        a < "x"  # noqa: B015


def test_hash_stays_identity():
    a, b = tc.tensor([1.0]), tc.tensor([1.0])
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b" and len({a, b}) == 2 and a in {a}
    assert hash(a) == object.__hash__(a)  # identity, as torch
    params = [a, b]
    assert any(p is b for p in params)


def test_bool_of_one_element_and_torch_error_for_more():
    assert bool(tc.tensor([2.0])) and not bool(tc.tensor(0)) and bool(tc.tensor([[True]]))
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        bool(tc.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="no values is ambiguous"):
        bool(tc.tensor([]))
    x = tc.tensor([1.0, -1.0])
    assert ("yes" if (x > 0).any() else "no") == "yes"


def test_invert_and_or_xor_on_bool_tensors():
    m, n = tc.tensor([True, False, True]), tc.tensor([True, True, False])
    assert (~m).tolist() == [False, True, False]
    assert (m & n).tolist() == [True, False, False]
    assert (m | n).tolist() == [True, True, True]
    assert (m ^ n).tolist() == [False, True, True]
    assert (True & m).tolist() == m.tolist()
    assert (~tc.tensor([1, 0])).tolist() == [-2, -1] and (tc.tensor([6]) & tc.tensor([3])).tolist() == [2]
    with pytest.raises(TypeError, match="integer and bool"):
        ~tc.tensor([1.0])
    with pytest.raises(TypeError, match="integer and bool"):
        m & 1.5


def test_logical_and_nan_tests():
    a, b = tc.tensor([0.0, 2.0, -1.0]), tc.tensor([1, 0, 3])
    assert tc.logical_not(a).tolist() == [True, False, False]
    assert tc.logical_and(a, b).tolist() == [False, False, True]
    assert tc.logical_or(a, b).tolist() == [True, True, True]
    assert tc.logical_xor(a, b).tolist() == [True, True, False]
    x = tc.tensor([float("nan"), float("inf"), 1.0])
    assert tc.isnan(x).tolist() == [True, False, False]
    assert tc.isfinite(x).tolist() == [False, False, True] and x.isinf().tolist() == [False, True, False]
    assert tc.isnan(tc.tensor([1, 2])).tolist() == [False, False] and tc.isfinite(tc.tensor([True])).tolist() == [True]


def test_all_and_any():
    m = tc.tensor([[True, False], [True, True]])
    assert m.all().item() is False and m.any().item() is True and tc.all(m).dtype == np.bool_
    assert m.all(dim=1).tolist() == [False, True] and m.any(dim=0, keepdim=True).tolist() == [[True, True]]
    assert tc.tensor([1, 2]).all().dtype == np.bool_ and tc.tensor([1.0, 0.0]).all().item() is False
    assert tc.tensor([1, 0], dtype=tc.uint8).any().dtype == np.uint8  # as torch


def test_where_values_gradients_and_promotion():
    x = tc.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = tc.where(x > 0, x, x * 10)
    assert y.tolist() == [1.0, -20.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 10.0, 1.0]
    assert tc.where(x > 0, x, 0.0).dtype == np.float32
    assert tc.where(x > 0, 1, 0).dtype == np.int64 and tc.where(x > 0, 1.0, 0).dtype == np.float32
    assert tc.where(x > 0, x, tc.tensor(0.0, dtype=tc.float64)).dtype == np.float32  # a 0-d does not widen
    assert x.where(x > 0, tc.tensor(0.0)).tolist() == [1.0, 0.0, 3.0]
    (idx,) = tc.where(tc.tensor([True, False, True]))
    assert idx.tolist() == [0, 2] and idx.dtype == np.int64


def test_where_gradcheck_with_broadcasting():
    rng = np.random.default_rng(0)
    a = tc.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = tc.tensor(rng.standard_normal((3,)), requires_grad=True)
    cond = tc.tensor(rng.random((2, 3)) > 0.5)
    assert tc.gradcheck(lambda a, b: tc.where(cond, a, b), [a, b])


def test_where_errors():
    x = tc.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="bool"):
        tc.where(tc.tensor([1, 0]), x, x)
    with pytest.raises(ValueError, match="broadcast"):
        tc.where(x > 0, x, tc.ones(3))
    with pytest.raises(TypeError, match="condition must be a Tensor"):
        tc.where([True, False], x, x)


def test_allclose_isclose_equal():
    a = tc.tensor([1.0, 2.0, 3.0])
    assert tc.allclose(a, a + 1e-9) and not tc.allclose(a, a + 1e-3)
    assert tc.allclose(a, a + 1e-3, atol=1e-2) and a.allclose(a)
    assert tc.isclose(a, tc.tensor([1.0, 2.5, 3.0])).tolist() == [True, False, True]
    nan = tc.tensor([float("nan")])
    assert not tc.allclose(nan, nan) and tc.allclose(nan, nan, equal_nan=True)
    assert tc.equal(a, a.clone()) and not tc.equal(a, a[:2]) and not tc.equal(a, a + 1)
    assert tc.equal(a, tc.tensor([1, 2, 3]))  # values equal across dtypes, as torch
    assert isinstance(tc.allclose(a, a), bool) and isinstance(tc.equal(a, a), bool)
    with pytest.raises(TypeError, match="dtype"):
        tc.allclose(a, tc.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="a must be a Tensor"):
        tc.equal([1.0], a)


def test_contains():
    t = tc.tensor([1, 2, 3])
    assert 2 in t and 5 not in t and tc.tensor(3) in t
    with pytest.raises(TypeError, match="scalar"):
        "a" in t  # noqa: B015


@pytest.mark.peer
def test_comparisons_and_logic_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a_np = rng.integers(-2, 3, (3, 4)).astype(np.float32)
    b_np = rng.integers(-2, 3, (4,)).astype(np.int64)
    pairs = [(tc.tensor(a_np), tc.tensor(b_np)), (torch.tensor(a_np), torch.tensor(b_np))]
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
        (ta, tb), (pa, pb) = pairs
        got, expected = getattr(tc, name)(ta, tb), getattr(torch, name)(pa, pb)
        assert got.dtype == np.bool_ and expected.dtype == torch.bool
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    (ta, tb), (pa, pb) = pairs
    np.testing.assert_array_equal(tc.where(ta > 0, ta, tb).numpy(), torch.where(pa > 0, pa, pb).numpy())
    assert str(torch.where(pa > 0, pa, pb).dtype)[6:] == tc.where(ta > 0, ta, tb).dtype.name
    np.testing.assert_array_equal((~(ta > 0) | (ta < -1)).numpy(), (~(pa > 0) | (pa < -1)).numpy())
