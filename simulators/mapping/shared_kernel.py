"""The shared-kernel memory model (Speck / DYNAP-CNN, sinabs): one population per core, one stored kernel."""
from __future__ import annotations

import math

import numpy as np

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.simulators.design_rules import (CoreUsage, LayerNeeds, Needs, assign_cores, check_design_rules,
                                            core_tables, feasible_cores, kernel_entries, neuron_entries)
from snn2hw.simulators.placement import LayerPlacement, Placement

from .memory import signed_bits
from .needs import _mark_outputs, mappable, populations
from .paths import _chain_to_source
from .result import MappingResult


def shared_kernel_needs(graph: Graph, profile) -> dict:
    """Each population as one Speck core sees it (:class:`LayerNeeds` with the shared-kernel fields).

    A core runs conv -> IAF -> sum-pool: a sum pool between a population and the next synapse is the
    *source* core's output pool (``pool`` of the source), not part of the kernel. A Dense layer is a conv:
    after a Flatten of a ``(C, H, W)`` map its kernel is the whole ``H x W`` map with ``C_in = C`` on a 1x1
    output; on a vector it is a 1x1 kernel with ``C_in`` = the features. A grouped or dilated conv is stored as
    the equivalent dense kernel (``C_in`` = all input channels, the dilated extent)."""
    profile = mappable(graph, profile)
    out = {}
    pools = {}
    for name, node, syns in populations(graph):
        shape = tuple(int(d) for d in node.output_shape)
        ln = LayerNeeds(layer=name, neurons=int(np.prod(shape)), synapses=list(syns), n_synapses=len(syns))
        ln.channels = shape[0] if shape else 1
        ln.out_hw = tuple(shape[1:3]) if len(shape) == 3 else (1, 1)
        srcs, bits, quant, kern, c_in, stride = [], [], [], None, 0, (1, 1)
        for i, s_name in enumerate(syns):
            syn = graph.nodes[s_name]
            src, chain = _chain_to_source(graph, s_name)
            srcs.append(src)
            quant.append(syn.weight_int is not None)
            if syn.weight_int is not None:
                bits.append(signed_bits(syn.weight_int))
            pk = [1, 1]
            exact = True
            for g in chain:
                if isinstance(g, (N.SumPool2d, N.AvgPool2d)):
                    pk = [pk[0] * g.kernel_size[0], pk[1] * g.kernel_size[1]]
                    exact &= tuple(g.kernel_size) == tuple(g.stride) and not any(g.padding)
            if isinstance(graph.nodes[src], N.Neuron):
                pools.setdefault(src, set()).add(tuple(pk) if exact else (0, 0))
            if i:
                continue   # a core has one conv: the first synapse defines the kernel (more are reported)
            if isinstance(syn, N.Conv2d):
                cout, cin_g, kh, kw = np.asarray(syn.weight).shape
                dy, dx = syn.dilation
                kern = (dy * (kh - 1) + 1, dx * (kw - 1) + 1)
                c_in = int(cin_g * syn.groups)
                stride = tuple(int(v) for v in syn.stride)
            else:   # Dense as a conv
                flat = next((g for g in chain if isinstance(g, N.Flatten)), None)
                if flat is not None and len(flat.input_shape) == 3:
                    c_in, kern = int(flat.input_shape[0]), (int(flat.input_shape[1]), int(flat.input_shape[2]))
                else:
                    c_in, kern = int(np.asarray(syn.weight).shape[1]), (1, 1)
        ln.sources = sorted(set(srcs), key=list(graph.nodes).index)
        ln.source_is_population = len(ln.sources) == 1 and isinstance(graph.nodes[ln.sources[0]], N.Neuron)
        ln.quantized = all(quant)
        ln.weight_bits = max(bits + [0])
        ln.kernel, ln.c_in, ln.stride = kern, c_in, stride
        if kern is not None:
            ln.kernel_entries = kernel_entries(c_in, kern, ln.channels)
        ln.neuron_entries = neuron_entries(ln.channels, ln.out_hw)
        ln.bias_entries = ln.channels
        out[name] = ln
    for src, ps in pools.items():
        ps = sorted(ps)
        out[src].pool = ps[0] if len(ps) == 1 else (0, 0)   # (0, 0): not one plain sum-pool (reported)
    _mark_outputs(out)
    return out


