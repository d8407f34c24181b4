"""reshape, transpose, flatten, concat, pad and getitem: gradchecks, values against NumPy's definitions, errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycnn as tc
import tinycnn.functional as F

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3)


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def data(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


# --- reshape -------------------------------------------------------------------------------------------------

@st.composite
def shape_and_target(draw):
    shape = draw(shapes)
    size = math.prod(shape)
    target = draw(st.sampled_from([
        tuple(draw(st.permutations(list(shape)))), (size,), (-1,), (1, size), (size, 1, 1),
    ]))
    if draw(st.booleans()) and -1 not in target:
        target = tuple(-1 if i == 0 else n for i, n in enumerate(target))
    return shape, target


@given(st_=shape_and_target(), seed=seeds)
def test_reshape(st_, seed):
    shape, target = st_
    x_np = data(seed, shape)
    x = t64(x_np)
    y = F.reshape(x, target)
    np.testing.assert_array_equal(y.numpy(), x_np.reshape(target))
    np.testing.assert_array_equal(x.reshape(*target).numpy(), x_np.reshape(target))
    assert tc.gradcheck(lambda t: F.reshape(t, target), [x])


def test_reshape_errors():
    x = t64(np.ones((2, 3)))
    with pytest.raises(ValueError) as info:
        F.reshape(x, (4,))
    assert "x" in str(info.value) and "(2, 3)" in str(info.value) and "(4,)" in str(info.value)
    with pytest.raises(ValueError, match=r"\(-1, -1\)"):
        F.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match=r"\(-1, 4\)"):
        F.reshape(x, (-1, 4))
    with pytest.raises(TypeError, match="x must be a Tensor"):
        F.reshape(np.ones(6), (2, 3))


# --- permute and transpose --------------------------------------------------------------------------------

@given(shape=shapes, seed=seeds, data_=st.data())
def test_permute(shape, seed, data_):
    perm = data_.draw(st.permutations(list(range(len(shape)))))
    perm = tuple(a - len(shape) if data_.draw(st.booleans()) else a for a in perm)  # negative dims too
    x_np = data(seed, shape)
    x = t64(x_np)
    np.testing.assert_array_equal(F.permute(x, perm).numpy(), np.transpose(x_np, perm))
    np.testing.assert_array_equal(x.permute(*perm).numpy(), np.transpose(x_np, perm))
    assert tc.gradcheck(lambda t: F.permute(t, perm), [x])


@given(shape=shapes, seed=seeds, data_=st.data())
def test_transpose_swaps_two_dims(shape, seed, data_):
    # PyTorch's transpose(dim0, dim1): a swap, not NumPy's permutation
    nd = len(shape)
    d0, d1 = data_.draw(st.integers(-nd, nd - 1)), data_.draw(st.integers(-nd, nd - 1))
    x_np = data(seed, shape)
    x = t64(x_np)
    np.testing.assert_array_equal(F.transpose(x, d0, d1).numpy(), np.swapaxes(x_np, d0, d1))
    np.testing.assert_array_equal(x.transpose(d0, d1).numpy(), np.swapaxes(x_np, d0, d1))
    assert tc.gradcheck(lambda t: F.transpose(t, d0, d1), [x])


def test_transpose_0_1_of_a_matrix_transposes_it():
    # Regression: transpose followed NumPy (a permutation), so transpose(0, 1) of a 2-D tensor did nothing.
    x = t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(x.transpose(0, 1).numpy(), [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(F.transpose(x, 1, 0).numpy(), [[1, 4], [2, 5], [3, 6]])


def test_transpose_hand_values():
    x = t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(x.T.numpy(), [[1, 4], [2, 5], [3, 6]])
    x.T.backward(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 3, 5], [2, 4, 6]])


@pytest.mark.parametrize("axes", [(0, 0), (0,), (0, 2), (-3, 0)])
def test_permute_errors(axes):
    # Regression for (0, 2) and (-3, 0): out-of-range axes were wrapped modulo ndim into a valid permutation.
    with pytest.raises(ValueError, match=r"permutation.*\(2, 3\)"):
        F.permute(t64(np.ones((2, 3))), axes)


def test_transpose_errors():
    x = t64(np.ones((2, 3)))
    with pytest.raises(IndexError, match=r"dim1 2 .*out of range.*\(2, 3\)"):
        F.transpose(x, 0, 2)
    with pytest.raises(TypeError, match="dim1"):
        x.transpose(0)  # NumPy's one-argument form is not PyTorch's


# --- flatten -------------------------------------------------------------------------------------------------

@given(shape=shapes, seed=seeds, data_=st.data())
def test_flatten(shape, seed, data_):
    nd = len(shape)
    start = data_.draw(st.integers(0, nd - 1))
    end = data_.draw(st.integers(start, nd - 1))
    expected_shape = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
    if data_.draw(st.booleans()):
        end -= nd  # negative end_axis
    x_np = data(seed, shape)
    x = t64(x_np)
    y = F.flatten(x, start, end)
    assert y.shape == expected_shape
    np.testing.assert_array_equal(y.numpy(), x_np.reshape(expected_shape))
    assert tc.gradcheck(lambda t: F.flatten(t, start, end), [x])


def test_flatten_defaults_flatten_everything_as_torch():
    # Regression: Tensor.flatten() kept dim 0, so an MSE on model(X).flatten() broadcast to (N, N).
    x = t64(np.arange(24.0).reshape(2, 3, 4))
    assert F.flatten(x).shape == (24,)
    assert x.flatten().shape == (24,)
    assert tc.flatten(x).shape == (24,)
    assert F.flatten(x, 1).shape == (2, 12)
    assert x.flatten(1).shape == (2, 12)
    assert F.flatten(t64(5.0)).shape == (1,)
    assert tc.nn.Flatten()(x).shape == (2, 12)  # the module keeps the batch (start_dim=1), as torch.nn.Flatten


def test_flatten_errors():
    x = t64(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"start_dim \(2\).*end_dim \(1\).*\(2, 3, 4\)"):
        F.flatten(x, 2, 1)
    # Regression: out-of-range axes were wrapped modulo ndim (start_axis 4 of a 3-D tensor acted as 1).
    with pytest.raises(ValueError, match=r"start_dim 4 .*out of range.*\(2, 3, 4\)"):
        F.flatten(x, 4)
    with pytest.raises(ValueError, match=r"end_dim -4 .*out of range.*\(2, 3, 4\)"):
        F.flatten(x, 0, -4)


# --- concat --------------------------------------------------------------------------------------------------

@given(shape=shapes, seed=seeds, data_=st.data())
def test_concat(shape, seed, data_):
    nd = len(shape)
    axis = data_.draw(st.integers(-nd, nd - 1))
    sizes = data_.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    rng = np.random.default_rng(seed)
    arrays = []
    for s in sizes:
        sh = list(shape)
        sh[axis] = s
        arrays.append(rng.standard_normal(sh))
    tensors = [t64(a) for a in arrays]
    y = F.concat(tensors, axis=axis)
    np.testing.assert_array_equal(y.numpy(), np.concatenate(arrays, axis=axis))
    assert tc.gradcheck(lambda *ts: F.concat(ts, axis=axis), tensors)


def test_concat_gradient_splits_by_channel():
    a, b = t64(np.ones((1, 1, 2, 2))), t64(np.ones((1, 2, 2, 2)))
    y = F.concat([a, b], dim=1)
    assert y.shape == (1, 3, 2, 2)
    g = np.arange(12.0).reshape(1, 3, 2, 2)
    y.backward(g)
    np.testing.assert_array_equal(a.grad.numpy(), g[:, :1])
    np.testing.assert_array_equal(b.grad.numpy(), g[:, 1:])


def test_cat_joins_dim_0_by_default_as_torch():
    a, b = t64(np.ones((1, 2))), t64(np.zeros((3, 2)))
    assert F.concat([a, b]).shape == (4, 2) and tc.cat([a, b]).shape == (4, 2)
    assert tc.cat((a, b), 0).shape == (4, 2) and tc.cat([a, a], dim=1).shape == (1, 4)


def test_cat_promotes_dtypes_and_sends_each_gradient_in_its_dtype():
    a, b = t64([1.0, 2.0]), tc.Tensor(np.array([3.0], dtype=np.float32), requires_grad=True)
    y = tc.cat([a, b])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0, 3.0])
    (y * y).sum().backward()
    assert a.grad.dtype == np.float64 and b.grad.dtype == np.float32
    np.testing.assert_array_equal(b.grad.numpy(), [6.0])
    assert tc.cat([tc.tensor([1]), tc.tensor([0.5])]).dtype == np.float32  # int64 with float32: float32


def test_concat_constant_input_gets_no_grad():
    a, c = t64([1.0, 2.0]), t64([3.0], requires_grad=False)
    F.concat([a, c], axis=0).sum().backward()
    assert c.grad is None and a.grad.numpy().tolist() == [1.0, 1.0]


def test_concat_errors():
    a = t64(np.ones((2, 3)))
    with pytest.raises(ValueError) as info:
        F.concat([a, t64(np.ones((4, 4)))], axis=0)
    msg = str(info.value)
    assert "tensors[1]" in msg and "(4, 4)" in msg and "(2, 3)" in msg and "dim 0" in msg
    with pytest.raises(ValueError, match="tensors.*(2, 3, 1)"):
        F.concat([a, t64(np.ones((2, 3, 1)))], axis=0)
    with pytest.raises(ValueError, match="empty"):
        F.concat([])
    with pytest.raises(TypeError, match=r"tensors\[1\] must be a Tensor"):
        F.concat([a, np.ones((2, 3))], axis=0)
    with pytest.raises(TypeError, match="list or tuple"):
        F.concat(a)
    # Regression: axis 2 of 2-D tensors was wrapped to axis 0.
    with pytest.raises(ValueError, match=r"dim 2 .*out of range.*\(2, 3\)"):
        F.concat([a, a], axis=2)


# --- pad -----------------------------------------------------------------------------------------------------

def _torch_pad(pad_width):
    """NumPy's ((before, after) per dim) as torch.nn.functional.pad's flat tuple, last dim first."""
    return tuple(v for lo_hi in reversed(pad_width) for v in lo_hi)


@given(shape=shapes, seed=seeds, data_=st.data(), value=st.sampled_from([0.0, -1.5, 2.0]))
def test_pad(shape, seed, data_, value):
    pad_width = tuple((data_.draw(st.integers(0, 2)), data_.draw(st.integers(0, 2))) for _ in shape)
    x_np = data(seed, shape)
    x = t64(x_np)
    y = F.pad(x, _torch_pad(pad_width), value=value)
    np.testing.assert_array_equal(y.numpy(), np.pad(x_np, pad_width, constant_values=value))
    assert tc.gradcheck(lambda t: F.pad(t, _torch_pad(pad_width), value=value), [x])


def test_pad_hand_values():
    x = t64([[1.0, 2.0]])
    y = F.pad(x, (0, 2, 1, 0))  # (left, right) of the last dim, then (top, bottom)
    np.testing.assert_array_equal(y.numpy(), [[0, 0, 0, 0], [1, 2, 0, 0]])
    y.backward(np.arange(8.0).reshape(2, 4))
    np.testing.assert_array_equal(x.grad.numpy(), [[4.0, 5.0]])
    assert F.pad(x, (1, 1)).shape == (1, 4)  # only the last dim


def test_negative_pad_crops_as_torch():
    x = t64(np.arange(12.0).reshape(3, 4))
    y = F.pad(x, (-1, 1, 0, -2), value=9.0)
    np.testing.assert_array_equal(y.numpy(), [[1, 2, 3, 9]])
    assert tc.gradcheck(lambda t: F.pad(t, (-1, 1, 0, -2), value=9.0), [x])


def test_pad_errors():
    x = t64(np.ones((2, 3)))
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="at most twice"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(TypeError, match=r"flat tuple.*\(\(1, 1\), \(0, 0\)\)"):
        F.pad(x, ((1, 1), (0, 0)))  # NumPy's pad_width is not torch's
    with pytest.raises(ValueError, match=r"padded size of dim 1 would be -1"):
        F.pad(x, (-2, -2))
    with pytest.raises(NotImplementedError, match="reflect"):
        F.pad(x, (1, 1), mode="reflect")
    with pytest.raises(TypeError, match="x must be a Tensor"):
        F.pad(np.ones(2), (1, 1))


# --- getitem -------------------------------------------------------------------------------------------------

INDICES = [
    (0,), (slice(None), 1), (slice(None, None, -1),), (slice(0, None, 2), Ellipsis), (None, 0), (-1, slice(1, 3)),
    ([0, 0, 1],), (np.array([2, 0, 2, 2]),), (slice(None), [1, 1, 0]), ([0, 1], [1, 1]),
    (np.array([True, False, True]),),
]


@given(seed=seeds, index=st.sampled_from(INDICES))
def test_getitem(seed, index):
    x_np = data(seed, (3, 3))
    x = t64(x_np)
    np.testing.assert_array_equal(F.getitem(x, index).numpy(), x_np[index])
    np.testing.assert_array_equal(x[index].numpy(), x_np[index])
    assert tc.gradcheck(lambda t: F.getitem(t, index), [x])


def test_getitem_repeated_indices_add_up():
    x = t64([10.0, 20.0, 30.0])
    y = x[np.array([0, 0, 2, 0])]
    np.testing.assert_array_equal(y.numpy(), [10, 10, 30, 10])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
    z = t64([1.0, 2.0])
    z[tc.tensor([1, 1])].sum().backward()  # a Tensor index
    np.testing.assert_array_equal(z.grad.numpy(), [0.0, 2.0])


def test_getitem_errors():
    with pytest.raises(TypeError, match="x must be a Tensor"):
        F.getitem(np.ones(3), 0)
