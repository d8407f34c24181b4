"""Where one training step of a network spends its time, by op and by phase (forward / backward), in tinycnn.

    python benchmarks/profile_step.py [--model resnet20] [--batch-size 128] [--size 32] [--steps 5] [--torch]

Every ``Function`` subclass's ``forward`` and ``backward`` is wrapped with a timer (a few microseconds each, and
Python's overhead of calling the op is outside them: the table's "other" row is the step's wall time minus the
timed ops). Convolutions are split by layer shape (input channels -> output channels, map size, stride) and, for the
backward, into its input-gradient and weight-gradient parts (timed by running the two alone on the same layer
after the step, so those two columns are estimates; their sum is close to the timed backward). The optimizer
step and zero_grad are timed as their own rows. ``--torch`` prints PyTorch's profiler table for the same step
of its twin network (benchmarks/torch_models.py) beside it.

Medians over ``--steps`` steps after one warm-up step. Prints tables; writes nothing.
"""
from __future__ import annotations

import argparse
import collections
import statistics
import time

import common
import numpy as np


def _all_functions(tc):
    seen, stack = set(), [tc.Function]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    return seen


def _label(cls_name, fn, arrays):
    if cls_name in ("FastConv2d", "Conv2d"):
        x, w = arrays[0], arrays[1]
        stride = getattr(fn, "_stride", None)
        return f"conv {x.shape[1]}->{w.shape[0]} {w.shape[2]}x{w.shape[3]} @{x.shape[2]}x{x.shape[3]}" + (
            f"/{stride[0]}" if stride and stride[0] > 1 else "")
    if arrays and hasattr(arrays[0], "shape") and len(arrays[0].shape) == 4:
        return f"{cls_name} C{arrays[0].shape[1]} @{arrays[0].shape[2]}"
    return cls_name


def instrument(tc, timings):
    """Wrap forward and backward of every Function class; times go to ``timings[(label, phase)]`` (one list per
    step: the step's total for that key)."""
    for cls in _all_functions(tc):
        for phase in ("forward", "backward"):
            if phase not in cls.__dict__:
                continue
            orig = cls.__dict__[phase]

            def wrapped(self, *args, _orig=orig, _phase=phase, _name=cls.__name__, **kw):
                if _phase == "forward":
                    self._stride = kw.get("stride")
                    self._label = _label(_name, self, args)
                t0 = time.perf_counter()
                out = _orig(self, *args, **kw)
                timings[(getattr(self, "_label", _name), _phase)] += time.perf_counter() - t0
                return out
            setattr(cls, phase, wrapped)


def conv_grad_split(tc, net, x):
    """{conv label: (input-gradient seconds, weight-gradient seconds)}: each conv layer's backward run with only
    one of its two gradients asked for, on its real input, medians of 5."""
    import tinycnn.functional as F  # noqa: PLC0415

    inputs = {}

    def hook(module, args, out):
        inputs[module] = args[0].data

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, tc.nn.Conv2d)]
    with tc.no_grad():
        net(x)
    for h in handles:
        h.remove()
    out = collections.defaultdict(lambda: [0.0, 0.0])
    for m, xin in inputs.items():
        label = _label("FastConv2d", type("S", (), {"_stride": m.stride})(), (xin, m.weight.data))
        for k, (need_x, need_w) in enumerate(((True, False), (False, True))):
            xt = tc.Tensor(xin, requires_grad=need_x)
            wt = tc.Tensor(m.weight.data, requires_grad=need_w)
            y = F.conv2d(xt, wt, None, stride=m.stride, padding=m.padding)
            g = np.ones(y.shape, np.float32)
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                y._ctx.backward(g)
                ts.append(time.perf_counter() - t0)
            out[label][k] += statistics.median(ts)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--torch", action="store_true", help="also print PyTorch's profiler table")
    args = parser.parse_args()

    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415
    from tinycnn.models import get_model  # noqa: PLC0415
    from tinycnn.optim import SGD  # noqa: PLC0415

    tc.manual_seed(0)
    net = get_model(args.model, num_classes=10, in_channels=3).train()
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((args.batch_size, 3, args.size, args.size)).astype(np.float32)
    yb = rng.integers(0, 10, args.batch_size)
    x = tc.Tensor(xb)

    timings = collections.defaultdict(float)
    instrument(tc, timings)
    steps = []
    for step in range(args.steps + 1):
        timings.clear()
        t0 = time.perf_counter()
        loss = F.cross_entropy(net(x), yb)
        t1 = time.perf_counter()
        opt.zero_grad()
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        row = dict(timings)
        row[("[optimizer step]", "-")] = t4 - t3
        row[("[zero_grad]", "-")] = t2 - t1
        row[("[step wall]", "forward")] = t1 - t0
        row[("[step wall]", "backward")] = t3 - t2
        row[("[step wall]", "total")] = t4 - t0
        if step:
            steps.append(row)
    keys = sorted({k for r in steps for k in r})
    med = {k: statistics.median(r.get(k, 0.0) for r in steps) for k in keys}
    total = med[("[step wall]", "total")]
    timed = sum(v for k, v in med.items() if not k[0].startswith("["))
    print(f"{args.model}, batch {args.batch_size}, {args.size}x{args.size}, {common.THREADS} threads: step "
          f"{total * 1e3:.1f} ms (forward {med[('[step wall]', 'forward')] * 1e3:.1f}, backward "
          f"{med[('[step wall]', 'backward')] * 1e3:.1f}); timed ops {timed * 1e3:.1f} ms")
    print(f"{'op':<34} {'phase':<9} {'ms':>8} {'share':>6}")
    for k in sorted(keys, key=lambda k: -med[k]):
        if k[0] == "[step wall]":
            continue
        print(f"{k[0]:<34} {k[1]:<9} {med[k] * 1e3:8.2f} {med[k] / total:6.1%}")
    fams = collections.defaultdict(float)
    for k, v in med.items():
        if not k[0].startswith("["):
            fams[(k[0].split(" ")[0], k[1])] += v
    print("\nby family")
    for k in sorted(fams, key=lambda k: -fams[k]):
        print(f"{k[0]:<34} {k[1]:<9} {fams[k] * 1e3:8.2f} {fams[k] / total:6.1%}")
    print(f"{'other (Python, graph, optimizer)':<44} {(total - timed) * 1e3:8.2f} {(total - timed) / total:6.1%}")

    split = conv_grad_split(tc, net, x)
    print("\nconv backward split (each gradient alone, medians of 5)")
    print(f"{'layer':<34} {'input ms':>9} {'weight ms':>10}")
    for label, (dx, dw) in sorted(split.items(), key=lambda kv: -sum(kv[1])):
        print(f"{label:<34} {dx * 1e3:9.2f} {dw * 1e3:10.2f}")
    print(f"{'all':<34} {sum(v[0] for v in split.values()) * 1e3:9.2f} "
          f"{sum(v[1] for v in split.values()) * 1e3:10.2f}")

    if args.torch:
        torch = common.torch_or_none()
        if torch is not None:
            import torch_models  # noqa: PLC0415

            torch.manual_seed(0)
            tnet = torch_models.resnet_cifar(torch, 20).train()
            topt = torch.optim.SGD(tnet.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
            tx, ty = torch.from_numpy(xb), torch.from_numpy(yb)

            def tstep():
                loss = torch.nn.functional.cross_entropy(tnet(tx), ty)
                topt.zero_grad()
                loss.backward()
                topt.step()
            for _ in range(2):
                tstep()
            with torch.profiler.profile() as prof:
                for _ in range(args.steps):
                    tstep()
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
