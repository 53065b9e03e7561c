"""FoldThresholdsPass: move neuron gains and channel scales into weights and thresholds (exact).

Rules (ALGORITHMS.md §1.8 and §3.6; each exact in real arithmetic):

1. **Output scale** (AT-LIF's current-based output ``o = theta * s``): every
   consumer synapse reached through pools/Flatten gets ``W' = theta * W``; the
   neuron then emits binary spikes (an AT-LIF with tau = 1 becomes IF, else LIF).
2. **Input gain** (SpikingJelly-style ``decay_input``, ``v = beta v + (1-beta) I``):
   every synapse feeding the neuron gets ``W' = g W``, ``b' = g b``.
3. **Channel scale** kappa (ReScaW: ``W^_f = kappa_f w_f``) of a synapse feeding a
   spiking neuron: the neuron's state is divided by ``|kappa_f|``: its threshold
   becomes ``theta / |kappa_f|``, every synapse into it gets ``W'_f = W_f / |kappa_f|``
   and ``b'_f = b_f / |kappa_f|``, and the kappa-carrying synapse keeps the
   sign only, so a negative kappa negates that row (the grid is symmetric). Reset
   to zero or by subtraction and linear leaks are scale invariant, so spikes
   are unchanged. A readout neuron's membrane is the output, so there kappa is
   multiplied into the weights instead.
4. Optional ``unit_threshold``: divide each spiking neuron's incoming weights,
   biases and threshold by its threshold (threshold 1; §1.8 step 3).

Rules 2-4 rescale the synapses feeding a neuron, so they apply only where each
of those synapses drives that neuron alone (a synapse whose current also
reaches another neuron is shared: rule 3 then keeps kappa in the weights, rules
2 and 4 are refused).

Refusals name the neuron and the reason (e.g. a spike path that reaches an
Add without a synapse: run InsertIdentitySynapsesPass first).
"""
from __future__ import annotations

import numpy as np

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import population_of, synapses_from, synapses_into
from snn2hw.passes.base import Pass, PassResult


def _rows(syn, factor: np.ndarray, bias: bool = True):
    """Multiply output rows of a synapse by ``factor`` (per output channel or scalar)."""
    f = np.broadcast_to(np.asarray(factor, dtype=np.float64), (syn.weight.shape[0],))
    syn.weight = syn.weight * f.reshape((-1,) + (1,) * (syn.weight.ndim - 1))
    if bias and syn.bias is not None:
        syn.bias = syn.bias * f
    syn.weight_int = None


def _shared(graph: Graph, syns: list, name: str) -> list:
    """The synapses among ``syns`` whose current does not drive neuron ``name`` alone."""
    return [s for s in syns if population_of(graph, s) != name]


