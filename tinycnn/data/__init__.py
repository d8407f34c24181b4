"""Data: the IDX file format, MNIST / Fashion-MNIST loading (sources, checksums, cache), and batching.

    from tinycnn.data import load_mnist, DataLoader, normalize
    images, labels = load_mnist("train")                  # uint8 (60000, 28, 28), int64 (60000,)
    loader = DataLoader(images, labels, batch_size=128, shuffle=True, seed=0, transform=normalize)
    for x, y in loader:                                   # x float32 (128, 1, 28, 28), y int64 (128,)
        ...
"""

from .idx import read_idx, read_idx_header, write_idx
from .loader import MNIST_MEAN, MNIST_STD, DataLoader, normalize, random_crop, random_hflip
from .mnist import last_source, load_dataset, load_fashion_mnist, load_mnist

__all__ = [
    "read_idx", "write_idx", "read_idx_header",
    "load_mnist", "load_fashion_mnist", "load_dataset", "last_source",
    "DataLoader", "normalize", "MNIST_MEAN", "MNIST_STD", "random_crop", "random_hflip",
]
