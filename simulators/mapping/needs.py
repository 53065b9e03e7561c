"""What each population needs whatever the placement: its synapse paths, its worst single neuron, and what a
contiguous range of its neurons needs on one core."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from snn2hw.errors import GraphError
from snn2hw.hw_profiles import load_profile
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import ANY, synapses_into, walk
from snn2hw.simulators.design_rules import LayerNeeds

from .errors import MappingError
from .memory import _Mem, _mem_model, axon_bits
from .paths import Path


@dataclass
class _Layer:
    name: str
    neurons: int
    paths: list
    needs: LayerNeeds
    ranges: list = field(default_factory=list)       # final (start, stop)
    binding: str = ""



def _core_needs(layer: _Layer, a: int, b: int, mem: _Mem, wbits: int):
    """``(fan_in, synapse_bits, storage, {source: indices of its neurons that take an axon})`` of ``[a, b)``."""
    by_src, bits, storage = {}, 0, {}
    n = b - a
    for p in layer.paths:
        idx, cu = p.sparse_counts(a, b)
        by_src[p.source] = idx if p.source not in by_src else np.union1d(by_src[p.source], idx)
        wb = p.weight_bits or wbits
        sparse = int(axon_bits(cu, wb + mem.index_bits, mem.header_bits, mem.word_bits).sum())
        dense = int(cu.size * axon_bits(n, wb, mem.header_bits, mem.word_bits))
        storage[p.synapse] = "dense" if dense < sparse else "sparse"
        bits += min(sparse, dense)
    fan_in = int(sum(u.size for u in by_src.values()))
    return fan_in, bits, storage, by_src


def populations(graph: Graph):
    """``(name, node, synapses into it)`` of every ``Neuron`` in topological order; a population that receives
    spikes without a synapse is refused (``snn2hw.convert`` inserts identity synapses)."""
    for name in graph.topological_order():
        node = graph.nodes[name]
        if not isinstance(node, N.Neuron):
            continue
        syns, bare = synapses_into(graph, name)
        if bare:
            raise MappingError(f"population '{name}' receives spikes from {bare} without a synapse; run "
                               f"snn2hw.convert (it inserts identity synapses) before mapping")
        yield name, node, syns


def mappable(graph: Graph, profile):
    """The loaded profile, after checking that it has a capacity section and that ``graph``'s shapes chain
    (:class:`MappingError` / :class:`GraphError` otherwise)."""
    profile = load_profile(profile)
    if profile.capacity is None:
        raise MappingError(f"profile '{profile.name}' has no capacity section: nothing to map onto")
    problems = graph.infer_shapes()
    if problems:
        raise GraphError(problems)
    return profile


def layer_needs(graph: Graph, profile) -> dict:
    """Each population's needs (per-neuron worst case included), keyed by layer name, as :class:`_Layer`."""
    profile = mappable(graph, profile)
    mem = _mem_model(profile)
    wbits = int(profile.formats.weight_bits)
    layers = {}
    for name, node, syns in populations(graph):
        # only index-preserving glue (Add, Flatten, BatchNorm) may sit between synapse and neuron
        for end in walk(graph, name, "up", through=ANY, stop_at=(N.Dense, N.Conv2d, N.Input, N.Neuron)):
            pool = next((m for m in end.path if isinstance(graph.nodes[m], (N.SumPool2d, N.AvgPool2d))), None)
            if pool is not None:
                raise MappingError(f"cannot map pooling '{pool}' between a synapse and population '{name}': pool "
                                   f"the spikes of a population instead (between a neuron and the next synapse)")
        paths = [Path(graph, s, name) for s in syns]
        n = int(np.prod(node.output_shape))
        ln = LayerNeeds(layer=name, neurons=n, synapses=list(syns),
                        sources=sorted({p.source for p in paths}, key=list(graph.nodes).index),
                        weight_bits=max([p.weight_bits or 0 for p in paths] + [0]),
                        quantized=all(p.quantized for p in paths))
        kernels = [p.kernel for p in paths if p.kernel]
        ln.kernel = max(kernels, key=max) if kernels else None
        layer = _Layer(name, n, paths, ln)
        if paths:
            per = sum(p.per_neuron_synapses() for p in paths)
            worst = int(np.argmax(per))
            ln.one_synapses = int(per[worst])
            ln.one_fan_in, ln.one_synapse_bits, _, _ = _core_needs(layer, worst, worst + 1, mem, wbits)
            conv = [p for p in paths if p.kind == "conv"]
            if len(paths) == 1 and conv:
                f = worst // int(np.prod(conv[0].dst_shape[1:]))
                ln.one_channels = int(conv[0].cin_used[f])
                ln.one_positions = math.ceil(ln.one_fan_in / max(1, ln.one_channels))
            wb_l = ln.weight_bits or wbits
            ln.bits_per_axon_one_by_wbits = {b: int(axon_bits(1, b, mem.header_bits, mem.word_bits))
                                             for b in range(1, max(wb_l, 1) + 1)}
            ln.bits_per_axon_one = ln.bits_per_axon_one_by_wbits[max(wb_l, 1)]
        ln.channels = int(node.output_shape[0]) if node.output_shape else 1
        ln.source_is_population = bool(ln.sources) and all(isinstance(graph.nodes[s], N.Neuron) for s in ln.sources)
        layers[name] = layer
    _mark_outputs({n: l.needs for n, l in layers.items()})
    return layers


def _mark_outputs(needs: dict):
    """``is_output``: no population takes this one as a source (its width is the number of classes)."""
    used = {s for ln in needs.values() for s in ln.sources}
    for name, ln in needs.items():
        ln.is_output = name not in used

