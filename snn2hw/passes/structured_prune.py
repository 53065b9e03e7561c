"""StructuredPrunePass: remove whole channels (filters) from a graph, physically (QP-SNN §3.4).

``StructuredPrunePass(scores, ratio, protect=(), seed=0)``

* ``scores``: ``{neuron_layer: scores[C]}`` (e.g. from :func:`snn2hw.passes.svs.svs_scores`,
  or criticality scores), or a ranking name: ``'l1'`` (L1 norm of each producing filter,
  weights as applied: mask and channel scale included; fixed zero-pad shortcut and
  identity synapses are not counted), ``'bn'`` (|gamma| of the
  BatchNorm after the filter, network slimming), ``'random'`` (seeded by ``seed``).
* ``ratio``: a float ``r`` in [0, 1) applied to every prunable layer, or
  ``{layer: r}`` (layer = a neuron or producing synapse name; unnamed layers keep all).
* ``protect``: layer names never pruned (QP-SNN keeps VGG's last conv and the
  ResNet stage-3 outputs, to protect the classifier).

Channel groups. Channels are coupled wherever a node keeps the channel axis
(BatchNorm, pools, neurons, depthwise identity synapses) and across residual
``Add`` nodes: every synapse and spike path into one Add shares its channel
indices, so a group is pruned with one common keep-set, scored by the **sum** of
its members' scores (all neurons of the group for explicit scores; all producing
filters for 'l1'; all BatchNorms for 'bn'). A group is not prunable when it
reaches the graph input, the Output, a readout neuron, or a grouped
(non-depthwise) convolution, or when a Flatten's output reaches anything but
synapses; naming such a layer is refused with the reason.

Selection: per group of ``n`` channels keep ``int(n·(1-r))`` with the highest score,
ties broken stably (lower index first); kept channels stay in their order.

Removal (the graph gets smaller, nothing is masked): the producing synapses'
output rows (weight, bias, channel_scale, mask, weight_int), the BatchNorm
entries, the neurons' per-channel threshold / vth / bias_mant entries, depthwise
synapses' rows (``groups`` shrinks), and every consuming synapse's input channels
(through pools; after a Flatten, the matching ``H·W`` blocks of columns).

Errors (``PassError``/``ValueError``): a ratio outside [0, 1), a layer that would
keep no channel, unknown layer names, scores of the wrong length, an unknown
ranking. ``PassResult.stats``: ``removed``/``kept`` channel indices per layer,
``channels`` before/after, ``params_before``/``params_after`` (synapse weights and
biases, as ``Graph.num_params``) and ``bn_params_before``/``bn_params_after``.
"""
from __future__ import annotations

from typing import Iterable, Union

import numpy as np

from snn2hw.errors import PassError
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.passes.base import Pass, PassResult

RANKINGS = ("l1", "bn", "random")
_KEEP_AXIS = (N.BatchNorm, N.SumPool2d, N.AvgPool2d, N.Neuron, N.Add, N.Output)


def _is_depthwise(node) -> bool:
    return (isinstance(node, N.Conv2d) and node.groups > 1 and node.weight.shape[1] == 1
            and node.groups == node.weight.shape[0])


def bn_param_count(graph: Graph) -> int:
    return sum(2 * int(n.gamma.size) for n in graph.nodes.values() if isinstance(n, N.BatchNorm))


class _UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, a):
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


