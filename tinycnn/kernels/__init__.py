"""The fast kernels: the same ops as the textbook reference in ``tinycnn/functional``, made fast.

Two tiers (the house plan, DESIGN.md): the ``Function`` a learner reads in ``functional/`` is the textbook math,
forward and backward on one screen (conv2d: pad, im2col, one GEMM, reshape; backward: GEMM, col2im), and it is the
specification. Where that is too slow to train with, a fast kernel here computes the same values another way; the
tests prove each equal to its reference, values and gradients, in float64 (``tests/kernels/``).

    F.conv2d      functional/conv.py: Conv2d           kernels/conv.py: FastConv2d (+ columns.py)
    F.max_pool2d  functional/pooling.py: MaxPool2d     kernels/pooling.py: FastMaxPool2d
    F.avg_pool2d  functional/pooling.py: AvgPool2d     kernels/pooling.py: FastAvgPool2d
    F.batch_norm  functional/normalization.py: BatchNorm   kernels/normalization.py: FastBatchNorm

Every other op (activations, losses, dropout, LRN, adaptive and global pooling, linear, concat, add) has one
implementation, in ``functional/``, and it is its reference.

Switching (default: fast):

    with tinycnn.use_reference_ops():   ...         # a block; also a decorator: @tinycnn.use_reference_ops()
    TINYCNN_REFERENCE=1 python ...                  # a whole process (notebooks, a debugger)
    tinycnn.reference_ops_enabled()                 # which tier runs now

Where the speed comes from (each trick has a comment where it lives, with the measurement behind it;
``benchmarks/run.py`` and ``benchmarks/row_windows.py`` time them, ``benchmarks/reference_vs_fast.py`` times this
tier against the reference): im2col and col2im loop over kernel offsets with strided slices, never index arrays or
``np.add.at``; activations stay (C, H, W, N) in memory so those slices copy long runs and no layer transposes
(im2col about 6x, col2im about 3x faster); a strided layer first splits its input into stride phases so that its
slices are runs of neighbours too (AlexNet's conv1 im2col 8 ms instead of 15); the forward and the weight gradient
of a layer with wide rows copy the input unfolded along the width only and let each output row's GEMM read its
columns in place (MEC: a quarter of im2col's copying for LeNet's conv2, forward 14-18% faster); elsewhere columns
are built in bands into a reused per-thread buffer (no page faults), 16 MB, or 4 MB for layers with few output
channels so that the GEMM finds them still in the cache (forward 15-25% faster), with the bias riding in the GEMM
as a row of ones (6%); 5-7 leftover GEMM rows are padded to OpenBLAS's block of 8 (6 rows took a third longer than
8); large copies run on all cores (NumPy releases the GIL in a copy; 1.7x on 2 cores; ``tinycnn.set_num_threads``);
a first layer skips its input gradient; max-pool tracks its argmax with arithmetic instead of masked writes (10x);
batch norm works a block of channels at a time while it is in the cache, its sums as dot products (ResNet-20's batch
norms' forward+backward 1.6-1.8x faster). Ops allocate their outputs in their input's memory order
(``functional/_util.py``'s ``empty_like_layout``), so a network's activations and gradients stay (C, H, W, N) from
layer to layer: a pass over two arrays of different orders, or the copy between them, runs about 10x slower than
over one order.
Where the memory comes from: conv keeps its input, not the 9x larger columns (backward rebuilds them, in both
tiers); batch norm recomputes x_hat; ReLU keeps its output (which the next layer holds anyway); the graph links
functions, not intermediate tensors, so an activation no backward needs is freed at once; a leaf takes a fresh
gradient without a copy; weights are drawn in chunks.

Layering: this package imports only ``tensor``, ``backend`` and functional's leaf helpers (``functional/_util.py``,
``functional/geometry.py``), so that the op files of ``functional/`` can import it.
"""
from .conv import FastConv2d
from .normalization import FastBatchNorm
from .pooling import FastAvgPool2d, FastMaxPool2d
from .switch import ENV_VAR, reference_ops_enabled, use_reference_ops

__all__ = ["FastConv2d", "FastMaxPool2d", "FastAvgPool2d", "FastBatchNorm", "use_reference_ops",
           "reference_ops_enabled", "ENV_VAR"]
