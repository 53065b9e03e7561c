"""Lower bounds on the cores a mapping needs, per layer and for the network.

Every mapping of :mod:`snn2hw.simulators.mapping` puts one population on a core, so the
network's bound is the sum of its layers' bounds. A layer's bound is the largest of:

* ``neurons``: ``ceil(neurons / neurons_per_core)``;
* ``synapse_memory``: ``ceil(synapses x b / memory bits per core)``, where ``synapses`` is
  the layer's stored synapses (nonzero composed weights) and ``b`` the fewest bits any
  stored synapse can take under the memory model (the best bits-per-synapse of an axon's
  run over every run length: :func:`~snn2hw.simulators.partition.min_bits_per_synapse`);
* ``output_axons``: every (source neuron, destination core) pair takes one output-axon
  entry on the source's core, and each destination core of a consumer listens to at least
  as many of this layer's neurons as the consumer neuron that needs the fewest; so the
  layer needs at least ``sum over consumers (consumer's bound x that fewest) / fan-out
  limit`` cores (consumers are bounded first: layers are visited last first).

A layer whose single worst neuron exceeds the fan-in or memory limit has no legal core;
it is mapped and bounded as if the limit were lifted to what that neuron needs (fan-in:
not limited), the same relaxation the partitioner applies, and the bound says so
(``relaxed``). The bound is never above a mapping found under the same limits (tested on
random networks)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerBound:
    """``cores``: the bound; ``terms``: each term's value; ``binding``: the term that sets it."""

    layer: str
    cores: int
    terms: dict = field(default_factory=dict)
    binding: str = ""
    relaxed: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"layer": self.layer, "cores": self.cores, "terms": dict(self.terms), "binding": self.binding,
                "relaxed": list(self.relaxed)}


def relaxed_limits(needs, limits: dict) -> tuple:
    """``(fan_in, synapse_bits, relaxed names)``: the per-core limits a layer is tiled and bounded under (a limit
    its single worst neuron exceeds is lifted: fan-in to none, memory to that neuron's bits)."""
    inf = float("inf")
    fin, mem, names = limits["fan_in"], limits["synapse_bits"], []
    if needs.one_fan_in > fin:
        fin = inf
        names.append("fan_in_axons_per_core")
    if needs.one_synapse_bits > mem:
        mem = needs.one_synapse_bits
        names.append("synapse_memory_bits_per_core")
    return fin, mem, names


def layer_bounds(layers: dict, limits: dict, mem, wbits: int) -> dict:
    """``{name: LayerBound}`` for the mapping layers (with their synapse ``paths`` and ``needs``), in order."""
    from snn2hw.simulators.partition import min_bits_per_synapse
    fo_lim = limits["fan_out"]
    out = {}
    for name in reversed(list(layers)):
        layer = layers[name]
        _, mlim, relaxed = relaxed_limits(layer.needs, limits)
        terms = {"neurons": math.ceil(layer.neurons / limits["neurons_per_core"])}
        if layer.paths:
            syn = sum(int(p.per_neuron_synapses().sum()) for p in layer.paths)
            b = min(min_bits_per_synapse(p.weight_bits or wbits, mem) for p in layer.paths)
            terms["synapse_memory"] = math.ceil(syn * b / mlim) if np.isfinite(mlim) else 0
        if np.isfinite(fo_lim):
            entries = 0.0
            for cname, c in out.items():
                paths = [p for p in layers[cname].paths if p.source == name]
                if paths:
                    fewest = min(int(max(p.per_neuron_synapses().min() for p in paths)), layer.neurons)
                    entries += c.cores * fewest
            terms["output_axons"] = math.ceil(entries / fo_lim) if entries else 0
        binding = max(terms, key=terms.get)
        out[name] = LayerBound(name, max(1, terms[binding]), terms, binding, relaxed)
    return {n: out[n] for n in layers}
