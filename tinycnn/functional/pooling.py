"""Max and average pooling over (kH, kW) windows, and adaptive / global average pooling.

Like conv2d's im2col, each op loops over the kH * kW offsets inside a window, not over output pixels: for offset
(i, j) the elements met in every window form one strided slice of the padded input.

Semantics are PyTorch's (``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` / ``adaptive_avg_pool2d``):

* max-pool pads with -inf, so a padded border never wins over negative inputs (PITFALLS P06);
* on ties the whole gradient goes to the first maximum in row-major window order, and a NaN wins its window (its
  last NaN, as PyTorch's CPU kernel decides) (P04);
* overlapping windows (3x3 stride 2) add their gradients where they overlap (P05);
* avg-pool counts the zero padding in the divisor (``count_include_pad=True``, PyTorch's default);
* ``ceil_mode=True`` adds a last, partial window when the stride does not tile the input, but never one that
  starts in the right padding (GoogLeNet's 112 -> 56 -> 28 -> 14 -> 7).
"""
from __future__ import annotations

from .. import backend
from ..tensor import Function, Tensor
from ._util import as_layout, check_float, check_tensor, empty_like_layout, pair, product_is_exact

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d", "pool_output_size"]


def pool_output_size(size: int, kernel_size: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> int:
    """Output length along one axis, PyTorch's formula: floor or ceil of (size + 2 pad - kernel) / stride, plus 1.

    With ``ceil_mode``, the last window must start inside the input or the left padding.
    """
    span = size + 2 * padding - kernel_size
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _geometry(shape, kernel_size, stride, padding, ceil_mode):
    """Output size and the padded input's size (right/bottom grown to hold ceil_mode's last window)."""
    h, w = shape[2], shape[3]
    out = tuple(pool_output_size(n, k, s, p, ceil_mode) for n, k, s, p in
                zip((h, w), kernel_size, stride, padding))
    padded = tuple(max(n + 2 * p, (o - 1) * s + k) for n, k, s, p, o in
                   zip((h, w), kernel_size, stride, padding, out))
    return out, padded


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
    for i in range(kernel_size[0]):
        for j in range(kernel_size[1]):
            yield i * kernel_size[1] + j, (slice(None), slice(None),
                                           slice(i, i + stride[0] * (out[0] - 1) + 1, stride[0]),
                                           slice(j, j + stride[1] * (out[1] - 1) + 1, stride[1]))


class MaxPool2d(Function):
    def forward(self, x, kernel_size, stride, padding, ceil_mode):
        xp = backend.get_array_module(x)
        out_size, padded_size = _geometry(x.shape, kernel_size, stride, padding, ceil_mode)
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


class AvgPool2d(Function):
    def forward(self, x, kernel_size, stride, padding, ceil_mode, count_include_pad):
        xp = backend.get_array_module(x)
        out_size, padded_size = _geometry(x.shape, kernel_size, stride, padding, ceil_mode)
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


def _check_pool(op, x, kernel_size, stride, padding):
    check_tensor("x", x, ndim=4, op=op)
    check_float("x", x, op=op)
    kernel_size = pair("kernel_size", kernel_size, op, minimum=1)
    stride = kernel_size if stride is None else pair("stride", stride, op, minimum=1)
    padding = pair("padding", padding, op, minimum=0)
    if padding[0] > kernel_size[0] // 2 or padding[1] > kernel_size[1] // 2:
        raise ValueError(f"{op}: padding must be at most half of kernel_size {kernel_size}, got {padding}")
    if x.shape[2] + 2 * padding[0] < kernel_size[0] or x.shape[3] + 2 * padding[1] < kernel_size[1]:
        raise ValueError(f"{op}: kernel_size {kernel_size} is larger than the padded input of x with shape {x.shape}"
                         f" and padding {padding}")
    return kernel_size, stride, padding


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False) -> Tensor:
    """Max over (kH, kW) windows, as ``torch.nn.functional.max_pool2d``.

    Args:
        x: (N, C, H, W) floating point.
        kernel_size: an int or a pair. stride: defaults to kernel_size. padding: implicit -inf padding, at most
            half the kernel. ceil_mode: ceil instead of floor in the output size.

    Returns:
        (N, C, H_out, W_out). On ties the gradient goes to the first maximum in row-major window order.

    Raises:
        ValueError: x not 4-D, padding above half the kernel, a kernel larger than the padded input.
        TypeError: non-int sizes or non-floating x.
    """
    kernel_size, stride, padding = _check_pool("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=bool(ceil_mode))


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over (kH, kW) windows, as ``torch.nn.functional.avg_pool2d``.

    Zero padding is counted in the divisor by default (``count_include_pad=True``, PyTorch's default). Shapes and
    errors as ``max_pool2d``.
    """
    kernel_size, stride, padding = _check_pool("avg_pool2d", x, kernel_size, stride, padding)
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=bool(ceil_mode),
                           count_include_pad=bool(count_include_pad))


class AdaptiveAvgPool2d(Function):
    """Average over the windows [floor(i H / H_out), ceil((i + 1) H / H_out)), PyTorch's adaptive rule."""

    def forward(self, x, output_size):
        xp = backend.get_array_module(x)
        self.x_shape = x.shape
        self.bins = [_adaptive_bins(n, o) for n, o in zip(x.shape[2:], output_size)]
        out = xp.empty(x.shape[:2] + tuple(output_size), dtype=x.dtype)
        for i, (h0, h1) in enumerate(self.bins[0]):  # a loop over output cells: output_size is small (e.g. 6x6)
            for j, (w0, w1) in enumerate(self.bins[1]):
                out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
        return out

    def backward(self, g):
        xp = backend.get_array_module(g)
        dx = xp.zeros(self.x_shape, dtype=g.dtype)
        for i, (h0, h1) in enumerate(self.bins[0]):
            for j, (w0, w1) in enumerate(self.bins[1]):
                dx[:, :, h0:h1, w0:w1] += g[:, :, i:i + 1, j:j + 1] / g.dtype.type((h1 - h0) * (w1 - w0))
        return (dx,)


def _adaptive_bins(n_in, n_out):
    return [((i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]


class GlobalAvgPool2d(Function):
    def forward(self, x):
        self.x_shape = x.shape
        return x.mean(axis=(2, 3), keepdims=True)

    def backward(self, g):
        xp = backend.get_array_module(g)
        h, w = self.x_shape[2:]
        return (xp.broadcast_to(g / g.dtype.type(h * w), self.x_shape).copy(),)


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Args:
        x: (N, C, H, W). output_size: an int or a pair (H_out, W_out); larger than the input repeats pixels, as
            PyTorch does.

    Returns:
        (N, C, H_out, W_out). Output size 1 is global average pooling.
    """
    op = "adaptive_avg_pool2d"
    check_tensor("x", x, ndim=4, op=op)
    check_float("x", x, op=op)
    output_size = pair("output_size", output_size, op, minimum=1)
    if output_size == (1, 1):
        return GlobalAvgPool2d.apply(x)
    return AdaptiveAvgPool2d.apply(x, output_size=output_size)


def global_avg_pool2d(x: Tensor) -> Tensor:
    """Mean over each whole feature map: (N, C, H, W) -> (N, C, 1, 1) (Lin et al. 2013; GoogLeNet, ResNet heads)."""
    check_tensor("x", x, ndim=4, op="global_avg_pool2d")
    check_float("x", x, op="global_avg_pool2d")
    return GlobalAvgPool2d.apply(x)
