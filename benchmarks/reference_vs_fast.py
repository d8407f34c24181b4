"""The two tiers of ops against each other in one process: the textbook reference (``tinycnn.use_reference_ops()``)
and the fast kernels (the default), with PyTorch beside them when it is installed.

    python benchmarks/reference_vs_fast.py            # LeNet-5's training step, ResNet's 3x3 layer, AlexNet's pool,
                                                      # ResNet-20's batch norm
    python benchmarks/reference_vs_fast.py --quick    # fewer repeats

Each row's calls take turns (``common.measure_interleaved``: fast, reference, PyTorch, in rounds), so all three
sample the same stretches of this machine's drifting speed; the ratio reference / fast is what the fast kernels
buy. Inputs are laid out as each engine's neighbouring layers would give them (``run.tiny_conv_calls``). Writes
benchmarks/results/reference_vs_fast.json.
"""
from __future__ import annotations

import argparse

import common
import numpy as np
from run import CONV_ROWS, POOL_ROWS, lenet_step_calls, tiny_conv_calls, to_chwn

RESNET_ROW = CONV_ROWS[2]  # ("ResNet 3x3 layer", 32, 64, 64, 3, 1, 1, 56, True)
ALEXNET_POOL_ROW = POOL_ROWS[1]  # max-pool 3x3/2 on AlexNet conv1's output


def in_tier(reference, fn):
    """``fn`` run inside ``tinycnn.use_reference_ops(reference)``: its graph, forward and backward, in that tier."""
    import tinycnn as tc  # noqa: PLC0415

    def call():
        with tc.use_reference_ops(reference):
            fn()
    return call


def resnet_calls(torch):
    """{pass: (tinycnn call, PyTorch call or None)} for the ResNet 3x3 layer's forward and forward+backward."""
    name, n, cin, cout, k, s, p, size, input_grad = RESNET_ROW
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((n, cin, size, size)).astype(np.float32)
    w_np = (rng.standard_normal((cout, cin, k, k)) * 0.1).astype(np.float32)
    b_np = np.zeros(cout, np.float32)
    fwd, fwd_bwd = tiny_conv_calls(x_np, w_np, b_np, s, p, input_grad)
    peer_fwd = peer_fwd_bwd = None
    if torch is not None:
        tx = torch.tensor(x_np, requires_grad=True)
        tw, tb = torch.tensor(w_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
        tg = torch.ones(n, cout, size, size)

        def peer_fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p)

        def peer_fwd_bwd():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p).backward(tg)

    label = f"{name} (batch {n}, {cin}->{cout}, {size}x{size})"
    return {f"{label} forward": (fwd, peer_fwd), f"{label} forward+backward": (fwd_bwd, peer_fwd_bwd)}


def pool_calls(torch):
    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415

    name, conv_index, k, s = ALEXNET_POOL_ROW
    _, n, cin, cout, kc, sc, pc, size, _ = CONV_ROWS[conv_index]
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((n, cout, (size - kc) // sc + 1, (size - kc) // sc + 1)).astype(np.float32)
    x = tc.Tensor(to_chwn(x_np), requires_grad=True)  # a conv output's memory order
    g = np.ones(F.max_pool2d(x, k, s).shape, np.float32)

    def tiny():
        x.grad = None
        F.max_pool2d(x, k, s).backward(g)

    peer = None
    if torch is not None:
        tx, tg = torch.tensor(x_np, requires_grad=True), torch.ones(g.shape)

        def peer():
            tx.grad = None
            torch.nn.functional.max_pool2d(tx, k, s).backward(tg)

    return {f"{name} forward+backward": (tiny, peer)}


def batch_norm_calls(torch, batch=128, channels=16, size=32):
    """Training-mode batch norm of ResNet-20's first stage (batch 128, 16 channels, 32x32, affine), its input a conv
    output's (C, H, W, N) memory for tinycnn, NCHW for PyTorch: forward alone and forward+backward."""
    import tinycnn as tc  # noqa: PLC0415
    import tinycnn.functional as F  # noqa: PLC0415

    rng = np.random.default_rng(2)
    x_np = (rng.standard_normal((batch, channels, size, size)) * 2 + 1).astype(np.float32)
    x = tc.Tensor(to_chwn(x_np), requires_grad=True)
    w, b = (tc.Tensor(np.full(channels, v, np.float32), requires_grad=True) for v in (1.0, 0.0))
    rm, rv = np.zeros(channels, np.float32), np.ones(channels, np.float32)
    g = to_chwn(np.ones(x_np.shape, np.float32))

    def fwd():
        with tc.no_grad():
            F.batch_norm(x, rm, rv, w, b, training=True)

    def fwd_bwd():
        x.grad = w.grad = b.grad = None
        F.batch_norm(x, rm, rv, w, b, training=True).backward(g)

    peer_fwd = peer_fwd_bwd = None
    if torch is not None:
        tx = torch.tensor(x_np, requires_grad=True)
        tw, tb = torch.ones(channels, requires_grad=True), torch.zeros(channels, requires_grad=True)
        trm, trv, tg = torch.zeros(channels), torch.ones(channels), torch.ones(x_np.shape)

        def peer_fwd():
            with torch.no_grad():
                torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True)

        def peer_fwd_bwd():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True).backward(tg)

    label = f"batch norm, ResNet-20 stage 1 (batch {batch}, {channels}, {size}x{size})"
    return {f"{label} forward": (fwd, peer_fwd), f"{label} forward+backward": (fwd_bwd, peer_fwd_bwd)}


def lenet_calls(torch, batch=128):
    """The LeNet-5 training step of run.py (forward, cross-entropy, backward, SGD with momentum), both engines."""
    return {f"LeNet-5 training step (batch {batch})": lenet_step_calls(torch, batch)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    torch = common.torch_or_none()
    rows = []
    print(f"{'row':<62} {'fast ms':>9} {'reference ms':>13} {'ref / fast':>10} {'torch ms':>9}")
    for calls in (lenet_calls, resnet_calls, pool_calls, batch_norm_calls):
        for name, (tiny, peer) in calls(torch).items():
            fns = [in_tier(False, tiny), in_tier(True, tiny)] + ([peer] if peer else [])
            slow = "ResNet" in name and "backward" in name
            repeat = 3 if args.quick else (6 if slow else 15)
            times = common.measure_interleaved(fns, repeat=repeat, warmup=1)
            fast, ref = times[0], times[1]
            peer_t = times[2] if peer else None
            rows.append({"name": name, "fast": fast, "reference": ref, "torch": peer_t,
                         "reference_over_fast": ref["median"] / fast["median"],
                         "fast_over_torch": fast["median"] / peer_t["median"] if peer_t else None})
            print(f"{name:<62} {common.fmt_ms(fast['median'])} {common.fmt_ms(ref['median']):>13} "
                  f"{ref['median'] / fast['median']:>9.2f}x {common.fmt_ms(peer_t['median'] if peer_t else None)}",
                  flush=True)
    path = common.write_results("reference_vs_fast", {"rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
