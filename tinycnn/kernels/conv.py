"""The fast conv2d kernel: the same products as the reference ``functional/conv.py`` (pad, im2col, one GEMM,
col2im), made fast by the tricks below, each documented where it lives with the figure that justified it
(``benchmarks/`` and ``benchmarks/results/``); ``columns.py`` holds those that build the columns.

* row windows (MEC): the forward and the weight gradient of a layer with wide rows multiply by windows of the input
  unfolded along the width only, read in place (``columns.row_windows``); elsewhere
* stride phases and (C, H, W, N) memory: every im2col copy is a run of neighbours (``columns.padded_phases``);
* cache-sized bands of columns in a reused per-thread buffer, never the whole column matrix (``COLS_BUDGET``,
  ``STREAM_MAX_CHANNELS``, ``columns.scratch_buffer``);
* the bias rides in the GEMM as a row of ones (``_folds_bias``); 5-7 leftover GEMM rows are padded to OpenBLAS's
  block of 8 (``GEMM_ROW_BLOCK``);
* at stride 1 the input gradient is the forward convolution of the output gradient with the flipped kernel,
  written once, instead of col2im's kH * kW additions (``_transposed_input_grad``);
* the copies run on all cores (``backend.parallel_for``); a first layer skips its input gradient.

``tests/kernels/test_conv_kernel.py`` proves it equal to the reference, values and gradients, in float64.
"""
from __future__ import annotations

from .. import backend
from ..functional.geometry import conv_output_hw
from ..tensor import Function
from .columns import band_col2im, band_cols, bands, padded_phases, row_windows, scratch_buffer

__all__ = ["FastConv2d"]

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

# The row windows (``row_windows``) take one GEMM per output row, W_out * N columns wide; narrower than this, the
# GEMM runs well below BLAS's speed and a band's one wide GEMM wins (benchmarks/row_windows.py: VGG-16's 14x14
# layer at batch 8, 112 columns, forward 16% and forward+backward 37% slower by row windows; from 448 columns on
# about as fast or faster: VGG-16's 56x56 layer, 448 columns, forward 5% faster and forward+backward 4% slower;
# LeNet's conv2, 1,280 columns, 14% faster. A 512-channel 7x7 layer at batch 32, 224 columns, ran its forward 12%
# slower by row windows.)
ROW_WINDOW_MIN_COLUMNS = 256


def _zero_rows_below(m, rows):
    """Matrix ``m`` with zero rows appended up to ``rows`` rows (see GEMM_ROW_BLOCK); ``m`` itself when it has them."""
    xp = backend.get_array_module(m)
    if m.shape[0] == rows:
        return m
    return xp.concatenate([m, xp.zeros((rows - m.shape[0], m.shape[1]), dtype=m.dtype)])


def _uses_row_windows(kernel_size, stride, dilation, groups, row_columns):
    """Whether the forward and the weight gradient read their columns as row windows of the width-unfolded input
    (``row_windows``) rather than as im2col's bands: for a kernel taller than its stride (else no two windows share
    a row of the unfolded input, which is then as large as im2col's matrix: nothing saved, and for a 1x1 kernel
    whose columns are its input a copy more), without dilation along the height (else a row's columns are not one
    block of the unfolded input), without groups (whose GEMMs take the channels of one group, spread over the
    window), and for output rows of at least ROW_WINDOW_MIN_COLUMNS columns (``row_columns``: W_out * N).

    The same path on every device (so CuPy's results match NumPy's bit for bit in tests/test_strict_device.py), but
    it was measured on the CPU only: CuPy's matmul copies overlapping views into contiguous arrays, so on a GPU the
    windows cost a band of im2col's memory again and may save nothing."""
    return (kernel_size[0] > stride[0] and dilation[0] == 1 and groups == 1
            and row_columns >= ROW_WINDOW_MIN_COLUMNS)


def _folds_bias(kernel_size, groups):
    """Whether the bias rides in the GEMM: a row of ones below the columns and the bias as one more column of the
    weight matrix give weight @ cols + bias in the product itself, and in backward the same trick gives the bias
    gradient (the sum of the output gradient) as one more column of the weight gradient's product. Each saves a
    pass over the output (LeNet's conv1 forward+backward 6% faster, forward 2%). Not for a 1x1 kernel, whose columns
    are a view of its input (no room for the row), nor for groups, whose GEMMs split the rows of the columns, nor
    where the row windows are used (``row_windows``: they are views of one buffer, with no room for the row)."""
    return tuple(kernel_size) != (1, 1) and groups == 1


