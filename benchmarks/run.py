"""tinycnn against PyTorch on the CPU, side by side in one run: conv layers, pooling, a LeNet-5 training step,
peak memory of VGG-16 and ResNet-50 forward+backward.

    python benchmarks/run.py                # timings in this process + memory rows in child processes
    python benchmarks/run.py --processes 3  # timings in 3 fresh processes: median of the per-process ratios
    python benchmarks/run.py --quick        # fewer repeats, no memory rows

Prints a table (median ms, min-max, ratio tinycnn/PyTorch; for conv rows the GFLOP/s tinycnn reached and the share
of its time spent in the GEMMs alone; the autograd row's time per op) and writes benchmarks/results/ops.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys

import common
import numpy as np

# name, batch, in_channels, out_channels, kernel, stride, padding, size, input needs grad (a first layer does not)
CONV_ROWS = [
    ("LeNet conv1", 128, 1, 6, 5, 1, 2, 28, False),
    ("LeNet conv2", 128, 6, 16, 5, 1, 0, 14, True),
    ("ResNet 3x3 layer", 32, 64, 64, 3, 1, 1, 56, True),
    ("AlexNet conv1", 16, 3, 96, 11, 4, 0, 227, False),
]
# pooled activations: the output of the conv row named, as each engine's conv2d returns it (tinycnn's in its
# (C, H, W, N) memory order behind an NCHW view, PyTorch's NCHW): name, conv row index, kernel, stride
POOL_ROWS = [
    ("max-pool 2x2/2 (LeNet conv1 output)", 0, 2, 2),
    ("max-pool 3x3/2 (AlexNet conv1 output)", 3, 3, 2),
]


def conv_rows(torch, repeat):
    rows = []
    rng = np.random.default_rng(0)
    for name, n, cin, cout, k, s, p, size, input_grad in CONV_ROWS:
        x_np = rng.standard_normal((n, cin, size, size)).astype(np.float32)
        w_np = (rng.standard_normal((cout, cin, k, k)) * 0.1).astype(np.float32)
        b_np = np.zeros(cout, np.float32)
        ho = (size + 2 * p - k) // s + 1
        macs = n * cout * ho * ho * cin * k * k
        tiny_fwd, tiny_fwd_bwd = tiny_conv_calls(x_np, w_np, b_np, s, p, input_grad)

        # the GEMMs alone at the same shapes: what an im2col engine cannot go below
        cols = rng.standard_normal((cin * k * k, n * ho * ho)).astype(np.float32)
        wm, gm = w_np.reshape(cout, -1), np.ones((cout, n * ho * ho), np.float32)

        def gemm_fwd():
            wm @ cols

        def gemm_bwd():
            wm @ cols
            gm @ cols.T
            if input_grad:
                wm.T @ gm

        g_fwd, g_fb = common.measure(gemm_fwd, repeat), common.measure(gemm_bwd, repeat)
        torch_fwd = torch_fwd_bwd = None
        if torch is not None:
            tx = torch.tensor(x_np, requires_grad=input_grad)
            tw, tb = torch.tensor(w_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
            tg = torch.ones(n, cout, ho, ho)

            def torch_fwd():
                with torch.no_grad():
                    torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p)

            def torch_fwd_bwd():
                tw.grad = tb.grad = tx.grad = None
                torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p).backward(tg)

        t_fwd, peer_fwd = measure_pair(tiny_fwd, torch_fwd, repeat)
        t_fb, peer_fb = measure_pair(tiny_fwd_bwd, torch_fwd_bwd, repeat)
        flops_fb = 2 * macs * (3 if input_grad else 2)
        rows.append(row(f"conv {name} forward", t_fwd, peer_fwd, gflops=2 * macs / t_fwd["median"] / 1e9,
                        gemm_share=g_fwd["median"] / t_fwd["median"]))
        rows.append(row(f"conv {name} fwd+bwd", t_fb, peer_fb, gflops=flops_fb / t_fb["median"] / 1e9,
                        gemm_share=g_fb["median"] / t_fb["median"]))
    return rows


def tiny_conv_calls(x_np, w_np, b_np, stride, padding, input_grad):
    """(forward, forward+backward) of tinycnn's conv2d on these arrays, as calls without arguments.

    Each engine gets its inputs as it would inside a network: a layer's input and its output gradient come from its
    neighbours, which in tinycnn lay them out (C, H, W, N) behind an NCHW view (tinycnn/kernels/columns.py); a first
    layer (input_grad False) reads the data loader's NCHW batch."""
    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415

    x = tc.Tensor(to_chwn(x_np) if input_grad else x_np, requires_grad=input_grad)
    w, b = tc.Tensor(w_np, requires_grad=True), tc.Tensor(b_np, requires_grad=True)
    with tc.no_grad():
        g = to_chwn(np.ones(F.conv2d(x, w, b, stride=stride, padding=padding).shape, np.float32))

    def fwd():
        with tc.no_grad():
            F.conv2d(x, w, b, stride=stride, padding=padding)

    def fwd_bwd():
        w.grad = b.grad = x.grad = None
        F.conv2d(x, w, b, stride=stride, padding=padding).backward(g)

    return fwd, fwd_bwd


