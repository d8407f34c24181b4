"""Shape ops with PyTorch's signatures (issue 12, item 5): view, squeeze/unsqueeze, expand, repeat, stack, chunk,
split, clone, contiguous, T, size/numel/dim, tolist, iteration; views share memory; gradchecks and torch (peer)."""

import warnings

import numpy as np
import pytest

import tinycnn as tc


def t64(values, requires_grad=True):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_size_is_torchs_method():
    x = tc.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(0) == 2 and x.size(-1) == 4
    assert x.shape == (2, 3, 4) and x.numel() == 24 and x.dim() == 3 and x.ndim == 3 and x.ndimension() == 3
    with pytest.raises(IndexError, match="out of range"):
        x.size(3)


def test_view_shares_memory_and_reshape_forms():
    x = tc.arange(6.0)
    v = x.view(2, 3)
    assert v.shape == (2, 3) and x.view((3, 2)).shape == (3, 2) and x.view(-1, 2).shape == (3, 2)
    v[0, 0] = 10.0  # a write through the view reaches x, as torch
    assert x[0].item() == 10.0
    assert x.reshape(2, -1).shape == (2, 3) and tc.reshape(x, (3, 2)).shape == (3, 2)
    assert x.view_as(tc.zeros(3, 2)).shape == (3, 2) and x.reshape_as(tc.zeros(1, 6)).shape == (1, 6)
    with pytest.raises(ValueError, match=r"\(4, -1\)"):
        x.view(4, -1)
    with pytest.raises(TypeError, match="view\\(dtype\\)"):
        x.view(tc.float64)


def test_view_that_needs_a_copy_is_marked_and_refuses_writes():
    # tinycnn keeps some outputs in another memory order than PyTorch; a view that cannot share memory is a
    # copy, and writing to it raises instead of silently not reaching the original (a documented difference)
    x = tc.arange(6.0).reshape(2, 3)
    t = x.transpose(0, 1)
    v = t.view(-1)
    assert v.tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    with pytest.raises(RuntimeError, match="copy that view"):
        v.add_(1)
    with pytest.raises(RuntimeError, match="copy that view"):
        v[0] = 1.0
    conv_like = tc.Tensor(np.zeros((3, 2, 2, 4), np.float32).transpose(3, 0, 1, 2))  # conv's (C, H, W, N) memory
    flat = conv_like.view(conv_like.size(0), -1)
    assert flat.shape == (4, 12)  # works as in the PyTorch tutorials


def test_squeeze_unsqueeze():
    x = tc.zeros(2, 1, 3, 1)
    assert x.squeeze().shape == (2, 3) and x.squeeze(1).shape == (2, 3, 1) and x.squeeze(0).shape == (2, 1, 3, 1)
    assert x.squeeze((1, 3)).shape == (2, 3) and x.squeeze(-1).shape == (2, 1, 3)
    y = tc.zeros(2, 3)
    assert y.unsqueeze(0).shape == (1, 2, 3) and y.unsqueeze(-1).shape == (2, 3, 1)
    assert y.unsqueeze(2).shape == (2, 3, 1)
    with pytest.raises(IndexError, match="dim 3 .*out of range"):
        y.unsqueeze(3)
    s = y.unsqueeze(0)
    s[0, 0, 0] = 5.0  # a view
    assert y[0, 0].item() == 5.0


def test_expand_and_repeat():
    y = t64([[1.0], [2.0]])
    assert y.expand(2, 3).tolist() == [[1, 1, 1], [2, 2, 2]] and y.expand(-1, 3).shape == (2, 3)
    assert y.expand(4, 2, 3).shape == (4, 2, 3) and y.expand_as(tc.zeros(2, 5)).shape == (2, 5)
    assert y.repeat(2, 3).shape == (4, 3) and y.repeat(1, 2, 2).shape == (1, 4, 2)
    assert tc.tensor([1, 2]).repeat(2).tolist() == [1, 2, 1, 2]  # tiles, unlike NumPy's repeat
    y.expand(2, 3).sum().backward()
    assert y.grad.tolist() == [[3.0], [3.0]]
    with pytest.raises(ValueError, match="non-singleton dimension 1"):
        y.expand(2, 2, 2).expand(2, 3, 2)
    with pytest.raises(ValueError, match="repeat"):
        y.repeat(2)
    with pytest.raises(RuntimeError, match="single memory location"):
        y.detach().expand(2, 3).add_(1)


