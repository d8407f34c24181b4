"""ResNet-18/34/50/101/152 for ImageNet (He, Zhang, Ren & Sun 2016, "Deep residual learning for image
recognition", CVPR, arXiv:1512.03385): Table 1 (the five architectures), Fig. 5 (basic and bottleneck blocks),
Sec. 3.3 (projection shortcuts where the shape changes, option B) and Sec. 3.4 (batch norm after every conv).

Layout, for (N, in_channels, 224, 224) inputs; every constructor takes num_classes=, in_channels= and
stride_in_1x1= and returns logits (N, num_classes):

    conv1 7x7/2 pad 3 (64, no bias) - BN - ReLU - max-pool 3x3/2 pad 1          64x56x56
    layer1..layer4 (conv2_x..conv5_x): basic blocks [2,2,2,2] (18), [3,4,6,3] (34), 64/128/256/512 channels;
        bottleneck blocks [3,4,6,3] (50), [3,4,23,3] (101), [3,8,36,3] (152), 256/512/1024/2048 channels;
        stride 2 in the first block of layer2..layer4: maps of 56, 28, 14, 7
    global average pool - flatten - FC num_classes

Each block is an ``nn.Residual(body, shortcut, activation=nn.ReLU())``: ``relu(body(x) + shortcut(x))``, the
shortcut the identity (None) or a 1x1 convolution with stride s plus batch norm. Parameters for 1000 classes:
11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 / 60,192,808 (REFERENCE.md section 5). Any input of 32x32 or
more runs as is: the global average pool makes the FC layer size-independent (32x32 leaves 1x1 maps in layer4;
in training mode batch norm then needs a batch of 2 or more).

Deviations from the paper (the layout follows torchvision's ``resnet.py``):
  * Shortcuts: option B (projections where the shape changes, identity elsewhere), as torchvision and the
    paper's 50/101/152-layer nets; the paper's Table 2 ResNet-18/34 use option A (zero-padding).
  * Bottleneck stride: ``stride_in_1x1=False`` (the default) puts it in the 3x3 conv, as torchvision ("v1.5":
    4.089 G MACs for ResNet-50 at 224); ``stride_in_1x1=True`` in the first 1x1, as the paper and its Caffe
    models ("v1": 3.858 G, the paper's "3.8 billion FLOPs"). Basic blocks stride their first 3x3 either way.
  * Initialization as torchvision (``_init_weights``); the paper only cites He et al. 2015.
  * Logits out (the softmax is in the loss); no 10-crop testing, no scale augmentation (training matters).
  * Parameter names: a block's layers sit under ``body`` and its projection under ``shortcut`` (the Residual
    container's children), where torchvision has no ``body`` level and says ``downsample``:
    ``layer2.0.body.conv1.weight`` is torchvision's ``layer2.0.conv1.weight`` and ``layer2.0.shortcut.1.bias``
    its ``layer2.0.downsample.1.bias`` (``torchvision_name`` maps them). The order and shapes of
    ``named_parameters()`` are torchvision's (a block's main path before its shortcut, a BN's weight before its
    bias), so a torchvision state dict maps one to one. Batch norm keeps no ``num_batches_tracked`` counter.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn

__all__ = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "basic_block", "bottleneck_block",
           "projection", "torchvision_name"]


def _conv(in_channels, out_channels, kernel_size, stride=1):
    # no bias: the batch norm after it has one (beta), which a conv bias would only duplicate (Sec. 3.4)
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False)


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Option B's projection shortcut (Sec. 3.3, Eq. 2): 1x1 conv with stride ``stride``, no bias, then batch
    norm; torchvision's ``downsample``. Used only where the block changes the shape."""
    return nn.Sequential(_conv(in_channels, out_channels, 1, stride), nn.BatchNorm2d(out_channels))


def _shortcut(in_channels, out_channels, stride):
    return None if stride == 1 and in_channels == out_channels else projection(in_channels, out_channels, stride)


def basic_block(in_channels: int, planes: int, stride: int = 1) -> nn.Residual:
    """The basic block (Fig. 5 left; ResNet-18/34): 3x3 conv (stride s) - BN - ReLU - 3x3 conv - BN, plus the
    shortcut, then ReLU. (N, in_channels, H, W) -> (N, planes, H/s, W/s)."""
    body = nn.Sequential(OrderedDict([
        ("conv1", _conv(in_channels, planes, 3, stride)), ("bn1", nn.BatchNorm2d(planes)), ("relu1", nn.ReLU()),
        ("conv2", _conv(planes, planes, 3)), ("bn2", nn.BatchNorm2d(planes)),
    ]))
    return nn.Residual(body, _shortcut(in_channels, planes, stride), activation=nn.ReLU())


basic_block.expansion = 1  # output channels = planes x expansion


