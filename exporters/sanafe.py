"""SANA-FE export: the mapped integer network, its input spikes and snn2hw's prediction of that run.

``export_sanafe(graph, x, out_dir, profile)`` writes, for SANA-FE 2.x (Boyle et al., IEEE TCAD
44(8) 2025; https://github.com/SLAM-Lab/SANA-FE; GPL-3, never imported here: this writes its
documented YAML formats):

* ``net.yaml``: the network on the chip as :func:`~snn2hw.simulators.mapping.map_graph` places
  it: one neuron group per population, every composed connection (sum pools before a synapse,
  its integer weights times ``2^weight_exp``, pools/flatten/adds after it: one sparse edge per
  (source, target) pair, weights of parallel paths summed), each neuron mapped to the tile and
  core of the placement (SANA-FE numbers tile ``(x, y)`` as ``x * height + y``), each core's
  synapse unit (dense, sparse or conv, as the mapping stored it), and the samples' input spikes.
* ``expected.json``: snn2hw's event simulator run on that exact network and input
  (``simulate_events(..., reset='neuron')``): the device steps SANA-FE must simulate, energy by
  SANA-FE's classes (J) and simulated time (s) under both timing models; beside it the same
  samples under the chip's own protocol (``reset='state'``, what ``snn2hw simulate`` reports) and
  the difference, so the report can be compared with SANA-FE.
* ``arch.yaml`` for profiles other than ``loihi`` (which loads against SANA-FE's own
  ``sanafe.load_loihi()``): the profile's mesh and per-event costs in SANA-FE's architecture format.

The integer dynamics in SANA-FE's ``leaky_integrate_fire`` soma. SANA-FE keeps the potential in
floating point and truncates it to 1/64 after the leak, so in units of 64 Lava states (``P = v /
64``): ``leak_decay = (4096 - dv) / 4096``, ``threshold = vth`` (strict ``>``; a profile's ``>=``
becomes ``vth - 1/64``), ``bias = (bias_mant << bias_exp) / 64``, weights ``w_int x 2^weight_exp``,
reset ``hard`` to 0 or ``soft`` (subtract). That is Lava's arithmetic exactly for layers without a
current decay (``du = 4095``: ``input_decay = 0``); SANA-FE does not truncate the current, so a
current decay is refused. Lava's 24-bit saturation and wraps are not reproduced.

Inputs. A SANA-FE input neuron sends binary spikes. Binary inputs become one input group with a
spike train per element. Graded inputs (the first layer's integers) become one input group per
sample (and per frame where the frames differ), each element's edges carrying ``weight x value``,
so every nonzero element still sends one message per destination core, as on the chip. Input
neurons sit on the cores ``place_inputs`` gives the input (each copy of an element on the same core,
one ``loihi_inputs[i]`` soma unit each).

Samples and resets (``simulators/run_protocol.py``): sample ``n``'s input frames are device steps
``1 + n S .. 1 + n S + T - 1`` (one warm-up step first). A reset neuron per depth ``d`` spikes one
step before that depth's last idle frame, into every neuron of the depth with weight
``-2^31``; the neurons have a reverse threshold ``-2^30`` with a hard reverse reset to 0, so their
state is cleared for the next sample.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from snn2hw.errors import Snn2hwError
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import depths as _depths
from snn2hw.ir.topology import synapse_paths
from snn2hw.simulators import fixed_point as fp
from snn2hw.simulators.event import RESET_POP
from snn2hw.simulators.placement import place_inputs
from snn2hw.simulators.routing import composite_connections
from snn2hw.simulators.run_protocol import RunProtocol

RESET_WEIGHT = -(2.0 ** 31)
RESET_GROUP = "snn2hw_reset"
REVERSE_THRESHOLD = -(2.0 ** 30)
#: SANA-FE 2.x's Loihi architecture: soma units per core for input neurons (``loihi_inputs[0..1023]``)
INPUT_SOMAS = 1024
LOIHI_UNITS = {"dense": "loihi_dense_synapse", "sparse": "loihi_sparse_synapse", "conv": "loihi_conv_synapse"}


# ----------------------------------------------------------------------------- checks
def sanafe_problems(graph: Graph, profile) -> list:
    """Everything the SANA-FE export cannot express for this graph and profile, all at once."""
    probs = []
    if getattr(profile, "memory_model", None) == "shared_kernel":
        probs.append(f"profile '{profile.name}' maps convolutions as shared kernels (memory_model "
                     f"'shared_kernel'); SANA-FE stores explicit synapses per core")
    cap = profile.capacity
    if cap is None or cap.mesh is None:
        probs.append(f"profile '{profile.name}' has no capacity.mesh (SANA-FE needs the tile mesh)")
    elif cap.mesh.link_buffer_size is None:
        probs.append(f"profile '{profile.name}' has no capacity.mesh.link_buffer_size (SANA-FE's detailed timing "
                     f"model blocks on it)")
    if profile.name != "loihi":
        c = profile.costs
        need = ("synop_energy_pj", "synop_latency_ns", "neuron_active_energy_pj", "neuron_active_latency_ns",
                "neuron_inactive_energy_pj", "neuron_inactive_latency_ns", "spike_out_energy_pj",
                "spike_out_latency_ns", "message_out_energy_pj", "message_out_latency_ns", "message_in_energy_pj",
                "message_in_latency_ns", "hop_ew_energy_pj", "hop_ew_latency_ns", "hop_ns_energy_pj",
                "hop_ns_latency_ns", "barrier_latency_ns")
        miss = [f for f in need if getattr(c, f) is None]
        if miss:
            probs.append(f"profile '{profile.name}' has no {', '.join('costs.' + m for m in miss)} (a SANA-FE "
                         f"architecture prices every event)")
    dep = _depths(graph)
    for name, node in graph.nodes.items():
        if isinstance(node, N.Neuron):
            if node.du != fp.DECAY_ONE - 1:
                probs.append(f"layer '{name}': a current decay (du = {node.du}); SANA-FE's leaky_integrate_fire "
                             f"does not truncate the current as Lava does (only du = 4095 is exact)")
            if node.int_reset == "subtract" and node.int_compare == "ge":
                probs.append(f"layer '{name}': subtractive reset with '>=': SANA-FE subtracts its (strict) "
                             f"threshold vth - 1/64, not vth")
        if isinstance(node, N.SYNAPSES):
            if int(node.weight_exp) < 0:
                probs.append(f"synapse '{name}': negative weight exponent {node.weight_exp} (Lava floors the "
                             f"shifted sum; SANA-FE adds exact weights)")
            from snn2hw.ir.topology import population_of, source_of
            src, tgt = source_of(graph, name), population_of(graph, name)
            if src is not None and tgt is not None and dep[tgt] - dep[src] != 1:
                probs.append(f"synapse '{name}': {dep[tgt] - dep[src] - 1} extra step(s) of delay on a shortcut "
                             f"({src} -> {tgt}); SANA-FE 2.2.9's delay dendrite releases delayed charge only "
                             f"when another message arrives, so delayed synapses are not exported")
    return probs


# ----------------------------------------------------------------------------- inputs
def _input_plan(graph: Graph, x: torch.Tensor) -> dict:
    """Per Input: integer values ``[T, N, n]``, and whether it is binary (one group) or graded (one group per
    sample, or per sample and frame when the frames of a sample differ)."""
    plans = {}
    for name in graph.inputs:
        node = graph.nodes[name]
        lo, hi = node.int_range()
        xi = torch.clamp(torch.round(x.to(torch.float64) / node.step), lo, hi).to(torch.int64)
        xi = xi.reshape(xi.shape[0], xi.shape[1], -1)
        binary = bool(((xi == 0) | (xi == 1)).all())
        constant = bool((xi == xi[:1]).all())
        plans[name] = {"values": xi.numpy(), "binary": binary, "per_frame": not binary and not constant,
                       "copies": 1 if binary else (xi.shape[1] * (1 if constant else xi.shape[0]))}
    return plans


# ----------------------------------------------------------------------------- YAML writing
def _j(v) -> str:
    """A number or list as YAML flow (JSON is valid YAML)."""
    return json.dumps(v, separators=(",", ":"))


def _tile_core(placement, core: int, height: int) -> str:
    x, y = placement.xy_of_tile(placement.tile_of(core))
    return f"{x * height + y}.{core % placement.cores_per_tile}"


def _neuron_attrs(node: N.Neuron, shape: tuple, resets: bool) -> tuple:
    """``(group attributes, per-neuron runs)`` of a layer in SANA-FE's units (P = v / 64)."""
    n = int(np.prod(shape))
    per = n // shape[0] if len(shape) == 3 else 1
    chans = shape[0] if len(shape) == 3 else n

    def per_neuron(arr):
        a = np.broadcast_to(np.asarray(arr, dtype=np.float64).reshape(-1), (chans,)) if np.size(arr) > 1 else \
            np.full(chans, float(np.asarray(arr).reshape(-1)[0]))
        return np.repeat(a, per)

    vth = per_neuron(node.vth).astype(np.float64)
    if node.int_compare == "ge":
        vth = vth - 1.0 / 64
    bm = node.bias_mant if node.bias_mant is not None else 0
    bias = per_neuron(fp.bias_value(torch.as_tensor(np.asarray(bm, dtype=np.int64)), node.bias_exp).numpy()) / 64.0
    attrs = {"reset": 0.0, "reset_mode": "soft" if node.int_reset == "subtract" else "hard",
             "leak_decay": (fp.DECAY_ONE - int(node.dv)) / fp.DECAY_ONE, "input_decay": 0.0}
    if resets:
        attrs.update({"reverse_threshold": REVERSE_THRESHOLD, "reverse_reset": 0.0, "reverse_reset_mode": "hard"})
    return attrs, vth, bias


