"""ResNet-18/34/50/101/152 for ImageNet (He, Zhang, Ren & Sun 2016, "Deep residual learning for image
recognition", CVPR, arXiv:1512.03385): Table 1 (the five architectures), Fig. 5 (basic and bottleneck blocks),
Sec. 3.3 (projection shortcuts where the shape changes, option B) and Sec. 3.4 (batch norm after every conv).

Built as torchvision's ``resnet.py``, module for module, so that ``print(model)`` shows torchvision's tree and
``state_dict()`` has torchvision's keys (``layer2.0.conv1.weight``, ``layer2.0.downsample.0.weight``,
``layer2.0.bn1.num_batches_tracked``): a torchvision checkpoint loads with ``strict=True`` (``weights=PATH``)
and a tinycnn state dict loads into torchvision's model. Layout, for (N, in_channels, 224, 224) inputs; every
constructor takes num_classes=, in_channels=, stride_in_1x1= and weights= and returns logits (N, num_classes):

    conv1 7x7/2 pad 3 (64, no bias) - bn1 - relu - maxpool 3x3/2 pad 1         64x56x56
    layer1..layer4 (conv2_x..conv5_x): basic blocks [2,2,2,2] (18), [3,4,6,3] (34), 64/128/256/512 channels;
        bottleneck blocks [3,4,6,3] (50), [3,4,23,3] (101), [3,8,36,3] (152), 256/512/1024/2048 channels;
        stride 2 in the first block of layer2..layer4: maps of 56, 28, 14, 7
    avgpool (adaptive, to 1x1) - flatten (in forward, as torchvision) - fc num_classes

A block (``BasicBlock``, ``Bottleneck``) computes ``relu(main(x) + shortcut(x))``: its convs and batch norms are
its children conv1, bn1, conv2, bn2 (conv3, bn3), one ``relu`` module used after each inner batch norm and after
the addition (torchvision's), and ``downsample``, the projection shortcut (1x1 conv with stride s plus batch norm)
where the shape changes, absent (the identity) elsewhere. Parameters for 1000 classes: 11,689,512 / 21,797,672 /
25,557,032 / 44,549,160 / 60,192,808 (REFERENCE.md section 5). Any input of 32x32 or more runs as is: the global
average pool makes the FC layer size-independent (32x32 leaves 1x1 maps in layer4; in training mode batch norm
then needs a batch of 2 or more).

Deviations from the paper (the layout follows torchvision's ``resnet.py``):
  * Shortcuts: option B (projections where the shape changes, identity elsewhere), as torchvision and the
    paper's 50/101/152-layer nets; the paper's Table 2 ResNet-18/34 use option A (zero-padding).
  * Bottleneck stride: ``stride_in_1x1=False`` (the default) puts it in the 3x3 conv, as torchvision ("v1.5":
    4.089 G MACs for ResNet-50 at 224); ``stride_in_1x1=True`` in the first 1x1, as the paper and its Caffe
    models ("v1": 3.858 G, the paper's "3.8 billion FLOPs"); torchvision's weights are v1.5 (the same keys and
    shapes, so a v1.5 checkpoint also loads into v1, but computes something else). Basic blocks stride their
    first 3x3 either way.
  * Initialization as torchvision (``_init_weights``); the paper only cites He et al. 2015.
  * Logits out (the softmax is in the loss); no 10-crop testing, no scale augmentation (training matters).
"""
from __future__ import annotations

from collections import OrderedDict

from .. import functional as F
from .. import nn
from ._pretrained import apply_weights

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "projection"]


def _conv(in_channels, out_channels, kernel_size, stride=1):
    # no bias: the batch norm after it has one (beta), which a conv bias would only duplicate (Sec. 3.4)
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False)


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Option B's projection shortcut (Sec. 3.3, Eq. 2): 1x1 conv with stride ``stride``, no bias, then batch
    norm; torchvision's ``downsample`` (children "0" and "1"). Used only where the block changes the shape."""
    return nn.Sequential(_conv(in_channels, out_channels, 1, stride), nn.BatchNorm2d(out_channels))


