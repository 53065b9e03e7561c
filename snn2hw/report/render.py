"""Render a ``report.json`` (schema in ``snn2hw/report/schema.md``) as Markdown or self-contained HTML."""
from __future__ import annotations

from html import escape

from snn2hw.report.layer_table import format_table
from snn2hw.report.svg import bar_chart, core_map


def _num(v, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        a = abs(v)
        if a != 0 and (a >= 1e9 or a < 1e-3):
            return f"{v:.3e}"
        if a >= 100:
            return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"
        return f"{v:.{digits}g}"
    return str(v)


def comparison_rows(report: dict) -> list:
    acc = report.get("accuracy") or {}
    rows = []
    for r in report["runs"]:
        en = r.get("energy_pj_per_sample") or {}
        # a profile that prices no event class (speck): its total is the 0 of the unpriced chip crossings, not data
        e = None if all(en.get(c) is None for c in ("synapse", "neuron", "spike", "network")) else en.get("total")
        lat = (r.get("latency_ns") or {}).get("per_input_step")
        rows.append({"profile": r["profile"], "fits": _num(r.get("fits")),
                     "cores used / available": f"{_num(r.get('cores_used'))} / {_num(r.get('cores_available'))}",
                     "energy per sample (uJ)": _num(None if e is None else e * 1e-6),
                     "latency per input step (us)": _num(None if lat is None else lat * 1e-3),
                     "synops per sample": _num(r.get("totals", {}).get("synops_per_sample"))})
        if report.get("accuracy") is not None:  # labelled data: float vs integer accuracy (the fidelity gate)
            rows[-1]["float acc"] = _num(acc.get("float"))
            rows[-1]["int acc"] = _num(acc.get(f"int ({r['profile']})"))
        if isinstance(r.get("fidelity"), dict):
            rows[-1]["fidelity gate"] = "passed" if r["fidelity"].get("passed") else "FAILED"
    return rows


def fidelity_text(run: dict) -> str:
    """The fidelity gate's verdict for a run (``runs[].fidelity``) in one paragraph; "" for reports without it."""
    f = run.get("fidelity")
    if not isinstance(f, dict):
        return ""
    lim = _num(f.get("max_drop_points"))
    if f.get("accuracy_checked"):
        acc = (f"float accuracy {_num(f.get('float_accuracy'))}, integer accuracy {_num(f.get('int_accuracy'))}, "
               f"drop {f['drop_points']:.1f} points (limit {lim})" if isinstance(f.get("drop_points"), (int, float))
               else f"drop n/a (limit {lim})")
    else:
        acc = "accuracy not compared (no labels, or an integer input graph without a float original)"
    unreal = f.get("unrealisable_neurons") or []
    neurons = ("; neuron models not realisable on this profile" + (" (approximated: --allow-approximation)"
               if f.get("approximation_allowed") else "") + ": " + ", ".join(
        f"layer '{u.get('layer')}' is {u.get('model')} ({u.get('why')}), closest: {u.get('closest')}" for u in unreal)
        if unreal else "")
    return f"Fidelity gate {'passed' if f.get('passed') else 'FAILED'}: {acc}{neurons}."


def _kv_rows(d: dict) -> list:
    return [{"quantity": k, "value": _num(v)} for k, v in d.items() if not isinstance(v, (dict, list))]


def _layer_rows(run: dict) -> list:
    return [{k: _num(v) for k, v in row.items()} for row in run.get("layers", [])]


def _limits(r: dict) -> str:
    return f"[{_num(r['limit_lo'])}, {_num(r['limit_hi'])}]"


def integer_safety_rows(run: dict) -> list:
    """One row per node and quantity: static worst case vs limit, verdict, observed events / neurons / samples."""
    rows = []
    for r in (run.get("integer_safety") or {}).get("quantities", []):
        verdict = "proven bounded" if r["proven_safe"] else f"may wrap ({r['elements_at_risk']} of {r['elements']})"
        rows.append({"node": r["node"], "quantity": r["quantity"], "worst case": f"[{_num(r['lo'])}, {_num(r['hi'])}]",
                     "limit": _limits(r), "static": verdict, "events": _num(r["events"]),
                     "neurons": _num(r["neurons"]), "samples": _num(r["samples"])})
    return rows


def integer_safety_text(run: dict) -> str:
    """The sentence above the integer safety table."""
    sec = run.get("integer_safety")
    if not sec:
        return ""
    lo, hi = sec["input_range"]
    verdict = ("every quantity is proven bounded" if sec["proven_safe"] else
               "not proven: " + ", ".join(L["layer"] for L in sec["layers"] if not L["proven_safe"])
               + " may wrap or saturate")
    onnx = sec.get("onnx_int64")
    onnx_txt = "" if onnx is None else (" The int64 ONNX model's intermediates are proven below 2^62."
                                        if onnx["proven_safe"] else
                                        " The int64 ONNX model's intermediates are NOT proven below 2^62.")
    return (f"Static analysis for any input in the declared integer range [{lo}, {hi}] over "
            f"{sec['timesteps']} steps: {verdict}.{onnx_txt} Observed on {sec['samples']} samples: "
            f"{sec['events']} wrap/saturation events, {sec['neurons_affected']} neurons affected.")


def to_markdown(report: dict) -> str:
    m, inp = report["model"], report["inputs"]
    out = [f"# snn2hw cost report: {m.get('source', '')}", "",
           f"snn2hw {report['snn2hw_version']}, report schema {report['schema_version']}, created {report['created']}",
           "", "## Inputs", "",
           format_table(_kv_rows({**inp})), ""]
    if report.get("input_sparsity"):
        from snn2hw.report.input_sparsity import input_sparsity_rows
        out += ["## Input sparsity", "", report["input_sparsity"].get("units", ""), "",
                format_table(input_sparsity_rows(report["input_sparsity"])), ""]
    acc = report.get("accuracy")
    if acc:
        out += ["## Accuracy", "", format_table(_kv_rows(acc)), ""]
    out += ["## Profile comparison", "", format_table(comparison_rows(report)), ""]
    for run in report["runs"]:
        out += [f"## Profile `{run['profile']}`", "", run.get("description", ""), ""]
        if fidelity_text(run):
            out += [("**" + fidelity_text(run) + "**") if not run["fidelity"].get("passed") else fidelity_text(run), ""]
        if run.get("violations"):
            out += ["**Does not fit.** Violations:", ""]
            out += [f"- {'layer `' + v['layer'] + '`' if v.get('layer') else 'whole network'}: {v['resource']} needs {_num(v['needed'])}, available "
                    f"{_num(v['available'])}. {v.get('suggestion', '')}" for v in run["violations"]]
            out.append("")
        out += ["### Per layer", "", format_table(_layer_rows(run)) if run.get("layers") else "(none)", ""]
        if run.get("integer_safety"):
            out += ["### Integer safety", "", integer_safety_text(run), "",
                    format_table(integer_safety_rows(run)), ""]
        if run.get("energy_pj_per_sample"):
            out += ["### Energy per sample (pJ)", "", format_table(_kv_rows(run["energy_pj_per_sample"])), ""]
        if run.get("latency_ns"):
            out += ["### Latency (ns)", "", format_table(_kv_rows(run["latency_ns"])), ""]
        for sec, title in (("memory", "Memory"), ("neurobench", "NeuroBench metrics"),
                           ("literature", "Literature convention (45 nm, E_AC 0.9 pJ, E_MAC 4.6 pJ)")):
            if run.get(sec):
                out += [f"### {title}", "", format_table(_kv_rows(run[sec])), ""]
        if run.get("assumptions"):
            out += ["### Assumptions and sources", ""] + [f"- {a}" for a in run["assumptions"]] + [""]
    if report.get("assumptions"):
        out += ["## Assumptions", ""] + [f"- {a}" for a in report["assumptions"]] + [""]
    return "\n".join(out)


def _html_table(rows: list) -> str:
    if not rows:
        return "<p>(none)</p>"
    cols = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
       "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
       "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
       ".bad{color:#b00}")


