"""Elementwise arithmetic, matmul, reductions, exp/log and linear: gradchecks, values, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycnn as tc
import tinycnn.functional as F

seeds = st.integers(0, 2**32 - 1)
small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def nonzero(rng, shape, low=0.5, high=2.0):
    """Values with |v| in [low, high] and a random sign: away from 0 for division and kinks."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


# --- binary elementwise ops --------------------------------------------------------------------------------

@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       op=st.sampled_from(sorted(BINARY)), seed=seeds)
def test_binary_gradcheck_and_values(shapes, op, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a_np, b_np = rng.standard_normal(sa), nonzero(rng, sb)
    a, b = t64(a_np), t64(b_np)
    fn = getattr(F, op)
    y = fn(a, b)
    assert y.shape == shapes.result_shape and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), BINARY[op](a_np, b_np), rtol=1e-12)
    assert tc.gradcheck(fn, [a, b])


def test_binary_hand_values():
    a, b = tc.tensor([[1.0, 2.0], [3.0, 4.0]]), tc.tensor([10.0, 20.0])
    np.testing.assert_array_equal(F.add(a, b).numpy(), [[11, 22], [13, 24]])
    np.testing.assert_array_equal(F.sub(a, b).numpy(), [[-9, -18], [-7, -16]])
    np.testing.assert_array_equal(F.mul(a, b).numpy(), [[10, 40], [30, 80]])
    np.testing.assert_allclose(F.div(a, b).numpy(), [[0.1, 0.1], [0.3, 0.2]], rtol=1e-6)
    np.testing.assert_array_equal(F.add(a, 1).numpy(), [[2, 3], [4, 5]])
    np.testing.assert_array_equal(F.sub(1, a).numpy(), [[0, -1], [-2, -3]])


def test_div_gradient_by_hand():
    a, b = t64([6.0]), t64([2.0])
    F.div(a, b).sum().backward()
    assert a.grad.item() == 0.5 and b.grad.item() == -1.5  # 1/b, -a/b^2


@given(shape=small_shapes, seed=seeds)
def test_neg(shape, seed):
    x_np = np.random.default_rng(seed).standard_normal(shape)
    x = t64(x_np)
    np.testing.assert_array_equal(F.neg(x).numpy(), -x_np)
    assert tc.gradcheck(F.neg, [x])


@given(shape=small_shapes, seed=seeds, exponent=st.sampled_from([0, 1, 2, 3, -1, 0.5, -1.5, 2.5]))
def test_pow(shape, seed, exponent):
    x_np = np.random.default_rng(seed).uniform(0.5, 2.0, shape)
    x = t64(x_np)
    np.testing.assert_allclose(F.pow(x, exponent).numpy(), x_np ** exponent, rtol=1e-12)
    assert tc.gradcheck(lambda t: F.pow(t, exponent), [x])


