"""QuantizePass: bind a folded float graph to a profile's integer formats.

For every neuron, all synapses whose currents it sums share one scale (per
layer, or per output channel): float weight ``W ~= Delta * W_int`` with
``W_int`` signed ``weight_bits`` wide. ``Delta`` is searched over
``max|W| * c / qmax`` (c in [0.5, 1]) plus exact power-of-two grids, keeping the
one with the least squared weight error (per channel, the per-layer scale is a
candidate too, so per-channel error is never above per-layer); clipped weights
are counted and reported, never silent. A per-layer exponent ``e >= 0``
(``a = (W_int x) << e``) refines the neuron's unit to ``delta = Delta / 2^e``;
``e`` is the largest that keeps the threshold mantissa and bias in range and,
where it can be proven, keeps ``|a << 6|`` below the 24-bit state. A readout
neuron's classes are compared with each other, so they always share one scale,
and it keeps ``e = 0``: its membrane integrates over the whole run and needs
the full 24-bit range.

For lava-dl netx (``netx=True``, what ``snn2hw export --format lava`` uses): netx
reads a dense layer's weights as integers and re-derives their exponent itself
(``optimize_weight_bits``), so the file holds ``W_int << e``, and that is exact in
netx only inside its range (mixed signs [-256, 254], all >= 0 [0, 255], see
``snn2hw.ir.netx``). ``e`` is then also capped at the largest value whose
``W_int << e`` netx passes through unchanged for every dense synapse of the
neuron (with 8-bit mantissas ``|W_int| <= 127``, ``e <= 1`` unless the layer's
weights are small); the threshold and bias unit is coarser by the same factor.
Conv weights are passed to Lava as they are and need no cap.

Neuron mapping onto Lava's CUBA (LAVA.md §1): ``du = 4095 - round(4096 alpha)``
(0 current memory for LIF/IF: ``du = 4095``), ``dv = round(4096 (1 - beta))``;
the float test ``v >= theta`` on integer ``v`` becomes ``v > ceil(theta/delta) - 1``
(``v > theta`` becomes ``v > floor(theta/delta)``); ``bias_mant = round(b / delta)``
at ``bias_exp = 6``, where ``b`` counts a synapse's bias once per element of
every sum pool between it and the neuron (a padded pool gives border neurons
fewer: reported). The first layer's inputs are integers
``x_int = round(x / step)``, so its float weights are ``W * step``. A readout
neuron gets ``vth = 2^(mant bits)`` and never fires (its ``v`` is at most
``2^23 - 1``). Exact for IF neurons on lattice inputs up to weight rounding;
leaky neurons also truncate their decay at 1/64 of a unit (reported).
"""
from __future__ import annotations

import math

import numpy as np

from snn2hw.hw_profiles import load_profile
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.netx import netx_dense_verdict
from snn2hw.ir.topology import chain_up, population_of, source_of, sum_pools_between, synapses_into
from snn2hw.errors import PassError
from snn2hw.passes.base import Pass, PassResult

#: fraction of max|W| tried as the clipping point of the scale search
CLIP_FRACTIONS = np.linspace(0.5, 1.0, 26)


