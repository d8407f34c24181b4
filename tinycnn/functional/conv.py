"""2-D convolution as one matrix product (GEMM): im2col, the GEMM, and col2im for the backward pass.

A convolution slides a (kH, kW) window over the input and takes a dot product with the kernel at each position.
im2col copies every window into one column of a matrix, so the whole layer becomes one GEMM:

    cols   (C * kH * kW,  H_out * W_out * N)     one column per output pixel of every image
    weight (O,  C * kH * kW)                     one row per output channel
    out  = weight @ cols  -> (O, H_out * W_out * N), reshaped to (O, H_out, W_out, N), seen as (N, O, H_out, W_out)

im2col loops over the kH * kW kernel offsets, not over the N * H_out * W_out output pixels: for offset (i, j) the
pixels that meet kernel weight (i, j) in all windows form one strided slice of the padded input, copied in one
NumPy call. Its columns run over (h_out, w_out, n), the image index fastest, as cs231n's im2col. col2im does the
reverse and *adds* each slice back: neighbouring windows overlap, and every overlap contributes to the gradient
(PITFALLS P01). This is convolution as PyTorch defines it (``torch.nn.functional.conv2d``): cross-correlation, the
kernel is not flipped (P03).

Two tiers (docs in ``tinycnn/kernels/__init__.py``): ``Conv2d`` below is the reference, the textbook algorithm
whose forward and backward fit one screen. ``F.conv2d`` runs the fast kernel (``tinycnn/kernels/conv.py``: the
same products with row windows, stride phases, cache-sized bands and threads) unless ``tinycnn.use_reference_ops()``
or ``TINYCNN_REFERENCE=1`` asks for this one. The tests prove the two equal in float64; the reference is the
specification.
"""
from __future__ import annotations

from .. import backend
from ..kernels import switch
from ..kernels.conv import FastConv2d
from ..tensor import Function, Tensor
from ._util import check_float, check_same_dtype, check_tensor, pair
from .geometry import conv_output_hw, conv_output_size, offset_slices