def _write_net(f, graph: Graph, placement, plans: dict, proto, height: int, depth: dict, resets: bool) -> None:
    """Stream ``net.yaml`` to the open text file ``f``."""
    T, N_ = proto.timesteps, proto.samples
    pops = [n for n in graph.topological_order() if isinstance(graph.nodes[n], N.Neuron)]
    f.write("network:\n  name: snn2hw_export\n  groups:\n")
    # -- input groups (binary: one; graded: one per sample or per sample and frame)
    in_groups = {}
    for name, plan in plans.items():
        vals = plan["values"]  # [T, N, n]
        groups = []
        if plan["binary"]:
            groups.append((f"{name}", None, None))
        else:
            for k in range(N_):
                if plan["per_frame"]:
                    groups += [(f"{name}_s{k}_t{t}", k, t) for t in range(T)]
                else:
                    groups.append((f"{name}_s{k}", k, None))
        in_groups[name] = groups
        clash = [g for g, _, _ in groups if g in graph.nodes and g != name or g == RESET_GROUP]
        if clash:
            raise Snn2hwError(f"SANA-FE export: input group name(s) {clash[:3]} clash with layer names")
        for gname, k, t in groups:
            f.write(f"    - name: {gname}\n      attributes: []\n      neurons:\n")
            n = vals.shape[2]
            for i in range(n):
                if k is None:  # binary: the whole run's train
                    train = np.zeros(proto.steps, dtype=int)
                    for s in range(N_):
                        t0 = int(proto.tau0(s))
                        train[t0:t0 + T] = vals[:, s, i]
                else:
                    frames = range(T) if t is None else [t]
                    t0 = int(proto.tau0(k))
                    last = t0 + max(frames) + 1
                    train = np.zeros(last, dtype=int)
                    for fr in frames:
                        train[t0 + fr] = int(vals[fr, k, i] != 0)
                nz = np.flatnonzero(train)
                train = train[:nz[-1] + 1] if len(nz) else train[:0]
                f.write(f"        - {i}: [spikes: {_j(train.tolist())}]\n")
    # -- the reset neurons
    if resets:
        f.write(f"    - name: {RESET_GROUP}\n      attributes: []\n      neurons:\n")
        for d in range(1, proto.depth + 1):
            train = np.zeros(proto.steps, dtype=int)
            steps = proto.reset_spike_steps(d)
            train[steps[steps >= 0]] = 1
            nz = np.flatnonzero(train)
            f.write(f"        - {d - 1}: [spikes: {_j(train[:nz[-1] + 1].tolist() if len(nz) else [])}]\n")
    # -- neuron layers
    for name in pops:
        node = graph.nodes[name]
        shape = tuple(node.output_shape)
        attrs, vth, bias = _neuron_attrs(node, shape, resets)
        if node.readout:
            vth = np.full_like(vth, 2.0 ** 40)  # a readout never fires
        f.write(f"    - name: {name}\n      attributes: [{', '.join(f'{k}: {_j(v)}' for k, v in attrs.items())}]\n"
                f"      neurons:\n")
        key = np.stack([vth, bias], 1)
        change = np.r_[True, (key[1:] != key[:-1]).any(1)]
        starts = np.flatnonzero(change)
        ends = np.r_[starts[1:], len(vth)]
        for a, b in zip(starts, ends):
            rng = f"{a}..{b - 1}" if b - 1 > a else f"{a}"
            f.write(f"        - {rng}: [threshold: {_j(float(vth[a]))}, bias: {_j(float(bias[a]))}]\n")
    # -- edges
    f.write("  edges:\n")
    for syn in [n for n in graph.topological_order() if isinstance(graph.nodes[n], N.SYNAPSES)]:
        info = synapse_paths(graph, syn)
        src, tgt = info["source"], info["target"]
        scale = 2.0 ** int(graph.nodes[syn].weight_exp)
        chunks = list(composite_connections(graph, syn, {syn: info}))
        if not chunks:
            continue
        tg = torch.cat([c[0] for c in chunks]).numpy()
        sr = torch.cat([c[1] for c in chunks]).numpy()
        ws = torch.cat([c[2] for c in chunks]).numpy().astype(np.float64) * scale
        if src in plans:
            plan = plans[src]
            for gname, k, t in in_groups[src]:
                if k is None:
                    val = np.ones(len(sr))
                else:
                    val = plan["values"][0 if t is None else t, k, sr].astype(np.float64)
                keep = val != 0
                if keep.any():
                    _edge(f, gname, tgt, sr[keep], tg[keep], ws[keep] * val[keep])
        else:
            _edge(f, src, tgt, sr, tg, ws)
    if resets:
        for d in range(1, proto.depth + 1):
            for name in pops:
                if depth[name] != d:
                    continue
                n = int(np.prod(graph.nodes[name].output_shape))
                tg = np.arange(n)
                _edge(f, RESET_GROUP, name, np.full(n, d - 1), tg, np.full(n, RESET_WEIGHT))
    # -- mappings: the soma loop's order on each core (inputs, the reset neurons, layers in order)
    f.write("mappings:\n")
    soma_next = {}  # core -> the next free input soma unit

    def map_inputs(group: str, lp):
        for core, a, b in sorted(lp.ranges, key=lambda r: r[1]):
            for i in range(a, b):
                j = soma_next.get(core, 0)
                soma_next[core] = j + 1
                f.write(f"  - {group}.{i}: [core: {_tile_core(placement, core, height)}, "
                        f"soma: \"loihi_inputs[{j}]\"]\n")
    for name, groups in in_groups.items():
        for gname, _, _ in groups:
            map_inputs(gname, placement.inputs[name])
    if resets:
        map_inputs(RESET_GROUP, placement.inputs[RESET_POP])
    bad = {c: k for c, k in soma_next.items() if k > INPUT_SOMAS}
    if bad:
        raise Snn2hwError(f"SANA-FE export: cores {sorted(bad)} would hold more than {INPUT_SOMAS} input neurons; "
                          f"export fewer samples")
    for name in pops:
        for core, a, b in sorted(placement.layers[name].ranges, key=lambda r: r[1]):
            unit = LOIHI_UNITS[placement.synapse_unit.get(core, "dense")]
            rng = f"{a}..{b - 1}" if b - 1 > a else f"{a}"
            f.write(f"  - {name}.{rng}: [core: {_tile_core(placement, core, height)}, synapse: {unit}]\n")


