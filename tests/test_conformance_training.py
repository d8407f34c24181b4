"""Conformance snippets, part 3: hand-written training loops as courses teach them (the ``p -= lr * p.grad`` step
under no_grad, linear and logistic regression, a two-layer MLP on a toy problem, the optimizer-driven loop), each
run with torch and with tinycnn (see tests/conformance_harness.py)."""

import numpy as np

from .conformance_harness import Snippets, seeded_state

snippets = Snippets()

_rng = np.random.default_rng(7)
X_REG = _rng.uniform(-1, 1, size=(32, 3)).astype(np.float32)
Y_REG = (X_REG @ np.array([[2.0], [-3.0], [0.5]], dtype=np.float32) + 1.0).astype(np.float32)
X_CLS = _rng.normal(size=(40, 2)).astype(np.float32)
Y_CLS = (X_CLS[:, 0] * X_CLS[:, 1] > 0).astype(np.int64)  # XOR-like quadrants: needs a hidden layer


@snippets.same(rtol=1e-4, atol=1e-5)
def sgd_step_by_hand(torch, nn, F, optim):
    x = torch.from_numpy(X_REG)
    y = torch.from_numpy(Y_REG)
    w = torch.zeros(3, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    lr = 0.1
    losses = []
    for epoch in range(20):
        y_hat = x @ w + b
        loss = ((y_hat - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
            w.grad.zero_()
            b.grad.zero_()
        losses.append(loss.item())
    return [w, b, losses, w.is_leaf, w.grad]


@snippets.same(rtol=1e-4, atol=1e-5)
def sgd_step_over_parameters(torch, nn, F, optim):
    model = nn.Linear(3, 1)
    model.load_state_dict(seeded_state(model, torch))
    x, y = torch.from_numpy(X_REG), torch.from_numpy(Y_REG)
    lr = 0.05
    for _ in range(10):
        loss = F.mse_loss(model(x), y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    for p in model.parameters():  # the older spelling, through .data
        p.data -= lr * p.grad.data
    return [model.weight, model.bias, loss.item()]


@snippets.same(rtol=1e-4, atol=1e-5)
def linear_regression_with_optimizer(torch, nn, F, optim):
    model = nn.Linear(3, 1)
    model.load_state_dict(seeded_state(model, torch))
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    history = []
    for epoch in range(30):
        optimizer.zero_grad()
        outputs = model(torch.from_numpy(X_REG))
        loss = criterion(outputs, torch.from_numpy(Y_REG))
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    predicted = model(torch.from_numpy(X_REG[:4])).detach().numpy()
    return [history, model.weight.detach(), model.bias.detach(), predicted]


@snippets.same(rtol=1e-4, atol=1e-5)
def logistic_regression(torch, nn, F, optim):
    x = torch.from_numpy(X_CLS)
    y = torch.from_numpy((X_CLS[:, 0] + X_CLS[:, 1] > 0).astype(np.float32)).unsqueeze(1)

    class LogisticRegression(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)

        def forward(self, x):
            return torch.sigmoid(self.linear(x))

    model = LogisticRegression()
    model.load_state_dict(seeded_state(model, torch))
    criterion = nn.BCELoss()
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    for _ in range(25):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = model(x).round()
        acc = predicted.eq(y).sum() / float(y.shape[0])
    return [loss, acc, model.linear.weight.detach()]


@snippets.same(rtol=1e-4, atol=1e-5)
def two_layer_mlp_on_xor(torch, nn, F, optim):
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    model.load_state_dict(seeded_state(model, torch, seed=3))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    x, y = torch.from_numpy(X_CLS), torch.from_numpy(Y_CLS)
    for epoch in range(40):
        model.train()
        pred = model(x)
        loss = loss_fn(pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(x)
        correct = (logits.argmax(1) == y).type(torch.float).sum().item()
    return [loss.item(), correct, logits]


@snippets.same(rtol=1e-4, atol=1e-5)
def mlp_by_hand_with_parameters(torch, nn, F, optim):
    # "nn from scratch": weights as tensors, forward by hand, manual update
    w1 = torch.tensor(np.linspace(-0.5, 0.5, 2 * 8).reshape(2, 8).astype(np.float32), requires_grad=True)
    b1 = torch.zeros(8, requires_grad=True)
    w2 = torch.tensor(np.linspace(0.3, -0.3, 8 * 2).reshape(8, 2).astype(np.float32), requires_grad=True)
    b2 = torch.zeros(2, requires_grad=True)
    x, y = torch.from_numpy(X_CLS), torch.from_numpy(Y_CLS)
    for _ in range(15):
        h = (x @ w1 + b1).clamp(min=0)
        logits = h @ w2 + b2
        loss = F.cross_entropy(logits, y)
        loss.backward()
        with torch.no_grad():
            for p in (w1, b1, w2, b2):
                p.sub_(0.5 * p.grad)
                p.grad = None
    log_probs = logits.log_softmax(-1)
    nll = -log_probs[range(y.shape[0]), y].mean()
    return [loss, nll, w1, b2]


@snippets.same(rtol=1e-4, atol=1e-5)
def minibatch_loop_with_randperm_free_indices(torch, nn, F, optim):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    model.load_state_dict(seeded_state(model, torch, seed=5))
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x_all, y_all = torch.from_numpy(X_REG), torch.from_numpy(Y_REG)
    order = np.random.default_rng(0).permutation(len(X_REG))
    batch_size = 8
    running_loss = 0.0
    for epoch in range(2):
        for i in range(0, x_all.size(0), batch_size):
            idx = torch.from_numpy(order[i:i + batch_size])
            xb, yb = x_all[idx], y_all[idx]
            loss = F.mse_loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * xb.size(0)
    return [running_loss / len(X_REG), [p.detach() for p in model.parameters()]]


@snippets.same
def evaluate_loop_no_grad(torch, nn, F, optim):
    model = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2))
    model.load_state_dict(seeded_state(model, torch, seed=1))
    model.eval()
    test_loss, correct = 0, 0
    x, y = torch.from_numpy(X_CLS), torch.from_numpy(Y_CLS)
    with torch.no_grad():
        for i in range(0, 40, 16):
            pred = model(x[i:i + 16])
            test_loss += F.cross_entropy(pred, y[i:i + 16], reduction="sum").item()
            correct += (pred.argmax(1) == y[i:i + 16]).type(torch.float).sum().item()
    return [test_loss / 40, correct / 40, pred.requires_grad]


@snippets.same
def tensor_dataset_and_data_loader(torch, nn, F, optim):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X_REG), torch.from_numpy(Y_REG))
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=False)
    model = nn.Linear(3, 1)
    model.load_state_dict(seeded_state(model, torch))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    sizes = []
    for xb, yb in loader:
        loss = F.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        sizes.append(tuple(xb.shape))
    return [len(dataset), len(loader), sizes, dataset[3][1], model.weight.detach()]


@snippets.same
def accuracy_with_max_of_data(torch, nn, F, optim):
    # PyTorch's CIFAR-10 tutorial: `_, predicted = torch.max(outputs.data, 1)` (tinycnn's .data is the array; max,
    # min, argmax and argmin take it as the tensor it is in PyTorch)
    outputs = torch.from_numpy(X_REG) @ torch.from_numpy(X_REG[:3].T.copy())
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1] * 5)[:outputs.shape[0]]
    _, predicted = torch.max(outputs.data, 1)
    total = labels.size(0)
    correct = (predicted == labels).sum().item()
    return [predicted, correct, total, 100 * correct // total, torch.argmax(outputs.data, dim=1)]


test_same_as_torch, test_tinycnn_raises, test_torch_side = snippets.tests()
