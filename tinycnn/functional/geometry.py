"""Window geometry shared by convolution and pooling, in both tiers (the reference ops and the fast kernels):
output sizes by PyTorch's formulas, and the strided slice of the padded input that each kernel offset meets.

Pure integer arithmetic on shapes: no arrays, so ``tinycnn/kernels`` can import it without importing the ops.
"""
from __future__ import annotations

__all__ = ["conv_output_size", "conv_output_hw", "pool_output_size", "pool_geometry", "offset_slices"]


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_output_hw(x_shape, kernel_size, stride, padding, dilation) -> tuple:
    """(H_out, W_out) of a convolution of an (N, C, H, W) input; the other arguments are (rows, columns) pairs."""
    return tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                 zip(x_shape[2:], kernel_size, stride, padding, dilation))


def pool_output_size(size: int, kernel_size: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> int:
    """Output length along one axis, PyTorch's formula: floor or ceil of (size + 2 pad - kernel) / stride, plus 1.

    With ``ceil_mode``, the last window must start inside the input or the left padding.
    """
    span = size + 2 * padding - kernel_size
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def pool_geometry(x_shape, kernel_size, stride, padding, ceil_mode) -> tuple:
    """((H_out, W_out), (Hp, Wp)) of a pooling of an (N, C, H, W) input: the output size and the padded input's
    size, whose bottom and right grow (past ``padding``) to hold ceil_mode's last, partial window."""
    h, w = x_shape[2], x_shape[3]
    out = tuple(pool_output_size(n, k, s, p, ceil_mode) for n, k, s, p in zip((h, w), kernel_size, stride, padding))
    padded = tuple(max(n + 2 * p, (o - 1) * s + k) for n, k, s, p, o in
                   zip((h, w), kernel_size, stride, padding, out))
    return out, padded


def offset_slices(kernel_size, stride, dilation, out_size):
    """Yield ``(i, j, rows, cols)`` for each kernel offset (i, j) in row-major order: the slices of a padded input
    that meet kernel weight (i, j) in every window, ``xpad[..., rows, cols]`` of shape (H_out, W_out)."""
    (k_h, k_w), (s_h, s_w), (d_h, d_w), (h_out, w_out) = kernel_size, stride, dilation, out_size
    for i in range(k_h):
        for j in range(k_w):
            rows = slice(i * d_h, i * d_h + s_h * (h_out - 1) + 1, s_h)
            cols = slice(j * d_w, j * d_w + s_w * (w_out - 1) + 1, s_w)
            yield i, j, rows, cols
