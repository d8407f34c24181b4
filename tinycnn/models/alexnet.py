"""AlexNet (Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with deep convolutional neural
networks", NIPS, Sec. 3 and Fig. 2), and the single-tower variant of torchvision's ``alexnet()``.

What the paper added, each visible below: ReLU everywhere (Sec. 3.1), training on two GPUs (Sec. 3.2, here
``groups=2`` where a layer reads only its own GPU's maps), local response normalization (Sec. 3.3), overlapping
max-pooling 3x3 stride 2 (Sec. 3.4) and dropout (Sec. 4.2).

Shapes (REFERENCE.md 2), variant "paper" at 3x227x227: conv1 96x55x55 -> pool 96x27x27 -> conv2 256x27x27 -> pool
256x13x13 -> conv3 384x13x13 -> conv4 384x13x13 -> conv5 256x13x13 -> pool 256x6x6 = 9,216 -> 4096 -> 4096 ->
1000; 60,965,224 parameters. Variant "torchvision" at 3x224x224: 64x55x55, 64x27x27, 192x27x27, 192x13x13,
384/256/256x13x13, 256x6x6; 61,100,840 parameters.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ._pretrained import apply_weights

__all__ = ["AlexNet", "alexnet", "alexnet_torchvision"]

_VARIANTS = ("paper", "torchvision")


def _paper_features(in_channels, small_input):
    # small_input: conv1 5x5 stride 1 pad 2 keeps 28x28; the pools then give 28 -> 13 -> 6 -> 2
    conv1 = (nn.Conv2d(in_channels, 96, kernel_size=5, padding=2) if small_input
             else nn.Conv2d(in_channels, 96, kernel_size=11, stride=4))
    return nn.Sequential(
        conv1,                                                           # 0  conv1: 96x55x55
        nn.ReLU(),                                                       # 1
        nn.LocalResponseNorm.paper(5, 1e-4, 0.75, 2.0),                  # 2  k=2, n=5, alpha=1e-4, beta=0.75
        nn.MaxPool2d(kernel_size=3, stride=2),                           # 3  overlapping: 96x27x27
        nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),          # 4  conv2, one group per GPU: 256x27x27
        nn.ReLU(),                                                       # 5
        nn.LocalResponseNorm.paper(5, 1e-4, 0.75, 2.0),                  # 6
        nn.MaxPool2d(kernel_size=3, stride=2),                           # 7  256x13x13
        nn.Conv2d(256, 384, kernel_size=3, padding=1),                   # 8  conv3 reads both GPUs: 384x13x13
        nn.ReLU(),                                                       # 9
        nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),         # 10 conv4: 384x13x13
        nn.ReLU(),                                                       # 11
        nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),         # 12 conv5: 256x13x13
        nn.ReLU(),                                                       # 13
        nn.MaxPool2d(kernel_size=3, stride=2),                           # 14 256x6x6
    )


def _paper_init(model):
    """Sec. 5: weights N(0, 0.01^2); biases 1 in conv2, conv4, conv5 and the hidden FC layers ("accelerates the
    early stages of learning by providing the ReLUs with positive inputs"), 0 in the others."""
    f, c = model.features, model.classifier
    ones = {id(layer) for layer in (f[4], f[10], f[12], c[0], c[3])}
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.01)
            nn.init.constant_(layer.bias, 1.0 if id(layer) in ones else 0.0)


def _small_init(model):
    """small_input: He normal (fan_in, ReLU) and zero biases. The paper's N(0, 0.01^2) suits its inputs, raw pixels
    minus the mean (tens in size); on standardized MNIST (std 1) conv1's outputs are ~100x smaller, the biases of 1
    swamp them and every image gets almost the same logits, so learning starts slowly (MNIST, batch 32, lr 0.01:
    loss 2.33 after 60 steps, against 1.97 after 50 with this init)."""
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)


