"""GoogLeNet / Inception v1 (Szegedy et al. 2015, "Going deeper with convolutions", arXiv:1409.4842): Table 1,
Fig. 2(b) (the Inception module with dimension reductions) and Fig. 3 (the whole network with its two auxiliary
classifiers), as the paper and Caffe's ``bvlc_googlenet`` define it, not torchvision's variant.

The network is one tree: a ``Tapped`` Sequential whose children run in order; each Inception module is an
``nn.Concat`` of four branches; each auxiliary classifier is an ``nn.Tap`` placed right after 4a and 4d, which
passes the features on unchanged and, in training mode only, runs its head on them. So in training mode the
model returns ``(logits, aux1, aux2)`` (``train.py`` adds 0.3 x each auxiliary loss, Sec. 5) and in eval mode
just the logits. 6,998,552 parameters without the auxiliary heads and 13,378,280 with them, for 1000 classes
(REFERENCE.md section 4); the heads hold 3,188,840 and 3,190,888.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ._pretrained import apply_weights

__all__ = ["googlenet", "inception", "aux_head", "INCEPTION_FILTERS"]

# Table 1: in_channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj. Each module's output has
# #1x1 + #3x3 + #5x5 + pool proj channels, the next module's in_channels.
INCEPTION_FILTERS = OrderedDict([
    ("3a", (192, 64, 96, 128, 16, 32, 32)),      # -> 256 at 28x28
    ("3b", (256, 128, 128, 192, 32, 96, 64)),    # -> 480
    ("4a", (480, 192, 96, 208, 16, 48, 64)),     # -> 512 at 14x14
    ("4b", (512, 160, 112, 224, 24, 64, 64)),    # -> 512
    ("4c", (512, 128, 128, 256, 24, 64, 64)),    # -> 512
    ("4d", (512, 112, 144, 288, 32, 64, 64)),    # -> 528
    ("4e", (528, 256, 160, 320, 32, 128, 128)),  # -> 832
    ("5a", (832, 256, 160, 320, 32, 128, 128)),  # -> 832 at 7x7
    ("5b", (832, 384, 192, 384, 48, 128, 128)),  # -> 1024
])


def _conv_relu(in_channels, out_channels, kernel_size, stride=1, padding=0):
    # "All the convolutions, including those inside the Inception modules, use rectified linear activation" (Sec. 5)
    return [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding), nn.ReLU()]


def inception(in_channels, n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj) -> nn.Concat:
    """The Inception module with dimension reductions (Fig. 2(b)): four branches on the same input, concatenated
    on channels. Every branch keeps H x W (paddings 1 and 2, a 3x3 stride-1 max-pool with padding 1), so the
    output is (N, n1x1 + n3x3 + n5x5 + pool_proj, H, W).

    The 1x1 "reduce" convolutions cut the channels before the expensive 3x3 and 5x5 ones; the pool branch's 1x1
    "pool proj" keeps the pooled features from piling up channels module after module (Sec. 4).
    """
    return nn.Concat(
        nn.Sequential(*_conv_relu(in_channels, n1x1, 1)),
        nn.Sequential(*_conv_relu(in_channels, n3x3_reduce, 1), *_conv_relu(n3x3_reduce, n3x3, 3, padding=1)),
        # a true 5x5 (torchvision's "5x5" branch is a 3x3: pytorch/vision issue #906)
        nn.Sequential(*_conv_relu(in_channels, n5x5_reduce, 1), *_conv_relu(n5x5_reduce, n5x5, 5, padding=2)),
        nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *_conv_relu(in_channels, pool_proj, 1)),
    )


def aux_head(in_channels: int, num_classes: int, small_input: bool = False) -> nn.Sequential:
    """An auxiliary classifier (Sec. 5, Fig. 3): avg-pool 5x5/3 (14x14 -> 4x4) -> conv 1x1 128 -> ReLU ->
    flatten 2048 -> FC 1024 -> ReLU -> dropout 0.7 -> FC num_classes (logits; the softmax is in the loss).

    ``small_input``: an adaptive average pool to 4x4 instead, so the head sees 4x4x128 = 2048 features (and has
    the same parameters) whatever the feature map's size.
    """
    pool = nn.AdaptiveAvgPool2d(4) if small_input else nn.AvgPool2d(5, stride=3)
    return nn.Sequential(OrderedDict([
        ("pool", pool),
        ("conv", nn.Conv2d(in_channels, 128, 1)),
        ("relu", nn.ReLU()),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(128 * 4 * 4, 1024)),
        ("relu_fc1", nn.ReLU()),
        ("dropout", nn.Dropout(0.7)),
        ("fc2", nn.Linear(1024, num_classes)),
    ]))


def _init_weights(model: nn.Module) -> None:
    """He et al. 2015 (normal, fan_in, ReLU gain: variance 2 / fan_in) for every conv and hidden FC layer, the
    three classifiers N(0, 0.01^2), all biases 0. The paper gives no initialization.

    Caffe's ``bvlc_googlenet`` used its "xavier" filler (U(+-sqrt(3 / fan_in)), variance 1 / fan_in) with
    biases 0.2: each ReLU layer then halves the image's part of the signal while the biases pass a constant
    on, so after 22 layers the features hardly depend on the image; on MNIST it stayed at chance for 60 Adam
    steps in which this initialization was learning. The cost of He's scale without batch norm: the features
    grow module after module (the max-pool branches, the positive ReLU means) to a squared norm of about
    11,000 over the 1024 pooled channels, so one SGD step at lr 0.05 moves the logits by tens and training
    diverges. Train this network with SGD at lr 0.005 or less (``tinycnn train``'s default for it) or with
    Adam at lr 3e-4, which left chance level sooner on MNIST (after about 50 steps of 16 images; SGD at 0.002
    and 0.005 was still at chance after 40 steps of 32, though never diverging)."""
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if name == "fc" or name.endswith("head.fc2"):
                nn.init.normal_(m.weight, 0.0, 0.01)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(m.bias)


def googlenet(num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = True,
              small_input: bool = False, weights=None) -> nn.Tapped:
    """GoogLeNet as in Table 1 and Fig. 3 of the paper, for (N, in_channels, 224, 224) inputs.

    Layers (output shapes at 224x224):
        conv 7x7/2 pad 3 (64) -> ReLU -> max-pool 3x3/2 ceil -> LRN        64x56x56
        conv 1x1 (64) -> ReLU -> conv 3x3 pad 1 (192) -> ReLU -> LRN        192x56x56
        max-pool 3x3/2 ceil -> 3a -> 3b                                     480x28x28
        max-pool 3x3/2 ceil -> 4a [aux1] -> 4b -> 4c -> 4d [aux2] -> 4e     832x14x14
        max-pool 3x3/2 ceil -> 5a -> 5b                                     1024x7x7
        global average pool -> flatten -> dropout 0.4 -> linear             num_classes

    Returns a ``nn.Tapped`` model: in training mode with ``aux_logits`` it returns (logits, aux1, aux2), else
    the logits (N, num_classes). Child names follow Caffe's layer names (conv1, pool1, norm1, conv2_reduce, ...,
    inception4a, aux1, ..., fc).

    Deviations from the paper and Caffe's ``bvlc_googlenet`` (all listed):
      * LRN in PyTorch's form ``nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1)``: the paper names LRN but
        gives no constants; these are Caffe's ``local_size 5, alpha 1e-4, beta 0.75`` (k = 1), and Caffe, like
        PyTorch, divides alpha by the window size, so they carry over unchanged.
      * Max-pools use PyTorch's ceil_mode, which equals Caffe's ceil rounding here (112 -> 56 -> 28 -> 14 -> 7);
        floor rounding would give 55 -> 27 -> 13 -> 6.
      * The final "avg pool 7x7/1" is a global average pool: identical at 224x224, and size-independent.
      * Initialization: He et al. 2015 instead of Caffe's xavier filler with 0.2 biases (``_init_weights``
        says why); the paper states none. So it wants SGD at lr 0.005 or less, or Adam at 3e-4, not 0.05.
      * The classifiers output logits; the softmax lives in the cross-entropy loss.
      * No Polyak averaging, no multi-crop or ensemble testing (training-procedure matters, Sec. 6-7).

    Args:
        num_classes: outputs of the classifier and of each auxiliary head.
        in_channels: channels of the input image (3 for RGB, 1 for MNIST).
        aux_logits: build the two auxiliary heads (6,998,552 parameters without them for 1000 classes,
            13,378,280 with them).
        small_input: the adaptation for 1x28x28 (or 32x32) images, below.
        weights: a weight file (.pth, .safetensors, .npz) or state dict saved from this network (its own names,
            not torchvision's GoogLeNet, which is a later variant with batch norm), loaded strictly.

    ``small_input=True`` (MNIST, Fashion-MNIST): the stem's first convolution becomes 3x3 stride 1 pad 1 and
    the first max-pool is dropped, so only the stem's second pool (28 -> 14) and the two between the Inception
    stages (14 -> 7 -> 3) shrink the map: 3a/3b run at 14x14, 4a-4e at 7x7, 5a/5b at 3x3 (16, 8, 4 from 32x32).
    Keeping that one stem pool makes a forward 3.3x cheaper: 0.358 G MACs per 28x28 image, against 1.194 G
    with 3a/3b at the full 28x28 (the paper's form takes 1.583 G at 224x224). The auxiliary heads pool
    adaptively to 4x4 (a 5x5/3 pool of a 7x7 map would give 1x1), so their FC layers keep the paper's sizes.
    The parameters then differ from the paper's only in conv1 (in_channels x 64 x 3 x 3 + 64 instead of
    in_channels x 64 x 7 x 7 + 64): 13,370,600 / 6,990,872 with / without the heads for 3 channels and 1000
    classes; 10,325,198 / 5,974,970 for 1 channel and 10 classes. On MNIST with Adam at lr 3e-4 the total loss
    (main + 0.3 x each head) went from 3.99 to 3.34 in 60 steps of 16 images, and a fixed batch of 8 images
    (heads and dropout off) was learned by heart in 8 steps; SGD at lr 0.05 diverges (see ``_init_weights``).

    Raises ValueError for non-positive sizes. The main path takes any input of 47x47 or more (the global pool
    makes the classifier size-independent), but the standard form's auxiliary heads, as the paper's, flatten a
    4x4x128 map into FC 2048 -> 1024: they fit inputs of 223 to 270 pixels only, and other sizes raise
    ValueError in training mode (use ``small_input=True``, or ``aux_logits=False``, for other sizes).
    """
    if num_classes < 1 or in_channels < 1:
        raise ValueError(f"googlenet: num_classes and in_channels must be positive, got {num_classes}, "
                         f"{in_channels}")
    layers = OrderedDict()
    if small_input:
        layers["conv1"], layers["relu1"] = _conv_relu(in_channels, 64, 3, padding=1)
    else:
        layers["conv1"], layers["relu1"] = _conv_relu(in_channels, 64, 7, stride=2, padding=3)  # 112x112
        layers["pool1"] = nn.MaxPool2d(3, stride=2, ceil_mode=True)                               # 56x56
    layers["norm1"] = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    layers["conv2_reduce"], layers["relu2_reduce"] = _conv_relu(64, 64, 1)
    layers["conv2"], layers["relu2"] = _conv_relu(64, 192, 3, padding=1)
    layers["norm2"] = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    layers["pool2"] = nn.MaxPool2d(3, stride=2, ceil_mode=True)                                   # 28x28
    for stage in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
        if stage in ("4a", "5a"):  # the max-pools between stages: 28 -> 14 -> 7
            layers[f"pool{int(stage[0]) - 1}"] = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        layers[f"inception{stage}"] = inception(*INCEPTION_FILTERS[stage])
        if aux_logits and stage in ("4a", "4d"):  # "on top of the output of the Inception (4a) and (4d)"
            name = "aux1" if stage == "4a" else "aux2"
            layers[name] = nn.Tap(aux_head(_out_channels(stage), num_classes, small_input))
    layers["avgpool"] = nn.GlobalAvgPool2d()  # the paper's 7x7/1 average pool
    layers["flatten"] = nn.Flatten()
    layers["dropout"] = nn.Dropout(0.4)
    layers["fc"] = nn.Linear(1024, num_classes)
    model = nn.Tapped(layers)
    _init_weights(model)
    return apply_weights(model, weights, "googlenet")


def _out_channels(stage: str) -> int:
    _, n1, _, n3, _, n5, proj = INCEPTION_FILTERS[stage]
    return n1 + n3 + n5 + proj


def _registry():
    from . import ModelSpec  # noqa: PLC0415 - the registry type lives in the package

    # small_input_size 28: the small form takes MNIST's 28x28 as is (28 -> 14 -> 7 -> 4), no padding needed
    # lr 0.005: SGD at the default 0.05 diverges from He's initialization (``_init_weights``)
    return {"googlenet": ModelSpec(googlenet, (3, 224, 224), small_input_size=28,
                                   small_kwargs={"small_input": True}, lr=0.005)}


REGISTRY = _registry()
