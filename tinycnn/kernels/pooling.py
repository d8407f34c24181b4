"""The fast max- and average-pooling kernels: the reference ``functional/pooling.py`` (pad, im2col, a max or a mean
over each window's column, col2im) without the column matrix, which is kH * kW times the input. Each kernel loops
over the kH * kW offsets inside a window, not over output pixels: for offset (i, j) the elements met in every window
form one strided slice of the padded input. The tricks, each documented where it lives:

* outputs allocated in their input's memory order (``empty_like_layout``): conv's outputs lie (C, H, W, N), and a
  pass over two arrays of different orders reads one of them in short strided runs;
* max-pool tracks its argmax with arithmetic instead of masked writes (10x faster), copies each window slice once
  into contiguous memory, and splits channels across threads (``backend.parallel_for``);
* max-pool's backward writes (no read-modify-write) where windows do not overlap, and multiplies by the winner mask
  instead of ``where`` when the gradient is finite (10x faster).

Semantics (ties, NaN, padding, ceil_mode, count_include_pad) are the reference's, which are PyTorch's;
``tests/kernels/test_pooling_kernel.py`` proves the two equal in float64.
"""
from __future__ import annotations

from .. import backend
from ..functional._util import as_layout, empty_like_layout, product_is_exact
from ..functional.geometry import offset_slices, pool_geometry
from ..tensor import Function

__all__ = ["FastMaxPool2d", "FastAvgPool2d"]