class ChannelGroups:
    """The coupled channel spaces of a graph (see the module docstring).

    ``groups``: root -> dict(members, neurons, producers, depthwise, bns, consumers [(syn, hw)],
    fixed [reasons], channels, name).
    """

    def __init__(self, graph: Graph):
        graph.infer_shapes()
        self.graph = graph
        order = graph.topological_order()
        uf = _UnionFind()
        fixed = {}  # node -> reasons (resolved to roots below)
        flat3d = {}  # flatten node -> (its 3-D predecessor, H*W)

        def fix(node, why):
            fixed.setdefault(node, []).append(why)

        for name in order:
            node = graph.nodes[name]
            preds = graph.predecessors(name)
            uf.find(name)
            if isinstance(node, N.Input):
                fix(name, "its channels are the graph input")
            elif isinstance(node, N.SYNAPSES):
                if _is_depthwise(node):
                    uf.union(preds[0], name)
                elif isinstance(node, N.Conv2d) and node.groups > 1:
                    fix(name, f"grouped conv '{name}' couples channels across groups")
                    fix(preds[0], f"grouped conv '{name}' couples channels across groups")
            elif isinstance(node, N.Flatten):
                shp = graph.nodes[preds[0]].output_shape
                if shp is not None and len(shp) == 3:
                    flat3d[name] = (preds[0], int(shp[1] * shp[2]))
                else:
                    uf.union(preds[0], name)
            elif isinstance(node, _KEEP_AXIS):
                for p in preds:
                    uf.union(p, name)
                if isinstance(node, N.Neuron) and node.readout:
                    fix(name, f"'{name}' is the readout (its channels are the classes)")
                if isinstance(node, N.Output):
                    fix(name, "it feeds the graph Output")
        # a flattened space is derived from its base channels; it may only feed synapses
        derived = {}
        for f, (base, hw) in flat3d.items():
            derived[uf.find(f)] = (uf.find(base), hw)
        groups = {}
        for name in order:
            r = uf.find(name)
            if r in derived:
                continue
            g = groups.setdefault(r, {"members": [], "neurons": [], "producers": [], "depthwise": [], "bns": [],
                                      "consumers": [], "fixed": [], "channels": None})
            g["members"].append(name)
            node = graph.nodes[name]
            if isinstance(node, N.Neuron):
                g["neurons"].append(name)
            elif isinstance(node, N.BatchNorm):
                g["bns"].append(name)
            elif isinstance(node, N.SYNAPSES):
                (g["depthwise"] if _is_depthwise(node) else g["producers"]).append(name)
            if g["channels"] is None and node.output_shape:
                g["channels"] = int(node.output_shape[0])
        for r, (base, hw) in derived.items():
            members = [n for n in order if uf.find(n) == r]
            other = [n for n in members if not isinstance(graph.nodes[n], N.Flatten)]
            if other:
                groups[base]["fixed"].append(f"its flattened output reaches {other} without a synapse")
        for n, why in fixed.items():
            r = uf.find(n)
            r = derived[r][0] if r in derived else r
            groups[r]["fixed"] += why
        for name in order:
            node = graph.nodes[name]
            if isinstance(node, N.SYNAPSES) and not _is_depthwise(node):
                (p,) = graph.predecessors(name)
                r = uf.find(p)
                base, hw = derived.get(r, (r, 1))
                groups[base]["consumers"].append((name, hw))
        for g in groups.values():
            g["name"] = g["neurons"][0] if g["neurons"] else (g["producers"] or g["members"])[0]
        self.uf, self.groups, self.derived = uf, groups, derived

    def root_of(self, name: str):
        r = self.uf.find(name)
        return self.derived[r][0] if r in self.derived else r

    def prunable(self, root) -> bool:
        g = self.groups[root]
        return not g["fixed"] and bool(g["producers"]) and any(
            not self.graph.nodes[n].readout for n in g["neurons"])

    def why_not(self, root) -> str:
        g = self.groups[root]
        if g["fixed"]:
            return "; ".join(dict.fromkeys(g["fixed"]))
        if not g["producers"]:
            return "no synapse produces its channels"
        return "it has no spiking neuron"


def _take(arr, idx, axis):
    return None if arr is None else np.take(arr, idx, axis=axis)


