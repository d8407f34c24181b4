"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to document recognition",
Proc. IEEE 86(11), Sec. II.B and Fig. 2).

``lenet5()`` is the modern variant most courses teach (ReLU, max-pooling, a full C3, softmax cross-entropy
instead of RBF outputs), on 28x28 MNIST with ``padding=2`` on the first convolution so that its feature maps have
the paper's sizes: 6x28x28 -> 6x14x14 -> 16x10x10 -> 16x5x5 -> 120 -> 84 -> 10; 61,706 parameters for 10
classes (156 + 2,416 + 48,120 + 10,164 + 850).
"""
from __future__ import annotations

from .. import nn
from ._pretrained import apply_weights

__all__ = ["lenet5"]


def lenet5(num_classes: int = 10, in_channels: int = 1, variant: str = "modern", input_size: int = 28,
           weights=None) -> nn.Module:
    """LeNet-5 for (N, in_channels, 28, 28) inputs (or 32x32: see below); returns logits (N, num_classes).

    Variant "modern" (the default): conv 6@5x5 pad 2 -> ReLU -> max-pool 2 -> conv 16@5x5 -> ReLU -> max-pool 2
    -> flatten 400 -> linear 120 -> ReLU -> linear 84 -> ReLU -> linear num_classes.

    Deviations from the paper, all deliberate and common: ReLU instead of the scaled tanh, max-pooling instead of
    trainable subsampling, C3 connected to all six S2 maps instead of Table I's partial table, a linear output
    layer with softmax cross-entropy instead of Euclidean RBF units, padding 2 on 28x28 instead of a 32x32 input.
    Layers keep PyTorch's default initialization. A 32x32 input needs ``padding=0`` on conv1; with 28x28 and no
    padding the flattened size would be 256, not 400 (REFERENCE.md 1.2): ``input_size=32`` builds that form
    (LeCun's own: C1 on a 32x32 input without padding; CIFAR's images), with the same layers and parameters.

    ``weights``: a weight file (.pth, .safetensors, .npz) or state dict saved from this network (``0.weight``,
    ``0.bias``, ... ``11.bias``), loaded strictly (``tinycnn.weights.load_weights``).

    Raises ValueError for an unknown variant, an input_size other than 28 or 32, or non-positive sizes.
    """
    if input_size not in (28, 32):
        raise ValueError(f"lenet5: input_size must be 28 (padding 2 on conv1) or 32 (no padding), got {input_size!r}")
    if variant == "paper":
        from .lenet_paper import lenet5_paper  # noqa: PLC0415 - the 1998 form lives in its own file

        if input_size != 28:
            raise ValueError("lenet5: the paper variant takes 32x32 inputs by itself; leave input_size at 28")
        return lenet5_paper(num_classes=num_classes, in_channels=in_channels, weights=weights)
    if variant != "modern":
        raise ValueError(f"lenet5: variant must be 'modern' or 'paper', got {variant!r}")
    model = nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2 if input_size == 28 else 0),  # C1: 6x28x28
        nn.ReLU(),
        nn.MaxPool2d(2),                                      # S2: 6x14x14
        nn.Conv2d(6, 16, kernel_size=5),                      # C3: 16x10x10
        nn.ReLU(),
        nn.MaxPool2d(2),                                      # S4: 16x5x5
        nn.Flatten(),                                         # 400
        nn.Linear(16 * 5 * 5, 120),                           # C5 (a convolution over 5x5 = fully connected)
        nn.ReLU(),
        nn.Linear(120, 84),                                   # F6
        nn.ReLU(),
        nn.Linear(84, num_classes),                           # output logits
    )
    return apply_weights(model, weights, "lenet5")


def _registry():
    from . import ModelSpec  # noqa: PLC0415 - the registry type lives in the package

    return {"lenet5": ModelSpec(lenet5, (1, 28, 28))}


REGISTRY = _registry()
