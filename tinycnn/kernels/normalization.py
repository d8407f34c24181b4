"""The fast batch norm kernel: ``functional/normalization.py``'s ``BatchNorm`` (the reference: same arguments, same
values) in fewer passes over memory, a block of channels at a time, on all cores.

The reference is the textbook: mean, centre, variance, scale, shift, each a NumPy expression over the whole
activation, each a fresh array (its backward another ten). For ResNet-20's 16-channel layers at batch 128 (8 MB of
activations) it takes about 3 ms forward and 6-7 ms backward per layer on this 2-core machine. Here:

* one block of channels at a time (``CHUNK_BYTES``, at least one channel): the block's mean, centred values,
  variance and output are computed while it is in the cache, so the activation is read once and the output written
  once (forward), and x and the gradient read twice (backward: the two sums, then dx);
* the per-channel sums of products as dot products (one fused pass, no product array) and the whole of dx as one
  affine map per channel, dx = a g + b (x - mean) + c (the reference's three sums folded into a, b, c);
* temporaries in reused per-thread buffers (``columns.scratch_buffer``: no fresh 8 MB arrays, no page faults);
* the blocks split across the cores (``backend.parallel_for``: NumPy's loops release the GIL).
* memory order: the activation is read as (A, C, B) blocks, A = 1 and B = H W N for a conv output, which lies
  (C, H, W, N) in memory, and A = N, B = H W for NCHW; the output and dx are laid out as x, and a gradient laid out
  otherwise (the residual branch hands NCHW gradients to some layers) is copied once into x's order, since a pass
  over two arrays of different orders runs several times slower.

Together, measured by the batch-norm rows of ``benchmarks/reference_vs_fast.py`` (the two tiers taking turns in one
process, two runs): forward about the reference's time (1.0x, both about 3 ms), forward+backward 1.6-1.8x faster
(5.6-5.7 ms against 9.4-9.7 ms); in a ResNet-20 training step all batch norms, forward and backward, take about an
eighth of the time (``benchmarks/profile_step.py``). ``tests/kernels/test_normalization_kernel.py`` proves it equal
to the reference in float64.
"""
from __future__ import annotations

from .. import backend
from ..functional._util import empty_like_layout
from ..tensor import Function
from .columns import scratch_buffer

__all__ = ["FastBatchNorm"]

# Bytes of one block of channels of x: the block, its centred copy, the gradient's block and dx's stay in one
# core's 2 MB L2 cache. ResNet-20's 16-channel layers at batch 128 take one channel (512 KB) per block, its
# 64-channel layers eight.
CHUNK_BYTES = 256 * 2**10


def channel_blocks(a):
    """(A, C, B) view of ``a`` (N, C) or (N, C, H, W) with B contiguous: A = 1 for (C, H, W, N) memory, A = N for
    NCHW (or (N, C)) memory; None for another memory order."""
    n, c = a.shape[:2]
    if a.ndim == 4 and a.transpose(1, 2, 3, 0).flags.c_contiguous:
        return a.transpose(1, 2, 3, 0).reshape(1, c, -1)
    if a.flags.c_contiguous:
        return a.reshape(n, c, -1)
    return None


def _dot(a, b):
    """Per-channel sum of a * b over blocks (A, k, B): (k,). A stacked matmul of rows by columns is one BLAS dot
    per row (a fused pass, no product array: 3x faster than (a * b).sum), on every device alike."""
    return backend.get_array_module(a).matmul(a[..., None, :], b[..., :, None])[..., 0, 0].sum(axis=0)


def _col(v):
    return v[None, :, None]


