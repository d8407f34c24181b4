"""conv2d's two ways to its columns, against each other in one process: row windows of the width-unfolded input
(MEC, ``row_windows``) and im2col's bands.

    python benchmarks/row_windows.py            # the harness's conv layers and two VGG-16 layers at batch 8
    python benchmarks/row_windows.py --quick    # fewer repeats

Each layer's forward, and forward+backward, is timed with ROW_WINDOW_MIN_COLUMNS at 1 (row windows wherever they
apply) and at infinity (bands everywhere), taking turns (``common.measure_interleaved``); the ratio windows / bands
below 1 is the row windows' gain. This is the measurement behind ROW_WINDOW_MIN_COLUMNS and the figures in
``tinycnn/kernels/conv.py``. Writes benchmarks/results/row_windows.json.
"""
from __future__ import annotations

import argparse

import common
import numpy as np
from run import CONV_ROWS, tiny_conv_calls

# name, batch, in_channels, out_channels, kernel, stride, padding, size, input needs grad
LAYERS = CONV_ROWS + [
    ("VGG-16 conv3 (56x56, 448 columns a row)", 8, 256, 256, 3, 1, 1, 56, True),
    ("VGG-16 conv5 (14x14, 112 columns a row)", 8, 512, 512, 3, 1, 1, 14, True),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    import tinycnn.kernels.conv as conv  # noqa: PLC0415

    rng = np.random.default_rng(0)
    rows = []
    print(f"{'layer':<44} {'pass':<9} {'windows ms':>10} {'bands ms':>9} {'windows / bands':>16}")
    for name, n, cin, cout, k, s, p, size, input_grad in LAYERS:
        x_np = rng.standard_normal((n, cin, size, size)).astype(np.float32)
        w_np = (rng.standard_normal((cout, cin, k, k)) * 0.1).astype(np.float32)
        fwd, fwd_bwd = tiny_conv_calls(x_np, w_np, np.zeros(cout, np.float32), s, p, input_grad)
        repeat = 3 if args.quick or n * cin * size * size > 10**7 else 10

        def on(threshold, fn):
            def call():
                conv.ROW_WINDOW_MIN_COLUMNS = threshold
                fn()
            return call

        saved = conv.ROW_WINDOW_MIN_COLUMNS
        try:
            for label, fn in (("forward", fwd), ("fwd+bwd", fwd_bwd)):
                win, band = common.measure_interleaved([on(1, fn), on(10**18, fn)], repeat=repeat)
                ratio = win["median"] / band["median"]
                rows.append({"layer": name, "pass": label, "windows": win, "bands": band, "ratio": ratio})
                print(f"{name:<44} {label:<9} {common.fmt_ms(win['median']):>10} "
                      f"{common.fmt_ms(band['median']):>9} {ratio:>15.2f}x", flush=True)
        finally:
            conv.ROW_WINDOW_MIN_COLUMNS = saved
    common.write_results("row_windows", {"rows": rows})


if __name__ == "__main__":
    main()
