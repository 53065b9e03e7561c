"""FoldBatchNormPass: fold inference BatchNorm into neighbouring synapses (exact).

With ``y = a * x + c`` per channel (``a = gamma / sqrt(var + eps)``,
``c = beta - a * mean``):

* rule 1, BN after a synapse used only by it: ``W' = a W`` (row scale), ``b' = a b + c``; a
  synapse with a channel scale (ReScaW codes) gets ``kappa' = a kappa`` instead, its codes unchanged;
* rule 2, BN after an unpadded pool of such a synapse: the pool commutes with
  the per-channel affine (AvgPool: same ``c``; SumPool: ``c / (kH kW)``), then rule 1;
* rule 3, BN after an Add whose inputs are all such synapses: rule 1 on every
  branch, ``c`` added to the first branch's bias only;
* rule 4, BN on spikes (after a population) whose consumers are all Dense or
  unpadded Conv2d synapses: ``W' = W diag(a)`` over input channels,
  ``b' = b + W_eff c`` (summed over the kernel), ``W_eff`` the weight as applied
  (mask and channel scale included).

Anything else is refused with the reason; the BN node then stays in the graph
(the float simulator runs it; quantization refuses it).
"""
from __future__ import annotations

import numpy as np

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.passes.base import Pass, PassResult


def _row_scale(syn, a, c):
    if syn.channel_scale is not None:
        # ReScaW layers keep their integer codes: the BN scale joins the per-channel scale kappa
        # (ALGORITHMS.md §3.6: kappa_f = a_f * gamma_f / s), so the codes survive quantization exactly
        syn.channel_scale = syn.channel_scale * a
    else:
        shape = (-1,) + (1,) * (syn.weight.ndim - 1)
        syn.weight = syn.weight * a.reshape(shape)
    bias = syn.bias if syn.bias is not None else np.zeros(syn.weight.shape[0])
    syn.bias = a * bias + c
    if syn.weight_int is not None:
        syn.weight_int = None  # float weights changed: integer weights are stale


def _sole_synapse(graph: Graph, name: str):
    node = graph.nodes.get(name)
    if isinstance(node, N.SYNAPSES) and len(graph.successors(name)) == 1:
        return node
    return None


class FoldBatchNormPass(Pass):
    name = "fold_batchnorm"

    def call(self, graph: Graph, result: PassResult) -> None:
        for bn_name in [n for n in graph.topological_order() if isinstance(graph.nodes[n], N.BatchNorm)]:
            bn = graph.nodes[bn_name]
            a, c = bn.scale_shift()
            (pred,) = graph.predecessors(bn_name)
            pnode = graph.nodes[pred]
            reason = self._fold(graph, bn_name, pred, pnode, a, c)
            if reason is None:
                graph.remove(bn_name)
                result.changes.append(f"folded BatchNorm '{bn_name}' into {self._where}")
            else:
                result.refusals.append(f"BatchNorm '{bn_name}' kept: {reason}")

    def _fold(self, graph, bn_name, pred, pnode, a, c):
        syn = _sole_synapse(graph, pred)
        if syn is not None:
            _row_scale(syn, a, c)
            self._where = f"synapse '{pred}' (rule 1)"
            return None
        if isinstance(pnode, (N.SumPool2d, N.AvgPool2d)) and len(graph.successors(pred)) == 1:
            if any(pnode.padding):
                return f"pool '{pred}' is padded, so the shift does not commute with it"
            (pp,) = graph.predecessors(pred)
            syn = _sole_synapse(graph, pp)
            if syn is None:
                return f"pool '{pred}' is not fed by a synapse used only by it"
            k = pnode.kernel_size[0] * pnode.kernel_size[1]
            _row_scale(syn, a, c if isinstance(pnode, N.AvgPool2d) else c / k)
            self._where = f"synapse '{pp}' through pool '{pred}' (rule 2)"
            return None
        if isinstance(pnode, N.Add) and len(graph.successors(pred)) == 1:
            branches = graph.predecessors(pred)
            syns = [_sole_synapse(graph, b) for b in branches]
            if any(s is None for s in syns):
                bad = [b for b, s in zip(branches, syns) if s is None]
                return f"Add '{pred}' has inputs that are not synapses used only by it: {bad}"
            for i, s in enumerate(syns):
                _row_scale(s, a, c if i == 0 else np.zeros_like(c))
            self._where = f"the {len(syns)} synapses into Add '{pred}' (rule 3)"
            return None
        return self._fold_forward(graph, bn_name, a, c)

    def _fold_forward(self, graph, bn_name, a, c):
        consumers = graph.successors(bn_name)
        for s in consumers:
            node = graph.nodes[s]
            if isinstance(node, N.Conv2d) and any(node.padding) and np.any(c != 0):
                return f"consumer conv '{s}' is zero-padded, so the shift would differ at the borders"
            if not isinstance(node, N.SYNAPSES):
                return (f"it is neither after a synapse (or an unpadded pool / Add of synapses) nor "
                        f"before synapses only (consumer '{s}' is {type(node).__name__})")
        for s in consumers:
            node = graph.nodes[s]
            w = node.weight
            we = node.effective_weight()  # the shift meets the weights as applied (mask, channel scale)
            if isinstance(node, N.Dense):
                add = we @ c
                node.weight = w * a[None, :]
            else:
                g = node.groups
                cin_g = w.shape[1]
                ac = a.reshape(g, cin_g)
                cc = c.reshape(g, cin_g)
                fo = w.shape[0] // g
                grp = np.repeat(np.arange(g), fo)
                node.weight = w * ac[grp][:, :, None, None]
                add = (we.sum(axis=(2, 3)) * cc[grp]).sum(1)
            node.bias = (node.bias if node.bias is not None else np.zeros(w.shape[0])) + add
            node.weight_int = None
        self._where = f"consumer synapse(s) {consumers} (rule 4)"
        return None
