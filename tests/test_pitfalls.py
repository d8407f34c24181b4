"""PITFALLS.md rows P01-P09 and P11-P13, each with the exact inputs and right values of the table.

(P10 batch norm and P14-P17 data, optimizers live with their own modules' tests.)
"""

import math

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_p01_col2im_adds_overlapping_patches():
    x, w = t64(np.ones((1, 1, 3, 3))), t64(np.ones((1, 1, 2, 2)))
    y = F.conv2d(x, w)
    np.testing.assert_array_equal(y.numpy(), np.full((1, 1, 2, 2), 4.0))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(w.grad.numpy(), np.full((1, 1, 2, 2), 4.0))


def test_p02_stride_that_does_not_tile_keeps_the_border():
    x, w = t64(np.ones((1, 1, 6, 6))), t64(np.ones((1, 1, 3, 3)))
    y = F.conv2d(x, w, stride=2)
    assert y.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(y.numpy(), np.full((1, 1, 2, 2), 9.0))
    y.sum().backward()
    r = np.array([1, 1, 2, 1, 1, 0], dtype=np.float64)
    assert x.grad.shape == (1, 1, 6, 6)
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], np.outer(r, r))
    assert (x.grad.numpy()[0, 0, 5, :] == 0).all() and (x.grad.numpy()[0, 0, :, 5] == 0).all()


def test_p03_convolution_is_cross_correlation():
    y = F.conv2d(t64([[[[1.0, 2.0], [3.0, 4.0]]]]), t64([[[[1.0, 0.0], [0.0, 0.0]]]]))
    assert y.item() == 1.0
    y = F.conv2d(t64(np.arange(1.0, 10.0).reshape(1, 1, 3, 3)), t64([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(y.numpy()[0, 0], [[37, 47], [67, 77]])


def test_p04_max_pool_ties_go_to_the_first_maximum():
    x = t64([[[[1.0, 3.0], [3.0, 2.0]]]])
    y = F.max_pool2d(x, 2)
    assert y.item() == 3.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 1], [0, 0]])

    x = t64(np.ones((1, 1, 4, 4)))
    y = F.max_pool2d(x, 2, stride=2)
    y.sum().backward()
    first = x.grad.numpy().copy()
    np.testing.assert_array_equal(first[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    x.zero_grad()
    y.sum().backward()  # a second backward gives the same dx
    np.testing.assert_array_equal(x.grad.numpy(), first)

    x = t64([[[[1.0, np.nan], [3.0, 2.0]]]])  # a NaN in a window wins
    y = F.max_pool2d(x, 2)
    assert math.isnan(y.item())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 1], [0, 0]])


def test_p05_overlapping_pooling_accumulates():
    x_np = np.arange(1.0, 25.0).reshape(4, 6)
    x_np[1, 1] = 88
    x = t64(x_np[None, None])
    y = F.max_pool2d(x, 3, stride=2, padding=1)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[88, 88, 12], [88, 88, 24]])
    y.sum().backward()
    expected = np.zeros((4, 6))
    expected[1, 1] = 4
    expected[x_np == 12] = 1
    expected[x_np == 24] = 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_p06_max_pool_pads_with_minus_infinity():
    x = t64([[[[-1.0, -2.0], [-3.0, -4.0]]]])
    y = F.max_pool2d(x, 2, stride=1, padding=1)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[-1, -1, -2], [-1, -1, -2], [-3, -3, -4]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[4, 2], [2, 1]])

    for pool in (F.global_avg_pool2d, lambda t: F.adaptive_avg_pool2d(t, 1)):
        g = t64(np.random.default_rng(0).standard_normal((1, 1, 3, 4)))
        pool(g).sum().backward()
        np.testing.assert_allclose(g.grad.numpy(), np.full((1, 1, 3, 4), 1 / 12), rtol=1e-15)


def test_p07_softmax_neither_overflows_nor_underflows():
    with np.errstate(all="raise"):
        a = F.softmax(tc.tensor([1000.0, 1001.0]), dim=0)
        b = F.softmax(tc.tensor([-1e4, -1e4]), dim=0)
        c = F.softmax(tc.tensor([[1000.0, 1001.0], [-1000.0, -999.0]]), dim=1)
    np.testing.assert_allclose(a.numpy(), [0.268941, 0.731059], atol=1e-6)
    np.testing.assert_array_equal(b.numpy(), [0.5, 0.5])
    np.testing.assert_allclose(c.numpy(), [[0.2689, 0.7311], [0.2689, 0.7311]], atol=1e-4)


