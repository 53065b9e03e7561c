"""Pass contract (after onnx-ir's pass infrastructure): a pass maps Graph -> Graph
and says what it changed, what it refused and why, and where it approximated.

Passes are functional: ``run`` never mutates its input graph; it works on a
copy and returns it in the :class:`PassResult`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from snn2hw.errors import GraphError, PassError
from snn2hw.ir.graph import Graph


@dataclass
class PassResult:
    """``changes``: what was rewritten. ``refusals``: what the pass declined, with the reason.
    ``approximations``: rewrites that are not exact, with the size of the error."""

    name: str
    graph: Graph
    changes: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    approximations: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def modified(self) -> bool:
        return bool(self.changes)

    def summary(self) -> str:
        lines = [f"{self.name}: {len(self.changes)} change(s), {len(self.refusals)} refusal(s), "
                 f"{len(self.approximations)} approximation(s)"]
        lines += [f"  changed: {c}" for c in self.changes]
        lines += [f"  refused: {r}" for r in self.refusals]
        lines += [f"  approx:  {a}" for a in self.approximations]
        return "\n".join(lines)


class Pass:
    """Base: subclasses set ``name`` and implement ``call(graph, result)`` on a private copy."""

    name = "pass"

    def requires(self, graph: Graph) -> list:
        """Preconditions; return the list of problems (all of them)."""
        return []

    def call(self, graph: Graph, result: PassResult) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, graph: Graph) -> PassResult:
        problems = self.requires(graph)
        if problems:
            raise PassError(f"pass '{self.name}' cannot run:\n" + "\n".join(f"  - {p}" for p in problems))
        g = graph.copy()
        result = PassResult(self.name, g)
        self.call(g, result)
        try:
            g.validate()
        except GraphError as e:  # a bug in the pass, not a user error
            raise RuntimeError(f"pass '{self.name}' produced an invalid graph: {e}") from None
        return result

    __call__ = run


def run_passes(graph: Graph, passes) -> tuple:
    """Run passes in order; return ``(graph, [PassResult, ...])``."""
    results = []
    for p in passes:
        r = p.run(graph)
        results.append(r)
        graph = r.graph
    return graph, results