def _edge(f, src: str, tgt: str, sr, tg, ws):
    pairs = np.stack([np.asarray(sr, dtype=np.int64), np.asarray(tg, dtype=np.int64)], 1).tolist()
    f.write(f"    - {src} -> {tgt}: [type: sparse, source_target_pairs: {_j(pairs)}, "
            f"weight: {_j([float(w) for w in ws])}]\n")


# ----------------------------------------------------------------------------- architecture
def _write_arch(path: Path, profile) -> None:
    """A SANA-FE 2.x architecture of the profile: mesh, tiles, cores and per-event costs."""
    c, mesh = profile.costs, profile.capacity.mesh
    fig = lambda k: float(getattr(c, k).value)  # noqa: E731
    npc = int(profile.capacity.neurons_per_core.value)
    sync = {int(k): float(v.value) * 1e-9 for k, v in sorted(c.barrier_latency_ns.items())}
    buf = int(mesh.link_buffer_size.value)
    lines = [
        f"# SANA-FE 2.x architecture written by snn2hw from profile '{profile.name}' (figures and their sources:",
        "# the profile YAML). Energies in J, latencies in s.",
        "architecture:",
        f"  name: {profile.name}",
        "  attributes:",
        f"    topology: mesh\n    width: {mesh.width}\n    height: {mesh.height}\n    link_buffer_size: {buf}",
        "    sync_model: table\n    latency_sync: {" + ", ".join(f"{k}: {v!r}" for k, v in sync.items()) + "}",
        "  tile:",
        f"    - name: tile[0..{mesh.width * mesh.height - 1}]",
        "      attributes:",
        f"        energy_north_hop: {fig('hop_ns_energy_pj') * 1e-12!r}",
        f"        latency_north_hop: {fig('hop_ns_latency_ns') * 1e-9!r}",
        f"        energy_south_hop: {fig('hop_ns_energy_pj') * 1e-12!r}",
        f"        latency_south_hop: {fig('hop_ns_latency_ns') * 1e-9!r}",
        f"        energy_east_hop: {fig('hop_ew_energy_pj') * 1e-12!r}",
        f"        latency_east_hop: {fig('hop_ew_latency_ns') * 1e-9!r}",
        f"        energy_west_hop: {fig('hop_ew_energy_pj') * 1e-12!r}",
        f"        latency_west_hop: {fig('hop_ew_latency_ns') * 1e-9!r}",
        "      core:",
        f"        - name: core[0..{mesh.cores_per_tile - 1}]",
        "          attributes:",
        f"            buffer_position: soma\n            buffer_inside_unit: false\n"
        f"            max_neurons_supported: {max(npc, INPUT_SOMAS)}",
        "          axon_in:",
        "            - name: axon_in",
        f"              attributes: {{energy_message_in: {fig('message_in_energy_pj') * 1e-12!r}, "
        f"latency_message_in: {fig('message_in_latency_ns') * 1e-9!r}}}",
        "          soma:",
        "            - name: soma",
        "              attributes:",
        "                model: leaky_integrate_fire",
        f"                energy_access_neuron: {fig('neuron_inactive_energy_pj') * 1e-12!r}",
        f"                latency_access_neuron: {fig('neuron_inactive_latency_ns') * 1e-9!r}",
        f"                energy_update_neuron: {(fig('neuron_active_energy_pj') - fig('neuron_inactive_energy_pj')) * 1e-12!r}",
        f"                latency_update_neuron: {(fig('neuron_active_latency_ns') - fig('neuron_inactive_latency_ns')) * 1e-9!r}",
        f"                energy_spike_out: {fig('spike_out_energy_pj') * 1e-12!r}",
        f"                latency_spike_out: {fig('spike_out_latency_ns') * 1e-9!r}",
        f"            - name: loihi_inputs[0..{INPUT_SOMAS - 1}]",
        "              attributes: {model: input, energy_access_neuron: 0.0, latency_access_neuron: 0.0, "
        "energy_update_neuron: 0.0, latency_update_neuron: 0.0, energy_spike_out: 0.0, latency_spike_out: 0.0}",
        "          dendrite:",
        "            - name: dendrites",
        "              attributes: {model: accumulator, energy_update: 0.0, latency_update: 0.0}",
        "          synapse:",
        "            - name: loihi_dense_synapse",
        f"              attributes: {{model: current_based, energy_process_spike: {fig('synop_energy_pj') * 1e-12!r}, "
        f"latency_process_spike: {fig('synop_latency_ns') * 1e-9!r}}}",
        "            - name: loihi_sparse_synapse",
        "              attributes: {model: current_based, energy_process_spike: "
        f"{(c.synop_sparse_energy_pj or c.synop_energy_pj).value * 1e-12!r}, latency_process_spike: "
        f"{(c.synop_sparse_latency_ns or c.synop_latency_ns).value * 1e-9!r}}}",
        "            - name: loihi_conv_synapse",
        "              attributes: {model: current_based, energy_process_spike: "
        f"{(c.synop_conv_energy_pj or c.synop_energy_pj).value * 1e-12!r}, latency_process_spike: "
        f"{(c.synop_conv_latency_ns or c.synop_latency_ns).value * 1e-9!r}}}",
        "          axon_out:",
        "            - name: axon_out",
        f"              attributes: {{energy_message_out: {fig('message_out_energy_pj') * 1e-12!r}, "
        f"latency_message_out: {fig('message_out_latency_ns') * 1e-9!r}}}",
    ]
    path.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- the export
