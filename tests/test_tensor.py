"""The autograd core: Tensor construction and dtypes, backward(), gradient accumulation, no_grad, broadcasting."""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycnn as tc
import tinycnn.functional as F
from tinycnn.tensor import Function


def leaf(values, dtype=np.float64):
    return tc.Tensor(np.array(values, dtype=dtype), requires_grad=True)


# --- construction and dtypes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [1.5, [1.0, 2.0], [[0.5], [2.5]]])
def test_python_floats_become_float32(data):
    assert tc.tensor(data).dtype == np.float32
    if isinstance(data, list):
        assert tc.Tensor(data).dtype == np.float32


@pytest.mark.parametrize("data", [[1, 2], [True, False], [[1], [2]]])
def test_legacy_constructor_makes_float32_from_any_python_list(data):
    # torch.Tensor([1, 2]) is float32 (torch.tensor([1, 2]) is int64)
    t = tc.Tensor(data)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=np.float32))


@pytest.mark.parametrize("number", [3, 2.5, True])
def test_legacy_constructor_refuses_a_python_number(number):
    # torch.Tensor(3) is an uninitialized tensor of shape (3,) and torch.Tensor(2.5) raises: never a 0-d tensor
    with pytest.raises(TypeError, match=r"tinycnn\.tensor"):
        tc.Tensor(number)


@pytest.mark.parametrize("data", [3, [1, 2, 3], [[1], [2]]])
def test_python_ints_become_int64(data):
    assert tc.tensor(data).dtype == np.int64


def test_numpy_arrays_keep_their_dtype():
    for dtype in (np.float64, np.float32, np.int32, np.uint8):
        assert tc.Tensor(np.zeros(3, dtype=dtype)).dtype == dtype


def test_explicit_dtype_is_applied():
    assert tc.tensor([1, 2], dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("data", [1, [1, 2], np.array([1, 2], dtype=np.int32), np.array([True, False])])
def test_requires_grad_on_integers_or_bools_raises_type_error(data):
    with pytest.raises(TypeError, match="floating"):
        tc.tensor(data, requires_grad=True)


def test_item_numpy_detach():
    t = tc.tensor([[2.5]])
    v = t.item()
    assert isinstance(v, float) and v == 2.5
    assert isinstance(tc.tensor(7).item(), int) and tc.tensor(7).item() == 7
    with pytest.raises(ValueError, match=r"\(2,\)"):
        tc.tensor([1.0, 2.0]).item()

    a = tc.tensor([[1.0, 2.0], [3.0, 4.0]])
    arr = a.numpy()
    assert isinstance(arr, np.ndarray)
    np.testing.assert_array_equal(arr, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(a), arr)

    x = leaf([1.0, 2.0])
    y = x * 3.0
    d = y.detach()
    assert d.is_leaf and not d.requires_grad
    assert np.shares_memory(d.data, y.data)  # detach shares data, as torch.Tensor.detach
    # no gradient flows through a detached value
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])


def test_properties():
    t = tc.tensor(np.zeros((2, 3, 4), dtype=np.float32))
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel() == 24 and len(t) == 2
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4 and t.dim() == 3
    assert t.device == tc.device("cpu") and t.to("cpu") is t
    assert repr(t[0, 0]) == "tensor([0., 0., 0., 0.])"  # float32, the default, unnamed as in torch
    assert repr(t.double()[0, 0, :2]) == "tensor([0., 0.], dtype=tinycnn.float64)"


# --- dtypes never change silently ---------------------------------------------------------------------------

def test_float32_with_float64_raises_in_matmul_as_torch():
    a = tc.Tensor(np.ones((2, 2), dtype=np.float32))
    b = tc.Tensor(np.ones((2, 2), dtype=np.float64))
    with pytest.raises(TypeError, match="float32") as info:
        a @ b
    assert "float64" in str(info.value)


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
    lambda a, b: F.concat([a, b], axis=0),
])
def test_float32_with_float64_promotes_to_float64_as_torch(op):
    # was a TypeError; PyTorch promotes arithmetic and cat (and raises in matmul, conv, linear, batch norm)
    a = tc.Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    b = tc.Tensor(np.full((2, 2), 2.0), requires_grad=True)
    y = op(a, b)
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64  # each input's gradient in its own dtype


