"""Export time per format, and Lava vs reference simulator run time, for the shipped digits model.

Prints two tables measured in this process: (1) wall time of writing each
format (NIR float+int, Lava netx + sidecar, ONNX int+float), (2) the time to
run ``--samples`` test samples (T = 4) in the reference integer simulator, in
onnxruntime and in lava-nc fixed_pt (one Lava run, samples back to back; the
Lava time with and without interpreter start-up), both through snn2hw's own runner
and through lava-dl 0.6.0's ``netx.hdf5.Network`` (``run-lava --runtime netx``),
with ratios to the reference. The model is quantized for netx (``netx=True``, as
``snn2hw export --format lava`` does).

    .venv/bin/python benchmarks/exporters.py [--samples 100]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import snn2hw
from snn2hw.data import direct, load_dataset

REPO = Path(__file__).resolve().parent.parent


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100)
    args = ap.parse_args()
    from snn2hw.exporters.lava import export_lava, run_lava
    from snn2hw.exporters.nir import export_nir
    from snn2hw.exporters.onnx import export_onnx_float, export_onnx_int, quantize_input, run_onnx

    conv = snn2hw.convert(snn2hw.load(REPO / "examples" / "digits_lif.pt"), "loihi", netx=True)
    g = conv.graph
    data = load_dataset("digits")
    x = direct(torch.as_tensor(data.x_test[:args.samples], dtype=torch.float64), 4)
    y = np.asarray(data.y_test[:args.samples])
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        rows = []
        for name, fn in [("nir (float + int)", lambda: (export_nir(g, d / "f.nir"), export_nir(g, d / "i.nir",
                                                                                                integer=True))),
                         ("lava (netx HDF5 + sidecar)", lambda: export_lava(g, d / "lava")),
                         ("onnx (int + float)", lambda: (export_onnx_int(g, d / "i.onnx"),
                                                         export_onnx_float(g, d / "f.onnx")))]:
            _, t = timed(fn)
            rows.append((name, t))
        print("export time, digits_conv (shipped), seconds")
        print("format | s\n--- | ---")
        for n, t in rows:
            print(f"{n} | {t:.3f}")
        xi = quantize_input(g, x.numpy())
        ref, t_ref = timed(lambda: snn2hw.simulate(g, x, mode="int"))
        ort, t_ort = timed(lambda: run_onnx(d / "i.onnx", xi))
        lav, t_lava_wall = timed(lambda: run_lava(d / "lava", xi))
        t_lava = lav["lava_run_s"]
        same_lava = np.array_equal(np.asarray(lav["output"]), ref.output.numpy())
        ntx, t_netx_wall = timed(lambda: run_lava(d / "lava", xi, runtime="netx"))
        t_netx = ntx["lava_run_s"]
        same_netx = np.array_equal(np.asarray(ntx["output"]), ref.output.numpy())
        same_ort = np.array_equal(np.asarray(ort), ref.output.numpy())
        acc = lambda out: float((np.asarray(out).argmax(1) == y).mean())  # noqa: E731
        print(f"\nrun time, {args.samples} digits test samples, T = 4, seconds (ratio: time / reference time)")
        print("runtime | s | ratio | accuracy | identical to reference\n--- | --- | --- | --- | ---")
        print(f"reference integer simulator | {t_ref:.3f} | 1.0 | {acc(ref.output.numpy()):.4f} | -")
        print(f"onnxruntime (int model) | {t_ort:.3f} | {t_ort / t_ref:.1f} | {acc(ort):.4f} | {same_ort}")
        print(f"lava-nc fixed_pt, run only | {t_lava:.3f} | {t_lava / t_ref:.1f} | {acc(lav['output']):.4f} | "
              f"{same_lava}")
        print(f"lava-nc, with interpreter start-up | {t_lava_wall:.3f} | {t_lava_wall / t_ref:.1f} | | ")
        print(f"lava-dl netx (hdf5.Network) fixed_pt, run only | {t_netx:.3f} | {t_netx / t_ref:.1f} | "
              f"{acc(ntx['output']):.4f} | {same_netx}")
        print(f"lava-dl netx, with interpreter start-up | {t_netx_wall:.3f} | {t_netx_wall / t_ref:.1f} | | ")


if __name__ == "__main__":
    main()
