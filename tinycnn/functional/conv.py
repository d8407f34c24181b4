"""2-D convolution by im2col + one matrix product (GEMM), and its backward by col2im.

A convolution slides a (kH, kW) window over the input and takes a dot product with the kernel at each position.
im2col copies every window into one column of a matrix, so the whole layer becomes one GEMM:

    cols   (C * kH * kW,  H_out * W_out * N)     one column per output pixel of every image
    weight (O,  C * kH * kW)                     one row per output channel
    out  = weight @ cols  -> (O, H_out * W_out * N)

The simplest im2col loops over every output pixel; that is a Python loop of N * H_out * W_out steps. Here the loop
runs over the kH * kW kernel offsets instead: for offset (i, j), the pixels that meet kernel weight (i, j) in all
windows form one strided slice of the padded input, ``x[:, i : i + stride*H_out : stride, j : ..., :]``, copied in
one NumPy call. col2im does the reverse and *adds* each slice back, because neighbouring windows overlap and every
overlap contributes to the gradient (PITFALLS P01). There are no index arrays and no ``np.add.at``: both are 5-15x
slower than strided slices.

Layout (why the batch axis is last inside): NumPy copies a strided slice row by row, and a short row costs as much
as a long one. In NCHW memory the rows of a window slice are W_out pixels long (10 for LeNet's conv2); with the
batch axis innermost, (C, H, W, N), a slice keeps all N images of a pixel side by side, and for stride 1 a whole
(W_out x N) block is contiguous: im2col runs about 6x and col2im about 3x faster (benchmarks/). So inside the op
the input is viewed as (C, H, W, N), the columns are ordered (c, i, j) x (h_out, w_out, n), and the GEMM's output
(O, H_out, W_out, N) is returned as an NCHW *view* (a transpose without a copy). The next layer reads it as
(C, H, W, N) again for free, and pooling and ReLU keep that memory order, so no transpose copy is made per call.
This is convolution as PyTorch defines it (``torch.nn.functional.conv2d``): cross-correlation, the kernel is not
flipped (P03).
"""
from __future__ import annotations

from .. import backend
from ..tensor import Function, Tensor
from ._util import check_float, check_same_dtype, check_tensor, pair

__all__ = ["conv2d", "im2col", "col2im", "conv_output_size"]

# Columns up to this size are kept from forward for the weight gradient; larger ones are rebuilt in backward,
# trading one extra im2col for memory (a VGG layer's columns are 9x its input). In bytes.
SAVE_COLS_LIMIT = 64 * 2**20


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def _padded_chwn(x, padding):
    """x (N, C, H, W) -> a (C, H + 2 pH, W + 2 pW, N) array, zero padded; no copy when it already is one."""
    xp = backend.get_array_module(x)
    xc = x.transpose(1, 2, 3, 0)
    p_h, p_w = padding
    if p_h == 0 and p_w == 0:
        return xp.ascontiguousarray(xc)
    c, h, w, n = xc.shape
    out = xp.zeros((c, h + 2 * p_h, w + 2 * p_w, n), dtype=x.dtype)
    out[:, p_h:p_h + h, p_w:p_w + w] = xc
    return out


def _windows(kernel_size, stride, dilation, out_size):
    """(i, j, rows, cols): for each kernel offset, the strided slices of the padded input it meets."""
    (k_h, k_w), (s_h, s_w), (d_h, d_w), (h_out, w_out) = kernel_size, stride, dilation, out_size
    for i in range(k_h):
        for j in range(k_w):
            rows = slice(i * d_h, i * d_h + s_h * (h_out - 1) + 1, s_h)
            cols = slice(j * d_w, j * d_w + s_w * (w_out - 1) + 1, s_w)
            yield i, j, rows, cols


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Unfold windows of an array into columns.

    Args:
        x: array (N, C, H, W).
        kernel_size, stride, padding, dilation: pairs of ints (rows, columns).

    Returns:
        array (C * kH * kW, H_out * W_out * N), rows ordered (c, i, j), columns ordered (h_out, w_out, n): the
        values of ``torch.nn.functional.unfold`` with its columns in that order (for N = 1, the same matrix).
    """
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    k_h, k_w = kernel_size
    h_out = conv_output_size(h, k_h, stride[0], padding[0], dilation[0])
    w_out = conv_output_size(w, k_w, stride[1], padding[1], dilation[1])
    xpad = _padded_chwn(x, padding)
    cols = xp.empty((c, k_h, k_w, h_out, w_out, n), dtype=x.dtype)
    for i, j, rows, cs in _windows(kernel_size, stride, dilation, (h_out, w_out)):
        cols[:, i, j] = xpad[:, rows, cs]  # one strided copy per kernel offset
    return cols.reshape(c * k_h * k_w, h_out * w_out * n)


def col2im(cols, x_shape, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Fold columns back into an image, *adding* the values of overlapping windows (the adjoint of im2col).

    Args:
        cols: array (C * kH * kW, H_out * W_out * N), laid out as ``im2col`` returns it.
        x_shape: (N, C, H, W) of the image to rebuild.

    Returns:
        array of shape ``x_shape`` (an NCHW view of (C, H, W, N) memory). Input pixels that no window covers (a
        stride that does not tile the input) get exactly 0 (PITFALLS P02).
    """
    xp = backend.get_array_module(cols)
    n, c, h, w = x_shape
    (k_h, k_w), (p_h, p_w) = kernel_size, padding
    h_out = conv_output_size(h, k_h, stride[0], p_h, dilation[0])
    w_out = conv_output_size(w, k_w, stride[1], p_w, dilation[1])
    cols = cols.reshape(c, k_h, k_w, h_out, w_out, n)
    dx = xp.zeros((c, h + 2 * p_h, w + 2 * p_w, n), dtype=cols.dtype)
    for i, j, rows, cs in _windows(kernel_size, stride, dilation, (h_out, w_out)):
        dx[:, rows, cs] += cols[:, i, j]  # add, never assign: windows overlap
    return dx[:, p_h:p_h + h, p_w:p_w + w].transpose(3, 0, 1, 2)