def test_pow_hand_values_and_negative_base():
    x = t64([-2.0, 3.0])
    y = F.pow(x, 3)
    np.testing.assert_array_equal(y.numpy(), [-8.0, 27.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [12.0, 27.0])


def test_pow_zero_exponent_has_zero_gradient_at_zero():
    # Regression: d/dx x**0 was computed as 0 * x**-1 = 0 * inf = NaN at x = 0; PyTorch gives 0.
    x = t64([0.0, 2.0])
    with np.errstate(all="raise"):
        F.pow(x, 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


# --- matmul --------------------------------------------------------------------------------------------------

@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
    ba, bb = batch.input_shapes
    a = (k,) if draw(st.booleans()) else ba + (n, k)
    b = (k,) if draw(st.booleans()) else bb + (k, m)
    return a, b


@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul_gradcheck_and_values(shapes, seed):
    rng = np.random.default_rng(seed)
    a_np, b_np = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    a, b = t64(a_np), t64(b_np)
    y = F.matmul(a, b)
    np.testing.assert_allclose(y.numpy(), np.matmul(a_np, b_np), rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(F.matmul, [a, b])


def test_matmul_hand_values():
    a, b = t64([[1.0, 2.0], [3.0, 4.0]]), t64([[5.0, 6.0], [7.0, 8.0]])
    y = a @ b
    np.testing.assert_array_equal(y.numpy(), [[19, 22], [43, 50]])
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[11, 15], [11, 15]])  # row sums of b
    np.testing.assert_array_equal(b.grad.numpy(), [[4, 4], [6, 6]])  # column sums of a


def test_matmul_of_two_vectors_backward():
    # Regression: backward of vector @ vector crashed (expand_dims(g, -2) on the 0-d gradient).
    u, v = t64([1.0, 2.0]), t64([3.0, 4.0])
    y = F.matmul(u, v)
    assert y.shape == () and y.item() == 11.0
    y.backward()
    np.testing.assert_array_equal(u.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(v.grad.numpy(), [1.0, 2.0])


# --- reductions ----------------------------------------------------------------------------------------------

@st.composite
def shape_and_axis(draw):
    shape = draw(small_shapes)
    nd = len(shape)
    choice = draw(st.sampled_from(["none", "int", "tuple"])) if nd else "none"
    if choice == "none":
        axis = None
    elif choice == "int":
        axis = draw(st.integers(-nd, nd - 1))
    else:
        axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        axis = tuple(a - nd if draw(st.booleans()) else a for a in axes)
    return shape, axis, draw(st.booleans())


@given(sak=shape_and_axis(), op=st.sampled_from(["sum", "mean"]), seed=seeds)
def test_reductions(sak, op, seed):
    shape, axis, keepdims = sak
    x_np = np.random.default_rng(seed).standard_normal(shape)
    x = t64(x_np)
    y = getattr(F, op)(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(y.numpy(), getattr(np, op)(x_np, axis=axis, keepdims=keepdims), rtol=1e-12)
    assert tc.gradcheck(lambda t: getattr(F, op)(t, axis=axis, keepdims=keepdims), [x])


def test_reduction_hand_values():
    x = t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(x.sum(axis=0).numpy(), [5, 7, 9])
    np.testing.assert_array_equal(x.mean(axis=1).numpy(), [2, 5])
    assert x.mean().shape == () and x.mean().item() == 3.5
    x.mean().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 1 / 6))
    assert F.mean(tc.tensor([1.0, 2.0])).dtype == np.float32


@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("axis", [2, -3, (0, 5)])
def test_reduction_axis_out_of_range_raises(op, axis):
    # Regression: an axis out of range was wrapped modulo ndim (axis 2 of a 2-D tensor summed axis 0).
    with pytest.raises(ValueError, match=r"axis .* out of range .*2"):
        getattr(F, op)(t64(np.ones((2, 3))), axis=axis)


# --- exp and log ---------------------------------------------------------------------------------------------

@given(shape=small_shapes, seed=seeds)
def test_exp_and_log(shape, seed):
    rng = np.random.default_rng(seed)
    x_np, p_np = rng.uniform(-2, 2, shape), rng.uniform(0.5, 3, shape)
    x, p = t64(x_np), t64(p_np)
    np.testing.assert_allclose(F.exp(x).numpy(), np.exp(x_np), rtol=1e-12)
    np.testing.assert_allclose(F.log(p).numpy(), np.log(p_np), rtol=1e-12)
    assert tc.gradcheck(F.exp, [x])
    assert tc.gradcheck(F.log, [p])


def test_exp_log_hand_values():
    np.testing.assert_allclose(F.exp(t64([0.0, 1.0])).numpy(), [1.0, np.e])
    np.testing.assert_allclose(F.log(t64([1.0, np.e])).numpy(), [0.0, 1.0])
    x = t64([2.0])
    F.log(x).backward()
    assert x.grad.item() == 0.5


# --- linear --------------------------------------------------------------------------------------------------

def linear_ref(x, w, b):
    """y[..., o] = sum_i x[..., i] w[o, i] + b[o], written as loops."""
    lead = x.shape[:-1]
    y = np.zeros(lead + (w.shape[0],))
    for idx in np.ndindex(*lead):
        for o in range(w.shape[0]):
            y[idx + (o,)] = sum(x[idx + (i,)] * w[o, i] for i in range(w.shape[1])) + (0 if b is None else b[o])
    return y


@given(lead=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), n_in=st.integers(1, 4), n_out=st.integers(1, 4),
       bias=st.booleans(), seed=seeds)