def _sanafe_figures(ev) -> dict:
    """Energy (J) by SANA-FE's classes and simulated time (s) of a whole event-simulator run."""
    n = ev.samples
    e = ev.energy
    tot = lambda k: None if e[k] is None else e[k] * n * 1e-12  # noqa: E731
    soma = None if e["neuron_pj_per_sample"] is None or e["spike_pj_per_sample"] is None else \
        (e["neuron_pj_per_sample"] + e["spike_pj_per_sample"]) * n * 1e-12
    parts = {"synapse": tot("synapse_pj_per_sample"), "dendrite": 0.0, "soma": soma,
             "network": tot("network_pj_per_sample")}
    parts["total"] = None if any(v is None for v in parts.values()) else sum(parts.values())
    return {"energy_j": parts,
            "sim_time_s": {m: d["sim_time_s"] for m, d in ev.latency["models"].items()},
            "counts": {k: v * n for k, v in ev.totals.items() if k.endswith("_per_sample")},
            "spikes": {k: float(v.sum()) for k, v in ev.layer_spikes.items()}}


def export_sanafe(graph: Graph, x, out_dir, profile="loihi", placement=None, batch_size=None) -> dict:
    """Write ``net.yaml``, ``expected.json`` (and ``arch.yaml`` unless the profile is ``loihi``) into
    ``out_dir`` for the inputs ``x`` ``[T, N, *input_shape]`` (float); return ``{"files", "notes"}``."""
    from snn2hw.hw_profiles import load_profile
    from snn2hw.simulators.event import simulate_events
    from snn2hw.simulators.mapping import map_graph
    from snn2hw.util.atomic import check_output_folder
    out_dir = check_output_folder(out_dir, files=("net.yaml", "arch.yaml", "expected.json"))
    prof = load_profile(profile)
    probs = sanafe_problems(graph, prof)
    if probs:
        raise Snn2hwError("the SANA-FE export cannot express this network on profile "
                          f"'{prof.name}':\n  - " + "\n  - ".join(probs))
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(torch.float64)
    graph.infer_shapes()
    if placement is None:
        res = map_graph(graph, prof)
        placement = res.placement
    depth = _depths(graph)
    D = max(depth[n] for n in graph.nodes if isinstance(graph.nodes[n], N.Neuron))
    T, Nn = int(x.shape[0]), int(x.shape[1])
    proto = RunProtocol(timesteps=T, depth=D, samples=Nn, reset="neuron")
    plans = _input_plan(graph, x)
    # input senders: every copy of an element on the element's core; the reset neurons after them
    import copy as _copy
    pl = _copy.copy(placement)
    pl.inputs = {}
    npc = int(prof.capacity.neurons_per_core.value)
    sizes = {n: int(np.prod(graph.nodes[n].output_shape)) for n in graph.inputs}
    sizes[RESET_POP] = D
    place_inputs(pl, sizes, npc, copies={n: p["copies"] for n, p in plans.items()})
    out_dir.mkdir(parents=True, exist_ok=True)
    height = int(prof.capacity.mesh.height)
    with open(out_dir / "net.yaml", "w") as f:
        _write_net(f, graph, pl, plans, proto, height, depth, resets=True)
    files = ["net.yaml"]
    if prof.name != "loihi":
        _write_arch(out_dir / "arch.yaml", prof)
        files.append("arch.yaml")
    ev = simulate_events(graph, x, pl, prof, timing=("detailed", "simple"), reset="neuron", batch_size=batch_size)
    chip = simulate_events(graph, x, pl, prof, timing=("detailed", "simple"), reset="state", batch_size=batch_size)
    mine, theirs = _sanafe_figures(ev), _sanafe_figures(chip)
    # SANA-FE's own counters: input and reset neurons fire (and count as updated) at no cost
    inputs_fired = int(sum(np.count_nonzero(p["values"]) for p in plans.values()))
    resets_fired = int(sum((proto.reset_spike_steps(d) >= 0).sum() for d in range(1, D + 1)))
    t = {k: v * Nn for k, v in ev.totals.items() if k.endswith("_per_sample")}
    mine["sanafe_counters"] = {
        "spikes": round(t["synops_per_sample"]), "packets_sent": round(t["messages_out_per_sample"]),
        "neurons_fired": round(t["spikes_out_per_sample"]) + inputs_fired + resets_fired,
        "neurons_updated": round(t["neuron_updates_active_per_sample"]) + inputs_fired + resets_fired}
    expected = {
        "format": "snn2hw SANA-FE export", "sanafe_version": "2.2.9 (the format; any 2.x reading it)",
        "architecture": "sanafe.load_loihi()" if prof.name == "loihi" else "arch.yaml",
        "profile": prof.name, "samples": Nn, "timesteps_per_sample": T, "device_steps_per_sample": proto.frames,
        "timesteps": proto.steps,
        "protocol": proto.describe() + f"; reset neurons: group '{RESET_GROUP}' (one per depth)",
        **mine,
        "chip_run": {"protocol": chip.protocol.describe(), **theirs},
        "reset_overhead": {
            "energy_j": {k: (None if mine["energy_j"][k] is None or theirs["energy_j"][k] is None
                             else mine["energy_j"][k] - theirs["energy_j"][k]) for k in mine["energy_j"]},
            "sim_time_s": {k: mine["sim_time_s"][k] - theirs["sim_time_s"].get(k, 0.0) for k in mine["sim_time_s"]},
            "meaning": "this run (reset neurons, one warm-up step) minus the same samples under the chip's free "
                       "state reset (what snn2hw simulate reports x samples)"},
        "notes": list(ev.notes),
    }
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    files.append("expected.json")
    notes = [f"sanafe: {Nn} samples, {proto.steps} device steps; run it with sanafe.SpikingChip(arch).sim("
             f"{proto.steps}) (see README); expected.json holds snn2hw's prediction"]
    return {"files": files, "notes": notes, "expected": expected}