def test_float32_with_float64_raises_in_layers():
    x32 = tc.Tensor(np.ones((1, 1, 3, 3), dtype=np.float32))
    w64 = tc.Tensor(np.ones((1, 1, 2, 2), dtype=np.float64))
    with pytest.raises(TypeError, match="float64"):
        F.conv2d(x32, w64)
    with pytest.raises(TypeError, match="float64"):
        F.linear(tc.Tensor(np.ones((2, 3), dtype=np.float32)), tc.Tensor(np.ones((4, 3))))


@pytest.mark.parametrize("op", [
    lambda x: x + 1, lambda x: 1 + x, lambda x: x - 1.5, lambda x: 2 - x, lambda x: x * 2.5, lambda x: 2.5 * x,
    lambda x: x / 3, lambda x: 3 / x, lambda x: x ** 2, lambda x: x ** 0.5, lambda x: -x,
    lambda x: x + np.float64(1.0), lambda x: x * np.array(2.0),
])
def test_operators_with_python_scalars_keep_the_dtype(op):
    x32 = tc.tensor([1.0, 2.0, 4.0])
    assert op(x32).dtype == np.float32
    x64 = tc.Tensor(np.array([1.0, 2.0, 4.0]))
    assert op(x64).dtype == np.float64


def test_operator_values():
    x = tc.tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose((1 - x).numpy(), [0.0, -1.0, -3.0])
    np.testing.assert_allclose((8 / x).numpy(), [8.0, 4.0, 2.0])
    np.testing.assert_allclose((x ** 2).numpy(), [1.0, 4.0, 16.0])
    np.testing.assert_allclose((np.array([1.0, 1.0, 1.0], dtype=np.float32) @ x).numpy(), 7.0)


# --- backward ------------------------------------------------------------------------------------------------

def test_value_used_twice_accumulates():
    x = leaf([1.0, -2.0, 3.0])
    y = (x * x + x).sum()  # dy/dx = 2x + 1
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, -3.0, 7.0])


def test_shared_weight_used_in_two_branches():
    w = leaf([[2.0]])
    a = tc.Tensor(np.array([[3.0]]))
    b = tc.Tensor(np.array([[5.0]]))
    loss = ((a @ w) + (b @ w) * (a @ w)).sum()  # 3w + 15 w^2 -> 3 + 30 w = 63
    loss.backward()
    assert w.grad.item() == 63.0


def test_backward_twice_doubles_leaf_grads_exactly():
    rng = np.random.default_rng(1)
    x = tc.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = tc.Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    loss = F.tanh(F.linear(x, w)).sum()
    loss.backward()
    gx, gw = x.grad.numpy().copy(), w.grad.numpy().copy()
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * gx)
    np.testing.assert_array_equal(w.grad.numpy(), 2 * gw)
    x.zero_grad()
    assert x.grad is None


def test_leaf_grads_are_not_aliased():
    # Regression: Add.backward hands the same array to both inputs; each leaf's .grad must own its array, or an
    # in-place update of one gradient (weight decay, clipping) silently changes the other.
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x + y).sum().backward()
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data *= 10
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])

    g = np.array([1.0, 2.0])
    z = leaf([0.0, 0.0])
    z.backward(g)
    assert not np.shares_memory(z.grad.data, g)


def test_leaf_gets_a_fresh_gradient_without_a_copy_but_never_a_shared_one():
    # a backward's fresh result becomes the leaf's .grad as is (no copy of a 411 MB fc6 gradient); a gradient
    # that something else still holds is copied
    class Twice(tc.Function):
        def forward(self, x):
            return 2 * x

        def backward(self, g):
            out = 2 * g
            Twice.made = id(out)
            return (out,)

    class KeepsIt(Twice):
        def backward(self, g):
            self.kept = 2 * g  # the function holds its result: the leaf must not alias it
            return (self.kept,)

    x = leaf([1.0, 2.0])
    Twice.apply(x).sum().backward()
    assert id(x.grad.data) == Twice.made
    y = leaf([1.0, 2.0])
    out = KeepsIt.apply(y)
    out.sum().backward()
    assert not np.shares_memory(y.grad.data, out._ctx.kept)


