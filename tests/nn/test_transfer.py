"""Transfer-learning building blocks (issue 15): a frozen backbone (requires_grad_(False): backward computes no
gradient for it and the optimizers leave it alone, momentum and weight decay included), a replaced head, and
batch norms frozen to their pretrained statistics (FrozenBatchNorm2d, freeze_batch_norm)."""
import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn
import tinycnn.optim as optim
from tinycnn.models import resnet18, vgg11_bn
from tinycnn.nn.utils import freeze_batch_norm


def with_statistics(model, rng):
    """Give every batch norm running statistics and affine values other than 0/1, as a trained network has."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.data[...] = rng.uniform(-0.3, 0.3, n)
            m.running_var.data[...] = rng.uniform(0.5, 1.5, n)
            m.weight.data[...] = rng.uniform(0.5, 1.5, n)
            m.bias.data[...] = rng.uniform(-0.2, 0.2, n)
    return model


@pytest.mark.parametrize("make_optimizer", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-2),
    lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-2),
])
def test_frozen_backbone_is_skipped_by_backward_and_the_optimizer(make_optimizer, rng):
    tc.manual_seed(0)
    model = resnet18(num_classes=1000)
    model.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, 3)  # the new head: new parameters, trainable
    frozen = {n: p.numpy().copy() for n, p in model.named_parameters() if not n.startswith("fc.")}
    head = model.fc.weight.numpy().copy()
    # every parameter given to the optimizer, as a careless script does: the frozen ones must not move
    opt = make_optimizer(model.parameters())
    x = tc.Tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), tc.Tensor(np.array([0, 2]))).backward()
        for n, p in model.named_parameters():
            assert (p.grad is None) == (not n.startswith("fc.")), n
        opt.step()
    for n, p in model.named_parameters():
        if n in frozen:
            assert np.array_equal(p.numpy(), frozen[n]), n
    assert not np.array_equal(model.fc.weight.numpy(), head)
    assert model.num_parameters() == 512 * 3 + 3  # trainable only


def test_frozen_batch_norm_matches_eval_mode_in_any_mode(rng):
    bn = with_statistics(nn.Sequential(nn.BatchNorm2d(4)), rng)
    x = tc.Tensor(rng.standard_normal((3, 4, 5, 5)).astype(np.float32))
    expected = bn.eval()(x).numpy()
    frozen = freeze_batch_norm(bn)
    assert type(frozen[0]) is nn.FrozenBatchNorm2d and repr(frozen[0]) == "FrozenBatchNorm2d(4, eps=1e-05)"
    stats = frozen[0].running_mean.numpy().copy()
    for mode in (True, False):
        frozen.train(mode)
        np.testing.assert_allclose(frozen(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert np.array_equal(frozen[0].running_mean.numpy(), stats)  # training mode changed nothing
    assert list(frozen.state_dict()) == ["0.weight", "0.bias", "0.running_mean", "0.running_var"]
    assert list(frozen.parameters()) == []


def test_frozen_batch_norm_passes_gradients_float64(rng):
    bn = with_statistics(nn.Sequential(nn.BatchNorm2d(3)), rng).double()
    frozen = freeze_batch_norm(bn)[0]
    assert frozen.weight.dtype == np.float64
    x = tc.Tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    assert tc.gradcheck(frozen, [x])


@pytest.mark.peer
def test_frozen_batch_norm_is_torch_eval_batch_norm(rng):
    torch = pytest.importorskip("torch")
    ours = with_statistics(nn.Sequential(nn.BatchNorm2d(6)), rng)
    ref = torch.nn.BatchNorm2d(6).eval()
    ref.load_state_dict({k.removeprefix("0."): torch.from_numpy(np.array(v.numpy())) for k, v in
                         ours.state_dict().items()})
    freeze_batch_norm(ours).train()
    x = rng.standard_normal((2, 6, 4, 4)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(tc.Tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_fine_tuning_recipe_on_a_pretrained_resnet(rng):
    """The documented recipe: freeze, freeze the batch norms, new head; train mode gives eval mode's features,
    one step changes the head only, and the frozen model's state dict loads back into a plain resnet18."""
    tc.manual_seed(0)
    model = with_statistics(resnet18(), rng)
    x = tc.Tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    model.eval()
    with tc.no_grad():
        features = model.avgpool(model.layer4(model.layer3(model.layer2(model.layer1(
            model.maxpool(model.relu(model.bn1(model.conv1(x))))))))).numpy()
    model.requires_grad_(False)
    freeze_batch_norm(model)
    model.fc = nn.Linear(512, 4)
    assert sum(isinstance(m, nn.FrozenBatchNorm2d) for m in model.modules()) == 20
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    model.train()
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    F.cross_entropy(model(x), tc.Tensor(np.array([1, 3]))).backward()
    opt.step()
    after = model.state_dict()
    assert [k for k in before if not np.array_equal(before[k], after[k].numpy())] == ["fc.weight", "fc.bias"]
    with tc.no_grad():  # in training mode, the frozen backbone computes what the eval-mode one did
        logits = model(x).numpy()
    np.testing.assert_allclose(logits, model.fc(tc.Tensor(features.reshape(2, 512))).numpy(), rtol=1e-4,
                               atol=1e-5)
    plain = resnet18(num_classes=4)
    missing, unexpected = plain.load_state_dict(model.state_dict())  # num_batches_tracked absent: tolerated
    assert not missing and not unexpected


def test_freeze_batch_norm_errors():
    with pytest.raises(TypeError, match="Module"):
        freeze_batch_norm("model")
    with pytest.raises(ValueError, match="track_running_stats"):
        freeze_batch_norm(nn.Sequential(nn.BatchNorm2d(2, track_running_stats=False)))
    with pytest.raises(ValueError, match="4D"):
        nn.FrozenBatchNorm2d(2)(tc.zeros(2, 2))


def test_vgg_head_replacement():
    tc.manual_seed(0)
    model = vgg11_bn(num_classes=10, in_channels=1, small_input=True)
    model.classifier[6] = nn.Linear(512, 2)
    assert list(model.state_dict())[-2:] == ["classifier.6.weight", "classifier.6.bias"]
    assert model(tc.zeros(2, 1, 32, 32)).shape == (2, 2)
