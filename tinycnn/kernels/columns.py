"""How the fast conv kernel (``kernels/conv.py``) gets its columns without the plain im2col's costs: the input laid
out (C, H, W, N), split by stride phase, copied into cache-sized bands of a reused per-thread buffer on all cores,
or unfolded along the width only and read in place as row windows (MEC). Each function says what it saves and the
figure that justified it; ``functional/conv.py``'s ``im2col`` / ``col2im`` compute the same values plainly.

Why the batch axis is last inside: NumPy copies a strided slice row by row, and a short row costs as much as a long
one. In NCHW memory the rows of a window slice are W_out pixels long (10 for LeNet's conv2); with the batch axis
innermost, (C, H, W, N), a slice keeps all N images of a pixel side by side, and for stride 1 a whole (W_out x N)
block is contiguous: im2col ran about 6x and col2im about 3x faster (benchmarks/). So inside the kernel the input is
viewed as (C, H, W, N), the columns are ordered (c, i, j) x (h_out, w_out, n), as the plain im2col's, and the GEMM's
output (O, H_out, W_out, N) is returned as an NCHW *view*. The next layer reads it as (C, H, W, N) again for free,
and pooling and ReLU keep that memory order, so no transpose copy is made per call.

There are no index arrays and no ``np.add.at``: both are 5-15x slower than strided slices.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from .. import backend
from ..functional.geometry import conv_output_hw, offset_slices

_scratch = threading.local()


def scratch_buffer(name, shape, dtype, xp):
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


def padded_chwn(x, padding):
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


def phase_span(a, step, pad, size):
    """Phase ``a`` of a padded axis (padded positions a, a + step, ...): the phase positions lo..hi that hold input
    (not padding), the slice of input positions they hold, and the phase's length."""
    length = -(-(size + 2 * pad - a) // step)
    lo = max(0, -(-(pad - a) // step))
    hi = min(length, -(-(pad + size - a) // step))
    first = a + step * lo - pad
    return lo, hi, slice(first, first + step * (hi - lo - 1) + 1, step), length


def padded_phases(x, padding, kernel_size, stride, dilation):
    """x (N, C, H, W) zero padded, laid out (C, Hp, Wp, N), and split by stride phase: ``{(a, b): xpad[:, a::s_h,
    b::s_w]}``, each a contiguous array, for the phases that some kernel offset meets; at stride 1 the one phase
    is ``padded_chwn(x, padding)``.

    Why: at stride s a kernel offset meets every s-th pixel, and a strided slice of (C, H, W, N) memory copies runs
    of only N values (16 for AlexNet's conv1 at batch 16). Within one phase the same pixels are neighbours, so
    im2col copies runs of W_out * N values, as at stride 1 (space-to-depth), and the phases are cut straight from
    x in the copy that lays it out (C, H, W, N) anyway: AlexNet's conv1 im2col took 8 ms instead of 15."""
    xp = backend.get_array_module(x)
    (k_h, k_w), (s_h, s_w), (d_h, d_w), (p_h, p_w) = kernel_size, stride, dilation, padding
    if (s_h, s_w) == (1, 1):
        return {(0, 0): padded_chwn(x, padding)}
    n, c, h, w = x.shape
    xc = x.transpose(1, 2, 3, 0)  # (C, H, W, N) view
    spans = {}
    for a, b in sorted({(i * d_h % s_h, j * d_w % s_w) for i in range(k_h) for j in range(k_w)}):
        (r_lo, r_hi, rows, h_len), (c_lo, c_hi, cols, w_len) = phase_span(a, s_h, p_h, h), phase_span(b, s_w, p_w, w)
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


def band_cols(phases, r0, r1, kernel_size, stride, dilation, w_out, scratch=None, ones_row=False):
    """Columns of output rows r0..r1 from the stride phases of the padded input (``padded_phases``):
    (C * kH * kW, (r1 - r0) * W_out * N), and with ``ones_row`` one more row of ones below (see ``conv._folds_bias``),
    written into the reused buffer named ``scratch`` when given (else a new array). A 1x1 kernel needs no copy,
    and no buffer: its columns are its one phase (at stride 1 the input) itself, and they take no ones row."""
    first = next(iter(phases.values()))
    xp = backend.get_array_module(first)
    c, n = first.shape[0], first.shape[3]
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = kernel_size, stride, dilation
    if (k_h, k_w) == (1, 1) and first.shape[2] == w_out:  # a contiguous phase: a view
        if ones_row:
            raise ValueError("a 1x1 kernel's columns are a view of its input: no ones row (see conv._folds_bias)")
        return first[:, r0:r1].reshape(c, -1)
    rows, width = c * k_h * k_w, (r1 - r0) * w_out * n
    shape = (rows + ones_row, width)
    out = xp.empty(shape, dtype=first.dtype) if scratch is None else scratch_buffer(scratch, shape, first.dtype, xp)
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


def band_col2im(dxpad, cols, r0, r1, kernel_size, stride, dilation, w_out):
    """Add the columns of output rows r0..r1 back into padded (C, Hp, Wp, N) ``dxpad``, in place."""
    c, _, _, n = dxpad.shape
    cols = cols.reshape(c, kernel_size[0], kernel_size[1], r1 - r0, w_out, n)
    windows = list(offset_slices(kernel_size, stride, dilation, (r1 - r0, w_out)))

    def add(start, stop):  # channels start..stop: threads never add into the same pixel
        for i, j, rows, cs in windows:
            rows = slice(rows.start + r0 * stride[0], rows.stop + r0 * stride[0], rows.step)
            dxpad[start:stop, rows, cs] += cols[start:stop, i, j]  # add, never assign: windows overlap

    backend.parallel_for(c, add, cols.nbytes, backend.get_array_module(dxpad))


def bands(h_out, row_bytes, budget):
    """Split output rows 0..h_out into bands whose columns take at most ``budget`` bytes (at least one row)."""
    step = max(1, min(h_out, budget // max(1, row_bytes)))
    return [(r, min(r + step, h_out)) for r in range(0, h_out, step)]


def width_cols(phases, u0, u1, k_w, s_w, d_w, w_out):
    """Padded input rows u0..u1 unfolded along the width only, in the reused buffer "cols": U (u1 - u0, C, kW, W_out,
    N) with U[r, c, j, w, n] = xpad[c, u0 + r, j d_w + w s_w, n], from the width phases of ``padded_phases``
    (stride and dilation (1, s_w), (1, d_w)), where padded column j d_w + s_w w is column q + w of phase b, with
    (q, b) = divmod(j d_w, s_w)."""
    first = next(iter(phases.values()))
    xp = backend.get_array_module(first)
    c, n = first.shape[0], first.shape[3]
    u = scratch_buffer("cols", (u1 - u0, c, k_w, w_out, n), first.dtype, xp)
    offsets = [(j, *divmod(j * d_w, s_w)) for j in range(k_w)]

    def copy(start, stop):  # rows start..stop of U
        for j, q, b in offsets:
            u[start:stop, :, j] = phases[0, b][:, u0 + start:u0 + stop, q:q + w_out].transpose(1, 0, 2, 3)

    backend.parallel_for(u1 - u0, copy, u.nbytes, xp)
    return u


def row_windows(x, padding, kernel_size, stride, dilation, w_out, budget):
    """The columns of every output row without a full column matrix (MEC, Cho and Brand, ICML 2017): yields
    ``(r0, r1, windows)`` for bands of output rows r0..r1, ``windows`` (r1 - r0, kH * C * kW, W_out * N) holding
    output row r's columns, rows ordered (i, c, j), at [r - r0]. Both the forward and the weight gradient multiply
    by them, one GEMM per output row (a stacked ``matmul``).

    Why it is faster than im2col: the columns of output row r are U[r s_h + i, c, j] over the kernel rows i, where U
    is the input unfolded along the width only (``width_cols``). In U's memory, laid out (H, C, kW, W_out, N),
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
    h_out = conv_output_hw(x.shape, kernel_size, stride, padding, dilation)[0]
    itemsize, row = x.dtype.itemsize, w_out * n
    phases = padded_phases(x, padding, kernel_size, (1, s_w), (1, d_w))  # phases along the width only
    # a band of b output rows reads U rows r0 s_h .. (r0 + b - 1) s_h + kH
    band = max(1, (budget // (c * k_w * row * itemsize) - k_h) // s_h + 1)
    for r0 in range(0, h_out, band):
        r1 = min(r0 + band, h_out)
        u = width_cols(phases, r0 * s_h, (r1 - 1) * s_h + k_h, k_w, s_w, d_w, w_out)
        # window r: the kH * C * kW rows from U's row r s_h on, each W_out * N apart (overlapping views of U, only
        # ever read)
        yield r0, r1, xp.lib.stride_tricks.as_strided(u, shape=(r1 - r0, k_h * c * k_w, row),
                                                      strides=(s_h * u.strides[0], row * itemsize, itemsize))
