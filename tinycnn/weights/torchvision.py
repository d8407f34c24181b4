"""torchvision's official ImageNet weights for the networks tinycnn also builds, and a guess at which network a
state dict belongs to.

``TORCHVISION_WEIGHTS`` lists, from torchvision's ``models/resnet.py``, ``vgg.py`` and ``alexnet.py`` (the
``*_Weights`` enums), each file's URL, the SHA-256 prefix in its name, the evaluation preprocessing of its enum
(``ImageClassification(crop_size=224, resize_size=...)``: resize the shorter side to ``resize_size`` with
bilinear interpolation, centre crop ``crop_size``, scale to [0, 1], normalize with ``IMAGENET_MEAN`` /
``IMAGENET_STD``) and its published ImageNet-1K top-1 / top-5 accuracy. Note the V2 ResNet weights ("new training
recipe") are evaluated with a resize to 232, not 256. tinycnn downloads nothing by itself: fetch a file by hand
(``curl -LO URL``) or with ``tinycnn.weights.download(url)``, then pass its path (``resnet50(weights=PATH)``).

Files of older torchvision releases (resnet18-5c106cde.pth, resnet34-333f7ec4.pth, resnet50-19c8e357.pth,
resnet101-5d3b4d8f.pth, resnet152-b121ed2d.pth: the same V1 weights saved before batch norm counted its batches)
load too: PyTorch and tinycnn accept a state dict without ``num_batches_tracked``. torchvision's
``VGG16_Weights.IMAGENET1K_FEATURES`` (features only, no valid classifier) is left out.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import NamedTuple

import numpy as np

__all__ = ["TorchvisionWeights", "TORCHVISION_WEIGHTS", "IMAGENET_MEAN", "IMAGENET_STD", "lookup", "default_weights",
           "guess_architecture"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageClassification defaults, RGB
IMAGENET_STD = (0.229, 0.224, 0.225)
_BASE = "https://download.pytorch.org/models/"


class TorchvisionWeights(NamedTuple):
    """One entry of torchvision's weight enums.

    model: the tinycnn constructor (``alexnet_torchvision`` is torchvision's ``alexnet``). enum: torchvision's
    name, e.g. "ResNet50_Weights.IMAGENET1K_V2". url: where torchvision downloads it. resize_size, crop_size:
    its evaluation transform. acc1, acc5: ImageNet-1K accuracy (%) torchvision publishes. num_params: for 1000
    classes. default: torchvision's ``DEFAULT`` for that network.
    """
    model: str
    enum: str
    url: str
    resize_size: int
    crop_size: int
    acc1: float
    acc5: float
    num_params: int
    default: bool

    @property
    def filename(self) -> str:
        return PurePosixPath(self.url).name

    @property
    def sha256_prefix(self) -> str:
        """The first hex digits of the file's SHA-256, from its name (torch.hub's convention)."""
        return re.search(r"-([a-f0-9]+)\.", self.filename).group(1)


def _w(model, enum, file, acc1, acc5, params, resize=256, default=True):
    return TorchvisionWeights(model, enum, _BASE + file, resize, 224, acc1, acc5, params, default)


TORCHVISION_WEIGHTS = (
    _w("resnet18", "ResNet18_Weights.IMAGENET1K_V1", "resnet18-f37072fd.pth", 69.758, 89.078, 11_689_512),
    _w("resnet34", "ResNet34_Weights.IMAGENET1K_V1", "resnet34-b627a593.pth", 73.314, 91.420, 21_797_672),
    _w("resnet50", "ResNet50_Weights.IMAGENET1K_V1", "resnet50-0676ba61.pth", 76.130, 92.862, 25_557_032,
       default=False),
    _w("resnet50", "ResNet50_Weights.IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 80.858, 95.434, 25_557_032, 232),
    _w("resnet101", "ResNet101_Weights.IMAGENET1K_V1", "resnet101-63fe2227.pth", 77.374, 93.546, 44_549_160,
       default=False),
    _w("resnet101", "ResNet101_Weights.IMAGENET1K_V2", "resnet101-cd907fc2.pth", 81.886, 95.780, 44_549_160, 232),
    _w("resnet152", "ResNet152_Weights.IMAGENET1K_V1", "resnet152-394f9c45.pth", 78.312, 94.046, 60_192_808,
       default=False),
    _w("resnet152", "ResNet152_Weights.IMAGENET1K_V2", "resnet152-f82ba261.pth", 82.284, 96.002, 60_192_808, 232),
    _w("vgg11", "VGG11_Weights.IMAGENET1K_V1", "vgg11-8a719046.pth", 69.020, 88.628, 132_863_336),
    _w("vgg11_bn", "VGG11_BN_Weights.IMAGENET1K_V1", "vgg11_bn-6002323d.pth", 70.370, 89.810, 132_868_840),
    _w("vgg13", "VGG13_Weights.IMAGENET1K_V1", "vgg13-19584684.pth", 69.928, 89.246, 133_047_848),
    _w("vgg13_bn", "VGG13_BN_Weights.IMAGENET1K_V1", "vgg13_bn-abd245e5.pth", 71.586, 90.374, 133_053_736),
    _w("vgg16", "VGG16_Weights.IMAGENET1K_V1", "vgg16-397923af.pth", 71.592, 90.382, 138_357_544),
    _w("vgg16_bn", "VGG16_BN_Weights.IMAGENET1K_V1", "vgg16_bn-6c64b313.pth", 73.360, 91.516, 138_365_992),
    _w("vgg19", "VGG19_Weights.IMAGENET1K_V1", "vgg19-dcbb9e9d.pth", 72.376, 90.876, 143_667_240),
    _w("vgg19_bn", "VGG19_BN_Weights.IMAGENET1K_V1", "vgg19_bn-c79401a0.pth", 74.218, 91.842, 143_678_248),
    _w("alexnet_torchvision", "AlexNet_Weights.IMAGENET1K_V1", "alexnet-owt-7be5be79.pth", 56.522, 79.066,
       61_100_840),
)


def lookup(name: str) -> TorchvisionWeights | None:
    """The entry for an enum name ("ResNet50_Weights.IMAGENET1K_V2"), a URL, a file name or a path ending in one
    ("~/.cache/torch/hub/checkpoints/resnet50-11ad3fa6.pth"); None when it is none of torchvision's."""
    text = str(name)
    base = re.split(r"[\\/]", text)[-1]
    for entry in TORCHVISION_WEIGHTS:
        if text in (entry.enum, entry.url) or base == entry.filename:
            return entry
    return None


