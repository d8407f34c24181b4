"""Conformance snippets, part 5: CNNs as courses build them (Conv2d/MaxPool2d/BatchNorm2d/Flatten/Linear stacks,
output shapes, padding='same', the tutorial's Net) and the losses (CrossEntropyLoss with weight, ignore_index and
label_smoothing, NLLLoss, MSELoss, BCEWithLogitsLoss), each run with torch and with tinycnn (see
tests/conformance_harness.py)."""

import warnings

import numpy as np

from .conformance_harness import Snippets, seeded_state

snippets = Snippets()
IMG = np.random.default_rng(11).normal(size=(2, 3, 32, 32)).astype(np.float32)
GRAY = np.random.default_rng(12).normal(size=(4, 1, 28, 28)).astype(np.float32)
LOGITS = np.random.default_rng(13).normal(size=(6, 4)).astype(np.float32)
TARGET = np.array([0, 3, 1, 1, 2, 3], dtype=np.int64)


@snippets.same(rtol=1e-4, atol=1e-5)
def cifar_tutorial_net(torch, nn, F, optim):
    # PyTorch's "Training a classifier" tutorial network, one SGD step
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    net = Net()
    net.load_state_dict(seeded_state(net, torch))
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    inputs, labels = torch.from_numpy(IMG), torch.tensor([3, 7])
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    _, predicted = torch.max(outputs, 1)
    return [losses, outputs, predicted, net.conv1.weight.grad, net.fc3.bias]


@snippets.same(rtol=1e-4, atol=1e-5)
def mnist_convnet_shapes(torch, nn, F, optim):
    # the "PyTorch basic MNIST example" network: conv, conv, max-pool, dropout, flatten, two linear layers
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    model = Net()
    model.load_state_dict(seeded_state(model, torch))
    model.eval()
    output = model(torch.from_numpy(GRAY))
    loss = F.nll_loss(output, torch.tensor([1, 2, 3, 4]))
    pred = output.argmax(dim=1, keepdim=True)
    return [output, loss, pred, output.exp().sum(dim=1)]


@snippets.same(rtol=1e-4, atol=1e-5)
def sequential_cnn_with_batchnorm(torch, nn, F, optim):
    model = nn.Sequential(
        nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, kernel_size=3, padding="same"), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(16, 10))
    model.load_state_dict(seeded_state(model, torch))
    x = torch.from_numpy(IMG)
    shapes = []
    out = x
    for layer in model:
        out = layer(out)
        shapes.append(tuple(out.shape))
    loss = F.cross_entropy(model(x), torch.tensor([1, 9]))
    loss.backward()
    model.eval()
    return [shapes, out, loss, model[0].weight.grad, model(x), model[1].running_mean]


@snippets.same
def conv_output_size_formula(torch, nn, F, optim):
    x = torch.zeros(1, 3, 32, 32)
    sizes = []
    for k, s, p, d in [(3, 1, 0, 1), (5, 2, 2, 1), (3, 2, 1, 1), (7, 2, 3, 1), (3, 1, 2, 2), (1, 1, 0, 1)]:
        conv = nn.Conv2d(3, 4, kernel_size=k, stride=s, padding=p, dilation=d)
        expected = (32 + 2 * p - d * (k - 1) - 1) // s + 1
        sizes.append((tuple(conv(x).shape), expected))
    pools = [tuple(nn.MaxPool2d(3, stride=2)(x).shape), tuple(nn.MaxPool2d(2)(x).shape),
             tuple(nn.AvgPool2d(4, 4)(x).shape), tuple(nn.MaxPool2d(3, 2, padding=1)(x).shape),
             tuple(nn.MaxPool2d(3, 2, ceil_mode=True)(torch.zeros(1, 1, 8, 8)).shape)]
    with warnings.catch_warnings():  # torch warns that an even kernel needs a padded copy
        warnings.simplefilter("ignore")
        same = [tuple(nn.Conv2d(3, 5, k, padding="same")(x).shape) for k in (1, 3, 4, 5)]
    return [sizes, pools, same, tuple(nn.Conv2d(3, 6, (3, 5), padding=(1, 2))(x).shape)]


@snippets.same(rtol=1e-4, atol=1e-5)
def functional_conv_and_pool_values(torch, nn, F, optim):
    x = torch.from_numpy(IMG[:1, :2, :8, :8]).requires_grad_()
    w = torch.from_numpy(np.linspace(-1, 1, 3 * 2 * 3 * 3).reshape(3, 2, 3, 3).astype(np.float32))
    y = F.conv2d(x, w, bias=torch.tensor([0.1, 0.0, -0.1]), stride=1, padding=1)
    z = F.max_pool2d(y, kernel_size=2, stride=2)
    a = F.avg_pool2d(y, 2)
    g = F.adaptive_avg_pool2d(y, 1)
    (z.sum() + a.pow(2).sum() + g.sum()).backward()
    return [y, z, a, g.flatten(1), x.grad, F.conv2d(x, w, padding="same").shape, F.pad(x, (1, 1, 2, 0)).shape]