def test_stack_chunk_split():
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    s = tc.stack([a, b])
    assert s.tolist() == [[1, 2], [3, 4]] and tc.stack([a, b], dim=1).tolist() == [[1, 3], [2, 4]]
    assert tc.stack((a, b), -1).shape == (2, 2)
    (s * tc.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tc.float64)).sum().backward()
    assert a.grad.tolist() == [1.0, 2.0] and b.grad.tolist() == [3.0, 4.0]
    x = tc.arange(7)
    assert [c.tolist() for c in x.chunk(3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [c.shape for c in tc.chunk(tc.zeros(6, 2), 4)] == [(2, 2), (2, 2), (2, 2)]  # fewer pieces, as torch
    assert [c.tolist() for c in x.split(3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [c.tolist() for c in tc.split(x, [2, 5])] == [[0, 1], [2, 3, 4, 5, 6]]
    with pytest.raises(ValueError, match="equal size"):
        tc.stack([a, tc.zeros(3)])
    with pytest.raises(ValueError, match="add up"):
        x.split([2, 2])
    with pytest.raises(ValueError, match="chunks"):
        x.chunk(0)


def test_clone_contiguous_detach_and_transpose_shortcuts():
    x = t64([[1.0, 2.0], [3.0, 4.0]])
    c = x.clone()
    assert c.grad_fn is not None and not np.shares_memory(c.data, x.data)
    (c * 2).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    assert x.contiguous() is x and x.is_contiguous()
    t = x.t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous() and t.contiguous().tolist() == [[1, 3], [2, 4]]
    assert x.T.tolist() == [[1, 3], [2, 4]] and x.mT.tolist() == [[1, 3], [2, 4]]
    assert tc.tensor([1.0, 2.0]).T.shape == (2,)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert tc.zeros(2, 3, 4).T.shape == (4, 3, 2)  # reversed, with torch's deprecation warning
    assert any("deprecated" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="<= 2"):
        tc.zeros(2, 3, 4).t()


def test_tolist_iteration_and_len():
    x = tc.tensor([[1, 2], [3, 4]])
    assert x.tolist() == [[1, 2], [3, 4]] and tc.tensor(2.5).tolist() == 2.5
    assert [r.tolist() for r in x] == [[1, 2], [3, 4]] and len(x) == 2
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(tc.tensor(1.0))
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(tc.tensor(1.0))
    v = tc.arange(3.0)
    row = v[1]
    row += 10  # a 0-d element is a view, as in torch
    assert v.tolist() == [0.0, 11.0, 2.0]


def test_gradchecks():
    rng = np.random.default_rng(0)
    x = t64(rng.standard_normal((2, 1, 3)))
    assert tc.gradcheck(lambda t: t.view(3, 2), [x])
    assert tc.gradcheck(lambda t: t.squeeze().unsqueeze(0), [x])
    assert tc.gradcheck(lambda t: t.expand(4, 2, 5, 3), [x])
    assert tc.gradcheck(lambda t: t.repeat(2, 1, 3, 2), [x])
    assert tc.gradcheck(lambda t: t.clone() * t.contiguous(), [x])
    assert tc.gradcheck(lambda t: tc.stack([t, t * 2], dim=2), [x])
    assert tc.gradcheck(lambda t: t.chunk(2, dim=2)[1] + t.split(1, dim=2)[0], [x])


@pytest.mark.peer
def test_shape_ops_match_torch():
    torch = pytest.importorskip("torch")
    x_np = np.random.default_rng(1).standard_normal((2, 1, 3, 4))
    calls = [
        lambda x: x.transpose(0, 3), lambda x: x.permute(3, 1, 0, 2), lambda x: x.flatten(),
        lambda x: x.flatten(1), lambda x: x.flatten(1, 2), lambda x: x.view(6, -1), lambda x: x.squeeze(),
        lambda x: x.squeeze(1), lambda x: x.unsqueeze(-2), lambda x: x.expand(3, 2, 5, 3, 4),
        lambda x: x.repeat(1, 2, 1, 1, 2), lambda x: x.reshape(4, 6).t(), lambda x: x[:, 0].mT,
        lambda x: torch_or_tc(x).cat([x, x * 2], 2), lambda x: torch_or_tc(x).stack([x, x], 1),
        lambda x: x.chunk(2, 3)[1], lambda x: x.split([1, 3], -1)[1], lambda x: x[1, :, ::2, 1:3],
    ]
    for fn in calls:
        got, expected = [], []
        for lib, out in ((tc, got), (torch, expected)):
            x = lib.tensor(x_np, requires_grad=True)
            y = fn(x)
            y.backward(lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape))))
            out += [y.detach().numpy(), x.grad.numpy()]
        for a, b in zip(got, expected):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)  # sums over expanded dims: order only


def torch_or_tc(x):
    import torch  # noqa: PLC0415

    return torch if isinstance(x, torch.Tensor) else tc
