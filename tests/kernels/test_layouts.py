"""Activations and gradients keep the (C, H, W, N) memory order of conv outputs through a whole network (the fast
tier's layout, tinycnn/kernels/columns.py): an op over two arrays of different memory orders, or the copy between
them, runs about 10x slower than over one (ResNet-20's option-A shortcuts and global pooling used to hand NCHW arrays
to half of its layers). A wrong order is never a wrong value, so only these tests see it."""

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
from tinycnn.functional.activation import ReLU
from tinycnn.kernels.conv import FastConv2d
from tinycnn.kernels.normalization import FastBatchNorm
from tinycnn.models import resnet20


def order(a):
    """The axes of 4-D ``a`` from the outermost in memory to the innermost, as letters: "CHWN" or "NCHW"."""
    return "".join("NCHW"[k] for k in sorted(range(4), key=lambda k: -abs(a.strides[k])))


def test_resnet20_activations_and_gradients_stay_chwn(monkeypatch):
    seen = []
    for cls in (FastConv2d, FastBatchNorm, ReLU):
        def spy(method, cls=cls):
            original = getattr(cls, method)

            def wrapped(self, a, *args, **kwargs):
                if a.ndim == 4:
                    seen.append((cls.__name__, method, a.shape, order(a)))
                return original(self, a, *args, **kwargs)
            monkeypatch.setattr(cls, method, wrapped)
        spy("forward")
        spy("backward")
    net = resnet20().train()
    x = tc.Tensor(np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32))
    F.cross_entropy(net(x), np.arange(4) % 10).backward()
    assert len(seen) == 2 * (19 + 19 + 19)  # 19 convs, 19 batch norms, 19 ReLUs, forward and backward
    # the network's input is NCHW; everything after the first conv is a conv output or made from one
    wrong = [s for s in seen if s[3] != "CHWN" and not (s[0] == "FastConv2d" and s[1] == "forward" and s[2][1] == 3)]
    assert not wrong, wrong


@pytest.mark.parametrize("op", ["pad", "getitem", "global_avg_pool"])
def test_shortcut_and_pooling_ops_keep_their_input_memory_order(op):
    # the ops of ResNet's option-A shortcut (every second pixel, zero channels appended) and of its head allocate
    # their outputs and gradients in their input's memory order
    x = tc.Tensor(np.ascontiguousarray(np.ones((5, 4, 6, 2))).transpose(3, 0, 1, 2), requires_grad=True)  # CHWN
    calls = {"pad": lambda t: F.pad(t, (0, 0, 0, 0, 0, 3)),
             "getitem": lambda t: t[:, :, ::2, ::2],
             "global_avg_pool": lambda t: F.adaptive_avg_pool2d(t, 1)}
    y = calls[op](x)
    g = np.ascontiguousarray(np.ones(y.shape[1:] + y.shape[:1])).transpose(3, 0, 1, 2)
    if op != "global_avg_pool":
        assert order(y.data) == "CHWN"
    y.backward(g)
    assert order(x.grad.data) == "CHWN"
    # and the values: ones flow back to the elements of x that reached y (averaged over the map for the pool)
    expected = {"pad": x.numel(), "getitem": y.numel(), "global_avg_pool": x.numel() / (4 * 6)}[op]
    assert x.grad.numpy().sum() == pytest.approx(expected)
