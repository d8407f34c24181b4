"""The GPU check of issue 6, in one short run on a machine with an NVIDIA GPU, CuPy and PyTorch (no network needed).

    PYTHONPATH=. python benchmarks/gpu_check.py                  # everything, about 6-8 minutes
    python benchmarks/gpu_check.py --dry-run                     # the environment and the plan, nothing measured
    python benchmarks/gpu_check.py --skip tests --skip resnet50  # rerun only some sections
    python benchmarks/gpu_check.py --mnist-npz path/to/mnist-train.npz   # (or the folder holding it)

Prints the environment (GPU, driver, CUDA runtime, CuPy, PyTorch) and then:

  tests     the test suite's GPU tests (``pytest -m gpu``: every op, LeNet-5 steps and float64 gradchecks on CuPy
            against NumPy), in a child process with a timeout; the summary line and any failures;
  lenet5    one MNIST epoch of LeNet-5 (batch 128, SGD as ``tinycnn train``), on the GPU and on the CPU: seconds
            and images/s. MNIST comes from --mnist-npz, else tinycnn's cache ($TINYCNN_CACHE or
            ~/.cache/tinycnn/mnist), else synthetic images of MNIST's shape (said so: nothing is downloaded);
  resnet18  forward+backward images/s at batch 64 on 3x224x224, tinycnn on CuPy and PyTorch on the same GPU
  resnet50  (float32 both: PyTorch's TF32 off, and its default with cuDNN's TF32 as a second row), with the peak
            GPU memory of one step of each (tinycnn: the peak of bytes in use in CuPy's memory pool, tracked
            allocation by allocation; PyTorch: ``torch.cuda.max_memory_allocated``).

Writes everything as JSON to $OUT/gpu_check.json when $OUT is set, else benchmarks/results/gpu_check.json. On a
machine without a GPU (or without CuPy) it says "no GPU", writes nothing and exits 0. Sections that would not
fit in --budget seconds are skipped and listed as such; a section that fails records its error and the run goes on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT, ROOT / "benchmarks"):  # run from a checkout without installing; torch_models sits beside this file
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

SECTIONS = ("tests", "lenet5", "resnet18", "resnet50")
# rough seconds each section needs; a section starts only when this much of the budget is left
NEEDS = {"tests": 60, "lenet5": 60, "resnet18": 60, "resnet50": 90}


# ----- environment ------------------------------------------------------------------------------------------

def probe_gpu():
    """(cupy, None) when CuPy imports and sees a CUDA GPU, else (None, the reason)."""
    try:
        import cupy  # noqa: PLC0415
    except Exception as exc:  # ImportError, or a CUDA library that fails to load
        return None, f"CuPy is not importable ({type(exc).__name__}: {exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"CuPy {cupy.__version__} is installed but no CUDA GPU is usable ({exc})"
    if count == 0:
        return None, f"CuPy {cupy.__version__} found no CUDA GPU"
    return cupy, None


def _cuda_version(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}"


def environment(cupy) -> dict:
    import numpy as np  # noqa: PLC0415

    import tinycnn  # noqa: PLC0415

    env = {"python": platform.python_version(), "numpy": np.__version__, "tinycnn": tinycnn.__version__,
           "machine": platform.machine(), "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        env["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                           text=True, timeout=10).stdout.strip() or None
    except Exception:
        env["git_commit"] = None
    if cupy is not None:
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        env.update(gpu=name.decode() if isinstance(name, bytes) else str(name),
                   gpu_memory_gib=round(props["totalGlobalMem"] / 2**30, 1),
                   gpu_count=cupy.cuda.runtime.getDeviceCount(),
                   cuda_driver_api=_cuda_version(cupy.cuda.runtime.driverGetVersion()),
                   cuda_runtime=_cuda_version(cupy.cuda.runtime.runtimeGetVersion()),
                   cupy=cupy.__version__, cupy_tf32=os.environ.get("CUPY_TF32", "0"))
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=15).stdout.strip()
        env["nvidia_driver"] = out.splitlines()[0] if out else None
    except Exception:
        env["nvidia_driver"] = None
    try:
        import torch  # noqa: PLC0415

        env.update(torch=torch.__version__, torch_cuda=torch.version.cuda,
                   torch_cuda_available=torch.cuda.is_available(),
                   cudnn=torch.backends.cudnn.version() if torch.cuda.is_available() else None)
    except Exception as exc:
        env.update(torch=None, torch_error=f"{type(exc).__name__}: {exc}")
    return env


# ----- (a) the GPU tests ------------------------------------------------------------------------------------

def run_gpu_tests(timeout: float) -> dict:
    """``pytest -m gpu -q`` in a child process; the summary line, the failures, the exit code."""
    import importlib.util  # noqa: PLC0415

    missing = [m for m in ("pytest", "hypothesis") if importlib.util.find_spec(m) is None]
    if missing:
        return {"summary": f"NOT RUN: {', '.join(missing)} not installed here (pip install 'tinycnn[test]')",
                "returncode": None, "failures": [], "tail": "", "seconds": 0.0}
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "-rfE", "tests"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stdout or b"")[-3000:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return {"summary": f"TIMED OUT after {timeout:.0f} s", "returncode": None, "tail": tail,
                "seconds": time.perf_counter() - start}
    lines = proc.stdout.strip().splitlines()
    summary = next((l for l in reversed(lines) if re.search(r"\d+ (passed|failed|error|skipped|deselected)", l)),
                   lines[-1] if lines else "(no output)")
    failures = [l for l in lines if l.startswith(("FAILED", "ERROR"))]
    return {"summary": summary.strip("= "), "returncode": proc.returncode, "failures": failures[:40],
            "tail": "" if proc.returncode == 0 else (proc.stdout[-4000:] + proc.stderr[-2000:]),
            "seconds": time.perf_counter() - start}


# ----- (b) LeNet-5, one MNIST epoch -------------------------------------------------------------------------

def load_mnist_train(path):
    """(images uint8 (N, 28, 28), labels int64 (N,), where from). Never downloads."""
    import numpy as np  # noqa: PLC0415

    candidates = []
    if path:
        p = Path(path).expanduser()
        candidates.append(p / "mnist-train.npz" if p.is_dir() else p)
    if os.environ.get("TINYCNN_CACHE"):
        candidates.append(Path(os.environ["TINYCNN_CACHE"]) / "mnist-train.npz")
    candidates.append(Path.home() / ".cache" / "tinycnn" / "mnist" / "mnist-train.npz")
    for c in candidates:
        if c.is_file():
            with np.load(c) as z:
                images, labels = z["images"], z["labels"].astype(np.int64)
            if images.shape[1:] == (28, 28) and images.dtype == np.uint8 and len(images) == len(labels):
                return images, labels, f"MNIST from {c}"
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 60000),
            "SYNTHETIC images of MNIST's shape (no MNIST file found: pass --mnist-npz); accuracy is meaningless")


def lenet_epoch(images, labels, device: str, max_seconds: float, sync) -> dict:
    """One epoch of LeNet-5 as ``tinycnn train`` runs it (batch 128, SGD momentum 0.9, lr 0.05, weight decay 5e-4,
    a loss.item() per step), after a few warm-up steps (CuPy compiles its kernels on first use). Stops early,
    saying so, past ``max_seconds``."""
    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415
    from tinycnn import backend, optim  # noqa: PLC0415
    from tinycnn.data import DataLoader, normalize  # noqa: PLC0415
    from tinycnn.models import lenet5  # noqa: PLC0415

    tc.manual_seed(0)
    model = lenet5().to(device)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loader = DataLoader(images, labels, batch_size=128, shuffle=True, seed=0, transform=normalize)

    def step(xb, yb):
        x = tc.Tensor(backend.to_device(xb, device))
        y = backend.to_device(yb, device)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item(), int((logits.data.argmax(axis=1) == y).sum())

    warm = iter(DataLoader(images[:640], labels[:640], batch_size=128, transform=normalize))
    for xb, yb in warm:
        step(xb, yb)
    sync()
    seen = correct = 0
    loss_sum = 0.0
    start = time.perf_counter()
    complete = True
    for xb, yb in loader:
        loss, ok = step(xb, yb)
        seen, correct, loss_sum = seen + len(yb), correct + ok, loss_sum + loss * len(yb)
        if time.perf_counter() - start > max_seconds:
            complete = False
            break
    sync()
    seconds = time.perf_counter() - start
    return {"device": device, "images": seen, "complete_epoch": complete, "seconds": seconds,
            "images_per_second": seen / seconds, "epoch_seconds_estimate": len(images) / (seen / seconds),
            "train_loss": loss_sum / seen, "train_accuracy": correct / seen}


# ----- (c) ResNets: tinycnn on CuPy against PyTorch on the same GPU ------------------------------------------

def _median_step_seconds(step, sync, warmup: int, repeat: int, max_seconds: float) -> dict:
    for _ in range(warmup):
        step()
    sync()
    times = []
    start = time.perf_counter()
    while len(times) < repeat and (not times or time.perf_counter() - start < max_seconds):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "steps": len(times)}


def tinycnn_resnet(name: str, cupy, batch: int, max_seconds: float) -> dict:
    import numpy as np  # noqa: PLC0415

    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415
    from tinycnn.models import get_model  # noqa: PLC0415

    tc.manual_seed(0)
    model = get_model(name, num_classes=1000, in_channels=3).to("cuda")
    model.train()
    rng = np.random.default_rng(0)
    x = tc.Tensor(cupy.asarray(rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)))
    y = cupy.asarray(rng.integers(0, 1000, batch))

    def step():
        model.zero_grad()
        out = model(x)
        F.cross_entropy(out[0] if isinstance(out, tuple) else out, y).backward()

    sync = cupy.cuda.Device().synchronize
    timing = _median_step_seconds(step, sync, warmup=1, repeat=5, max_seconds=max_seconds)
    # peak of bytes in use: wrap the pool's malloc for one more (untimed) step; used bytes only grow at a malloc
    pool = cupy.get_default_memory_pool()
    model.zero_grad()
    sync()
    peak = [pool.used_bytes()]

    def tracking_malloc(size):
        mem = pool.malloc(size)
        peak[0] = max(peak[0], pool.used_bytes())
        return mem

    cupy.cuda.set_allocator(tracking_malloc)
    try:
        step()
        sync()
    finally:
        cupy.cuda.set_allocator(pool.malloc)
    result = {"engine": "tinycnn (CuPy)", "images_per_second": batch / timing["median_s"], **timing,
              "peak_gpu_bytes": peak[0], "pool_total_bytes": pool.total_bytes()}
    del model, x, y
    pool.free_all_blocks()
    return result


def torch_resnet(name: str, batch: int, max_seconds: float, tf32: bool) -> dict:
    import torch  # noqa: PLC0415

    import torch_models  # noqa: PLC0415  (benchmarks/, on sys.path when run as a script)

    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # PyTorch's default; cuDNN's TF32 is on by default
    torch.manual_seed(0)
    model = torch_models.MODELS[name](torch).cuda().train()
    x = torch.randn(batch, 3, 224, 224, device="cuda")
    y = torch.randint(0, 1000, (batch,), device="cuda")

    def step():
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()

    timing = _median_step_seconds(step, torch.cuda.synchronize, warmup=3, repeat=10, max_seconds=max_seconds)
    model.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    result = {"engine": "PyTorch" + (" (cuDNN TF32, its default)" if tf32 else " (float32, TF32 off)"),
              "images_per_second": batch / timing["median_s"], **timing,
              "peak_gpu_bytes": torch.cuda.max_memory_allocated(), "reserved_bytes": torch.cuda.max_memory_reserved()}
    del model, x, y
    torch.cuda.empty_cache()
    return result


# ----- the run ----------------------------------------------------------------------------------------------

def _gib(b):
    return "-" if b is None else f"{b / 2**30:6.2f} GiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the environment and the plan, measure nothing")
    parser.add_argument("--budget", type=float, default=450, help="seconds for the whole run (default 450)")
    parser.add_argument("--tests-timeout", type=float, default=210, help="seconds for the GPU tests (default 210)")
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS, help="a section to skip")
    parser.add_argument("--mnist-npz", help="mnist-train.npz (images, labels) or the folder holding it")
    parser.add_argument("--batch", type=int, default=64, help="ResNet batch size (default 64)")
    parser.add_argument("--cpu-seconds", type=float, default=60,
                        help="cap on the CPU LeNet-5 epoch; images/s is measured over what ran (default 60)")
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # a run cut short by a timeout still shows what it printed

    def left():
        return args.budget - (time.perf_counter() - t_start)

    cupy, reason = probe_gpu()
    env = environment(cupy)
    print("environment:")
    for k, v in env.items():
        print(f"  {k:22s} {v}")
    if cupy is None:
        print(f"\nno GPU: {reason}. Nothing to measure here; run this script on a machine with an NVIDIA GPU and "
              f"CuPy (pip install 'tinycnn[gpu]').")
        return 0
    plan = [s for s in SECTIONS if s not in args.skip]
    if args.dry_run:
        print(f"\ndry run: would run {', '.join(plan)} within {args.budget:.0f} s")
        return 0

    results = {"environment": env, "sections": {}, "skipped": {}}
    failed = False
    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "benchmarks" / "results"
    path = out_dir / "gpu_check.json"

    def save():  # after every section: a run cut short keeps what it measured
        results["total_seconds"] = time.perf_counter() - t_start
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2, default=str))
        os.replace(tmp, path)

    def section(name, fn):
        nonlocal failed
        if name not in plan:
            results["skipped"][name] = "--skip"
            return None
        if left() < NEEDS[name]:
            results["skipped"][name] = f"out of time ({left():.0f} s of the budget left)"
            print(f"\n[{name}] skipped: {results['skipped'][name]}")
            return None
        print(f"\n[{name}]", flush=True)
        t0 = time.perf_counter()
        try:
            out = fn()
        except Exception as exc:
            failed = True
            out = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
            print(out["traceback"])
        out["section_seconds"] = time.perf_counter() - t0
        results["sections"][name] = out
        save()
        return out

    # (a) the GPU tests
    def tests():
        r = run_gpu_tests(timeout=max(30.0, min(args.tests_timeout, left() - 150)))
        print(f"  pytest -m gpu: {r['summary']}  ({r['seconds']:.0f} s)")
        for line in r.get("failures", []):
            print(f"    {line}")
        if r["returncode"] not in (0, 5):
            print(r["tail"][-2000:])
        return r

    r = section("tests", tests)
    if r is not None and r.get("returncode") != 0:  # failures, a timeout, or no GPU test collected (5)
        failed = True

    # (b) LeNet-5, one MNIST epoch, GPU then CPU
    def lenet():
        images, labels, source = load_mnist_train(args.mnist_npz)
        print(f"  data: {source}")
        gpu = lenet_epoch(images, labels, "cuda", max_seconds=max(20.0, left() - 200), sync=cupy.cuda.Device().synchronize)
        cpu = lenet_epoch(images, labels, "cpu", max_seconds=min(args.cpu_seconds, max(10.0, left() - 150)),
                          sync=lambda: None)
        for r in (gpu, cpu):
            part = "" if r["complete_epoch"] else f" (stopped after {r['images']} images; epoch time estimated)"
            print(f"  {r['device']:5s} {r['images_per_second']:9.0f} images/s   epoch {r['epoch_seconds_estimate']:6.1f} s"
                  f"   train acc {100 * r['train_accuracy']:.2f}%{part}")
        speedup = gpu["images_per_second"] / cpu["images_per_second"]
        print(f"  GPU / CPU: {speedup:.1f}x")
        return {"data": source, "gpu": gpu, "cpu": cpu, "gpu_speedup": speedup}

    section("lenet5", lenet)

    # (c) ResNets, tinycnn on CuPy next to PyTorch on the same GPU
    def resnet(name):
        def run():
            rows = [tinycnn_resnet(name, cupy, args.batch, max_seconds=30)]
            try:
                rows.append(torch_resnet(name, args.batch, max_seconds=20, tf32=False))
                rows.append(torch_resnet(name, args.batch, max_seconds=20, tf32=True))
            except ImportError as exc:
                print(f"  PyTorch unavailable ({exc}): no peer rows")
            tiny = rows[0]["images_per_second"]
            print(f"  {name}, batch {args.batch}, 3x224x224, forward+backward:")
            for row in rows:
                ratio = row["images_per_second"] / tiny
                row["speed_vs_tinycnn"] = ratio
                print(f"    {row['engine']:36s} {row['images_per_second']:8.1f} images/s  "
                      f"({1e3 * row['median_s']:7.1f} ms/step, {ratio:5.2f}x tinycnn)  peak {_gib(row['peak_gpu_bytes'])}")
            return {"batch": args.batch, "rows": rows}
        return run

    section("resnet18", resnet("resnet18"))
    section("resnet50", resnet("resnet50"))

    save()
    print("\nsummary:")
    sec = results["sections"]
    if "tests" in sec:
        print(f"  GPU tests: {sec['tests'].get('summary', sec['tests'].get('error'))}")
    if "lenet5" in sec and "gpu" in sec["lenet5"]:
        g, c = sec["lenet5"]["gpu"], sec["lenet5"]["cpu"]
        print(f"  LeNet-5 MNIST epoch: GPU {g['epoch_seconds_estimate']:.1f} s ({g['images_per_second']:.0f} images/s), "
              f"CPU {c['epoch_seconds_estimate']:.1f} s ({c['images_per_second']:.0f} images/s): "
              f"{sec['lenet5']['gpu_speedup']:.1f}x")
    for name in ("resnet18", "resnet50"):
        for row in sec.get(name, {}).get("rows", []):
            print(f"  {name} b{args.batch}: {row['engine']:36s} {row['images_per_second']:8.1f} images/s, "
                  f"peak {_gib(row['peak_gpu_bytes'])}")
    for name, why in results["skipped"].items():
        print(f"  {name}: skipped ({why})")
    print(f"\nwrote {path} ({results['total_seconds']:.0f} s in all)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
