"""LowerAvgPoolPass: ``AvgPool2d = SumPool2d / (kH kW)``, the divisor folded into a synapse (exact).

Average pooling with padding counted (torch's default) is a sum pool scaled
by ``1/(kH kW)``. The scale moves:

* rule 1, downstream: when everything the pool feeds is reached through
  Flatten/pools by synapses only, those synapses' weights are scaled;
* rule 2, upstream: when the pool is fed by a synapse used only by it
  (pooling currents), that synapse's weights and bias are scaled.

Otherwise the pool is kept and the refusal says why.
"""
from __future__ import annotations

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import synapses_from
from snn2hw.passes.base import Pass, PassResult


class LowerAvgPoolPass(Pass):
    name = "lower_avgpool"

    def call(self, graph: Graph, result: PassResult) -> None:
        for name in [n for n in graph.topological_order() if isinstance(graph.nodes[n], N.AvgPool2d)]:
            pool = graph.nodes[name]
            k = pool.kernel_size[0] * pool.kernel_size[1]
            consumers, other = synapses_from(graph, name)
            (pred,) = graph.predecessors(name)
            pnode = graph.nodes[pred]
            if consumers and not other:
                targets, where = consumers, f"consumer synapse(s) {consumers}"
                scale_bias = False
            elif isinstance(pnode, N.SYNAPSES) and len(graph.successors(pred)) == 1:
                targets, where = [pred], f"producer synapse '{pred}'"
                scale_bias = True
            else:
                result.refusals.append(f"AvgPool2d '{name}' kept: its output reaches {other} without a synapse "
                                       f"and it is not fed by a synapse used only by it")
                continue
            for t in targets:
                syn = graph.nodes[t]
                syn.weight = syn.weight / k
                if scale_bias and syn.bias is not None:
                    syn.bias = syn.bias / k
                syn.weight_int = None
            graph.nodes[name] = N.SumPool2d(kernel_size=pool.kernel_size, stride=pool.stride, padding=pool.padding,
                                            metadata=dict(pool.metadata))
            result.changes.append(f"AvgPool2d '{name}' -> SumPool2d, 1/{k} folded into {where}")