#: runs with more cores show the occupancy picture only, not one utilisation bar group per core
MAX_CORE_BARS = 64


def plots(report: dict) -> list:
    runs = report["runs"]
    if not runs:
        return []
    first = runs[0]
    layers = [r["layer"] for r in first.get("layers", [])]
    out = []
    if layers:
        out.append(bar_chart("Firing rate per layer", layers,
                             {"spikes / neuron / step": [r.get("firing_rate") for r in first["layers"]]}, "rate"))
        out.append(bar_chart("Synaptic operations per layer", layers,
                             {"synops / sample": [r.get("synops_per_sample") for r in first["layers"]]}, "events"))
    classes = sorted({k for r in runs for k in (r.get("energy_pj_per_sample") or {}) if k != "total"})
    if classes:
        out.append(bar_chart("Energy per sample by event class", classes,
                             {r["profile"]: [(r.get("energy_pj_per_sample") or {}).get(c) for c in classes]
                              for r in runs}, "pJ"))
    for r in runs:
        cores = r.get("cores") or []
        mesh = r.get("mesh")
        if cores and mesh:
            out.append(core_map(f"Core occupancy on {r['profile']} (cores coloured by layer)",
                                [(c["core"], c["layer"]) for c in cores], mesh["width"], mesh["height"],
                                mesh["cores_per_tile"]))
        if cores and len(cores) <= MAX_CORE_BARS:
            lab = [f"core {c['core']}" for c in cores]
            series = {}
            for key, lim in (("neurons", "neurons_limit"), ("synapse_bits", "synapse_bits_limit"),
                             ("fan_in", "fan_in_limit"), ("kernel_entries", "kernel_entries_limit"),
                             ("neuron_entries", "neuron_entries_limit")):
                if all(c.get(lim) for c in cores):
                    series[key] = [c.get(key, 0) / c[lim] for c in cores]
            if series:
                out.append(bar_chart(f"Core utilisation on {r['profile']}", lab, series, "fraction of limit"))
    return out


