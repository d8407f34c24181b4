"""VGG (Simonyan & Zisserman 2015, "Very deep convolutional networks for large-scale image recognition", ICLR;
arXiv:1409.1556v6, Sec. 2.1-2.2 and Table 1), built as torchvision's ``vgg11/13/16/19`` (and ``*_bn``).

What the paper added: depth from stacks of small 3x3 convolutions (two 3x3 see as far as one 5x5, three as one
7x7, with fewer parameters and more non-linearities), the channel width doubling after each of five 2x2 pools.

Shapes at 3x224x224 (REFERENCE.md 3): 64x224x224 -> pool 64x112x112 -> 128x112x112 -> pool 128x56x56 -> 256x56x56
-> pool 256x28x28 -> 512x28x28 -> pool 512x14x14 -> 512x14x14 -> pool 512x7x7 = 25,088 -> 4096 -> 4096 -> 1000.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ._pretrained import apply_weights

__all__ = ["VGG", "vgg", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "CONFIGS"]

# Table 1 of the paper: output channels of each 3x3 conv, "M" a 2x2/2 max-pool (torchvision's "A", "B", "D", "E").
CONFIGS = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),                      # VGG-11
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),             # VGG-13
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),  # VGG-16
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"),                                                               # VGG-19
}


def _features(config, in_channels, batch_norm):
    layers, c = [], in_channels
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))  # padding 1: "the spatial resolution is
            if batch_norm:                                              # preserved after convolution"
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))  # PyTorch's result; in place only where no graph is recorded
            c = v
    return nn.Sequential(*layers)  # indices as torchvision's, so features.N names match


def _init(model):
    """torchvision's VGG init: He normal (fan_out, ReLU) convs, N(0, 0.01^2) linears, zero biases, BN 1 and 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)


class VGG(nn.Module):
    """torchvision's ``VGG``: ``features`` (the conv stack, a Sequential), ``avgpool`` (adaptive), ``classifier``
    (a Sequential of three Linear layers), with the flatten in ``forward``. (N, C, H, W), H, W >= 32 -> logits
    (N, num_classes). ``model.classifier[6] = nn.Linear(4096, k)`` replaces the head in place."""

    def __init__(self, features: nn.Module, avgpool: nn.Module, classifier: nn.Module):
        super().__init__()
        self.features = features
        self.avgpool = avgpool
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(F.flatten(self.avgpool(self.features(x)), 1))


def vgg(config: str, num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False,
        small_input: bool = False, weights=None) -> VGG:
    """VGG of configuration "A", "B", "D" or "E" (Table 1); returns (N, num_classes) logits.

    Layers: the conv stack of the configuration (3x3, stride 1, padding 1, each followed by ReLU, or by batch norm
    then ReLU with ``batch_norm``) with five 2x2/2 max-pools -> adaptive average pool 7x7 -> flatten 25,088 ->
    fc 4096 -> ReLU -> dropout 0.5 -> fc 4096 -> ReLU -> dropout 0.5 -> fc num_classes (Sec. 2.1, 3.1).
    Modules, names and order as torchvision's ``VGG`` (features.N, avgpool, classifier.0/3/6; ``print(model)``
    shows its tree), so its state dict maps one to one in both directions (batch norms' num_batches_tracked
    included). ``weights``: a weight file (.pth, .safetensors, .npz) or state dict loaded strictly
    (``tinycnn.weights.load_weights``), e.g. torchvision's vgg16-397923af.pth (its values replace the random
    ones).
    Parameters for 1000 classes: VGG-11 132,863,336; VGG-13 133,047,848; VGG-16 138,357,544; VGG-19 143,667,240;
    with batch norm 132,868,840 / 133,053,736 / 138,365,992 / 143,678,248.

    Deviations from the paper (all torchvision's):

    * ``AdaptiveAvgPool2d(7)`` before the classifier: a no-op at 224x224; other sizes still reach 7x7 (a 32x32
      input gives 1x1 maps, copied into 7x7). The paper instead turns the FC layers into convolutions at test
      time (dense evaluation, Sec. 3.2).
    * Init: He normal (fan_out) for convs, N(0, 0.01^2) for the FC layers. The paper trained configuration A from
      N(0, 0.01^2) and initialized the deeper nets from A's layers (Sec. 3.1), later noting that Glorot's init
      works without pre-training.
    * ``batch_norm=True`` (after every conv, before its ReLU) postdates the paper (Ioffe & Szegedy 2015).
    * Configurations A-LRN and C (1x1 convs) are not built; no multi-scale training or dense evaluation here.

    ``small_input=True`` (an adaptation for 1x32x32 inputs, not the paper): the adaptive pool goes to 1x1 instead
    of 7x7 (after five pools a 32x32 input is 1x1 already; 7x7 would only copy it 49 times) and the hidden FC
    layers are 512 wide, as in the common CIFAR versions of VGG. The conv stacks are unchanged. For 1 input
    channel and 10 classes: VGG-11 9,749,770; VGG-13 9,934,282; VGG-16 15,243,978; VGG-19 20,553,674 parameters.
    A 28x28 input is too small (five pools: 28 -> 14 -> 7 -> 3 -> 1 -> 0): pad MNIST to 32x32.

    Training note: the plain nets start slowly from this init (as the paper found, Sec. 3.1): on MNIST at 32x32,
    VGG-11 stays at loss 2.30 for the first 100 steps of batch 32 (SGD lr 0.01 or 0.05, momentum 0.9), while
    ``vgg11_bn`` falls from 2.30 to 1.83 in 40 steps (lr 0.05). The ``*_bn`` names are registered for that.

    Raises KeyError for an unknown configuration.
    """
    if config not in CONFIGS:
        raise KeyError(f"vgg: config must be one of {sorted(CONFIGS)}, got {config!r}")
    grid, hidden = (1, 512) if small_input else (7, 4096)
    classifier = nn.Sequential(
        nn.Linear(512 * grid * grid, hidden),  # 0 fc6
        nn.ReLU(inplace=True),                 # 1
        nn.Dropout(0.5),                       # 2
        nn.Linear(hidden, hidden),             # 3 fc7
        nn.ReLU(inplace=True),                 # 4
        nn.Dropout(0.5),                       # 5
        nn.Linear(hidden, num_classes),        # 6 fc8
    )
    model = VGG(_features(CONFIGS[config], in_channels, batch_norm), nn.AdaptiveAvgPool2d((grid, grid)), classifier)
    _init(model)
    name = {"A": "vgg11", "B": "vgg13", "D": "vgg16", "E": "vgg19"}[config] + ("_bn" if batch_norm else "")
    return apply_weights(model, weights, name)


