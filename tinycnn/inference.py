"""Classifying photos with a pretrained or fine-tuned network: what ``tinycnn predict`` does, from Python.

    from tinycnn.inference import load_classifier, classify
    clf = load_classifier("resnet50", "resnet50-11ad3fa6.pth")        # torchvision's file: ImageNet's 1000 classes
    for result in classify(clf, ["cat.jpg", "dog.png"], topk=5):
        print(result["image"], result["top"][0])                      # {"index": 281, "label": "tabby", ...}

Each image is read with Pillow and converted to RGB (torchvision's ``pil_loader``: greyscale, palette and RGBA
images too, the alpha channel dropped), preprocessed as torchvision preprocesses for its weights
(:func:`tinycnn.data.imagenet_transform`: shorter side resized to ``resize_size`` with Pillow's bilinear filter,
centre crop ``crop_size``, scaled to [0, 1], normalized with ImageNet's mean and std; the sizes of the weight file's
entry in ``tinycnn.weights.TORCHVISION_WEIGHTS``, 256/224 otherwise), and the network (in eval mode, no autograd)
gives logits; the probabilities are ``softmax(logits, dim=1)`` (float32, as ``logits.softmax(1)`` in PyTorch) and
the top k are listed from the most probable down (equal probabilities: the lower class index first).

A training checkpoint of ``tinycnn train MODEL --dataset folder`` works as the weights too: it brings its own
network (the replaced head), class names (the folder's) and preprocessing sizes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import backend
from . import functional as F
from .tensor import Tensor, no_grad

__all__ = ["Classifier", "load_classifier", "load_image", "preprocess", "logits_of", "top_k", "classify",
           "read_class_names"]


@dataclass
class Classifier:
    """A network ready to classify images: ``model`` (eval mode, on ``device``), ``transform`` (one PIL image ->
    float32 Tensor (3, H, W)), ``classes`` (a name per output), and ``source`` (where the weights came from)."""
    model: object
    transform: object
    classes: list
    device: str = "cpu"
    source: str = ""
    sizes: dict = field(default_factory=dict)


def load_image(path):
    """The image at ``path`` as an RGB PIL image (torchvision's default loader, :func:`tinycnn.data.pil_loader`).
    Raises FileNotFoundError ("no such image: PATH"), IsADirectoryError for a folder, ValueError naming a file
    Pillow cannot decode, ImportError naming the extra when Pillow is absent."""
    from .data.folder import pil_loader  # noqa: PLC0415

    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a folder, not an image")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such image: {path}")
    return pil_loader(path)


def preprocess(images, transform) -> np.ndarray:
    """float32 (N, 3, H, W): ``transform`` applied to each PIL image (or to the image at each path)."""
    arrays = [transform(load_image(im) if isinstance(im, (str, os.PathLike)) else im) for im in images]
    return np.stack([a.numpy() if isinstance(a, Tensor) else np.asarray(a) for a in arrays]).astype(np.float32,
                                                                                                      copy=False)


def logits_of(model, x, device: str = "cpu", batch_size: int = 16) -> np.ndarray:
    """The logits (N, K) of ``model`` in eval mode, without autograd, for float inputs ``x`` (N, C, H, W), as a
    NumPy array (computed in chunks of ``batch_size`` on ``device``)."""
    model.eval()
    out = []
    with no_grad():
        for start in range(0, len(x), batch_size):
            chunk = Tensor(backend.to_device(np.ascontiguousarray(x[start:start + batch_size]), device))
            out.append(np.asarray(backend.to_device(model(chunk).data, "cpu")))
    return np.concatenate(out)


def top_k(logits, k: int, classes) -> list:
    """For each row of ``logits`` (N, K): the ``k`` most probable classes as dicts {"rank" (1..k), "index",
    "label", "probability"}, probabilities ``softmax(logits, dim=1)`` in the logits' dtype. Raises ValueError for
    k < 1 or a class list whose length is not K (k larger than K gives all K)."""
    logits = np.asarray(logits)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k: k must be an int >= 1, got {k!r}")
    if len(classes) != logits.shape[1]:
        raise ValueError(f"top_k: {len(classes)} class names for {logits.shape[1]} outputs")
    probs = F.softmax(Tensor(logits), dim=1).numpy()
    results = []
    for row in probs:
        order = np.argsort(-row, kind="stable")[:k]
        results.append([{"rank": r + 1, "index": int(i), "label": classes[i], "probability": float(row[i])}
                        for r, i in enumerate(order)])
    return results


def classify(classifier: Classifier, images, topk: int = 5, batch_size: int = 16) -> list:
    """[{"image": path (or position), "top": top_k(...)[i]}] for each image (paths or PIL images)."""
    x = preprocess(images, classifier.transform)
    tops = top_k(logits_of(classifier.model, x, classifier.device, batch_size), topk, classifier.classes)
    return [{"image": os.fspath(im) if isinstance(im, (str, os.PathLike)) else i, "top": top}
            for i, (im, top) in enumerate(zip(images, tops))]


def read_class_names(path) -> list:
    """One class name per line of a UTF-8 text file (blank lines at the end ignored); FileNotFoundError, or
    ValueError naming the file for an empty one."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            names = f.read().rstrip("\n").split("\n")
    except FileNotFoundError:
        raise FileNotFoundError(f"no such class-names file: {path}") from None
    except (UnicodeDecodeError, IsADirectoryError) as e:
        raise ValueError(f"{path}: not a text file of class names, one per line ({type(e).__name__})") from None
    if names == [""]:
        raise ValueError(f"{path}: holds no class names (one per line expected)")
    return names


def _default_sizes(name: str, weights) -> tuple[int, int]:
    """(resize, crop): the weight file's torchvision entry, else 256/224 for 224-pixel networks, else the
    network's own input scaled the same way (crop 227 -> resize 259)."""
    from .models import INPUT_SHAPES  # noqa: PLC0415
    from .weights import lookup  # noqa: PLC0415

    entry = lookup(os.fspath(weights)) if isinstance(weights, (str, os.PathLike)) else None
    if entry is not None and entry.model == name:
        return entry.resize_size, entry.crop_size
    crop = INPUT_SHAPES[name][1]
    return int(crop * 256 / 224), crop


def _from_checkpoint(name: str, checkpoint: dict, path: str, device: str):
    """(model, classes, mean, std, resize, crop) from a training checkpoint of a folder run."""
    from .checkpoint import CheckpointError, build_model, checked_checkpoint  # noqa: PLC0415

    meta = checked_checkpoint(checkpoint, path)["meta"]
    if meta["model"] != name:
        raise ValueError(f"{path}: a checkpoint of {meta['model']}, not of {name}: run tinycnn predict "
                         f"{meta['model']} --weights {path} ...")
    if meta.get("dataset") != "folder":
        raise CheckpointError(f"{path}: a checkpoint trained on {meta.get('dataset')!r}; predict classifies "
                              "photos (a run on --dataset folder, or ImageNet weights): use tinycnn evaluate")
    return (build_model(checkpoint, path, device), list(meta["classes"]), meta["mean"], meta["std"],
            int(meta["resize_size"]), int(meta["input_size"]))


def _read_weights(weights):
    """(a training checkpoint dict or None, a state dict or None) from a path or a state dict, reading once."""
    from .checkpoint import is_checkpoint  # noqa: PLC0415
    from .serialization import load  # noqa: PLC0415
    from .weights import detect_format, load_file  # noqa: PLC0415

    if not isinstance(weights, (str, os.PathLike)):
        return None, weights
    if detect_format(weights) == "tinycnn":
        obj = load(weights, map_location="cpu")
        if is_checkpoint(obj):
            return obj, None
    return None, load_file(weights)


def load_classifier(name: str, weights, device: str = "cpu", *, resize_size: int | None = None,
                    crop_size: int | None = None, classes=None) -> Classifier:
    """Network ``name`` with ``weights`` (a .pth / .safetensors / .npz file, or a ``tinycnn train --dataset
    folder`` checkpoint) as a :class:`Classifier` on ``device``.

    The network gets the file's number of classes (its head's shape) and 3 input channels; the class names are
    ``classes`` (a list or a file with one per line) if given, else the checkpoint's folder classes, else
    ImageNet's for a 1000-class head, else "class 0", "class 1", ... . ``resize_size`` / ``crop_size`` override
    the preprocessing sizes (see the module docstring).
    Raises FileNotFoundError, WeightsFileError, WeightsMismatchError (naming keys and shapes), CheckpointError,
    ValueError (class names that do not fit), DeviceError (``cuda`` without CuPy or a GPU).
    """
    from .data.imagenet import IMAGENET_MEAN, IMAGENET_STD, imagenet_classes, imagenet_transform  # noqa: PLC0415
    from .models import get_model  # noqa: PLC0415
    from .models.transfer import _file_classes  # noqa: PLC0415
    from .weights import load_weights  # noqa: PLC0415

    if device != "cpu":
        backend.cupy_or_raise()
    mean, std, names = IMAGENET_MEAN, IMAGENET_STD, None
    checkpoint, state = _read_weights(weights)
    if checkpoint is not None:
        model, names, mean, std, resize, crop = _from_checkpoint(name, checkpoint, os.fspath(weights), device)
    else:
        model = get_model(name, in_channels=3)
        k = _file_classes(model, state)
        if k is not None and k != model_outputs(model):
            model = get_model(name, in_channels=3, num_classes=k)
        load_weights(model, state, model_name=name, source=os.fspath(weights) if isinstance(
            weights, (str, os.PathLike)) else None)
        model = model.to(device)
        resize, crop = _default_sizes(name, weights)
    k = model_outputs(model)
    if classes is not None:
        names = read_class_names(classes) if isinstance(classes, (str, os.PathLike)) else list(classes)
        if len(names) != k:
            where = f" in {os.fspath(classes)}" if isinstance(classes, (str, os.PathLike)) else ""
            raise ValueError(f"{len(names)} class names{where} for a network with {k} outputs")
    elif names is None:
        names = imagenet_classes() if k == 1000 else [f"class {i}" for i in range(k)]
    resize, crop = resize_size or resize, crop_size or crop
    transform = imagenet_transform(resize, crop, mean, std)
    return Classifier(model.eval(), transform, names, device, os.fspath(weights) if isinstance(
        weights, (str, os.PathLike)) else "a state dict", {"resize_size": resize, "crop_size": crop})


def model_outputs(model) -> int:
    """The number of classes of a network with one head (its last Linear's out_features)."""
    from .models.transfer import _out  # noqa: PLC0415

    return _out(model)

