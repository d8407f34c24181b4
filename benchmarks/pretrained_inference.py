"""Pretrained inference beside PyTorch: ResNet-50, batch 1, 224x224, float32, eval mode, no autograd.

    python benchmarks/pretrained_inference.py [--repeat 10] [--no-agreement]

One torchvision-layout ResNet-50 is built with torch.nn (tests/models/torchvision_rebuild.py; torchvision itself
is not needed) with random weights, saved as a .pth, and loaded into tinycnn with ``resnet50(weights=PATH)``:
the same weights in both engines. Reported: the load time of the file, the forward time of each engine (medians,
the two taking turns, see common.measure_interleaved) and their ratio, and the logits' agreement (max abs and
relative difference). With agreement on (the default), the same for resnet18, vgg11_bn and alexnet_torchvision
at 224x224 in float32 and float64, each loaded from a .pth (agreement only, not timed). Writes
benchmarks/results/pretrained_inference.json.
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np

import tinycnn as tc
from tinycnn.models import get_model

AGREEMENT = [("resnet18", "resnet18"), ("resnet50", "resnet50"), ("vgg11_bn", "vgg11_bn"),
             ("alexnet_torchvision", "alexnet")]


def _logits(torch, ours, ref, x):
    with tc.no_grad():
        mine = ours(tc.tensor(x)).numpy()
    with torch.no_grad():
        theirs = ref(torch.from_numpy(x)).numpy()
    diff = np.abs(mine.astype(np.float64) - theirs)
    return {"max_abs": float(diff.max()), "relative": float(diff.max() / np.abs(theirs).max()),
            "largest_logit": float(np.abs(theirs).max()), "same_top5": bool(
                (np.argsort(-mine, axis=1)[:, :5] == np.argsort(-theirs, axis=1)[:, :5]).all())}


def _load(torch, rebuild, tiny_name, tv_name, folder):
    torch.manual_seed(0)
    ref = rebuild.build(tv_name)
    path = Path(folder) / f"{tiny_name}.pth"
    torch.save(ref.state_dict(), path)
    t0 = time.perf_counter()
    ours = get_model(tiny_name, weights=path).eval()
    return ours, ref, time.perf_counter() - t0, path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--no-agreement", action="store_true", help="time ResNet-50 only")
    args = parser.parse_args()
    torch = common.torch_or_none()
    if torch is None:
        sys.exit("this benchmark needs PyTorch (make peer): it compares against it")
    from tests.models import torchvision_rebuild as rebuild  # noqa: PLC0415 - needs torch

    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        ours, ref, load_s, path = _load(torch, rebuild, "resnet50", "resnet50", folder)
        size_mb = path.stat().st_size / 2**20
        agreement = {"resnet50": {"float32": _logits(torch, ours, ref, x)}}
        xt, xo = torch.from_numpy(x), tc.tensor(x)

        def run_tinycnn():
            with tc.no_grad():
                ours(xo)

        def run_torch():
            with torch.inference_mode():
                ref(xt)

        t_ours, t_torch = common.measure_interleaved([run_tinycnn, run_torch], repeat=args.repeat)
        print(f"ResNet-50, batch 1, 224x224, float32, eval, {common.THREADS} threads: tinycnn "
              f"{t_ours['median'] * 1e3:.0f} ms, torch {t_torch['median'] * 1e3:.0f} ms "
              f"({t_ours['median'] / t_torch['median']:.2f}x); loading the {size_mb:.0f} MB .pth: {load_s:.2f} s")
        if not args.no_agreement:
            x64 = x.astype(np.float64)
            agreement["resnet50"]["float64"] = _logits(torch, ours.double(), copy.deepcopy(ref).double(), x64)
            del ours, ref
            for tiny_name, tv_name in AGREEMENT:
                if tiny_name == "resnet50":
                    continue
                m, r, _, _ = _load(torch, rebuild, tiny_name, tv_name, folder)
                agreement[tiny_name] = {"float32": _logits(torch, m, r, x)}
                agreement[tiny_name]["float64"] = _logits(torch, m.double(), r.double(), x64)
                del m, r
        for name, rows in agreement.items():
            for dtype, a in rows.items():
                print(f"  {name:<20} {dtype}: max |diff| {a['max_abs']:.2e}, relative {a['relative']:.2e} "
                      f"(largest logit {a['largest_logit']:.3g}), same top-5: {a['same_top5']}")
    result = {"model": "resnet50", "batch": 1, "size": 224, "dtype": "float32", "load_pth_seconds": load_s,
              "pth_megabytes": size_mb, "tinycnn": t_ours, "torch": t_torch,
              "ratio": t_ours["median"] / t_torch["median"], "agreement": agreement}
    print(f"wrote {common.write_results('pretrained_inference', result)}", file=sys.stderr)


if __name__ == "__main__":
    main()
