"""CIFAR-style ResNets and their plain twins (He, Zhang, Ren & Sun 2016, arXiv:1512.03385, Sec. 4.2, Table 6,
Fig. 6): the networks of the degradation experiment.

Layout, for (N, in_channels, 32, 32) inputs (28x28 works as is: 28 -> 14 -> 7):

    conv 3x3 (16, no bias) - BN - ReLU                                         16x32x32
    stage1: n basic blocks, 16 channels                                        16x32x32
    stage2: n basic blocks, 32 channels (the first with stride 2)              32x16x16
    stage3: n basic blocks, 64 channels (the first with stride 2)              64x8x8
    global average pool - flatten - FC num_classes

6n + 2 weighted layers: n = 3, 5, 7, 9, 18 for depths 20, 32, 44, 56, 110, with 269,722 / 464,154 / 658,586 /
853,018 / 1,727,962 parameters for 10 classes (REFERENCE.md section 5). A residual block is
``nn.Residual(body, shortcut, activation=nn.ReLU())`` with body = conv3x3 - BN - ReLU - conv3x3 - BN; its shortcut
is the identity, or, where a stage begins, option A's ``ZeroPadShortcut`` (Sec. 3.3: "the shortcut still performs
identity mapping, with extra zero entries padded for increasing dimensions", stride 2 by subsampling), which has
no parameters: each ResNet has exactly its plain twin's parameter count. A plain block is
``nn.Sequential(body, ReLU)``, the same body without the shortcut: the only difference between the twins, and the
parameter names are the same.

Deviations from the paper, all listed:
  * The zero channels are appended after the input's channels (the paper does not say where they go; the
    akamaster re-implementation splits them before and after). Parameter-free either way.
  * Initialization: He et al. 2015 normal, fan_in mode (the paper: "we use the weight initialization in [13]";
    fan_in is [13]'s forward-pass derivation, Eq. 10, and Caffe's "msra" default), ReLU gain, for every conv;
    batch norm 1 and 0; the FC layer keeps PyTorch's default U(+-1/sqrt(fan_in)).
  * Logits out (the softmax is in the loss). Training recipe (Sec. 4.2: batch 128, lr 0.1, weight decay 1e-4,
    momentum 0.9, crops and flips) is left to ``train.py``.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import functional as F
from .. import nn
from ._pretrained import apply_weights

__all__ = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "plain20", "plain32", "plain44",
           "plain56", "plain110", "ZeroPadShortcut", "residual_block", "plain_block"]


class ZeroPadShortcut(nn.Module):
    """Option A's parameter-free shortcut (Sec. 3.3): keep every ``stride``-th row and column
    (``x[:, :, ::stride, ::stride]``), then append zero channels up to ``out_channels``.

    Shapes: (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)), matching a 3x3
    conv with stride ``stride`` and padding 1. Its gradient passes to the kept positions and first channels only.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2):
        super().__init__()
        if out_channels < in_channels or stride < 1:
            raise ValueError(f"ZeroPadShortcut: needs out_channels >= in_channels and stride >= 1, got "
                             f"{in_channels} -> {out_channels}, stride {stride}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x):
        if x.shape[1] != self.in_channels:
            raise ValueError(f"ZeroPadShortcut: expected {self.in_channels} channels, got x of shape {x.shape}")
        s = self.stride
        x = F.getitem(x, (slice(None), slice(None), slice(None, None, s), slice(None, None, s)))
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))  # (W, H, C) pairs, last dim first

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


def _body(in_channels, out_channels, stride):
    # conv - BN - ReLU - conv - BN: the residual function F(x) of Fig. 2 (no bias: BN has its own)
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)),
        ("bn1", nn.BatchNorm2d(out_channels)),
        ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)),
        ("bn2", nn.BatchNorm2d(out_channels)),
    ]))


def residual_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Residual:
    """relu(body(x) + x), the shortcut being the identity or, where the shape changes, ``ZeroPadShortcut``."""
    shortcut = None
    if stride != 1 or in_channels != out_channels:
        shortcut = ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Residual(_body(in_channels, out_channels, stride), shortcut, activation=nn.ReLU())