class FastBatchNorm(Function):
    """``functional.normalization.BatchNorm`` made fast (module docstring): y = (x - mean) / sqrt(var + eps) *
    weight + bias per channel, the batch's statistics in training (the running ones updated in place), the running
    ones in evaluation. Keeps x, the mean and 1 / std for backward, as the reference."""

    def forward(self, x, weight=None, bias=None, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        xp = backend.get_array_module(x)
        if channel_blocks(x) is None:  # another memory order: one copy to NCHW
            x = xp.ascontiguousarray(x)
        xv, c = channel_blocks(x), x.shape[1]
        count = xv.shape[0] * xv.shape[2]
        y = empty_like_layout(x.shape, x)
        yv = channel_blocks(y)
        dt = x.dtype.type
        if training:
            mean, var = xp.empty(c, dtype=x.dtype), xp.empty(c, dtype=x.dtype)
        else:
            mean, var = running_mean, running_var
            inv_std = (1 / xp.sqrt(var + dt(eps))).astype(x.dtype, copy=False)
        chunks = _chunks(xv)

        def normalize(start, stop):
            for c0, c1 in chunks[start:stop]:
                xk, yk = xv[:, c0:c1], yv[:, c0:c1]
                t = scratch_buffer("bn_centred", xk.shape, x.dtype, xp)
                if training:
                    mean[c0:c1] = xk.sum(axis=(0, 2)) / dt(count)
                    xp.subtract(xk, _col(mean[c0:c1]), out=t)
                    var[c0:c1] = _dot(t, t) / dt(count)  # biased, as the reference
                    inv = (1 / xp.sqrt(var[c0:c1] + dt(eps))).astype(x.dtype, copy=False)
                else:
                    xp.subtract(xk, _col(mean[c0:c1].astype(x.dtype, copy=False)), out=t)
                    inv = inv_std[c0:c1]
                scale = inv if weight is None else inv * weight[c0:c1]
                xp.multiply(t, _col(scale), out=yk)
                if bias is not None:
                    yk += _col(bias[c0:c1])

        backend.parallel_for(len(chunks), normalize, 3 * x.nbytes, xp)
        if training:
            n = count
            if running_mean is not None:  # the reference's update, to the letter
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (n / (n - 1))
            inv_std = (1 / xp.sqrt(var + dt(eps))).astype(x.dtype, copy=False)
        self.x, self.mean, self.inv_std = x, mean.astype(x.dtype, copy=True), inv_std
        self.training, self.weight = training, weight
        return y

    def backward(self, g):
        xp = backend.get_array_module(g)
        x, needs = self.x, self.needs_input_grad
        xv, gv = channel_blocks(x), channel_blocks(g)
        if gv is None or gv.shape != xv.shape:  # another memory order than x's: one copy into x's
            g = copy_as(g, x)
            gv = channel_blocks(g)
        c, count, dt = x.shape[1], xv.shape[0] * xv.shape[2], g.dtype.type
        need_dx = needs[0]
        need_dw = len(needs) > 1 and needs[1]
        need_db = len(needs) > 2 and needs[2]
        sum_g = xp.empty(c, dtype=g.dtype)
        sum_gc = xp.empty(c, dtype=g.dtype)  # sum of g (x - mean)
        dx = empty_like_layout(x.shape, x) if need_dx else None
        dxv = channel_blocks(dx) if need_dx else None
        chunks = _chunks(xv)

        def block(start, stop):
            for c0, c1 in chunks[start:stop]:
                xk, gk = xv[:, c0:c1], gv[:, c0:c1]
                mean, inv = self.mean[c0:c1], self.inv_std[c0:c1]
                t = scratch_buffer("bn_centred", xk.shape, g.dtype, xp)
                xp.subtract(xk, _col(mean), out=t)
                sum_g[c0:c1] = gk.sum(axis=(0, 2))
                sum_gc[c0:c1] = _dot(gk, t)
                if not need_dx:
                    continue
                a = inv if self.weight is None else inv * self.weight[c0:c1]  # dy/dx with the statistics fixed
                dxk = dxv[:, c0:c1]
                xp.multiply(gk, _col(a), out=dxk)
                if self.training:
                    # the reference's a (g - sum_g / m - x_hat sum(g x_hat) / m), x_hat = (x - mean) inv, as
                    # a g + b (x - mean) + c
                    t *= _col(-a * inv * inv * sum_gc[c0:c1] / dt(count))
                    t -= _col(a * sum_g[c0:c1] / dt(count))
                    dxk += t

        backend.parallel_for(len(chunks), block, 4 * x.nbytes, xp)
        dw = sum_gc * self.inv_std if need_dw else None  # sum g x_hat
        db = sum_g if need_db else None
        return (dx, dw, db)[:len(needs)]


def copy_as(a, like):
    """A copy of ``a`` laid out in memory as ``like`` (same shape), contiguous."""
    out = empty_like_layout(a.shape, like, dtype=a.dtype)
    out[...] = a
    return out


def _chunks(xv):
    """Blocks of channels of the (A, C, B) view: (c0, c1) pairs of about CHUNK_BYTES, at least one channel."""
    c = xv.shape[1]
    per = max(1, CHUNK_BYTES // max(1, xv.shape[0] * xv.shape[2] * xv.itemsize))
    return [(c0, min(c0 + per, c)) for c0 in range(0, c, per)]
