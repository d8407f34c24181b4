"""LeNet-5 as the paper builds it (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to
document recognition", Proc. IEEE 86(11), Sec. II.B, Fig. 2, Table I and appendix A).

Three pieces that today's layers lack live here as Modules:

* ``Subsampling``: the S2/S4 layers: a 2x2 sum times a trainable coefficient plus a trainable bias, per map.
* ``PartialConv2d``: C3, where each output map reads only some input maps (Table I).
* ``EuclideanRBF``: the OUTPUT layer, y_i = sum_j (x_j - w_ij)^2 against fixed +-1 prototypes.

Shapes (REFERENCE.md 1.1): 1x32x32 -> C1 6x28x28 -> S2 6x14x14 -> C3 16x10x10 -> S4 16x5x5 -> C5 120x1x1 -> F6 84
-> OUTPUT 10; 60,000 trainable parameters.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import backend
from .. import functional as F
from .. import nn
from ._pretrained import apply_weights
from ..tensor import Tensor

__all__ = ["lenet5_paper", "Subsampling", "PartialConv2d", "EuclideanRBF", "C3_TABLE", "DIGIT_BITMAPS",
           "prototype_codes"]

# Table I: the S2 maps read by each C3 map. Irregular on purpose: "to break the symmetry in the network" so that
# different maps extract different features, and to keep the connections in bounds (paper, Sec. II.B).
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),                     # maps 0-5: 3 inputs
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),   # 6-11: 4 contiguous
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),                                             # 12-14: 4 split
    (0, 1, 2, 3, 4, 5),                                                                   # 15: all six
)

# Stand-ins for the paper's 7x12 RBF prototypes (its Fig. 3 bitmaps are not published as data): hand-drawn
# digits, '#' = +1, '.' = -1, 12 rows of 7. Like the paper's, similar digits get similar codes.
DIGIT_BITMAPS = (
    (".......", "..###..", ".#...#.", "#.....#", "#.....#", "#.....#",
     "#.....#", "#.....#", "#.....#", ".#...#.", "..###..", "......."),
    (".......", "...#...", "..##...", ".#.#...", "...#...", "...#...",
     "...#...", "...#...", "...#...", "...#...", ".#####.", "......."),
    (".......", ".#####.", "#.....#", "......#", ".....#.", "....#..",
     "...#...", "..#....", ".#.....", "#......", "#######", "......."),
    (".......", "#####..", ".....#.", "......#", ".....#.", "..###..",
     ".....#.", "......#", "......#", ".....#.", "#####..", "......."),
    (".......", "....##.", "...#.#.", "..#..#.", ".#...#.", "#....#.",
     "#######", ".....#.", ".....#.", ".....#.", ".....#.", "......."),
    (".......", "#######", "#......", "#......", "######.", "......#",
     "......#", "......#", "......#", "#.....#", ".#####.", "......."),
    (".......", "..####.", ".#.....", "#......", "#......", "######.",
     "#.....#", "#.....#", "#.....#", "#.....#", ".#####.", "......."),
    (".......", "#######", "......#", ".....#.", "....#..", "...#...",
     "...#...", "..#....", "..#....", "..#....", "..#....", "......."),
    (".......", ".#####.", "#.....#", "#.....#", "#.....#", ".#####.",
     "#.....#", "#.....#", "#.....#", "#.....#", ".#####.", "......."),
    (".......", ".#####.", "#.....#", "#.....#", "#.....#", "#.....#",
     ".######", "......#", "......#", ".....#.", ".####..", "......."),
)

_CODE_SEED = 1998  # fixed, independent of tinycnn.manual_seed: the code is part of the architecture


def prototype_codes(num_classes: int, length: int = 84) -> np.ndarray:
    """The fixed +-1 RBF prototypes, float32 (num_classes, length).

    10 classes of length 84: the digit bitmaps above, flattened row by row. Otherwise: a +-1 code drawn from
    ``numpy.random.default_rng(1998)`` (deterministic, not trained); the paper notes that random +-1 codes or an
    error-correcting code would also do.
    """
    if num_classes == 10 and length == 84:
        return np.array([[1.0 if ch == "#" else -1.0 for row in digit for ch in row] for digit in DIGIT_BITMAPS],
                        dtype=np.float32)
    return np.random.default_rng(_CODE_SEED).choice([-1.0, 1.0], size=(num_classes, length)).astype(np.float32)


def _lecun_bias_(bias, fan_in):
    # a bias is a weight from a constant input (appendix A): the same U(+-2.4/F_i)
    return nn.init.uniform_(bias, -2.4 / fan_in, 2.4 / fan_in)


class Subsampling(nn.Module):
    """S2 / S4: each output unit adds a ``kernel_size`` x ``kernel_size`` block of its map (stride = kernel), times a
    trainable coefficient, plus a trainable bias; one coefficient and one bias per map (2 * channels parameters).
    The squashing function comes after, as its own layer.

    Shapes: (N, C, H, W) -> (N, C, H / k, W / k). Init: U(+-2.4 / F_i) with F_i = k^2 inputs per unit.
    """

    def __init__(self, channels: int, kernel_size: int = 2):
        super().__init__()
        self.channels, self.kernel_size = channels, kernel_size
        self.weight = nn.Parameter(np.empty(channels, dtype=np.float32))  # the coefficient
        self.bias = nn.Parameter(np.empty(channels, dtype=np.float32))
        fan_in = kernel_size * kernel_size
        nn.init.uniform_(self.weight, -2.4 / fan_in, 2.4 / fan_in)
        _lecun_bias_(self.bias, fan_in)

    def forward(self, x):
        k, c = self.kernel_size, self.channels
        block_sum = F.avg_pool2d(x, k) * float(k * k)  # the paper adds the four inputs
        return block_sum * self.weight.reshape(1, c, 1, 1) + self.bias.reshape(1, c, 1, 1)

    def extra_repr(self):
        return f"{self.channels}, kernel_size={self.kernel_size}"


class PartialConv2d(nn.Module):
    """A convolution in which output map o reads only the input maps ``table[o]`` (C3, Table I).

    Only the connected kernels are parameters: ``weight`` is (connections, kH, kW), one kernel per (o, i) pair
    in table order (60 for Table I), plus one bias per output map. Forward builds the full (C_out, C_in, kH, kW)
    kernel by gathering from ``weight`` with one all-zero kernel appended: ``index[o, i]`` is the row of ``weight``
    for a connected pair and the zero row otherwise. The gather (``F.getitem``) is differentiable, so each
    compact kernel receives exactly the gradient of its slot; the zero row gets none. Then it is a plain conv2d
    (computing products with the zero kernels too: simple, not fast).

    Init: U(+-2.4 / F_i), F_i = kH * kW * len(table[o]) per output map (75, 100 or 150 for C3).
    """

    def __init__(self, in_channels: int, table, kernel_size: int = 5):
        super().__init__()
        self.table = tuple(tuple(int(i) for i in row) for row in table)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(self.table), kernel_size
        for o, row in enumerate(self.table):
            if not row or len(set(row)) != len(row) or min(row) < 0 or max(row) >= in_channels:
                raise ValueError(f"PartialConv2d: table[{o}] = {row} must list distinct input maps in "
                                 f"0..{in_channels - 1}")
        n = sum(len(row) for row in self.table)
        index = np.full((self.out_channels, in_channels), n, dtype=np.int64)  # n: the appended zero kernel
        k = 0
        for o, row in enumerate(self.table):
            for i in row:
                index[o, i] = k
                k += 1
        self.register_buffer("index", index)  # fixed, not trained; a buffer so that Module.to moves it once
        self.weight = nn.Parameter(np.empty((n, kernel_size, kernel_size), dtype=np.float32))
        self.bias = nn.Parameter(np.empty(self.out_channels, dtype=np.float32))
        map_fan = np.array([len(row) * kernel_size ** 2 for row in self.table], dtype=np.float32)  # F_i per map
        kernel_fan = np.repeat(map_fan, [len(row) for row in self.table])  # each kernel: the map it feeds
        nn.init.uniform_(self.weight, -1.0, 1.0)
        self.weight.data *= (np.float32(2.4) / kernel_fan)[:, None, None]
        nn.init.uniform_(self.bias, -1.0, 1.0)
        self.bias.data *= np.float32(2.4) / map_fan

    def full_weight(self) -> Tensor:
        """The (C_out, C_in, kH, kW) kernel with zeros where Table I has no connection (differentiable)."""
        w = self.weight
        xp = backend.get_array_module(w.data)
        zero = Tensor(xp.zeros((1,) + w.shape[1:], dtype=w.dtype))
        return F.getitem(F.concat([w, zero], axis=0), self.index.data)  # the buffer's index array

    def forward(self, x):
        return F.conv2d(x, self.full_weight(), self.bias)

    def macs(self, out_shape) -> int:
        """Multiply-accumulates per image: only the connected (input map, output map) pairs count (150,000 for C3,
        against 240,000 for a full C3)."""
        return sum(len(row) for row in self.table) * self.kernel_size ** 2 * out_shape[2] * out_shape[3]

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"connections={self.weight.shape[0]}")


class EuclideanRBF(nn.Module):
    """Euclidean radial basis function units: y_i = sum_j (x_j - w_ij)^2 (paper, Eq. 7), a penalty that is small
    when the input is close to class i's prototype.

    ``prototypes`` (out_features, in_features) is a registered buffer: fixed, not trained (the paper keeps its
    +-1 bitmaps fixed, "at least initially"). With ``logits=True`` (the default) forward returns -y, so that the
    largest output is the nearest prototype and cross-entropy can train it. Shapes: (N, in) -> (N, out).
    """

    def __init__(self, prototypes, logits: bool = True):
        super().__init__()
        prototypes = np.asarray(prototypes, dtype=np.float32)
        if prototypes.ndim != 2:
            raise ValueError(f"EuclideanRBF: prototypes must be (out_features, in_features), got {prototypes.shape}")
        self.out_features, self.in_features = prototypes.shape
        self.logits = logits
        self.register_buffer("prototypes", prototypes)

    def forward(self, x):
        n = x.shape[0]
        diff = x.reshape(n, 1, self.in_features) - self.prototypes.data[None]  # (N, out, in), a constant
        y = (diff * diff).sum(axis=2)
        return -y if self.logits else y

    def macs(self, out_shape) -> int:
        """One multiply-accumulate per (class, input) pair: a squared difference summed (840 for LeNet-5)."""
        return self.out_features * self.in_features

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features} (fixed), logits={self.logits}"


def lenet5_paper(num_classes: int = 10, in_channels: int = 1, weights=None) -> nn.Module:
    """LeNet-5 as in Sec. II.B and Fig. 2 of the paper, for (N, in_channels, 32, 32) inputs (MNIST's 28x28 padded
    with 2 zeros a side); returns (N, num_classes) logits, the negated RBF penalties.

    Layers (names as in the paper): C1 conv 6@5x5 (156 params) -> squash -> S2 subsampling (12) -> squash -> C3
    partial conv 16@5x5 with Table I (1,516) -> squash -> S4 subsampling (32) -> squash -> C5 conv 120@5x5
    (48,120) -> squash -> F6 linear 120->84 (10,164) -> squash -> OUTPUT 10 Euclidean RBF units (0 trainable, 840
    fixed values). "Squash" is f(a) = 1.7159 tanh(2a/3) (appendix A). 60,000 trainable parameters for 10 classes
    on one input channel. Init: every weight and bias U(+-2.4 / F_i), F_i the fan-in of its unit (appendix A).

    Deviations from the paper:

    * Loss: the outputs are -y_i, meant for cross-entropy. The paper trains with its Eq. 9 (the MAP criterion),
      y_D + log(e^-j + sum_i e^-y_i); cross-entropy on -y is exactly that without the constant e^-j
      ("rubbish class") term. Training itself (stochastic diagonal Levenberg-Marquardt) is the trainer's business.
    * RBF prototypes: the paper's 7x12 bitmaps are not available; ``DIGIT_BITMAPS`` are hand-drawn stand-ins of
      the same size and kind. For num_classes != 10 the prototypes are a seeded random +-1 code
      (``prototype_codes``).
    * C3 multiplies the zero kernels of the missing connections too (240,000 MACs instead of 150,000); the result
      and the trainable parameters are those of the partial table.
    * Biases are initialized like weights (the paper's init speaks of "the weights"; a bias is a weight from a
      constant input in its formulation).
    * Input scaling (background -0.1, foreground 1.175) is left to the data pipeline; in_channels > 1 widens C1.

    Training note: the RBF logits span hundreds (84 squared distances), so plain SGD needs a small rate: on MNIST,
    lr 0.002 with momentum 0.9 (batch 32) trains well, lr 0.01 diverges. (The paper used 5e-4 down to 1e-5 with
    per-parameter step sizes from its diagonal Levenberg-Marquardt, appendix C.)

    ``weights``: a weight file (.pth, .safetensors, .npz) or state dict saved from this network, loaded strictly.
    """
    c1 = nn.Conv2d(in_channels, 6, kernel_size=5)
    c5 = nn.Conv2d(16, 120, kernel_size=5)
    f6 = nn.Linear(120, 84)
    for layer in (c1, c5, f6):
        fan_in = nn.init.calculate_fans(layer.weight.shape)[0]
        nn.init.lecun_uniform_(layer.weight)
        _lecun_bias_(layer.bias, fan_in)
    model = nn.Sequential(OrderedDict([
        ("C1", c1), ("C1_squash", nn.ScaledTanh()),                              # 6x28x28
        ("S2", Subsampling(6)), ("S2_squash", nn.ScaledTanh()),                  # 6x14x14
        ("C3", PartialConv2d(6, C3_TABLE)), ("C3_squash", nn.ScaledTanh()),      # 16x10x10
        ("S4", Subsampling(16)), ("S4_squash", nn.ScaledTanh()),                 # 16x5x5
        ("C5", c5), ("C5_squash", nn.ScaledTanh()),                              # 120x1x1
        ("flatten", nn.Flatten()),                                               # 120
        ("F6", f6), ("F6_squash", nn.ScaledTanh()),                              # 84
        ("OUTPUT", EuclideanRBF(prototype_codes(num_classes, 84))),              # num_classes
    ]))
    return apply_weights(model, weights, "lenet5_paper")


def _registry():
    from . import ModelSpec  # noqa: PLC0415 - the registry type lives in the package

    # its RBF logits are large: SGD at lr 0.01 and above diverges, 0.002 trains
    return {"lenet5_paper": ModelSpec(lenet5_paper, (1, 32, 32), small_input_size=32, lr=0.002)}


REGISTRY = _registry()
