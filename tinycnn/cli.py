"""The command line: ``tinycnn train``, ``evaluate``, ``summary`` and ``predict`` (:mod:`tinycnn.cli_predict`):
argument parsing only."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from ._cli_args import (_MAX_CLASSES, _MAX_INPUT, _device, _dot_target, _existing_dir, _existing_file, _fraction,
                        _non_negative_float, _num_classes, _positive_float, _positive_int, _seed, _shape)


# TrainConfig fields set by options that take a value (the rest: model, out, flags).
_TRAIN_OPTIONS = ("dataset", "epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "schedule",
                  "augment", "seed", "data_dir", "device", "train_limit", "test_limit", "weights",
                  "freeze_backbone", "freeze_batch_norm", "val_fraction", "image_size")

_TRAIN_EPILOG = """recipes: every option not given takes the recipe's value for the model and data set
(tinycnn/recipes.py). MNIST, Fashion-MNIST: 10 epochs, batch 128, lr 0.05 (the model's), cosine schedule, weight
decay 5e-4, no augmentation. CIFAR with resnet20 ... resnet110 / plain20 ... plain110: the ResNet paper's
(Sec. 4.2), 164 epochs (64k iterations), batch 128, lr 0.1 divided by 10 at 50% and 75% of the iterations
(multistep), weight decay 1e-4, 4-pixel padding with random 32x32 crops and flips, per-pixel mean subtracted;
--epochs N scales it to N epochs. Other models on CIFAR: as on MNIST, with crops and flips. All SGD with
momentum 0.9.

your own photos: --dataset folder --data-dir DIR (one sub-folder per class, or train/ and val/ holding them; without
val/, --val-fraction of each class, 0.2 by default, is held out for validation), at ImageNet's preprocessing
(--image-size, 224; RandomResizedCrop and flips for training). Fine-tuning: --weights FILE (torchvision's .pth,
.safetensors, .npz) replaces the network's head by one for the folder's classes; --freeze-backbone trains that
head only, --freeze-batch-norm keeps the batch norms' pretrained statistics. Recipe (PyTorch's transfer-learning
tutorial): 25 epochs, batch 4, lr 0.001, no weight decay, lr x0.1 every third of the run (from scratch: batch 32,
the model's lr, 5e-4, cosine).

outputs: OUT (default runs/MODEL) receives checkpoint.npz, metrics.json and curves.png, rewritten after every
epoch. A folder that already holds a run is never replaced silently: train refuses, unless --resume (continue
that run from its last checkpoint; a folder without one starts a new run) or --overwrite (replace it).
With --resume the run's own settings are used for every option not given; an option given must match them.

interrupting: Ctrl-C (SIGINT) or SIGTERM stops at once, keeps the last checkpoint (end of the last finished
epoch) and exits with 128 + the signal number (130, 143); `tinycnn train MODEL --resume` (same --out) then
ends with the same weights and metrics as a run never interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    from .models import MODELS  # noqa: PLC0415
    from .runconfig import AUGMENTS, DATASETS, SCHEDULES  # noqa: PLC0415
    from .train import TrainConfig  # noqa: PLC0415

    d = TrainConfig()
    parser = argparse.ArgumentParser(prog="tinycnn", description="Train, evaluate and inspect tinycnn's CNNs.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model on MNIST, Fashion-MNIST, CIFAR-10 or CIFAR-100",
                           epilog=_TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("model", choices=sorted(MODELS), help="registered model name")
    train.add_argument("--dataset", choices=list(DATASETS), help=f"(default {d.dataset})")
    train.add_argument("--epochs", type=_positive_int, help="(default: the recipe's, 10; 164 for the CIFAR ResNets)")
    train.add_argument("--batch-size", type=_positive_int, help="(default: the recipe's, 128)")
    train.add_argument("--lr", type=_positive_float,
                       help="initial learning rate (default: the recipe's: the model's, 0.05 for most, 0.002 for "
                            "lenet5_paper; 0.1 for the CIFAR ResNets on CIFAR)")
    train.add_argument("--optimizer", choices=["sgd", "adam"], help=f"(default {d.optimizer})")
    train.add_argument("--momentum", type=_non_negative_float, help="(default: the recipe's, 0.9)")
    train.add_argument("--weight-decay", type=_non_negative_float,
                       help="(default: the recipe's, 5e-4; 1e-4 for the CIFAR ResNets on CIFAR)")
    train.add_argument("--schedule", choices=list(SCHEDULES),
                       help="(default: the recipe's, cosine; multistep for the CIFAR ResNets on CIFAR)")
    train.add_argument("--augment", choices=list(AUGMENTS),
                       help="crop-flip: 4-pixel padding, random crop, horizontal flip (default: the recipe's, "
                            "crop-flip on CIFAR, none on the MNISTs)")
    train.add_argument("--seed", type=_seed, help=f"(default {d.seed})")
    train.add_argument("--data-dir", type=_existing_dir,
                       help="folder holding the dataset's files in their official layout (else TINYCNN_DATA, the "
                            "cache, then the download)")
    train.add_argument("--no-verify", action="store_true",
                       help="load files in --data-dir that are not the official ones (a subset, your own data): "
                            "their checksums are not checked (a warning says so)")
    train.add_argument("--out", default=None, help="output folder (default runs/MODEL)")
    train.add_argument("--device", type=_device, help=f"cpu, cuda or cuda:N (default {d.device})")
    train.add_argument("--train-limit", type=_positive_int, help="use only the first N training images")
    train.add_argument("--test-limit", type=_positive_int, help="use only the first N test images")
    train.add_argument("--weights", type=_existing_file, metavar="FILE",
                       help="fine-tune from this weight file (--dataset folder): its head is replaced")
    train.add_argument("--freeze-backbone", action="store_true", default=None,
                       help="train only the new head (the rest: requires_grad_(False))")
    train.add_argument("--freeze-batch-norm", action="store_true", default=None,
                       help="batch norms keep the file's statistics (FrozenBatchNorm2d), also in training")
    train.add_argument("--val-fraction", type=_fraction,
                       help="--dataset folder without val/: the share of each class held out (default 0.2)")
    train.add_argument("--image-size", type=_positive_int,
                       help="--dataset folder: the crop fed to the network (default 224, the weights' own)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    what = train.add_mutually_exclusive_group()
    what.add_argument("--resume", action="store_true",
                      help="continue the run in OUT from its last checkpoint (a new run if OUT has none)")
    what.add_argument("--overwrite", action="store_true", help="replace the run in OUT")

    ev = sub.add_parser("evaluate", help="test accuracy of a saved checkpoint (validation split for a folder run)")
    ev.add_argument("checkpoint")
    ev.add_argument("--data-dir", type=_existing_dir, default=None,
                    help="the data set's folder (default: the official sources; a folder run: its own folder)")
    ev.add_argument("--device", type=_device, default="cpu")
    ev.add_argument("--batch-size", type=_positive_int, default=512)
    ev.add_argument("--no-verify", action="store_true", help="as for train: files that are not the official ones")

    from .cli_predict import add_parser as add_predict  # noqa: PLC0415

    add_predict(sub, MODELS)

    summ = sub.add_parser("summary", help="layer table: output shapes, parameters, MACs")
    summ.add_argument("model", choices=sorted(MODELS))
    summ.add_argument("--input", type=_shape, default=None,
                      help=f"C,H,W (default: the model's own input size; C*H*W at most {_MAX_INPUT:,})")
    summ.add_argument("--num-classes", type=_num_classes, default=None, help=f"1 to {_MAX_CLASSES:,}")
    summ.add_argument("--dot", type=_dot_target, default=None, metavar="PATH",
                      help="also write the layer graph as Graphviz DOT to PATH (and an SVG if `dot` is installed), "
                           "in an existing folder")
    return parser


def _train_config(args):
    """The TrainConfig of ``tinycnn train``: options given, else (with --resume) the run's own, else defaults."""
    from .runconfig import RESUMABLE_FIELDS  # noqa: PLC0415
    from .runfolder import saved_config  # noqa: PLC0415
    from .train import TrainConfig  # noqa: PLC0415

    out = args.out if args.out is not None else f"runs/{args.model}"  # --out '' is refused as TrainConfig(out="")
    values = {}
    if args.resume:  # the checkpoint's settings, or those of a run stopped before its first checkpoint
        saved = saved_config(Path(out)) if out else {}
        values = {k: v for k, v in saved.items() if k in _TRAIN_OPTIONS and k not in RESUMABLE_FIELDS}
        if saved.get("dataset") == "folder":  # a folder run's photos: where they were, unless --data-dir moves them
            values["data_dir"] = saved.get("data_dir")
    values.update({k: getattr(args, k) for k in _TRAIN_OPTIONS if getattr(args, k) is not None})
    return TrainConfig(model=args.model, out=out, progress=not args.no_progress, resume=args.resume,
                       overwrite=args.overwrite, verify=not args.no_verify, **values)


def _option(field: str) -> str:
    return {"progress": "--no-progress", "model": "MODEL", "verify": "--no-verify", "weights": "--weights FILE"}.get(
        field, "--" + field.replace("_", "-"))


def _one_line(message) -> str:
    """A message on one line: the lines of a multi-line one (a weight mismatch lists keys per line) joined."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .runconfig import ConfigError  # noqa: PLC0415

    try:
        if args.command == "train":
            from .train import fit  # noqa: PLC0415

            fit(_train_config(args))
        elif args.command == "evaluate":
            from .rundata import evaluation_data  # noqa: PLC0415
            from .train import evaluate, load_checkpoint  # noqa: PLC0415

            model, meta = load_checkpoint(args.checkpoint, device=args.device)
            images, labels = evaluation_data(meta, args.data_dir, verify=not args.no_verify)
            loss, acc = evaluate(model, images, labels, args.batch_size, args.device, meta["mean"], meta["std"])
            split = "validation" if meta["dataset"] == "folder" else "test"
            print(json.dumps({"checkpoint": args.checkpoint, "model": meta["model"], f"{split}_images": len(labels),
                              f"{split}_loss": round(loss, 6), f"{split}_accuracy": acc}))
            print(f"{split} accuracy {100 * acc:.2f}% on {len(labels)} images")
        elif args.command == "predict":
            from .cli_predict import run  # noqa: PLC0415

            return run(args)
        elif args.command == "summary":
            from .models import INPUT_SHAPES, get_model  # noqa: PLC0415
            from .summary import summary  # noqa: PLC0415

            kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
            shape = args.input or INPUT_SHAPES[args.model]
            if args.input:
                kwargs["in_channels"] = shape[0]
            model = get_model(args.model, **kwargs)
            print(summary(model, shape))
            if args.dot:  # the drawing of the layer graph (tinycnn.draw)
                from .draw import render  # noqa: PLC0415

                print(f"layer graph: {render(model, args.dot, input_shape=shape)}")
    except KeyboardInterrupt as exc:  # fit has said where the last good checkpoint is
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"tinycnn {args.command}: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum
    except ConfigError as exc:
        print(f"tinycnn {args.command}: error: {exc.for_option(_option(exc.field))}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"tinycnn {args.command}: error: {_one_line(message)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk that fills up, a folder that vanishes mid-run
        print(f"tinycnn {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
