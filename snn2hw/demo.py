"""The main job on the bundled data: checkpoint -> integer network -> float vs integer comparison.

Steps: load the shipped ``examples/digits_lif.pt`` (or train one), convert it
for the ``loihi`` profile, run the float and the integer network on the whole
digits test split, and write a table of float accuracy, integer accuracy and
per-layer spike agreement (``demo_results.json`` and ``.md``) beside
``model.s2h`` and ``convert_log.txt``; then map it onto the profile's cores,
run the test split through the event simulator and write the cost report
(``report/report.{json,md,html}``).

Second section, event data (:func:`run_event_demo`, folder ``events/``): load the shipped
``examples/shapes_dvs_if.pt`` (``dvs_conv``, IF neurons, trained on the generated ``shapes_dvs``
event-camera set; or train one), run the first :data:`DVS_SAMPLES` test samples as the binary event
frames they are through the cost report on ``loihi`` and ``speck`` (the library calls ``snn2hw
simulate`` makes: ``model_inputs``, ``build_report``, ``write_report``) and print the costs, the
accuracies and the input sparsity.
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
#: what the event section writes (``events/shapes_dvs_if.pt`` only when it trains)
EVENT_FILES = tuple(f"events/{f}" for f in ("demo_events.json", "demo_events.md", "shapes_dvs_if.pt",
                                             *(f"report/{r}" for r in REPORT_FILES)))
#: what :func:`run_demo` writes into its folder (``digits_lif.pt`` only when it trains), all checked before any work
DEMO_FILES = ("model.s2h", "convert_log.txt", "demo_results.json", "demo_results.md", "digits_lif.pt",
              *(f"report/{f}" for f in REPORT_FILES), *EVENT_FILES)
DEMO_TRAIN = dict(arch="digits_conv", epochs=40, timesteps=4, lr=5e-3, batch_size=64, seed=0)
#: the event-data section: shipped checkpoint, how it is trained, profiles and test samples costed
DVS_SHIPPED = REPO / "examples" / "shapes_dvs_if.pt"
DVS_TRAIN = dict(arch="dvs_conv", neuron="if", epochs=8, lr=5e-3, batch_size=64, seed=0, data="shapes_dvs")
DVS_PROFILES = ("loihi", "speck")
DVS_SAMPLES = 200


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


def run_demo(out_dir, checkpoint=None, retrain: bool = False, profile: str = "loihi", log=print,
             events: bool = True) -> dict:
    """Both sections (``events=False``: the digits one only); the event section's result is ``res['events']``.
    ``checkpoint``, ``retrain`` and ``profile`` are the digits section's; ``retrain`` retrains both models."""
    from snn2hw.util.atomic import check_output_folder
    out_dir = check_output_folder(out_dir, files=DEMO_FILES, folders=("report", "events", "events/report"))
    if checkpoint and not retrain and not Path(checkpoint).is_file():  # a named checkpoint is never replaced
        from snn2hw.errors import CheckpointError                      # by a freshly trained one
        why = "not a regular file" if Path(checkpoint).exists() else "no such checkpoint file"
        raise CheckpointError(f"{checkpoint}: {why} (--checkpoint)")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        res = _run_demo(out_dir, checkpoint, retrain, profile, log)
        if events:
            res["events"] = run_event_demo(out_dir / "events", retrain=retrain, log=log)
        return res
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


def train_events(out: Path, log=print, **overrides) -> Path:
    """Train the event-data demo model (:data:`DVS_TRAIN`, as ``examples/shapes_dvs_if.md`` records) and save a
    bundle; the data set is generated on first use and cached (``snn2hw/data/shapes_dvs.py``)."""
    from snn2hw.frontends.checkpoint import save_checkpoint
    from snn2hw.models import build_model
    from snn2hw.train import evaluate, train
    cfg = {**DVS_TRAIN, **overrides}
    data = load_dataset(cfg["data"])
    torch.manual_seed(cfg["seed"])
    model = build_model(cfg["arch"], num_classes=data.num_classes, neuron=cfg["neuron"])
    log(f"training {cfg['arch']} ({cfg['neuron']}) on {cfg['data']} for {cfg['epochs']} epochs (T={data.timesteps})")
    hist = train(model, data, epochs=cfg["epochs"], lr=cfg["lr"], batch_size=cfg["batch_size"], seed=cfg["seed"],
                 progress=True)
    acc = evaluate(model, data.x_test, data.y_test, T=data.timesteps, encoding="events")
    save_checkpoint(out, model, input_step=data.input_step, timesteps=data.timesteps, encoding="events",
                    dataset=cfg["data"], metrics={"test_accuracy": acc, "train_seconds": hist.seconds},
                    training=cfg)
    log(f"saved {out} (float test accuracy {acc:.4f} on {len(data.y_test)} test samples, {hist.seconds:.1f} s)")
    return out


