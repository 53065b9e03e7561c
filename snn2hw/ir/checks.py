"""Graph-level checks shared by the integer consumers (simulators and exporters)."""
from __future__ import annotations

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph


def quantization_problems(graph: Graph) -> list:
    """Every reason ``graph`` is not an integer network yet (empty when it is), in graph order."""
    problems = []
    for name in graph.topological_order():
        node = graph.nodes[name]
        if isinstance(node, N.SYNAPSES) and node.weight_int is None:
            problems.append(f"synapse '{name}' ({type(node).__name__}) has no integer weights")
        if isinstance(node, N.Neuron) and (node.vth is None or node.du is None or node.dv is None):
            problems.append(f"neuron '{name}' has no integer parameters (vth/du/dv)")
        if isinstance(node, N.Input) and node.step is None:
            problems.append(f"input '{name}' has no integer step")
        if isinstance(node, (N.AvgPool2d, N.BatchNorm)):
            problems.append(f"node '{name}' ({type(node).__name__}) must be folded first")
    return problems
