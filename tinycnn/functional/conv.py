"""2-D convolution as matrix products (GEMMs): by im2col, or by row windows of a smaller copy (MEC), and col2im.

A convolution slides a (kH, kW) window over the input and takes a dot product with the kernel at each position.
im2col copies every window into one column of a matrix, so the whole layer becomes one GEMM (done below in bands
of output rows, one GEMM per band):

    cols   (C * kH * kW,  H_out * W_out * N)     one column per output pixel of every image
    weight (O,  C * kH * kW)                     one row per output channel
    out  = weight @ cols  -> (O, H_out * W_out * N)

The simplest im2col loops over every output pixel; that is a Python loop of N * H_out * W_out steps. Here the loop
runs over the kH * kW kernel offsets instead: for offset (i, j), the pixels that meet kernel weight (i, j) in all
windows form one strided slice of the padded input, ``x[:, i : i + stride*H_out : stride, j : ..., :]``, copied in
one NumPy call (at a stride above 1 it is taken from the input's stride phases, where those pixels are neighbours:
see ``_padded_phases``). col2im does the reverse and *adds* each slice back, because neighbouring windows overlap
and every overlap contributes to the gradient (PITFALLS P01). There are no index arrays and no ``np.add.at``: both
are 5-15x slower than strided slices.

Layout (why the batch axis is last inside): NumPy copies a strided slice row by row, and a short row costs as much
as a long one. In NCHW memory the rows of a window slice are W_out pixels long (10 for LeNet's conv2); with the
batch axis innermost, (C, H, W, N), a slice keeps all N images of a pixel side by side, and for stride 1 a whole
(W_out x N) block is contiguous: im2col runs about 6x and col2im about 3x faster (benchmarks/). So inside the op
the input is viewed as (C, H, W, N), the columns are ordered (c, i, j) x (h_out, w_out, n), and the GEMM's output
(O, H_out, W_out, N) is returned as an NCHW *view* (a transpose without a copy). The next layer reads it as
(C, H, W, N) again for free, and pooling and ReLU keep that memory order, so no transpose copy is made per call.
This is convolution as PyTorch defines it (``torch.nn.functional.conv2d``): cross-correlation, the kernel is not
flipped (P03).

The forward and the weight gradient of most layers (wide enough rows, a kernel taller than its stride) skip the full
column matrix: they copy the input unfolded along the width only, about kH / stride times less, and each output
row's GEMM reads its columns in place as one block of that array (``_row_windows``, MEC): the same products, summed
in another order. The input gradient builds column bands as above, and ``im2col`` below stays the plain matrix to
learn from.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from .. import backend
from ..tensor import Function, Tensor
from ._util import check_float, check_same_dtype, check_tensor, pair

__all__ = ["conv2d", "im2col", "col2im", "conv_output_size"]

# The column matrix of a big layer is large (a 3x3 layer's is 9x its input: 925 MB for VGG-16's second layer at
# batch 8), so it is built in bands of output rows, each at most COLS_BUDGET bytes (but at least one row: VGG-16's
# conv1_2 at batch 64 needs 32 MB for one), into one reused scratch buffer per thread that stays allocated: a
# reused buffer costs no page faults (a fresh 64 MB array costs 16,000 of them, each a trip to the kernel). The
# columns are never kept for backward, which rebuilds them (or the row windows) from the input: one more copy
# instead of holding 9x the activations (PyTorch keeps only the input too).
COLS_BUDGET = 16 * 2**20
# A forward GEMM with few output channels does only O multiply-adds per column value it reads, so it runs at the
# speed its columns come back from memory: such layers (LeNet's) take a quarter of the budget, bands small enough
# to be still in the cache when the GEMM reads them (forward 15-25% faster, benchmarks/), while layers with many
# channels run faster on wide bands (fewer, larger GEMMs: AlexNet's conv1 was 15% slower on 4 MB bands).
STREAM_MAX_CHANNELS = 16
# OpenBLAS's float32 GEMM kernel computes output rows in blocks of 8 and the rest in smaller passes, so 5-7 leftover
# rows cost more than a full block (25 x 39,424 columns: 6 rows took a third longer than 8, 14 rows a sixth longer
# than 16, 4 rows less than 8): a forward GEMM with 5-7 leftover rows gets zero weight rows up to a multiple of 8
# (on every device: the same arithmetic gives the same bits, which tests/test_backend.py checks against the stand-in
# device).
GEMM_ROW_BLOCK = 8

# The row windows (``_row_windows``) take one GEMM per output row, W_out * N columns wide; narrower than this, the
# GEMM runs well below BLAS's speed and a band's one wide GEMM wins (benchmarks/row_windows.py: VGG-16's 14x14
# layer at batch 8, 112 columns, forward 16% and forward+backward 37% slower by row windows; from 448 columns on
# about as fast or faster: VGG-16's 56x56 layer, 448 columns, forward 5% faster and forward+backward 4% slower;
# LeNet's conv2, 1,280 columns, 14% faster. A 512-channel 7x7 layer at batch 32, 224 columns, ran its forward 12%
# slower by row windows.)
ROW_WINDOW_MIN_COLUMNS = 256

_scratch = threading.local()


def _scratch_buffer(name, shape, dtype, xp):
    """A reused (per thread) NumPy array of ``shape`` for a temporary that never leaves the op, e.g. a band of
    columns; a fresh one elsewhere (CuPy's memory pool already reuses device memory)."""
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    buf = getattr(_scratch, name, None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(nbytes, dtype=np.uint8)
        setattr(_scratch, name, buf)
    return buf[:nbytes].view(dtype).reshape(shape)


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


def _output_hw(x_shape, kernel_size, stride, padding, dilation):
    return tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                 zip(x_shape[2:], kernel_size, stride, padding, dilation))


def _phase_span(a, step, pad, size):
    """Phase ``a`` of a padded axis (padded positions a, a + step, ...): the phase positions lo..hi that hold input
    (not padding), the slice of input positions they hold, and the phase's length."""
    length = -(-(size + 2 * pad - a) // step)
    lo = max(0, -(-(pad - a) // step))
    hi = min(length, -(-(pad + size - a) // step))
    first = a + step * lo - pad
    return lo, hi, slice(first, first + step * (hi - lo - 1) + 1, step), length


def _padded_phases(x, padding, kernel_size, stride, dilation):
    """x (N, C, H, W) zero padded, laid out (C, Hp, Wp, N), and split by stride phase: ``{(a, b): xpad[:, a::s_h,
    b::s_w]}``, each a contiguous array, for the phases that some kernel offset meets; at stride 1 the one phase
    is ``_padded_chwn(x, padding)``.

    Why: at stride s a kernel offset meets every s-th pixel, and a strided slice of (C, H, W, N) memory copies runs
    of only N values (16 for AlexNet's conv1 at batch 16). Within one phase the same pixels are neighbours, so
    im2col copies runs of W_out * N values, as at stride 1 (space-to-depth), and the phases are cut straight from
    x in the copy that lays it out (C, H, W, N) anyway: AlexNet's conv1 im2col took 8 ms instead of 15."""
    xp = backend.get_array_module(x)
    (k_h, k_w), (s_h, s_w), (d_h, d_w), (p_h, p_w) = kernel_size, stride, dilation, padding
    if (s_h, s_w) == (1, 1):
        return {(0, 0): _padded_chwn(x, padding)}
    n, c, h, w = x.shape
    xc = x.transpose(1, 2, 3, 0)  # (C, H, W, N) view
    spans = {}
    for a, b in sorted({(i * d_h % s_h, j * d_w % s_w) for i in range(k_h) for j in range(k_w)}):
        (r_lo, r_hi, rows, h_len), (c_lo, c_hi, cols, w_len) = _phase_span(a, s_h, p_h, h), _phase_span(b, s_w, p_w, w)
        whole = (r_lo, r_hi, c_lo, c_hi) == (0, h_len, 0, w_len)  # no padding in this phase: nothing to zero
        phase = (xp.empty if whole else xp.zeros)((c, h_len, w_len, n), dtype=x.dtype)
        spans[a, b] = (phase, (slice(r_lo, r_hi), slice(c_lo, c_hi)), (rows, cols))
    items = [(ab, ch) for ab in spans for ch in range(c)]

    def copy(start, stop):  # (phase, channel) pairs start..stop
        for ab, ch in items[start:stop]:
            phase, dst, src = spans[ab]
            phase[(ch,) + dst] = xc[(ch,) + src]

    backend.parallel_for(len(items), copy, x.nbytes, xp)
    return {ab: phase for ab, (phase, _, _) in spans.items()}


def _band_cols(phases, r0, r1, kernel_size, stride, dilation, w_out, scratch=None, ones_row=False):
    """Columns of output rows r0..r1 from the stride phases of the padded input (``_padded_phases``):
    (C * kH * kW, (r1 - r0) * W_out * N), and with ``ones_row`` one more row of ones below (see ``_folds_bias``),
    written into the reused buffer named ``scratch`` when given (else a new array). A 1x1 kernel needs no copy,
    and no buffer: its columns are its one phase (at stride 1 the input) itself, and they take no ones row."""
    first = next(iter(phases.values()))
    xp = backend.get_array_module(first)
    c, n = first.shape[0], first.shape[3]
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = kernel_size, stride, dilation
    if (k_h, k_w) == (1, 1) and first.shape[2] == w_out:  # a contiguous phase: a view
        if ones_row:
            raise ValueError("a 1x1 kernel's columns are a view of its input: no ones row (see _folds_bias)")
        return first[:, r0:r1].reshape(c, -1)
    rows, width = c * k_h * k_w, (r1 - r0) * w_out * n
    shape = (rows + ones_row, width)
    out = xp.empty(shape, dtype=first.dtype) if scratch is None else _scratch_buffer(scratch, shape, first.dtype, xp)
    if ones_row:
        out[rows] = 1
    cols = out[:rows].reshape(c, k_h, k_w, r1 - r0, w_out, n)  # the first rows of a C-ordered array: a view
    # kernel offset (i, j) meets phase (i d_h mod s_h, j d_w mod s_w), from its row i d_h // s_h and column
    # j d_w // s_w on: output row r reads padded row i d_h + s_h r = s_h (i d_h // s_h + r) + (i d_h mod s_h)
    offsets = [(i, j, *divmod(i * d_h, s_h), *divmod(j * d_w, s_w)) for i in range(k_h) for j in range(k_w)]

    def copy(start, stop):  # kernel offsets start..stop: disjoint blocks of the columns
        for i, j, p, a, q, b in offsets[start:stop]:
            cols[:, i, j] = phases[a, b][:, p + r0:p + r1, q:q + w_out]  # one block copy per kernel offset

    backend.parallel_for(len(offsets), copy, cols.nbytes, xp)
    return out


def _band_col2im(dxpad, cols, r0, r1, kernel_size, stride, dilation, w_out):
    """Add the columns of output rows r0..r1 back into padded (C, Hp, Wp, N) ``dxpad``, in place."""
    c, _, _, n = dxpad.shape
    cols = cols.reshape(c, kernel_size[0], kernel_size[1], r1 - r0, w_out, n)
    windows = list(_windows(kernel_size, stride, dilation, (r1 - r0, w_out)))

    def add(start, stop):  # channels start..stop: threads never add into the same pixel
        for i, j, rows, cs in windows:
            rows = slice(rows.start + r0 * stride[0], rows.stop + r0 * stride[0], rows.step)
            dxpad[start:stop, rows, cs] += cols[start:stop, i, j]  # add, never assign: windows overlap

    backend.parallel_for(c, add, cols.nbytes, backend.get_array_module(dxpad))


def _bands(h_out, row_bytes, budget):
    """Split output rows 0..h_out into bands whose columns take at most ``budget`` bytes (at least one row)."""
    step = max(1, min(h_out, budget // max(1, row_bytes)))
    return [(r, min(r + step, h_out)) for r in range(0, h_out, step)]


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Unfold windows of an array into columns.

    Args:
        x: array (N, C, H, W).
        kernel_size, stride, padding, dilation: pairs of ints (rows, columns).

    Returns:
        array (C * kH * kW, H_out * W_out * N), rows ordered (c, i, j), columns ordered (h_out, w_out, n): the
        values of ``torch.nn.functional.unfold`` with its columns in that order (for N = 1, the same matrix).
    """
    h_out, w_out = _output_hw(x.shape, kernel_size, stride, padding, dilation)
    phases = _padded_phases(x, padding, kernel_size, stride, dilation)
    cols = _band_cols(phases, 0, h_out, kernel_size, stride, dilation, w_out)
    # a 1x1 kernel's columns are a view of the input (or of its one phase): the caller gets its own copy
    return cols.copy() if tuple(kernel_size) == (1, 1) else cols


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
    (p_h, p_w) = padding
    h_out, w_out = _output_hw(x_shape, kernel_size, stride, padding, dilation)
    dxpad = xp.zeros((c, h + 2 * p_h, w + 2 * p_w, n), dtype=cols.dtype)
    _band_col2im(dxpad, cols, 0, h_out, kernel_size, stride, dilation, w_out)
    return dxpad[:, p_h:p_h + h, p_w:p_w + w].transpose(3, 0, 1, 2)


def _zero_rows_below(m, rows):
    """Matrix ``m`` with zero rows appended up to ``rows`` rows (see GEMM_ROW_BLOCK); ``m`` itself when it has them."""
    xp = backend.get_array_module(m)
    if m.shape[0] == rows:
        return m
    return xp.concatenate([m, xp.zeros((rows - m.shape[0], m.shape[1]), dtype=m.dtype)])


def _uses_row_windows(kernel_size, stride, dilation, groups, row_columns):
    """Whether the forward and the weight gradient read their columns as row windows of the width-unfolded input
    (``_row_windows``) rather than as im2col's bands: for a kernel taller than its stride (else no two windows share
    a row of the unfolded input, which is then as large as im2col's matrix: nothing saved, and for a 1x1 kernel
    whose columns are its input a copy more), without dilation along the height (else a row's columns are not one
    block of the unfolded input), without groups (whose GEMMs take the channels of one group, spread over the
    window), and for output rows of at least ROW_WINDOW_MIN_COLUMNS columns (``row_columns``: W_out * N).

    The same path on every device (so CuPy's results match NumPy's bit for bit in tests/test_strict_device.py), but
    it was measured on the CPU only: CuPy's matmul copies overlapping views into contiguous arrays, so on a GPU the
    windows cost a band of im2col's memory again and may save nothing."""
    return (kernel_size[0] > stride[0] and dilation[0] == 1 and groups == 1
            and row_columns >= ROW_WINDOW_MIN_COLUMNS)


def _width_cols(phases, u0, u1, k_w, s_w, d_w, w_out):
    """Padded input rows u0..u1 unfolded along the width only, in the reused buffer "cols": U (u1 - u0, C, kW, W_out,
    N) with U[r, c, j, w, n] = xpad[c, u0 + r, j d_w + w s_w, n], from the width phases of ``_padded_phases``
    (stride and dilation (1, s_w), (1, d_w)), where padded column j d_w + s_w w is column q + w of phase b, with
    (q, b) = divmod(j d_w, s_w)."""
    first = next(iter(phases.values()))
    xp = backend.get_array_module(first)
    c, n = first.shape[0], first.shape[3]
    u = _scratch_buffer("cols", (u1 - u0, c, k_w, w_out, n), first.dtype, xp)
    offsets = [(j, *divmod(j * d_w, s_w)) for j in range(k_w)]

    def copy(start, stop):  # rows start..stop of U
        for j, q, b in offsets:
            u[start:stop, :, j] = phases[0, b][:, u0 + start:u0 + stop, q:q + w_out].transpose(1, 0, 2, 3)

    backend.parallel_for(u1 - u0, copy, u.nbytes, xp)
    return u


def _row_windows(x, padding, kernel_size, stride, dilation, w_out, budget):
    """The columns of every output row without a full column matrix (MEC, Cho and Brand, ICML 2017): yields
    ``(r0, r1, windows)`` for bands of output rows r0..r1, ``windows`` (r1 - r0, kH * C * kW, W_out * N) holding
    output row r's columns, rows ordered (i, c, j), at [r - r0]. Both the forward and the weight gradient multiply
    by them, one GEMM per output row (a stacked ``matmul``).

    Why it is faster than im2col: the columns of output row r are U[r s_h + i, c, j] over the kernel rows i, where U
    is the input unfolded along the width only (``_width_cols``). In U's memory, laid out (H, C, kW, W_out, N),
    those kH * C * kW rows of W_out * N values are one contiguous block that starts at U's row r s_h: a matrix the
    GEMM reads in place. U is about kH / s_h times smaller than im2col's column matrix (less for short outputs: 2.2
    MB instead of 7.7 for LeNet's conv2 at batch 128) and the windows of neighbouring output rows overlap in it, so
    the copy is a quarter of im2col's and the GEMMs read from the cache (``benchmarks/row_windows.py``, against
    bands in one process: the forward of LeNet's layers, ResNet's 3x3 layer and AlexNet's conv1 14-18% faster;
    forward+backward 29% for LeNet's conv1, 14-18% for LeNet's conv2 and AlexNet's conv1, even for ResNet's 3x3
    layer). The price is one GEMM per output row instead of one per band, each a wake-up of the BLAS threads. Bands
    hold as many output rows as fit ``budget`` bytes of U (at least one)."""
    xp = backend.get_array_module(x)
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = kernel_size, stride, dilation
    n, c = x.shape[:2]
    h_out = _output_hw(x.shape, kernel_size, stride, padding, dilation)[0]
    itemsize, row = x.dtype.itemsize, w_out * n
    phases = _padded_phases(x, padding, kernel_size, (1, s_w), (1, d_w))  # phases along the width only
    # a band of b output rows reads U rows r0 s_h .. (r0 + b - 1) s_h + kH
    band = max(1, (budget // (c * k_w * row * itemsize) - k_h) // s_h + 1)
    for r0 in range(0, h_out, band):
        r1 = min(r0 + band, h_out)
        u = _width_cols(phases, r0 * s_h, (r1 - 1) * s_h + k_h, k_w, s_w, d_w, w_out)
        # window r: the kH * C * kW rows from U's row r s_h on, each W_out * N apart (overlapping views of U, only
        # ever read)
        yield r0, r1, xp.lib.stride_tricks.as_strided(u, shape=(r1 - r0, k_h * c * k_w, row),
                                                      strides=(s_h * u.strides[0], row * itemsize, itemsize))


def _folds_bias(kernel_size, groups):
    """Whether the bias rides in the GEMM: a row of ones below the columns and the bias as one more column of the
    weight matrix give weight @ cols + bias in the product itself, and in backward the same trick gives the bias
    gradient (the sum of the output gradient) as one more column of the weight gradient's product. Each saves a
    pass over the output (LeNet's conv1 forward+backward 6% faster, forward 2%). Not for a 1x1 kernel, whose columns
    are a view of its input (no room for the row), nor for groups, whose GEMMs split the rows of the columns, nor
    where the row windows are used (``_row_windows``: they are views of one buffer, with no room for the row)."""
    return tuple(kernel_size) != (1, 1) and groups == 1


class Conv2d(Function):
    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        o, c_g, k_h, k_w = weight.shape
        h_out, w_out = _output_hw(x.shape, (k_h, k_w), stride, padding, dilation)
        self.geometry = ((k_h, k_w), stride, dilation, w_out)
        self.x_shape, self.padding, self.groups, self.weight = x.shape, padding, groups, weight
        self.row_bytes = c * k_h * k_w * w_out * n * x.dtype.itemsize  # one output row's columns
        budget = COLS_BUDGET // 4 if o <= STREAM_MAX_CHANNELS else COLS_BUDGET
        o_gemm = o  # see GEMM_ROW_BLOCK
        if groups == 1 and o % GEMM_ROW_BLOCK > GEMM_ROW_BLOCK // 2:
            o_gemm = o + GEMM_ROW_BLOCK - o % GEMM_ROW_BLOCK
        y = xp.empty((o_gemm, h_out, w_out, n), dtype=x.dtype)
        if _uses_row_windows((k_h, k_w), stride, dilation, groups, w_out * n):
            fold = False  # the windows are views of one buffer: no room for a row of ones
            w_rows = weight.transpose(0, 2, 1, 3).reshape(o, -1)  # (O, kH * C * kW), as the windows' rows
            w_rows, y_rows = _zero_rows_below(w_rows, o_gemm), y.reshape(o_gemm, h_out, -1)
            for r0, r1, windows in _row_windows(x, padding, (k_h, k_w), stride, dilation, w_out, budget):
                xp.matmul(w_rows, windows, out=y_rows[:, r0:r1].transpose(1, 0, 2))  # one GEMM per output row
        else:
            fold = bias is not None and _folds_bias((k_h, k_w), groups)
            w_mat = weight.reshape(o, c_g * k_h * k_w)
            if fold:
                w_mat = xp.concatenate([w_mat, bias[:, None]], axis=1)
            w_mat = _zero_rows_below(w_mat, o_gemm)
            phases = _padded_phases(x, padding, (k_h, k_w), stride, dilation)
            for r0, r1 in _bands(h_out, self.row_bytes, budget):
                cols = _band_cols(phases, r0, r1, *self.geometry, scratch="cols", ones_row=fold)
                # one GEMM per group, written straight into the output rows of the band: y[:, r0:r1] is
                # (O, rows, W, N) with its last three axes contiguous, so the reshape is a view and the GEMM fills y
                _grouped_matmul(w_mat, cols, groups, out=y[:, r0:r1].reshape(o_gemm, -1))
        if bias is not None and not fold:
            y[:o] += bias[:, None, None, None]
        y = y[:o]  # channels are the outer axis: the first o are a contiguous block (the padding rows' memory
        # lives as long as y: 2 channels more for LeNet's C1, the only layer of the networks here that is padded)
        # the weight gradient rebuilds its columns (or row windows) from the input, which its producer holds anyway
        self.x = x if self.needs_input_grad[1] else None
        return y.transpose(3, 0, 1, 2)  # NCHW view of (O, H_out, W_out, N) memory

    def backward(self, g):
        xp = backend.get_array_module(g)
        o, groups, w = self.weight.shape[0], self.groups, self.weight
        g4 = xp.ascontiguousarray(g.transpose(1, 2, 3, 0))  # (O, H_out, W_out, N): free for our own outputs
        needs = self.needs_input_grad
        n, c, h, w_in = self.x_shape
        p_h, p_w = self.padding
        rows = c * w[0, 0].size
        needs_db = len(needs) > 2 and needs[2]
        kernel_size, stride, dilation, w_out = self.geometry
        # the weight gradient rebuilds the row windows where the forward used them (_row_windows)
        row_windows = needs[1] and _uses_row_windows(kernel_size, stride, dilation, groups, w_out * n)
        # else db as the last column of dw's product
        fold_db = needs[1] and needs_db and not row_windows and _folds_bias(kernel_size, groups)
        if needs[1] and row_windows:
            g_rows = g4.reshape(o, g4.shape[1], -1)
            dw = xp.zeros((o, w[0].size), dtype=g.dtype)  # (O, kH * C * kW), the windows' row order
            chunk = max(1, COLS_BUDGET // dw.nbytes)  # output rows whose products, one dw each, fit the budget
            for r0, r1, windows in _row_windows(self.x, self.padding, kernel_size, stride, dilation, w_out,
                                                COLS_BUDGET):
                for a in range(r0, r1, chunk):  # one chunk for LeNet; one row at a time for 512 x 4608 weights
                    b = min(a + chunk, r1)
                    # (rows, O, W_out N) @ (rows, W_out N, kH C kW): each output row's share, summed
                    dw += xp.matmul(g_rows[:, a:b].transpose(1, 0, 2),
                                    windows[a - r0:b - r0].transpose(0, 2, 1)).sum(axis=0)
            dw = dw.reshape(o, kernel_size[0], c, kernel_size[1]).transpose(0, 2, 1, 3)
        elif needs[1]:
            phases = _padded_phases(self.x, self.padding, kernel_size, stride, dilation)
            dw = xp.zeros((o, w[0].size + fold_db), dtype=g.dtype)
        if needs[0]:
            dxpad = xp.zeros((c, h + 2 * p_h, w_in + 2 * p_w, n), dtype=g.dtype)
        band_work = needs[0] or (needs[1] and not row_windows)  # none left for a first layer on row windows
        for r0, r1 in _bands(g4.shape[1], self.row_bytes, COLS_BUDGET) if band_work else []:
            g_mat = g4[:, r0:r1].reshape(o, -1)  # a contiguous block of columns
            if needs[1] and not row_windows:
                cols = _band_cols(phases, r0, r1, *self.geometry, scratch="cols", ones_row=fold_db)
                dw += _grouped_matmul(g_mat, cols, groups, transpose_b=True)
            if needs[0]:  # skipped for a first layer whose input needs no gradient
                buf = _scratch_buffer("dcols", (rows, g_mat.shape[1]), g.dtype, xp)
                dcols = _grouped_matmul(w.reshape(o, -1), g_mat, groups, transpose_a=True, out=buf)
                _band_col2im(dxpad, dcols, r0, r1, *self.geometry)
        dx = dxpad[:, p_h:p_h + h, p_w:p_w + w_in].transpose(3, 0, 1, 2) if needs[0] else None
        db = None
        if fold_db:
            dw, db = dw[:, :-1], dw[:, -1].copy()
        elif needs_db:
            db = g4.sum(axis=(1, 2, 3))
        return dx, (dw.reshape(w.shape) if needs[1] else None), db


def _grouped_matmul(a, b, groups, transpose_a=False, transpose_b=False, out=None):
    """Block-diagonal product: split the rows of ``a`` and of ``b`` into ``groups`` equal blocks and stack the
    products op(a_k) @ op(b_k), op a transpose where asked, into ``out`` when given. One 2-D GEMM per group, each
    into its rows of ``out`` (a stacked matmul over the groups' views runs as fast on NumPy 2.4; the loop reads more
    plainly)."""
    xp = backend.get_array_module(a)
    op_a = (lambda m: m.T) if transpose_a else (lambda m: m)
    op_b = (lambda m: m.T) if transpose_b else (lambda m: m)
    if groups == 1:
        return op_a(a) @ op_b(b) if out is None else xp.matmul(op_a(a), op_b(b), out=out)
    ra, rb = a.shape[0] // groups, b.shape[0] // groups
    blocks = [(op_a(a[k * ra:(k + 1) * ra]), op_b(b[k * rb:(k + 1) * rb])) for k in range(groups)]
    if out is None:
        return xp.concatenate([p @ q for p, q in blocks], axis=0)
    ro = out.shape[0] // groups
    for k, (p, q) in enumerate(blocks):
        xp.matmul(p, q, out=out[k * ro:(k + 1) * ro])
    return out


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
