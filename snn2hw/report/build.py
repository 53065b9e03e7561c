"""Build a versioned cost report (``report.json``) from a model, data and hardware profiles.

For every profile: convert the model to that profile's integer formats (unless
the graph is already integer), map it onto the profile's cores
(``simulators/mapping.py``), run it on the inputs in the cycle-level event
simulator (``simulators/event.py``), and add NeuroBench's metrics (synaptic
operations of the integer run; footprint, parameter count, connection and
activation sparsity of the torch model when one is given,
``snn2hw/report/torch_metrics.py``; the integer network's own figures as
``int_*``), the literature convention (``simulators/costs.py``) and the integer safety section
(static overflow bounds and observed wraps, ``snn2hw/report/integer_safety.py``). The report is deterministic
for the same inputs and options except the ``created`` field, which ``SOURCE_DATE_EPOCH`` fixes too
(``snn2hw/util/timestamp.py``). Its schema is
described in ``snn2hw/report/SCHEMA.md``.
"""
from __future__ import annotations

import numpy as np
import torch

from snn2hw import __version__
from snn2hw.exporters.export import is_quantized
from snn2hw.hw_profiles import load_profile
from snn2hw.ir.graph import Graph
from snn2hw.passes.pipeline import convert
from snn2hw.report.integer_safety import integer_safety
from snn2hw.util.timestamp import created_timestamp

SCHEMA = "snn2hw-report"
SCHEMA_VERSION = 1

LAYER_KEYS = ("neurons", "depth", "firing_rate", "spikes_out_per_sample", "synops_per_sample",
              "neuron_updates_active_per_sample", "messages_out_per_sample")


def _clean(v):
    """JSON-safe plain Python values (numpy/torch scalars to float/int, round floats to 12 digits)."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return float(f"{f:.12g}") if np.isfinite(f) else None
    if isinstance(v, torch.Tensor):
        return _clean(v.tolist())
    return v


def _figures(profile) -> list:
    """``key = value (source)`` lines for every cost figure the profile has, then its system's."""
    out = []
    for key, fig in profile.costs:
        if fig is None:
            continue
        if isinstance(fig, dict):
            for tiles, f in sorted(fig.items()):
                out.append(f"{key}[{tiles} tiles] = {f.value:g}: {f.source}")
        else:
            out.append(f"{key} = {fig.value:g}{' (estimate)' if fig.estimate else ''}: {fig.source}")
    sysm = profile.system
    if sysm is not None:
        out.append(f"system {sysm.name}: {sysm.chips.value:g} chips{' (estimate)' if sysm.chips.estimate else ''}: "
                   f"{sysm.chips.source}; chip mesh {sysm.chips_x} x {sysm.chips_y}"
                   f"{' (estimate)' if sysm.estimate else ''}: {sysm.source}")
        for key in ("interchip_energy_pj", "interchip_latency_ns"):
            fig = getattr(sysm, key)
            if fig is not None:
                out.append(f"system.{key} = {fig.value:g}{' (estimate)' if fig.estimate else ''}: {fig.source}")
    return out


def _layer_rows(ev, costs, chip_pj=None) -> list:
    """Per population: its counts and its energy per event class (pJ per sample, ``energy_parts``; ``chip_pj``:
    one chip boundary crossed). A layer's synaptic events are priced at the unit of the cores holding it (their
    mean when they differ)."""
    from snn2hw.report.energy_parts import energy_by_class, unit_pj
    rows = []
    for name, L in ev.layers.items():
        units = [unit_pj(costs, c["synapse_unit"]) for c in ev.cores.values() if name in c["layers"]]
        units = [u for u in units if u is not None]
        syn_pj = sum(units) / len(units) if units else unit_pj(costs, "dense")
        row = {"layer": name, **{k: L.get(k) for k in LAYER_KEYS if k in L}}
        for cls, v in energy_by_class(L, costs, syn_pj, chip_pj).items():
            row[f"energy_{cls}_pj_per_sample"] = v
        rows.append(row)
    return rows


