"""Event simulator vs reference simulator: throughput and memory, on the digits model and VGG-16.

Prints one table, measured in this process: samples x timesteps per second of
the reference integer simulator and of the event simulator (which also does
the per-core cost accounting), their ratio (target >= 0.3), and the peak
resident memory of an event-simulator run at several batch sizes (Linux
VmHWM, reset before each run through /proc/self/clear_refs), with the growth
per added sample, so linear growth is visible. The placement is the sequential
one (mapping is timed separately), so the numbers are the simulator's own.

    .venv/bin/python benchmarks/event_sim.py [--repeats 2] [--vgg-batch 32]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import snn2hw
from snn2hw.data import direct, load_dataset
from snn2hw.models import build_model
from snn2hw.simulators.event import sequential_placement, simulate_events
from snn2hw.simulators.reference import simulate

REPO = Path(__file__).resolve().parent.parent


def best(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def _status_mb(key: str) -> float:
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def child(s2h: str, batch: int) -> None:
    """Run in a fresh interpreter: print the memory one event-simulator run adds (MB)."""
    g = snn2hw.load_graph(s2h)
    x = direct(torch.round(torch.rand(batch, 3, 32, 32, dtype=torch.float64) * 255) / 255, 4)
    pl = sequential_placement(g, profile="loihi")
    base = _status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set size to the current one
    simulate_events(g, x, placement=pl, profile="loihi")
    print(_status_mb("VmHWM") - base)


def row(name, g, x, repeats):
    pl = sequential_placement(g, profile="loihi")
    t_ref = best(lambda: simulate(g, x, mode="int"), repeats)
    t_ev = best(lambda: simulate_events(g, x, placement=pl, profile="loihi"), repeats)
    work = x.shape[0] * x.shape[1]
    return {"network": name, "T x B": f"{x.shape[0]} x {x.shape[1]}", "reference (samples*T/s)": work / t_ref,
            "event (samples*T/s)": work / t_ev, "event / reference": t_ref / t_ev}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--vgg-batch", type=int, default=32)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], int(args.child[1]))
    rows = []
    g = snn2hw.convert(snn2hw.load(REPO / "examples" / "digits_lif.pt"), "loihi").graph
    data = load_dataset("digits")
    x = direct(torch.as_tensor(data.x_test, dtype=torch.float64), 4)
    rows.append(row("digits_conv (360 test samples)", g, x, args.repeats))
    torch.manual_seed(0)
    vgg = snn2hw.from_module(build_model("vgg16"))
    for n in vgg.inputs:
        vgg.nodes[n].step = 1 / 255
    t0 = time.perf_counter()
    gv = snn2hw.convert(vgg, "loihi").graph
    t_conv = time.perf_counter() - t0
    xv = direct(torch.round(torch.rand(args.vgg_batch, 3, 32, 32, dtype=torch.float64) * 255) / 255, 4)
    rows.append(row("vgg16 32x32 (random weights)", gv, xv, args.repeats))
    cols = list(rows[0])
    print("throughput, best of %d runs, torch %s, %d threads" % (args.repeats, torch.__version__,
                                                                  torch.get_num_threads()))
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in rows:
        print(" | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols))
    print(f"\n(vgg16 conversion to loihi: {t_conv:.1f} s)")
    print("\nmemory added by one event-simulator run on vgg16 (peak minus resident before the run, MB, "
          "each in a fresh interpreter)")
    print("batch | MB | MB per added sample\n--- | --- | ---")
    import subprocess
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        s2h = Path(d) / "vgg16.s2h"
        snn2hw.save_graph(gv, s2h)
        prev = None
        for b in (4, 8, 16, 32):
            out = subprocess.run([sys.executable, __file__, "--child", str(s2h), str(b)], capture_output=True,
                                 text=True, check=True).stdout.split()[-1]
            mb = float(out)
            growth = "" if prev is None else f"{(mb - prev[1]) / (b - prev[0]):.1f}"
            print(f"{b} | {mb:.0f} | {growth}")
            prev = (b, mb)


if __name__ == "__main__":
    main()
