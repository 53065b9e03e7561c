"""The report's ``integer_safety`` section: static overflow bounds next to the observed wraps.

For one integer graph (one profile run) it joins

* the static analysis of ``simulators/bounds.py`` (inputs anywhere in the Input's declared
  integer range, ``T`` steps per sample): per node and quantity, the worst-case interval, the
  limit of the place where the value wraps or saturates, and whether it is proven to stay inside;
* the runtime tally of the event simulator (``EventResult.wraps``, ``simulators/overflow.py``) on
  the simulated samples: events, distinct neurons and samples per node and kind.

:func:`warning_line` condenses the observed part into the one line ``snn2hw simulate`` prints
on stderr. Field meanings are in ``snn2hw/report/SCHEMA.md``.
"""
from __future__ import annotations

from snn2hw.ir import nodes as N
from snn2hw.simulators.bounds import NEURON_KINDS, analyze

_ZERO = {"events": 0, "neurons": 0, "samples": 0}


def integer_safety(graph, wraps: dict, timesteps: int, samples: int) -> dict:
    """The ``integer_safety`` section for the integer ``graph`` run for ``timesteps`` steps on ``samples`` samples."""
    res = analyze(graph, timesteps)
    lo, hi = graph.nodes[graph.inputs[0]].int_range()
    rows = []
    for b in res.bounds:
        if b.kind == "onnx_int64":
            continue
        row = b.to_dict()
        row.update(wraps.get(b.node, {}).get(b.kind, _ZERO))
        rows.append(row)
    layers = []
    for name in graph.topological_order():
        node = graph.nodes[name]
        if not isinstance(node, N.Neuron):
            continue
        mine = [r for r in rows if r["layer"] == name]
        own = wraps.get(name, {})
        layers.append({
            "layer": name, "neurons": int(res.states[name]["u"][0].size),
            "proven_safe": all(r["proven_safe"] for r in mine),
            "may_wrap": [f"{r['node']}.{r['quantity']}" for r in mine if not r["proven_safe"]],
            "events": sum(r["events"] for r in mine),
            "neurons_affected": own.get("any", _ZERO)["neurons"],
            "samples_affected": own.get("any", _ZERO)["samples"],
            "by_kind": {k: own.get(k, _ZERO)["events"] for k in NEURON_KINDS}})
    onnx = next(b.to_dict() for b in res.bounds if b.kind == "onnx_int64") if any(
        b.kind == "onnx_int64" for b in res.bounds) else None
    events = sum(r["events"] for r in rows)
    return {"timesteps": int(timesteps), "samples": int(samples), "input_range": [int(lo), int(hi)],
            "proven_safe": res.proven_safe, "events": events,
            "neurons_affected": sum(L["neurons_affected"] for L in layers),
            "layers": layers, "quantities": rows, "onnx_int64": onnx}


def observed_rows(section: dict) -> list:
    """The ``quantities`` rows where something wrapped or saturated on the simulated samples."""
    return [r for r in section.get("quantities", []) if r["events"]]


def warning_line(report: dict):
    """One line naming, per profile run, every node and kind that wrapped or saturated (events, neurons), or None."""
    parts = []
    for run in report.get("runs", []):
        rows = observed_rows(run.get("integer_safety") or {})
        if rows:
            what = ", ".join(f"{r['node']} {r['quantity']} ({r['events']} events at {r['neurons']} "
                             f"{'neurons' if r['node'] == r['layer'] else 'elements'})" for r in rows)
            parts.append(f"{run['profile']}: {what}")
    if not parts:
        return None
    return ("warning: the integer network wrapped or saturated on the simulated samples: " + "; ".join(parts)
            + " (see integer_safety in the report)")