def _near_int(x: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    r = np.round(x)
    return np.where(np.abs(x - r) <= tol * np.maximum(1.0, np.abs(x)), r, x)


def search_scale(w_rows: np.ndarray, qmax: int, extra=()) -> tuple:
    """Best scale for a 2-D array ``(rows, k)`` of weights sharing it: ``(Delta, sq_error, clipped)``.

    ``extra``: further candidate scales (e.g. the per-layer scale when searching one channel)."""
    m = float(np.max(np.abs(w_rows))) if w_rows.size else 0.0
    if m == 0.0:
        return 1.0, 0.0, 0
    cands = list(m * CLIP_FRACTIONS / qmax) + [float(d) for d in extra if d > 0]
    # exact power-of-two grids (weights that are already integers times 2^-j, e.g. ReScaW codes)
    for j in range(-8, 24):
        d = 2.0 ** (-j)
        q = w_rows / d
        if np.max(np.abs(q)) <= qmax and np.all(np.abs(q - np.round(q)) < 1e-9):
            cands.append(d)
            break
    best = None
    for d in cands:
        q = np.clip(np.round(w_rows / d), -qmax, qmax)
        err = float(np.sum((w_rows - d * q) ** 2))
        if best is None or err < best[1] - 1e-18 or (abs(err - best[1]) <= 1e-18 and d > best[0]):
            best = (d, err, int(np.sum(np.abs(w_rows / d) > qmax + 0.5)))
    return best


class QuantizePass(Pass):
    """``QuantizePass(profile, granularity=None, calibration=None, netx=False)``.

    ``netx``: cap each dense layer's exponent so lava-dl netx runs its weights exactly (module doc).

    ``calibration``: optional float inputs ``[T, B, ...]`` (or ``[B, ...]``) used to
    choose the input step when the Input node has none.
    """

    name = "quantize"

    def __init__(self, profile="loihi", granularity=None, calibration=None, netx: bool = False):
        self.netx = bool(netx)
        self.profile = load_profile(profile)
        self.granularity = granularity or self.profile.formats.granularity
        if self.granularity not in ("layer", "channel"):
            raise ValueError(f"granularity must be 'layer' or 'channel', got {self.granularity!r}")
        self.calibration = calibration

    # ---------------------------------------------------------------- preconditions
    def requires(self, graph: Graph) -> list:
        p = []
        for name, node in graph.nodes.items():
            if isinstance(node, (N.BatchNorm, N.AvgPool2d)):
                p.append(f"{type(node).__name__} '{name}' is not folded (run fold_batchnorm / lower_avgpool)")
            if isinstance(node, N.Neuron):
                if node.output_scale != 1.0 or node.input_gain != 1.0:
                    p.append(f"neuron '{name}' has output scale {node.output_scale:g} / input gain "
                             f"{node.input_gain:g}; run fold_thresholds")
                syns, bare = synapses_into(graph, name)
                if bare:
                    p.append(f"neuron '{name}' receives spikes of {bare} without a synapse "
                             f"(run insert_identity_synapses)")
                if not syns:
                    p.append(f"neuron '{name}' has no input synapse")
                sem = self.profile.semantics
                if not node.readout and node.reset != sem.reset:
                    src = node.metadata.get("source")
                    p.append(f"neuron '{name}'{f' ({src})' if src else ''} resets by '{node.reset}' but profile "
                             f"'{self.profile.name}' resets to '{sem.reset}'; this cannot be mapped exactly, so it "
                             f"is refused (train with a reset to zero, e.g. snnTorch reset_mechanism='zero', "
                             f"SpikingJelly v_reset=0.0)")
            if isinstance(node, N.SYNAPSES) and source_of(graph, name) is None:
                p.append(f"synapse '{name}' is not fed by a single population through pools/flatten")
            if isinstance(node, N.SYNAPSES) and population_of(graph, name) is None:
                p.append(f"synapse '{name}' drives more than one neuron (its integer weights are scaled for "
                         f"one neuron): give each neuron its own synapse")
        for name in graph.inputs:
            node = graph.nodes[name]
            if node.step is None and self.calibration is None:
                p.append(f"input '{name}' has no integer step: give --input-step or --data (calibration data); "
                         f"from Python, set Input.step or pass calibration=")
        return p

    # ---------------------------------------------------------------- pass
    def call(self, graph: Graph, result: PassResult) -> None:
        fm = self.profile.formats
        graph.infer_shapes()
        for name in graph.inputs:
            self._input(graph, name, result)
        for name in graph.topological_order():
            if isinstance(graph.nodes[name], N.Neuron):
                self._neuron(graph, name, result)
        graph.metadata["quantized"] = {"profile": self.profile.name, "granularity": self.granularity,
                                       "weight_bits": fm.weight_bits}

    def _input(self, graph, name, result):
        node = graph.nodes[name]
        fm = self.profile.formats
        if node.step is None:
            x = np.asarray(self.calibration, dtype=np.float64)
            signed = bool(np.any(x < 0))
            hi = 2 ** (fm.input_bits - (1 if signed else 0)) - 1
            if hi < 1:
                raise PassError(f"input '{name}': the calibration data has negative values, but profile "
                                f"'{self.profile.name}' sends {fm.input_bits}-bit inputs, which cannot carry a sign")
            m = float(np.max(np.abs(x))) or 1.0
            node.step, node.signed = m / hi, signed
            result.changes.append(f"input '{name}': step {node.step:.6g} from calibration max {m:.6g}")
        node.bits = node.bits or fm.input_bits
        result.stats.setdefault("input", {})[name] = {"step": node.step, "bits": node.bits, "signed": node.signed}

    def _max_in(self, graph, syn_name) -> float:
        """Largest |value| entering a synapse: input range or 1 for spikes, times pool window sizes."""
        src = source_of(graph, syn_name)
        snode = graph.nodes[src]
        m = float(max(abs(v) for v in snode.int_range())) if isinstance(snode, N.Input) else 1.0
        for n in chain_up(graph, syn_name):
            node = graph.nodes[n]
            if isinstance(node, N.SumPool2d):
                m *= node.kernel_size[0] * node.kernel_size[1]
        return m

    def _neuron(self, graph, name, result):
        fm = self.profile.formats
        sem = self.profile.semantics
        node = graph.nodes[name]
        syns, _ = synapses_into(graph, name)
        qmax = 2 ** (fm.weight_bits - 1) - 1
        C = node.output_shape[0]
        # effective float weights on the integer inputs (input step folded in)
        ws = {}
        for s in syns:
            syn = graph.nodes[s]
            w = syn.effective_weight()
            src = graph.nodes[source_of(graph, s)]
            if isinstance(src, N.Input):
                w = w * src.step
            ws[s] = w
        if not all(graph.nodes[s].out_channels == C for s in syns):
            raise ValueError(f"neuron '{name}': synapse channel counts differ from its {C} channels")
        rows = np.concatenate([ws[s].reshape(C, -1) for s in syns], axis=1)
        d, err, clipped = search_scale(rows, qmax)
        if self.granularity == "layer" or node.readout:  # a readout's classes are compared: one scale
            delta = np.full(C, d)
        else:
            res = [search_scale(rows[f:f + 1], qmax, extra=(d,)) for f in range(C)]
            delta = np.array([r[0] for r in res])
            err, clipped = sum(r[1] for r in res), sum(r[2] for r in res)
        notes = []
        vth_cap = 2 ** fm.threshold_mant_bits - 1
        if not node.readout:
            # the threshold mantissa must fit even at exponent 0: a scale below theta / vth_max is raised
            # (channels with tiny weights would otherwise need a threshold beyond the mantissa)
            floor = node.threshold_array(C) * (1 + 1e-9) / vth_cap
            if self.granularity == "layer":
                floor = np.full(C, floor.max())
            low = delta < floor
            if np.any(low):
                delta = np.where(low, floor, delta)
                q = np.clip(np.round(rows / delta[:, None]), -qmax, qmax)
                err = float(np.sum((rows - delta[:, None] * q) ** 2))
                clipped = int(np.sum(np.abs(rows / delta[:, None]) > qmax + 0.5))
                notes.append(f"scale of {int(low.sum())} channel(s) raised so the threshold fits "
                             f"{fm.threshold_mant_bits} bits (their weights use fewer levels)")
        bias = np.zeros(C)
        window = {}  # elements each neuron sums of a synapse's output (sum pools between them)
        for s in syns:
            pools = sum_pools_between(graph, s, name)
            window[s] = k = int(np.prod([graph.nodes[p].kernel_size[0] * graph.nodes[p].kernel_size[1]
                                         for p in pools]))
            b = graph.nodes[s].bias
            if b is None or not np.any(b):
                continue
            padded = [p for p in pools if any(graph.nodes[p].padding)]
            if padded:
                notes.append(f"the bias of '{s}' passes the padded sum pool(s) {padded}: border neurons get fewer "
                             f"than the {k} bias terms used")
            bias = bias + k * b
        w_int = {s: np.clip(np.round(ws[s] / delta.reshape((-1,) + (1,) * (ws[s].ndim - 1))), -qmax, qmax)
                 .astype(np.int64) for s in syns}
        for s in syns:
            if graph.nodes[s].mask is not None:
                w_int[s] = w_int[s] * graph.nodes[s].mask
        # worst-case |a| per unit exponent, to prove the 24-bit u state cannot wrap
        bound0 = sum(float(np.max(np.abs(w_int[s]).reshape(C, -1).sum(1))) * self._max_in(graph, s) * window[s]
                     for s in syns)
        if node.model == "cuba":
            bound0 = bound0 / (1.0 - node.alpha) if node.alpha < 1.0 else math.inf
        vth_max = vth_cap
        bias_max = 2 ** (fm.bias_mant_bits - 1) - 1
        th = node.threshold_array(C)
        proven = bound0 * 64 < 2 ** (fm.state_bits - 1)
        e_best = 0
        netx_dense = [s for s in syns if isinstance(graph.nodes[s], N.Dense)] if self.netx else []
        e_netx = None
        for e in range(0, (0 if node.readout else fm.weight_exp_max) + 1):
            unit = delta / 2**e
            if e > 0 and any(netx_dense_verdict(w_int[s] << e) is not None for s in netx_dense):
                e_netx = e - 1
                break
            if not node.readout and np.any(np.ceil(th / unit) > vth_max):
                break
            if np.any(np.abs(np.round(bias / unit)) > bias_max):
                break
            if proven and bound0 * 2**e * 64 >= 2 ** (fm.state_bits - 1):
                break
            e_best = e
        unit = delta / 2**e_best
        for s in syns:
            syn = graph.nodes[s]
            syn.weight_int, syn.weight_exp = w_int[s], e_best
        # threshold
        if node.readout:
            vth = np.full(C, vth_max + 1, dtype=np.int64)
            cmp_note = "readout: never fires"
        else:
            x = _near_int(th / unit)
            if node.compare == "ge":
                vth = (np.ceil(x) - 1 if sem.compare == "gt" else np.ceil(x)).astype(np.int64)
            else:
                vth = (np.floor(x) if sem.compare == "gt" else np.floor(x) + 1).astype(np.int64)
            cmp_note = f"float '{node.compare}' -> integer '{sem.compare}'"
        bias_q = np.clip(np.round(_near_int(bias / unit)), -bias_max, bias_max).astype(np.int64)
        bias_clipped = int(np.sum(np.abs(np.round(bias / unit)) > bias_max))
        node.vth = vth if self.granularity == "channel" or np.any(vth != vth[0]) else vth[:1].copy()
        node.bias_mant = bias_q
        node.bias_exp = fm.bias_exp
        node.int_reset = sem.reset
        node.int_compare = sem.compare
        # decays
        one = 2 ** fm.decay_bits
        alpha = node.alpha if node.model == "cuba" else 0.0
        du_f, dv_f = (one - 1) - one * alpha, one * (1.0 - node.beta)
        node.du, node.dv = int(round(du_f)), int(round(dv_f))
        if abs(du_f - node.du) > 1e-9 or abs(dv_f - node.dv) > 1e-9:
            notes.append(f"decays rounded: alpha {alpha:g} -> {(one - 1 - node.du) / one:g}, "
                         f"beta {node.beta:g} -> {1 - node.dv / one:g}")
        if node.dv not in (0, one) or node.model == "cuba":
            notes.append("leak truncates toward zero at 1/64 of a weight unit (Loihi decay), not exact")
        if node.model == "cuba" and np.any(bias != 0):
            notes.append("CUBA bias enters v directly on the chip but the current in the float model")
        rel_w = math.sqrt(err / max(float(np.sum(rows**2)), 1e-300))
        if clipped:
            notes.append(f"{clipped} weight(s) clipped at +-{qmax} (saturation)")
        if bias_clipped:
            notes.append(f"{bias_clipped} bias value(s) clipped at +-{bias_max}")
        if e_netx is not None and e_netx == e_best:
            notes.append(f"weight exponent capped at {e_best} so lava-dl netx runs the dense weights "
                         f"exactly (W_int << {e_best + 1} leaves netx's range)")
        if not proven:
            notes.append(f"u may wrap: worst-case |a<<6| = {bound0 * 2**e_best * 64:.3g} >= 2^"
                         f"{fm.state_bits - 1}; wraps are counted by the simulator")
        th_err = 0.0 if node.readout else float(np.max(np.abs((vth + 1) * unit - th) / th))
        result.stats.setdefault("layers", {})[name] = {
            "synapses": syns, "scale": float(np.max(delta)), "weight_exp": e_best,
            "vth": [int(v) for v in np.unique(vth)][:8], "du": node.du, "dv": node.dv,
            "weight_rel_rmse": rel_w, "threshold_rel_error_max": th_err, "clipped_weights": clipped,
            "overflow_proven_impossible": bool(proven), "compare": cmp_note}
        result.changes.append(f"neuron '{name}' and synapses {syns}: {fm.weight_bits}-bit weights, scale "
                              f"{np.max(delta):.4g} ({self.granularity}), exp {e_best}, "
                              f"vth {int(vth.max()) if node.readout else int(np.median(vth))}, du {node.du}, dv {node.dv}")
        for n in notes:
            result.approximations.append(f"neuron '{name}': {n}")
