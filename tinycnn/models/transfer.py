"""Transfer learning: a pretrained network's head replaced for your classes, its backbone frozen.

    from tinycnn.models import resnet18
    from tinycnn.models.transfer import replace_head, freeze_backbone
    model = resnet18(weights="resnet18-f37072fd.pth")
    freeze_backbone(model)                        # = model.requires_grad_(False): backward and optimizers skip it
    replace_head(model, 5)                        # = model.fc = nn.Linear(512, 5): new, trainable
    optimizer = SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)

These are the two lines of PyTorch's transfer-learning tutorial ("ConvNet as fixed feature extractor") wrapped so
that the command line can do them for any registered network: :func:`head_name` finds the classifier
(``fc`` of the ResNets, ``classifier.6`` of VGG and AlexNet, the last layer of a Sequential such as ``lenet5``).
Batch norms still normalize with each batch's statistics in training mode and update their running ones unless
they are frozen too (``tinycnn.nn.utils.freeze_batch_norm``).

:func:`pretrained` builds a registered network from a weight file for fine-tuning: the file's own number of classes
(read from its head's shape: 1000 for torchvision's files, k for a network fine-tuned before), then the head
replaced by one of ``num_classes`` outputs. A training checkpoint records what :func:`rebuild` needs to make
the same network again (the network, the file's classes, the new head, what was frozen).
"""
from __future__ import annotations

import numpy as np

from .. import nn

__all__ = ["head_name", "replace_head", "freeze_backbone", "trainable_parameters", "pretrained", "rebuild",
           "transfer_record"]


def _children(module):
    return list(module._modules.items())


def head_name(model, name: str | None = None) -> str:
    """The dotted name of ``model``'s classifier layer, the ``nn.Linear`` whose outputs are the logits: ``"fc"``
    (ResNets), ``"classifier.6"`` (VGG, AlexNet), the last child of a Sequential ending in a Linear ("11" for
    lenet5). Raises ValueError for a network without one such head: auxiliary classifiers (GoogLeNet's aux1/aux2
    would keep their old classes), an output layer that is not a Linear (lenet5_paper's RBF units); the message
    names the network as ``name`` (default: its class name)."""
    kind = name or type(model).__name__
    if any(name.startswith("aux") for name, _ in _children(model)):
        raise ValueError(f"{kind} has auxiliary classifiers besides its head: replace each yourself "
                         f"(model.fc and model.aux1/aux2's last layers) or build it with num_classes=")
    fc = getattr(model, "fc", None)
    if isinstance(fc, nn.Linear):
        return "fc"
    classifier = getattr(model, "classifier", None)
    if isinstance(classifier, nn.Sequential) and _children(classifier) and \
            isinstance(_children(classifier)[-1][1], nn.Linear):
        return f"classifier.{_children(classifier)[-1][0]}"
    if isinstance(model, nn.Sequential) and _children(model) and isinstance(_children(model)[-1][1], nn.Linear):
        return _children(model)[-1][0]
    raise ValueError(f"{kind}: no classifier head found (a last nn.Linear at .fc, .classifier[-1] or the end of a "
                     f"Sequential); replace the output layer yourself")


def _parent_of(model, dotted: str):
    parent = model
    *path, last = dotted.split(".")
    for part in path:
        parent = getattr(parent, part)
    return parent, last