def bottleneck_block(in_channels: int, planes: int, stride: int = 1, stride_in_1x1: bool = False) -> nn.Residual:
    """The bottleneck block (Fig. 5 right; ResNet-50/101/152): 1x1 conv (planes) - BN - ReLU - 3x3 conv (planes)
    - BN - ReLU - 1x1 conv (4 planes) - BN, plus the shortcut, then ReLU. (N, in_channels, H, W) ->
    (N, 4 planes, H/s, W/s).

    Where the stride s sits: the paper's (and Caffe's) first 1x1 conv (``stride_in_1x1=True``, "v1"), or the 3x3
    conv (False, torchvision's "v1.5", the default). A strided 1x1 simply skips 3 of every 4 positions; striding
    the 3x3 instead lets every input position contribute, for more MACs (ResNet-50: 4.089 G instead of 3.858 G
    per 224x224 image); NVIDIA's DeepLearningExamples report about 0.5 points more top-1 accuracy for it.
    """
    s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
    out_channels = planes * 4
    body = nn.Sequential(OrderedDict([
        ("conv1", _conv(in_channels, planes, 1, s1)), ("bn1", nn.BatchNorm2d(planes)), ("relu1", nn.ReLU()),
        ("conv2", _conv(planes, planes, 3, s3)), ("bn2", nn.BatchNorm2d(planes)), ("relu2", nn.ReLU()),
        ("conv3", _conv(planes, out_channels, 1)), ("bn3", nn.BatchNorm2d(out_channels)),
    ]))
    return nn.Residual(body, _shortcut(in_channels, out_channels, stride), activation=nn.ReLU())


bottleneck_block.expansion = 4


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


def _resnet(name, block, counts, num_classes, in_channels, stride_in_1x1=False) -> nn.Sequential:
    if num_classes < 1 or in_channels < 1:
        raise ValueError(f"{name}: num_classes and in_channels must be positive, got {num_classes}, {in_channels}")
    layers = OrderedDict([
        ("conv1", nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)),  # 112x112
        ("bn1", nn.BatchNorm2d(64)),
        ("relu", nn.ReLU()),
        ("maxpool", nn.MaxPool2d(3, stride=2, padding=1)),                         # 56x56
    ])
    channels = 64
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), counts), 1):
        blocks = []
        for i in range(count):
            stride = 2 if stage > 1 and i == 0 else 1  # conv3_1, conv4_1, conv5_1 halve the map (Table 1)
            extra = {"stride_in_1x1": stride_in_1x1} if block is bottleneck_block else {}
            blocks.append(block(channels, planes, stride, **extra))
            channels = planes * block.expansion
        layers[f"layer{stage}"] = nn.Sequential(*blocks)  # conv{stage+1}_x: 56, 28, 14, 7 at 224x224
    layers["avgpool"] = nn.GlobalAvgPool2d()
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(channels, num_classes)
    model = nn.Sequential(layers)
    _init_weights(model)
    return model


def resnet18(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False) -> nn.Sequential:
    """ResNet-18: basic blocks [2, 2, 2, 2]; 11,689,512 parameters for 1000 classes (``stride_in_1x1`` has no
    effect on basic blocks). Layout and deviations: the module docstring."""
    return _resnet("resnet18", basic_block, [2, 2, 2, 2], num_classes, in_channels, stride_in_1x1)


def resnet34(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False) -> nn.Sequential:
    """ResNet-34: basic blocks [3, 4, 6, 3]; 21,797,672 parameters for 1000 classes."""
    return _resnet("resnet34", basic_block, [3, 4, 6, 3], num_classes, in_channels, stride_in_1x1)


def resnet50(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False) -> nn.Sequential:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3]; 25,557,032 parameters for 1000 classes; 4.089 G MACs per
    224x224 image with the stride in the 3x3 (default, torchvision), 3.858 G with ``stride_in_1x1=True``
    (the paper)."""
    return _resnet("resnet50", bottleneck_block, [3, 4, 6, 3], num_classes, in_channels, stride_in_1x1)


def resnet101(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False) -> nn.Sequential:
    """ResNet-101: bottleneck blocks [3, 4, 23, 3]; 44,549,160 parameters for 1000 classes."""
    return _resnet("resnet101", bottleneck_block, [3, 4, 23, 3], num_classes, in_channels, stride_in_1x1)


def resnet152(num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = False) -> nn.Sequential:
    """ResNet-152: bottleneck blocks [3, 8, 36, 3]; 60,192,808 parameters for 1000 classes."""
    return _resnet("resnet152", bottleneck_block, [3, 8, 36, 3], num_classes, in_channels, stride_in_1x1)


def torchvision_name(name: str) -> str:
    """The torchvision name of a tinycnn ResNet parameter or buffer: ``layer1.0.body.bn1.weight`` ->
    ``layer1.0.bn1.weight``, ``layer2.0.shortcut.0.weight`` -> ``layer2.0.downsample.0.weight``; stem and fc
    names are the same."""
    return name.replace(".body.", ".").replace(".shortcut.", ".downsample.")


def _registry():
    from . import ModelSpec  # noqa: PLC0415 - the registry type lives in the package

    # small_input_size 32: MNIST's 28x28 zero-padded to 32x32, the smallest size that halves five times evenly
    # (32 -> 16 -> 8 -> 4 -> 2 -> 1); the network needs no other change
    return {name: ModelSpec(fn, (3, 224, 224), small_input_size=32)
            for name, fn in (("resnet18", resnet18), ("resnet34", resnet34), ("resnet50", resnet50),
                             ("resnet101", resnet101), ("resnet152", resnet152))}


REGISTRY = _registry()
