"""``tinycnn predict MODEL --weights FILE IMAGE...``: the top classes of photos (:mod:`tinycnn.inference`)."""
from __future__ import annotations

import argparse
import json
import os
import sys

from ._cli_args import _device, _existing_file, _positive_int

_EPILOG = """weights: torchvision's ImageNet files (https://download.pytorch.org/models/..., listed in the README's
"Pretrained weights"; tinycnn downloads none by itself), the same converted to .safetensors or .npz, or the
checkpoint.npz of `tinycnn train MODEL --dataset folder` (its classes and sizes come with it).

preprocessing: torchvision's for its classification weights: the shorter side resized to 256 (232 for its V2
ResNet files) with Pillow's bilinear filter, the central 224x224, scaled to [0, 1], normalized with ImageNet's mean
and std. Probabilities: softmax of the logits.

example:  tinycnn predict resnet18 --weights resnet18-f37072fd.pth cat.jpg dog.png --topk 3
"""


def add_parser(sub, models) -> argparse.ArgumentParser:
    """The ``predict`` sub-command of the CLI's parser."""
    p = sub.add_parser("predict", help="top-5 classes of images with pretrained (or fine-tuned) weights",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=sorted(models), help="registered model name, e.g. resnet50")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any format Pillow reads)")
    p.add_argument("--weights", required=True, type=_existing_file, metavar="FILE",
                   help=".pth / .pt (needs PyTorch), .safetensors, .npz, or a tinycnn train checkpoint")
    p.add_argument("--topk", type=_positive_int, default=5, help="classes per image (default 5)")
    p.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N (cuda needs CuPy)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout instead of the table")
    p.add_argument("--classes", type=_existing_file, metavar="FILE",
                   help="class names, one per line (default: the checkpoint's, ImageNet's for 1000 outputs)")
    p.add_argument("--resize-size", type=_positive_int, help="shorter side before the crop (default: the file's)")
    p.add_argument("--crop-size", type=_positive_int, help="the central crop (default 224)")
    p.add_argument("--batch-size", type=_positive_int, default=16, help="images per forward pass (default 16)")
    return p


def _check_images(paths) -> None:
    """Every image path names a readable file, before any weight is read: a one-line error for the first that
    does not."""
    for path in paths:
        if os.path.isdir(path):
            raise ValueError(f"{path}: is a folder, not an image")
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such image: {path}")
        if not os.access(path, os.R_OK):
            raise ValueError(f"{path}: cannot be read (permission denied)")


def _table(results, classifier) -> str:
    lines = []
    for result in results:
        lines.append(result["image"])
        width = max(len(t["label"]) for t in result["top"])
        for t in result["top"]:
            lines.append(f"  {t['rank']}. {t['label']:<{width}}  {100 * t['probability']:6.2f}%  "
                         f"(class {t['index']})")
    return "\n".join(lines)


def run(args) -> int:
    """Classify ``args.images``; print the table (or JSON) on stdout. Errors propagate to ``cli.main``, which
    prints them in one line and exits with 2."""
    from .inference import classify, load_classifier  # noqa: PLC0415

    _check_images(args.images)
    try:
        classifier = load_classifier(args.model, args.weights, args.device, resize_size=args.resize_size,
                                     crop_size=args.crop_size, classes=args.classes)
        results = classify(classifier, args.images, topk=args.topk, batch_size=args.batch_size)
    except ImportError as e:  # Pillow (tinycnn[images]) or safetensors missing: the message names the extra
        raise ValueError(str(e)) from None
    except IsADirectoryError as e:
        raise ValueError(str(e)) from None
    try:
        _print(args, classifier, results)
    except BrokenPipeError:  # `tinycnn predict ... | head`: the reader has stopped; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own advice: no second error when stdout is flushed
    return 0


def _print(args, classifier, results) -> None:
    if args.json:
        document = {"model": args.model, "weights": classifier.source, "device": args.device,
                    "preprocessing": {**classifier.sizes, "interpolation": "bilinear (Pillow)",
                                      "mean": list(_stats(classifier)[0]), "std": list(_stats(classifier)[1])},
                    "predictions": results}
        print(json.dumps(document, indent=2), flush=True)
    else:
        print(f"{args.model} with {classifier.source}: resize {classifier.sizes['resize_size']}, centre crop "
              f"{classifier.sizes['crop_size']}, top {min(args.topk, len(classifier.classes))} of "
              f"{len(classifier.classes)} classes",
              file=sys.stderr)
        print(_table(results, classifier), flush=True)


def _stats(classifier):
    normalize = classifier.transform.transforms[-1]
    return [float(v) for v in normalize.mean], [float(v) for v in normalize.std]
