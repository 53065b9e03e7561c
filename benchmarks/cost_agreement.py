"""Agreement of snn2hw's cost figures with SANA-FE 2.2.9 and NeuroBench 2.3.0: the tables of docs/COST_MODEL.md.

SANA-FE: every network is exported (``exporters/sanafe.py``), run by SANA-FE in ``.venv-sanafe`` (both
timing models, its own ``load_loihi()`` architecture) and compared with ``expected.json``, snn2hw's
prediction of that run: relative deviation of each energy class, the total, and the simulated time under
the simple and the detailed model; whether SANA-FE's integer counters (synaptic events, messages, neurons
fired and updated) are equal; and the wall time of snn2hw's event simulator (both timing models) against
SANA-FE's ``sim()`` calls for the same run. Networks: the shipped digits model, a digits_conv trained one
epoch, and the oracle test's random networks (``tests/helpers/sanafe_oracle.py``).

NeuroBench: the report's NeuroBench fields against NeuroBench run on the same checkpoint
(``tests/helpers/neurobench_oracle.py``).

    .venv/bin/python benchmarks/cost_agreement.py [--samples 8] [--seeds 22]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import snn2hw  # noqa: E402
from snn2hw.data import load_dataset, model_inputs  # noqa: E402
from snn2hw.exporters.sanafe import export_sanafe  # noqa: E402
from tests.helpers.sanafe_oracle import TOL_OF, counter_problems, deviations, random_case, run_sanafe  # noqa: E402

QUANTITIES = ("energy synapse", "energy soma", "energy network", "energy total", "time simple", "time detailed")


def digits_conv_one_epoch(path: Path) -> Path:
    from snn2hw.frontends.checkpoint import save_checkpoint
    from snn2hw.models import build_model
    from snn2hw.train import train
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = build_model("digits_conv", num_classes=10, neuron="lif")
    train(model, data, epochs=1, T=4, lr=5e-3, batch_size=64, seed=0, progress=False)
    save_checkpoint(path, model, input_step=data.input_step, timesteps=4, encoding="direct", dataset="digits")
    return path


def sanafe_table(samples: int, seeds: int, root: Path) -> list:
    cases = []
    for label, ckpt in (("digits_lif (shipped)", REPO / "examples" / "digits_lif.pt"),
                        ("digits_conv, 1 epoch", digits_conv_one_epoch(root / "conv1.pt"))):
        g = snn2hw.convert(snn2hw.load(ckpt), "loihi").graph
        x, _, _ = model_inputs(g, load_dataset("digits"), samples)
        cases.append((label, g, None, x))
    for seed in range(seeds):
        gi, pl, x, info = random_case(seed)
        cases.append((f"random {seed}: {info['kind']}, {info['cores']} cores, {info['inputs']} inputs", gi, pl, x))
    rows = []
    dirs = []
    for i, (label, g, pl, x) in enumerate(cases):
        d = root / f"case{i}"
        t0 = time.perf_counter()
        r = export_sanafe(g, x, d, "loihi", placement=pl)
        t_ours = time.perf_counter() - t0
        rows.append({"network": label, "samples": int(x.shape[1]), "device steps": r["expected"]["timesteps"],
                     "_exp": r["expected"], "_ours_s": t_ours})
        dirs.append(d)
    res = run_sanafe(dirs, root)
    for row, d in zip(rows, dirs):
        sf = res[str(d)]
        row.update(deviations(row["_exp"], sf))
        row["counters equal"] = "yes" if not counter_problems(row["_exp"], sf) else "NO"
        row["SANA-FE sim s"] = sum(m["wall_s"] for m in sf["models"].values())
        row["snn2hw export s"] = row["_ours_s"]
    return rows


def neurobench_table() -> list:
    from tests.helpers.neurobench_oracle import load_neurobench, neurobench_figures
    from snn2hw.report.build import build_report
    from tests.helpers.neurobench_oracle import SAMPLES, BATCH
    nb = load_neurobench()
    ckpt = REPO / "examples" / "digits_lif.pt"
    want = neurobench_figures(nb, ckpt)
    g, module = snn2hw.frontends.load_with_module(ckpt)
    x, y, _ = model_inputs(g, load_dataset("digits"), SAMPLES)
    rep = build_report(g, x, ["loihi"], labels=y, batch_size=BATCH, model=module, timing="simple")
    got = rep["runs"][0]["neurobench"]
    return [{"field": k, "NeuroBench 2.3.0": v, "snn2hw report": got[k],
             "equal": "yes" if abs(got[k] - v) <= 1e-9 * max(1.0, abs(v)) else "NO"} for k, v in want.items()]


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=8, help="digits samples per SANA-FE run")
    ap.add_argument("--seeds", type=int, default=22, help="random networks")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = sanafe_table(args.samples, args.seeds, Path(tmp))
    print(f"## SANA-FE 2.2.9 (load_loihi()) vs snn2hw's expected.json: relative deviation "
          f"(tolerance: {', '.join(f'{q} {t:.0%}' for q, t in TOL_OF.items())})\n")
    cols = ["network", "samples", "device steps"] + list(QUANTITIES) + ["counters equal", "snn2hw export s",
                                                                          "SANA-FE sim s"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.3%}" if c in QUANTITIES else fmt(r[c]) for c in cols) + " |")
    worst = {q: max(rows, key=lambda r: r[q]) for q in QUANTITIES}
    print("| **worst** | | | " + " | ".join(f"**{worst[q][q]:.3%}**" for q in QUANTITIES)
          + f" | {sum(r['counters equal'] == 'yes' for r in rows)}/{len(rows)} | | |")
    print(f"\n({len(rows)} networks; 'snn2hw export s' includes writing net.yaml and two event-simulator runs, "
          f"'SANA-FE sim s' is its two sim() calls)\n")
    print("## NeuroBench 2.3.0 vs the report's neurobench block (shipped digits_lif, 100 samples)\n")
    nrows = neurobench_table()
    cols = list(nrows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in nrows:
        print("| " + " | ".join(fmt(r[c]) for c in cols) + " |")
    print(json.dumps({"worst": {q: worst[q][q] for q in QUANTITIES}}))


if __name__ == "__main__":
    main()
