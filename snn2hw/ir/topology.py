"""Graph walks that passes, simulators and exporters share.

A *population* is an ``Input`` or a ``Neuron``: something that emits values
each timestep. Between populations lie *linear paths*: synapses (Dense,
Conv2d) and the linear glue around them (pools, BatchNorm, Flatten, Add).
"""
from __future__ import annotations

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph

POPULATIONS = (N.Input, N.Neuron)
GLUE = (N.SumPool2d, N.AvgPool2d, N.BatchNorm, N.Flatten, N.Add)


def synapses_into(graph: Graph, name: str) -> tuple:
    """Synapses whose output current reaches node ``name`` without crossing another synapse.

    Returns ``(synapses, bare)``: ``bare`` lists populations reached *without*
    any synapse on the way (an identity spike path into an Add), which the
    integer network cannot express until an identity synapse is inserted.
    """
    syn, bare, seen = [], [], set()
    stack = list(graph.predecessors(name))
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        node = graph.nodes[n]
        if isinstance(node, N.SYNAPSES):
            syn.append(n)
        elif isinstance(node, POPULATIONS):
            bare.append(n)
        else:
            stack.extend(graph.predecessors(n))
    return sorted(syn, key=list(graph.nodes).index), sorted(bare, key=list(graph.nodes).index)


def synapses_from(graph: Graph, name: str) -> tuple:
    """Synapses that consume node ``name``'s output through glue only.

    Returns ``(synapses, other)``: ``other`` lists nodes reached without a
    synapse (a population, an Output, or an Add that also sums currents).
    """
    syn, other, seen = [], [], set()
    stack = list(graph.successors(name))
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        node = graph.nodes[n]
        if isinstance(node, N.SYNAPSES):
            syn.append(n)
        elif isinstance(node, (N.SumPool2d, N.AvgPool2d, N.Flatten)):
            stack.extend(graph.successors(n))
        else:
            other.append(n)
    return sorted(syn, key=list(graph.nodes).index), sorted(other, key=list(graph.nodes).index)


def population_of(graph: Graph, synapse: str):
    """The neuron (or Output-less sink) that the synapse's current drives: follow glue downstream."""
    n = synapse
    while True:
        succ = graph.successors(n)
        if len(succ) != 1:
            return None
        n = succ[0]
        if isinstance(graph.nodes[n], N.Neuron):
            return n
        if not isinstance(graph.nodes[n], GLUE):
            return None


def source_of(graph: Graph, synapse: str):
    """The population (Input or Neuron) feeding a synapse through glue, or None if ambiguous."""
    n = synapse
    while True:
        pred = graph.predecessors(n)
        if len(pred) != 1:
            return None
        n = pred[0]
        if isinstance(graph.nodes[n], POPULATIONS):
            return n


def depths(graph: Graph) -> dict:
    """Synaptic depth of every node: the number of synapse stages on the longest path from an Input.

    In the integer execution model each synapse stage delays by one timestep,
    so a population of depth ``d`` sees input frame ``k`` at step ``k + d``
    (Lava numbering: ``k + 1 + d``). Shorter paths into an Add are delayed to
    match the longest one.
    """
    d = {}
    for n in graph.topological_order():
        preds = graph.predecessors(n)
        base = max((d[p] for p in preds), default=0)
        d[n] = base + (1 if isinstance(graph.nodes[n], N.SYNAPSES) else 0)
    return d


def chain_up(graph: Graph, syn: str) -> list:
    """Glue nodes between a synapse's single source population and the synapse, in forward order."""
    out, n = [], syn
    while True:
        (p,) = graph.predecessors(n)
        if isinstance(graph.nodes[p], POPULATIONS):
            return out[::-1]
        out.append(p)
        n = p


def chain_down(graph: Graph, syn: str, target: str) -> list:
    """Glue nodes between a synapse and the population ``target`` it drives, in forward order."""
    out, n = [], syn
    while True:
        (s,) = graph.successors(n)
        if s == target:
            return out
        out.append(s)
        n = s