class FoldThresholdsPass(Pass):
    name = "fold_thresholds"

    def __init__(self, unit_threshold: bool = False, channel_scales: str = "threshold"):
        """``channel_scales``: ``"threshold"`` (rule 3, exact codes, per-channel thresholds) or
        ``"weights"`` (kappa multiplied into the weights: one threshold per layer, for chips whose
        neuron groups share one threshold; the codes are then re-quantized)."""
        if channel_scales not in ("threshold", "weights"):
            raise ValueError(f"channel_scales must be 'threshold' or 'weights', got {channel_scales!r}")
        self.unit_threshold = unit_threshold
        self.channel_scales = channel_scales

    def requires(self, graph: Graph) -> list:
        bn = graph.of_type(N.BatchNorm)
        return [f"BatchNorm '{b}' must be folded first (fold_batchnorm)" for b in bn]

    def call(self, graph: Graph, result: PassResult) -> None:
        for name in graph.topological_order():
            node = graph.nodes[name]
            if isinstance(node, N.Neuron):
                self._output_scale(graph, name, node, result)
                self._input_gain(graph, name, node, result)
        for name in graph.topological_order():
            node = graph.nodes[name]
            if isinstance(node, N.Neuron):
                self._channel_scale(graph, name, node, result)
                if self.unit_threshold and not node.readout:
                    self._unit(graph, name, node, result)

    def _output_scale(self, graph, name, node, result):
        theta = node.output_scale
        if theta == 1.0:
            return
        consumers, other = synapses_from(graph, name)
        if other:
            result.refusals.append(f"neuron '{name}': output scale {theta:g} kept, its output reaches {other} "
                                   f"without a synapse")
            return
        for c in consumers:
            syn = graph.nodes[c]
            syn.weight = syn.weight * theta
            syn.weight_int = None
        node.output_scale = 1.0
        if node.model == "atlif":
            node.model = "if" if node.beta == 1.0 else "lif"
        result.changes.append(f"neuron '{name}': output scale {theta:g} folded into {consumers}")

    def _input_gain(self, graph, name, node, result):
        g = node.input_gain
        if g == 1.0:
            return
        syns, bare = synapses_into(graph, name)
        if bare:
            result.refusals.append(f"neuron '{name}': input gain {g:g} kept, spikes of {bare} reach it without "
                                   f"a synapse (run insert_identity_synapses)")
            return
        shared = _shared(graph, syns, name)
        if shared:
            result.refusals.append(f"neuron '{name}': input gain {g:g} kept, synapse(s) {shared} also drive "
                                   f"other neurons")
            return
        for s in syns:
            _rows(graph.nodes[s], g)
        node.input_gain = 1.0
        result.changes.append(f"neuron '{name}': input gain {g:g} folded into {syns}")

    def _channel_scale(self, graph, name, node, result):
        syns, bare = synapses_into(graph, name)
        scaled = [s for s in syns if graph.nodes[s].channel_scale is not None]
        if not scaled:
            return
        shared = _shared(graph, syns, name)
        per_layer = self.channel_scales == "weights"
        if per_layer or node.readout or bare or shared or node.input_gain != 1.0 or node.model == "cuba":
            why = ("the target keeps one threshold per layer (per-layer granularity)" if per_layer else
                   "it is a readout (its membrane is the output)" if node.readout else
                   "a spike path reaches it without a synapse" if bare else
                   f"synapse(s) {shared} also drive other neurons" if shared else
                   "its input gain is not folded" if node.input_gain != 1.0 else
                   "CUBA's current state would need the same scaling")
            for s in scaled:
                syn = graph.nodes[s]
                _rows(syn, syn.channel_scale, bias=False)
                syn.channel_scale = None
            (result.changes if per_layer else result.refusals).append(
                f"neuron '{name}': channel scales of {scaled} multiplied into the weights, not into the "
                f"threshold, because {why}")
            return
        lead = graph.nodes[scaled[0]]
        kappa = lead.channel_scale
        if np.any(kappa == 0):
            result.refusals.append(f"neuron '{name}': channel scale of '{scaled[0]}' has zeros; kept in weights")
            _rows(lead, kappa, bias=False)
            lead.channel_scale = None
            return
        mag = np.abs(kappa)
        for s in syns:
            syn = graph.nodes[s]
            if s == scaled[0]:
                _rows(syn, np.sign(kappa), bias=False)
                if syn.bias is not None:
                    syn.bias = syn.bias / mag
                syn.channel_scale = None
            else:
                if syn.channel_scale is not None:
                    _rows(syn, syn.channel_scale, bias=False)
                    syn.channel_scale = None
                _rows(syn, 1.0 / mag)
        th = node.threshold_array(len(kappa))
        node.threshold = th / mag
        result.changes.append(f"neuron '{name}': channel scale of '{scaled[0]}' folded into its threshold "
                              f"({int(np.sum(kappa < 0))} negative channel(s) negated)")

    def _unit(self, graph, name, node, result):
        th = np.asarray(node.threshold, dtype=np.float64)
        if np.all(th == 1.0):
            return
        syns, bare = synapses_into(graph, name)
        if bare:
            result.refusals.append(f"neuron '{name}': threshold not normalised, spikes reach it without a synapse")
            return
        shared = _shared(graph, syns, name)
        if shared:
            result.refusals.append(f"neuron '{name}': threshold not normalised, synapse(s) {shared} also drive "
                                   f"other neurons")
            return
        for s in syns:
            _rows(graph.nodes[s], 1.0 / th)
        node.threshold = 1.0 if th.ndim == 0 else np.ones_like(th)
        result.changes.append(f"neuron '{name}': threshold normalised to 1")
