"""PyTorch's type promotion for arithmetic and comparisons (issue 12, item 2): hand cases, the regressions the issue
lists, gradients in each input's own dtype, and a table of operand pairs checked against torch (peer)."""

import itertools
import operator

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F

# --- the regressions of the issue ----------------------------------------------------------------------------


def test_int64_divided_by_2_is_float32():
    # Regression: int64 / 2 gave float64 (NumPy); PyTorch gives float32
    y = tc.tensor([1, 2, 3]) / 2
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), [0.5, 1.0, 1.5])
    assert (tc.tensor([4, 6]) / tc.tensor([2, 4])).dtype == np.float32


def test_uint8_divided_by_255_is_float32():
    # Regression: a uint8 tensor divided by 255.0 raised instead of promoting
    x = tc.tensor(np.array([0, 128, 255], dtype=np.uint8))
    y = x / 255.0
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [0.0, 0.501961, 1.0], rtol=1e-6)
    z = (x.float() - 128) / 128  # cast first (PITFALLS P15): no uint8 wrap
    np.testing.assert_array_equal(z.numpy(), [-1.0, 0.0, 127 / 128])


def test_hand_table():
    i64, i32 = tc.tensor([1, 2]), tc.tensor([1, 2], dtype=tc.int32)
    u8, b = tc.tensor([1, 2], dtype=tc.uint8), tc.tensor([True, False])
    f32, f64, f16 = tc.tensor([1.0, 2.0]), tc.tensor([1.0, 2.0], dtype=tc.float64), tc.tensor([1.0], dtype=tc.float16)
    cases = [
        (i64 * 2.5, np.float32), (i64 * 2, np.int64), (i32 + 1, np.int32), (u8 + 1, np.uint8),
        (u8 * tc.tensor(2), np.uint8),  # a 0-d int64 tensor does not widen a uint8 vector
        (u8 * tc.tensor([2]), np.int64), (b + 1, np.int64), (b + 1.5, np.float32), (b + b, np.bool_),
        (f32 + f64, np.float64), (f32 + tc.tensor(1.0, dtype=tc.float64), np.float32), (f16 + 1.0, np.float16),
        (i64 + tc.tensor(1.5), np.float32), (i64 + tc.tensor(1.5, dtype=tc.float64), np.float64),
        (f32 * np.float64(2.0), np.float32), (i64 ** 2, np.int64), (i64 ** 0.5, np.float32), (2 ** i64, np.int64),
        (2.0 ** i64, np.float32), (i64 // 2, np.int64), (i64 % 2, np.int64), (f32 // 2, np.float32),
        (tc.tensor([1], dtype=tc.int8) + tc.tensor([1], dtype=tc.uint8), np.int16),
    ]
    for y, dtype in cases:
        assert y.dtype == dtype, (y, dtype)


def test_integers_wrap_as_torch():
    u = tc.tensor([250], dtype=tc.uint8)
    assert (u + 10).tolist() == [4] and (tc.tensor([1], dtype=tc.uint8) + 300).tolist() == [45]


def test_comparisons_promote_before_comparing():
    assert (tc.tensor([1, 2]) == 1.5).tolist() == [False, False]
    assert (tc.tensor([1.5]) > tc.tensor([1])).tolist() == [True]
    assert (tc.tensor([255], dtype=tc.uint8) == 255).tolist() == [True]


def test_each_gradient_comes_back_in_its_inputs_dtype():
    a = tc.tensor([1.0, 2.0], requires_grad=True)                     # float32
    b = tc.tensor([3.0, 4.0], dtype=tc.float64, requires_grad=True)  # float64
    for op in (operator.add, operator.sub, operator.mul, operator.truediv, operator.pow):
        a.grad = b.grad = None
        y = op(a, b)
        assert y.dtype == np.float64
        y.sum().backward()
        assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_mixed_dtype_gradients_by_hand():
    a = tc.tensor([0.5, -1.25, 2.0], requires_grad=True)                     # float32
    b = tc.tensor([1.5, 0.75, -0.5], dtype=tc.float64, requires_grad=True)  # float64
    (a * b + a / (b * b + 1)).sum().backward()
    a64, b64 = a.numpy().astype(np.float64), b.numpy()
    np.testing.assert_allclose(a.grad.numpy(), b64 + 1 / (b64 * b64 + 1), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), a64 - a64 * 2 * b64 / (b64 * b64 + 1) ** 2, rtol=1e-12)


def test_promoted_integer_operand_gradcheck():
    x = tc.tensor([0.5, -1.25, 2.0], dtype=tc.float64, requires_grad=True)
    k = tc.tensor([1, 2, 3])  # int64, a constant: x's float64 wins
    assert tc.gradcheck(lambda x: x * k + k / x - x ** 2 % 3, [x])