def _add_core_events(rows: list, ev, costs, chip_pj=None):
    """Per core row of the mapping: its event counts and energy per class (pJ per sample; ``chip_pj``: one chip
    boundary crossed); cores that only send the input get a row of their own."""
    from snn2hw.report.energy_parts import energy_by_class, unit_pj
    have = {r["core"] for r in rows}
    for core, c in sorted(ev.cores.items()):
        if core not in have:
            rows.append({"core": core, "tile": c["tile"], "layer": ", ".join(c["layers"]), "neurons": 0})
    for row in rows:
        c = ev.cores.get(row["core"])
        if c is None:
            continue
        for k in ("synops", "neuron_updates_active", "neuron_updates_inactive", "spikes_out", "messages_out",
                  "spikes_in"):
            row[f"{k}_per_sample"] = c.get(f"{k}_per_sample")
        row["synapse_unit"] = c["synapse_unit"]
        row["chip"] = c.get("chip", 0)
        for cls, v in energy_by_class(c, costs, unit_pj(costs, c["synapse_unit"]), chip_pj).items():
            row[f"energy_{cls}_pj_per_sample"] = v


def _mesh(profile, placement) -> dict:
    """The chip mesh the placement's cores lie on (the HTML occupancy picture; cores beyond a chip's count are
    on the next chip) and the system's chip mesh (``chips_x x chips_y``; 1 x 1 without a system)."""
    cap = profile.capacity
    w, cpt = placement.mesh_width, placement.cores_per_tile
    cores = int(cap.cores.value)
    h = cap.mesh.height if cap.mesh is not None else max(1, -(-cores // (w * cpt)))
    sysm = profile.system
    return {"width": w, "height": h, "cores_per_tile": cpt, "cores_per_chip": w * h * cpt,
            "chips_x": sysm.chips_x if sysm is not None else 1, "chips_y": sysm.chips_y if sysm is not None else 1}


def _system(profile) -> dict:
    """The profile's system of chips (``null``: one chip, crossings not priced)."""
    sysm = profile.system
    if sysm is None:
        return None

    def v(f):
        return None if f is None else f.value
    return {"name": sysm.name, "chips_available": int(sysm.chips.value), "chips_x": sysm.chips_x,
            "chips_y": sysm.chips_y, "interchip_energy_pj": v(sysm.interchip_energy_pj),
            "interchip_latency_ns": v(sysm.interchip_latency_ns)}


def _core_row(u, placement, limits) -> dict:
    """One core's usage next to its limits; a shared-kernel chip (Speck) reports its memory entries."""
    if u.kernel_limit:
        return {"core": u.core, "tile": placement.tile_of(u.core), "layer": u.layer, "neurons": u.neurons,
                "kernel_entries": u.kernel_entries, "kernel_entries_limit": u.kernel_limit,
                "neuron_entries": u.neuron_entries, "neuron_entries_limit": u.neuron_limit,
                "bias_entries": u.bias_entries, "bias_entries_limit": u.bias_limit}
    return {"core": u.core, "tile": placement.tile_of(u.core), "layer": u.layer,
            "neurons": u.neurons, "neurons_limit": limits.get("neurons_per_core"),
            "synapse_bits": u.synapse_bits, "synapse_bits_limit": limits.get("synapse_memory_bits_per_core"),
            "fan_in": u.fan_in, "fan_in_limit": limits.get("fan_in_axons_per_core"),
            "fan_out": u.fan_out, "fan_out_limit": limits.get("fan_out_axons_per_core")}


NEUROBENCH_TORCH_KEYS = ("footprint_bytes", "parameter_count", "connection_sparsity", "activation_sparsity")
NEUROBENCH_FLOAT_KEYS = ("float_effective_acs_per_sample", "float_effective_macs_per_sample",
                         "float_dense_sops_per_sample")
NO_TORCH_MODEL = ("NeuroBench's footprint_bytes, parameter_count, connection_sparsity, activation_sparsity and "
                  "float_* synaptic operations are taken on the torch model; none was given (an IR or NIR input), "
                  "so they are null; the integer network's own figures are the int_* fields")


def _neurobench_block(nb: dict, torch_nb) -> dict:
    """NeuroBench's figures of the torch model (or null), its synaptic operations of the integer run, the
    float model's, then the integer network's own ``int_*`` figures."""
    tn = torch_nb or {}
    out = {k: tn.get(k) for k in NEUROBENCH_TORCH_KEYS}
    out.update({k: v for k, v in nb.items() if not k.startswith("int_") and not isinstance(v, (dict, list))})
    out.update({k: tn.get(k) for k in NEUROBENCH_FLOAT_KEYS})
    out.update({k: v for k, v in nb.items() if k.startswith("int_") and not isinstance(v, (dict, list))})
    return out


TIMING_WORDS = {
    "simple": "simple (SANA-FE's simple model): per device step, max(slowest core's neuron side, slowest core's "
              "message side) + barrier; no network time, no contention",
    "detailed": "detailed (SANA-FE's detailed model, Boyle et al. IEEE TCAD 2025): every message scheduled: each "
                "core's soma loop sends its messages in order, the mesh adds hop and congestion delays (with "
                "blocking when a route's link buffers are full), each destination core processes its messages one "
                "at a time; the step ends at the last send or processing, plus the barrier",
}


def _latency_block(ev) -> dict:
    """``latency_ns`` of a run: the headline model's figures, then each computed model's, named by what they divide by."""
    lat = ev.latency
    head = lat.get("timing_model")
    out = {"timing_model": head,
           "per_sample": lat.get("latency_ns_per_sample"), "per_input_step": lat.get("latency_ns_per_input_step"),
           "per_device_step": lat.get("latency_ns_per_device_step"),
           "per_device_step_max": lat.get("latency_ns_per_device_step_max")}
    for m, d in lat.get("models", {}).items():
        for k in ("per_sample", "per_input_step", "per_device_step", "per_device_step_max"):
            out[f"{m}_{k}"] = d[f"latency_ns_{k}"]
    out.update({"barrier_per_device_step": lat.get("barrier_latency_ns"), "input_steps_per_sample": lat.get("timesteps"),
                "device_steps_per_sample": lat.get("device_steps"), "run_device_steps": lat.get("run_device_steps"),
                "samples_in_run": ev.samples})
    return out


def profile_run(graph: Graph, x: torch.Tensor, labels, profile_name, batch_size=None, progress=False,
                torch_nb=None, timing: str = "detailed", synapse_model=None, events=None,
                effort: str = "normal") -> dict:
    """One profile's run of the report (``events``: the event simulator, ``simulate_events`` by default)."""
    from snn2hw.simulators.costs import literature_sops, neurobench_metrics
    from snn2hw.simulators.event import sequential_placement, simulate_events
    from snn2hw.simulators.mapping import map_graph
    from snn2hw.report.energy_parts import interchip_pj
    prof = load_profile(profile_name)
    assumptions = list(prof.notes)
    if is_quantized(graph):
        gi, conv_notes = graph, [f"the graph was already quantized (for {graph.metadata.get('profile')}); used as is"]
    else:
        res = convert(graph, profile=prof)
        gi, conv_notes = res.graph, res.approximations + res.refusals
    run = {"profile": prof.name, "description": prof.description.strip(), "conversion": conv_notes}
    if prof.capacity is not None:
        mapping = map_graph(gi, prof, synapse_model=synapse_model if prof.memory_model == "synapse_list" else None,
                            effort=effort)
        placement = mapping.placement
        run.update({"fits": mapping.fits, "cores_used": mapping.totals.get("cores_used"),
                    "cores_available": mapping.totals.get("cores_available"),
                    "chips": mapping.totals.get("chips_needed"),
                    "synapse_model": mapping.totals.get("synapse_model", mapping.totals.get("memory_model")),
                    "mapping_effort": mapping.totals.get("effort"),
                    "lower_bound_cores": mapping.totals.get("lower_bound_cores"),
                    "mesh": _mesh(prof, placement), "system": _system(prof),
                    "violations": [v.to_dict() for v in mapping.violations],
                    "cores": [_core_row(u, placement, mapping.limits) for u in mapping.usage],
                    "memory": {"synapse_bits": mapping.totals.get("synapse_bits"),
                               "stored_synapses": mapping.totals.get("synapses")}})
        assumptions += list(placement.notes)
    else:
        placement = sequential_placement(gi, profile=prof)
        run.update({"fits": None, "cores_used": None, "cores_available": None, "chips": None, "system": None,
                    "violations": [], "cores": []})
        assumptions.append(f"profile '{prof.name}' has no capacity model: no mapping or fit check; events are "
                           f"counted on a nominal sequential placement")
    models = (timing,) + (("simple",) if timing != "simple" else ())
    ev = (events or simulate_events)(gi, x, placement=placement, profile=prof, batch_size=batch_size,
                                     progress=f"{prof.name}: event simulation" if progress else False, timing=models)
    chip_pj = interchip_pj(prof)
    run["layers"] = _layer_rows(ev, prof.costs, chip_pj)
    if run["cores"]:
        _add_core_events(run["cores"], ev, prof.costs, chip_pj)
    run["integer_safety"] = integer_safety(gi, ev.wraps, int(x.shape[0]), int(x.shape[1]))
    run["totals"] = dict(ev.totals)
    run["spikes_crossing_chips_per_sample"] = ev.totals.get("messages_crossing_chips_per_sample", 0.0)
    run["chip_hops_per_sample"] = ev.totals.get("chip_hops_per_sample", 0.0)
    run["energy_pj_per_sample"] = {k[:-len("_pj_per_sample")]: v for k, v in ev.energy.items()
                                   if k.endswith("_pj_per_sample")}
    run["latency_ns"] = _latency_block(ev)
    nb = neurobench_metrics(ev, gi, prof)
    run["neurobench"] = _neurobench_block(nb, torch_nb)
    lit = literature_sops(ev)
    run["literature"] = {k: v for k, v in lit.items() if not isinstance(v, (dict, list))}
    run["memory"] = {**run.get("memory", {}), "footprint_bytes": nb.get("int_footprint_bytes")}
    if labels is not None:
        run["int_accuracy"] = float((ev.predictions().numpy() == np.asarray(labels)).mean())
    run["assumptions"] = assumptions + list(ev.notes) + conv_notes + [
        "run protocol: " + ev.protocol.describe(),
        "counts and energy per sample = the run's totals / samples, idle frames (a layer keeps its potential, bias "
        "and arriving spikes for D = depth steps after its T frames, then is reset), fill and drain included; "
        "firing_rate and the neurobench block are over the T frames of the execution model",
        "energy per sample = sum over event classes of (events per sample x the profile's per-event energy)",
        "latency: " + " | ".join(TIMING_WORDS[m] for m in ev.latency.get("models", {})) + "; per_sample = the "
        "run's time / samples, per_input_step = / (samples x T), per_device_step = / the run's device steps",
        "literature convention: " + lit.get("convention", "")] + _figures(prof) + (
        [] if torch_nb is not None else [NO_TORCH_MODEL])
    return run


def _check_simulation_memory(graph: Graph, T: int, batch: int) -> None:
    """Refuse, before any simulation, a run whose estimated peak memory (T x batch x the largest layer x
    all neurons, snn2hw.util.limits.simulation_bytes) is above the byte limit, saying how to lower it."""
    from snn2hw.util.limits import check_simulation_memory, numel
    sizes = [numel(n.output_shape) for n in graph.nodes.values() if getattr(n, "output_shape", None) is not None]
    if sizes:
        check_simulation_memory(T, batch, sum(sizes), max(sizes), what="simulating this model")


def build_report(graph: Graph, x: torch.Tensor, profiles, labels=None, source: str = "", data_name: str = "",
                 batch_size=None, progress=False, model=None, timing: str = "detailed", synapse_model=None,
                 max_accuracy_drop: float | None = None, allow_approximation: bool = False, events=None,
                 effort: str = "normal") -> dict:
    """``x``: float inputs ``[T, B, ...]``; ``labels``: optional ``[B]`` for accuracy; ``model``: the torch
    module the graph came from (NeuroBench's footprint, sparsities, float synaptic operations; run on ``x``
    in batches of ``batch_size``), or None; ``timing``: the headline timing model (``"detailed"`` or
    ``"simple"``; the simple one is always computed too); ``synapse_model``: how a synapse-list chip stores conv
    synapses (``"expanded"`` | ``"shared"``; None: each profile's default); ``max_accuracy_drop`` (points; None:
    the default, 2) and ``allow_approximation``: the fidelity gate's settings, recorded with its verdict in each
    run's ``fidelity`` block (``snn2hw/report/fidelity.py``); ``events``: the event simulator to call, with
    ``simulate_events``' arguments and result (None: ``simulate_events`` in this process;
    ``simulators.event_shards.sharded(pool)``: the samples in shards on local processes or Ray, merged into
    the same result); ``effort``: the mapping's merging effort (``snn2hw map --effort``)."""
    from snn2hw.report import fidelity
    max_drop = fidelity.DEFAULT_MAX_DROP if max_accuracy_drop is None else float(max_accuracy_drop)
    from snn2hw.simulators.reference import simulate
    T, B = int(x.shape[0]), int(x.shape[1])
    _check_simulation_memory(graph, T, min(int(batch_size or B), B))
    report = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "snn2hw_version": __version__,
              "created": created_timestamp(),  # SOURCE_DATE_EPOCH when set (snn2hw/util/timestamp.py)
              "model": {"source": str(source), "arch": graph.metadata.get("arch"), "nodes": len(graph.nodes),
                        "parameters": graph.num_params(),
                        "quantized_for": graph.metadata.get("profile") if is_quantized(graph) else None},
              "inputs": {"data": data_name, "samples": B, "timesteps": T,
                         "encoding": graph.metadata.get("encoding", "direct"),
                         "input_step": next((graph.nodes[n].step for n in graph.inputs), None)},
              "accuracy": None, "runs": [],
              "assumptions": ["all counts are per sample (mean over the samples) unless the key says per_step",
                              "units are in the key names: pj = picojoules, ns = nanoseconds, bits, bytes"]}
    from snn2hw.report.input_sparsity import input_sparsity
    sparsity = input_sparsity(x, report["inputs"]["encoding"])  # event / binary inputs only
    if sparsity is not None:
        report["input_sparsity"] = sparsity
    if labels is not None:
        acc = {"labels": f"{data_name} ({B} samples)"}
        if not is_quantized(graph):
            acc["float"] = simulate(graph, x, mode="float", batch_size=batch_size).accuracy(labels)
        report["accuracy"] = acc
    torch_nb = None
    if model is not None:
        from snn2hw.report.torch_metrics import torch_model_metrics
        torch_nb = torch_model_metrics(model, x, batch_size=batch_size)
    for p in profiles:
        run = profile_run(graph, x, labels, p, batch_size=batch_size, progress=progress, torch_nb=torch_nb,
                          synapse_model=synapse_model, timing=timing, events=events, effort=effort)
        int_acc = run.pop("int_accuracy", None)
        if labels is not None:
            report["accuracy"][f"int ({run['profile']})"] = int_acc
        unreal = fidelity.unrealisable_neurons(graph, load_profile(p))
        run["fidelity"] = fidelity.verdict(run["profile"], (report["accuracy"] or {}).get("float"), int_acc, unreal,
                                           max_drop, allow_approximation)
        report["runs"].append(run)
    return _clean(report)
