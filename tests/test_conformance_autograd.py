"""Conformance snippets, part 2: the first autograd lessons (requires_grad, backward, accumulation, zero_, no_grad,
detach, hooks, retain_grad, grad_fn, autograd.grad), each run with torch and with tinycnn (see
tests/conformance_harness.py)."""

import numpy as np

from .conformance_harness import Snippets

snippets = Snippets()


@snippets.same
def first_backward(torch, nn, F, optim):
    x = torch.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y * y * 3
    out = z.mean()
    out.backward()
    return {"y_requires_grad": y.requires_grad, "x_leaf": x.is_leaf, "y_leaf": y.is_leaf,
            "has_grad_fn": y.grad_fn is not None, "x_grad_fn": x.grad_fn, "out": out, "grad": x.grad}


@snippets.same
def tutorial_w_b(torch, nn, F, optim):
    # PyTorch's "Automatic differentiation with torch.autograd" tutorial, with fixed weights
    x = torch.ones(5)
    y = torch.zeros(3)
    w = torch.tensor(np.linspace(-1, 1, 15).reshape(5, 3).astype(np.float32), requires_grad=True)
    b = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = F.binary_cross_entropy_with_logits(z, y)
    loss.backward()
    with torch.no_grad():
        z2 = torch.matmul(x, w) + b
    z_det = z.detach()
    return [loss, w.grad, b.grad, z2.requires_grad, z_det.requires_grad, z.requires_grad]


@snippets.same
def gradients_accumulate(torch, nn, F, optim):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    saved = []
    for _ in range(3):
        (x ** 2).sum().backward()
        saved.append(x.grad.clone())
    ref = x.grad
    (x * 10).sum().backward()
    after = ref.clone()  # the reference sees the accumulation: .grad is updated in place
    x.grad.zero_()
    zeroed = x.grad.clone()
    x.grad = None
    (x * x).sum().backward()
    return [saved, after, zeroed, x.grad]


@snippets.same
def vector_backward_with_gradient(torch, nn, F, optim):
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2
    v = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float)
    y.backward(v)
    a = torch.tensor([2.0, 3.0], requires_grad=True)
    b = torch.tensor([6.0, 4.0], requires_grad=True)
    q = 3 * a ** 3 - b ** 2
    q.backward(gradient=torch.tensor([1.0, 1.0]))
    return [x.grad, a.grad, b.grad, 9 * a ** 2 == a.grad, -2 * b == b.grad]


@snippets.same
def no_grad_and_flags(torch, nn, F, optim):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():
        y = x * 2
        inner = torch.is_grad_enabled()
    with torch.set_grad_enabled(False):
        z = x * 2
    with torch.inference_mode():
        w = x * 2

    @torch.no_grad()
    def doubled(t):
        return t * 2

    return [y.requires_grad, z.requires_grad, w.requires_grad, inner, torch.is_grad_enabled(),
            doubled(x).requires_grad, (x * 2).requires_grad]


@snippets.same
def detach_and_requires_grad_(torch, nn, F, optim):
    a = torch.tensor([1.0, 2.0, 3.0])
    before = a.requires_grad
    a.requires_grad_()
    b = (a * a).sum()
    d = a.detach()
    d[0] = 10.0  # detach shares storage
    c = torch.tensor([4.0], requires_grad=True)
    e = (c * 3).detach().requires_grad_(True)
    (e * e).sum().backward()
    return [before, a.requires_grad, b.grad_fn is not None, d.requires_grad, a, e.grad, c.grad, e.is_leaf]


@snippets.same
def retain_grad_of_intermediate(torch, nn, F, optim):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = (y ** 2).sum()
    z.backward()
    return [y.grad, x.grad, y.retains_grad, x.retains_grad]


@snippets.same
def tensor_hooks(torch, nn, F, optim):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []
    h1 = x.register_hook(lambda g: seen.append(g.clone()))
    y = x * 2
    h2 = y.register_hook(lambda g: g * 10)  # replaces the gradient flowing back
    y.sum().backward()
    first = x.grad.clone()
    h1.remove()
    h2.remove()
    x.grad = None
    (x * 2).sum().backward()
    return [seen, first, x.grad, len(seen)]


@snippets.same
def autograd_grad(torch, nn, F, optim):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x ** 3).sum()
    (g,) = torch.autograd.grad(y, x)
    w = torch.tensor([0.5], requires_grad=True)
    gx, gw = torch.autograd.grad((x * w).sum(), [x, w])
    return [g, x.grad, gx, gw]


@snippets.same
def chain_rule_by_hand(torch, nn, F, optim):
    # the computational-graph lesson: f = (a + b) * c, checked against hand derivatives
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(-3.0, requires_grad=True)
    c = torch.tensor(4.0, requires_grad=True)
    e = a + b
    f = e * c
    f.backward()
    return [f.item(), a.grad, b.grad, c.grad, a.grad.item() == c.item(), c.grad.item() == e.item()]


@snippets.same
def graph_reuse_and_shared_input(torch, nn, F, optim):
    x = torch.tensor([0.5, -1.5], requires_grad=True)
    h = torch.tanh(x)
    y = h * h + h  # h used twice
    y.sum().backward()
    dx_first = x.grad.clone()
    x.grad.zero_()
    z = torch.sigmoid(x) * x.exp()
    z.sum().backward()
    return [dx_first, x.grad, y.grad_fn is not None]


@snippets.same
def grad_of_max_relu_abs(torch, nn, F, optim):
    x = torch.tensor([[1.0, 3.0, -2.0], [0.5, -0.5, 2.0]], requires_grad=True)
    (x.relu().sum() + x.max(dim=1).values.sum() + x.abs().mean() + x.clamp(-1, 1).sum()).backward()
    return x.grad


@snippets.same
def grad_through_indexing_and_views(torch, nn, F, optim):
    x = torch.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    y = x[:, 1:].reshape(-1) * torch.tensor([1.0, 2.0, 3.0, 4.0])
    z = x.t()[0].sum() + x.view(6)[::2].sum() + y.sum() + torch.cat([x, x * 2], dim=0).sum()
    z.backward()
    return x.grad


@snippets.unsupported(NotImplementedError, "create_graph")
def second_derivative(torch, nn, F, optim):
    x = torch.tensor([2.0], requires_grad=True)
    y = x ** 3
    (dy,) = torch.autograd.grad(y, x, create_graph=True)
    (d2y,) = torch.autograd.grad(dy, x)
    return d2y


@snippets.raises(RuntimeError, "leaf Variable that requires grad")
def inplace_on_leaf_raises(torch, nn, F, optim):
    w = torch.ones(3, requires_grad=True)
    w += 1  # PyTorch raises too: the point of the no_grad lesson
    return w


@snippets.same
def inplace_on_leaf_under_no_grad(torch, nn, F, optim):
    w = torch.ones(3, requires_grad=True)
    (w * w).sum().backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        w.grad.zero_()
    return [w, w.requires_grad, w.is_leaf, w.grad]


@snippets.same
def backward_twice_with_retain_graph(torch, nn, F, optim):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    return x.grad


@snippets.same
def gradcheck_in_double(torch, nn, F, optim):
    x = torch.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=torch.double, requires_grad=True)
    w = torch.tensor(np.linspace(0.5, -0.5, 12).reshape(3, 4), dtype=torch.float64, requires_grad=True)
    ok = torch.autograd.gradcheck(lambda a, b: torch.tanh(a @ b), (x, w), eps=1e-6, atol=1e-4)
    return [ok, x.dtype, (x @ w).dtype]


test_same_as_torch, test_tinycnn_raises, test_torch_side = snippets.tests()
