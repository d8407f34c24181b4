"""Shared benchmark helpers: thread settings, timing with warm-up and medians, peak memory in a child process.

Benchmarks never assert on time: they print a table and write JSON under benchmarks/results/. This machine is
shared and noisy, so each row is reported as a ratio to PyTorch measured in the same run, and timings are medians.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
# BLAS threads must be fixed before NumPy is imported; an idle OpenBLAS thread spinning between GEMMs makes a
# third of the runs 1.5x slower on a 2-core machine, so let it sleep soon.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(THREADS))
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "1")

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))


def torch_or_none():
    """The torch module with THREADS threads, or None (with a message) when the optional peer is absent."""
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        print("PyTorch is not installed: peer columns are empty (install it with `make peer`)", file=sys.stderr)
        return None
    torch.set_num_threads(THREADS)
    return torch


def measure(fn, repeat: int = 10, warmup: int = 2, min_seconds: float = 0.0) -> dict:
    """Call ``fn`` ``warmup`` times, then ``repeat`` times (more while under ``min_seconds``); seconds per call."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times)}


def measure_interleaved(fns, repeat: int = 10, blocks: int = 3, warmup: int = 2) -> list:
    """Time several functions taking turns: in each of ``blocks`` rounds every function is called ``warmup`` times
    untimed and then ceil(repeat / blocks) times timed; seconds per call, one dict per function.

    Why turns: this machine's speed drifts over seconds (the same code runs up to 2x slower for a while, and
    memory-bound code more than cache-bound code), so two engines timed one after the other can land in different
    states and their ratio measures the moment. In turns, both engines' samples come from the same stretches of
    time. The untimed calls after each switch are the warm-up of ``measure``: the first call after the other
    engine ran finds cold caches, sleeping BLAS threads and PyTorch's OpenMP threads still spinning (tinycnn's
    LeNet conv2 forward takes 2-5x its steady time there)."""
    blocks = min(blocks, repeat)
    per_block = -(-repeat // blocks)
    times = [[] for _ in fns]
    for _ in range(blocks):
        for fn, ts in zip(fns, times):
            for _ in range(warmup):
                fn()
            for _ in range(per_block):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
    return [{"median": statistics.median(ts), "min": min(ts), "max": max(ts), "n": len(ts)} for ts in times]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    import resource  # noqa: PLC0415

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(args: list, timeout: float = 1800) -> dict:
    """Run ``python -m benchmarks.<module> ...`` style child (a fresh process: its own peak memory) and parse the
    JSON object it prints on its last line."""
    proc = subprocess.run([sys.executable] + args, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def environment() -> dict:
    import numpy as np  # noqa: PLC0415

    env = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
           "cpus": os.cpu_count(), "threads": THREADS, "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        import torch  # noqa: PLC0415

        env["torch"] = torch.__version__
    except ImportError:
        env["torch"] = None
    return env


def write_results(name: str, payload: dict) -> Path:
    """Write ``payload`` (plus the environment) to benchmarks/results/NAME.json, atomically."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"environment": environment(), **payload}, indent=2))
    os.replace(tmp, path)
    return path


def fmt_ms(seconds) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:9.2f}"


def ratio(a, b) -> str:
    return "-" if (a is None or b is None or b == 0) else f"{a / b:5.2f}x"