def _map_shared_kernel(graph: Graph, profile) -> "MappingResult":
    """One population per core, cores by bipartite matching on the per-core kernel/neuron/bias memories."""
    needs_by_layer = shared_kernel_needs(graph, profile)
    tables = core_tables(profile)
    K, Nm, B = tables
    n_cores = len(K)
    order = list(needs_by_layer)
    feas = {l: feasible_cores(ln, tables) for l, ln in needs_by_layer.items()}
    match = assign_cores(order, feas, n_cores)
    core_of, extra = {}, n_cores
    for l in order:   # unmatched layers go on virtual cores beyond the chip (reported)
        if l in match:
            core_of[l] = match[l]
        else:
            core_of[l], extra = extra, extra + 1
    consumers = {}
    for l, ln in needs_by_layer.items():
        for s in ln.sources:
            consumers.setdefault(s, set()).add(l)
    wbits = int(profile.formats.weight_bits)
    usage = []
    for l, ln in needs_by_layer.items():
        c = core_of[l]
        inside = c < n_cores
        dest = {core_of[x] for x in consumers.get(l, ())}
        usage.append(CoreUsage(core=c, layer=l, start=0, stop=ln.neurons, synapse_bits=ln.kernel_entries * wbits,
                               fan_in=0, fan_out=ln.neurons * len(dest), destination_cores=len(dest),
                               kernel_entries=ln.kernel_entries, neuron_entries=ln.neuron_entries,
                               bias_entries=ln.bias_entries, kernel_limit=K[c] if inside else 0,
                               neuron_limit=Nm[c] if inside else 0, bias_limit=(B[c] if B else 0) if inside else 0))
    usage.sort(key=lambda u: u.core)
    needs = Needs(layers=needs_by_layer, cores=usage, cores_needed=len(order), memory_model="shared_kernel",
                  assignment=dict(match))
    violations = check_design_rules(graph, profile, needs)
    total = len(order)
    width = max(1, math.ceil(math.sqrt(max(total, n_cores))))
    placement = Placement(profile=profile.name, mesh_width=width, cores_per_tile=1, input_tile=0)
    for l, ln in needs_by_layer.items():
        placement.layers[l] = LayerPlacement(layer=l, neurons=ln.neurons, ranges=[(core_of[l], 0, ln.neurons)])
    placement.notes += [
        "shared-kernel placement (Speck / DYNAP-CNN, sinabs): one population per core, each core stores one "
        "shared conv kernel; kernel entries = C_in * 2^(ceil(log2(kx*ky)) + ceil(log2 C_out)), neuron entries = "
        "C_out * 2^(ceil(log2 H_out) + ceil(log2 W_out)), bias entries = C_out, checked against each core's "
        "memories; layers assigned to cores by maximum bipartite matching (augmenting paths)",
        "a sum-pool after a population runs on that population's core (conv -> IAF -> pool); a dense layer is a "
        "conv whose kernel covers its input map",
        f"per-core memories (entries): kernel {K}, neuron {Nm}" + (f", bias {B}" if B else ""),
    ]
    for u in usage:
        where = f"core {u.core}" if u.core < n_cores else f"no core (virtual {u.core})"
        placement.notes.append(
            f"{u.layer}: {where}: kernel {u.kernel_entries:,}/{u.kernel_limit:,}, neuron "
            f"{u.neuron_entries:,}/{u.neuron_limit:,}, bias {u.bias_entries:,}/{u.bias_limit:,} entries; "
            f"fits cores {feas[u.layer]}")
    limits = {"neurons_per_core": None, "synapse_memory_bits_per_core": None, "fan_in_axons_per_core": None,
              "fan_out_axons_per_core": None,
              "max_destination_cores": int(profile.capacity.max_destination_cores.value)
              if profile.capacity.max_destination_cores else None, "cores": n_cores,
              "kernel_memory_entries_per_core": K, "neuron_memory_entries_per_core": Nm,
              "bias_memory_entries_per_core": B}
    stored = 0
    for ln in needs_by_layer.values():
        for s_name in ln.synapses[:1]:
            w = graph.nodes[s_name].weight_int
            w = graph.nodes[s_name].weight if w is None else w
            stored += int(np.count_nonzero(np.asarray(w)))
    totals = {"profile": profile.name, "memory_model": "shared_kernel", "cores_used": total,
              "cores_available": n_cores, "chips_needed": math.ceil(total / n_cores),
              "tiles_used": len(placement.tiles_used), "neurons": sum(l.neurons for l in needs_by_layer.values()),
              "synapses": stored, "synapse_bits": sum(u.synapse_bits for u in usage),
              "kernel_entries": sum(u.kernel_entries for u in usage),
              "neuron_entries": sum(u.neuron_entries for u in usage),
              "cores_per_layer": {l: 1 for l in order}, "core_of_layer": dict(core_of)}
    return MappingResult(placement=placement, fits=not violations, violations=violations, usage=usage,
                         totals=totals, limits=limits, needs=needs)

