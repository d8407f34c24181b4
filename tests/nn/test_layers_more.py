"""The layers of issue 12 as torch.nn's: batch norm's num_batches_tracked, momentum=None, track_running_stats and
BatchNorm1d; activation and loss modules; MaxPool2d's PyTorch signature; gradient clipping (nn.utils)."""

import math

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn


def test_num_batches_tracked_and_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [np.array([[0.0, 1.0], [2.0, 5.0]]), np.array([[4.0, 1.0], [6.0, 3.0]]),
               np.array([[1.0, 0.0], [3.0, 0.0]])]
    for b in batches:
        bn(tc.Tensor(b.astype(np.float32)))
    assert bn.num_batches_tracked.item() == 3 and bn.num_batches_tracked.dtype == np.int64
    # momentum None: the running mean is the plain average of the batch means (PyTorch's cumulative average)
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([b.mean(axis=0) for b in batches], axis=0),
                               rtol=1e-6)
    bn.eval()(tc.Tensor(batches[0].astype(np.float32)))
    assert bn.num_batches_tracked.item() == 3  # eval does not count


def test_without_running_stats_eval_uses_the_batch():
    bn = nn.BatchNorm2d(3, track_running_stats=False, affine=False)
    assert bn.running_mean is None and list(bn.state_dict()) == []
    x = np.random.default_rng(0).normal(5.0, 2.0, (4, 3, 2, 2))
    y = bn.eval()(tc.Tensor(x)).numpy()
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10)


def test_batchnorm_shapes_and_errors():
    with pytest.raises(ValueError, match="expected 4D input \\(got 2D input"):
        nn.BatchNorm2d(3)(tc.Tensor(np.ones((2, 3), np.float32)))
    with pytest.raises(ValueError, match="expected 2D or 3D input \\(got 4D input"):
        nn.BatchNorm1d(3)(tc.Tensor(np.ones((2, 3, 1, 1), np.float32)))
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        nn.BatchNorm1d(0)
    with pytest.raises(TypeError, match="momentum must be a number or None"):
        nn.BatchNorm2d(3, momentum="0.1")
    with pytest.raises(TypeError, match="affine must be a bool"):
        nn.BatchNorm2d(3, affine=1)
    y = nn.BatchNorm1d(3)(tc.Tensor(np.random.default_rng(0).standard_normal((4, 3, 5)).astype(np.float32)))
    assert y.shape == (4, 3, 5)
    only_weight = nn.BatchNorm1d(3, bias=False)
    assert [n for n, _ in only_weight.named_parameters()] == ["weight"]


@pytest.mark.parametrize("shape, momentum, track, affine", [
    ((4, 3), 0.1, True, True), ((4, 3, 5), None, True, True), ((4, 3, 2, 3), None, True, False),
    ((4, 3, 2, 3), 0.3, False, True), ((4, 3), None, False, False)])
def test_gradcheck_batchnorm_variants(shape, momentum, track, affine):
    layer = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(3, momentum=momentum, affine=affine,
                                                                    track_running_stats=track, dtype=np.float64)
    x = tc.Tensor(np.random.default_rng(1).normal(0.5, 2.0, shape), requires_grad=True)
    params = [x] + list(layer.parameters())
    for training in (True, False):
        layer.train(training)
        assert tc.gradcheck(lambda *ts: layer(ts[0]), params)


@pytest.mark.peer
@pytest.mark.parametrize("shape, momentum, track, affine", [
    ((4, 3), 0.1, True, True), ((4, 3, 5), None, True, True), ((4, 3, 2, 3), None, True, False),
    ((4, 3, 2, 3), 0.3, False, True)])
def test_batchnorm_against_torch_over_steps(shape, momentum, track, affine):
    torch = pytest.importorskip("torch")
    ours_cls = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
    theirs_cls = torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d
    ours = ours_cls(3, momentum=momentum, affine=affine, track_running_stats=track, dtype=np.float64)
    theirs = theirs_cls(3, momentum=momentum, affine=affine, track_running_stats=track, dtype=torch.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(0)
    for step in range(6):
        training = step not in (3, 5)
        ours.train(training)
        theirs.train(training)
        x_np = rng.normal(step, 1 + step, shape)
        x, tx = tc.Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        y, ty = ours(x), theirs(tx)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(shape)
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
        for name, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[name].numpy(), value.numpy(), rtol=1e-12, err_msg=name)


@pytest.mark.peer
@pytest.mark.parametrize("make", [
    lambda lib: lib.LeakyReLU(0.2), lambda lib: lib.GELU(), lambda lib: lib.GELU(approximate="tanh"),
    lambda lib: lib.ELU(alpha=0.5), lambda lib: lib.SiLU(), lambda lib: lib.Softmax(dim=1),
    lambda lib: lib.LogSoftmax(dim=-1), lambda lib: lib.ReLU(inplace=True), lambda lib: lib.Tanh(),
    lambda lib: lib.Sigmoid()])