class StructuredPrunePass(Pass):
    name = "structured_prune"

    def __init__(self, scores: Union[str, dict], ratio: Union[float, dict], protect: Iterable = (), seed: int = 0):
        if isinstance(scores, str):
            if scores not in RANKINGS:
                raise ValueError(f"unknown ranking {scores!r}; give one of {list(RANKINGS)} or a dict of scores")
        elif not isinstance(scores, dict):
            raise ValueError("scores must be a ranking name or a dict {neuron_layer: scores[C]}")
        ratios = ratio.values() if isinstance(ratio, dict) else [ratio]
        for r in ratios:
            if not (isinstance(r, (int, float, np.floating, np.integer)) and 0.0 <= float(r) < 1.0):
                raise ValueError(f"pruning ratio must be a number in [0, 1), got {r!r}")
        self.scores = scores if isinstance(scores, str) else {k: np.asarray(v, dtype=np.float64).reshape(-1)
                                                              for k, v in scores.items()}
        self.ratio = {k: float(v) for k, v in ratio.items()} if isinstance(ratio, dict) else float(ratio)
        self.protect = list(protect)
        self.seed = int(seed)

    # ---------------------------------------------------------------- planning
    def requires(self, graph: Graph) -> list:
        p = []
        names = set(graph.nodes)
        keys = list(self.protect) + (list(self.ratio) if isinstance(self.ratio, dict) else [])
        for k in keys:
            if k not in names:
                p.append(f"layer '{k}' (in ratio/protect) is not a node of the graph")
        if isinstance(self.scores, dict):
            for k in self.scores:
                if k not in names:
                    p.append(f"scores name '{k}', which is not a node of the graph")
                elif not isinstance(graph.nodes[k], N.Neuron):
                    p.append(f"scores must be keyed by neuron layers; '{k}' is a {type(graph.nodes[k]).__name__}")
        return p

    def _group_scores(self, cg: ChannelGroups, root, rng) -> tuple:
        g = cg.groups[root]
        n = g["channels"]
        graph = cg.graph
        if isinstance(self.scores, dict):
            have = [k for k in g["neurons"] if k in self.scores]
            if not have:
                return None, f"no scores for its neuron(s) {g['neurons']}"
            total = np.zeros(n)
            for k in have:
                s = self.scores[k]
                if s.shape != (n,):
                    raise PassError(f"scores of '{k}' have {s.size} entries, the layer has {n} channels")
                total = total + s
            return total, None
        if self.scores == "l1":  # learned filters only: fixed (zero-pad shortcut) / identity synapses carry no rank
            learned = [s for s in g["producers"] if not (graph.nodes[s].metadata.get("fixed")
                                                         or graph.nodes[s].metadata.get("identity"))]
            return sum(np.abs(graph.nodes[s].effective_weight()).reshape(n, -1).sum(1)
                       for s in learned or g["producers"]), None
        if self.scores == "bn":
            if not g["bns"]:
                return None, "no BatchNorm to rank by (ranking 'bn')"
            return sum(np.abs(graph.nodes[b].gamma) for b in g["bns"]), None
        return rng.permutation(n).astype(np.float64), None

    def _ratio_of(self, cg: ChannelGroups, root) -> float:
        if not isinstance(self.ratio, dict):
            return self.ratio
        named = {k: v for k, v in self.ratio.items() if cg.root_of(k) == root}
        vals = set(named.values())
        if len(vals) > 1:
            raise PassError(f"layers {sorted(named)} share channels (coupled through a residual Add or a channel-"
                            f"preserving node) but were given different ratios {sorted(vals)}")
        return vals.pop() if vals else 0.0

    # ---------------------------------------------------------------- pass
    def call(self, graph: Graph, result: PassResult) -> None:
        cg = ChannelGroups(graph)
        rng = np.random.default_rng(self.seed)
        protected = {cg.root_of(p) for p in self.protect}
        explicit = set()
        if isinstance(self.ratio, dict):
            explicit = {cg.root_of(k) for k, v in self.ratio.items() if v > 0}
        plans = []
        for root, g in cg.groups.items():
            if not cg.prunable(root):
                if root in explicit:
                    result.refusals.append(f"layer '{g['name']}' not pruned: {cg.why_not(root)}")
                elif (not isinstance(self.ratio, dict) and self.ratio > 0 and g["neurons"]
                      and not all(graph.nodes[n].readout for n in g["neurons"])):
                    result.refusals.append(f"layer '{g['name']}' not prunable: {cg.why_not(root)}")
                continue
            r = self._ratio_of(cg, root)
            if root in protected:
                result.stats.setdefault("protected", []).append(g["name"])
                continue
            if r == 0.0:
                continue
            n = g["channels"]
            keep_n = int(n * (1.0 - r))
            if keep_n < 1:
                raise PassError(f"layer '{g['name']}' ({n} channels) would lose all its channels at ratio {r:g}")
            scores, why = self._group_scores(cg, root, rng)
            if scores is None:
                result.refusals.append(f"layer '{g['name']}' not pruned: {why}")
                continue
            if keep_n == n:
                continue
            order = np.argsort(-scores, kind="stable")
            keep = np.sort(order[:keep_n])
            plans.append((root, g, n, keep))
        params0, bn0 = graph.num_params(), bn_param_count(graph)
        stats = result.stats
        stats.update({"removed": {}, "kept": {}, "channels": {}})
        for root, g, n, keep in plans:
            self._apply(graph, g, keep)
            removed = np.setdiff1d(np.arange(n), keep)
            stats["removed"][g["name"]] = [int(i) for i in removed]
            stats["kept"][g["name"]] = [int(i) for i in keep]
            stats["channels"][g["name"]] = (n, int(keep.size))
            cons = [c for c, _ in g["consumers"]]
            result.changes.append(f"layer '{g['name']}': removed {removed.size} of {n} channels "
                                  f"{[int(i) for i in removed]} (producers {g['producers']}, neurons {g['neurons']}, "
                                  f"consumers {cons})")
        graph.infer_shapes()
        stats.update({"params_before": params0, "params_after": graph.num_params(),
                      "bn_params_before": bn0, "bn_params_after": bn_param_count(graph)})
        if plans:
            result.changes.append(f"parameters {params0} -> {stats['params_after']} "
                                  f"(BatchNorm {bn0} -> {stats['bn_params_after']})")

    @staticmethod
    def _apply(graph: Graph, g: dict, keep: np.ndarray) -> None:
        n = g["channels"]
        for s in g["producers"] + g["depthwise"]:
            syn = graph.nodes[s]
            for attr in ("weight", "bias", "channel_scale", "mask", "weight_int"):
                setattr(syn, attr, _take(getattr(syn, attr), keep, 0))
            if s in g["depthwise"]:
                syn.groups = int(keep.size)
        for b in g["bns"]:
            bn = graph.nodes[b]
            for attr in ("gamma", "beta", "mean", "var"):
                setattr(bn, attr, np.take(getattr(bn, attr), keep))
        for name in g["neurons"]:
            node = graph.nodes[name]
            th = np.asarray(node.threshold)
            if th.ndim == 1 and th.size == n:
                node.threshold = th[keep]
            for attr in ("vth", "bias_mant"):
                v = getattr(node, attr)
                if v is not None and np.ndim(v) == 1 and np.size(v) == n:
                    setattr(node, attr, v[keep])
        for s, hw in g["consumers"]:
            syn = graph.nodes[s]
            idx = keep if hw == 1 else (keep[:, None] * hw + np.arange(hw)[None, :]).reshape(-1)
            for attr in ("weight", "mask", "weight_int"):
                setattr(syn, attr, _take(getattr(syn, attr), idx, 1))


__all__ = ["StructuredPrunePass", "ChannelGroups", "RANKINGS", "bn_param_count"]