def _torchvision_features(in_channels, small_input):
    conv1 = (nn.Conv2d(in_channels, 64, kernel_size=5, padding=2) if small_input
             else nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2))
    return nn.Sequential(
        conv1,                                                           # 0  64x55x55
        nn.ReLU(inplace=True),                                           # 1
        nn.MaxPool2d(kernel_size=3, stride=2),                           # 2  64x27x27
        nn.Conv2d(64, 192, kernel_size=5, padding=2),                    # 3  192x27x27
        nn.ReLU(inplace=True),                                           # 4
        nn.MaxPool2d(kernel_size=3, stride=2),                           # 5  192x13x13
        nn.Conv2d(192, 384, kernel_size=3, padding=1),                   # 6  384x13x13
        nn.ReLU(inplace=True),                                           # 7
        nn.Conv2d(384, 256, kernel_size=3, padding=1),                   # 8  256x13x13
        nn.ReLU(inplace=True),                                           # 9
        nn.Conv2d(256, 256, kernel_size=3, padding=1),                   # 10 256x13x13
        nn.ReLU(inplace=True),                                           # 11
        nn.MaxPool2d(kernel_size=3, stride=2),                           # 12 256x6x6
    )


class AlexNet(nn.Module):
    """The network of both variants, as torchvision's ``AlexNet``: ``features`` (a Sequential), ``avgpool``
    (adaptive; absent in the paper variant at 227x227, whose features end at 6x6 already), ``classifier`` (a
    Sequential), with the flatten in ``forward``. (N, C, H, W) -> logits (N, num_classes)."""

    def __init__(self, features: nn.Module, avgpool: nn.Module | None, classifier: nn.Module):
        super().__init__()
        self.features = features
        if avgpool is not None:
            self.avgpool = avgpool
        self.classifier = classifier

    def forward(self, x):
        x = self.features(x)
        if "avgpool" in self._modules:
            x = self.avgpool(x)
        return self.classifier(F.flatten(x, 1))