def replace_head(model, num_classes: int):
    """Replace ``model``'s head (:func:`head_name`) by a new ``nn.Linear(in_features, num_classes)`` with the old
    head's bias setting, dtype and device, freshly initialized (PyTorch's Linear init) and trainable; returns
    ``model``. The same as ``model.fc = nn.Linear(model.fc.in_features, num_classes)``.
    Raises ValueError for num_classes < 1 or a model without a head."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"replace_head: num_classes must be an int >= 1, got {num_classes!r}")
    name = head_name(model)
    parent, last = _parent_of(model, name)
    old = getattr(parent, last)
    new = nn.Linear(old.in_features, int(num_classes), bias=old.bias is not None, dtype=old.weight.dtype)
    setattr(parent, last, new.to(old.weight.device))
    return model


def freeze_backbone(model):
    """``requires_grad_(False)`` for every parameter but the head's (:func:`head_name`): backward computes no
    gradient for them and optimizers skip them. Batch-norm statistics are not frozen by this (use
    ``tinycnn.nn.utils.freeze_batch_norm``). Returns ``model``."""
    head = head_name(model)
    model.requires_grad_(False)
    _parent_of(model, head)[0]._modules[head.split(".")[-1]].requires_grad_(True)
    return model


def trainable_parameters(model) -> list:
    """The parameters that require grad, in ``model.parameters()`` order: what to give an optimizer."""
    return [p for p in model.parameters() if p.requires_grad]


def _file_classes(model, state) -> int | None:
    """The number of outputs of the head in a state dict (None when the file has no such key)."""
    key = head_name(model) + ".weight"
    value = state.get(key)
    shape = np.shape(getattr(value, "data", value)) if value is not None else ()
    return int(shape[0]) if len(shape) == 2 else None


def pretrained(name: str, weights, num_classes: int, *, freeze: bool = False, freeze_bn: bool = False,
               model_args: dict | None = None):
    """``(model, record)``: network ``name`` loaded strictly from ``weights`` (a path or state dict) with the
    file's own classes, then its head replaced by a new one of ``num_classes`` outputs (always, even when the
    file has as many: a new task gets a new head; continue a run with ``resume`` instead), the
    backbone frozen (``freeze``) and its batch norms frozen to their statistics (``freeze_bn``).

    ``record`` (:func:`transfer_record`) is what :func:`rebuild` takes to build the same network again without
    the weight file (a checkpoint then supplies all the weights). Raises what ``load_weights`` raises for a file
    that does not fit (naming keys and shapes), ValueError for a network without a single head."""
    from ..weights import load_file, load_weights  # noqa: PLC0415 - reading files only when asked
    from . import get_model  # noqa: PLC0415

    args = dict(model_args or {})
    state = load_file(weights) if not hasattr(weights, "items") else weights
    model = get_model(name, **args)
    head_name(model, name)  # a network without one head: say so before reading anything more
    file_classes = _file_classes(model, state)
    if file_classes is not None and file_classes != _out(model):  # e.g. a network fine-tuned before
        args["num_classes"] = file_classes
        model = get_model(name, **args)
    load_weights(model, state, model_name=name, source=None if hasattr(weights, "items") else str(weights))
    record = transfer_record(args, head_name(model), num_classes, freeze, freeze_bn)
    return apply_record(model, record), record


def _out(model) -> int:
    parent, last = _parent_of(model, head_name(model))
    return getattr(parent, last).out_features


def transfer_record(model_args: dict, head: str, num_classes: int, freeze: bool, freeze_bn: bool) -> dict:
    """The JSON-able description of a fine-tuned network: {"pretrained_args" (the constructor's arguments of the
    network the weights were made for), "head" (the layer replaced), "num_classes" (its new outputs),
    "freeze_backbone", "freeze_batch_norm"}."""
    return {"pretrained_args": dict(model_args), "head": head, "num_classes": int(num_classes),
            "freeze_backbone": bool(freeze), "freeze_batch_norm": bool(freeze_bn)}


def apply_record(model, record: dict):
    """Replace the head, freeze batch norms and the backbone as ``record`` says; returns ``model``."""
    from ..nn.utils import freeze_batch_norm  # noqa: PLC0415

    if head_name(model) != record["head"]:
        raise ValueError(f"the transfer record names the head {record['head']!r}, but this network's is "
                         f"{head_name(model)!r}")
    replace_head(model, record["num_classes"])
    if record["freeze_batch_norm"]:
        freeze_batch_norm(model)
    if record["freeze_backbone"]:
        freeze_backbone(model)
    return model


def rebuild(name: str, record: dict):
    """The fine-tuned network a :func:`transfer_record` describes, with fresh weights (load a checkpoint's state
    dict into it): ``get_model(name, **pretrained_args)``, then :func:`apply_record`."""
    from . import get_model  # noqa: PLC0415

    return apply_record(get_model(name, **record["pretrained_args"]), record)