def run_event_demo(out_dir, checkpoint=None, retrain: bool = False, samples: int = DVS_SAMPLES,
                   profiles=DVS_PROFILES, log=print) -> dict:
    """The event-data section: the shipped (or a freshly trained) ``shapes_dvs`` model costed on ``profiles``
    with the first ``samples`` test samples, through the same calls as ``snn2hw simulate``. Writes
    ``report/report.{json,md,html}``, ``demo_events.json`` and ``.md`` into ``out_dir``."""
    from snn2hw.data import model_inputs
    from snn2hw.report.build import build_report
    from snn2hw.report.render import comparison_rows, fidelity_text
    from snn2hw.report.write import write_report
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = Path(checkpoint) if checkpoint else DVS_SHIPPED
    if retrain or not ckpt.is_file():
        ckpt = train_events(out_dir / "shapes_dvs_if.pt", log=log)
    t0 = time.perf_counter()
    graph, module = load_with_module(ckpt)
    spec = graph.metadata.get("dataset") or "shapes_dvs"
    data = load_dataset(spec)
    t_data = time.perf_counter() - t0
    for n in graph.inputs:
        if graph.nodes[n].step is None and data.input_step:
            graph.nodes[n].step = float(data.input_step)
    x, y, T = model_inputs(graph, data, samples)
    rep = build_report(graph, x, list(profiles), labels=y, source=ckpt.name,
                       data_name=f"{spec} test split (first {len(y)} of {len(data.y_test)})", model=module)
    write_report(rep, out_dir / "report")
    metrics = graph.metadata.get("metrics") or {}
    summary = comparison_rows(rep)
    for row, r in zip(summary, rep["runs"]):  # a profile that prices no event (speck): no dynamic energy to show
        e = r.get("energy_pj_per_sample") or {}
        if all(e.get(c) is None for c in ("synapse", "neuron", "spike", "network")):
            row["energy per sample (uJ)"] = "n/a (no per-event energy published)"
    res = {"checkpoint": str(ckpt), "dataset": spec, "timesteps": T, "test_samples": int(len(y)),
           "trained_test_accuracy": metrics.get("test_accuracy"), "accuracy": rep.get("accuracy"),
           "input_sparsity": rep.get("input_sparsity"),
           "runs": {r["profile"]: {"fits": r.get("fits"), "cores_used": r.get("cores_used"),
                                  "violations": len(r.get("violations") or []),
                                  "energy_pj_per_sample": _dynamic_energy(r),
                                  "latency_ns_per_input_step": (r.get("latency_ns") or {}).get("per_input_step"),
                                  "synops_per_sample": (r.get("totals") or {}).get("synops_per_sample"),
                                  "input_messages_per_sample": next(
                                      (L.get("messages_out_per_sample") for L in r.get("layers", [])
                                       if L["layer"] in graph.inputs), None),
                                  "fidelity_passed": (r.get("fidelity") or {}).get("passed"),
                                  "fidelity": fidelity_text(r), "conversion": r.get("conversion")}
                    for r in rep["runs"]},
           "summary": summary, "report": str(out_dir / "report" / "report.html"),
           "seconds": round(time.perf_counter() - t0, 2), "data_seconds": round(t_data, 2),
           "units": {"accuracy": f"fraction of the {len(y)} test samples costed (trained_test_accuracy: the whole "
                                 f"test split, float model, recorded at training)",
                     "input_sparsity": (rep.get("input_sparsity") or {}).get("units"),
                     "energy_pj_per_sample": "picojoules per sample (all event classes the profile prices)",
                     "latency_ns_per_input_step": "nanoseconds per input timestep (the run's time / samples x T)",
                     "input_messages_per_sample": "messages the input cores send per sample (one per input event "
                                                  "with a synapse, per destination core)"}}
    md = _event_markdown(res)
    write_text(out_dir / "demo_events.json", json.dumps(res, indent=2) + "\n")
    write_text(out_dir / "demo_events.md", md)
    log(md)
    return res


def _dynamic_energy(run: dict):
    """The run's total energy per sample (pJ), or None when the profile prices none of the event classes (its
    total would be the 0 of the unpriced chip crossings)."""
    e = run.get("energy_pj_per_sample") or {}
    if all(e.get(c) is None for c in ("synapse", "neuron", "spike", "network")):
        return None
    return e.get("total")


def _event_markdown(res: dict) -> str:
    from snn2hw.report.input_sparsity import input_sparsity_rows
    sp = res.get("input_sparsity") or {}
    acc = res.get("trained_test_accuracy")
    out = ["# snn2hw demo, event data: " + res["dataset"] + " on " + " and ".join(res["runs"]), "",
           f"checkpoint `{res['checkpoint']}`"
           + (f" (float test accuracy at training {acc:.4f}, whole test split)" if acc is not None else "")
           + f", T = {res['timesteps']}, first {res['test_samples']} test samples, binary event frames", "",
           format_table(res["summary"]), ""]
    for p, r in res["runs"].items():
        if r.get("fidelity_passed") is False:  # say why, with what the conversion had to clip
            clipped = [c for c in r.get("conversion") or [] if "clipped" in c]
            out += [f"{p}: {r['fidelity']}" + (" The conversion for it: " + "; ".join(clipped) + "." if clipped
                                               else ""), ""]
    out += ["Input sparsity (" + sp.get("units", "") + "):", "",
           format_table([r for r in input_sparsity_rows(sp) if r["quantity"] in (
               "events_per_sample", "events_per_sample_min", "events_per_sample_max", "entries_per_sample",
               "density", "per_channel_events_per_sample")]), "",
           "Input messages per sample (one per input event with a synapse, per destination core): "
           + ", ".join(f"{p} {r['input_messages_per_sample']:.1f}" for p, r in res["runs"].items()
                       if r["input_messages_per_sample"] is not None),
           f"Full report: {res['report']}"]
    return "\n".join(out) + "\n"
