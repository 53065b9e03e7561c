"""Real sizes: VGG-16 and ResNet-19 at 32x32 through every stage, with wall time and peak memory.

Random (seeded) weights and random (seeded) 8-bit inputs, T = 4, 10 classes. Each
stage runs in a fresh interpreter (``--child``), so its memory is its own: the
child loads what the stage needs (the float or integer graph saved by an earlier
stage, the inputs), notes its resident set size (VmRSS), resets the kernel's peak
counter (``/proc/self/clear_refs`` = 5, Linux), runs the stage and reads the peak
(VmHWM). Columns: wall s of the stage alone, peak RSS MB of the process during
the stage, added MB = peak - RSS before the stage.

Stages: ``trace`` (build the torch model + torch.fx front end), ``convert`` (fold +
quantize for loihi), ``export_nir`` / ``export_lava`` / ``export_onnx`` (one format
each, with the bytes written), ``ref_float`` / ``ref_int`` (reference simulator),
``map`` / ``map_expanded`` (mapping on loihi alone with the shared (the profile's default) or
expanded synapse model: cores, lower bound, mapping / bound, chips), ``event`` / ``event_expanded``
(the report build: that mapping again + event simulator + costs). With ``--linear`` the event simulator alone (on the
loihi mapping, made before the measurement) and
the integer reference simulator also run at several sample counts with a fixed
batch size, and the peak memory per sample count and its slope per sample are
printed: streaming keeps it flat but for the small per-sample outputs.

    .venv/bin/python benchmarks/scale.py [--models vgg16,resnet19] [--stages all] [--samples 64]
        [--batch-size 16] [--linear 16,32,64,128] [--work DIR]
    .venv/bin/python benchmarks/scale.py --samples 1000 --models vgg16 --stages event
    .venv/bin/python benchmarks/scale.py --weights calibrated --stages map,map_expanded

``--weights calibrated`` takes the weights ``snn2hw init`` writes (the same seeded default weights, BatchNorm
statistics and scales calibrated so every layer fires): PyTorch's default initialization leaves the deep layers
silent, and folding ResNet-19's BatchNorms (identity) into the weights feeding an Add then rounds 13-26 % of
the conv2 weights to zero, scattered, which no trained network has.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("trace", "convert", "map", "map_expanded", "export_nir", "export_lava", "export_onnx", "ref_float",
          "ref_int", "event", "event_expanded")
NEEDS = {"convert": "trace", "ref_float": "trace", "export_nir": "convert", "export_lava": "convert",
         "export_onnx": "convert", "ref_int": "convert", "event": "convert", "map": "convert",
         "map_expanded": "convert", "event_expanded": "convert", "event_sim": "convert"}
#: what a stage leaves in the work folder; a prerequisite whose file is there is not run again
PRODUCES = {"trace": "{m}_float.s2h", "convert": "{m}_int.s2h"}
T, CLASSES, SIZE, SEED = 4, 10, 32, 0
INPUT_STEP = 1 / 255


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _inputs(n: int):
    """``[T, n, 3, 32, 32]`` float32 inputs on the 8-bit lattice (seeded; float32 halves the input's memory)."""
    import torch
    from snn2hw.data import direct
    g = torch.Generator().manual_seed(SEED + 1)
    return direct(torch.round(torch.rand(n, 3, SIZE, SIZE, generator=g) * 255) / 255, T)


def child(stage: str, model: str, work: Path, samples: int, batch: int, weights: str = "default",
          effort: str = "normal") -> dict:
    """Run one stage in this (fresh) process; return its measurements."""
    import torch
    import snn2hw
    from snn2hw.ir.io import load_graph, save_graph
    torch.manual_seed(SEED)
    tag = _tag(model, weights)
    f_float, f_int = work / f"{tag}_float.s2h", work / f"{tag}_int.s2h"
    prep = {}
    if stage in ("convert", "ref_float"):
        prep["g"] = load_graph(f_float)
    elif stage in ("map", "map_expanded", "export_nir", "export_lava", "export_onnx", "ref_int", "event",
                   "event_expanded", "event_sim"):
        prep["g"] = load_graph(f_int)
    if stage.startswith(("ref", "event")):
        prep["x"] = _inputs(samples)
    if stage == "event_sim":   # the loihi mapping (default synapse model), made before the measurement
        from snn2hw.simulators.mapping import map_graph
        prep["placement"] = map_graph(prep["g"], "loihi").placement
    base = _status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the peak resident set size (VmHWM) restarts from the current one
    t0 = time.perf_counter()
    extra = ""
    if stage == "trace":
        if weights == "calibrated":   # snn2hw init: the seeded default weights, calibrated to fire
            from snn2hw.models.init import init_model
            m = init_model(model, (3, SIZE, SIZE), CLASSES, seed=SEED, timesteps=T, input_step=INPUT_STEP).model
        else:
            from snn2hw.models import build_model
            m = build_model(model, input_size=SIZE, num_classes=CLASSES)
        g = snn2hw.from_module(m)
        for name in g.inputs:
            g.nodes[name].step = INPUT_STEP
        g.metadata["timesteps"] = T
        save_graph(g, f_float)
        extra = f"{len(g.nodes)} nodes, {g.num_params() / 1e6:.1f} M parameters"
    elif stage == "convert":
        from snn2hw.passes.pipeline import convert
        save_graph(convert(prep["g"], profile="loihi").graph, f_int)
    elif stage.startswith("export_"):
        from snn2hw.exporters.export import export
        fmt = stage[len("export_"):]
        man = export(prep["g"], work / f"{model}_{fmt}", formats=fmt)
        extra = f"{sum(f['bytes'] for f in man['files'] if f['format'] == fmt) / 1e6:.1f} MB written"
    elif stage in ("ref_float", "ref_int"):
        from snn2hw.simulators.reference import simulate
        r = simulate(prep["g"], prep["x"], mode=stage[4:], batch_size=batch)
        extra = f"{sum(float(v.sum()) for v in r.layer_spikes.values()) / samples:.0f} spikes/sample"
    elif stage in ("map", "map_expanded"):
        from snn2hw.simulators.mapping import map_graph
        mres = map_graph(prep["g"], "loihi", synapse_model="expanded" if stage == "map_expanded" else None,
                         effort=effort)
        t = mres.totals
        how = t["synapse_model"] + (", effort fast" if t.get("effort") == "fast" else "")
        extra = (f"{how}: {t['cores_used']} cores on {t['chips_needed']} chips, lower bound "
                 f"{t['lower_bound_cores']} (mapping / bound {t['bound_ratio']:.2f}), {len(mres.violations)} "
                 f"violations")
    elif stage in ("event", "event_expanded"):
        from snn2hw.report.build import build_report
        rep = build_report(prep["g"], prep["x"], ["loihi"], batch_size=batch,
                           synapse_model="expanded" if stage == "event_expanded" else None)
        run = rep["runs"][0]
        e = run["energy_pj_per_sample"]
        extra = (f"report build incl. mapping; {run.get('cores_used')} cores on {run.get('chips')} chips "
                 f"(fits: {run.get('fits')}), {run['totals']['synops_per_sample']:.3g} synops/sample, "
                 f"{run.get('spikes_crossing_chips_per_sample', 0):.3g} spike messages/sample cross chips, "
                 f"inter-chip energy {e.get('interchip') or 0:.3g} of {e['total']:.3g} pJ/sample")
    elif stage == "event_sim":
        from snn2hw.simulators.event import simulate_events
        simulate_events(prep["g"], prep["x"], prep["placement"], "loihi", batch_size=batch)
    else:
        raise SystemExit(f"unknown stage {stage}")
    wall = time.perf_counter() - t0
    peak = _status_mb("VmHWM")
    return {"stage": stage, "model": model, "samples": samples, "batch": batch, "wall_s": wall, "peak_mb": peak,
            "added_mb": peak - base, "note": extra}


def _spawn(stage, model, work, samples, batch, weights="default", effort="normal") -> dict:
    cmd = [sys.executable, __file__, "--child", stage, "--models", model, "--work", str(work),
           "--samples", str(samples), "--batch-size", str(batch), "--weights", weights,
           "--effort", effort]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:  # a stage that fails at this size is a result too: print it and go on
        last = [ln for ln in res.stderr.strip().splitlines() if ln.strip()][-1:] or ["?"]
        return {"stage": stage, "model": model, "samples": samples, "batch": batch, "wall_s": time.perf_counter() - t0,
                "peak_mb": float("nan"), "added_mb": float("nan"), "note": f"FAILED: {last[0][:300]}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def _tag(model: str, weights: str) -> str:
    """The work files' stem: the model, and the weights when not PyTorch's default."""
    return model if weights == "default" else f"{model}_{weights}"


def _needed(stages) -> list:
    out = []
    for s in stages:
        chain = []
        while s is not None:
            chain.append(s)
            s = NEEDS.get(s)
        for c in reversed(chain):
            if c not in out:
                out.append(c)
    return [s for s in STAGES + ("event_sim",) if s in out]


def _row(r) -> str:
    return (f"| {r['stage']:11s} | {r['model']:8s} | {r['samples']:7d} | {r['wall_s']:9.1f} | {r['peak_mb']:8.0f} | "
            f"{r['added_mb']:8.0f} | {r['note']} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="vgg16,resnet19")
    ap.add_argument("--stages", default="all", help="comma list of " + ", ".join(STAGES) + " (or all)")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--linear", default="", help="sample counts for the memory-vs-samples runs, e.g. 16,32,64,128")
    ap.add_argument("--work", default=None, help="folder for the intermediate graphs (default: a temporary one)")
    ap.add_argument("--weights", choices=("default", "calibrated"), default="default",
                    help="random seeded weights: PyTorch's default initialization, or those calibrated to fire as "
                         "'snn2hw init' writes them (snn2hw/models/init.py)")
    ap.add_argument("--effort", choices=("fast", "normal"), default="normal",
                    help="the mapping's merging effort for the map stages (snn2hw map --effort)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child, a.models, Path(a.work), a.samples, a.batch_size, a.weights, a.effort)))
        return
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    stages = list(STAGES) if a.stages == "all" else [s.strip() for s in a.stages.split(",")]
    linear = [int(n) for n in a.linear.split(",") if n.strip()]
    work_ctx = tempfile.TemporaryDirectory(prefix="snn2hw_scale_") if a.work is None else None
    work = Path(a.work or work_ctx.name)
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPU cores visible, torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}; "
          f"numbers measured in this run (T = {T}, {SIZE}x{SIZE}x3, {CLASSES} classes, random seeded weights "
          f"({a.weights}) and "
          f"inputs, batch size {a.batch_size})")
    print("| stage       | model    | samples |    wall s | peak MB  | added MB | note |")
    print("|-------------|----------|---------|-----------|----------|----------|------|")
    for m in models:
        todo = _needed(stages + (["event_sim"] if linear else []))
        for s in todo:
            if s == "event_sim":
                continue
            prereq = s not in stages
            if prereq and s in PRODUCES and (work / PRODUCES[s].format(m=_tag(m, a.weights))).exists():
                continue
            r = _spawn(s, m, work, a.samples if not prereq else min(a.samples, 16), a.batch_size, a.weights,
                       a.effort)
            if prereq:
                r["note"] = ("(prerequisite) " + r["note"]).strip()
            print(_row(r), flush=True)
        if linear:
            for s in ("event_sim", "ref_int"):
                rows = [_spawn(s, m, work, n, a.batch_size) for n in linear]
                for r in rows:
                    print(_row(r), flush=True)
                xs = [r["samples"] for r in rows]
                ys = [r["added_mb"] for r in rows]
                mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
                slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(sum((x - mx) ** 2 for x in xs), 1e-12)
                print(f"|   {s} {m}: added memory vs samples, least-squares slope {slope * 1024:.1f} kB per sample "
                      f"(batch {a.batch_size}) | | | | | | |", flush=True)
    if work_ctx is not None:
        work_ctx.cleanup()


if __name__ == "__main__":
    main()
