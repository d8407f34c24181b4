"""Conformance snippets, part 1: the first tensor lessons of PyTorch's tutorials and courses (creation, indexing,
slicing, broadcasting, dtypes, reshaping, in-place ops, comparisons, reductions, the accuracy line). Each runs with
torch and with tinycnn (see tests/conformance_harness.py)."""

import numpy as np

from .conformance_harness import Snippets

snippets = Snippets()
A = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5  # a small matrix with negative and positive values


@snippets.same
def creation(torch, nn, F, optim):
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    x_float = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x_ones = torch.ones_like(x_data)
    x_rand_shape = torch.zeros_like(x_data, dtype=torch.float)
    shape = (2, 3)
    return [x_data, x_float, x_ones, x_rand_shape, torch.ones(shape), torch.zeros(shape), torch.full((2, 2), 7.0),
            torch.arange(5), torch.arange(0, 1, 0.25), torch.linspace(0, 1, steps=5), torch.eye(3),
            torch.empty(2, 3).shape, torch.tensor(3.5), torch.tensor(True), torch.zeros(2, 3, dtype=torch.int64)]


@snippets.same
def attributes(torch, nn, F, optim):
    t = torch.tensor(A)
    return {"shape": t.shape, "size": t.size(), "size1": t.size(1), "size-1": t.size(-1), "dim": t.dim(),
            "ndim": t.ndim, "numel": t.numel(), "dtype": t.dtype, "len": len(t),
            "is_float": t.is_floating_point(), "item": t[1, 2].item(), "tolist": t[0].tolist()}


@snippets.same
def numpy_bridge(torch, nn, F, optim):
    n = np.ones(5)
    t = torch.from_numpy(n)  # shares memory
    np.add(n, 1, out=n)
    c = torch.tensor(n)  # copies
    n[0] = 10.0
    back = t.numpy()
    back[1] = -1.0
    return {"shared": t, "copied": c, "dtype": t.dtype, "as_tensor": torch.as_tensor(n[:2]),
            "array": np.asarray(t[2:])}


@snippets.same
def indexing_and_slicing(torch, nn, F, optim):
    x = torch.tensor(A)
    return [x[0], x[:, 1], x[..., -1], x[1:3, ::2], x[-1, -1], x[[0, 2]], x[x > 0], x[:, None].shape,
            x[None].shape, x[1][2], x[torch.tensor([2, 0])], x[:, torch.tensor([True, False, True, False])]]


@snippets.same
def assignment_by_index(torch, nn, F, optim):
    x = torch.tensor(A).clone()
    x[0] = 5
    x[:, 1] = torch.tensor([1.0, 2.0, 3.0])
    x[x < 0] = 0
    x[2, 3] += 100
    y = torch.zeros(4, 4)
    y[1:3, 1:3] = 1.0
    return x, y


@snippets.same
def broadcasting(torch, nn, F, optim):
    col = torch.tensor([[1.0], [2.0], [3.0]])
    row = torch.tensor([10.0, 20.0, 30.0, 40.0])
    m = torch.tensor(A)
    return [col + row, m - m.mean(dim=0), m / m.abs().sum(dim=1, keepdim=True), m * 2 + 1, 1 - m, 2 ** m[0],
            (col * row).shape, torch.ones(2, 1, 3) + torch.ones(4, 1)]


@snippets.same
def arithmetic_and_matmul(torch, nn, F, optim):
    a = torch.tensor(A)
    b = torch.tensor(A.T.copy())
    return [a @ b, torch.matmul(a, b), a.mm(b), a.matmul(b[:, 0]), a * a, torch.mul(a, 3), a.T, a.t(),
            torch.dot(a[0], a[1]), a.abs().sqrt(), torch.exp(a / 10), a.pow(2), a ** 0.5]


@snippets.same
def dtypes_and_promotion(torch, nn, F, optim):
    i = torch.tensor([1, 2, 3])
    u8 = torch.tensor(np.array([0, 128, 255], dtype=np.uint8))
    b = torch.tensor([True, False, True])
    return [i / 2, i // 2, i * 2.5, i + 1, u8 / 255.0, u8.float() / 255, b.sum(), b.float().mean(),
            i.float(), i.double(), torch.tensor([1.7, -1.7]).long(), i.to(torch.float64), i.dtype,
            (i + torch.tensor([0.5])).dtype, i.type(torch.float32), torch.tensor([1.5]).int(), b.int()]


@snippets.same
def reshaping(torch, nn, F, optim):
    x = torch.arange(24)
    y = x.view(2, 3, 4)
    return [y.shape, x.view(-1, 6).shape, x.reshape(4, -1), y.permute(2, 0, 1).shape, y.transpose(0, 1).shape,
            y.flatten(), y.flatten(1).shape, torch.flatten(y, start_dim=1, end_dim=2).shape,
            y.unsqueeze(0).shape, y[:, :1].squeeze().shape, y[:, :1].squeeze(1).shape,
            y.transpose(1, 2).contiguous().view(2, -1),
            torch.cat([y, y], dim=1).shape, torch.stack([x, x]).shape, torch.stack([x, x], dim=1).shape,
            y.view(6, 4).t()[0], x.chunk(3)[1], x.split(10)[2], y.size(), y.transpose(0, 2).is_contiguous()]