def vgg11(num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False, small_input: bool = False,
          weights=None) -> VGG:
    """VGG-11, configuration A (8 conv + 3 FC layers); see ``vgg``."""
    return vgg("A", num_classes, in_channels, batch_norm, small_input, weights)


def vgg13(num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False, small_input: bool = False,
          weights=None) -> VGG:
    """VGG-13, configuration B (10 conv + 3 FC layers); see ``vgg``."""
    return vgg("B", num_classes, in_channels, batch_norm, small_input, weights)


def vgg16(num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False, small_input: bool = False,
          weights=None) -> VGG:
    """VGG-16, configuration D (13 conv + 3 FC layers); see ``vgg``."""
    return vgg("D", num_classes, in_channels, batch_norm, small_input, weights)


def vgg19(num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False, small_input: bool = False,
          weights=None) -> VGG:
    """VGG-19, configuration E (16 conv + 3 FC layers); see ``vgg``."""
    return vgg("E", num_classes, in_channels, batch_norm, small_input, weights)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, weights=None) -> VGG:
    """VGG-11 with batch norm after every conv (torchvision's ``vgg11_bn``); see ``vgg``."""
    return vgg("A", num_classes, in_channels, True, small_input, weights)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, weights=None) -> VGG:
    """VGG-13 with batch norm (torchvision's ``vgg13_bn``); see ``vgg``."""
    return vgg("B", num_classes, in_channels, True, small_input, weights)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, weights=None) -> VGG:
    """VGG-16 with batch norm (torchvision's ``vgg16_bn``); see ``vgg``."""
    return vgg("D", num_classes, in_channels, True, small_input, weights)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, weights=None) -> VGG:
    """VGG-19 with batch norm (torchvision's ``vgg19_bn``); see ``vgg``."""
    return vgg("E", num_classes, in_channels, True, small_input, weights)


def _registry():
    from . import ModelSpec  # noqa: PLC0415 - the registry type lives in the package

    builders = (("vgg11", vgg11), ("vgg13", vgg13), ("vgg16", vgg16), ("vgg19", vgg19),
                ("vgg11_bn", vgg11_bn), ("vgg13_bn", vgg13_bn), ("vgg16_bn", vgg16_bn), ("vgg19_bn", vgg19_bn))
    return {name: ModelSpec(fn, (3, 224, 224), small_input_size=32, small_kwargs={"small_input": True})
            for name, fn in builders}


REGISTRY = _registry()