def plain_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """relu(body(x)): the residual block without its shortcut (the paper's "plain" counterpart)."""
    return nn.Sequential(OrderedDict([("body", _body(in_channels, out_channels, stride)), ("relu", nn.ReLU())]))


def _cifar_net(name, depth, block, num_classes, in_channels, weights=None) -> nn.Sequential:
    if num_classes < 1 or in_channels < 1:
        raise ValueError(f"{name}: num_classes and in_channels must be positive, got {num_classes}, {in_channels}")
    n = (depth - 2) // 6
    layers = OrderedDict([
        ("conv1", nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)),
        ("bn1", nn.BatchNorm2d(16)),
        ("relu", nn.ReLU()),
    ])
    channels = 16
    for stage, width in enumerate((16, 32, 64), 1):
        blocks = []
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1  # 32 -> 16 -> 8 (28 -> 14 -> 7)
            blocks.append(block(channels, width, stride))
            channels = width
        layers[f"stage{stage}"] = nn.Sequential(*blocks)
    layers["avgpool"] = nn.GlobalAvgPool2d()
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(64, num_classes)
    model = nn.Sequential(layers)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
    return apply_weights(model, weights, name)


def resnet20(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """ResNet-20 (Table 6): n = 3 residual blocks per stage, 269,722 parameters for 10 classes."""
    return _cifar_net("resnet20", 20, residual_block, num_classes, in_channels, weights)


def resnet32(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """ResNet-32 (Table 6): n = 5, 464,154 parameters for 10 classes."""
    return _cifar_net("resnet32", 32, residual_block, num_classes, in_channels, weights)


def resnet44(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """ResNet-44 (Table 6): n = 7, 658,586 parameters for 10 classes."""
    return _cifar_net("resnet44", 44, residual_block, num_classes, in_channels, weights)


def resnet56(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """ResNet-56 (Table 6): n = 9, 853,018 parameters for 10 classes."""
    return _cifar_net("resnet56", 56, residual_block, num_classes, in_channels, weights)


def resnet110(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """ResNet-110 (Table 6): n = 18, 1,727,962 parameters for 10 classes. (The paper warms it up at lr 0.01
    for about 400 iterations: a training choice, not built in.)"""
    return _cifar_net("resnet110", 110, residual_block, num_classes, in_channels, weights)


def plain20(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """Plain-20 (Fig. 6 left): ResNet-20 without shortcuts, the same 269,722 parameters for 10 classes."""
    return _cifar_net("plain20", 20, plain_block, num_classes, in_channels, weights)


def plain32(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """Plain-32: ResNet-32 without shortcuts, 464,154 parameters for 10 classes."""
    return _cifar_net("plain32", 32, plain_block, num_classes, in_channels, weights)


def plain44(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """Plain-44: ResNet-44 without shortcuts, 658,586 parameters for 10 classes."""
    return _cifar_net("plain44", 44, plain_block, num_classes, in_channels, weights)


def plain56(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """Plain-56: ResNet-56 without shortcuts, 853,018 parameters for 10 classes (the deeper plain net that
    trains worse than plain-20, Fig. 1 and 6: the degradation problem)."""
    return _cifar_net("plain56", 56, plain_block, num_classes, in_channels, weights)


def plain110(num_classes: int = 10, in_channels: int = 3, weights=None) -> nn.Sequential:
    """Plain-110: ResNet-110 without shortcuts, 1,727,962 parameters for 10 classes (over 60% error, Fig. 6)."""
    return _cifar_net("plain110", 110, plain_block, num_classes, in_channels, weights)


def _registry():
    from . import ModelSpec  # noqa: PLC0415 - the registry type lives in the package

    # small_input_size 28: MNIST as is. The net is all 3x3 convs (pad 1) plus a global pool, and both strides
    # divide evenly (28 -> 14 -> 7), so padding to 32 would only add zero borders and 31% more MACs.
    models = (resnet20, resnet32, resnet44, resnet56, resnet110, plain20, plain32, plain44, plain56, plain110)
    return {m.__name__: ModelSpec(m, (3, 32, 32), small_input_size=28) for m in models}


REGISTRY = _registry()
