"""The command line: ``tinycnn train``, ``tinycnn evaluate`` and ``tinycnn summary`` (argument parsing only)."""
from __future__ import annotations

import argparse
import json
import sys


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input must be C,H,W integers, got {text!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"--input must be three positive integers C,H,W, got {text!r}")
    return shape


def build_parser() -> argparse.ArgumentParser:
    from .models import MODELS  # noqa: PLC0415
    from .train import TrainConfig  # noqa: PLC0415

    d = TrainConfig()
    parser = argparse.ArgumentParser(prog="tinycnn", description="Train, evaluate and inspect tinycnn's CNNs.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model on MNIST or Fashion-MNIST")
    train.add_argument("model", choices=sorted(MODELS), help="registered model name")
    train.add_argument("--dataset", default=d.dataset, choices=["mnist", "fashion-mnist"])
    train.add_argument("--epochs", type=int, default=d.epochs)
    train.add_argument("--batch-size", type=int, default=d.batch_size)
    train.add_argument("--lr", type=float, default=None,
                       help="initial learning rate (default: the model's, 0.05 for most, 0.002 for lenet5_paper)")
    train.add_argument("--optimizer", default=d.optimizer, choices=["sgd", "adam"])
    train.add_argument("--momentum", type=float, default=d.momentum)
    train.add_argument("--weight-decay", type=float, default=d.weight_decay)
    train.add_argument("--schedule", default=d.schedule, choices=["cosine", "step", "none"])
    train.add_argument("--seed", type=int, default=d.seed)
    train.add_argument("--data-dir", default=None, help="folder holding the IDX files (else cache, then download)")
    train.add_argument("--out", default=None, help="output folder (default runs/MODEL)")
    train.add_argument("--device", default=d.device, help="cpu, cuda or cuda:N")
    train.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    train.add_argument("--test-limit", type=int, default=None, help="use only the first N test images")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    ev = sub.add_parser("evaluate", help="test accuracy of a saved checkpoint")
    ev.add_argument("checkpoint")
    ev.add_argument("--data-dir", default=None)
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--batch-size", type=int, default=512)

    summ = sub.add_parser("summary", help="layer table: output shapes, parameters, MACs")
    summ.add_argument("model", choices=sorted(MODELS))
    summ.add_argument("--input", type=_shape, default=None, help="C,H,W (default: the model's own input size)")
    summ.add_argument("--num-classes", type=int, default=None)
    summ.add_argument("--dot", default=None, metavar="PATH",
                      help="also write the layer graph as Graphviz DOT to PATH (and an SVG if `dot` is installed)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            from .train import TrainConfig, fit  # noqa: PLC0415

            config = TrainConfig(model=args.model, dataset=args.dataset, epochs=args.epochs,
                                 batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                                 momentum=args.momentum, weight_decay=args.weight_decay, schedule=args.schedule,
                                 seed=args.seed, data_dir=args.data_dir, out=args.out or f"runs/{args.model}",
                                 device=args.device, train_limit=args.train_limit, test_limit=args.test_limit,
                                 progress=not args.no_progress)
            fit(config)
        elif args.command == "evaluate":
            from .data import load_dataset  # noqa: PLC0415
            from .train import evaluate, load_checkpoint, pad_images  # noqa: PLC0415

            model, meta = load_checkpoint(args.checkpoint, device=args.device)
            images, labels = load_dataset(meta.get("dataset", "mnist"), "test", root=args.data_dir)
            images = pad_images(images, meta.get("input_size", images.shape[-1]))
            loss, acc = evaluate(model, images, labels, args.batch_size, args.device, meta["mean"], meta["std"])
            print(json.dumps({"checkpoint": args.checkpoint, "model": meta["model"], "test_images": len(labels),
                              "test_loss": round(loss, 6), "test_accuracy": acc}))
            print(f"test accuracy {100 * acc:.2f}% on {len(labels)} images")
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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        print(f"tinycnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
