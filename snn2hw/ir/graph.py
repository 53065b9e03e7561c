"""The Graph: named nodes plus directed edges (residual and branching graphs are first-class)."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np

from snn2hw.errors import GraphError
from snn2hw.ir import nodes as N


@dataclass
class Graph:
    """``nodes``: name -> node (insertion order kept); ``edges``: (source, destination) pairs.

    The edge order into an ``Add`` is irrelevant (addition commutes); every
    other node kind has exactly one input (``Input`` none).
    """

    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- building
    @classmethod
    def sequential(cls, items: Iterable, metadata: Optional[dict] = None) -> "Graph":
        """A chain from ``[(name, node), ...]``."""
        g = cls(metadata=dict(metadata or {}))
        prev = None
        for name, node in items:
            g.add(name, node, [prev] if prev is not None else [])
            prev = name
        return g

    def add(self, name: str, node: N.Node, inputs: Iterable = ()) -> str:
        if name in self.nodes:
            raise ValueError(f"node name '{name}' is already used")
        self.nodes[name] = node
        for src in inputs:
            self.edges.append((src, name))
        return name

    def unique_name(self, base: str) -> str:
        if base not in self.nodes:
            return base
        i = 1
        while f"{base}_{i}" in self.nodes:
            i += 1
        return f"{base}_{i}"

    def remove(self, name: str, reconnect: bool = True) -> None:
        """Remove a single-input node, connecting its input to its consumers."""
        preds = self.predecessors(name)
        succs = self.successors(name)
        self.edges = [e for e in self.edges if name not in e]
        del self.nodes[name]
        if reconnect and len(preds) == 1:
            for s in succs:
                self.edges.append((preds[0], s))

    def insert_after(self, name: str, new_name: str, node: N.Node) -> str:
        """Insert ``node`` between ``name`` and all of its consumers."""
        succs = self.successors(name)
        self.edges = [e for e in self.edges if e[0] != name]
        self.add(new_name, node, [name])
        for s in succs:
            self.edges.append((new_name, s))
        return new_name

    def insert_on_edge(self, src: str, dst: str, new_name: str, node: N.Node) -> str:
        """Insert ``node`` on the edge ``src -> dst`` only."""
        self.edges.remove((src, dst))
        self.add(new_name, node, [src])
        self.edges.append((new_name, dst))
        return new_name

    def copy(self) -> "Graph":
        return copy.deepcopy(self)

    # ---------------------------------------------------------------- queries
    def predecessors(self, name: str) -> list:
        return [s for s, d in self.edges if d == name]

    def successors(self, name: str) -> list:
        return [d for s, d in self.edges if s == name]

    def of_type(self, *types) -> list:
        return [n for n, node in self.nodes.items() if isinstance(node, types)]

    @property
    def inputs(self) -> list:
        return self.of_type(N.Input)

    @property
    def outputs(self) -> list:
        return self.of_type(N.Output)

    def topological_order(self) -> list:
        """Names in an order where every node follows its inputs. Raises GraphError on a cycle."""
        indeg = {n: 0 for n in self.nodes}
        for s, d in self.edges:
            if s in indeg and d in indeg:
                indeg[d] += 1
        ready = [n for n in self.nodes if indeg[n] == 0]
        order = []
        succ = {n: [] for n in self.nodes}
        for s, d in self.edges:
            if s in succ and d in indeg:
                succ[s].append(d)
        while ready:
            n = ready.pop(0)
            order.append(n)
            for d in succ[n]:
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
        if len(order) != len(self.nodes):
            cyc = sorted(n for n in self.nodes if n not in order)
            raise GraphError([f"the graph has a cycle through nodes {cyc}"])
        return order

    # ---------------------------------------------------------------- shapes
    def infer_shapes(self) -> list:
        """Set ``input_shape``/``output_shape`` on every node; return the problems found (all of them)."""
        problems = []
        try:
            order = self.topological_order()
        except GraphError as e:
            return list(e.problems)
        for name in order:
            node = self.nodes[name]
            preds = [p for p in self.predecessors(name) if p in self.nodes]
            in_shapes = [self.nodes[p].output_shape for p in preds]
            node.input_shape = tuple(in_shapes[0]) if len(in_shapes) == 1 and in_shapes[0] is not None else None
            node.output_shape = None
            if any(s is None for s in in_shapes):
                continue  # upstream problem already reported
            if node.arity is not None and len(in_shapes) != node.arity:
                continue  # reported by validate()
            try:
                node.output_shape = tuple(int(s) for s in node.infer(in_shapes))
            except (ValueError, IndexError) as e:
                problems.append(f"node '{name}' ({type(node).__name__}): {e}")
        return problems

    # ---------------------------------------------------------------- validation
    def validate(self, raise_on_error: bool = True) -> list:
        """Check structure, parameters and shapes; report every problem at once."""
        problems = []
        for s, d in self.edges:
            for end in (s, d):
                if end not in self.nodes:
                    problems.append(f"edge ({s} -> {d}) names the unknown node '{end}'")
        if len(set(self.edges)) != len(self.edges):
            problems.append("the graph has duplicate edges")
        if not self.inputs:
            problems.append("the graph has no Input node")
        if not self.outputs:
            problems.append("the graph has no Output node")
        for name, node in self.nodes.items():
            if type(node).__name__ not in N.NODE_TYPES:
                problems.append(f"node '{name}' has the unsupported type {type(node).__name__}")
                continue
            n_in = len(self.predecessors(name))
            if node.arity is None:
                if n_in < 2:
                    problems.append(f"node '{name}' ({type(node).__name__}) needs at least 2 inputs, has {n_in}")
            elif n_in != node.arity:
                problems.append(f"node '{name}' ({type(node).__name__}) needs {node.arity} input(s), has {n_in}")
            if isinstance(node, N.Output) and self.successors(name):
                problems.append(f"output node '{name}' must not feed other nodes")
            if not isinstance(node, N.Output) and not self.successors(name):
                problems.append(f"node '{name}' ({type(node).__name__}) feeds nothing (dead end)")
            problems += [f"node '{name}' ({type(node).__name__}): {p}" for p in node.check()]
        # shapes are checked even when some edges name unknown nodes (infer_shapes skips those edges),
        # so one run reports the structural and the shape problems together
        problems += self.infer_shapes()
        problems += self._size_and_metadata_problems()
        for name in self.outputs:
            src = [p for p in self.predecessors(name) if p in self.nodes]
            if src and not isinstance(self.nodes[src[0]], N.Neuron):
                problems.append(f"output node '{name}' must follow a Neuron (spikes or readout), "
                                f"got {type(self.nodes[src[0]]).__name__} '{src[0]}'")
        if problems and raise_on_error:
            raise GraphError(problems)
        return problems

    def _size_and_metadata_problems(self) -> list:
        """Layers above the element limit (a file can declare any shape in a few bytes; refused before a
        simulator allocates them) and recorded facts of the wrong type (timesteps, input_step)."""
        from snn2hw.util.limits import limit_text, numel, too_many
        problems = []
        for name, node in self.nodes.items():
            for what, shp in (("input", getattr(node, "shape", None) if isinstance(node, N.Input) else None),
                              ("output", node.output_shape)):
                if shp is not None and too_many(numel(shp)):
                    problems.append(f"node '{name}' ({type(node).__name__}): {what} shape {tuple(shp)} has "
                                    f"{numel(shp)} elements, above the {limit_text()}")
                    break
        T = self.metadata.get("timesteps")
        from snn2hw.util.limits import MAX_TIMESTEPS
        if T is not None and not (isinstance(T, int) and not isinstance(T, bool) and 0 < T <= MAX_TIMESTEPS):
            problems.append(f"metadata 'timesteps' is {T!r}, expected a positive integer up to {MAX_TIMESTEPS}")
        step = self.metadata.get("input_step")
        if step is not None and not (isinstance(step, (int, float)) and not isinstance(step, bool)
                                     and math.isfinite(step) and step > 0):
            problems.append(f"metadata 'input_step' is {step!r}, expected a positive finite number")
        return problems

    # ---------------------------------------------------------------- summaries
    def num_params(self) -> int:
        n = 0
        for node in self.nodes.values():
            if isinstance(node, N.SYNAPSES):
                w = node.weight if node.mask is None else node.weight[node.mask]
                n += int(np.size(w)) + (0 if node.bias is None else int(node.bias.size))
        return n

    def __repr__(self):
        return f"Graph({len(self.nodes)} nodes, {len(self.edges)} edges)"