@snippets.same(rtol=1e-4, atol=1e-5)
def grouped_and_strided_convolutions(torch, nn, F, optim):
    x = torch.from_numpy(IMG[:, :, :9, :9].copy())
    convs = [nn.Conv2d(3, 6, 3, groups=3), nn.Conv2d(3, 3, 3, groups=3, bias=False), nn.Conv2d(3, 4, 3, stride=2,
                                                                                                   dilation=2)]
    outs = []
    for i, conv in enumerate(convs):
        conv.load_state_dict(seeded_state(conv, torch, seed=i))
        outs.append(conv(x))
    return outs


@snippets.same
def cross_entropy_options(torch, nn, F, optim):
    logits = torch.from_numpy(LOGITS).requires_grad_()
    target = torch.from_numpy(TARGET)
    weight = torch.tensor([1.0, 2.0, 0.5, 1.0])
    masked = target.clone()
    masked[2] = -100
    losses = [nn.CrossEntropyLoss()(logits, target), nn.CrossEntropyLoss(weight=weight)(logits, target),
              nn.CrossEntropyLoss(ignore_index=3)(logits, target), F.cross_entropy(logits, masked),
              nn.CrossEntropyLoss(label_smoothing=0.1)(logits, target),
              nn.CrossEntropyLoss(weight=weight, label_smoothing=0.2, ignore_index=1)(logits, target),
              nn.CrossEntropyLoss(reduction="sum")(logits, target),
              nn.CrossEntropyLoss(reduction="none")(logits, target),
              F.cross_entropy(logits, F.softmax(torch.from_numpy(LOGITS[::-1].copy()), dim=1))]
    sum(l.sum() for l in losses).backward()
    return losses + [logits.grad]


@snippets.same
def nll_and_log_softmax(torch, nn, F, optim):
    logits = torch.from_numpy(LOGITS)
    target = torch.from_numpy(TARGET)
    log_probs = nn.LogSoftmax(dim=1)(logits)
    return [nn.NLLLoss()(log_probs, target), F.nll_loss(log_probs, target, reduction="sum"),
            F.cross_entropy(logits, target), -log_probs.gather(1, target.unsqueeze(1)).mean(),
            torch.logsumexp(logits, dim=1), F.one_hot(target, num_classes=5), F.one_hot(target)]


@snippets.same
def regression_and_binary_losses(torch, nn, F, optim):
    pred = torch.from_numpy(LOGITS[:, 0].copy()).requires_grad_()
    target = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    losses = [nn.MSELoss()(pred, target), F.mse_loss(pred, target, reduction="sum"), nn.L1Loss()(pred, target),
              nn.BCEWithLogitsLoss()(pred, target), nn.BCEWithLogitsLoss(pos_weight=torch.tensor(3.0))(pred, target),
              nn.BCELoss()(torch.sigmoid(pred), target), F.binary_cross_entropy_with_logits(pred, target,
                                                                                             reduction="none"),
              nn.SmoothL1Loss()(pred, target), nn.HuberLoss(delta=0.5)(pred, target)]
    sum(losses[:6]).backward()
    return losses + [pred.grad]


@snippets.same
def mse_broadcast_warning_case(torch, nn, F, optim):
    # the classic bug of courses: model(X) of shape (N, 1) against y of shape (N,): torch warns and broadcasts
    pred = torch.tensor([[1.0], [2.0], [3.0]])
    y = torch.tensor([1.0, 2.0, 4.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = F.mse_loss(pred, y)
    return [loss, any("broadcast" in str(w.message) for w in caught), F.mse_loss(pred.flatten(), y),
            F.mse_loss(pred.squeeze(1), y)]


@snippets.same
def activations_and_softmax_layers(torch, nn, F, optim):
    x = torch.from_numpy(LOGITS)
    layers = [nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(), nn.GELU(), nn.SiLU(), nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1),
              nn.LogSoftmax(dim=-1), nn.Softplus(), nn.Softplus(beta=2, threshold=1), nn.Hardtanh(-0.5, 0.5),
              nn.ReLU6()]
    return [layer(x) for layer in layers] + [F.relu6(x * 4), F.hardtanh(x), F.softplus(x), F.leaky_relu(x, 0.3)]


@snippets.unsupported(AttributeError, r"does not support torch\.nn\.PReLU")
def prelu_is_not_supported(torch, nn, F, optim):
    return nn.PReLU()(torch.from_numpy(LOGITS))


test_same_as_torch, test_tinycnn_raises, test_torch_side = snippets.tests()
