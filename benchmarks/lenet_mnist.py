"""LeNet-5 on MNIST with tinycnn and with PyTorch CPU: the same data, batch size, optimizer, schedule and threads.

    python benchmarks/lenet_mnist.py [--epochs 1] [--batch-size 128]

Each engine trains in its own fresh process (so each one's peak memory is its own) on the 60,000 training images
and is tested on the 10,000 test images. Prints seconds per epoch, images/s, test accuracy and peak resident memory
for each, and the ratios; writes benchmarks/results/lenet_mnist.json.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import common
import numpy as np


def load(batch_size):
    from tinycnn.data import load_mnist, normalize  # noqa: PLC0415

    tx, ty = load_mnist("train", verbose=False)
    vx, vy = load_mnist("test", verbose=False)
    return normalize(tx), ty, normalize(vx), vy


def cosine(lr, epoch, epochs):
    return lr * (1 + math.cos(math.pi * epoch / epochs)) / 2


def run_tinycnn(args):
    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415
    from tinycnn.models import lenet5  # noqa: PLC0415
    from tinycnn.optim import SGD  # noqa: PLC0415
    from tinycnn.train import evaluate  # noqa: PLC0415
    from tinycnn.data import load_mnist  # noqa: PLC0415

    x, y, _, _ = load(args.batch_size)
    tc.manual_seed(0)
    net = lenet5()
    opt = SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    rng = np.random.default_rng(0)
    epoch_seconds = []
    for epoch in range(args.epochs):
        order = rng.permutation(len(x))
        net.train()
        t0 = time.perf_counter()
        for start in range(0, len(x), args.batch_size):
            idx = order[start:start + args.batch_size]
            loss = F.cross_entropy(net(tc.Tensor(x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch_seconds.append(time.perf_counter() - t0)
        for group in opt.param_groups:  # tinycnn.optim has PyTorch's param_groups (no optimizer.lr)
            group["lr"] = cosine(args.lr, epoch + 1, args.epochs)
    vx, vy = load_mnist("test", verbose=False)
    _, acc = evaluate(net, vx, vy)
    return epoch_seconds, acc


def run_torch(args):
    import torch  # noqa: PLC0415
    import torch_models  # noqa: PLC0415

    torch.set_num_threads(common.THREADS)
    x, y, vx, vy = load(args.batch_size)
    x, y, vx, vy = torch.tensor(x), torch.tensor(y), torch.tensor(vx), torch.tensor(vy)
    torch.manual_seed(0)
    net = torch_models.lenet5(torch)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    rng = np.random.default_rng(0)
    epoch_seconds = []
    for epoch in range(args.epochs):
        order = torch.tensor(rng.permutation(len(x)))
        net.train()
        t0 = time.perf_counter()
        for start in range(0, len(x), args.batch_size):
            idx = order[start:start + args.batch_size]
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch_seconds.append(time.perf_counter() - t0)
        for group in opt.param_groups:
            group["lr"] = cosine(args.lr, epoch + 1, args.epochs)
    net.eval()
    with torch.no_grad():
        acc = float((net(vx).argmax(1) == vy).float().mean())
    return epoch_seconds, acc


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--engine", choices=["tinycnn", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # a child: train with one engine and print one JSON line
        seconds, acc = (run_tinycnn if args.engine == "tinycnn" else run_torch)(args)
        print(json.dumps({"engine": args.engine, "epoch_seconds": seconds, "test_accuracy": acc,
                          "peak_mb": common.peak_rss_mb()}))
        return
    child = ["benchmarks/lenet_mnist.py", "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
             "--lr", str(args.lr)]
    results = {"tinycnn": common.run_child(child + ["--engine", "tinycnn"])}
    if common.torch_or_none() is not None:
        results["torch"] = common.run_child(child + ["--engine", "torch"])
    n = 60000
    print(f"LeNet-5, MNIST, {args.epochs} epoch(s), batch {args.batch_size}, SGD momentum 0.9, "
          f"{common.THREADS} threads")
    print(f"{'engine':<9} {'s/epoch':>8} {'images/s':>9} {'test acc':>9} {'peak MiB':>9}")
    for name, r in results.items():
        sec = float(np.median(r["epoch_seconds"]))
        r["images_per_second"] = n / sec
        print(f"{name:<9} {sec:8.1f} {n / sec:9.0f} {100 * r['test_accuracy']:8.2f}% {r['peak_mb']:9.0f}")
    if "torch" in results:
        t, p = results["tinycnn"], results["torch"]
        results["ratio_time"] = float(np.median(t["epoch_seconds"]) / np.median(p["epoch_seconds"]))
        results["ratio_memory"] = t["peak_mb"] / p["peak_mb"]
        print(f"tinycnn / PyTorch: time per epoch {results['ratio_time']:.2f}x, "
              f"images/s {1 / results['ratio_time']:.2f}x, peak memory {results['ratio_memory']:.2f}x")
    path = common.write_results("lenet_mnist", {"epochs": args.epochs, "batch_size": args.batch_size,
                                                 "results": results})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
