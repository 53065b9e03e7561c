"""Throughput of the reference simulator, integer and float, against the torch forward pass.

Prints a table: for each network, samples x timesteps per second of
(a) the float torch model's forward, (b) the reference simulator's float run and
(c) its integer run (Lava fixed_pt semantics), with (c)/(a) as the ratio; all
measured in this process, on this machine, best of ``--repeats`` runs after one
warm-up. Networks: the shipped digits model (whole test split, T = 4) and VGG-16
at 32x32 with random weights (T = 4, batch 32).

    .venv/bin/python benchmarks/reference_sim.py [--repeats 3] [--threads N]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from snn2hw.data import direct, load_dataset
from snn2hw.frontends.checkpoint import load_checkpoint
from snn2hw.frontends.torch_fx import from_module
from snn2hw.models import build_model
from snn2hw.passes.pipeline import convert
from snn2hw.simulators.reference import simulate

REPO = Path(__file__).resolve().parent.parent


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(name: str, model, x: torch.Tensor, input_step: float, repeats: int) -> dict:
    model = model.eval()
    g = from_module(model)
    for n in g.inputs:
        g.nodes[n].step = input_step
    t0 = time.perf_counter()
    gi = convert(g, "loihi").graph
    t_convert = time.perf_counter() - t0
    T, B = x.shape[0], x.shape[1]
    xf = x.float()

    def torch_fwd():
        with torch.no_grad():
            model(xf)

    t_torch = best_time(torch_fwd, repeats)
    t_float = best_time(lambda: simulate(g, xf, mode="float", dtype=torch.float32), repeats)
    t_int = best_time(lambda: simulate(gi, x, mode="int"), repeats)
    work = T * B
    return {"network": name, "T x B": f"{T} x {B}", "torch float": work / t_torch, "sim float": work / t_float,
            "sim int": work / t_int, "int / torch": t_torch / t_int, "convert s": t_convert}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    ck = load_checkpoint(REPO / "examples" / "digits_lif.pt")
    data = load_dataset("digits")
    x = direct(torch.as_tensor(data.x_test, dtype=torch.float64), 4)
    rows.append(bench("digits_conv (shipped)", ck.model, x, data.input_step, args.repeats))
    torch.manual_seed(0)
    vgg = build_model("vgg16", num_classes=10)
    x = direct(torch.rand(32, 3, 32, 32, dtype=torch.float64), 4)
    x = torch.round(x * 255) / 255  # 8-bit images, on the input lattice
    rows.append(bench("vgg16 32x32 (random weights)", vgg, x, 1 / 255, args.repeats))
    cols = ["network", "T x B", "torch float", "sim float", "sim int", "int / torch", "convert s"]
    print(f"reference simulator throughput, samples x timesteps per second (best of {args.repeats}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in rows:
        print(" | ".join(f"{r[c]:.1f}" if isinstance(r[c], float) and c != "int / torch" else
                         f"{r[c]:.2f}" if c == "int / torch" else str(r[c]) for c in cols))


if __name__ == "__main__":
    main()
