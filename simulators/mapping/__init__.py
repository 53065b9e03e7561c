"""Mapping: place an integer network's neurons on a chip's cores within every capacity limit.

``map_graph(graph, profile, synapse_model=None) -> MappingResult`` works on a quantized
graph (``snn2hw.convert(...).graph``) and a profile (a name, a YAML path or a
:class:`~snn2hw.hw_profiles.schema.Profile`). The package, one step per module:

* :mod:`.paths`: which source neurons reach which destination neurons through one synapse
  (sum pools between a population and the synapse composed into it: a 2x2/2 pool before a
  3x3 conv is a 6x6/2 conv on the source; exact for non-overlapping unpadded pools, an upper
  bound otherwise, noted in the placement);
* :mod:`.memory` and :mod:`.needs`: the synapse-list memory model (nengo-loihi: runs of at
  most 64 synapses with a header, rounded to words; sparse = weight + index bits, dense =
  weight bits for every neuron of the core) and what each population needs whatever the
  placement (its worst single neuron, which no placement can shrink);
* :mod:`.tile_counts`, :mod:`.tile_needs`, :mod:`.shared_synapses`: exactly what one
  ``(channel, y, x)`` tile needs on a core (fan-in axons, synapse bits, output-axon entries)
  under the ``expanded`` (a discrete axon per source neuron, every connection stored) or the
  ``shared`` synapse model (a population axon per source pixel, each tap pattern's weight set
  stored once; NxTF / nengo-loihi weight sharing);
* :mod:`.partition`: the tiles of each population (the grid of boxes with the fewest cores,
  channels packed greedily per box class; last layer first, so output axons are known);
* :mod:`.merge`: underfull cores merged with their neighbours' (a core may hold several boxes;
  expanded synapses);
* :mod:`.lower_bound`: per-layer lower bounds (neurons, synapse memory, output axons, neurons
  that can share a core with no other) and their sum for the network;
* :mod:`.layout`: cores numbered layer by layer and laid on the mesh in serpentine tile order;
  the per-core usage table;
* :mod:`.shared_kernel`: the Speck / DYNAP-CNN model (``profile.memory_model ==
  'shared_kernel'``, HW_PROFILES 2.5): one population per core, one stored kernel, cores
  assigned by bipartite matching;
* :mod:`.result`: :class:`MappingResult`.

Every limit is then a design rule (:mod:`snn2hw.simulators.design_rules`); :func:`map_graph`
runs them all and returns every violation at once.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from snn2hw.hw_profiles import load_profile
from snn2hw.ir.graph import Graph
from snn2hw.simulators.design_rules import Needs, check_design_rules
from snn2hw.simulators.placement import place_inputs

from .errors import MappingError
from .memory import MAX_SYNAPSES_PER_RUN, _Mem, _mem_model, axon_bits, signed_bits
from .needs import _core_needs, _Layer, layer_needs
from .paths import Path
from .result import MappingResult
from .shared_kernel import _map_shared_kernel, shared_kernel_needs

__all__ = ["MAX_SYNAPSES_PER_RUN", "MappingError", "MappingResult", "Path", "axon_bits", "layer_needs", "map_graph",
           "shared_kernel_needs", "signed_bits", "synapse_model_of", "_Layer", "_Mem", "_core_needs", "_mem_model"]


def synapse_model_of(profile, synapse_model: Optional[str] = None) -> str:
    """The synapse model a mapping on ``profile`` uses: ``synapse_model`` if given (checked against the
    profile's ``synapse_models.available``), else the profile's default."""
    sm = profile.synapse_models
    model = synapse_model or sm.default
    if model not in sm.available:
        raise MappingError(f"profile '{profile.name}' has no '{model}' synapse model (available: "
                           f"{', '.join(sm.available)}; {sm.source})")
    return model


def map_graph(graph: Graph, profile="loihi", synapse_model: Optional[str] = None, progress=None,
              effort: str = "normal") -> MappingResult:
    """Place ``graph``'s populations on ``profile``'s cores and check every design rule (all violations at once).

    ``synapse_model``: 'expanded' | 'shared' for a synapse-list profile (default: the profile's). ``progress``:
    called with ``(layer, cores)`` as each layer is tiled (last layer first). ``effort``: how hard merging tries
    (:data:`~snn2hw.simulators.mapping.partition.EFFORTS`; 'fast' frees fewer cores on some networks, in less
    time); ``totals['effort']`` records it where it applies (expanded synapses; ``None`` otherwise)."""
    from .layout import map_tiles
    from .partition import check_effort
    check_effort(effort)   # before any work, and for a shared-kernel chip too
    profile = load_profile(profile)
    if profile.memory_model == "shared_kernel":
        return _map_shared_kernel(graph, profile)
    model = synapse_model_of(profile, synapse_model)
    layers = layer_needs(graph, profile)
    cap = profile.capacity
    mem = _mem_model(profile)
    wbits = int(profile.formats.weight_bits)

    def lv(f):
        return None if f is None else int(f.value)

    limits = {"neurons_per_core": lv(cap.neurons_per_core), "synapse_memory_bits_per_core": lv(cap.synapse_memory_bits_per_core),
              "fan_in_axons_per_core": lv(cap.fan_in_axons_per_core), "fan_out_axons_per_core": lv(cap.fan_out_axons_per_core),
              "max_destination_cores": lv(cap.max_destination_cores), "cores": lv(cap.cores)}
    tm = map_tiles(graph, profile, layers, model, mem, wbits, progress, effort)
    placement = tm.placement
    place_inputs(placement, {n: int(np.prod(graph.nodes[n].output_shape)) for n in graph.inputs},
                 limits["neurons_per_core"] or 1024)
    placement.notes += tm.notes
    total = tm.totals["cores_used"]
    needs = Needs(layers={n: l.needs for n, l in layers.items()}, cores=tm.usage, cores_needed=total,
                  synapse_model=model)
    violations = check_design_rules(graph, profile, needs)
    stored = sum(int(p.per_neuron_synapses().sum()) for l in layers.values() for p in l.paths)
    totals = {"profile": profile.name, "synapse_model": model,
              "effort": effort if model == "expanded" else None,   # merging applies to expanded synapses only
              "cores_used": total,
              "cores_available": limits["cores"], "chips_needed": tm.totals["chips_needed"],
              "tiles_used": len(placement.tiles_used), "neurons": sum(l.neurons for l in layers.values()),
              "synapses": stored, "synapse_bits": sum(u.synapse_bits for u in tm.usage),
              "lower_bound_cores": tm.totals["lower_bound_cores"], "bound_ratio": tm.totals["bound_ratio"],
              "cores_per_layer": {n: len(placement.layers[n].cores) for n in layers}}
    return MappingResult(placement=placement, fits=not violations, violations=violations, usage=tm.usage,
                         totals=totals, limits=limits, needs=needs, bounds=tm.bounds, tilings=tm.tilings)
