"""ResNet-20 on CIFAR-10-shaped data: training images/s of tinycnn and PyTorch side by side, in one run.

    python benchmarks/resnet20_cifar.py [--batch-size 128] [--repeat 12]

Both engines train the same network (the ResNet paper's CIFAR ResNet-20, option A shortcuts, 269,722 parameters;
PyTorch's twin is built with torch.nn in benchmarks/torch_models.py) with the paper's step: SGD, momentum 0.9,
weight decay 1e-4, lr 0.1, batch 128, float32, on the same batches: 32x32 RGB images (random pixels: the speed
does not depend on them) put through tinycnn's training transform of the recipe (per-pixel mean subtracted,
4-pixel padding, random crop, flip). One training step (forward, cross-entropy, backward, SGD update) is timed for
each engine taking turns (``common.measure_interleaved``), with the same threads (2, or BENCH_THREADS).

Also measured: tinycnn's DataLoader over 50,000 CIFAR-shaped images with that transform, for one epoch (the data
pipeline's share of an epoch), and the estimate of one training epoch of the recipe (391 steps of 128 plus the
loader). Prints a table and writes benchmarks/results/resnet20_cifar.json.
"""
from __future__ import annotations

import argparse
import sys
import time

import common
import numpy as np

STEPS_PER_EPOCH = 391  # 50,000 images in batches of 128


def tinycnn_step(batch_size: int, xb: np.ndarray, yb: np.ndarray):
    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415
    from tinycnn.models import resnet20  # noqa: PLC0415
    from tinycnn.optim import SGD  # noqa: PLC0415

    tc.manual_seed(0)
    net = resnet20(num_classes=10, in_channels=3).train()
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x, y = tc.Tensor(xb), yb

    def step():
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step, net.num_parameters()


def torch_step(torch, xb: np.ndarray, yb: np.ndarray):
    import torch_models  # noqa: PLC0415

    torch.manual_seed(0)
    net = torch_models.resnet_cifar(torch, 20).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x, y = torch.from_numpy(xb), torch.from_numpy(yb)

    def step():
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step, sum(p.numel() for p in net.parameters())


def loader_epoch_seconds(images, labels, batch_size: int, rounds: int = 3) -> float:
    """Median seconds of one pass of tinycnn's training DataLoader (the recipe's transform) over ``images``."""
    from tinycnn import recipes  # noqa: PLC0415
    from tinycnn.data import DataLoader  # noqa: PLC0415

    mean, std = recipes.input_stats("cifar10", images)
    loader = DataLoader(images, labels, batch_size=batch_size, shuffle=True, seed=0,
                        transform=recipes.train_transform("crop-flip", mean, std, 32))
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in loader:
            pass
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=12, help="timed steps per engine (default 12)")
    args = parser.parse_args()
    bs = args.batch_size

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50_000, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, 50_000)
    loader_seconds = loader_epoch_seconds(images, labels, bs)

    from tinycnn import recipes  # noqa: PLC0415

    mean, std = recipes.input_stats("cifar10", images)
    xb = recipes.train_transform("crop-flip", mean, std, 32)(images[:bs], rng=np.random.default_rng(1))
    yb = labels[:bs].astype(np.int64)
    tiny, tiny_params = tinycnn_step(bs, np.ascontiguousarray(xb), yb)
    torch = common.torch_or_none()
    fns = [tiny]
    if torch is not None:
        peer, peer_params = torch_step(torch, np.ascontiguousarray(xb), yb)
        assert peer_params == tiny_params, (peer_params, tiny_params)
        fns.append(peer)
    timings = common.measure_interleaved(fns, repeat=args.repeat, blocks=3, warmup=1)

    rows = {"tinycnn": timings[0]}
    if torch is not None:
        rows["torch"] = timings[1]
    print(f"ResNet-20 ({tiny_params:,} parameters), CIFAR-10-shaped batches of {bs}, SGD momentum 0.9, "
          f"{common.THREADS} threads, float32")
    print(f"{'engine':<9} {'ms/step':>9} {'min-max':>17} {'images/s':>9} {'s/epoch (391 steps)':>20}")
    results = {}
    for name, t in rows.items():
        ips = bs / t["median"]
        epoch = STEPS_PER_EPOCH * t["median"]
        results[name] = {"step_seconds": t, "images_per_second": ips, "epoch_seconds_steps": epoch}
        print(f"{name:<9} {t['median'] * 1e3:9.1f} {t['min'] * 1e3:8.1f}-{t['max'] * 1e3:<8.1f} {ips:9.0f} "
              f"{epoch:20.0f}")
    if torch is not None:
        results["ratio_time"] = rows["tinycnn"]["median"] / rows["torch"]["median"]
        print(f"tinycnn / PyTorch: time per step {results['ratio_time']:.2f}x, images/s "
              f"{1 / results['ratio_time']:.2f}x")
    epoch = results["tinycnn"]["epoch_seconds_steps"] + loader_seconds
    print(f"tinycnn's DataLoader (mean, pad, crop, flip) over 50,000 images: {loader_seconds:.2f} s per epoch; one "
          f"training epoch of the recipe: about {epoch / 60:.1f} min; 164 epochs (64k iterations): about "
          f"{164 * epoch / 3600:.1f} h")
    path = common.write_results("resnet20_cifar", {"batch_size": bs, "parameters": tiny_params,
                                                    "loader_epoch_seconds": loader_seconds,
                                                    "epoch_seconds_estimate": epoch, "results": results})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
