"""A folder of your own images as a Dataset: ``ImageFolder``, as ``torchvision.datasets.ImageFolder``.

    root/cat/0001.jpg                 ImageFolder("root").classes      == ["cat", "dog"]
    root/cat/more/0002.png            ImageFolder("root").class_to_idx == {"cat": 0, "dog": 1}
    root/dog/0003.jpeg                ImageFolder("root")[0]           == (PIL image, 0)

One sub-folder per class; the classes are the sub-folders' names sorted, their indices in that order; the samples
are every file with an image extension under each class folder (its sub-folders too, links followed), sorted by
folder then name, exactly as torchvision lists them. Images are read with Pillow (an optional extra: ``pip
install 'tinycnn[images]'``) and converted to RGB, as torchvision's default loader does; a file Pillow cannot
decode raises a ValueError naming it when it is read.
"""
from __future__ import annotations

import os

from ._image import pil_image_module
from .dataset import Dataset

__all__ = ["ImageFolder", "IMG_EXTENSIONS", "pil_loader", "default_loader", "has_file_allowed_extension"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename: str, extensions) -> bool:
    """Whether ``filename`` ends (case-insensitively) with one of ``extensions``."""
    return filename.lower().endswith(extensions if isinstance(extensions, str) else tuple(extensions))


def pil_loader(path: str):
    """The image at ``path`` as an RGB PIL image, decoded now (torchvision's ``pil_loader``).

    Raises ImportError naming the extra when Pillow is absent, ValueError naming the file when Pillow cannot
    decode it (not an image, truncated, corrupted)."""
    Image = pil_image_module()  # noqa: N806
    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            return img.convert("RGB")  # decodes the whole file: a truncated one fails here, not later
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, OSError) and not os.path.isfile(path):
            raise
        raise ValueError(f"{path}: Pillow cannot decode this file as an image ({type(e).__name__}: {e})") from None


default_loader = pil_loader


class ImageFolder(Dataset):
    """Images in one sub-folder per class (``torchvision.datasets.ImageFolder``).

    Args:
        root: the folder holding one sub-folder per class.
        transform: called on each image (an RGB PIL image), e.g. ``transforms.Compose([Resize(256),
            CenterCrop(224), ToTensor()])``.
        target_transform: called on each class index.
        loader: reads one path (default: :func:`pil_loader`).
        is_valid_file: a function of a path deciding which files are samples (instead of the image extensions).
        allow_empty: allow class folders without any valid file (else FileNotFoundError).
    Attributes: ``classes`` (sorted folder names), ``class_to_idx``, ``samples`` (list of (path, class index)),
    ``targets`` (the class indices), ``imgs`` (= samples), ``extensions``.
    Raises:
        ImportError (naming ``tinycnn[images]``) when Pillow is absent and the default loader is used;
        FileNotFoundError for a missing root, no class folder, or a class folder without images;
        ValueError (naming the file) when an image cannot be decoded, at ``dataset[i]``.
    """

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader, is_valid_file=None,
                 allow_empty: bool = False):
        if loader is pil_loader:
            pil_image_module()  # fail now, naming the extra, not at the first image
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"ImageFolder: {self.root} is not a folder")
        self.extensions = IMG_EXTENSIONS if is_valid_file is None else None
        self.classes, self.class_to_idx = self.find_classes(self.root)
        self.samples = self.make_dataset(self.root, self.class_to_idx, self.extensions, is_valid_file, allow_empty)
        self.targets = [target for _, target in self.samples]
        self.imgs = self.samples
        self.loader, self.transform, self.target_transform = loader, transform, target_transform

    @staticmethod
    def find_classes(directory: str) -> tuple[list[str], dict[str, int]]:
        """(sorted class folder names, {name: index}); FileNotFoundError when there is none."""
        classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
        if not classes:
            raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
        return classes, {name: i for i, name in enumerate(classes)}

    @staticmethod
    def make_dataset(directory: str, class_to_idx: dict, extensions=None, is_valid_file=None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        """[(path, class index)] of every valid file under each class folder, in torchvision's order."""
        if (extensions is None) == (is_valid_file is None):
            raise ValueError("Both extensions and is_valid_file cannot be None or not None at the same time")
        if extensions is not None:
            def is_valid_file(path):
                return has_file_allowed_extension(path, extensions)
        samples, found = [], set()
        for name in sorted(class_to_idx):
            folder = os.path.join(directory, name)
            if not os.path.isdir(folder):
                continue
            for dirpath, _, fnames in sorted(os.walk(folder, followlinks=True)):
                for fname in sorted(fnames):
                    path = os.path.join(dirpath, fname)
                    if is_valid_file(path):
                        samples.append((path, class_to_idx[name]))
                        found.add(name)
        empty = set(class_to_idx) - found
        if empty and not allow_empty:
            message = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
            if extensions is not None:
                message += f"Supported extensions are: {', '.join(extensions)}"
            raise FileNotFoundError(message)
        return samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __repr__(self) -> str:
        return f"Dataset ImageFolder\n    Number of datapoints: {len(self)}\n    Root location: {self.root}"