def test_linear_gradcheck_and_values(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    x_np, w_np = rng.standard_normal(lead + (n_in,)), rng.standard_normal((n_out, n_in))
    b_np = rng.standard_normal(n_out) if bias else None
    inputs = [t64(x_np), t64(w_np)] + ([t64(b_np)] if bias else [])
    y = F.linear(*inputs)
    assert y.shape == lead + (n_out,)
    np.testing.assert_allclose(y.numpy(), linear_ref(x_np, w_np, b_np), rtol=1e-10, atol=1e-12)
    assert tc.gradcheck(F.linear, inputs)


def test_linear_hand_values():
    x = t64([[1.0, 2.0]])
    w = t64([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = t64([0.0, 1.0, 2.0])
    y = F.linear(x, w, b)
    np.testing.assert_array_equal(y.numpy(), [[1.0, 3.0, 5.0]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 2.0]])
    np.testing.assert_array_equal(w.grad.numpy(), [[1.0, 2.0]] * 3)
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0, 1.0])


# --- errors --------------------------------------------------------------------------------------------------

def test_binary_errors():
    with pytest.raises(TypeError, match="at least one argument must be a Tensor"):
        F.add(np.ones(2), 1.0)
    # float32 with float64 no longer raises: PyTorch promotes to float64 (tests/test_promotion.py has the rules)
    y = F.mul(tc.tensor([1.5]), tc.Tensor(np.array([2.0])))
    assert y.dtype == np.float64 and y.item() == 3.0


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_shapes_that_do_not_broadcast_raise(op):
    with pytest.raises(ValueError) as info:
        getattr(F, op)(t64(np.ones((2, 3))), t64(np.ones(4)))
    msg = str(info.value)
    assert op in msg and "(2, 3)" in msg and "(4,)" in msg and "a " in msg and "b " in msg


def test_float_constant_with_integer_tensor_promotes_to_float32():
    # Regression: the constant was cast to the tensor's dtype, so int64 [1, 2] * 0.5 gave [0, 0] silently. It then
    # raised; now it follows PyTorch's promotion: a Python float with an integer tensor gives float32.
    ints = tc.tensor([1, 2])
    for op, expected in ((lambda t: t * 0.5, [0.5, 1.0]), (lambda t: 0.5 * t, [0.5, 1.0]),
                         (lambda t: t + 1.5, [2.5, 3.5]), (lambda t: t / 2.0, [0.5, 1.0])):
        y = op(ints)
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal((ints * 3).numpy(), [3, 6])  # an int constant keeps the integer dtype
    assert (ints * 3).dtype == np.int64


def test_unary_errors():
    for fn in (F.neg, F.exp, F.log, F.sum, F.mean):
        with pytest.raises(TypeError, match="x must be a Tensor"):
            fn(np.ones(2))
    with pytest.raises(TypeError, match="x must be a Tensor"):
        F.pow([1.0], 2)
    with pytest.raises(TypeError, match="exponent"):
        F.pow(t64([1.0]), "2")


def test_matmul_errors():
    with pytest.raises(ValueError) as info:
        F.matmul(t64(np.ones((2, 3))), t64(np.ones((4, 5))))
    msg = str(info.value)
    assert "(2, 3)" in msg and "(4, 5)" in msg and "3" in msg and "4" in msg
    with pytest.raises(ValueError, match="at least 1-D"):
        F.matmul(t64(1.0), t64(np.ones(2)))
    with pytest.raises(TypeError, match="b must be a Tensor"):
        F.matmul(t64(np.ones(2)), np.ones(2))


def test_linear_errors():
    w = t64(np.ones((3, 4)))
    with pytest.raises(ValueError) as info:
        F.linear(t64(np.ones((2, 5))), w)
    msg = str(info.value)
    assert "x" in msg and "(*, 4)" in msg and "(2, 5)" in msg and "(3, 4)" in msg
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\), got \(4,\)"):
        F.linear(t64(np.ones((2, 4))), w, t64(np.ones(4)))
    with pytest.raises(ValueError, match=r"weight must be 2-D, got shape \(4,\)"):
        F.linear(t64(np.ones((2, 4))), t64(np.ones(4)))
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        F.linear(tc.tensor([[1, 2, 3, 4]]), w)
