"""The main job on the bundled data: checkpoint -> integer network -> float vs integer comparison.

Steps: load the shipped ``examples/digits_lif.pt`` (or train one), convert it
for the ``loihi`` profile, run the float and the integer network on the whole
digits test split, and write a table of float accuracy, integer accuracy and
per-layer spike agreement (``demo_results.json`` and ``.md``) beside
``model.s2h`` and ``convert_log.txt``; then map it onto the profile's cores,
run the test split through the event simulator and write the cost report
(``report/report.{json,md,html}``).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from snn2hw.data import direct, load_dataset
from snn2hw.frontends.load import load_with_module
from snn2hw.ir.io import save_graph
from snn2hw.passes.pipeline import convert
from snn2hw.report.layer_table import format_table
from snn2hw.simulators.compare import layer_agreement, prediction_agreement
from snn2hw.simulators.reference import simulate
from snn2hw.util.atomic import write_text

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "examples" / "digits_lif.pt"
#: the files ``snn2hw simulate`` (:func:`snn2hw.report.write.write_report`) writes into its output folder
REPORT_FILES = ("report.json", "report.md", "report.html")
#: what :func:`run_demo` writes into its folder (``digits_lif.pt`` only when it trains), all checked before any work
DEMO_FILES = ("model.s2h", "convert_log.txt", "demo_results.json", "demo_results.md", "digits_lif.pt",
              *(f"report/{f}" for f in REPORT_FILES))
DEMO_TRAIN = dict(arch="digits_conv", epochs=40, timesteps=4, lr=5e-3, batch_size=64, seed=0)


def train_digits(out: Path, log=print, **overrides) -> Path:
    """Train the demo model with the settings of ``examples/README.md`` and save a bundle."""
    from snn2hw.frontends.checkpoint import save_checkpoint
    from snn2hw.models import build_model
    from snn2hw.train import evaluate, train
    cfg = {**DEMO_TRAIN, **overrides}
    data = load_dataset("digits")
    torch.manual_seed(cfg["seed"])
    model = build_model(cfg["arch"], num_classes=data.num_classes)
    log(f"training {cfg['arch']} on digits for {cfg['epochs']} epochs (T={cfg['timesteps']})")
    hist = train(model, data, epochs=cfg["epochs"], T=cfg["timesteps"], lr=cfg["lr"], batch_size=cfg["batch_size"],
                 seed=cfg["seed"], progress=True)
    acc = evaluate(model, data.x_test, data.y_test, T=cfg["timesteps"])
    save_checkpoint(out, model, input_step=data.input_step, timesteps=cfg["timesteps"], encoding="direct",
                    dataset="digits", metrics={"test_accuracy": acc, "train_seconds": hist.seconds},
                    training=cfg)
    log(f"saved {out} (float test accuracy {acc:.4f}, {hist.seconds:.1f} s)")
    return out


def run_demo(out_dir, checkpoint=None, retrain: bool = False, profile: str = "loihi", log=print) -> dict:
    from snn2hw.util.atomic import check_output_folder
    out_dir = check_output_folder(out_dir, files=DEMO_FILES, folders=("report",))
    if checkpoint and not retrain and not Path(checkpoint).is_file():  # a named checkpoint is never replaced
        from snn2hw.errors import CheckpointError                      # by a freshly trained one
        why = "not a regular file" if Path(checkpoint).exists() else "no such checkpoint file"
        raise CheckpointError(f"{checkpoint}: {why} (--checkpoint)")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _run_demo(out_dir, checkpoint, retrain, profile, log)
    except BaseException:
        if created:  # a failed demo leaves nothing behind: the folder it made goes again
            import shutil
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _run_demo(out_dir: Path, checkpoint, retrain: bool, profile: str, log) -> dict:
    ckpt = Path(checkpoint) if checkpoint else SHIPPED
    if retrain or not ckpt.is_file():
        ckpt = train_digits(out_dir / "digits_lif.pt", log=log)
    t0 = time.perf_counter()
    graph, module = load_with_module(ckpt)
    T = int(graph.metadata.get("timesteps", 4))
    conv = convert(graph, profile=profile)
    save_graph(conv.graph, out_dir / "model.s2h")
    write_text(out_dir / "convert_log.txt", conv.summary() + "\n")
    data = load_dataset(graph.metadata.get("dataset", "digits"))
    x = direct(torch.as_tensor(data.x_test, dtype=torch.float64), T)
    fr = simulate(graph, x, mode="float", record=["spikes"])
    ir = simulate(conv.graph, x, mode="int", record=["spikes"])
    layers = layer_agreement(fr, ir)
    overflow = {k: v for k, v in ir.overflow.items() if any(v.values())}
    res = {
        "checkpoint": str(ckpt), "profile": profile, "timesteps": T, "test_samples": int(len(data.y_test)),
        "float_accuracy": fr.accuracy(data.y_test), "int_accuracy": ir.accuracy(data.y_test),
        "prediction_agreement": prediction_agreement(fr, ir), "layers": layers,
        "overflow_events": overflow, "approximations": conv.approximations, "refusals": conv.refusals,
        "seconds": round(time.perf_counter() - t0, 2),
        "units": {"accuracy": "fraction of the digits test split (scikit-learn load_digits, fixed split)",
                  "agreement": "fraction of (timestep, sample, neuron) entries with equal spike/no-spike, "
                               "float vs integer, aligned frames",
                  "rate": "spikes per neuron per timestep"},
    }
    from snn2hw.report.build import build_report
    from snn2hw.report.render import comparison_rows
    from snn2hw.report.write import write_report
    rep = build_report(graph, x, [profile], labels=data.y_test, source=str(ckpt), data_name="digits test split",
                       model=module)
    write_report(rep, out_dir / "report")
    res["cost_report"] = {"path": str(out_dir / "report" / "report.html"), "summary": comparison_rows(rep)}
    md = _markdown(res)
    write_text(out_dir / "demo_results.json", json.dumps(res, indent=2) + "\n")
    write_text(out_dir / "demo_results.md", md)
    log(md)
    return res


def _markdown(res: dict) -> str:
    head = [
        "# snn2hw demo: digits, float vs integer (" + res["profile"] + ")", "",
        f"checkpoint `{res['checkpoint']}`, T = {res['timesteps']}, {res['test_samples']} test samples", "",
        format_table([{"float accuracy": f"{res['float_accuracy']:.4f}",
                       "integer accuracy": f"{res['int_accuracy']:.4f}",
                       "loss (points)": f"{100 * (res['float_accuracy'] - res['int_accuracy']):+.2f}",
                       "same prediction": f"{res['prediction_agreement']:.4f}"}]),
        "", "Per-layer spike agreement (float vs integer):", "",
        format_table([{"layer": r["layer"], "neurons": r["neurons"], "agreement": f"{r['agreement']:.4f}",
                       "float rate": f"{r['float_rate']:.4f}", "int rate": f"{r['int_rate']:.4f}"}
                      for r in res["layers"]]),
        "", "Units: " + "; ".join(f"{k}: {v}" for k, v in res["units"].items()),
        "Integer overflow events: " + (json.dumps(res["overflow_events"]) if res["overflow_events"] else "none"),
        "Approximations stated by the conversion:",
    ]
    head += [f"- {a}" for a in res["approximations"]] or ["- none"]
    if "cost_report" in res:
        head += ["", "Cost on the hardware profile (event simulator, whole test split; "
                 f"full report: {res['cost_report']['path']}):", "", format_table(res["cost_report"]["summary"])]
    return "\n".join(head) + "\n"