def test_floor_division_and_remainder():
    x = tc.tensor([5, -5])
    assert (x // 2).tolist() == [2, -3] and (x % 3).tolist() == [2, 1]
    assert (tc.tensor([5.5, -5.5]) // 2).tolist() == [2.0, -3.0]
    assert (tc.tensor([5.0, -5.0]) % 3).tolist() == [2.0, 1.0]
    with pytest.raises(ZeroDivisionError):
        x // 0
    with pytest.raises(ZeroDivisionError):
        x % 0
    assert np.isinf((tc.tensor([1.0]) // 0).item())
    assert tc.div(x, 2, rounding_mode="trunc").tolist() == [2, -2]
    assert tc.div(x, 2, rounding_mode="floor").tolist() == [2, -3]
    assert tc.div(tc.tensor([-5.5]), 2, rounding_mode="trunc").tolist() == [-2.0]
    with pytest.raises(ValueError, match="rounding_mode"):
        tc.div(x, 2, rounding_mode="round")


def test_remainder_gradcheck_and_floor_divide_backward_raises():
    a = tc.tensor([5.5, -3.25, 7.0], dtype=tc.float64, requires_grad=True)
    b = tc.tensor([2.0, 1.5, -3.0], dtype=tc.float64, requires_grad=True)
    assert tc.gradcheck(lambda a, b: a % b, [a, b])
    assert tc.gradcheck(lambda a: tc.div(a, 2.0, rounding_mode="floor") + a, [a])
    with pytest.raises(RuntimeError, match="floor_divide"):
        (a // 2).sum().backward()


def test_pow_with_tensor_exponent_and_scalar_base_gradcheck():
    a = tc.tensor([0.5, 1.25, 2.0], dtype=tc.float64, requires_grad=True)
    b = tc.tensor([1.5, -0.75, 2.0], dtype=tc.float64, requires_grad=True)
    assert tc.gradcheck(lambda a, b: a ** b, [a, b])
    assert tc.gradcheck(lambda b: 2.0 ** b, [b])
    z = tc.tensor([0.0, 0.0], dtype=tc.float64, requires_grad=True)
    e = tc.tensor([2.0, 0.0], dtype=tc.float64, requires_grad=True)
    (z ** e).sum().backward()
    assert e.grad.tolist() == [0.0, 0.0]  # 0 ** b: d/db taken as 0, as torch (not NaN)
    with pytest.raises(ValueError, match="negative integer powers"):
        tc.tensor([2]) ** -1


def test_errors_are_clear():
    with pytest.raises(TypeError, match="bool"):
        -tc.tensor([True])
    with pytest.raises(TypeError, match="str"):
        tc.tensor([1.0]) + "a"
    with pytest.raises(TypeError, match="alpha"):
        tc.add(tc.tensor([1.0]), 1, alpha="2")
    assert tc.add(tc.tensor([1.0]), tc.tensor([2.0]), alpha=3).tolist() == [7.0]
    assert tc.sub(tc.tensor([1.0]), 1, alpha=2).tolist() == [-1.0]


# --- the table, against torch --------------------------------------------------------------------------------

OPERANDS = {
    "bool vec": lambda m: m.tensor([True, False, True]),
    "uint8 vec": lambda m: m.tensor([1, 2, 3], dtype=m.uint8),
    "int32 vec": lambda m: m.tensor([1, 2, 3], dtype=m.int32),
    "int64 vec": lambda m: m.tensor([1, 2, 3]),
    "float16 vec": lambda m: m.tensor([1.0, 2.0, 3.0], dtype=m.float16),
    "float32 vec": lambda m: m.tensor([1.5, 2.0, 3.0]),
    "float64 vec": lambda m: m.tensor([1.5, 2.0, 3.0], dtype=m.float64),
    "int64 0-d": lambda m: m.tensor(2),
    "float64 0-d": lambda m: m.tensor(2.5, dtype=m.float64),
    "float32 0-d": lambda m: m.tensor(2.5),
    "bool 0-d": lambda m: m.tensor(True),
    "int": lambda m: 2,
    "float": lambda m: 2.5,
    "bool": lambda m: True,
}
OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
       "%": operator.mod, "**": operator.pow, "==": operator.eq, "<": operator.lt}
PAIRS = [(a, b) for a, b in itertools.product(OPERANDS, OPERANDS)
         if not (a in ("int", "float", "bool") and b in ("int", "float", "bool"))]


@pytest.mark.peer
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("left, right", PAIRS)
def test_promotion_table_matches_torch(op, left, right):
    torch = pytest.importorskip("torch")
    fn = OPS[op]
    try:
        expected = fn(OPERANDS[left](torch), OPERANDS[right](torch))
    except Exception:  # noqa: BLE001 - torch refuses it (bool - bool, float16 pow on the CPU...): so must we
        with pytest.raises((TypeError, ValueError, RuntimeError, ZeroDivisionError, NotImplementedError)):
            fn(OPERANDS[left](tc), OPERANDS[right](tc))
        return
    got = fn(OPERANDS[left](tc), OPERANDS[right](tc))
    assert got.dtype.name == str(expected.dtype).replace("torch.", ""), (left, op, right)
    tol = 1e-3 if "float16" in (got.dtype.name, left, right) else 1e-6
    np.testing.assert_allclose(got.numpy().astype(np.float64), expected.numpy().astype(np.float64), rtol=tol)


@pytest.mark.peer
def test_numpy_scalars_count_as_python_numbers_as_torch():
    torch = pytest.importorskip("torch")
    for s in (np.float64(2.0), np.int64(2), np.float32(0.5)):
        assert (tc.tensor([1.0, 2.0]) * s).dtype.name == str((torch.tensor([1.0, 2.0]) * s).dtype)[6:]
        assert (s * tc.tensor([1, 2])).dtype.name == str((s * torch.tensor([1, 2])).dtype)[6:]


def test_ndarray_operands_count_as_tensors():
    # torch's own result for Tensor <op> ndarray follows no documented rule; tinycnn treats the array as
    # torch.as_tensor(array) (a documented difference) and gives a Tensor from either side
    y = np.ones(3) + tc.tensor([1.0, 2.0, 3.0])
    assert isinstance(y, tc.Tensor) and y.dtype == np.float64
    assert (tc.tensor([1.0]) * np.array(2.0)).dtype == np.float32  # a 0-d array does not widen
    assert isinstance(np.ones(2) == tc.tensor([1.0, 0.0]), tc.Tensor)
    assert F.mul(tc.tensor([1, 2]), np.array([0.5, 0.5], dtype=np.float32)).dtype == np.float32