def _padded(x, padding, padded_size, value):
    n, c, h, w = x.shape
    if (h, w) == padded_size:
        return x
    out = empty_like_layout((n, c) + padded_size, x, fill=value)
    out[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    return out


def _real_inputs(window, x_shape, padding, xp):
    """(H_out, W_out) booleans: where the padded-input positions of ``window`` (an _offsets slice) are real inputs,
    not padding."""
    rows = xp.arange(window[2].start, window[2].stop, window[2].step)
    cols = xp.arange(window[3].start, window[3].stop, window[3].step)
    in_rows = (rows >= padding[0]) & (rows < padding[0] + x_shape[2])
    in_cols = (cols >= padding[1]) & (cols < padding[1] + x_shape[3])
    return in_rows[:, None] & in_cols[None, :]


def _offsets(kernel_size, stride, out):
    """(k, index) for each offset of the window, k = i kW + j in row-major order: ``xpad[index]`` is (N, C, H_out,
    W_out), the elements that meet offset (i, j) in every window."""
    for i, j, rows, cols in offset_slices(kernel_size, stride, (1, 1), out):
        yield i * kernel_size[1] + j, (slice(None), slice(None), rows, cols)


class FastMaxPool2d(Function):
    """``functional.pooling.MaxPool2d`` made fast; ``argmax`` (N, C, H_out, W_out): each window's winning offset."""

    def forward(self, x, kernel_size, stride, padding, ceil_mode):
        xp = backend.get_array_module(x)
        out_size, padded_size = pool_geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        self.geometry = (x.shape, kernel_size, stride, padding, out_size, padded_size)
        xpad = _padded(x, padding, padded_size, -xp.inf)
        offsets = list(_offsets(kernel_size, stride, out_size))
        out_shape = x.shape[:2] + out_size
        out = empty_like_layout(out_shape, x)  # "like x": keep the input's memory layout
        # which offset won, as PyTorch's kernel decides it: a later offset takes over only when strictly greater,
        # so on ties the first maximum in row-major window order wins (PITFALLS P04); uint8 holds any window up
        # to 15x15
        index_type = xp.uint8 if len(offsets) < 256 else xp.int32
        argmax = empty_like_layout(out_shape, x, dtype=index_type)

        def pool(c0, c1):  # channels c0..c1; threads take disjoint channels
            o, a = out[:, c0:c1], argmax[:, c0:c1]
            o[...] = xpad[offsets[0][1]][:, c0:c1]
            a.fill(0)
            v = empty_like_layout(o.shape, o)
            for k, window in offsets[1:]:
                # the window's strided elements copied once into contiguous memory: the three passes below then
                # read it in long runs (a window slice read in place has runs of one pixel's N values)
                v[...] = xpad[window][:, c0:c1]
                # "set a to k where v takes over" is maximum(a, k * takes_over) because k only grows: arithmetic
                # with no branch, 10x faster than a masked write (a[mask] = k) whose mask is random
                xp.maximum(a, (v > o).astype(index_type) * index_type(k), out=a)
                xp.maximum(o, v, out=o)  # maximum propagates NaN: a NaN wins its window, as in PyTorch

        backend.parallel_for(x.shape[1], pool, out.nbytes * len(offsets), xp)
        if xp.isnan(out).any():  # rare: PyTorch's kernel also takes over on a NaN, so the window's last NaN wins
            for k, window in offsets:
                xp.copyto(argmax, index_type(k), where=xp.isnan(xpad[window]))
        if xpad is not x and (out == -xp.inf).any():
            # rare: a window whose inputs are all -inf ties with the -inf padding, which PyTorch never picks (it
            # loops over the real inputs only): give such windows their first offset that is a real input
            lost = out == -xp.inf
            for k, window in reversed(offsets):
                xp.copyto(argmax, index_type(k), where=lost & _real_inputs(window, x.shape, padding, xp))
        self.argmax = argmax
        return out

    def backward(self, g):
        xp = backend.get_array_module(g)
        x_shape, kernel_size, stride, padding, out_size, padded_size = self.geometry
        g = as_layout(g, self.argmax)  # a gradient from Flatten comes NCHW; the argmax lies as the input did
        dx = empty_like_layout(x_shape[:2] + padded_size, g, fill=0)
        offsets = list(_offsets(kernel_size, stride, out_size))
        disjoint = stride[0] >= kernel_size[0] and stride[1] >= kernel_size[1]
        zero, exact = g.dtype.type(0), product_is_exact(g)

        def scatter(c0, c1):  # channels c0..c1
            gc, a, d = g[:, c0:c1], self.argmax[:, c0:c1], dx[:, c0:c1]
            for k, window in offsets:
                won = a == k
                if disjoint and exact:  # each input lies in one window at most: write, no read-modify-write
                    xp.multiply(gc, won, out=d[window])
                else:  # add: overlapping windows share elements (P05)
                    d[window] += gc * won if exact else xp.where(won, gc, zero)

        backend.parallel_for(x_shape[1], scatter, g.nbytes * len(offsets), xp)
        h, w = x_shape[2:]
        return (dx[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w],)


def _avg_divisor(xp, dtype, n_in, kernel, stride, pad, n_out, count_include_pad):
    """Per-output-position window size along one axis, as PyTorch counts it."""
    start = xp.arange(n_out) * stride - pad
    end = xp.minimum(start + kernel, n_in + pad)  # windows are clipped at the end of the right padding
    if not count_include_pad:
        start, end = xp.maximum(start, 0), xp.minimum(end, n_in)
    return (end - start).astype(dtype)


class FastAvgPool2d(Function):
    """``functional.pooling.AvgPool2d`` without the column matrix: the window slices summed in place."""

    def forward(self, x, kernel_size, stride, padding, ceil_mode, count_include_pad):
        xp = backend.get_array_module(x)
        out_size, padded_size = pool_geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        self.geometry = (x.shape, kernel_size, stride, padding, out_size, padded_size)
        div_h = _avg_divisor(xp, x.dtype, x.shape[2], kernel_size[0], stride[0], padding[0], out_size[0],
                             count_include_pad)
        div_w = _avg_divisor(xp, x.dtype, x.shape[3], kernel_size[1], stride[1], padding[1], out_size[1],
                             count_include_pad)
        self.divisor = div_h[:, None] * div_w[None, :]
        xpad = _padded(x, padding, padded_size, 0)
        out = empty_like_layout(x.shape[:2] + out_size, x, fill=0)
        for _, window in _offsets(kernel_size, stride, out_size):
            out += xpad[window]
        out /= self.divisor
        return out

    def backward(self, g):
        xp = backend.get_array_module(g)
        x_shape, kernel_size, stride, padding, out_size, padded_size = self.geometry
        share = g / self.divisor
        dx = empty_like_layout(x_shape[:2] + padded_size, g, fill=0)
        for _, window in _offsets(kernel_size, stride, out_size):
            dx[window] += share
        h, w = x_shape[2:]
        return (dx[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w],)
