"""Max and average pooling over (kH, kW) windows, and adaptive / global average pooling.

The reference tier (``MaxPool2d``, ``AvgPool2d``) is convolution's im2col again: pad the input, unfold each window
into a column (``im2col``), take the max or the mean of each column; backward puts each window's gradient back into
its column (all of it on the winner for max, shared evenly for the mean) and folds the columns with ``col2im``,
which adds where windows overlap. ``F.max_pool2d`` / ``F.avg_pool2d`` run the fast kernels of
``tinycnn/kernels/pooling.py`` (no column matrix, arithmetic argmax, threads) unless ``tinycnn.use_reference_ops()``
or ``TINYCNN_REFERENCE=1`` asks for these. Adaptive and global average pooling have one implementation, this one.

Semantics are PyTorch's (``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` / ``adaptive_avg_pool2d``):

* max-pool pads with -inf, so a padded border never wins over negative inputs (PITFALLS P06), nor over -inf inputs;
* on ties the whole gradient goes to the first maximum in row-major window order, and a NaN wins its window (its
  last NaN, as PyTorch's CPU kernel decides) (P04);
* overlapping windows (3x3 stride 2) add their gradients where they overlap (P05);
* avg-pool counts the zero padding in the divisor (``count_include_pad=True``, PyTorch's default);
* ``ceil_mode=True`` adds a last, partial window when the stride does not tile the input, but never one that
  starts in the right padding (GoogLeNet's 112 -> 56 -> 28 -> 14 -> 7); avg-pool never counts the cells of that
  window beyond the padding. So a kernel larger than the padded input still has a window with ``ceil_mode``
  (x of height 1, kernel 3: one row of windows over the one real row), as in PyTorch; without it, an error.
"""
from __future__ import annotations

from .. import backend
from ..kernels import switch
from ..kernels.pooling import FastAvgPool2d, FastMaxPool2d
from ..tensor import Function, Tensor
from ._util import _axis_order, check_float, check_tensor, empty_in_order, pair
from .conv import col2im, im2col
from .geometry import pool_geometry, pool_output_size

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d", "pool_output_size",
           "MaxPool2d", "AvgPool2d"]


def _windows(x, kernel_size, stride, padding, padded_size, value):
    """Each window of x (N, C, H, W) as a column: (C, kH kW, H_out W_out, N). x is padded with ``value``:
    ``padding`` before, and after up to ``padded_size`` (ceil_mode's last window may reach past the padding)."""
    xp = backend.get_array_module(x)
    (n, c, h, w), (p_h, p_w) = x.shape, padding
    xpad = xp.pad(x, ((0, 0), (0, 0), (p_h, padded_size[0] - h - p_h), (p_w, padded_size[1] - w - p_w)),
                  constant_values=value)
    return im2col(xpad, kernel_size, stride).reshape(c, kernel_size[0] * kernel_size[1], -1, n)


def _fold(cols, x_shape, kernel_size, stride, padding, padded_size):
    """The adjoint of ``_windows``: columns (C, kH kW, H_out W_out, N) added back into an (N, C, H, W) gradient."""
    (n, c, h, w), (p_h, p_w) = x_shape, padding
    dxpad = col2im(cols.reshape(c * cols.shape[1], -1), (n, c) + padded_size, kernel_size, stride)
    return dxpad[:, :, p_h:p_h + h, p_w:p_w + w]


class MaxPool2d(Function):
    """The reference max-pool: the max of each window's column; backward gives each window's gradient to its winner.

    ``argmax`` (N, C, H_out, W_out) is the winner's offset in its window, counted row by row (0 = top-left).
    """

    def forward(self, x, kernel_size, stride, padding, ceil_mode):
        xp = backend.get_array_module(x)
        (n, c, h, w), k = x.shape, kernel_size[0] * kernel_size[1]
        (h_out, w_out), padded = pool_geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        self.geometry = (x.shape, kernel_size, stride, padding, padded)
        windows = _windows(x, kernel_size, stride, padding, padded, -xp.inf)  # (C, K, H_out W_out, N)
        real = _windows(xp.ones((1, 1, h, w), x.dtype), kernel_size, stride, padding, padded, 0) > 0  # not padding
        out = windows.max(axis=1)  # max propagates NaN: a NaN wins its window
        nan = xp.isnan(out)
        won = xp.where(nan[:, None], xp.isnan(windows), (windows == out[:, None]) & real)  # each window's maxima
        first, last = won.argmax(axis=1), k - 1 - won[:, ::-1].argmax(axis=1)
        # ties: the first maximum in row-major window order (P04); NaNs: the last one, as PyTorch's loop decides
        self.argmax = xp.where(nan, last, first).reshape(c, h_out, w_out, n).transpose(3, 0, 1, 2)
        return out.reshape(c, h_out, w_out, n).transpose(3, 0, 1, 2)  # (N, C, H_out, W_out)

    def backward(self, g):
        xp = backend.get_array_module(g)
        x_shape, kernel_size, stride, padding, padded = self.geometry
        (n, c), k = x_shape[:2], kernel_size[0] * kernel_size[1]
        arg = self.argmax.transpose(1, 2, 3, 0).reshape(c, 1, -1, n)
        g_cols = g.transpose(1, 2, 3, 0).reshape(c, 1, -1, n)
        dcols = xp.where(xp.arange(k).reshape(1, k, 1, 1) == arg, g_cols, g.dtype.type(0))  # all of it to the winner
        return (_fold(dcols, x_shape, kernel_size, stride, padding, padded),)  # overlapping windows add (P05)