__all__ = ["conv2d", "im2col", "col2im", "conv_output_size", "Conv2d", "PADDING_MODES"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")  # torch.nn.Conv2d's padding_mode values


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Unfold the windows of an array into the columns of a matrix.

    Args:
        x: array (N, C, H, W).
        kernel_size, stride, padding, dilation: pairs of ints (rows, columns); zero padding on both sides.

    Returns:
        a new array (C * kH * kW, H_out * W_out * N), rows ordered (c, i, j), columns ordered (h_out, w_out, n): the
        values of ``torch.nn.functional.unfold`` with its columns in that order (for N = 1, the same matrix).
    """
    xp = backend.get_array_module(x)
    n, c = x.shape[:2]
    (k_h, k_w), (p_h, p_w) = kernel_size, padding
    h_out, w_out = conv_output_hw(x.shape, kernel_size, stride, padding, dilation)
    xpad = xp.pad(x, ((0, 0), (0, 0), (p_h, p_h), (p_w, p_w)))  # zeros around each image
    cols = xp.empty((c, k_h, k_w, h_out, w_out, n), dtype=x.dtype)
    for i, j, rows, cs in offset_slices(kernel_size, stride, dilation, (h_out, w_out)):
        # the pixels that meet weight (i, j) in every window: one strided slice, (N, C, H_out, W_out)
        cols[:, i, j] = xpad[:, :, rows, cs].transpose(1, 2, 3, 0)
    return cols.reshape(c * k_h * k_w, h_out * w_out * n)


def col2im(cols, x_shape, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Fold columns back into an image, *adding* the values of overlapping windows (the adjoint of im2col).

    Args:
        cols: array (C * kH * kW, H_out * W_out * N), laid out as ``im2col`` returns it.
        x_shape: (N, C, H, W) of the image to rebuild.

    Returns:
        a new array of shape ``x_shape``. Input pixels that no window covers (a stride that does not tile the
        input) get exactly 0 (PITFALLS P02).
    """
    xp = backend.get_array_module(cols)
    n, c, h, w = x_shape
    (k_h, k_w), (p_h, p_w) = kernel_size, padding
    h_out, w_out = conv_output_hw(x_shape, kernel_size, stride, padding, dilation)
    cols = cols.reshape(c, k_h, k_w, h_out, w_out, n)
    dxpad = xp.zeros((n, c, h + 2 * p_h, w + 2 * p_w), dtype=cols.dtype)
    for i, j, rows, cs in offset_slices(kernel_size, stride, dilation, (h_out, w_out)):
        dxpad[:, :, rows, cs] += cols[:, i, j].transpose(3, 0, 1, 2)  # add, never assign: windows overlap (P01)
    return dxpad[:, :, p_h:p_h + h, p_w:p_w + w]


class Conv2d(Function):
    """The reference convolution: pad, im2col, one GEMM per group, reshape; backward: two GEMMs and col2im.

    Groups split the channels into ``groups`` independent convolutions: the rows of the column matrix are ordered
    (c, i, j), so group k's input channels are its k-th block of rows, and one stacked matmul does the G GEMMs.
    Keeps its input, not the kH * kW times larger columns, which backward rebuilds.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        n, o, kernel_size = x.shape[0], weight.shape[0], weight.shape[2:]
        h_out, w_out = conv_output_hw(x.shape, kernel_size, stride, padding, dilation)
        self.x, self.weight, self.groups, self.geometry = x, weight, groups, (kernel_size, stride, padding, dilation)
        cols = im2col(x, *self.geometry).reshape(groups, -1, h_out * w_out * n)   # (G, C/G kH kW, H_out W_out N)
        y = weight.reshape(groups, o // groups, -1) @ cols                        # (G, O/G, H_out W_out N)
        y = y.reshape(o, h_out, w_out, n)
        if bias is not None:
            y = y + bias[:, None, None, None]
        return y.transpose(3, 0, 1, 2)                                            # (N, O, H_out, W_out)

    def backward(self, g):
        o, groups = self.weight.shape[0], self.groups
        g_mat = g.transpose(1, 2, 3, 0).reshape(groups, o // groups, -1)         # dL/dy as y's matrix
        cols = im2col(self.x, *self.geometry).reshape(groups, -1, g_mat.shape[2])  # rebuilt from the input
        dw = (g_mat @ cols.transpose(0, 2, 1)).reshape(self.weight.shape)         # dL/dW = dL/dy @ cols^T
        dcols = self.weight.reshape(groups, o // groups, -1).transpose(0, 2, 1) @ g_mat   # W^T @ dL/dy
        dx = col2im(dcols.reshape(-1, g_mat.shape[2]), self.x.shape, *self.geometry)   # copies added back
        db = g.sum(axis=(0, 2, 3))
        return (dx, dw, db)[:len(self.needs_input_grad)]


def conv_padding(padding, kernel_size, stride, dilation, op: str = "conv2d") -> tuple:
    """``padding`` as ((top, bottom), (left, right)): an int, a pair, or PyTorch's strings: 'valid' (none) and
    'same' (the output as large as the input: dilation (k - 1) pixels per axis, half before, the odd one after, as
    ``torch.nn.functional.conv2d``; stride 1 only). Raises ValueError for another string, 'same' with a stride, or
    negative values; TypeError for other types."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a pair of ints, 'valid' or 'same', got {padding!r}")
        if tuple(stride) != (1, 1):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions, got stride={stride}")
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    p_h, p_w = pair("padding", padding, op, minimum=0)
    return (p_h, p_h), (p_w, p_w)