def test_p08_cross_entropy_on_logits_is_finite():
    loss = F.cross_entropy(tc.tensor([[0.0, 200.0]]), [0])
    assert loss.dtype == np.float32 and loss.item() == 200.0

    z = t64([[-np.inf, 0.0, 0.0]])
    loss = F.cross_entropy(z, [1])
    assert loss.item() == pytest.approx(math.log(2), rel=1e-12)
    loss.backward()
    assert np.isfinite(z.grad.numpy()).all()
    np.testing.assert_allclose(z.grad.numpy(), [[0.0, -0.5, 0.5]], atol=1e-15)

    z_np = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    z = t64(z_np)
    loss = F.cross_entropy(z, [2, 0])
    assert loss.item() == pytest.approx(1.407606, abs=1e-6)
    loss.backward()
    softmax = np.exp(z_np) / np.exp(z_np).sum(axis=1, keepdims=True)
    onehot = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(z.grad.numpy(), (softmax - onehot) / 2, rtol=1e-12)


def test_p09_dropout_scaling_eval_p1_mask_and_seed():
    x = tc.Tensor(np.ones((1000, 1000), dtype=np.float32), requires_grad=True)
    tc.manual_seed(0)
    y = F.dropout(x, p=0.5, training=True)
    values = y.numpy()
    assert set(np.unique(values).tolist()) == {0.0, 2.0}
    assert abs(float((values == 0).mean()) - 0.5) <= 0.005
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # backward uses the forward's mask (x is all ones)

    assert np.array_equal(F.dropout(x, p=0.5, training=False).numpy(), x.numpy())
    with np.errstate(all="raise"):
        zeros = F.dropout(x, p=1.0).numpy()
    assert not np.isnan(zeros).any() and (zeros == 0).all()

    tc.manual_seed(0)
    np.testing.assert_array_equal(F.dropout(x, p=0.5).numpy(), values)  # same seed, same mask


def test_p11_value_on_several_paths():
    x, a = t64(1.0), t64(1.0)
    f = x * (x * a) + (x * x) * a + x * (x * a)
    f.backward()
    assert x.grad.item() == 6.0 and a.grad.item() == 3.0

    x = t64(-4.0)
    z = 2 * x + 2 + x
    q = F.relu(z) + z * x
    h = F.relu(z * z)
    y = h + q + q * x
    assert y.item() == -20.0
    y.backward()
    assert x.grad.item() == 46.0
    y.backward()  # twice without zeroing: exactly doubled
    assert x.grad.item() == 92.0


def test_p12_broadcast_operand_gets_its_own_shape():
    A, b = t64(np.ones((3, 4))), t64(np.ones(4))
    (A + b).sum().backward()
    assert b.grad.shape == (4,)
    np.testing.assert_array_equal(b.grad.numpy(), [3, 3, 3, 3])

    u, v = t64([[1.0], [2.0], [3.0], [4.0]]), t64([[10.0, 20.0, 30.0, 40.0]])
    (u * v).sum().backward()
    assert u.grad.shape == (4, 1) and v.grad.shape == (1, 4)
    np.testing.assert_array_equal(u.grad.numpy(), np.full((4, 1), 100.0))
    np.testing.assert_array_equal(v.grad.numpy(), np.full((1, 4), 10.0))

    x, w, bias = t64(np.ones((2, 1, 4, 4))), t64(np.ones((3, 1, 1, 1))), t64(np.zeros(3))
    y = F.conv2d(x, w, bias)
    y.backward(np.ones((2, 3, 4, 4)))
    assert bias.grad.shape == (3,)
    np.testing.assert_array_equal(bias.grad.numpy(), [32, 32, 32])


def test_p13_relu_derivative_at_zero_is_zero():
    x = t64([-1.0, 0.0, 2.0])
    F.relu(x).backward(np.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 1])

    a, b, c = t64(2.0), t64(-3.0), t64(10.0)
    e = F.relu(a + b * c)
    e.backward()
    assert a.grad.item() == 0 and b.grad.item() == 0 and c.grad.item() == 0
