"""tinycnn.gradcheck: passes correct backwards, catches wrong ones (naming input, element and errors), checks dtypes."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
from tinycnn import GradcheckError, gradcheck
from tinycnn.tensor import Function


class SquareSum(Function):
    """sum(a * b**2) with a deliberately wrong gradient for b (twice the true 2ab), optionally at one element."""

    def forward(self, a, b, wrong_at=None):
        self.a, self.b, self.wrong_at = a, b, wrong_at
        return (a * b * b).sum()

    def backward(self, g):
        da = g * self.b * self.b
        db = g * 2 * self.a * self.b
        if self.wrong_at is None:
            db = 2 * db  # off by a factor 2 everywhere
        else:
            db = db.copy()
            db[self.wrong_at] *= 2
        return da, db


class CorrectSquare(Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return (2 * g * self.x,)


def inputs():
    a = tc.Tensor(np.array([[1.0, -2.0, 0.5], [3.0, 1.5, -1.0]]), requires_grad=True)
    b = tc.Tensor(np.array([[0.3, 0.7, -0.2], [-0.4, 2.0, 0.9]]), requires_grad=True)
    return a, b


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_passes_on_correct_ops(mode):
    a, b = inputs()
    assert gradcheck(lambda x, y: F.tanh(x * y + x), [a, b], mode=mode) is True
    assert gradcheck(lambda x: CorrectSquare.apply(x), [a], mode=mode) is True
    assert gradcheck(lambda x, y: (x @ y.T, x - y), [a, b], mode=mode) is True  # several outputs


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_catches_a_backward_off_by_factor_two(mode):
    a, b = inputs()
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: SquareSum.apply(x, y), [a, b], mode=mode)
    err = info.value
    assert err.input_index == 1  # input 0's gradient is right; input 1's is wrong
    assert "input 1" in str(err)
    assert "analytic" in str(err) and "numeric" in str(err) and "relative error" in str(err)
    assert err.analytic == pytest.approx(2 * err.numeric, rel=1e-6)
    assert err.rel_error == pytest.approx(1.0, rel=1e-6)
    assert f"{err.rel_error:.3g}" in str(err)
    assert gradcheck(lambda x, y: SquareSum.apply(x, y), [a, b], mode=mode, raise_exception=False) is False


def test_full_mode_names_the_worst_element():
    a, b = inputs()
    # L = w * sum(a b^2) for one random weight w: the error |db - numeric| = |w 2 a b| is largest where |a b| is.
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: SquareSum.apply(x, y), [a, b])
    worst = np.unravel_index(np.argmax(np.abs(a.data * b.data)), a.shape)
    assert info.value.index == tuple(int(i) for i in worst) == (1, 1)
    assert "(1, 1)" in str(info.value)


def test_full_mode_finds_a_single_wrong_element():
    a, b = inputs()
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: SquareSum.apply(x, y, wrong_at=(0, 2)), [a, b])
    assert info.value.index == (0, 2) and info.value.input_index == 1
    assert "(0, 2)" in str(info.value)


def test_fast_mode_has_no_element_index():
    a, b = inputs()
    with pytest.raises(GradcheckError, match="directional") as info:
        gradcheck(lambda x, y: SquareSum.apply(x, y), [a, b], mode="fast")
    assert info.value.index is None


def test_float32_input_raises_type_error():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"inputs\[0\].*float64.*float32"):
        gradcheck(F.tanh, [x])


def test_bad_arguments():
    x = tc.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match=r"inputs\[0\]"):
        gradcheck(F.tanh, [np.array([1.0, 2.0])])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(F.tanh, [tc.Tensor(np.array([1.0]))])
    with pytest.raises(ValueError, match="mode"):
        gradcheck(F.tanh, [x], mode="slow")


def test_inputs_without_grad_are_constants():
    x = tc.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = tc.Tensor(np.array([3.0, -1.0]))
    assert gradcheck(lambda u, v: u * v, [x, c]) is True


def test_non_contiguous_inputs_are_perturbed():
    # Regression: the full mode perturbed a reshape(-1) of the input, which is a copy for a transposed array, so
    # the numeric gradient came out 0 and a correct op was reported wrong.
    data = np.random.default_rng(0).standard_normal((3, 2)).T
    assert not data.flags.c_contiguous
    x = tc.Tensor(data, requires_grad=True)
    assert gradcheck(lambda t: t * t, [x]) is True
    np.testing.assert_array_equal(x.data, data)  # inputs are restored after perturbation