@snippets.same
def inplace_operations(torch, nn, F, optim):
    x = torch.tensor(A).clone()
    same_object = x
    x.add_(5)
    x.mul_(2)
    x += 1
    x -= torch.ones(4)
    x *= 0.5
    x /= 2
    x.clamp_(min=0)
    y = torch.ones(2, 2)
    y.zero_()
    y.fill_(3.0)
    z = torch.empty(3)
    z.copy_(torch.tensor([1.0, 2.0, 3.0]))
    w = torch.tensor([1.0, -2.0, 3.0])
    w.abs_().sqrt_().neg_()
    return [x, x is same_object, y, z, w, torch.ones(3).add_(torch.ones(3), alpha=2)]


@snippets.same
def comparisons_and_where(torch, nn, F, optim):
    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    b = torch.tensor([1.0, 0.0, 3.0, 5.0])
    return [a == b, a != b, a > 2, a >= b, a < 3, torch.eq(a, b), torch.equal(a, b), torch.equal(a, a.clone()),
            torch.allclose(a, a + 1e-9), torch.where(a > 2, a, torch.zeros_like(a)), torch.where(a > 2, a, 0.0),
            (a > 1) & (a < 4), (a > 3) | (a < 2), ~(a > 2), torch.isclose(a, b), (a == b).all(), (a == b).any(),
            a.eq(b).sum(), torch.maximum(a, b), torch.clamp(a, 2, 3), a.gt(2).nonzero()]


@snippets.same
def reductions(torch, nn, F, optim):
    x = torch.tensor(A)
    vals, idx = x.max(dim=1)
    return [x.sum(), x.sum(dim=0), x.sum(1, keepdim=True), x.mean(), x.mean(dim=(0, 1)), vals, idx,
            torch.max(x), torch.min(x, dim=0), x.argmax(), x.argmax(dim=1), x.argmin(0), x.std(), x.var(dim=1),
            x.std(dim=0, unbiased=False), x.prod(1), x.abs().max(), x.norm(), x.sum().item(), torch.argmax(x, 1),
            x.cumsum(dim=1), torch.max(x, 1, keepdim=True).values, x.amax(dim=0), x.logsumexp(dim=1)]


@snippets.unsupported(AttributeError, r"'Tensor' object has no attribute 'median'")
def median_is_not_supported(torch, nn, F, optim):
    x = torch.tensor([3.0, 1.0, 2.0, 5.0])
    return x.median()


@snippets.same
def ties_follow_torch(torch, nn, F, optim):
    x = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    return [x.argmax(dim=1), x.max(dim=1).indices, x.argmin(dim=1), torch.max(x, 0)]


@snippets.same
def accuracy_lines(torch, nn, F, optim):
    logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0], [0.1, 0.2, 3.0], [1.0, 0.9, 0.8]])
    labels = torch.tensor([0, 1, 1, 0])
    _, predicted = torch.max(logits, 1)
    correct = 0
    total = 0
    total += labels.size(0)
    correct += (predicted == labels).sum().item()
    acc1 = 100 * correct / total
    acc2 = (logits.argmax(dim=1) == labels).float().mean().item()
    acc3 = (logits.argmax(1) == labels).type(torch.float).sum().item()
    pred = logits.argmax(dim=1, keepdim=True)
    acc4 = pred.eq(labels.view_as(pred)).sum().item()
    probs = F.softmax(logits, dim=1)
    top_p, top_class = probs.topk(1, dim=1)
    return [predicted, correct, acc1, acc2, acc3, acc4, top_p, top_class]


@snippets.same
def sort_and_topk(torch, nn, F, optim):
    x = torch.tensor([3.0, 1.0, 2.0, 5.0, 4.0])
    values, indices = torch.sort(x, descending=True)
    return [values, indices, x.topk(2), torch.argsort(x), x.sort().values, x.unique(), x[x.argsort()[:2]]]


@snippets.same
def math_functions(torch, nn, F, optim):
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0])
    return [torch.sigmoid(x), torch.tanh(x), torch.relu(x), x.relu(), torch.softmax(x, dim=0), x.exp(), x.abs().log1p(),
            torch.log(x.abs() + 1), x.floor(), x.ceil(), x.round(), x.sign(), torch.sin(x), torch.cos(x),
            x.clamp(min=0), x.sigmoid(), x.tanh(), torch.softmax(x, 0).sum()]


@snippets.same
def random_with_seed(torch, nn, F, optim):
    # the shapes and dtypes of random tensors are the same; their values differ (another generator)
    torch.manual_seed(0)
    a = torch.rand(2, 3)
    b = torch.randn(4)
    c = torch.randint(0, 10, (5,))
    torch.manual_seed(0)
    return [a.shape, b.dtype, c.dtype, bool((c >= 0).all() and (c < 10).all()), bool((a < 1).all()),
            torch.equal(torch.rand(2, 3), a), torch.randperm(5).sort().values]


test_same_as_torch, test_tinycnn_raises, test_torch_side = snippets.tests()