class AvgPool2d(Function):
    """The reference average pool: the mean of each window's column; backward shares each window's gradient evenly.

    The divisor counts the cells of each window that count: the input, and the zero padding too when
    ``count_include_pad``, never ceil_mode's cells beyond the padding (PyTorch's rule)."""

    def forward(self, x, kernel_size, stride, padding, ceil_mode, count_include_pad):
        xp = backend.get_array_module(x)
        (n, c, h, w), (p_h, p_w) = x.shape, padding
        (h_out, w_out), padded = pool_geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        self.geometry = (x.shape, kernel_size, stride, padding, padded)
        counted = xp.zeros((1, 1) + padded, dtype=x.dtype)
        if count_include_pad:
            counted[:, :, :h + 2 * p_h, :w + 2 * p_w] = 1
        else:
            counted[:, :, p_h:p_h + h, p_w:p_w + w] = 1
        self.divisor = _windows(counted, kernel_size, stride, (0, 0), padded, 0).sum(axis=1)  # (1, H_out W_out, 1)
        out = _windows(x, kernel_size, stride, padding, padded, 0).sum(axis=1) / self.divisor
        return out.reshape(c, h_out, w_out, n).transpose(3, 0, 1, 2)

    def backward(self, g):
        xp = backend.get_array_module(g)
        x_shape, kernel_size, stride, padding, padded = self.geometry
        (n, c), k = x_shape[:2], kernel_size[0] * kernel_size[1]
        share = g.transpose(1, 2, 3, 0).reshape(c, 1, -1, n) / self.divisor[:, None]
        dcols = xp.broadcast_to(share, (c, k) + share.shape[2:])  # every cell of a window gets the same share
        return (_fold(dcols, x_shape, kernel_size, stride, padding, padded),)


def _check_pool(op, x, kernel_size, stride, padding, ceil_mode):
    check_tensor("x", x, ndim=4, op=op)
    check_float("x", x, op=op)
    kernel_size = pair("kernel_size", kernel_size, op, minimum=1)
    stride = kernel_size if stride is None else pair("stride", stride, op, minimum=1)
    padding = pair("padding", padding, op, minimum=0)
    if padding[0] > kernel_size[0] // 2 or padding[1] > kernel_size[1] // 2:
        raise ValueError(f"{op}: padding must be at most half of kernel_size {kernel_size}, got {padding}")
    if x.shape[2] + 2 * padding[0] < kernel_size[0] or x.shape[3] + 2 * padding[1] < kernel_size[1]:
        # PyTorch's rule: at least one window. A kernel larger than the padded input still gives one with
        # ceil_mode when the window starts inside the input or its left padding (its cells past the input are
        # then padding); otherwise no window fits.
        out = [pool_output_size(n, k, s, p, bool(ceil_mode)) for n, k, s, p in
               zip(x.shape[2:], kernel_size, stride, padding)]
        if min(out) < 1:
            raise ValueError(f"{op}: kernel_size {kernel_size} is larger than the padded input of x with shape "
                             f"{x.shape} and padding {padding}: the output would be {out[0]}x{out[1]}")
    return kernel_size, stride, padding


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor:
    """Max over (kH, kW) windows, as ``torch.nn.functional.max_pool2d`` (its signature, so positional arguments
    mean the same: the fifth is ``dilation``).

    Args:
        x: (N, C, H, W) floating point.
        kernel_size: an int or a pair. stride: defaults to kernel_size. padding: implicit -inf padding, at most
            half the kernel. dilation: 1 only. ceil_mode: ceil instead of floor in the output size.
            return_indices: False only.

    Returns:
        (N, C, H_out, W_out) of x's dtype. On ties the gradient goes to the first maximum in row-major window
        order. Computed by the fast kernel, or by the reference ``MaxPool2d`` inside ``tinycnn.use_reference_ops()``.

    Raises:
        ValueError: x not 4-D, padding above half the kernel, no window at all (a kernel larger than the padded
            input, unless ceil_mode gives it one window starting inside the input, as PyTorch does).
        TypeError: non-int sizes or non-floating x.
        NotImplementedError: dilation other than 1, return_indices=True (tinycnn supports neither).
    """
    if dilation not in (1, (1, 1), [1, 1]):
        raise NotImplementedError(f"max_pool2d: dilation={dilation!r} is not supported by tinycnn (only 1)")
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported by tinycnn")
    kernel_size, stride, padding = _check_pool("max_pool2d", x, kernel_size, stride, padding, ceil_mode)
    fn = MaxPool2d if switch.REFERENCE else FastMaxPool2d
    return fn.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=bool(ceil_mode))


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over (kH, kW) windows, as ``torch.nn.functional.avg_pool2d``.

    Zero padding is counted in the divisor by default (``count_include_pad=True``, PyTorch's default). Shapes and
    errors as ``max_pool2d``; the reference is ``AvgPool2d``.
    """
    kernel_size, stride, padding = _check_pool("avg_pool2d", x, kernel_size, stride, padding, ceil_mode)
    fn = AvgPool2d if switch.REFERENCE else FastAvgPool2d
    return fn.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=bool(ceil_mode),
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
        self.x_shape, self.x_order = x.shape, _axis_order(x)
        return x.mean(axis=(2, 3), keepdims=True)

    def backward(self, g):
        xp = backend.get_array_module(g)
        h, w = self.x_shape[2:]
        dx = empty_in_order(self.x_shape, self.x_order, g.dtype, xp)  # in x's memory order (empty_like_layout)
        dx[...] = g / g.dtype.type(h * w)
        return (dx,)


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