def test_activation_modules_against_torch(make):
    torch = pytest.importorskip("torch")
    x_np = np.random.default_rng(0).standard_normal((3, 4)) * 3
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    x, tx = tc.Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, ty = ours(x), theirs(tx * 1)  # torch's inplace ReLU needs a non-leaf
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-15)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.peer
def test_loss_modules_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    z, t = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    w = rng.uniform(0.5, 2.0, 4)
    p, y = rng.uniform(0.05, 0.95, (6, 4)), rng.uniform(0, 1, (6, 4))
    cases = [
        (nn.CrossEntropyLoss(weight=tc.Tensor(w), label_smoothing=0.1, ignore_index=2),
         torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1, ignore_index=2), z, t),
        (nn.NLLLoss(reduction="sum"), torch.nn.NLLLoss(reduction="sum"), np.log(p), t),
        (nn.MSELoss(), torch.nn.MSELoss(), z, y),
        (nn.L1Loss(reduction="none"), torch.nn.L1Loss(reduction="none"), z, y),
        (nn.BCELoss(weight=tc.Tensor(w)), torch.nn.BCELoss(weight=torch.tensor(w)), p, y),
        (nn.BCEWithLogitsLoss(pos_weight=tc.Tensor(w)), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)), z, y),
    ]
    for ours, theirs, a, b in cases:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())  # weight, pos_weight: buffers, as torch
        x, tx = tc.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        target = b if b.dtype.kind == "i" else tc.Tensor(b)
        out, tout = ours(x, target), theirs(tx, torch.tensor(b))
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, err_msg=repr(ours))
        out.sum().backward()
        tout.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-11, atol=1e-14, err_msg=repr(ours))


def test_loss_module_arguments_are_checked():
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(NotImplementedError, match="size_average and reduce"):
        nn.CrossEntropyLoss(size_average=False)
    with pytest.raises(TypeError, match="weight must be a Tensor"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=2.0)
    loss = nn.CrossEntropyLoss()(tc.Tensor(np.zeros((2, 4))), np.array([1, 3]))
    assert loss.item() == pytest.approx(math.log(4))


def test_pooling_and_linear_take_pytorchs_signatures():
    pool = nn.MaxPool2d(3, 2, 1, 1, False, True)  # kernel, stride, padding, dilation, return_indices, ceil_mode
    assert pool.ceil_mode is True and pool.dilation == 1
    with pytest.raises(NotImplementedError, match="dilation=2"):
        nn.MaxPool2d(3, dilation=2)
    with pytest.raises(NotImplementedError, match="return_indices"):
        nn.MaxPool2d(3, return_indices=True)
    with pytest.raises(NotImplementedError, match="divisor_override"):
        nn.AvgPool2d(2, divisor_override=3)
    lin = nn.Linear(3, 2, False, "cpu", np.float64)  # in, out, bias, device, dtype
    assert lin.bias is None and "bias" in lin._parameters and lin.weight.dtype == np.float64
    assert nn.Identity(54, unused="x")(tc.Tensor(np.ones(1))).item() == 1.0


# ----- gradient clipping ----------------------------------------------------------------------------------

def _params_with_grads(grads):
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros(np.shape(g)))
        p.grad = tc.Tensor(np.array(g, dtype=np.float64))
        params.append(p)
    return params


def test_clip_grad_norm_hand_values():
    params = _params_with_grads([[3.0, 0.0], [0.0, 4.0]])  # total 2-norm 5
    total = nn.utils.clip_grad_norm_(params, max_norm=1.0)
    assert isinstance(total, tc.Tensor) and total.item() == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(params[0].grad.numpy(), [3 * scale, 0.0])
    params = _params_with_grads([[3.0, -7.0]])
    assert nn.utils.clip_grad_norm_(params, 100.0, norm_type="inf").item() == 7.0
    np.testing.assert_array_equal(params[0].grad.numpy(), [3.0, -7.0])  # below max_norm: unchanged
    empty = nn.utils.clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0)
    assert empty.item() == 0.0 and empty.dtype == np.float32
    params = _params_with_grads([[np.inf, 1.0]])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    with pytest.raises(TypeError, match="max_norm must be a number"):
        nn.utils.clip_grad_norm_(params, "1")
    params = _params_with_grads([[0.5, -3.0, 2.0]])
    nn.utils.clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(params[0].grad.numpy(), [0.5, -1.0, 1.0])
    with pytest.raises(NotImplementedError, match="foreach"):
        nn.utils.clip_grad_value_(params, 1.0, foreach=True)


@pytest.mark.peer
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_against_torch(norm_type):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5), rng.standard_normal((2, 2, 2))]
    ours = _params_with_grads(grads)
    theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, g in zip(theirs, grads):
        p.grad = torch.tensor(g)
    total = nn.utils.clip_grad_norm_(iter(ours), 0.7, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, 0.7, norm_type=norm_type)
    assert total.item() == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
    nn.utils.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
