"""Data: the data sets (MNIST, Fashion-MNIST, CIFAR-10/100, your own image folders), checked at every step, the
Dataset protocol, batching, and torchvision-style transforms.

    from tinycnn.data import load_mnist, DataLoader, normalize
    images, labels = load_mnist("train")                  # uint8 (60000, 28, 28), int64 (60000,)
    loader = DataLoader(images, labels, batch_size=128, shuffle=True, seed=0, transform=normalize)
    for x, y in loader:                                   # x float32 (128, 1, 28, 28), y int64 (128,)
        ...

    from tinycnn.data import CIFAR10, ImageFolder, transforms as T     # torchvision's datasets and transforms
    train = CIFAR10(train=True, transform=T.Compose([T.RandomCrop(32, padding=4), T.ToTensor()]))
    loader = DataLoader(train, batch_size=128, shuffle=True, seed=0)   # x float32 (128, 3, 32, 32), y int64

    from tinycnn.data import imagenet_classes, imagenet_transform, pil_loader   # pretrained ImageNet networks
    x = imagenet_transform()(pil_loader("cat.jpg"))       # torchvision's preprocessing: Tensor (3, 224, 224)

``tinycnn.utils.data`` has PyTorch's names (``Dataset``, ``TensorDataset``, ``DataLoader`` giving Tensors...).
"""

from . import transforms
from .cifar import CIFAR10_CLASSES, load_cifar10, load_cifar100
from .collate import default_collate, numpy_collate
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .datasets import CIFAR10, CIFAR100, MNIST, FashionMNIST
from .folder import IMG_EXTENSIONS, ImageFolder, pil_loader
from .imagenet import imagenet_classes, imagenet_train_transform, imagenet_transform
from .idx import read_idx, read_idx_header, write_idx
from .loader import MNIST_MEAN, MNIST_STD, DataLoader, normalize, random_crop, random_hflip
from .mnist import DATASETS, last_source, load_dataset, load_fashion_mnist, load_mnist

__all__ = [
    "read_idx", "write_idx", "read_idx_header",
    "load_mnist", "load_fashion_mnist", "load_cifar10", "load_cifar100", "load_dataset", "last_source", "DATASETS",
    "CIFAR10_CLASSES",
    "Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "default_collate", "numpy_collate",
    "MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "ImageFolder", "IMG_EXTENSIONS", "pil_loader", "transforms",
    "imagenet_classes", "imagenet_transform", "imagenet_train_transform",
    "DataLoader", "normalize", "MNIST_MEAN", "MNIST_STD", "random_crop", "random_hflip",
]
