"""Argument types shared by the commands of :mod:`tinycnn.cli`: each checks a value and, when it is wrong, says
what it must be and what was given (argparse adds the option's name and exits with status 2)."""
from __future__ import annotations

import argparse
import math
import os


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input must be C,H,W integers, got {text!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"--input must be three positive integers C,H,W, got {text!r}")
    if math.prod(shape) > _MAX_INPUT:  # refused before any array is made: no MemoryError half-way
        raise argparse.ArgumentTypeError(f"C*H*W must be at most {_MAX_INPUT:,} (one 1024x1024 RGB image: summary "
                                         f"runs one image through the model), got {text}")
    return shape


# summary's sizes: it runs one image through the model, whose activations and im2col buffers grow with H*W
# (VGG-16 at 3x1024x1024 needs about 2.4 GB) and whose classifier grows with the number of classes.
_MAX_INPUT = 3 * 1024 * 1024
_MAX_CLASSES = 100_000  # ImageNet-21k has 21,841


def _dot_target(text: str) -> str:
    from .draw import target_problem  # noqa: PLC0415

    problem = target_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"must be a file in an existing folder, got {text!r} ({problem[1]})")
    return text


def _checked(parse, must: str, ok):
    """An argparse type: ``parse(text)``, then ``ok(value)``; else an error naming what the option must be and the
    value given (argparse adds the option's name: "argument --batch-size: must be an integer >= 1, got '0'")."""
    def convert(text):
        try:
            value = parse(text)
        except (TypeError, ValueError):
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {must}, got {text!r}")
        return value
    convert.__name__ = must  # argparse names the type in some messages
    return convert


_positive_int = _checked(int, "an integer >= 1", lambda v: v >= 1)
_seed = _checked(int, "an integer >= 0", lambda v: 0 <= v < 2**63)
_positive_float = _checked(float, "a finite number > 0", lambda v: math.isfinite(v) and v > 0)
_non_negative_float = _checked(float, "a finite number >= 0", lambda v: math.isfinite(v) and v >= 0)
_num_classes = _checked(int, f"an integer from 1 to {_MAX_CLASSES:,} (the classifier's weights grow with it)",
                        lambda v: 1 <= v <= _MAX_CLASSES)
_fraction = _checked(float, "a number between 0 and 1 (exclusive)", lambda v: 0 < v < 1)


def _device(text: str) -> str:
    from .backend import parse_device  # noqa: PLC0415

    try:
        parse_device(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be cpu, cuda or cuda:N, got {text!r}") from None
    return text


def _existing_file(text: str) -> str:
    if not os.path.isfile(text):
        what = "is a folder" if os.path.isdir(text) else "does not exist"
        raise argparse.ArgumentTypeError(f"must be an existing file, got {text!r} (it {what})")
    return text


def _existing_dir(text: str) -> str:
    if not os.path.isdir(text):
        what = "is not a folder" if os.path.exists(text) else "does not exist"
        raise argparse.ArgumentTypeError(f"must be an existing folder, got {text!r} (it {what})")
    return text