class _Block(nn.Module):
    """What both blocks share: ``relu(main(x) + shortcut(x))`` and how ``tinycnn.draw`` sees it."""

    _main = ()  # the children of the main path in call order, the shared relu included

    def forward(self, x):
        out = x
        for name in self._main:
            out = self._modules[name](out)
        identity = x if self.downsample is None else self.downsample(x)
        if out.shape != identity.shape:  # no broadcasting here: a missing projection is a bug, say so
            raise ValueError(f"{type(self).__name__}: main path output {out.shape} and shortcut output "
                             f"{identity.shape} must match; pass downsample=projection(...) where the shape changes")
        return self.relu(F.add(out, identity))

    def residual_parts(self):
        """For ``tinycnn.draw``: (main path child names, shortcut child name or None, names after the add)."""
        return list(self._main), ("downsample" if self.downsample is not None else None), ["relu"]


class BasicBlock(_Block):
    """The basic block (Fig. 5 left; ResNet-18/34), torchvision's ``BasicBlock``: conv1 3x3 (stride s) - bn1 -
    relu - conv2 3x3 - bn2, plus the shortcut (``downsample``, or the identity when None), then relu.
    (N, inplanes, H, W) -> (N, planes, H/s, W/s).

    Raises ValueError (at the addition) when the shortcut's shape differs from the main path's: pass a
    ``downsample`` (``projection(inplanes, planes, stride)``) where stride != 1 or inplanes != planes.
    """

    expansion = 1  # output channels = planes x expansion
    _main = ("conv1", "bn1", "relu", "conv2", "bn2")

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = _conv(inplanes, planes, 3, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)  # PyTorch's result; in place only where no graph is recorded
        self.conv2 = _conv(planes, planes, 3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride


class Bottleneck(_Block):
    """The bottleneck block (Fig. 5 right; ResNet-50/101/152), torchvision's ``Bottleneck``: conv1 1x1 (planes) -
    bn1 - relu - conv2 3x3 (planes) - bn2 - relu - conv3 1x1 (4 planes) - bn3, plus the shortcut, then relu.
    (N, inplanes, H, W) -> (N, 4 planes, H/s, W/s).

    Where the stride s sits: the 3x3 conv (``stride_in_1x1=False``, torchvision's "v1.5", the default), or the
    paper's (and Caffe's) first 1x1 conv (True, "v1"). A strided 1x1 simply skips 3 of every 4 positions;
    striding the 3x3 instead lets every input position contribute, for more MACs (ResNet-50: 4.089 G instead of
    3.858 G per 224x224 image); NVIDIA's DeepLearningExamples report about 0.5 points more top-1 accuracy for it.
    """

    expansion = 4
    _main = ("conv1", "bn1", "relu", "conv2", "bn2", "relu", "conv3", "bn3")

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 stride_in_1x1: bool = False):
        super().__init__()
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = _conv(inplanes, planes, 1, s1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3, s3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv(planes, planes * 4, 1)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride


def _init_weights(model: nn.Module) -> None:
    """torchvision's initialization: He et al. 2015 normal with fan_out and ReLU gain for every conv (std
    sqrt(2 / (C_out k^2))), batch norm weight 1 and bias 0 (their defaults); the FC layer keeps PyTorch's default
    U(+-1/sqrt(fan_in)). The paper itself says only "we initialize the weights as in [13]" (Sec. 3.4)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ResNet(nn.Module):
    """torchvision's ``ResNet``: conv1, bn1, relu, maxpool, layer1..layer4 (Sequentials of blocks), avgpool, fc.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``. layers: blocks per stage, e.g. [3, 4, 6, 3].
        num_classes: outputs of ``fc``. in_channels: input channels (3; torchvision has 3 only).
        stride_in_1x1: bottleneck blocks only, see ``Bottleneck``.
    forward: (N, in_channels, H, W), H, W >= 32 -> logits (N, num_classes). The head can be replaced in place
    for transfer learning: ``model.fc = nn.Linear(model.fc.in_features, 5)``.
    Raises ValueError for non-positive sizes.
    """

    def __init__(self, block, layers, num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False):
        super().__init__()
        if num_classes < 1 or in_channels < 1:
            raise ValueError(f"ResNet: num_classes and in_channels must be positive, got {num_classes}, {in_channels}")
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)  # 112x112
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)            # 56x56
        self.inplanes = 64
        for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), layers), 1):
            stride = 1 if stage == 1 else 2  # conv3_1, conv4_1, conv5_1 halve the map (Table 1)
            extra = {"stride_in_1x1": stride_in_1x1} if block is Bottleneck else {}
            setattr(self, f"layer{stage}", self._make_layer(block, planes, count, stride, extra))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        _init_weights(self)

    def _make_layer(self, block, planes, count, stride, extra) -> nn.Sequential:
        """One stage (torchvision's ``_make_layer``): a projection where the first block changes the shape."""
        out_channels = planes * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out_channels:
            downsample = projection(self.inplanes, out_channels, stride)
        blocks = [block(self.inplanes, planes, stride, downsample, **extra)]
        self.inplanes = out_channels
        blocks += [block(out_channels, planes, **extra) for _ in range(1, count)]
        return nn.Sequential(*blocks)  # conv{stage+1}_x: 56, 28, 14, 7 at 224x224

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(F.flatten(self.avgpool(x), 1))


def _resnet(name, block, counts, num_classes, in_channels, stride_in_1x1, weights) -> ResNet:
    model = ResNet(block, counts, num_classes, in_channels, stride_in_1x1)
    return apply_weights(model, weights, name)


def resnet18(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False, weights=None) -> ResNet:
    """ResNet-18: basic blocks [2, 2, 2, 2]; 11,689,512 parameters for 1000 classes (``stride_in_1x1`` has no
    effect on basic blocks). ``weights``: a weight file (.pth, .safetensors, .npz) or state dict loaded strictly
    (``tinycnn.weights.load_weights``), e.g. torchvision's resnet18-f37072fd.pth. Layout: the module docstring."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], num_classes, in_channels, stride_in_1x1, weights)


def resnet34(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False, weights=None) -> ResNet:
    """ResNet-34: basic blocks [3, 4, 6, 3]; 21,797,672 parameters for 1000 classes. ``weights``: as resnet18."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], num_classes, in_channels, stride_in_1x1, weights)


def resnet50(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False, weights=None) -> ResNet:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3]; 25,557,032 parameters for 1000 classes; 4.089 G MACs per
    224x224 image with the stride in the 3x3 (default, torchvision), 3.858 G with ``stride_in_1x1=True``
    (the paper). ``weights``: as resnet18."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], num_classes, in_channels, stride_in_1x1, weights)


def resnet101(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False, weights=None) -> ResNet:
    """ResNet-101: bottleneck blocks [3, 4, 23, 3]; 44,549,160 parameters for 1000 classes."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], num_classes, in_channels, stride_in_1x1, weights)


def resnet152(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False, weights=None) -> ResNet:
    """ResNet-152: bottleneck blocks [3, 8, 36, 3]; 60,192,808 parameters for 1000 classes."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], num_classes, in_channels, stride_in_1x1, weights)


def _registry():
    from . import ModelSpec  # noqa: PLC0415 - the registry type lives in the package

    # small_input_size 32: MNIST's 28x28 zero-padded to 32x32, the smallest size that halves five times evenly
    # (32 -> 16 -> 8 -> 4 -> 2 -> 1); the network needs no other change
    return {name: ModelSpec(fn, (3, 224, 224), small_input_size=32)
            for name, fn in (("resnet18", resnet18), ("resnet34", resnet34), ("resnet50", resnet50),
                             ("resnet101", resnet101), ("resnet152", resnet152))}


REGISTRY = _registry()