def test_graph_keeps_functions_not_intermediate_arrays():
    # Add saves no array, so once the user drops h nothing holds h's array: the graph links functions, as
    # PyTorch's grad_fn does, and an activation lives only as long as some backward needs it
    x, w = leaf([1.0, -2.0]), tc.Tensor(np.array([3.0, 3.0]))
    h = x + w
    add_fn, h_array = h._ctx, weakref.ref(h.data)
    y = h.relu()
    assert y._ctx.parents == (add_fn,) and add_fn.parents == (x, None)  # w needs no gradient: nothing kept
    del h
    gc.collect()
    assert h_array() is None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_deep_chain_is_iterative():
    x = leaf([1.0])
    y = x
    for _ in range(5000):
        y = y * 1.001 + 0.5
    y.sum().backward()
    # y = 1.001^n x + const: dy/dx = 1.001^5000
    np.testing.assert_allclose(x.grad.numpy(), [1.001 ** 5000], rtol=1e-9)


def test_backward_on_non_scalar_needs_grad():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    with pytest.raises(ValueError, match=r"\(2,\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\)"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -2.0])


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="require"):
        tc.tensor([1.0]).sum().backward()


def test_wrong_backward_shape_is_caught_at_the_op():
    class Bad(Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            return (g.sum(),)  # wrong shape

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"Bad\.backward.*\(\).*\(2,\)"):
        Bad.apply(x).sum().backward()


def test_function_apply_rejects_non_tensors():
    with pytest.raises(TypeError, match="input 0"):
        F.elementwise.Exp.apply(np.ones(2))


def test_only_leaves_requiring_grad_get_grad():
    x = leaf([1.0, 2.0])
    c = tc.Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


# --- no_grad -------------------------------------------------------------------------------------------------

def test_no_grad_records_no_graph():
    x = leaf([1.0, 2.0])
    with tc.no_grad():
        assert not tc.is_grad_enabled()
        y = (x * 2.0).sum()
        with tc.enable_grad():
            z = (x * 2.0).sum()
    assert tc.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and not z.is_leaf


def test_no_grad_as_decorator_and_after_an_exception():
    @tc.no_grad()
    def f(x):
        return x * 3.0

    x = leaf([1.0])
    assert f(x).is_leaf and not f(x).requires_grad
    with pytest.raises(ZeroDivisionError):
        with tc.no_grad():
            1 / 0
    assert tc.is_grad_enabled()


def test_no_grad_decorator_is_reentrant():
    # Regression: the decorator reuses one context object, which kept a single saved state; a recursive call
    # overwrote it and left grad mode off for the whole process after the outer call returned.
    @tc.no_grad()
    def depth(n):
        assert not tc.is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3
    assert tc.is_grad_enabled()
    mode = tc.no_grad()
    with mode:
        with mode:
            pass
        assert not tc.is_grad_enabled()
    assert tc.is_grad_enabled()


# --- broadcasting -------------------------------------------------------------------------------------------

@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       op=st.sampled_from(["add", "sub", "mul"]))
def test_broadcasting_gradients_have_input_shapes(shapes, op):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    a = tc.Tensor(np.full(sa, 2.0), requires_grad=True)
    b = tc.Tensor(np.full(sb, 3.0), requires_grad=True)
    y = getattr(F, op)(a, b)
    assert y.shape == out_shape
    y.sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    # each input element is used prod(out) / prod(input) times
    uses_a = int(np.prod(out_shape)) // int(np.prod(sa))
    uses_b = int(np.prod(out_shape)) // int(np.prod(sb))
    da = {"add": 1.0, "sub": 1.0, "mul": 3.0}[op] * uses_a
    db = {"add": 1.0, "sub": -1.0, "mul": 2.0}[op] * uses_b
    np.testing.assert_array_equal(a.grad.numpy(), np.full(sa, da))
    np.testing.assert_array_equal(b.grad.numpy(), np.full(sb, db))