class Conv2d(Function):
    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        n, c, h, w = x.shape
        o, c_g, k_h, k_w = weight.shape
        self.geometry = dict(kernel_size=(k_h, k_w), stride=stride, padding=padding, dilation=dilation)
        self.x_shape, self.groups, self.weight = x.shape, groups, weight
        h_out = conv_output_size(h, k_h, stride[0], padding[0], dilation[0])
        w_out = conv_output_size(w, k_w, stride[1], padding[1], dilation[1])
        self.out_shape = (o, h_out, w_out, n)
        cols = im2col(x, **self.geometry)
        # one GEMM per group: weight rows of group k meet the column rows of its channels only
        w_mat = weight.reshape(o, c_g * k_h * k_w)
        y = _grouped_matmul(w_mat, cols, groups)
        if bias is not None:
            y += bias[:, None]
        # keep what backward needs: the columns if small, else x to rebuild them
        self.cols = cols if cols.nbytes <= SAVE_COLS_LIMIT else None
        self.x = x if (self.cols is None and self.needs_input_grad[1]) else None
        return y.reshape(self.out_shape).transpose(3, 0, 1, 2)

    def backward(self, g):
        o, h_out, w_out, n = self.out_shape
        groups = self.groups
        xp = backend.get_array_module(g)
        g_mat = xp.ascontiguousarray(g.transpose(1, 2, 3, 0)).reshape(o, h_out * w_out * n)
        dx = dw = db = None
        w = self.weight
        if self.needs_input_grad[0]:  # skipped for a first layer whose input needs no gradient
            dcols = _grouped_matmul(w.reshape(o, -1), g_mat, groups, transpose_a=True)  # (C*kH*kW, H_out*W_out*N)
            dx = col2im(dcols, self.x_shape, **self.geometry)
        if self.needs_input_grad[1]:
            cols = self.cols if self.cols is not None else im2col(self.x, **self.geometry)
            dw = _grouped_matmul(g_mat, cols, groups, transpose_b=True).reshape(w.shape)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = g_mat.sum(axis=1)
        return dx, dw, db


def _grouped_matmul(a, b, groups, transpose_a=False, transpose_b=False):
    """Block-diagonal product: split the rows of ``a`` and of ``b`` into ``groups`` equal blocks and stack the
    products op(a_k) @ op(b_k), op a transpose where asked. One plain 2-D GEMM per group: a stacked 3-D matmul
    on transposed views misses BLAS and runs many times slower."""
    op_a = (lambda m: m.T) if transpose_a else (lambda m: m)
    op_b = (lambda m: m.T) if transpose_b else (lambda m: m)
    if groups == 1:
        return op_a(a) @ op_b(b)
    ra, rb = a.shape[0] // groups, b.shape[0] // groups
    return backend.get_array_module(a).concatenate(
        [op_a(a[k * ra:(k + 1) * ra]) @ op_b(b[k * rb:(k + 1) * rb]) for k in range(groups)], axis=0)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    Args:
        x: (N, C_in, H, W) floating-point input.
        weight: (C_out, C_in / groups, kH, kW), PyTorch's layout.
        bias: optional (C_out,).
        stride, padding, dilation: an int or a pair (rows, columns); zero padding on both sides.
        groups: split the channels into this many independent convolutions (AlexNet's two towers);
            C_in and C_out must be divisible by it.

    Returns:
        (N, C_out, H_out, W_out) with H_out = floor((H + 2 padding - dilation (kH - 1) - 1) / stride) + 1.

    Raises:
        ValueError: a shape that does not fit, naming the argument, the expected and the actual shape (for example
            an input with 3 channels into a weight built for 1); a kernel larger than the padded input.
        TypeError: non-Tensor inputs, non-int geometry, or mixed dtypes.
    """
    op = "conv2d"
    check_tensor("x", x, ndim=4, op=op)
    check_tensor("weight", weight, ndim=4, op=op)
    check_float("x", x, op=op)
    stride = pair("stride", stride, op, minimum=1)
    padding = pair("padding", padding, op, minimum=0)
    dilation = pair("dilation", dilation, op, minimum=1)
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    o, c_g, k_h, k_w = weight.shape
    if o % groups:
        raise ValueError(f"{op}: weight's out_channels ({o}) must be divisible by groups ({groups})")
    if x.shape[1] != c_g * groups:
        raise ValueError(f"{op}: x must have {c_g * groups} channels (weight of shape {weight.shape}, groups={groups}),"
                         f" got x of shape {x.shape}")
    if bias is not None:
        check_tensor("bias", bias, ndim=1, op=op)
        if bias.shape != (o,):
            raise ValueError(f"{op}: bias must have shape ({o},), got {bias.shape}")
    h_out = conv_output_size(x.shape[2], k_h, stride[0], padding[0], dilation[0])
    w_out = conv_output_size(x.shape[3], k_w, stride[1], padding[1], dilation[1])
    if h_out < 1 or w_out < 1:
        raise ValueError(f"{op}: kernel {(k_h, k_w)} (dilation {dilation}) is larger than the padded input "
                         f"{(x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])}")
    check_same_dtype(op, x=x, weight=weight, bias=bias)
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if bias is None:
        return Conv2d.apply(x, weight, **params)
    return Conv2d.apply(x, weight, bias, **params)