def conv_forward(x, weight, bias, stride, padding, dilation, groups):
    """The forward product y = conv2d(x, weight) + bias, (N, O, H_out, W_out) as a view of (O, H_out, W_out, N)
    memory: row windows where they pay (``_uses_row_windows``), else cache-sized bands of im2col's columns. Also
    the input gradient's product for stride 1 (``_transposed_input_grad``)."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    o, c_g, k_h, k_w = weight.shape
    h_out, w_out = conv_output_hw(x.shape, (k_h, k_w), stride, padding, dilation)
    geometry = ((k_h, k_w), stride, dilation, w_out)
    row_bytes = c * k_h * k_w * w_out * n * x.dtype.itemsize  # one output row's columns
    budget = COLS_BUDGET // 4 if o <= STREAM_MAX_CHANNELS else COLS_BUDGET
    o_gemm = o  # see GEMM_ROW_BLOCK
    if groups == 1 and o % GEMM_ROW_BLOCK > GEMM_ROW_BLOCK // 2:
        o_gemm = o + GEMM_ROW_BLOCK - o % GEMM_ROW_BLOCK
    y = xp.empty((o_gemm, h_out, w_out, n), dtype=x.dtype)
    if _uses_row_windows((k_h, k_w), stride, dilation, groups, w_out * n):
        fold = False  # the windows are views of one buffer: no room for a row of ones
        w_rows = weight.transpose(0, 2, 1, 3).reshape(o, -1)  # (O, kH * C * kW), as the windows' rows
        w_rows, y_rows = _zero_rows_below(w_rows, o_gemm), y.reshape(o_gemm, h_out, -1)
        for r0, r1, windows in row_windows(x, padding, (k_h, k_w), stride, dilation, w_out, budget):
            xp.matmul(w_rows, windows, out=y_rows[:, r0:r1].transpose(1, 0, 2))  # one GEMM per output row
    else:
        fold = bias is not None and _folds_bias((k_h, k_w), groups)
        w_mat = weight.reshape(o, c_g * k_h * k_w)
        if fold:
            w_mat = xp.concatenate([w_mat, bias[:, None]], axis=1)
        w_mat = _zero_rows_below(w_mat, o_gemm)
        phases = padded_phases(x, padding, (k_h, k_w), stride, dilation)
        for r0, r1 in bands(h_out, row_bytes, budget):
            cols = band_cols(phases, r0, r1, *geometry, scratch="cols", ones_row=fold)
            # one GEMM per group, written straight into the output rows of the band: y[:, r0:r1] is
            # (O, rows, W, N) with its last three axes contiguous, so the reshape is a view and the GEMM fills y
            _grouped_matmul(w_mat, cols, groups, out=y[:, r0:r1].reshape(o_gemm, -1))
    if bias is not None and not fold:
        y[:o] += bias[:, None, None, None]
    y = y[:o]  # channels are the outer axis: the first o are a contiguous block (the padding rows' memory
    # lives as long as y: 2 channels more for LeNet's C1, the only layer of the networks here that is padded)
    return y.transpose(3, 0, 1, 2)  # NCHW view of (O, H_out, W_out, N) memory


def _transposed_input_grad(kernel_size, stride, padding, dilation):
    """Whether the input gradient is computed as a forward convolution of the output gradient (``conv_forward``)
    rather than by GEMM and col2im. At stride 1, dx = conv2d(g, w'), w' the kernel flipped in space with its
    input and output channels swapped (per group), padded by dilation (k - 1) - padding: the adjoint of a
    correlation is the correlation with the flipped kernel. It reuses the forward's row windows, and writes dx
    once, where col2im adds kH * kW slices of the columns into it one after the other (ResNet-20's 3x3 layers at
    batch 128: dx 25-35% faster, and dx comes out contiguous, which the ReLU and batch norm below read faster).
    Only where the padding is at least half the kernel's reach (2 padding >= dilation (k - 1): 'same' layers and
    wider), since the flipped convolution also multiplies the zeros of its padding: for a 'valid' layer such as
    LeNet's conv2 (5x5 on 14x14) that is twice the products of col2im's GEMM), and at most its reach (a wider
    padding would need a negative one here)."""
    return tuple(stride) == (1, 1) and all(d * (k - 1) >= p and 2 * p >= d * (k - 1)
                                           for k, p, d in zip(kernel_size, padding, dilation))


class FastConv2d(Function):
    """``functional.conv.Conv2d`` (the reference: same arguments, same values) made fast. Its input and output lie
    (C, H, W, N) in memory behind NCHW views (``columns``'s docstring says why); it keeps its input for the weight
    gradient, only when the weight needs one."""

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        k_h, k_w = weight.shape[2:]
        self.geometry = ((k_h, k_w), stride, dilation, conv_output_hw(x.shape, (k_h, k_w), stride, padding,
                                                                      dilation)[1])
        self.x_shape, self.padding, self.groups, self.weight = x.shape, padding, groups, weight
        self.row_bytes = x.shape[1] * k_h * k_w * self.geometry[3] * x.shape[0] * x.dtype.itemsize
        # the weight gradient rebuilds its columns (or row windows) from the input, which its producer holds anyway
        self.x = x if self.needs_input_grad[1] else None
        return conv_forward(x, weight, bias, stride, padding, dilation, groups)

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
        # the weight gradient rebuilds the row windows where the forward used them (row_windows)
        on_windows = needs[1] and _uses_row_windows(kernel_size, stride, dilation, groups, w_out * n)
        # else db as the last column of dw's product
        fold_db = needs[1] and needs_db and not on_windows and _folds_bias(kernel_size, groups)
        if needs[1] and on_windows:
            g_rows = g4.reshape(o, g4.shape[1], -1)
            dw_t = xp.zeros((w[0].size, o), dtype=g.dtype)  # dw transposed, (kH * C * kW, O): the windows' rows
            chunk = max(1, COLS_BUDGET // dw_t.nbytes)  # output rows whose products, one dw each, fit the budget
            for r0, r1, windows in row_windows(self.x, self.padding, kernel_size, stride, dilation, w_out,
                                               COLS_BUDGET):
                for a in range(r0, r1, chunk):  # one chunk for LeNet; one row at a time for 512 x 4608 weights
                    b = min(a + chunk, r1)
                    # (rows, kH C kW, W_out N) @ (rows, W_out N, O): each output row's share, summed. Transposed
                    # (windows @ g^T, not g @ windows^T) because OpenBLAS runs this shape faster: ResNet-20's 3x3
                    # layers at batch 128 25-30% faster on one thread, LeNet's conv2 40%, VGG's 3-5%
                    dw_t += xp.matmul(windows[a - r0:b - r0], g_rows[:, a:b].transpose(1, 2, 0)).sum(axis=0)
            dw = dw_t.T.reshape(o, kernel_size[0], c, kernel_size[1]).transpose(0, 2, 1, 3)
        elif needs[1]:
            phases = padded_phases(self.x, self.padding, kernel_size, stride, dilation)
            dw = xp.zeros((o, w[0].size + fold_db), dtype=g.dtype)
        transposed = needs[0] and _transposed_input_grad(kernel_size, stride, self.padding, dilation)
        col2im = needs[0] and not transposed
        if col2im:
            dxpad = xp.zeros((c, h + 2 * p_h, w_in + 2 * p_w, n), dtype=g.dtype)
        band_work = col2im or (needs[1] and not on_windows)  # none left for a first layer on row windows
        for r0, r1 in bands(g4.shape[1], self.row_bytes, COLS_BUDGET) if band_work else []:
            g_mat = g4[:, r0:r1].reshape(o, -1)  # a contiguous block of columns
            if needs[1] and not on_windows:
                cols = band_cols(phases, r0, r1, *self.geometry, scratch="cols", ones_row=fold_db)
                dw += _grouped_matmul(g_mat, cols, groups, transpose_b=True)
            if col2im:  # skipped for a first layer whose input needs no gradient
                buf = scratch_buffer("dcols", (rows, g_mat.shape[1]), g.dtype, xp)
                dcols = _grouped_matmul(w.reshape(o, -1), g_mat, groups, transpose_a=True, out=buf)
                band_col2im(dxpad, dcols, r0, r1, *self.geometry)
        dx = None
        if col2im:
            dx = dxpad[:, p_h:p_h + h, p_w:p_w + w_in].transpose(3, 0, 1, 2)
        elif transposed:  # see _transposed_input_grad: w' (C, O / G, kH, kW), flipped, channels swapped per group
            k_h, k_w = kernel_size
            w_t = w.reshape(groups, o // groups, -1, k_h, k_w).transpose(0, 2, 1, 3, 4)
            w_t = w_t.reshape(c, o // groups, k_h, k_w)
            pad_t = (dilation[0] * (k_h - 1) - p_h, dilation[1] * (k_w - 1) - p_w)
            dx = conv_forward(g4.transpose(3, 0, 1, 2), xp.ascontiguousarray(w_t[:, :, ::-1, ::-1]), None, (1, 1),
                              pad_t, dilation, groups)
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
