"""Peak resident memory of one forward+backward of a network, in a fresh process (one engine per process).

    python benchmarks/memory.py --engine tinycnn --model vgg16 --batch 8
prints a JSON line: baseline_mb (after imports and building the model), peak_mb, delta_mb, seconds.
"""
from __future__ import annotations

import argparse
import json
import time

import common  # noqa: F401  (sets thread counts before NumPy is imported)
import numpy as np


def run_tinycnn(model_name, batch, size):
    import tinycnn as tc  # noqa: PLC0415
    from tinycnn.models import get_model  # noqa: PLC0415
    from tinycnn.train import _outputs_and_loss  # noqa: PLC0415

    tc.manual_seed(0)
    model = get_model(model_name, num_classes=1000, in_channels=3)
    x = tc.Tensor(np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32))
    y = np.arange(batch) % 1000
    baseline = common.peak_rss_mb()
    t0 = time.perf_counter()
    _, loss = _outputs_and_loss(model(x), y)  # GoogLeNet's auxiliary heads add 0.3 x their losses
    loss.backward()
    return baseline, time.perf_counter() - t0


def run_torch(model_name, batch, size):
    import torch  # noqa: PLC0415
    import torch_models  # noqa: PLC0415

    torch.set_num_threads(common.THREADS)
    torch.manual_seed(0)
    model = torch_models.MODELS[model_name](torch)
    x = torch.randn(batch, 3, size, size)
    y = torch.arange(batch) % 1000
    baseline = common.peak_rss_mb()
    t0 = time.perf_counter()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    return baseline, time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["tinycnn", "torch"], required=True)
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    run = run_tinycnn if args.engine == "tinycnn" else run_torch
    baseline, seconds = run(args.model, args.batch, args.size)
    peak = common.peak_rss_mb()
    print(json.dumps({"engine": args.engine, "model": args.model, "batch": args.batch, "baseline_mb": baseline,
                      "peak_mb": peak, "delta_mb": peak - baseline, "seconds": seconds}))


if __name__ == "__main__":
    main()
