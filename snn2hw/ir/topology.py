"""Graph walks that passes, simulators and exporters share.

A *population* is an ``Input`` or a ``Neuron``: something that emits values
each timestep. Between populations lie *linear paths*: synapses (Dense,
Conv2d) and the linear glue around them (pools, BatchNorm, Flatten, Add).

Every walk over the graph goes through :func:`walk`; the helpers below only
choose its parameters and read its :class:`End` results.
"""
from __future__ import annotations

from dataclasses import dataclass

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph

POPULATIONS = (N.Input, N.Neuron)
GLUE = (N.SumPool2d, N.AvgPool2d, N.BatchNorm, N.Flatten, N.Add)
ANY = (N.Node,)   # ``through=ANY``: walk through every node that is not a stop


@dataclass(frozen=True)
class End:
    """Where one branch of a :func:`walk` ended.

    ``node`` is the node it ended at; ``path`` the nodes walked through between the start and ``node``
    (both excluded), nearest to the start first; ``kind`` says why it ended: ``"stop"`` (``node`` matches
    ``stop_at``), ``"other"`` (``node`` matches neither ``stop_at`` nor ``through``) or ``"fork"``
    (``fork="end"`` only: ``node``, the start or the last node walked through, has not exactly one
    neighbour in the walk's direction).
    """

    node: str
    path: tuple
    kind: str


def _matches(spec, name: str, node) -> bool:
    """``spec`` is a tuple of node classes, or one node's name (``None`` matches nothing)."""
    if spec is None or isinstance(spec, str):
        return name == spec
    return isinstance(node, spec)


def walk(graph: Graph, start: str, direction: str = "up", through=GLUE, stop_at=POPULATIONS,
         fork: str = "follow") -> list:
    """Walk from ``start`` against (``direction="up"``: predecessors) or along (``"down"``: successors) the
    edges, through the nodes matching ``through``, and return one :class:`End` per place the walk stopped.

    ``stop_at`` and ``through`` are tuples of node classes or one node's name; ``stop_at`` is checked first,
    and a node matching neither ends its branch as ``"other"``. ``start`` itself is never matched. Fan-in
    (up) and fan-out (down) follow ``fork``: ``"follow"`` takes every neighbour, depth first (the last
    neighbour first), visits each node once and returns the ends in the order they were reached;
    ``"end"`` requires a chain: where the start or a node walked through has zero or several neighbours,
    the walk ends there as a ``"fork"``, and the result is exactly one end.
    """
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    if fork not in ("follow", "end"):
        raise ValueError(f"fork must be 'follow' or 'end', got {fork!r}")
    step = graph.predecessors if direction == "up" else graph.successors

    def end(n, path):   # the End at ``n``, or None when the walk goes through it
        node = graph.nodes[n]
        if _matches(stop_at, n, node):
            return End(n, path, "stop")
        return None if _matches(through, n, node) else End(n, path, "other")

    if fork == "end":
        path, n = (), start
        while True:
            nxt = step(n)
            if len(nxt) != 1:
                return [End(n, path, "fork")]
            path, n = (path + (n,) if n != start else path), nxt[0]
            e = end(n, path)
            if e is not None:
                return [e]
    ends, seen = [], set()
    stack = [(n, ()) for n in step(start)]
    while stack:
        n, path = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        e = end(n, path)
        if e is None:
            stack.extend((m, path + (n,)) for m in step(n))
        else:
            ends.append(e)
    return ends


def _in_order(graph: Graph, names) -> list:
    order = list(graph.nodes)
    return sorted(names, key=order.index)


def synapses_into(graph: Graph, name: str) -> tuple:
    """Synapses whose output current reaches node ``name`` without crossing another synapse.

    Returns ``(synapses, bare)``: ``bare`` lists populations reached *without*
    any synapse on the way (an identity spike path into an Add), which the
    integer network cannot express until an identity synapse is inserted.
    """
    ends = walk(graph, name, "up", through=ANY, stop_at=N.SYNAPSES + POPULATIONS)
    syn = [e.node for e in ends if isinstance(graph.nodes[e.node], N.SYNAPSES)]
    bare = [e.node for e in ends if isinstance(graph.nodes[e.node], POPULATIONS)]
    return _in_order(graph, syn), _in_order(graph, bare)


def synapses_from(graph: Graph, name: str) -> tuple:
    """Synapses that consume node ``name``'s output through glue only.

    Returns ``(synapses, other)``: ``other`` lists nodes reached without a
    synapse (a population, an Output, or an Add that also sums currents).
    """
    ends = walk(graph, name, "down", through=(N.SumPool2d, N.AvgPool2d, N.Flatten), stop_at=N.SYNAPSES)
    return (_in_order(graph, [e.node for e in ends if e.kind == "stop"]),
            _in_order(graph, [e.node for e in ends if e.kind == "other"]))


def population_of(graph: Graph, synapse: str):
    """The neuron (or Output-less sink) that the synapse's current drives: follow glue downstream."""
    (e,) = walk(graph, synapse, "down", through=GLUE, stop_at=(N.Neuron,), fork="end")
    return e.node if e.kind == "stop" else None


def source_of(graph: Graph, synapse: str):
    """The population (Input or Neuron) feeding a synapse through glue, or None if ambiguous."""
    (e,) = walk(graph, synapse, "up", through=ANY, stop_at=POPULATIONS, fork="end")
    return e.node if e.kind == "stop" else None


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


def _chain(graph: Graph, syn: str, direction: str, stop_at) -> End:
    """The single ``"stop"`` end of a chain walk through any node; ``ValueError`` at a fork."""
    (e,) = walk(graph, syn, direction, through=ANY, stop_at=stop_at, fork="end")
    if e.kind == "fork":
        k = len(graph.predecessors(e.node) if direction == "up" else graph.successors(e.node))
        raise ValueError(f"node '{e.node}' has {k} {'inputs' if direction == 'up' else 'outputs'} on the "
                         f"way {direction} from synapse '{syn}'")
    return e


def chain_up(graph: Graph, syn: str) -> list:
    """Glue nodes between a synapse's single source population and the synapse, in forward order."""
    return list(_chain(graph, syn, "up", POPULATIONS).path[::-1])


def chain_down(graph: Graph, syn: str, target: str) -> list:
    """Glue nodes between a synapse and the population ``target`` it drives, in forward order."""
    return list(_chain(graph, syn, "down", target).path)


def synapse_paths(graph: Graph, syn: str) -> dict:
    """``{"source", "target", "chain_up", "chain_down"}`` of a synapse: :func:`source_of`,
    :func:`population_of` and the glue between them and the synapse (:func:`chain_up`, :func:`chain_down`;
    ``ValueError`` where either is not a chain)."""
    up = _chain(graph, syn, "up", POPULATIONS)
    tgt = population_of(graph, syn)
    return {"source": up.node, "target": tgt, "chain_up": list(up.path[::-1]),
            "chain_down": chain_down(graph, syn, tgt)}


def sum_pools_between(graph: Graph, syn: str, neuron: str) -> list:
    """The SumPool2d nodes on the glue path from a synapse to the neuron its current drives."""
    for end in walk(graph, syn, "down", through=GLUE, stop_at=neuron):
        if end.kind == "stop":
            return [n for n in end.path if isinstance(graph.nodes[n], N.SumPool2d)]
    return []