def to_html(report: dict) -> str:
    m = report["model"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>snn2hw report</title><style>{CSS}</style>"
             f"</head><body><h1>snn2hw cost report</h1><p>{escape(str(m.get('source', '')))}; snn2hw "
             f"{escape(report['snn2hw_version'])}, schema {report['schema_version']}, created "
             f"{escape(report['created'])}</p>", "<h2>Inputs</h2>", _html_table(_kv_rows(report["inputs"]))]
    if report.get("input_sparsity"):
        from snn2hw.report.input_sparsity import input_sparsity_rows
        parts += ["<h2>Input sparsity</h2>", f"<p>{escape(report['input_sparsity'].get('units', ''))}</p>",
                  _html_table(input_sparsity_rows(report["input_sparsity"]))]
    if report.get("accuracy"):
        parts += ["<h2>Accuracy</h2>", _html_table(_kv_rows(report["accuracy"]))]
    parts += ["<h2>Profile comparison</h2>", _html_table(comparison_rows(report)), "<h2>Plots</h2>"]
    parts += [f"<div>{p}</div>" for p in plots(report)]
    for run in report["runs"]:
        parts.append(f"<h2>Profile <code>{escape(run['profile'])}</code></h2><p>{escape(run.get('description', ''))}</p>")
        if fidelity_text(run):
            text = escape(fidelity_text(run))
            parts.append(f"<p>{text}</p>" if run["fidelity"].get("passed") else f"<p class='bad'><b>{text}</b></p>")
        if run.get("violations"):
            parts.append("<p class='bad'><b>Does not fit.</b></p><ul>" + "".join(
                f"<li>{'layer <code>' + escape(v['layer']) + '</code>' if v.get('layer') else 'whole network'}: "
                f"{escape(v['resource'])} needs {_num(v['needed'])}, "
                f"available {_num(v['available'])}. {escape(v.get('suggestion', ''))}</li>" for v in run["violations"])
                + "</ul>")
        parts += ["<h3>Per layer</h3>", _html_table(_layer_rows(run))]
        if run.get("integer_safety"):
            parts += ["<h3>Integer safety</h3>", f"<p>{escape(integer_safety_text(run))}</p>",
                      _html_table(integer_safety_rows(run))]
        for sec, title in (("energy_pj_per_sample", "Energy per sample (pJ)"),
                           ("latency_ns", "Latency (ns)"), ("memory", "Memory"),
                           ("neurobench", "NeuroBench metrics"),
                           ("literature", "Literature convention (45 nm, E_AC 0.9 pJ, E_MAC 4.6 pJ)")):
            if run.get(sec):
                parts += [f"<h3>{title}</h3>", _html_table(_kv_rows(run[sec]))]
        if run.get("assumptions"):
            parts.append("<h3>Assumptions and sources</h3><ul>" + "".join(
                f"<li>{escape(a)}</li>" for a in run["assumptions"]) + "</ul>")
    if report.get("assumptions"):
        parts.append("<h2>Assumptions</h2><ul>" + "".join(f"<li>{escape(a)}</li>" for a in report["assumptions"])
                     + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