def to_chwn(a):
    """The same NCHW values, laid out (C, H, W, N) in memory, as tinycnn's layers pass activations."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def pool_rows(torch, repeat):
    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415

    rows = []
    rng = np.random.default_rng(1)
    for name, conv_index, k, s in POOL_ROWS:
        _, n, cin, cout, kc, sc, pc, size, _ = CONV_ROWS[conv_index]
        x_np = rng.standard_normal((n, cin, size, size)).astype(np.float32)
        w_np = (rng.standard_normal((cout, cin, kc, kc)) * 0.1).astype(np.float32)
        with tc.no_grad():
            act = F.conv2d(tc.Tensor(x_np), tc.Tensor(w_np), stride=sc, padding=pc).data
        x = tc.Tensor(act, requires_grad=True)
        out_shape = F.max_pool2d(x, k, s).shape
        g = np.ones(out_shape, np.float32)

        def tiny():
            x.grad = None
            F.max_pool2d(x, k, s).backward(g)

        peer_fn = None
        if torch is not None:
            with torch.no_grad():
                tact = torch.nn.functional.conv2d(torch.tensor(x_np), torch.tensor(w_np), stride=sc, padding=pc)
            tx, tg = tact.requires_grad_(True), torch.ones(out_shape)

            def peer_fn():
                tx.grad = None
                torch.nn.functional.max_pool2d(tx, k, s).backward(tg)

        rows.append(row(f"{name} fwd+bwd", *measure_pair(tiny, peer_fn, repeat)))
    return rows


def lenet_step_row(torch, repeat, batch=128):
    tiny, peer_fn = lenet_step_calls(torch, batch)
    t, peer = measure_pair(tiny, peer_fn, repeat * 3)
    return row(f"LeNet-5 training step (batch {batch})", t, peer, images_per_second=batch / t["median"])


def lenet_step_calls(torch, batch=128):
    """(tinycnn's, PyTorch's or None) LeNet-5 training step on one batch: forward, cross-entropy, backward, SGD with
    momentum and weight decay, as calls without arguments."""
    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415
    from tinycnn.models import lenet5  # noqa: PLC0415
    from tinycnn.optim import SGD  # noqa: PLC0415

    rng = np.random.default_rng(2)
    x_np = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y_np = rng.integers(0, 10, batch)
    tc.manual_seed(0)
    net = lenet5()
    opt = SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = tc.Tensor(x_np)

    def tiny():
        loss = F.cross_entropy(net(x), y_np)
        opt.zero_grad()
        loss.backward()
        opt.step()

    peer_fn = None
    if torch is not None:
        import torch_models  # noqa: PLC0415

        tnet = torch_models.lenet5(torch)
        topt = torch.optim.SGD(tnet.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        tx, ty = torch.tensor(x_np), torch.tensor(y_np)

        def peer_fn():
            loss = torch.nn.functional.cross_entropy(tnet(tx), ty)
            topt.zero_grad()
            loss.backward()
            topt.step()

    return tiny, peer_fn


def autograd_row(torch, repeat, ops=200):
    """Graph bookkeeping per op: a chain of ``ops`` element-wise ops on 16 numbers, forward and backward, where the
    arithmetic is nothing and the engine's per-op overhead is everything."""
    import tinycnn as tc  # noqa: PLC0415

    x_np = np.linspace(0.5, 1.5, 16).astype(np.float32)
    x = tc.Tensor(x_np, requires_grad=True)

    def chain(v, half):
        for _ in range(ops // 2):
            v = v * half + v  # one Mul and one Add per round
        return v.sum()

    def tiny():
        x.grad = None
        chain(x, 0.5).backward()

    peer_fn = None
    if torch is not None:
        tx = torch.tensor(x_np, requires_grad=True)

        def peer_fn():
            tx.grad = None
            chain(tx, 0.5).backward()

    t, peer = measure_pair(tiny, peer_fn, repeat)
    return row(f"autograd: {ops} element-wise ops fwd+bwd", t, peer, us_per_op=t["median"] / ops * 1e6)


def measure_pair(tiny, peer, repeat):
    """(tinycnn's times, PyTorch's or None): taking turns when there is a peer (``common.measure_interleaved``)."""
    if peer is None:
        return common.measure(tiny, repeat=repeat, warmup=2), None
    return tuple(common.measure_interleaved([tiny, peer], repeat=repeat))


def row(name, tiny, peer, **extra):
    return {"name": name, "tinycnn": tiny, "torch": peer,
            "ratio": (tiny["median"] / peer["median"]) if peer else None, **extra}


def memory_rows(torch_present):
    rows = []
    for model in ("vgg16", "resnet50"):
        r = {"name": f"peak RSS {model} batch 8 fwd+bwd (MiB)"}
        r["tinycnn"] = common.run_child(["benchmarks/memory.py", "--engine", "tinycnn", "--model", model])
        if torch_present:
            r["torch"] = common.run_child(["benchmarks/memory.py", "--engine", "torch", "--model", model])
            r["ratio_peak"] = r["tinycnn"]["peak_mb"] / r["torch"]["peak_mb"]
            r["ratio_delta"] = r["tinycnn"]["delta_mb"] / r["torch"]["delta_mb"]
        rows.append(r)
    return rows


def timing_rows(repeat):
    torch = common.torch_or_none()
    return (conv_rows(torch, repeat) + pool_rows(torch, repeat) + [lenet_step_row(torch, repeat)]
            + [autograd_row(torch, repeat)])


def print_table(rows, memory):
    print(f"{'row':<42} {'tinycnn ms':>10} {'(min-max)':>17} {'torch ms':>9} {'ratio':>7} {'GFLOP/s':>8} "
          f"{'GEMM share':>10}")
    for r in rows:
        t, p = r["tinycnn"], r["torch"]
        spread = f"{t['min'] * 1e3:.1f}-{t['max'] * 1e3:.1f}"
        gf = f"{r['gflops']:.1f}" if "gflops" in r else ""
        share = f"{100 * r['gemm_share']:.0f}%" if "gemm_share" in r else ""
        ratio = f"{r['ratio']:.2f}x" if r.get("ratio") else "-"
        extra = f"  ({r['images_per_second']:.0f} images/s)" if "images_per_second" in r else ""
        extra += f"  ({r['us_per_op']:.1f} us per op)" if "us_per_op" in r else ""
        ratios = r.get("ratios")
        if ratios:
            extra += f"  ratios over processes: {', '.join(f'{v:.2f}' for v in ratios)}"
        print(f"{r['name']:<42} {common.fmt_ms(t['median']):>10} {spread:>17} "
              f"{common.fmt_ms(p['median'] if p else None):>9} {ratio:>7} {gf:>8} {share:>10}{extra}")
    for m in memory:
        t, p = m["tinycnn"], m.get("torch")
        line = f"{m['name']:<42} tinycnn peak {t['peak_mb']:.0f} (+{t['delta_mb']:.0f} over model) "
        if p:
            line += (f"torch peak {p['peak_mb']:.0f} (+{p['delta_mb']:.0f})  ratio peak {m['ratio_peak']:.2f}x, "
                     f"over-model {m['ratio_delta']:.2f}x")
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no memory rows")
    parser.add_argument("--processes", type=int, default=1, help="repeat the timings in N fresh processes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    repeat = 3 if args.quick else 10
    if args.child:
        print(json.dumps(timing_rows(repeat)))
        return
    if args.processes > 1:
        runs = [common.run_child(["benchmarks/run.py", "--child"] + (["--quick"] if args.quick else []))
                for _ in range(args.processes)]
        rows = []
        for same in zip(*runs):  # the same row from each process: the median ratio, and the run that gave it
            ratios = [r["ratio"] for r in same if r["ratio"]]
            mid = statistics.median(ratios) if ratios else None
            pick = min(same, key=lambda r: abs((r["ratio"] or 0) - (mid or 0)))
            rows.append({**pick, "ratio": mid, "ratios": ratios})
    else:
        rows = timing_rows(repeat)
    torch_present = common.torch_or_none() is not None
    memory = [] if (args.quick or args.no_memory) else memory_rows(torch_present)
    print_table(rows, memory)
    path = common.write_results("ops", {"rows": rows, "memory": memory, "processes": args.processes})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
