"""Event simulator: the integer network run on real inputs as the chip runs it, with events and costs per core.

``simulate_events(graph, x, placement, profile)`` runs the quantized graph with the *same*
arithmetic as the reference simulator (``reference._Runner._synapse_int`` for every synapse,
``fixed_point.cuba_step`` for every neuron, the same input quantisation ``clip(round(x / step))``),
so its spikes in the sample's ``T`` frames equal ``simulate(graph, x, mode='int')`` bit for bit,
and it tallies the same wraps and saturations (``EventResult.wraps``). Around that it simulates the
whole run on the chip (``simulators/run_protocol.py``): the ``B`` samples back to back, each taking
``S = T + D`` device steps, every layer running its ``D`` idle frames after the sample's ``T`` frames
(potential, bias and spikes still arriving from upstream idle frames: they fire and cost like any
other), the fill steps before the first sample and the shortened drain of the last. Every count is
per device step and per core of the :class:`~snn2hw.simulators.placement.Placement`, the way SANA-FE
2.2.9 executes a mapped network (``docs/COST_MODEL.md``; checked against SANA-FE itself in
``tests/oracles``):

* ``synops``: synaptic events: one per (traveling source element, existing synapse) pair. An
  element travels when it is nonzero (a spike, or a nonzero input value); a synapse exists iff
  the composed connection (sum pools before it, the synapse's nonzero ``weight_int``, pools, flatten
  and adds after it, padding respected) joins the element to a neuron: a 2x2/2 pool before a 3x3
  conv is a 6x6/2 conv on the pre-pool spikes, and each of those spikes meets its composed fan-out
  (``simulators/routing.py`` counts the distinct targets per source and destination core).
  Identity synapses of residual adds are ordinary one-to-one synapses. ``synops_graded`` is the
  subset from the graph input (graded values). Events are charged to the destination core on the
  device step the message travels (the sender's step), at that core's synapse unit
  (``Placement.synapse_unit``: ``synop_sparse_*`` for a core storing sparse synapses, ``synop_conv_*`` for a
  core storing shared conv weight sets).
* ``spikes_in``: messages received by a core.
* ``neuron_updates_active`` / ``neuron_updates_inactive``: every neuron on the chip is accessed on
  every device step; the access is an *update* when the neuron received a synaptic event for this
  step, holds a nonzero potential or has a nonzero bias (SANA-FE's rule), else inactive.
* ``spikes_out``: neurons that fired (a readout never fires).
* ``messages_out``: one per (traveling element, destination core). Input elements are sent by the
  cores ``place_inputs`` gives the ``Input`` population (SANA-FE's input neurons: no soma cost).
* ``hops_ew`` / ``hops_ns``: per message, the east-west / north-south on-chip mesh hops (dimension order).
* ``chip_hops`` / ``messages_crossing_chips`` (placements over several chips only): per message, the chip
  boundaries it crosses, and the messages crossing at least one (``Placement.chip_hops``; the routing on
  the system mesh of joined chips: ``simulators/placement.py``).
* ``membrane_updates``: NeuroBench's count over the ``T`` frames (v changed, all neurons at step 0).

With ``reset='neuron'`` the run is the one ``exporters/sanafe.py`` writes: one reset neuron per
depth (on the input cores) spikes into every neuron of its depth one step before that depth's last
idle frame; those messages and synaptic events are counted like any other and that frame is
updated and silent.

Costs (``profile.costs``; energies pJ, latencies ns, power mW):

* energy per class: ``synapse`` = sum over cores of synops x the core's synapse unit; ``neuron`` =
  active x neuron_active + inactive x neuron_inactive; ``spike`` = spikes_out x spike_out;
  ``network`` = messages_out x message_out + spikes_in x message_in + hops x hop energies;
  ``interchip`` = chip_hops x the system's ``interchip_energy_pj`` (0 on one chip; ``None`` with a note
  when messages cross chips of a profile without a ``system``: not priced); ``static`` = static_power x
  latency. (SANA-FE's classes: soma = neuron + spike, network, synapse, dendrite = 0.) A class with a missing cost is ``None`` with a note; the total then excludes it.
* latency: per device step, by the models of ``simulators/timing.py``: ``simple`` (the slowest
  core's neuron side or message side, plus the barrier) and ``detailed`` (every message scheduled
  on the mesh; a chip boundary takes the system's ``interchip_latency_ns``, and the simple model adds
  each step's farthest crossing); ``timing`` picks which ones are computed and which one the headline uses.

Per-sample figures are the run's totals divided by the samples; "per step" counts and energies are
per *input* timestep (per sample / T). Latency is given per sample, per input step (/ T) and per
device step (per run / the run's device steps).
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
from snn2hw.ir.topology import synapse_paths, synapses_from
from snn2hw.ir.topology import depths as _depths
from snn2hw.simulators import fixed_point as fp
from snn2hw.simulators.event_kernels import (count_sender_messages, message_counts, neuron_layer, sender_soma,
                                             source_major)
from snn2hw.simulators.event_timeline import Timeline
from snn2hw.simulators.placement import LayerPlacement, Placement, place_inputs
from snn2hw.simulators.reference import _chan, _linear, _Runner, network_output
from snn2hw.simulators.routing import build_route, source_hops
from snn2hw.simulators.run_protocol import RunProtocol

#: per-core event classes reported per core
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
#: per-sender counts that go with the messages (reported per core and per layer): hops, and chip crossings
#: when the placement spans several chips
SENDER_EVENTS = ("hops_ew", "hops_ns")
CHIP_EVENTS = ("chip_hops", "messages_crossing_chips")
TIMING_MODELS = ("simple", "detailed")
#: the reset population of ``reset='neuron'`` runs (one neuron per depth 1..D), placed like an input
RESET_POP = "__reset__"


@dataclass
class EventResult:
    """What :func:`simulate_events` returns (plain Python numbers and CPU tensors/arrays).

    * ``output``, ``output_kind``, ``layer_spikes``: as :class:`SimResult` (equal to the reference's).
    * ``spikes``: neuron layer -> ``[T, B, ...]`` int64 spikes (only with ``record_spikes=True``).
    * ``layers``: population -> chip-run counts per sample (``<event>_per_sample``, ``<event>_per_step``),
      ``neurons``, ``cores``, ``depth``, ``firing_rate`` (over the T frames).
    * ``synapses``: synapse node -> NeuroBench / literature inputs over the T frames
      (``effective_ops_per_sample``, ``effective_acs_per_sample``, ``effective_macs_per_sample``,
      ``dense_ops_per_sample``, ``flops_per_step``, ...) and ``synops_per_sample`` (the chip run).
    * ``cores``: core id -> counts per sample / per step, ``tile``, ``chip``, ``layers``, ``synapse_unit``.
    * ``totals``: whole chip, ``<event>_per_sample`` and ``<event>_per_step``; ``chips`` (chips holding a
      core of the run).
    * ``energy``: ``<class>_pj_per_sample`` / ``<class>_pj_per_step`` for synapse, neuron, spike,
      network, interchip, static, total (``None`` where the profile lacks a cost).
    * ``latency``: the headline model's ``latency_ns_per_sample``, ``latency_ns_per_input_step``,
      ``latency_ns_per_device_step``, ``latency_ns_per_device_step_max``, ``step_latency_ns`` (every
      device step of the run), ``timing_model``; ``models``: the same per computed model;
      ``barrier_latency_ns``, ``tiles_used``, ``device_steps`` (S per sample), ``run_device_steps``,
      ``timesteps``, ``protocol`` (words).
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
    totals: dict
    energy: dict
    latency: dict
    neurons_per_layer: dict
    notes: list = field(default_factory=list)
    placement: Optional[Placement] = None
    profile: Optional[str] = None
    protocol: Optional[RunProtocol] = None
    #: node -> kind -> {"events", "neurons", "samples"}: every wrap / saturation (``simulators/overflow.py``)
    wraps: dict = field(default_factory=dict)

    def predictions(self) -> torch.Tensor:
        return self.output.argmax(dim=1)

    def firing_rates(self) -> dict:
        """Mean spikes per neuron per timestep over the T frames, per spiking layer."""
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


#: (profile file, modification time, size) -> the validated profile: a file is parsed once while it is unchanged
_PROFILES: dict = {}


def _load_profile(profile):
    """``hw_profiles.load_profile``, parsing a profile file again only when it changed."""
    from snn2hw.hw_profiles import Profile, load_profile, profile_path
    if isinstance(profile, Profile):
        return profile
    path = profile_path(profile)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _PROFILES:
        if len(_PROFILES) > 32:
            _PROFILES.clear()
        _PROFILES[key] = load_profile(path)
    return _PROFILES[key]


# ----------------------------------------------------------------------------- graph helpers
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


def _nonzero_rows(x: torch.Tensor) -> torch.Tensor:
    """Indices of the rows (first dim) of ``x`` holding any nonzero value."""
    return torch.nonzero(x.reshape(x.shape[0], -1).any(1), as_tuple=True)[0]


def _as_rows(x: torch.Tensor) -> tuple:
    """A ``[R, ...]`` tensor as *row form* ``(rows, data)``: the indices of its rows that may be nonzero (sorted)
    and those rows; every other row is 0. Linear maps act on ``data`` alone."""
    rows = _nonzero_rows(x)
    return rows, (x if len(rows) == len(x) else x[rows])


def _map_rows(fn, v: tuple) -> tuple:
    """``fn`` (a linear map of rows) in row form."""
    rows, data = v
    return rows, fn(data)


def _sum_rows(parts: list) -> tuple:
    """The sum of row forms (same row shape, promoted dtype): on the union of their rows."""
    if len(parts) == 1:
        return parts[0]
    rows = torch.unique(torch.cat([r for r, _ in parts]))
    dtype = parts[0][1].dtype
    for _, d in parts[1:]:
        dtype = torch.promote_types(dtype, d.dtype)
    data = torch.zeros((len(rows),) + tuple(parts[0][1].shape[1:]), dtype=dtype)
    for r, d in parts:  # in order, as the dense sum
        data[torch.searchsorted(rows, r)] += d
    return rows, data


def _dense(v: tuple, n_rows: int) -> torch.Tensor:
    """A row form as the full ``[n_rows, ...]`` tensor."""
    rows, data = v
    out = torch.zeros((n_rows,) + tuple(data.shape[1:]), dtype=data.dtype)
    out[rows] = data
    return out


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


#: synapse units a core may use (``Placement.synapse_unit``) and their cost fields after the dense ``synop``
SYNAPSE_UNITS = ("dense", "sparse", "conv")


def _synop_costs(costs, unit: torch.Tensor, which: int):
    """Per-core synaptic-event cost ``[C]`` (``which`` 0: energy, 1: latency): each core's synapse unit
    (``unit``: index into :data:`SYNAPSE_UNITS`) where the profile prices it, else the (dense) ``synop`` figure;
    ``None`` when missing."""
    dense = _figure(costs, _COST_FIELDS["synops"][which])
    if dense is None:
        return None
    out = torch.full(unit.shape, dense, dtype=torch.float64)
    for k, name in enumerate(SYNAPSE_UNITS[1:], start=1):
        fig = _figure(costs, (f"synop_{name}_energy_pj", f"synop_{name}_latency_ns")[which])
        if fig is not None:
            out[unit == k] = fig
    return out


# ----------------------------------------------------------------------------- the runner
class _EventRunner:
    """Static tables (cores, positions, routing) and the per-chunk computation."""

    def __init__(self, graph: Graph, placement: Placement, profile, notes: list, reset: str = "state",
                 detailed: bool = False):
        self.ref = _Runner(graph, "int", (), torch.float64)  # validates, checks quantization, holds synapse params
        self.g = graph
        graph.infer_shapes()
        self.order = self.ref.order
        self.last_use = self._last_uses()   # which nodes' frames run() drops after each node
        self.depth = _depths(graph)
        self.costs = profile.costs
        self.notes = notes
        self.reset = reset
        pops = [n for n in self.order if isinstance(graph.nodes[n], N.Neuron)]
        self.neuron_pops = pops
        missing = [n for n in pops if n not in placement.layers]
        if missing:
            raise Snn2hwError(f"the placement has no cores for neuron layer(s) {missing}")
        self.D = max(self.depth[n] for n in pops) if pops else 0
        ins = {n: int(np.prod(graph.nodes[n].output_shape)) for n in graph.inputs}
        if reset == "neuron" and self.D:
            ins[RESET_POP] = self.D
        if any(n not in placement.inputs for n in ins):  # give the input senders cores (on a copy)
            placement = copy.copy(placement)
            placement.inputs = dict(placement.inputs)
            cap = profile.capacity
            place_inputs(placement, ins, int(cap.neurons_per_core.value) if cap is not None else 1024)
        self.pl = placement
        held = {**{k: placement.inputs[k] for k in ins}, **{k: placement.layers[k] for k in pops}}
        self.core_ids = sorted({c for lp in held.values() for c in lp.cores})
        cidx = {c: i for i, c in enumerate(self.core_ids)}
        self.C = len(self.core_ids)
        self.core_xy = np.array([placement.xy_of_tile(placement.tile_of(c)) for c in self.core_ids]).reshape(-1, 2)
        self.core_chip = np.array([placement.chip_xy(placement.chip_of(c)) for c in self.core_ids]).reshape(-1, 2)
        self.chips = len({placement.chip_of(c) for c in self.core_ids})
        self.sender_events = SENDER_EVENTS + (CHIP_EVENTS if self.chips > 1 else ())
        self.core_off = np.array([c % placement.cores_per_tile for c in self.core_ids], dtype=np.int64)
        # the soma loop's order on a core: input senders, the reset neurons, then layers in topological order
        self.rank = {n: i for i, n in enumerate([n for n in ins if n != RESET_POP] + [RESET_POP] * (RESET_POP in ins)
                                                 + pops)}
        self.core_of, self.pos = {}, {}
        core_arr = np.asarray(self.core_ids, dtype=np.int64)
        pos_next = np.zeros(self.C, dtype=np.int64)
        for name in sorted(held, key=self.rank.get):
            lp = held[name]
            n = ins[name] if name in ins else int(np.prod(graph.nodes[name].output_shape))
            co = lp.core_of_neuron()
            if lp.neurons != n or (co < 0).any():
                raise Snn2hwError(f"placement of '{name}' covers {int((co >= 0).sum())} of {n} neurons")
            ci = np.searchsorted(core_arr, co).astype(np.int64)  # compact index (core_ids is sorted)
            pos = np.empty(n, dtype=np.int64)
            for c, a, b in sorted(lp.ranges, key=lambda r: r[1]):
                k = cidx[c]
                pos[a:b] = pos_next[k] + np.arange(b - a)
                pos_next[k] += b - a
            self.core_of[name] = torch.as_tensor(ci)
            self.pos[name] = pos
        # each population's soma loop, core by core (the order of its soma-latency running sum)
        self.soma_order = {name: np.lexsort((self.pos[name], idx.numpy())) for name, idx in self.core_of.items()}
        self.n_core = {name: torch.zeros(self.C, dtype=torch.float64).index_add_(
            0, idx, torch.ones(len(idx), dtype=torch.float64)) for name, idx in self.core_of.items()}
        # neuron layers that share a core with an earlier neuron layer (their soma blocks are chained)
        self.before = {}
        used = {name: np.unique(self.core_of[name].numpy()) for name in pops}
        for name in pops:
            self.before[name] = tuple(q for q in pops if self.rank[q] < self.rank[name]
                                      and len(np.intersect1d(used[name], used[q], assume_unique=True)))
        self.block_pops = sorted({q for v in self.before.values() for q in v}, key=self.rank.get)
        self.unit_of_core = torch.tensor([SYNAPSE_UNITS.index(placement.synapse_unit.get(c, "dense"))
                                          for c in self.core_ids], dtype=torch.int64)
        # binarised synapses and their static properties
        self.wb, self.fanout, self.syn_info = {}, {}, {}
        for name in self.order:
            node = graph.nodes[name]
            if not isinstance(node, N.SYNAPSES):
                continue
            wb = torch.as_tensor(node.weight_int != 0, dtype=torch.float32)
            self.wb[name] = wb
            ones = torch.ones((1,) + tuple(node.input_shape), requires_grad=True)
            _syn_apply(node, ones, wb).sum().backward()  # per input element: the outputs its nonzero weights reach
            self.fanout[name] = ones.grad.reshape(-1).double()
            paths = synapse_paths(graph, name)
            src, tgt = paths["source"], paths["target"]
            ones = torch.ones((1,) + tuple(node.input_shape))
            dense = float(_syn_apply(node, ones, torch.ones_like(wb)).sum())
            self.syn_info[name] = {"source": src, "target": tgt, "graded": isinstance(graph.nodes[src], N.Input),
                                   "identity": bool(node.metadata.get("identity", False)),
                                   "weights": int(node.weight_int.size),
                                   "weights_nonzero": int(np.count_nonzero(node.weight_int)),
                                   "input_elements": int(np.prod(node.input_shape)),
                                   "flops_per_step": flops_per_step(node), "dense_ops_per_step": dense,
                                   "chain_up": paths["chain_up"], "chain_down": paths["chain_down"]}
        # neuron layers whose every neuron has a bias are updated on every step: no need to know what they received
        self.needs_received = {}
        for name in pops:
            bm = graph.nodes[name].bias_mant
            self.needs_received[name] = bm is None or not bool(np.all(np.asarray(bm) != 0))
        self.detailed = detailed
        self._build_routes()

    def _build_routes(self):
        g = self.g
        self.route = {}
        for p in self.order:
            node = g.nodes[p]
            if not isinstance(node, (N.Input, N.Neuron)):
                continue
            n = int(np.prod(node.output_shape))
            syns, _ = synapses_from(g, p)
            ci = self.core_of[p].numpy()
            r = build_route(g, p, syns, self.syn_info, self.core_of, self.C, n, self.core_xy[ci].reshape(-1, 2),
                            self.core_xy, self.core_chip[ci].reshape(-1, 2), self.core_chip)
            self._sender_table(r, n)
            r["n_src"] = n
            self.route[p] = r
        if RESET_POP in self.core_of:  # reset neuron d -> every neuron of depth d (one synapse each)
            keys, counts = [], []
            for d in range(1, self.D + 1):
                per_core = sum((self.n_core[q] for q in self.neuron_pops if self.depth[q] == d),
                               torch.zeros(self.C, dtype=torch.float64))
                cores = torch.nonzero(per_core, as_tuple=True)[0]
                keys.append(cores * self.D + (d - 1))
                counts.append(per_core[cores].long())
            keys, counts = torch.cat(keys), torch.cat(counts)
            order = torch.argsort(keys)
            keys, counts = keys[order], counts[order]
            core, src = keys // self.D, keys % self.D
            ci = self.core_of[RESET_POP].numpy()
            r = {"deg": torch.zeros(self.D, dtype=torch.float64).index_add_(0, src, torch.ones(len(src),
                                                                                               dtype=torch.float64)),
                 **source_hops(src, core, self.D, self.core_xy[ci].reshape(-1, 2), self.core_xy,
                               self.core_chip[ci].reshape(-1, 2), self.core_chip),
                 "pairs": (keys, counts), "n_src": self.D}
            self._sender_table(r, self.D)
            from snn2hw.simulators.routing import _csr
            r["Rt"] = _csr(keys, torch.ones(len(keys)), self.C, self.D, RESET_POP)
            r["Rc"] = _csr(keys, counts, self.C, self.D, RESET_POP)
            self.route[RESET_POP] = r
        self._message_table()

    def _sender_table(self, r: dict, n: int):
        """``r["per_src"]``: ``[n, q]`` the per-source counts of :attr:`sender_events` (chip ones 0 where no message
        of the population crosses a chip)."""
        cols = [r["ew"], r["ns"]]
        if len(self.sender_events) > 2:
            z = torch.zeros(n, dtype=torch.float64)
            cols += [z if r["chip"] is None else r["chip"], z if r["crossing"] is None else r["crossing"]]
        r["per_src"] = np.ascontiguousarray(torch.stack(cols, 1).numpy())

    def _message_table(self):
        """Source-major view of every population's (core, source) pairs, in one table over global source ids
        (``src_base`` of the population + element): ``msg_table = (ptr, dest cores, synapse counts)`` shared by
        all populations, and per population ``by_src``: its own slice (local ``ptr``, dest cores, counts)."""
        total_src = sum(r["n_src"] for r in self.route.values())
        total = sum(len(r["pairs"][0]) for r in self.route.values())
        gptr = np.zeros(total_src + 1, dtype=np.int64)
        gdst = np.empty(total, dtype=np.int64)
        gcnt = np.empty(total, dtype=np.float64)
        base = at = 0
        for r in self.route.values():
            n_src = r["n_src"]
            keys, counts = r["pairs"]
            m = len(keys)
            ptr = source_major(keys.numpy(), counts.numpy(), n_src, gdst[at:at + m], gcnt[at:at + m])
            gptr[base + 1:base + n_src + 1] = ptr[1:] + at
            r["by_src"] = (ptr, gdst[at:at + m], gcnt[at:at + m])
            r["src_base"] = base
            base, at = base + n_src, at + m
        for r in self.route.values():
            r["msg_table"] = (gptr, gdst, gcnt)

    # -- one chunk of samples
    def run(self, x: torch.Tensor, ids: np.ndarray, proto: RunProtocol, tl: Timeline, acc: dict,
            record: bool) -> dict:
        """Samples ``ids`` (global indices; ``-1`` the virtual fill sample, whose input is zero) with inputs
        ``x`` ``[T, B, ...]`` for the real ones. Adds the chip run's counts to ``tl``; statistics of the T
        frames of real samples to ``acc``; returns outputs and spikes of the real samples."""
        g = self.g
        T, S = proto.timesteps, proto.frames
        Bv = len(ids)
        real = ids >= 0
        off = int((~real).sum())          # the virtual sample comes first
        B = Bv - off
        self.tau_first = int(proto.tau0(ids[0]))
        self.ids, self.off, self.B, self.S, self.T, self.proto = ids, off, B, S, T, proto
        res = {"layer_spikes": {}, "spikes": {}}
        tally = self.ref.tally
        tally.begin_chunk(B)
        vals, act = {}, {}     # row forms (``_as_rows``) over the S * Bv aligned frames (frame-major)
        final_v, spikes = {}, {}
        counts = set()         # nodes whose values are spikes or pooled spikes (int8 / float32 whole numbers)
        cmaps = {}
        src = g.predecessors(g.outputs[0])[0]
        for at, name in enumerate(self.order):
            for done in self.last_use.get(at - 1, ()):   # no node after this one reads them: their frames go
                for d in (vals, act, cmaps):
                    d.pop(done, None)
            node = g.nodes[name]
            if isinstance(node, N.Input):
                lo, hi = node.int_range()
                xi = torch.zeros((S, Bv) + tuple(node.output_shape), dtype=torch.int64)
                xi[:T, off:] = torch.clamp(torch.round(x.to(torch.float64) / node.step), lo, hi).to(torch.int64)
                vals[name] = _as_rows(xi.reshape((S * Bv,) + tuple(node.output_shape)))
                act[name] = _map_rows(lambda t: t != 0, vals[name])
                self._send(name, act[name], tl, acc)
                continue
            preds = g.predecessors(name)
            if isinstance(node, N.Neuron):
                a = self._wrap_real(name, "input_wrap", _map_rows(lambda t: t.to(torch.int64), vals[preds[0]]), 32)
                s, v_T, s_rows = self._neuron(name, node, a, cmaps.get(preds[0]), tl, acc)
                if name == src:
                    spikes[name] = s
                vals[name] = act[name] = s_rows
                counts.add(name)
                final_v[name] = v_T[off:]
                if not node.readout:
                    sr = s[:T, off:]
                    res["layer_spikes"][name] = sr.reshape(T, B, -1).sum((0, 2)).double()
                    if record:
                        res["spikes"][name] = sr.to(torch.int64)
                    self._send(name, act[name], tl, acc)
                continue
            flat = [vals[p] for p in preds]
            if isinstance(node, N.SYNAPSES):
                y = self._synapse(name, node, flat[0])
                self._neurobench(name, node, flat[0], acc)
                if self.needs_received.get(self.syn_info[name]["target"], False):
                    cmaps[name] = _map_rows(lambda z: _syn_apply(node, z.to(torch.float32), self.wb[name]),
                                            act[preds[0]])
            else:
                if isinstance(node, N.Add):
                    y = self._wrap_real(name, "add_wrap", _sum_rows([_map_rows(lambda t: t.to(torch.int64), v)
                                                                     for v in flat]), 32)
                elif preds[0] in counts and isinstance(node, (N.SumPool2d, N.Flatten)):
                    # spikes (or their pooled counts): small whole numbers, exact in float32; currents and
                    # events are one tensor
                    y = act[name] = _map_rows(lambda t: _glue_apply(node, t.to(torch.float32)), act[preds[0]])
                    counts.add(name)
                else:
                    y = _map_rows(lambda t: _linear(node, [t.to(torch.int64)], None, None), flat[0])
                    if preds[0] in act and isinstance(node, (N.SumPool2d, N.Flatten)):
                        act[name] = _map_rows(lambda t: _glue_apply(node, t.to(torch.float32)), act[preds[0]])
                maps = [cmaps[p] for p in preds if p in cmaps]
                if maps:  # event maps of the synapses upstream, routed like the currents
                    cmaps[name] = _sum_rows([_map_rows(lambda m: _glue_apply(node, m), m) for m in maps])
            vals[name] = y
        v = spikes[src].reshape((S * Bv,) + tuple(g.nodes[src].output_shape)) if src in spikes else \
            _dense(vals[src], S * Bv)
        v = v.reshape((S, Bv) + tuple(v.shape[1:]))[:T, off:]
        out = {src: v.reshape((T * B,) + tuple(v.shape[2:]))}
        res["output"], res["output_kind"] = network_output(g, out, final_v, T, B)
        if RESET_POP in self.route:
            self._send_resets(tl)
        tally.end_chunk()
        return res

    def _last_uses(self) -> dict:
        """``{position in self.order: [nodes read last by the node there]}``: after it, :meth:`run` drops their
        frames (the network output's source is kept to the end)."""
        at = {n: i for i, n in enumerate(self.order)}
        keep = self.g.predecessors(self.g.outputs[0])[0]
        last = {}
        for n in self.order:
            for p in self.g.predecessors(n):
                if p in at and p != keep:
                    last[p] = max(last.get(p, -1), at[n])
        out = {}
        for p, i in last.items():
            out.setdefault(i, []).append(p)
        return out

    # -- wraps and synapses: tallied on the T frames of real samples only (the reference's frames)
    def _real(self, rows: torch.Tensor) -> torch.Tensor:
        """Which of the (frame-major) rows are one of the T frames of a real sample."""
        Bv = len(self.ids)
        return (rows // Bv < self.T) & (rows % Bv >= self.off)

    def _wrap_real(self, name, kind, v: tuple, bits):
        """``fixed_point.wrap_bits`` of a row form, tallying the elements it changed in the real rows."""
        rows, x = v
        y = fp.wrap_bits(x, bits)
        if y is not x:
            real = self._real(rows)
            m = (y != x)[real].flatten(1)
            k = int(m.sum())
            if k:
                per_sample = torch.zeros(self.B, dtype=torch.bool)
                per_sample[rows[real][m.any(1)] % len(self.ids) - self.off] = True
                self.ref.tally.add_counts(name, kind, k, m.any(0), per_sample)
        return rows, y

    def _synapse(self, name, node, v: tuple):
        """The synapse's integer currents (``reference._Runner._synapse_int``) on the rows of its input."""
        w, row_abs = self.ref._params[name]
        rows, x = v
        max_in = float(x.abs().max()) if x.numel() else 0.0
        if row_abs * max_in >= 2.0 ** 53:
            raise Snn2hwError(f"synapse '{name}': integer sums may reach {row_abs * max_in:.3g}, beyond exact "
                              "float64; the weights or inputs are out of any hardware range")
        dt = torch.float32 if row_abs * max_in < 2.0 ** 24 else torch.float64
        y = torch.round(_linear(node, [x.to(dt)], w.to(dt), None)).to(torch.int64)
        y = fp.shift(y, node.weight_exp)
        return self._wrap_real(name, "sum_wrap", (rows, y), 24 if isinstance(node, N.Conv2d) else 32)

    def _neurobench(self, name, node, v: tuple, acc):
        """NeuroBench's effective ops of a synapse over the T frames of the real samples: per frame, the
        nonzero inputs times their fan-out (nonzero weights reaching a valid output), exact in float64."""
        T, Bv = self.T, len(self.ids)
        rows, x = v
        real = self._real(rows)
        xr, fr = x[real].flatten(1), rows[real] // Bv
        xb = (xr != 0).double()
        per_t = torch.zeros(T, dtype=torch.float64).index_add_(0, fr, xb @ self.fanout[name])
        amax = np.zeros(T)
        np.maximum.at(amax, fr.numpy(), xr.abs().amax(1).double().numpy() if len(fr) else np.zeros(0))
        is_ac = torch.from_numpy(amax <= 1)
        sa = acc["syn"].setdefault(name, {})
        for k in ("effective_ops", "effective_acs", "effective_macs", "input_nonzero", "input_sum"):
            sa.setdefault(k, 0.0)
        sa["effective_ops"] += float(per_t.sum())
        sa["effective_acs"] += float(per_t[is_ac].sum())
        sa["effective_macs"] += float(per_t[~is_ac].sum())
        sa["input_nonzero"] += float(xb.sum())
        sa["input_sum"] += float(xr.abs().double().sum())

    # -- counting helpers
    def _ran(self, d: int) -> torch.Tensor:
        """``[S, Bv]`` bool: the frames a population at depth ``d`` runs (within the run's steps)."""
        f = np.arange(self.S)[:, None]
        lo = self.proto.first_frame(self.ids, d)[None, :]
        hi = self.proto.last_frame(self.ids, d)[None, :]
        return torch.as_tensor((f >= lo) & (f <= hi))

    def _add(self, tl: Timeline, acc, event: str, pop: str, d: int, per_core: torch.Tensor, layer: bool = True):
        """Add ``[S, Bv, C]`` counts of population ``pop`` (depth ``d``) to the timeline (and to its totals)."""
        S, Bv = per_core.shape[:2]
        tl.add(event, self.tau_first + d, per_core.permute(1, 0, 2).reshape(S * Bv, self.C))
        if not layer:
            return
        L = acc["layer"].setdefault(pop, {})
        L[event] = L.get(event, 0.0) + float(per_core.sum())

    def _neuron(self, name, node: N.Neuron, a: tuple, cmap, tl: Timeline, acc):
        """Run a layer over the S frames of every sample (``a``: its input currents in row form, ``cmap``: its
        synaptic events in row form or ``None``); count its accesses, updates and spikes. Returns the spikes
        ``[S, Bv, *shape]`` (int8), ``v`` after frame ``T - 1`` and the spikes in row form."""
        S, T, Bv, off = self.S, self.T, len(self.ids), self.off
        d = self.depth[name]
        ran = self._ran(d)
        start = self.proto.first_frame(self.ids, d)
        late = int(start.max()) if len(start) else 0      # frames before it: some sample (the virtual) not running yet
        forced = self.proto.forced_reset(self.ids)
        shape = tuple(node.output_shape)
        n = int(np.prod(shape))
        nd = len(shape)
        full = (1,) + shape

        def row_map(rows):
            m = torch.full((S * Bv,), -1, dtype=torch.int64)
            m[rows] = torch.arange(len(rows))
            return np.ascontiguousarray(m.reshape(S, Bv).numpy())

        def per_neuron(t):
            return np.ascontiguousarray(torch.broadcast_to(t, full).reshape(n).numpy())
        vth64 = per_neuron(_chan(node.vth, nd + 1, torch.int64) << fp.SCALE_SHIFT)
        bias = per_neuron(fp.bias_value(_chan(node.bias_mant if node.bias_mant is not None else 0, nd + 1,
                                              torch.int64), node.bias_exp))
        def kernel_rows(v, dtype):  # (map [S, Bv] into the rows or -1, the rows; at least one)
            rows, data = v if v is not None else (torch.zeros(0, dtype=torch.int64), torch.zeros(0, n))
            if not len(rows):
                return np.full((S, Bv), -1, dtype=np.int64), np.zeros((1, n), dtype=dtype)
            return row_map(rows), np.ascontiguousarray(data.reshape(len(rows), n).numpy(), dtype=dtype)
        a_map, a_rows = kernel_rows(a, np.int64)
        rc_map, rc_rows = kernel_rows(None if cmap is None else (cmap[0], cmap[1] > 0), np.bool_)
        want_active = tl.lat is not None and tl.detailed is not None
        out, row_any, act_core, fired_core, v_T, memb, events, hit_n, hit_b, active = neuron_layer(
            a_map, a_rows, rc_map, rc_rows, int(node.du), int(node.dv), bias, vth64, node.int_compare == "ge",
            node.int_reset == "subtract", bool(node.readout), np.ascontiguousarray(forced, dtype=np.bool_),
            np.ascontiguousarray(start, dtype=np.int64), late, T, off, np.ascontiguousarray(ran.numpy()),
            self.core_of[name].numpy(), self.C, want_active)
        for kk, kind in enumerate(("a_wrap", "u_wrap", "v_saturate")):
            if events[kk]:
                self.ref.tally.add_counts(name, kind, int(events[kk]), torch.from_numpy(hit_n[kk]),
                                          torch.from_numpy(hit_b[kk, off:]))
        out = torch.from_numpy(out).reshape((S, Bv) + shape)
        v_T = torch.from_numpy(v_T).reshape((Bv,) + shape)
        act_core, fired_core = torch.from_numpy(act_core), torch.from_numpy(fired_core)
        count = ran.double().unsqueeze(-1) * self.n_core[name]  # neurons accessed per core
        self._add(tl, acc, "neuron_updates_active", name, d, act_core)
        self._add(tl, acc, "neuron_updates_inactive", name, d, count - act_core)
        if not node.readout:
            self._add(tl, acc, "spikes_out", name, d, fired_core)
        if tl.lat is not None:
            lat_in, lat_act, lat_sp = (self.lat[k] for k in ("neuron_updates_inactive", "neuron_updates_active",
                                                             "spikes_out"))
            soma_core = lat_in * count + (lat_act - lat_in) * act_core + lat_sp * fired_core
            tl.add_soma(name, self.tau_first + d, soma_core.permute(1, 0, 2).reshape(S * Bv, self.C))
            if want_active:  # per neuron, for the order of the soma loop (sender_soma)
                self._soma = (active, out.reshape(S, Bv, n).numpy(), ran.numpy(), (lat_in, lat_act, lat_sp))
        L = acc["layer"].setdefault(name, {})
        L["membrane_updates"] = L.get("membrane_updates", 0.0) + memb
        rows = torch.from_numpy(np.flatnonzero(row_any.reshape(-1)))  # frame-major rows with a spike
        flat = out.reshape((S * Bv,) + shape)
        return out, v_T, (rows, flat if len(rows) == S * Bv else flat[rows])

    def _send(self, name, v: tuple, tl: Timeline, acc):
        """Messages, synaptic events and hops of population ``name`` sending where ``v`` (row form over the
        ``S * Bv`` aligned frames) is nonzero: work in proportion to the senders and their messages, not to the
        population."""
        r = self.route[name]
        d = self.depth.get(name, 0)
        S, Bv = self.S, len(self.ids)
        rows, data = v
        n = r["n_src"]
        k, i = torch.nonzero(data.reshape(len(rows), n), as_tuple=True)
        ptr, dcore, dcnt = r["by_src"]
        counts, ff, bb, ii = count_sender_messages(rows[k].numpy(), i.numpy(), Bv, S, self._ran(d).numpy(), ptr,
                                                   dcore, dcnt, r["per_src"], self.core_of[name].numpy(), self.C)
        per_core = dict(zip(message_counts(len(self.sender_events)), torch.from_numpy(counts)))
        L = acc["layer"].setdefault(name, {})
        for ev in ("messages_out",) + self.sender_events:
            tl.add(ev, self.tau_first + d, per_core[ev])
            L[ev] = L.get(ev, 0.0) + float(per_core[ev].sum())
        if r.get("chip_max") is not None and len(ii):  # the steps' farthest crossing (simple timing)
            span = np.zeros(Bv * S)
            np.maximum.at(span, bb * S + ff, r["chip_max"].numpy()[ii])
            tl.add_span(self.tau_first + d, span)
        syn_in = per_core["synops"]
        tl.add("spikes_in", self.tau_first + d, per_core["spikes_in"])
        tl.add("synops", self.tau_first + d, syn_in)
        total_syn = float(syn_in.sum())
        L["messages_delivered"] = L.get("messages_delivered", 0.0) + float(per_core["messages_out"].sum())
        graded = isinstance(self.g.nodes.get(name), N.Input)
        if graded:
            tl.add("synops_graded", self.tau_first + d, syn_in)
        syns = r.get("syn_per_src", {})
        if len(syns) == 1:
            per_syn = {next(iter(syns)): total_syn}
        else:  # several synapses from one population (residual branches): each synapse's own events, its
            # synapses per sender summed over the senders
            per_syn = {syn: float(c[ii].sum()) for syn, c in syns.items()}
        for syn, v in per_syn.items():
            acc["syn"].setdefault(syn, {})
            acc["syn"][syn]["synops"] = acc["syn"][syn].get("synops", 0.0) + v
            T_ = acc["layer"].setdefault(self.syn_info[syn]["target"], {})
            T_["synops"] = T_.get("synops", 0.0) + v
            if graded:
                T_["synops_graded"] = T_.get("synops_graded", 0.0) + v
        if tl.detailed is not None and len(ii):
            tau = self.proto.tau0(self.ids[bb]) + d + ff
            if name in self.neuron_pops:
                active, spikes, ran, (lat_in, lat_act, lat_sp) = self._soma
                cum = sender_soma(ff, bb, ii, active, spikes, ran, self.soma_order[name], self.core_of[name].numpy(),
                                  lat_in, lat_act, lat_sp)
            else:
                cum = np.zeros(len(ii))
            tl.add_records({"tau": tau, "core": self.core_of[name].numpy()[ii], "pos": self.pos[name][ii], "cum": cum,
                            "src": r["src_base"] + ii, "before": self.before.get(name, ())})

    def _send_resets(self, tl: Timeline):
        """The reset neurons' spikes of the samples of this chunk (``reset='neuron'``)."""
        r = self.route[RESET_POP]
        real = self.ids[self.ids >= 0]
        for dd in range(1, self.D + 1):
            steps = self.proto.tau0(real) + dd - 2
            steps = steps[steps >= 0]
            if not len(steps):
                continue
            vec = torch.zeros(self.D, dtype=torch.float64)
            vec[dd - 1] = 1.0
            sc = torch.zeros(self.C, dtype=torch.float64).index_add_(0, self.core_of[RESET_POP], vec)
            for t in steps:
                tl.add("messages_out", int(t), (sc * r["deg"][dd - 1]).reshape(1, -1))
                m_in = (r["Rt"] @ vec.to(torch.float32).reshape(-1, 1)).double().reshape(1, -1)
                tl.add("spikes_in", int(t), m_in)
                tl.add("synops", int(t), (r["Rc"] @ vec.to(torch.float32).reshape(-1, 1)).double().reshape(1, -1))
                for q, ev in enumerate(self.sender_events):
                    tl.add(ev, int(t), (sc * float(r["per_src"][dd - 1, q])).reshape(1, -1))
                if r.get("chip_max") is not None:
                    tl.add_span(int(t), np.array([float(r["chip_max"][dd - 1])]))
            ptr = r["by_src"][0]
            if tl.detailed is not None and ptr[dd] > ptr[dd - 1]:
                k = len(steps)
                tl.add_records({"tau": steps, "core": np.full(k, int(self.core_of[RESET_POP][dd - 1])),
                                "pos": np.full(k, self.pos[RESET_POP][dd - 1]), "cum": np.zeros(k),
                                "src": np.full(k, r["src_base"] + dd - 1), "before": ()})


# ----------------------------------------------------------------------------- the simulator
def simulate_events(graph: Graph, x, placement: Optional[Placement] = None, profile="loihi",
                    batch_size: Optional[int] = None, progress: "bool | str" = False,
                    record_spikes: bool = False, timing=("simple",), reset: str = "state") -> EventResult:
    """Run the integer ``graph`` on ``x`` (``[T, B, *input_shape]`` float) as the chip runs it; count events, costs.

    ``placement``: where each neuron layer lives (``None``: ``simulators.mapping.map_graph``).
    ``profile``: a profile name, path or object (its ``costs`` price the events). ``batch_size``
    streams the samples in chunks (a tqdm bar with ``progress``). ``timing``: the timing models to
    compute (``"simple"``, ``"detailed"``); the first is the headline latency. ``reset``: the run
    protocol's reset mechanism (``"state"``: the chip's, ``"neuron"``: reset neurons, as in the
    SANA-FE export). See the module docstring for what is counted and how.
    """
    x = _as_input(x)
    s = prepare(graph, int(x.shape[0]), int(x.shape[1]), placement, profile, timing, reset)
    tl = s.timeline()
    acc = {"layer": {}, "syn": {}}
    parts = run_samples(s, x, 0, tl, acc, batch_size, record_spikes, progress)
    tl.finalize(s.proto.steps)
    out, kind, layer_spikes, spikes = join_parts(parts)
    return _result(graph, s.prof, s.runner, s.proto, tl, acc, out, kind, layer_spikes, spikes, s.notes, s.timing,
                   s.lat_missing, s.barrier, s.tiles)


def _as_input(x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if x.ndim < 3:
        raise Snn2hwError(f"input must be [T, B, *shape], got shape {tuple(x.shape)}")
    return x


@dataclass
class RunSetup:
    """What a run of ``samples`` samples needs before its first one (:func:`prepare`): the profile, the runner
    (cores, routes), the run protocol, the latency figures and the timeline's parameters; ``notes`` so far."""
    prof: object
    notes: list
    timing: tuple
    runner: "_EventRunner"
    proto: RunProtocol
    lat_missing: list
    barrier: Optional[float]
    tiles: int
    timeline_args: tuple
    timeline_kw: dict

    def timeline(self, cls=Timeline, **kw) -> Timeline:
        return cls(*self.timeline_args, **self.timeline_kw, **kw)


def prepare(graph: Graph, timesteps: int, samples: int, placement: Optional[Placement] = None, profile="loihi",
            timing=("simple",), reset: str = "state") -> RunSetup:
    """The static part of :func:`simulate_events` for a run of ``samples`` samples of ``timesteps`` frames."""
    prof = _load_profile(profile)
    notes: list = []
    timing = tuple([timing] if isinstance(timing, str) else timing)
    bad = [t for t in timing if t not in TIMING_MODELS]
    if bad or not timing:
        raise Snn2hwError(f"timing models must be among {TIMING_MODELS}, got {timing}")
    if placement is None:
        from snn2hw.simulators.mapping import map_graph
        placement = map_graph(graph, prof).placement
        notes.append("placement from simulators.mapping.map_graph")
    costs = prof.costs
    mesh = prof.capacity.mesh if prof.capacity is not None else None
    want_detailed = "detailed" in timing
    buffer_size = getattr(mesh, "link_buffer_size", None) if mesh is not None else None
    if want_detailed and buffer_size is None:
        notes.append(f"detailed timing not modelled: profile '{prof.name}' has no capacity.mesh.link_buffer_size")
    runner = _EventRunner(graph, placement, prof, notes, reset=reset,
                          detailed=want_detailed and buffer_size is not None)
    placement = runner.pl
    proto = RunProtocol(timesteps=int(timesteps), depth=runner.D, samples=int(samples), reset=reset)
    C = runner.C
    lat = {ev: _figure(costs, f[1]) for ev, f in _COST_FIELDS.items()}
    lat["synops"] = _synop_costs(costs, runner.unit_of_core, 1)
    core_lat_fields = ("neuron_updates_active", "neuron_updates_inactive", "spikes_out", "messages_out",
                       "spikes_in", "synops")
    lat_missing = [_COST_FIELDS[e][1] for e in core_lat_fields if lat[e] is None]
    tiles = len(placement.tiles_used)
    barrier = barrier_ns(costs, tiles) if tiles else 0.0
    timed = not lat_missing and barrier is not None
    runner.lat = lat
    chip = _chip_timing(prof, placement, runner.chips, notes)
    det = None
    if timed and runner.detailed:
        width = int(mesh.width if mesh is not None else placement.mesh_width)
        height = int(getattr(mesh, "height", None) or max(1, int(runner.core_xy[:, 1].max(initial=0)) + 1))
        det = {"mesh": (width, height, placement.cores_per_tile),
               "hop_latency": (lat["hops_ew"] or 0.0, lat["hops_ns"] or 0.0), "buffer_size": float(buffer_size.value),
               "core_x": runner.core_xy[:, 0], "core_y": runner.core_xy[:, 1], "core_off": runner.core_off,
               "out_lat": lat["messages_out"], "in_lat": lat["spikes_in"], "syn_lat": lat["synops"].numpy(),
               "msg_table": next(iter(runner.route.values()))["msg_table"], "chip": chip}
    args = (proto.steps, C, {e: lat[e] for e in core_lat_fields} if timed else None, barrier if timed else None, det,
            runner.block_pops)
    kw = {"chips": runner.chips > 1, "chip_latency": chip[2] if chip is not None else None}
    return RunSetup(prof, notes, timing, runner, proto, lat_missing, barrier, tiles, args, kw)


def run_samples(s: RunSetup, x: torch.Tensor, start: int, tl: Timeline, acc: dict, batch_size=None,
                record_spikes: bool = False, progress: "bool | str" = False) -> list:
    """Run the samples ``x`` ``[T, n, ...]``, the run's samples ``start .. start + n - 1``, in chunks of
    ``batch_size`` (sample 0 brings the virtual fill sample), adding their counts to ``tl`` and ``acc`` and
    finalizing the steps each chunk completes; returns the chunks' outputs (:func:`join_parts`)."""
    n = int(x.shape[1])
    bs = n if not batch_size else int(batch_size)
    chunks = range(0, n, bs)
    if progress:
        from tqdm.auto import tqdm
        chunks = tqdm(chunks, desc=progress if isinstance(progress, str) else "event simulation", unit="batch")
    parts = []
    for i in chunks:
        xb = x[:, i:i + bs]
        ids = np.arange(start + i, start + i + int(xb.shape[1]))
        if ids[0] == 0:
            ids = np.r_[-1, ids]  # the virtual sample: fill steps before the first sample
        parts.append(s.runner.run(xb, ids, s.proto, tl, acc, record_spikes))
        tl.finalize(int(s.proto.tau0(ids[-1] + 1)))
    return parts


def join_parts(parts: list) -> tuple:
    """``(output, output_kind, layer_spikes, spikes)`` of chunks' outputs, in sample order."""
    out = torch.cat([p["output"] for p in parts])
    layer_spikes = {k: torch.cat([p["layer_spikes"][k] for p in parts]) for k in parts[0]["layer_spikes"]}
    spikes = {k: torch.cat([p["spikes"][k] for p in parts], dim=1) for k in parts[0]["spikes"]}
    return out, parts[0]["output_kind"], layer_spikes, spikes


def _chip_timing(prof, placement, chips: int, notes: list):
    """``(chip width, chip height, ns per chip boundary)`` of a run over several chips (the timing models'
    ``chip``), ``None`` on one chip; the boundary costs 0 ns, with a note, where the profile does not price it."""
    if chips <= 1:
        return None
    fig = prof.system.interchip_latency_ns if prof.system is not None else None
    if fig is None:
        notes.append(f"the placement spans {chips} chips but profile '{prof.name}' has no "
                     f"{'system section' if prof.system is None else 'system.interchip_latency_ns'}: "
                     f"inter-chip latency is not modelled (a chip boundary costs 0 ns)")
    return placement.mesh_width, placement.mesh_height, 0.0 if fig is None else float(fig.value)


def _interchip_energy(prof, chip_hops: float, notes: list):
    """Inter-chip energy per sample: chip boundaries crossed x the system's ``interchip_energy_pj``; 0 when no
    message crosses a chip; ``None`` (not priced, with a note) when some do and the profile has no figure."""
    fig = prof.system.interchip_energy_pj if prof.system is not None else None
    if fig is not None:
        return chip_hops * float(fig.value)
    if not chip_hops:
        return 0.0
    notes.append(f"energy 'interchip' not modelled: messages cross chips but profile '{prof.name}' has no "
                 f"{'system section' if prof.system is None else 'system.interchip_energy_pj'} (inter-chip traffic "
                 f"is not priced)")
    return None


def _result(graph, prof, runner, proto, tl, acc, out, output_kind, layer_spikes, spikes, notes, timing,
            lat_missing, barrier, tiles) -> EventResult:
    """Per-sample figures of the run, energy and latency."""
    costs, placement = prof.costs, runner.pl
    T, B, S, C = proto.timesteps, proto.samples, proto.frames, runner.C
    per_core = {e: tl.core_total[e] / B for e in tl.core_total}  # [C] per sample
    totals = {f"{e}_per_sample": float(per_core[e].sum()) for e in CORE_EVENTS + runner.sender_events}
    for k in list(totals):
        totals[k.replace("_per_sample", "_per_step")] = totals[k] / T
    totals["device_steps_per_sample"] = S
    totals["chips"] = runner.chips
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
            L["spikes_out_t_frames_per_sample"] = float(layer_spikes[name].sum()) / B
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
    held = {**placement.layers, **placement.inputs}
    for j, c in enumerate(runner.core_ids):
        d = {"tile": placement.tile_of(c), "chip": placement.chip_of(c),
             "layers": [n for n, lp in held.items() if c in lp.cores],
             "synapse_unit": SYNAPSE_UNITS[int(runner.unit_of_core[j])]}
        for e in CORE_EVENTS + runner.sender_events:  # hops, chip crossings: of the messages the core sends
            d[f"{e}_per_sample"] = float(per_core[e][j])
            d[f"{e}_per_step"] = d[f"{e}_per_sample"] / T
        cores[c] = d

    # -------------------------------------------------------------- energy
    syn_e = _synop_costs(costs, runner.unit_of_core, 0)
    energy = {}
    for cls, evs in _ENERGY_CLASSES.items():
        miss = [_COST_FIELDS[e][0] for e in evs if getattr(costs, _COST_FIELDS[e][0]) is None]
        if miss:
            energy[f"{cls}_pj_per_sample"] = None
            notes.append(f"energy '{cls}' not modelled: profile '{prof.name}' has no {', '.join(miss)}")
        elif cls == "synapse":
            energy["synapse_pj_per_sample"] = float((per_core["synops"] * syn_e).sum()) if C else 0.0
        else:
            energy[f"{cls}_pj_per_sample"] = sum(totals[f"{e}_per_sample"] * _figure(costs, _COST_FIELDS[e][0])
                                                 for e in evs)
    energy["interchip_pj_per_sample"] = _interchip_energy(prof, totals.get("chip_hops_per_sample", 0.0), notes)

    # -------------------------------------------------------------- latency
    latency = {"barrier_latency_ns": barrier, "tiles_used": tiles, "device_steps": S, "timesteps": T,
               "run_device_steps": proto.steps, "protocol": proto.describe(), "models": {}}
    for model in timing:
        sl = tl.step_latency(model)
        if sl is None:
            continue
        total = float(sl.sum())
        latency["models"][model] = {
            "latency_ns_per_sample": total / B, "latency_ns_per_input_step": total / (B * T),
            "latency_ns_per_device_step": total / proto.steps, "latency_ns_per_device_step_max": float(sl.max()),
            "sim_time_s": total * 1e-9, "step_latency_ns": sl}
    head = next((m for m in timing if m in latency["models"]), None)
    latency["timing_model"] = head
    if head is not None:
        latency.update({k: v for k, v in latency["models"][head].items() if k != "sim_time_s"})
    else:
        for k in ("latency_ns_per_sample", "latency_ns_per_input_step", "latency_ns_per_device_step",
                  "latency_ns_per_device_step_max", "step_latency_ns"):
            latency[k] = None
        missing = lat_missing + (["barrier_latency_ns"] if barrier is None else [])
        if missing:
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
    classes = ("synapse", "neuron", "spike", "network", "interchip", "static")
    known = [energy[f"{c}_pj_per_sample"] for c in classes if energy[f"{c}_pj_per_sample"] is not None]
    excluded = [c for c in classes if energy[f"{c}_pj_per_sample"] is None]
    energy["total_pj_per_sample"] = float(sum(known)) if known else None
    energy["total_excludes"] = excluded
    if excluded and known:
        notes.append(f"total energy is the sum of the modelled classes only; it excludes {', '.join(excluded)}")
    for k in [k for k in energy if k.endswith("_per_sample")]:
        energy[k.replace("_per_sample", "_per_step")] = None if energy[k] is None else energy[k] / T

    return EventResult(timesteps=T, device_steps=S, samples=B, output=out, output_kind=output_kind,
                       layer_spikes=layer_spikes, spikes=spikes, layers=layers, synapses=synapses, cores=cores,
                       core_ids=list(runner.core_ids), totals=totals, energy=energy, latency=latency,
                       neurons_per_layer=sizes, notes=notes, placement=placement, profile=prof.name, protocol=proto,
                       wraps=runner.ref.tally.as_dict())
