"""InsertIdentitySynapsesPass: give every spike path into an Add or a Neuron a synapse.

On the chip a population only receives synaptic currents. A residual edge that
adds a layer's spikes straight into another layer's input (an identity
shortcut) becomes a one-to-one synapse of weight 1 (ALGORITHMS.md §1.8 step 4,
§3.6): a depthwise 1x1 Conv2d for feature maps, a diagonal Dense (masked to its
diagonal) for vectors. Exact: the float function is unchanged.
"""
from __future__ import annotations

import numpy as np

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import POPULATIONS, synapses_into
from snn2hw.passes.base import Pass, PassResult


def identity_synapse(shape: tuple):
    if len(shape) == 3:
        c = shape[0]
        return N.Conv2d(weight=np.ones((c, 1, 1, 1)), groups=c, metadata={"identity": True})
    n = int(np.prod(shape))
    return N.Dense(weight=np.eye(n), mask=np.eye(n, dtype=bool), metadata={"identity": True})


def _bare(graph: Graph, src: str) -> bool:
    """True if ``src`` delivers population output with no synapse on the way."""
    node = graph.nodes[src]
    if isinstance(node, POPULATIONS):
        return True
    if isinstance(node, (N.SYNAPSES, N.Add)):
        return False  # an Add's own inputs are handled when the Add is visited
    syn, bare = synapses_into(graph, src)
    return bool(bare) and not syn


class InsertIdentitySynapsesPass(Pass):
    name = "insert_identity_synapses"

    def call(self, graph: Graph, result: PassResult) -> None:
        graph.infer_shapes()
        for name in graph.topological_order():
            node = graph.nodes[name]
            if not isinstance(node, (N.Add, N.Neuron)):
                continue
            for src in list(graph.predecessors(name)):
                if _bare(graph, src):
                    shape = graph.nodes[src].output_shape
                    new = graph.unique_name(f"{src}_to_{name}_identity")
                    graph.insert_on_edge(src, name, new, identity_synapse(shape))
                    result.changes.append(f"inserted identity synapse '{new}' on the spike path {src} -> {name}")
            graph.infer_shapes()