def default_weights(model: str) -> TorchvisionWeights:
    """torchvision's ``DEFAULT`` weights of a tinycnn network ("resnet50" -> IMAGENET1K_V2). Raises KeyError
    naming the networks that have some."""
    for entry in TORCHVISION_WEIGHTS:
        if entry.model == model and entry.default:
            return entry
    known = sorted({e.model for e in TORCHVISION_WEIGHTS})
    raise KeyError(f"torchvision publishes no weights for {model!r}; it does for {', '.join(known)}")


# ----- which network is this? -----------------------------------------------------------------------------------

_RESNETS = {("basic", (2, 2, 2, 2)): "resnet18", ("basic", (3, 4, 6, 3)): "resnet34",
            ("bottleneck", (3, 4, 6, 3)): "resnet50", ("bottleneck", (3, 4, 23, 3)): "resnet101",
            ("bottleneck", (3, 8, 36, 3)): "resnet152"}
_VGG_CONVS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}


def _blocks(shapes, stage) -> int:
    indices = {int(k.split(".")[1]) for k in shapes if k.startswith(f"layer{stage}.") and k.split(".")[1].isdigit()}
    return max(indices) + 1 if indices else 0


def guess_architecture(state) -> str | None:
    """The tinycnn network whose state-dict keys and layer shapes ``state`` has (its classifier's size and input
    channels aside), from the key patterns of torchvision's files: "resnet18".."resnet152", "vgg11".."vgg19_bn",
    "alexnet_torchvision" (torchvision's single tower), "alexnet" (tinycnn's two-tower paper form); None for
    anything else (ResNeXt and wide ResNets included). Cheap: it reads names and shapes only."""
    shapes = {k: tuple(np.shape(getattr(v, "data", v))) for k, v in state.items()}
    if "conv1.weight" in shapes and "fc.weight" in shapes and "layer1.0.conv1.weight" in shapes:
        kind = "bottleneck" if "layer1.0.conv3.weight" in shapes else "basic"
        name = _RESNETS.get((kind, tuple(_blocks(shapes, s) for s in (1, 2, 3, 4))))
        if name is None or shapes.get("layer1.0.conv2.weight", (0,))[:2] != (64, 64):  # wide / ResNeXt differ
            return None
        return name
    convs = sorted(int(k.split(".")[1]) for k, s in shapes.items()
                   if k.startswith("features.") and k.endswith(".weight") and len(s) == 4)
    if not convs or "classifier.6.weight" not in shapes:
        return None
    first = shapes[f"features.{convs[0]}.weight"]
    if len(convs) == 5 and first[2:] == (11, 11):
        return {64: "alexnet_torchvision", 96: "alexnet"}.get(first[0])
    name = _VGG_CONVS.get(len(convs))
    if name is not None and first[0] == 64 and first[2:] == (3, 3):
        batch_norm = f"features.{convs[0] + 1}.running_mean" in shapes
        return name + ("_bn" if batch_norm else "")
    return None
