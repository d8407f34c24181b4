"""Pretrained inference beside PyTorch: ResNet-50, batch 1, 224x224, float32, eval mode, no autograd, and what
``tinycnn predict resnet50`` costs per image.

    python benchmarks/pretrained_inference.py [--repeat 10] [--no-agreement] [--no-predict]

One torchvision-layout ResNet-50 is built with torch.nn (tests/models/torchvision_rebuild.py; torchvision itself
is not needed) with random weights, saved as a .pth, and loaded into tinycnn with ``resnet50(weights=PATH)``:
the same weights in both engines. Reported: the load time of the file, the forward time of each engine (medians,
the two taking turns, see common.measure_interleaved) and their ratio, and the logits' agreement (max abs and
relative difference). With agreement on (the default), the same for resnet18, vgg11_bn and alexnet_torchvision
at 224x224 in float32 and float64, each loaded from a .pth (agreement only, not timed).

``tinycnn predict`` (unless --no-predict): a generated 500x375 JPEG classified through tinycnn.inference, what the
command runs (Pillow decode, torchvision's preprocessing, the forward pass, softmax, top-5), timed per image beside
the preprocessing alone, tinycnn's forward pass and torch's forward pass on the same preprocessed tensor, the four
taking turns; and the whole command (`python -m tinycnn predict resnet50 --weights FILE IMAGE`: interpreter start,
imports, reading the 98 MB .pth, one image) as wall time. Writes benchmarks/results/pretrained_inference.json.
"""
from __future__ import annotations

import argparse
import copy
import os
import subprocess
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


def _photo(folder) -> Path:
    """A 500x375 JPEG (smooth colours and noise: a photo's size and file format, not its content)."""
    from PIL import Image  # noqa: PLC0415

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:375, 0:500] / 500.0
    img = np.stack([np.sin(7 * x + 2 * y), np.cos(5 * y - 3 * x), np.sin(4 * x * y + 1)], axis=-1)
    pixels = np.clip(127.5 + 90 * img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    path = Path(folder) / "photo.jpg"
    Image.fromarray(pixels).save(path, quality=90)
    return path


def _predict(torch, ref, weights, folder, repeat) -> dict:
    """tinycnn predict resnet50 per image, and its parts, beside torch's forward on the same preprocessed tensor."""
    from tinycnn.data import pil_loader  # noqa: PLC0415
    from tinycnn.inference import classify, load_classifier  # noqa: PLC0415

    image = _photo(folder)
    t0 = time.perf_counter()
    clf = load_classifier("resnet50", weights)
    load_s = time.perf_counter() - t0
    x = clf.transform(pil_loader(str(image))).numpy()[None]          # (1, 3, 224, 224), what predict feeds
    xt, xo = torch.from_numpy(x), tc.tensor(x)
    same_top5 = [t["index"] for t in classify(clf, [str(image)])[0]["top"]]
    with torch.inference_mode():
        torch_top5 = torch.argsort(ref(xt)[0], descending=True)[:5].tolist()

    def whole():
        classify(clf, [str(image)], topk=5)

    def preprocess():
        clf.transform(pil_loader(str(image)))

    def forward():
        with tc.no_grad():
            clf.model(xo)

    def torch_forward():
        with torch.inference_mode():
            ref(xt)

    t_whole, t_pre, t_fwd, t_torch = common.measure_interleaved([whole, preprocess, forward, torch_forward],
                                                                repeat=repeat)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    walls = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tinycnn", "predict", "resnet50", "--weights", str(weights),
                        str(image)], check=True, capture_output=True, env=env)
        walls.append(time.perf_counter() - t0)
    print(f"tinycnn predict resnet50, one 500x375 JPEG, {common.THREADS} threads: {t_whole['median'] * 1e3:.0f} ms "
          f"per image (decode + preprocess {t_pre['median'] * 1e3:.0f} ms, forward {t_fwd['median'] * 1e3:.0f} "
          f"ms); torch's forward on the same tensor {t_torch['median'] * 1e3:.0f} ms "
          f"(tinycnn's whole predict / torch's forward {t_whole['median'] / t_torch['median']:.2f}x); the "
          f"command, start to end: {min(walls):.1f} s (load_classifier alone {load_s:.2f} s); same top-5 as "
          f"torch: {same_top5 == torch_top5}")
    return {"image": "500x375 JPEG", "predict_per_image": t_whole, "preprocess": t_pre, "tinycnn_forward": t_fwd,
            "torch_forward": t_torch, "ratio_predict_to_torch_forward": t_whole["median"] / t_torch["median"],
            "load_classifier_seconds": load_s, "command_wall_seconds": walls, "same_top5_as_torch":
            same_top5 == torch_top5}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--no-agreement", action="store_true", help="time ResNet-50 only")
    parser.add_argument("--no-predict", action="store_true", help="leave out the tinycnn predict timings")
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
        predict = None if args.no_predict else _predict(torch, ref, path, folder, args.repeat)
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
              "ratio": t_ours["median"] / t_torch["median"], "agreement": agreement, "predict": predict}
    print(f"wrote {common.write_results('pretrained_inference', result)}", file=sys.stderr)


if __name__ == "__main__":
    main()
