"""Forward + backward of each full-size ImageNet network at batch 1 on the CPU: seconds and peak memory.

    python benchmarks/full_size.py [--models alexnet,vgg16,...] [--batch 1]

Each network runs in a fresh process (benchmarks/memory.py) so its peak resident memory is its own; the model's
weights are included in "baseline" and the forward+backward's own memory in "delta". Writes
benchmarks/results/full_size.json.
"""
from __future__ import annotations

import argparse
import sys

import common

# name and the input side it is defined for (AlexNet's paper form needs 227: see tinycnn/models/alexnet.py)
MODELS = [("alexnet", 227), ("alexnet_torchvision", 224), ("vgg11", 224), ("vgg16", 224), ("vgg19", 224),
          ("googlenet", 224), ("resnet18", 224), ("resnet34", 224), ("resnet50", 224), ("resnet101", 224),
          ("resnet152", 224)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(m for m, _ in MODELS))
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    sizes = dict(MODELS)
    rows = []
    print(f"{'model':<22} {'fwd+bwd s':>10} {'weights+imports MiB':>20} {'peak MiB':>9} {'fwd+bwd MiB':>12}")
    for name in args.models.split(","):
        r = common.run_child(["benchmarks/memory.py", "--engine", "tinycnn", "--model", name,
                              "--batch", str(args.batch), "--size", str(sizes.get(name, 224))])
        rows.append(r)
        print(f"{name:<22} {r['seconds']:10.2f} {r['baseline_mb']:20.0f} {r['peak_mb']:9.0f} {r['delta_mb']:12.0f}",
              flush=True)
    path = common.write_results("full_size", {"batch": args.batch, "rows": rows})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