def alexnet(num_classes: int = 1000, in_channels: int = 3, variant: str = "paper",
            small_input: bool = False, weights=None) -> AlexNet:
    """AlexNet; returns (N, num_classes) logits.

    Variant "paper" (Sec. 3.5 and Fig. 2), for (N, in_channels, 227, 227) inputs: conv1 96@11x11 stride 4 ->
    ReLU -> LRN -> max-pool 3/2 -> conv2 256@5x5 pad 2, groups 2 -> ReLU -> LRN -> max-pool 3/2 -> conv3 384@3x3
    -> ReLU -> conv4 384@3x3 groups 2 -> ReLU -> conv5 256@3x3 groups 2 -> ReLU -> max-pool 3/2 -> flatten 9,216
    -> fc6 4096 -> ReLU -> dropout 0.5 -> fc7 4096 -> ReLU -> dropout 0.5 -> fc8 num_classes. LRN is the paper's
    form (k=2, n=5, alpha=1e-4 not divided by n, beta=0.75: ``nn.LocalResponseNorm.paper``, which passes
    alpha=5e-4 to PyTorch's definition). 60,965,224 parameters for 1000 classes. Init as Sec. 5.

    Deviations from the paper (variant "paper"):

    * The input is 227x227, not the "224x224" of the text: (224 - 11) / 4 + 1 is not an integer, and only 227
      gives the 55x55 maps and 6x6x256 = 9,216 features of Fig. 2 (Caffe's choice).
    * The two GPUs are simulated with ``groups=2`` on conv2, conv4 and conv5; conv1, conv3 and the FC layers
      read everything, as the paper's cross-GPU layers do. Layer order of channels: GPU 1's maps first.
    * Dropout sits on the outputs of fc6 and fc7 ("the first two fully-connected layers", Sec. 4.2; Caffe's
      placement); torchvision's variant drops the inputs of fc6 and fc7 instead.
    * No data augmentation, PCA colour noise or mean subtraction here: they belong to the data pipeline.

    Variant "torchvision" ("One weird trick", Krizhevsky 2014; torchvision's ``alexnet``), for 224x224: conv
    64@11x11/4 pad 2 -> ReLU -> pool -> 192@5x5 pad 2 -> ReLU -> pool -> 384, 256, 256 @3x3 pad 1 (ReLU each) ->
    pool -> adaptive average pool 6x6 -> dropout -> fc 4096 -> ReLU -> dropout -> fc 4096 -> ReLU -> fc. One
    tower, no LRN; 61,100,840 parameters for 1000 classes; modules, names, order and shapes as torchvision's
    (features.0/3/6/8/10, avgpool, classifier.1/4/6; ``print(model)`` shows its tree), so its state dict maps one
    to one in both directions. PyTorch's default init, as torchvision.

    ``weights``: a weight file (.pth, .safetensors, .npz) or state dict loaded strictly
    (``tinycnn.weights.load_weights``): torchvision's alexnet-owt-7be5be79.pth for variant "torchvision"; files
    saved from tinycnn for "paper" (its own names: features.N, classifier.0/3/6).

    ``small_input=True`` (an adaptation for 1x28x28 MNIST, not the paper; parameter counts differ): conv1
    becomes 5x5 stride 1 padding 2 (an 11x11/4 kernel would leave 5x5 maps), the overlapping 3x3/2 pools stay
    (28 -> 13 -> 6 -> 2), an adaptive average pool to 2x2 follows the features (so 32x32 inputs work too), and
    the hidden FC layers are 1024 wide instead of 4096. Conv widths, LRN, groups and dropout are unchanged. The
    "paper" variant is initialized He normal with zero biases (``_small_init`` says why); "torchvision" keeps
    PyTorch's default. 4,411,082 parameters for "paper" and 4,557,514 for "torchvision" (1 input channel, 10
    classes); about 128 M and 132 M multiply-accumulates per 28x28 image. Measured on MNIST (batch 32, SGD lr
    0.01, momentum 0.9): "paper" falls to loss 1.97 in 50 steps; "torchvision" with PyTorch's init starts slowly
    (2.29 after 100 steps; He init there overshoots to a loss of 8-18 and stalls at this rate).

    Raises ValueError for an unknown variant.
    """
    if variant not in _VARIANTS:
        raise ValueError(f"alexnet: variant must be one of {_VARIANTS}, got {variant!r}")
    hidden = 1024 if small_input else 4096
    if variant == "paper":
        features = _paper_features(in_channels, small_input)
        pool = nn.AdaptiveAvgPool2d(2) if small_input else None  # the paper has none: 227 gives 6x6 exactly
        grid = 2 if small_input else 6
        classifier = nn.Sequential(               # VGG's layout (Caffe's bvlc_alexnet): dropout after fc6, fc7
            nn.Linear(256 * grid * grid, hidden),  # 0 fc6
            nn.ReLU(),                            # 1
            nn.Dropout(0.5),                      # 2 drops fc6's outputs
            nn.Linear(hidden, hidden),            # 3 fc7
            nn.ReLU(),                            # 4
            nn.Dropout(0.5),                      # 5 drops fc7's outputs
            nn.Linear(hidden, num_classes),       # 6 fc8
        )
    else:
        features = _torchvision_features(in_channels, small_input)
        grid = 2 if small_input else 6
        classifier = nn.Sequential(
            nn.Dropout(0.5),                      # 0
            nn.Linear(256 * grid * grid, hidden),  # 1 fc6
            nn.ReLU(inplace=True),                # 2
            nn.Dropout(0.5),                      # 3
            nn.Linear(hidden, hidden),            # 4 fc7
            nn.ReLU(inplace=True),                # 5
            nn.Linear(hidden, num_classes),       # 6 fc8
        )
        pool = nn.AdaptiveAvgPool2d((grid, grid))
    model = AlexNet(features, pool, classifier)
    if variant == "paper":
        (_small_init if small_input else _paper_init)(model)
    return apply_weights(model, weights, "alexnet" if variant == "paper" else "alexnet_torchvision")


def alexnet_torchvision(num_classes: int = 1000, in_channels: int = 3, small_input: bool = False,
                        weights=None) -> AlexNet:
    """``alexnet(variant="torchvision")``: the single-tower AlexNet of torchvision (see ``alexnet``)."""
    return alexnet(num_classes=num_classes, in_channels=in_channels, variant="torchvision", small_input=small_input,
                   weights=weights)


def _registry():
    from . import ModelSpec  # noqa: PLC0415 - the registry type lives in the package

    return {
        "alexnet": ModelSpec(alexnet, (3, 227, 227), small_input_size=28, small_kwargs={"small_input": True}),
        "alexnet_torchvision": ModelSpec(alexnet_torchvision, (3, 224, 224), small_input_size=28,
                                         small_kwargs={"small_input": True}),
    }


REGISTRY = _registry()
