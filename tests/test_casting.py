"""Casting (issue 12, item 6): .float() .double() .half() .long() .int() .bool(), .to(dtype / device / both /
other), .type(), .cpu(); float-to-float casts are differentiable, as PyTorch's."""

import numpy as np
import pytest

import tinycnn as tc


def test_short_forms():
    # Regression: there was no .float() / .double() / .to(dtype)
    x = tc.tensor([[1.7, -1.7]])
    assert x.double().dtype == np.float64 and x.half().dtype == np.float16
    assert x.long().tolist() == [[1, -1]] and x.long().dtype == np.int64  # truncates toward 0, as torch
    assert x.int().dtype == np.int32 and x.short().dtype == np.int16 and x.char().dtype == np.int8
    assert x.byte().dtype == np.uint8 and x.bool().tolist() == [[True, True]]
    i = tc.tensor([1, 2])
    assert i.float().dtype == np.float32 and i.float().tolist() == [1.0, 2.0]
    assert x.float() is x  # nothing to do: the same tensor, as torch
    assert x.is_floating_point() and not i.is_floating_point()


def test_to_forms():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(tc.float64).dtype == np.float64 and x.to(dtype=tc.float16).dtype == np.float16
    assert x.to("cpu") is x and x.to(tc.float32) is x and x.cpu() is x
    assert x.to("cpu", tc.float64).dtype == np.float64 and x.to(device="cpu", dtype=tc.int64).dtype == np.int64
    assert x.to(tc.tensor([1])).dtype == np.int64  # another tensor's dtype and device
    assert x.to(tc.float32, copy=True) is not x and x.to(tc.float32, non_blocking=True) is x
    assert x.type() == "torch.FloatTensor" and tc.tensor([1]).type() == "torch.LongTensor"  # PyTorch's names
    assert x.type(tc.float64).dtype == np.float64 and x.type("torch.DoubleTensor").dtype == np.float64
    assert x.type_as(tc.tensor([1], dtype=tc.int32)).dtype == np.int32
    with pytest.raises(TypeError, match="dtype"):
        x.to(np.complex64)
    with pytest.raises(ValueError, match="device"):
        x.to("gpu")
    with pytest.raises(TypeError, match="unexpected"):
        x.to(tc.float64, tc.float32)


def test_float_casts_are_differentiable_and_integer_casts_are_not():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    d = x.double()
    assert d.requires_grad and d.grad_fn is not None and not d.is_leaf
    (d * d).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 4.0]
    assert not x.long().requires_grad and x.long().is_leaf
    y = tc.tensor([0.25, -1.5], dtype=tc.float64, requires_grad=True)
    assert tc.gradcheck(lambda t: t.to(tc.float64) * 3 + t.double() ** 2, [y])
    # through float32: a larger step, so that float32's rounding (6e-8) is small against it
    assert tc.gradcheck(lambda t: t.float().double() * 3 + t.to(tc.float32) ** 2, [y], eps=1e-3, atol=1e-4)


@pytest.mark.peer
def test_casts_match_torch():
    torch = pytest.importorskip("torch")
    data = [[1.7, -1.7, 0.0, 255.5, -0.5]]
    for name in ("float", "double", "half", "long", "int", "short", "bool"):
        got, expected = getattr(tc.tensor(data), name)(), getattr(torch.tensor(data), name)()
        assert got.dtype.name == str(expected.dtype)[6:]
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    x, tx = tc.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    (x.double() ** 2).sum().backward()
    (tx.double() ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    assert x.grad.dtype.name == str(tx.grad.dtype)[6:]
