"""Event simulator: the integer network run on real inputs, with per-core, per-step event counts and costs.

``simulate_events(graph, x, placement, profile)`` runs the quantized graph with the
*same* arithmetic as the reference simulator (``reference._Runner._synapse_int`` for
every synapse, ``fixed_point.cuba_step`` for every neuron, the same input
quantisation ``clip(round(x / step))``), so its spikes equal
``simulate(graph, x, mode='int')`` bit for bit, and it tallies the same wraps and
saturations (``EventResult.wraps``, ``simulators/overflow.py``). Beside the spikes it
counts the events the way the chip executes them, as SANA-FE 2.2.9 models a mapped
network (``docs/COST_MODEL.md``; checked against SANA-FE itself in ``tests/oracles``),
per device timestep and per core of the :class:`~snn2hw.simulators.placement.Placement`:

* ``synops``: synaptic events, one per (traveling source element, existing synapse) pair.
  A source element travels when it is nonzero (a spike, or a nonzero input value); a
  synapse exists iff its ``weight_int`` entry is nonzero; conv padding is respected.
  Sum pools between the source population and the synapse are *composed* into it
  (the chip stores pool o synapse, so a 2x2/2 pool before a 3x3 conv is a 6x6/2 conv on
  the pre-pool spikes): every spike of the pre-pool population fans out over the composed
  kernel, i.e. the pooled spike *count* meets the binarised kernel (exact for pools whose
  windows do not overlap; an upper bound, noted, where they do). Identity synapses of
  residual adds are ordinary one-to-one synapses. ``synops_graded`` is the subset fed by
  the graph input (graded values). Events are charged to the core holding the
  destination neuron, on the device step the message travels in, at the synapse unit of
  that core (``Placement.synapse_unit``: the profile's ``synop_sparse_*`` figures for a
  core storing sparse synapses, ``synop_*`` otherwise).
* ``spikes_in``: messages received by a core (from other cores or the input senders).
* ``neuron_updates_active`` / ``neuron_updates_inactive``: every neuron on the chip is
  accessed on *every* device step, pipeline fill and drain included (SANA-FE's soma
  loop); the access is an *update* (``active``) when the neuron received at least one
  synaptic event for this step, holds a nonzero potential ``v`` or has a nonzero bias,
  else inactive (access only). In fill steps (before a layer's first frame) a neuron is
  updated only with a bias; in drain steps its state keeps decaying with no input.
* ``spikes_out``: neurons that fired (a readout never fires).
* ``messages_out``: one per (traveling source element, destination core): the distinct
  cores holding at least one neuron with an existing synapse from it (through pools,
  flatten, adds; over all its outgoing synapses). Input elements are sent by the cores
  ``place_inputs`` gives the ``Input`` population (on ``Placement.input_tile``), so input
  messages are charged like any other (SANA-FE's input neurons).
* ``hops_ew`` / ``hops_ns``: per message, the east-west / north-south mesh hops
  between the source and destination tiles (``Placement.hops``, dimension-order routing).
* ``membrane_updates``: NeuroBench's count (v changed by the step, all neurons at the
  first step).

Time. The layers are evaluated in the aligned frame (layer by layer over all T steps,
which is equivalent to stepping the whole network since each synapse stage delays by
one step). Counts are then placed on *device* steps: a layer at synaptic depth ``d``
updates its neurons, fires and sends its messages for frame ``k`` at device step
``k + d``; the synaptic events and received messages that feed it are processed at
device step ``k + d - 1`` (the step they are sent in). A sample takes ``S = T + D``
device steps (D the deepest layer).

Costs (``profile.costs``; energies pJ, latencies ns, power mW):

* energy per class: ``synapse`` = sum over cores of synops x the core's synapse unit;
  ``neuron`` = active x neuron_active + inactive x neuron_inactive; ``spike`` =
  spikes_out x spike_out; ``network`` = messages_out x message_out + spikes_in x
  message_in + hops_ew x hop_ew + hops_ns x hop_ns; ``static`` = static_power x latency.
  (SANA-FE's classes: soma = neuron + spike, network = network, synapse = synapse,
  dendrite = 0.) A class with a missing (null) cost is ``None`` (never 0) and a note says
  which field is missing; the total then excludes it, as ``total_excludes`` says.
* latency (SANA-FE's *simple* timing model): per device step and core, the neuron side
  ``inactive x neuron_inactive + active x neuron_active + spikes_out x spike_out +
  messages_out x message_out`` and the message side ``spikes_in x message_in + synops x
  synapse unit``; the step takes ``max(max over cores of the neuron side, max over cores
  of the message side) + barrier`` (``barrier_ns``: the table entry for the tiles in use).
  No network time, no contention.

Per-sample figures are means over the samples. Counts and energies "per step" are per
*input* timestep (per sample / T). Latency is given per sample, per input step
(``latency_ns_per_input_step`` = per sample / T) and per device step
(``latency_ns_per_device_step`` = per sample / S).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from snn2hw.errors import Snn2hwError
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import depths as _depths
from snn2hw.ir.topology import chain_down, chain_up, population_of, source_of, synapses_from
from snn2hw.simulators import fixed_point as fp
from snn2hw.simulators.placement import LayerPlacement, Placement, place_inputs
from snn2hw.simulators.reference import _chan, _linear, _Runner, network_output
from snn2hw.simulators.routing import build_route

#: per-core event classes counted on every device step
CORE_EVENTS = ("synops", "synops_graded", "spikes_in", "neuron_updates_active", "neuron_updates_inactive",
               "spikes_out", "messages_out")
#: event class -> (Costs energy field, Costs latency field)
_COST_FIELDS = {
    "synops": ("synop_energy_pj", "synop_latency_ns"),
    "neuron_updates_active": ("neuron_active_energy_pj", "neuron_active_latency_ns"),
    "neuron_updates_inactive": ("neuron_inactive_energy_pj", "neuron_inactive_latency_ns"),
    "spikes_out": ("spike_out_energy_pj", "spike_out_latency_ns"),
    "messages_out": ("message_out_energy_pj", "message_out_latency_ns"),
    "spikes_in": ("message_in_energy_pj", "message_in_latency_ns"),
    "hops_ew": ("hop_ew_energy_pj", "hop_ew_latency_ns"),
    "hops_ns": ("hop_ns_energy_pj", "hop_ns_latency_ns"),
}
_ENERGY_CLASSES = {
    "synapse": ("synops",),
    "neuron": ("neuron_updates_active", "neuron_updates_inactive"),
    "spike": ("spikes_out",),
    "network": ("messages_out", "spikes_in", "hops_ew", "hops_ns"),
}


@dataclass
class EventResult:
    """What :func:`simulate_events` returns (plain Python numbers and CPU tensors/arrays).

    * ``output``, ``output_kind``, ``layer_spikes``: as :class:`SimResult` (equal to the reference's).
    * ``spikes``: neuron layer -> ``[T, B, ...]`` int64 spikes (only with ``record_spikes=True``).
    * ``layers``: neuron layer -> counts (``<event>_per_sample``, ``<event>_per_step``), ``neurons``, ``cores``, ``depth``.
    * ``synapses``: synapse node -> NeuroBench / literature inputs: ``effective_ops_per_sample``,
      ``effective_acs_per_sample``, ``effective_macs_per_sample``, ``dense_ops_per_sample``,
      ``flops_per_step``, ``source``, ``target``, ``graded``, ``identity``, ...
    * ``cores``: core id -> counts per sample / per step, ``tile``, ``layers``.
    * ``core_step_counts``: event -> ``[device_steps, cores]`` float array (mean per sample); ``core_ids``.
    * ``totals``: whole chip, ``<event>_per_sample`` and ``<event>_per_step``.
    * ``energy``: ``<class>_pj_per_sample`` / ``<class>_pj_per_step`` for synapse, neuron, spike,
      network, static, total (``None`` where the profile lacks a cost).
    * ``latency``: ``latency_ns_per_sample``, ``latency_ns_per_input_step``, ``latency_ns_per_device_step``,
      ``latency_ns_per_device_step_max``, ``device_step_latency_ns`` (``[device_steps]`` mean over samples),
      ``barrier_latency_ns``, ``tiles_used``, ``device_steps``, ``timesteps``, ``timing_model`` (``None``s when
      the profile lacks a latency figure).
    """

    timesteps: int
    device_steps: int
    samples: int
    output: torch.Tensor
    output_kind: str
    layer_spikes: dict
    spikes: dict
    layers: dict
    synapses: dict
    cores: dict
    core_ids: list
    core_step_counts: dict
    totals: dict
    energy: dict
    latency: dict
    neurons_per_layer: dict
    notes: list = field(default_factory=list)
    placement: Optional[Placement] = None
    profile: Optional[str] = None
    #: node -> kind -> {"events", "neurons", "samples"}: every wrap / saturation (``simulators/overflow.py``)
    wraps: dict = field(default_factory=dict)

    def predictions(self) -> torch.Tensor:
        return self.output.argmax(dim=1)

    def firing_rates(self) -> dict:
        """Mean spikes per neuron per timestep, per spiking layer."""
        return {k: float(v.sum()) / max(self.neurons_per_layer[k] * self.timesteps * self.samples, 1)
                for k, v in self.layer_spikes.items()}


# ----------------------------------------------------------------------------- placement helper
def sequential_placement(graph: Graph, neurons_per_core: Optional[int] = None, profile=None,
                         mesh_width: Optional[int] = None, cores_per_tile: Optional[int] = None) -> Placement:
    """Trivial placement: every neuron layer, in topological order, split over fresh cores of
    ``neurons_per_core`` neurons in C-major order. Defaults come from the profile's capacity
    (1024 neurons, an 8-wide mesh of 1-core tiles without one)."""
    prof = _load_profile(profile) if profile is not None else None
    cap = prof.capacity if prof is not None else None
    if neurons_per_core is None:
        neurons_per_core = int(cap.neurons_per_core.value) if cap is not None else 1024
    mesh = cap.mesh if cap is not None else None
    mesh_width = int(mesh_width or (mesh.width if mesh else 8))
    cores_per_tile = int(cores_per_tile or (mesh.cores_per_tile if mesh else 1))
    graph.infer_shapes()
    pl = Placement(profile=prof.name if prof is not None else "none", mesh_width=mesh_width,
                   cores_per_tile=cores_per_tile, notes=[f"sequential placement: {neurons_per_core} neurons per core, "
                                                         "layers on fresh cores in topological order"])
    core = 0
    for name in graph.topological_order():
        node = graph.nodes[name]
        if not isinstance(node, N.Neuron):
            continue
        n = int(np.prod(node.output_shape))
        lp = LayerPlacement(layer=name, neurons=n)
        for a in range(0, n, neurons_per_core):
            lp.ranges.append((core, a, min(n, a + neurons_per_core)))
            core += 1
        pl.layers[name] = lp
    return pl


def _load_profile(profile):
    from snn2hw.hw_profiles import load_profile
    return load_profile(profile)


# ----------------------------------------------------------------------------- graph walks
def _glue_apply(node, x: torch.Tensor) -> torch.Tensor:
    if isinstance(node, N.SumPool2d):
        return F.avg_pool2d(x, node.kernel_size, node.stride, node.padding, count_include_pad=True,
                            divisor_override=1)
    if isinstance(node, N.Flatten):
        return x.flatten(1)
    if isinstance(node, N.Add):
        return x
    raise Snn2hwError(f"the event simulator cannot route through {type(node).__name__} nodes")


def _syn_apply(node, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    if isinstance(node, N.Dense):
        return F.linear(x, w)
    return F.conv2d(x, w, None, node.stride, node.padding, node.dilation, node.groups)


def flops_per_step(node) -> int:
    """Literature FLOPs of a synapse node per timestep: ``H_out W_out C_in/groups k_h k_w C_out`` (conv), ``in x out`` (dense)."""
    if isinstance(node, N.Dense):
        return int(node.weight.shape[0] * node.weight.shape[1])
    c_out, cg, kh, kw = node.weight.shape
    _, ho, wo = node.output_shape
    return int(ho * wo * cg * kh * kw * c_out)


# ----------------------------------------------------------------------------- the simulator
#: event class -> the per-core serial work it takes in SANA-FE's pipeline: the soma side (neuron processing and the
#: messages it generates) or the message side (axon in, synapse and dendrite work of the messages a core receives)
_WORK_BUCKET = {"neuron_updates_active": "neuron", "neuron_updates_inactive": "neuron", "spikes_out": "neuron",
                "messages_out": "neuron", "spikes_in": "message", "synops": "message"}


class _EventRunner:
    def __init__(self, graph: Graph, placement: Placement, profile, notes: list):
        self.ref = _Runner(graph, "int", (), torch.float64)  # validates, checks quantization, holds synapse params
        self.g = graph
        graph.infer_shapes()
        self.order = self.ref.order
        self.depth = _depths(graph)
        self.costs = profile.costs
        self.notes = notes
        pops = [n for n in self.order if isinstance(graph.nodes[n], N.Neuron)]
        missing = [n for n in pops if n not in placement.layers]
        if missing:
            raise Snn2hwError(f"the placement has no cores for neuron layer(s) {missing}")
        ins = {n: int(np.prod(graph.nodes[n].output_shape)) for n in graph.inputs}
        if any(n not in placement.inputs for n in ins):  # give the input senders cores (on a copy)
            placement = copy.copy(placement)
            placement.inputs = dict(placement.inputs)
            cap = profile.capacity
            place_inputs(placement, ins, int(cap.neurons_per_core.value) if cap is not None else 1024)
        self.pl = placement
        self.core_ids = sorted(set(placement.cores_used) | {c for lp in placement.inputs.values() for c in lp.cores})
        cidx = {c: i for i, c in enumerate(self.core_ids)}
        self.C = len(self.core_ids)
        self.core_xy = np.array([placement.xy_of_tile(placement.tile_of(c)) for c in self.core_ids]).reshape(-1, 2)
        self.core_of = {}   # population (neuron layer or input) -> LongTensor [n] of compact core indices
        for name in pops + list(ins):
            lp = placement.layers[name] if name in placement.layers else placement.inputs[name]
            n = int(np.prod(graph.nodes[name].output_shape))
            co = lp.core_of_neuron()
            if lp.neurons != n or (co < 0).any():
                raise Snn2hwError(f"placement of '{name}' covers {int((co >= 0).sum())} of {n} neurons")
            self.core_of[name] = torch.as_tensor(np.array([cidx[c] for c in co]), dtype=torch.long)
        self.n_core = {name: torch.zeros(self.C, dtype=torch.float64).index_add_(
            0, idx, torch.ones(len(idx), dtype=torch.float64)) for name, idx in self.core_of.items()}
        self.T_depth = max(self.depth[n] for n in pops) if pops else 0
        self.sparse_cores = torch.tensor([placement.synapse_unit.get(c) == "sparse" for c in self.core_ids],
                                         dtype=torch.bool)
        # binarised synapses and their static properties
        self.wb, self.syn_info = {}, {}
        for name in self.order:
            node = graph.nodes[name]
            if not isinstance(node, N.SYNAPSES):
                continue
            wb = torch.as_tensor(node.weight_int != 0, dtype=torch.float32)
            self.wb[name] = wb
            src, tgt = source_of(graph, name), population_of(graph, name)
            up = chain_up(graph, name)
            ones = torch.ones((1,) + tuple(node.input_shape))
            dense = float(_syn_apply(node, ones, torch.ones_like(wb)).sum())
            self.syn_info[name] = {"source": src, "target": tgt, "graded": isinstance(graph.nodes[src], N.Input),
                                   "identity": bool(node.metadata.get("identity", False)),
                                   "weights": int(node.weight_int.size),
                                   "weights_nonzero": int(np.count_nonzero(node.weight_int)),
                                   "input_elements": int(np.prod(node.input_shape)),
                                   "flops_per_step": flops_per_step(node), "dense_ops_per_step": dense,
                                   "chain_up": up, "chain_down": chain_down(graph, name, tgt)}
            overlap = [u for u in up if isinstance(graph.nodes[u], N.SumPool2d)
                       and any(k > st for k, st in zip(graph.nodes[u].kernel_size, graph.nodes[u].stride))]
            if overlap:
                notes.append(f"synapse '{name}': overlapping pool {overlap} before it; a source spike is counted "
                             f"once per pool window holding it (an upper bound of the composed synapses)")
        self._build_reach()

    # -- static routing: which cores each source neuron reaches
    def _build_reach(self):
        g, c = self.g, self.costs
        lat_ew = c.hop_ew_latency_ns.value if c.hop_ew_latency_ns is not None else None
        lat_ns = c.hop_ns_latency_ns.value if c.hop_ns_latency_ns is not None else None
        lat = (lat_ew, lat_ns) if lat_ew is not None and lat_ns is not None and self.C else None
        self.route = {}
        for p in self.order:
            node = g.nodes[p]
            if not isinstance(node, (N.Input, N.Neuron)):
                continue
            n = int(np.prod(node.output_shape))
            syns, _ = synapses_from(g, p)
            src_core = self.core_of[p]
            sxy = self.core_xy[src_core.numpy()].reshape(-1, 2)
            r = build_route(g, p, syns, self.syn_info, self.wb, self.core_of, self.C, n, sxy,
                            self.core_xy.reshape(-1, 2), lat)  # maxlat: each element's farthest destination
            r["src_core"] = src_core
            self.route[p] = r

    # -- one chunk of samples
    def run(self, x: torch.Tensor, acc: dict, record: bool) -> dict:
        g = self.g
        T, B = x.shape[0], x.shape[1]
        res = {"layer_spikes": {}, "spikes": {}}
        tally = self.ref.tally
        tally.begin_chunk(B)
        vals, cnt, act = {}, {}, {}
        final_v = {}
        for name in self.order:
            node = g.nodes[name]
            if isinstance(node, N.Input):
                lo, hi = node.int_range()
                xi = torch.clamp(torch.round(x.to(torch.float64) / node.step), lo, hi).to(torch.int64)
                vals[name] = xi
                nz = (xi != 0).reshape((T * B,) + tuple(xi.shape[2:])).to(torch.float32)
                act[name] = nz
                self._send(name, nz.reshape(T, B, -1).double(), acc, T, B)
                continue
            preds = g.predecessors(name)
            if isinstance(node, N.Neuron):
                a = tally.wrap(name, "input_wrap", vals[preds[0]], 32)
                s, v = self._neuron(name, node, a, cnt.get(preds[0]), acc, T, B)
                vals[name], final_v[name] = s, v
                act[name] = s.reshape((T * B,) + tuple(s.shape[2:])).to(torch.float32)
                if not node.readout:
                    res["layer_spikes"][name] = s.reshape(T, B, -1).sum((0, 2)).double()
                    if record:
                        res["spikes"][name] = s
                    self._send(name, s.reshape(T, B, -1).double(), acc, T, B)
                continue
            flat = [vals[p].reshape((T * B,) + tuple(vals[p].shape[2:])) for p in preds]
            if isinstance(node, N.SYNAPSES):
                y = self.ref._synapse_int(name, node, flat[0])
                # synaptic events: every traveling spike (nonzero source element) over the composed
                # (pool o synapse) fan-out: the pooled *count* of spikes meets the binarised kernel
                c = _syn_apply(node, act[preds[0]], self.wb[name]).double()
                xb = (flat[0] != 0).to(torch.float32)
                # NeuroBench's effective ops: nonzero (pooled) input values x nonzero weights
                c_nb = c if xb.equal(act[preds[0]]) else _syn_apply(node, xb, self.wb[name]).double()
                info = self.syn_info[name]
                per_t = c_nb.reshape(T, -1).sum(1)
                is_ac = flat[0].reshape(T, -1).abs().amax(1) <= 1 if flat[0].numel() else torch.ones(T, dtype=bool)
                sa = acc["syn"].setdefault(name, {"effective_ops": 0.0, "effective_acs": 0.0, "effective_macs": 0.0,
                                                  "input_nonzero": 0.0, "input_sum": 0.0, "synops": 0.0})
                sa["effective_ops"] += float(per_t.sum())
                sa["effective_acs"] += float(per_t[is_ac].sum())
                sa["effective_macs"] += float(per_t[~is_ac].sum())
                sa["input_nonzero"] += float(xb.double().sum())
                sa["input_sum"] += float(flat[0].abs().double().sum())
                sa["synops"] += float(c.sum())
                cnt[name] = {"graded": c} if info["graded"] else {"spike": c}
            else:
                y = _linear(node, flat, None, None)
                if isinstance(node, N.Add):
                    y = tally.wrap(name, "add_wrap", y, 32)
                elif preds[0] in act and isinstance(node, (N.SumPool2d, N.Flatten)):
                    act[name] = _glue_apply(node, act[preds[0]])
                maps = [cnt[p] for p in preds if p in cnt]
                if maps:  # event maps of the synapses upstream, routed like the currents
                    cnt[name] = {}
                    for kind in ("spike", "graded"):
                        ms = [_glue_apply(node, m[kind]) for m in maps if kind in m]
                        if ms:
                            cnt[name][kind] = sum(ms)
            vals[name] = y.reshape((T, B) + tuple(y.shape[1:]))
        res["output"], res["output_kind"] = network_output(g, vals, final_v, T, B)
        tally.end_chunk()
        return res

    def _core_sum(self, layer: str, t: torch.Tensor) -> torch.Tensor:
        """``[T, B, n]`` per-neuron values -> ``[T, B, C]`` per-core sums."""
        out = torch.zeros(t.shape[:2] + (self.C,), dtype=torch.float64)
        return out.index_add_(2, self.core_of[layer], t.double())

    def _add(self, acc, event: str, k0: int, per_core: torch.Tensor, layer: Optional[str] = None):
        """Add ``[steps, B, C]`` counts starting at device step ``k0``; charge their latency to the cores."""
        T = per_core.shape[0]
        acc["core"][event][k0:k0 + T] += per_core.sum(1)
        lat = acc["lat"].get(event)
        if lat is not None:
            acc["work"][_WORK_BUCKET[event]][:, k0:k0 + T] += per_core.permute(1, 0, 2) * lat
        if layer is not None:
            acc["layer"].setdefault(layer, {}).setdefault(event, 0.0)
            acc["layer"][layer][event] += float(per_core.sum())

    def _updates(self, acc, name, k0: int, active: torch.Tensor, B: int):
        """Charge ``[steps, B, n]`` active flags (and the rest of the layer's neurons as inactive) from step ``k0``."""
        if active.shape[0] == 0:
            return
        act = self._core_sum(name, active.reshape(active.shape[0], B, -1))
        self._add(acc, "neuron_updates_active", k0, act, name)
        self._add(acc, "neuron_updates_inactive", k0, self.n_core[name] - act, name)

    def _neuron(self, name, node: N.Neuron, a, cmap, acc, T, B):
        d = self.depth[name]
        S = T + self.T_depth
        received = torch.zeros(a.shape, dtype=torch.bool)
        # synaptic events into this layer (processed the step before the neurons integrate them)
        if cmap is not None:
            for kind, mm in cmap.items():
                received |= mm.reshape(a.shape) > 0
                pc = self._core_sum(name, mm.reshape(T, B, -1))
                self._add(acc, "synops", d - 1, pc, name)
                if kind == "graded":
                    acc["core"]["synops_graded"][d - 1:d - 1 + T] += pc.sum(1)
                    acc["layer"][name]["synops_graded"] = acc["layer"][name].get("synops_graded", 0.0) + float(pc.sum())
        nd = a.ndim - 1
        vth64 = _chan(node.vth, nd, torch.int64) << fp.SCALE_SHIFT
        bias = fp.bias_value(_chan(node.bias_mant if node.bias_mant is not None else 0, nd, torch.int64),
                             node.bias_exp)
        bias_nz = torch.broadcast_to(bias != 0, a.shape[1:])
        u = torch.zeros_like(a[0])
        v = torch.zeros_like(a[0])
        out = torch.empty_like(a)
        active = torch.empty(a.shape, dtype=torch.bool)
        memb = 0
        for t in range(T):
            # SANA-FE's rule: a neuron is updated (not only accessed) when it received a synaptic event,
            # holds a nonzero potential or has a bias
            active[t] = received[t] | (v != 0) | bias_nz
            v_prev = v
            u, v, s = fp.cuba_step(u, v, a[t], node.du, node.dv, bias, vth64, node.int_compare, node.int_reset,
                                   on_overflow=self.ref.tally.recorder(name))
            if node.readout:
                s = torch.zeros_like(s)
            memb += int((v != v_prev).sum()) if t else int(v.numel())
            out[t] = s
        # every neuron is accessed on every device step: pipeline fill (before its first frame) and drain (after
        # its last) included; there it has no input, so it is updated only while it holds a potential or a bias
        self._updates(acc, name, 0, bias_nz.expand((d,) + bias_nz.shape), B)
        self._updates(acc, name, d, active, B)
        drain = S - d - T
        if drain > 0:
            act_d = torch.empty((drain,) + a.shape[1:], dtype=torch.bool)
            uu, vv, zero = u, v, torch.zeros_like(a[0])
            fired = 0
            for k in range(drain):
                act_d[k] = (vv != 0) | bias_nz
                uu, vv, sd = fp.cuba_step(uu, vv, zero, node.du, node.dv, bias, vth64, node.int_compare,
                                          node.int_reset)
                fired += 0 if node.readout else int(sd.sum())
            self._updates(acc, name, d + T, act_d, B)
            if fired:
                acc["drain_spikes"][name] = acc["drain_spikes"].get(name, 0) + fired
        L = acc["layer"].setdefault(name, {})
        L["membrane_updates"] = L.get("membrane_updates", 0.0) + memb
        return out, v

    def _send(self, name, s: torch.Tensor, acc, T, B):
        """Messages of population ``name`` with spikes (or nonzero inputs) ``s`` ``[T, B, n]``."""
        r = self.route[name]
        d = self.depth[name]
        L = acc["layer"].setdefault(name, {})
        if not isinstance(self.g.nodes[name], N.Input):  # an input sender's soma does no work (SANA-FE 'input')
            self._add(acc, "spikes_out", d, self._core_sum(name, s), name)
        self._add(acc, "messages_out", d, self._core_sum(name, s * r["deg"]), name)
        if self.C:
            n = s.shape[-1]  # messages received per destination core: [T, B, C] (exact integers in float32)
            m_in = (r["Rt"] @ s.reshape(-1, n).t().to(torch.float32)).t().to(s.dtype).reshape(*s.shape[:-1], self.C)
            self._add(acc, "spikes_in", d, m_in)
            L["messages_delivered"] = L.get("messages_delivered", 0.0) + float(m_in.sum())
        ew, ns = s @ r["ew"], s @ r["ns"]  # [T, B]
        acc["hops_ew"][d:d + T] += ew.sum(1)
        acc["hops_ns"][d:d + T] += ns.sum(1)
        L["hops_ew"] = L.get("hops_ew", 0.0) + float(ew.sum())
        L["hops_ns"] = L.get("hops_ns", 0.0) + float(ns.sum())


def _figure(costs, fld):
    f = getattr(costs, fld)
    return None if f is None else float(f.value)


def barrier_ns(costs, tiles: int):
    """The barrier for ``tiles`` tiles in use: the largest key not above it, the smallest key below all keys
    (SANA-FE's ``latency_sync`` lookup); ``None`` without a table."""
    table = costs.barrier_latency_ns
    if table is None:
        return None
    keys = sorted(table)
    below = [k for k in keys if k <= tiles]
    return float(table[below[-1] if below else keys[0]].value)


def _synop_costs(costs, sparse: torch.Tensor, which: int):
    """Per-core synaptic-event cost ``[C]`` (``which`` 0: energy, 1: latency): the sparse unit where a core stores
    its synapses sparse and the profile prices it, else the (dense) ``synop`` figure; ``None`` when missing."""
    dense = _figure(costs, _COST_FIELDS["synops"][which])
    if dense is None:
        return None
    sp = _figure(costs, ("synop_sparse_energy_pj", "synop_sparse_latency_ns")[which])
    out = torch.full(sparse.shape, dense, dtype=torch.float64)
    if sp is not None:
        out[sparse] = sp
    return out


def simulate_events(graph: Graph, x, placement: Optional[Placement] = None, profile="loihi",
                    batch_size: Optional[int] = None, progress: bool = False,
                    record_spikes: bool = False) -> EventResult:
    """Run the integer ``graph`` on ``x`` (``[T, B, *input_shape]`` float) and count events and costs.

    ``placement``: where each neuron layer lives (``None``: ``simulators.mapping.map_graph`` when
    available, else :func:`sequential_placement`). ``profile``: a profile name, path or object
    (its ``costs`` price the events). ``batch_size`` streams the samples in chunks (a tqdm bar with
    ``progress``). See the module docstring for what is counted and how.
    """
    prof = _load_profile(profile)
    notes: list = []
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if x.ndim < 3:
        raise Snn2hwError(f"input must be [T, B, *shape], got shape {tuple(x.shape)}")
    if placement is None:
        try:
            from snn2hw.simulators.mapping import map_graph
            placement = map_graph(graph, prof).placement
            notes.append("placement from simulators.mapping.map_graph")
        except ImportError:
            placement = sequential_placement(graph, profile=prof)
            notes.append("no mapping module: sequential placement (layers on fresh cores in order)")
    runner = _EventRunner(graph, placement, prof, notes)
    placement = runner.pl
    T, B = int(x.shape[0]), int(x.shape[1])
    S = T + runner.T_depth
    C = runner.C
    costs = prof.costs
    lat = {ev: _figure(costs, f[1]) for ev, f in _COST_FIELDS.items()}
    syn_lat = _synop_costs(costs, runner.sparse_cores, 1)
    lat["synops"] = syn_lat
    core_lat_fields = tuple(_WORK_BUCKET)
    lat_missing = [_COST_FIELDS[e][1] for e in core_lat_fields if lat[e] is None]
    acc = {"core": {e: torch.zeros(S, C, dtype=torch.float64) for e in CORE_EVENTS},
           "hops_ew": torch.zeros(S, dtype=torch.float64), "hops_ns": torch.zeros(S, dtype=torch.float64),
           "layer": {}, "syn": {}, "drain_spikes": {},
           "lat": {e: lat[e] for e in core_lat_fields} if not lat_missing else {}}
    bs = B if not batch_size else int(batch_size)
    chunks = range(0, B, bs)
    if progress:
        from tqdm.auto import tqdm
        chunks = tqdm(chunks, desc="simulate_events", unit="batch")
    parts, step_lat = [], []
    tiles = len(placement.tiles_used)
    barrier = barrier_ns(costs, tiles) if tiles else 0.0
    for i in chunks:
        xb = x[:, i:i + bs]
        b = int(xb.shape[1])
        acc["work"] = {k: torch.zeros(b, S, C, dtype=torch.float64) for k in ("neuron", "message")}
        parts.append(runner.run(xb, acc, record_spikes))
        if not lat_missing and barrier is not None:
            # SANA-FE's simple timing: the slowest core's neuron processing or the slowest core's message
            # processing, whichever is longer, plus the barrier (no network time, no contention)
            w = [acc["work"][k].amax(2) if C else torch.zeros(b, S, dtype=torch.float64) for k in ("neuron", "message")]
            step_lat.append(torch.maximum(w[0], w[1]) + barrier)
    out = torch.cat([p["output"] for p in parts])
    layer_spikes = {k: torch.cat([p["layer_spikes"][k] for p in parts]) for k in parts[0]["layer_spikes"]}
    spikes = {k: torch.cat([p["spikes"][k] for p in parts], dim=1) for k in parts[0]["spikes"]}
    for name, n in acc["drain_spikes"].items():
        notes.append(f"'{name}': {n / B:g} spikes per sample would fire in the pipeline drain steps (current or "
                     f"bias left after its T steps); the execution model ends a layer after T steps and does "
                     f"not count them")

    # -------------------------------------------------------------- counts
    per_core = {e: acc["core"][e] / B for e in CORE_EVENTS}  # [S, C] per sample
    totals = {}
    for e in CORE_EVENTS:
        totals[f"{e}_per_sample"] = float(per_core[e].sum())
    totals["hops_ew_per_sample"] = float(acc["hops_ew"].sum()) / B
    totals["hops_ns_per_sample"] = float(acc["hops_ns"].sum()) / B
    for k in list(totals):
        totals[k.replace("_per_sample", "_per_step")] = totals[k] / T
    totals["device_steps_per_sample"] = S
    sizes = {n: int(np.prod(graph.nodes[n].output_shape)) for n in graph.nodes if isinstance(graph.nodes[n], N.Neuron)}
    layers = {}
    for name, d in acc["layer"].items():
        node = graph.nodes[name]
        L = {"kind": "input" if isinstance(node, N.Input) else "neuron", "depth": runner.depth[name],
             "neurons": int(np.prod(node.output_shape))}
        lp = placement.layers.get(name) or placement.inputs.get(name)
        if lp is not None:
            L["cores"] = lp.cores
        for e, v in d.items():
            L[f"{e}_per_sample"] = v / B
            L[f"{e}_per_step"] = v / B / T
        if name in layer_spikes:
            L["spikes_out_per_sample"] = float(layer_spikes[name].sum()) / B
            L["firing_rate"] = float(layer_spikes[name].sum()) / (B * T * L["neurons"])
        layers[name] = L
    synapses = {}
    for name, info in runner.syn_info.items():
        s = {k: v for k, v in info.items() if k not in ("chain_up", "chain_down")}
        a = acc["syn"].get(name, {})
        for k in ("effective_ops", "effective_acs", "effective_macs", "input_nonzero", "input_sum", "synops"):
            s[f"{k}_per_sample"] = a.get(k, 0.0) / B
        s["dense_ops_per_sample"] = info["dense_ops_per_step"] * T
        s["input_activity"] = s["input_nonzero_per_sample"] / max(T * info["input_elements"], 1)
        synapses[name] = s
    cores = {}
    tile_of = placement.tile_of
    held = {**placement.layers, **placement.inputs}
    for j, c in enumerate(runner.core_ids):
        d = {"tile": tile_of(c), "layers": [n for n, lp in held.items() if c in lp.cores],
             "synapse_unit": "sparse" if bool(runner.sparse_cores[j]) else "dense"}
        for e in CORE_EVENTS:
            d[f"{e}_per_sample"] = float(per_core[e][:, j].sum())
            d[f"{e}_per_step"] = d[f"{e}_per_sample"] / T
        cores[c] = d

    # -------------------------------------------------------------- energy
    counts = {e: totals[f"{e}_per_sample"] for e in CORE_EVENTS}
    counts["hops_ew"], counts["hops_ns"] = totals["hops_ew_per_sample"], totals["hops_ns_per_sample"]
    syn_e = _synop_costs(costs, runner.sparse_cores, 0)
    energy = {}
    for cls, evs in _ENERGY_CLASSES.items():
        miss = [_COST_FIELDS[e][0] for e in evs if getattr(costs, _COST_FIELDS[e][0]) is None]
        if miss:
            energy[f"{cls}_pj_per_sample"] = None
            notes.append(f"energy '{cls}' not modelled: profile '{prof.name}' has no {', '.join(miss)}")
        elif cls == "synapse":
            energy["synapse_pj_per_sample"] = float((per_core["synops"].sum(0) * syn_e).sum()) if C else 0.0
        else:
            energy[f"{cls}_pj_per_sample"] = sum(counts[e] * _figure(costs, _COST_FIELDS[e][0]) for e in evs)

    latency = {"barrier_latency_ns": barrier, "tiles_used": tiles, "device_steps": S, "timesteps": T,
               "timing_model": "simple (SANA-FE): per device step, max(slowest core's neuron processing, slowest "
                               "core's message processing) + barrier"}
    if step_lat:
        sl = torch.cat(step_lat)  # [B, S]
        latency["latency_ns_per_sample"] = float(sl.sum(1).mean())
        latency["latency_ns_per_input_step"] = latency["latency_ns_per_sample"] / T
        latency["latency_ns_per_device_step"] = latency["latency_ns_per_sample"] / S
        latency["latency_ns_per_device_step_max"] = float(sl.max())
        latency["device_step_latency_ns"] = sl.mean(0).numpy()
    else:
        for k in ("latency_ns_per_sample", "latency_ns_per_input_step", "latency_ns_per_device_step",
                  "latency_ns_per_device_step_max", "device_step_latency_ns"):
            latency[k] = None
        missing = lat_missing + (["barrier_latency_ns"] if barrier is None else [])
        notes.append(f"latency not modelled: profile '{prof.name}' has no {', '.join(missing)}")
    pw = _figure(costs, "static_power_mw")
    if pw is None:
        energy["static_pj_per_sample"] = None
        notes.append(f"static energy not modelled: profile '{prof.name}' has no static_power_mw")
    elif latency["latency_ns_per_sample"] is None:
        energy["static_pj_per_sample"] = None
        notes.append("static energy not computed: no latency")
    else:
        energy["static_pj_per_sample"] = pw * latency["latency_ns_per_sample"]  # mW x ns = pJ
    classes = ("synapse", "neuron", "spike", "network", "static")
    known = [energy[f"{c}_pj_per_sample"] for c in classes if energy[f"{c}_pj_per_sample"] is not None]
    excluded = [c for c in classes if energy[f"{c}_pj_per_sample"] is None]
    energy["total_pj_per_sample"] = float(sum(known)) if known else None
    energy["total_excludes"] = excluded
    if excluded and known:
        notes.append(f"total energy is the sum of the modelled classes only; it excludes {', '.join(excluded)}")
    for k in [k for k in energy if k.endswith("_per_sample")]:
        energy[k.replace("_per_sample", "_per_step")] = None if energy[k] is None else energy[k] / T

    return EventResult(timesteps=T, device_steps=S, samples=B, output=out, output_kind=parts[0]["output_kind"],
                       layer_spikes=layer_spikes, spikes=spikes, layers=layers, synapses=synapses, cores=cores,
                       core_ids=list(runner.core_ids), core_step_counts={e: v.numpy() for e, v in per_core.items()},
                       totals=totals, energy=energy, latency=latency, neurons_per_layer=sizes, notes=notes,
                       placement=placement, profile=prof.name, wraps=runner.ref.tally.as_dict())