def pad_by_mode(x: Tensor, sides, mode: str) -> Tensor:
    """x (N, C, H, W) padded by ``sides`` ((top, bottom), (left, right)) with ``torch.nn.functional.pad``'s
    'reflect' (mirrored, the edge not repeated), 'replicate' (the edge repeated) or 'circular' (wrapped around)
    values: a gather of rows and columns, differentiable (repeated pixels add their gradients).

    Raises ValueError for another mode, or a padding PyTorch refuses: 'reflect' needs each side below the input's
    size, 'circular' at most the size."""
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad_by_mode: mode must be 'reflect', 'replicate' or 'circular', got {mode!r}")
    xp = backend.get_array_module(x.data)
    index = []
    for (before, after), size, axis in zip(sides, x.shape[2:], ("height", "width")):
        limit = {"reflect": size - 1, "circular": size}.get(mode, max(before, after))
        if max(before, after) > limit:
            raise ValueError(f"conv2d with padding_mode={mode!r}: padding {(before, after)} along the {axis} must be "
                             f"at most {limit} for an input of size {size} (x of shape {x.shape})")
        i = xp.arange(-before, size + after)
        if mode == "reflect":
            i = (size - 1) - xp.abs((size - 1) - xp.abs(i))  # mirror at 0, then at size - 1
        elif mode == "replicate":
            i = xp.clip(i, 0, size - 1)
        else:
            i = i % size
        index.append(i)
    return x[:, :, index[0][:, None], index[1][None, :]]


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    Args:
        x: (N, C_in, H, W) floating-point input.
        weight: (C_out, C_in / groups, kH, kW), PyTorch's layout.
        bias: optional (C_out,).
        stride, dilation: an int or a pair (rows, columns).
        padding: an int or a pair (zeros on both sides), or 'valid' (none) or 'same' (output as large as the
            input, stride 1 only; an odd total puts the extra pixel at the bottom/right, as PyTorch).
        groups: split the channels into this many independent convolutions (AlexNet's two towers);
            C_in and C_out must be divisible by it.

    Returns:
        (N, C_out, H_out, W_out) with H_out = floor((H + 2 padding - dilation (kH - 1) - 1) / stride) + 1, of x's
        dtype. Computed by the fast kernel, or by the reference ``Conv2d`` inside ``tinycnn.use_reference_ops()``.

    Raises:
        ValueError: a shape that does not fit, naming the argument, the expected and the actual shape (for example
            an input with 3 channels into a weight built for 1); a kernel larger than the padded input; a padding
            string other than 'valid' / 'same', or 'same' with a stride.
        TypeError: non-Tensor inputs, non-int geometry, or mixed dtypes.
    """
    op = "conv2d"
    check_tensor("x", x, ndim=4, op=op)
    check_tensor("weight", weight, ndim=4, op=op)
    check_float("x", x, op=op)
    stride = pair("stride", stride, op, minimum=1)
    dilation = pair("dilation", dilation, op, minimum=1)
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    o, c_g, k_h, k_w = weight.shape
    (top, bottom), (left, right) = conv_padding(padding, (k_h, k_w), stride, dilation, op)
    if o % groups:
        raise ValueError(f"{op}: weight's out_channels ({o}) must be divisible by groups ({groups})")
    if x.shape[1] != c_g * groups:
        raise ValueError(f"{op}: x must have {c_g * groups} channels (weight of shape {weight.shape}, groups={groups}),"
                         f" got x of shape {x.shape}")
    if bias is not None:
        check_tensor("bias", bias, ndim=1, op=op)
        if bias.shape != (o,):
            raise ValueError(f"{op}: bias must have shape ({o},), got {bias.shape}")
    # 'same' with an odd total pads one pixel more at the bottom/right: pad both sides by the larger amount and drop
    # the first output row/column, the only one that the extra top/left pixel reached
    padding, extra = (bottom, right), (bottom - top, right - left)
    h_out = conv_output_size(x.shape[2], k_h, stride[0], padding[0], dilation[0])
    w_out = conv_output_size(x.shape[3], k_w, stride[1], padding[1], dilation[1])
    if h_out < 1 or w_out < 1:
        raise ValueError(f"{op}: kernel {(k_h, k_w)} (dilation {dilation}) is larger than the padded input "
                         f"{(x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])}")
    check_same_dtype(op, x=x, weight=weight, bias=bias)
    fn = Conv2d if switch.REFERENCE else FastConv2d
    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = fn.apply(*inputs, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return y if extra == (0, 0) else y[:, :, extra[0]:, extra[1]:]
