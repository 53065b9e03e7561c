"""Cost metrics: NeuroBench's names computed from an event run, and the literature convention beside them.

(a) NeuroBench (``shared/reference/HW_PROFILES.md`` §3, neurobench 2.3.0 as implemented)
    :func:`neurobench_metrics` from an :class:`~snn2hw.simulators.event.EventResult`:

    * ``effective_acs`` / ``effective_macs`` per sample: (nonzero input x nonzero ``weight_int``)
      pairs of every Dense/Conv2d, padding-aware; a (synapse, timestep) call counts as AC when
      every input value of the call (the whole batch chunk) lies in {-1, 0, 1}, else as MAC
      (graded first-layer inputs and pooled spike counts of 2+ are MACs). Identity synapses of
      residual adds are excluded by default (NeuroBench does not see the add as a layer).
      These are exactly NeuroBench's ``SynapticOperations`` run on a replay of the integer
      model (each synapse an nn.Linear/Conv2d holding ``weight_int``, called once per timestep
      and batch with the integer values the chip receives: input integers, spikes, sum-pooled
      counts), which ``tests/oracles/test_neurobench.py`` checks, so they keep NeuroBench's names.
    * ``dense_sops_per_sample``: the same pairs with every input and weight set to 1, times T.

    The other NeuroBench-named figures (footprint, parameter count, connection and activation
    sparsity) are NeuroBench's on the *torch model* (``snn2hw/report/torch_metrics.py``); the
    figures of the integer graph and run computed here carry the prefix ``int_``:

    * ``int_activation_sparsity``: 1 - spikes / (neurons x T x samples) of the integer run, per
      spiking layer and overall (readouts excluded: they never fire).
    * ``int_connection_sparsity``: zeros / total over the integer weights (biases excluded;
      identity synapses excluded), rounded to 4 decimals as NeuroBench does; quantization adds
      zeros, so it can exceed the torch model's.
    * ``int_membrane_updates_per_sample``: neurons whose v changed at a step, all neurons at the
      first (NeuroBench's MembraneUpdates rule; NeuroBench itself reads snnTorch's ``mem`` and sees
      no membrane in snn2hw's neurons).
    * ``int_footprint_bytes``: :func:`footprint_bytes`, the integer deployment;
      ``int_parameter_count``: weights and biases of the synapse nodes (BatchNorm folded).
      :func:`float32_footprint_bytes` estimates a float32 footprint from a graph.

(b) Literature (Spikingformer / QP-SNN, ``ALGORITHMS.md`` §5.1): ``SOP_l = fr_{l-1} x T x FLOPs_l``
    with ``FLOPs_conv = H_out W_out C_in/groups k_h k_w C_out`` and ``fr`` the source layer's firing
    rate; the first (analog-input) layer counts MACs = its FLOPs, once per sample by default (a
    direct-coded frame repeated T times is computed once, as the QP-SNN check values assume);
    energy ``E = 0.9 pJ x SOPs + 4.6 pJ x first-layer MACs`` (45 nm). Excludes neuron updates,
    BN, residual adds, pooling and memory. Model size ``sum P x bits / 8`` bytes, in MB = 1e6
    bytes (QP-SNN's unit, headline) and MiB, with first conv, last FC and BN pairs at fp32.
"""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph

E_AC_PJ = 0.9
E_MAC_PJ = 4.6


# ----------------------------------------------------------------------------- NeuroBench
def neurobench_metrics(result, graph: Optional[Graph] = None, profile=None, include_identity: bool = False) -> dict:
    """NeuroBench's synaptic operations of an event run (per sample) and the integer network's own
    figures (``int_*``); ``graph`` adds connection sparsity, footprint and parameter count."""
    syn = {k: v for k, v in result.synapses.items() if include_identity or not v["identity"]}
    out = {
        "effective_acs_per_sample": sum(v["effective_acs_per_sample"] for v in syn.values()),
        "effective_macs_per_sample": sum(v["effective_macs_per_sample"] for v in syn.values()),
        "dense_sops_per_sample": sum(v["dense_ops_per_sample"] for v in syn.values()),
        "synapses_counted": sorted(syn),
    }
    per_layer, spikes, total = {}, 0.0, 0
    for name, s in result.layer_spikes.items():
        n = result.neurons_per_layer[name] * result.timesteps * result.samples
        per_layer[name] = 1.0 - float(s.sum()) / n
        spikes += float(s.sum())
        total += n
    out["int_activation_sparsity"] = 1.0 - spikes / total if total else None
    out["int_activation_sparsity_per_layer"] = per_layer
    out["int_membrane_updates_per_sample"] = sum(L.get("membrane_updates_per_sample", 0.0)
                                                 for L in result.layers.values())
    if graph is not None:
        out["int_connection_sparsity"] = connection_sparsity(graph, include_identity=include_identity)
        out["int_footprint_bytes"] = footprint_bytes(graph, profile)["total_bytes"]
        out["int_parameter_count"] = sum(int(n.weight.size) + (0 if n.bias is None else int(n.bias.size))
                                         for n in graph.nodes.values()
                                         if isinstance(n, N.SYNAPSES) and (include_identity or not _identity(n)))
    return out


def _identity(node) -> bool:
    return bool(node.metadata.get("identity", False))


def connection_sparsity(graph: Graph, integer: bool = True, include_identity: bool = False) -> float:
    """zeros / total over the synapse weights (``weight_int`` or, with ``integer=False``, the
    effective float weight); biases excluded; rounded to 4 decimals (NeuroBench)."""
    zeros = total = 0
    for node in graph.nodes.values():
        if not isinstance(node, N.SYNAPSES) or (_identity(node) and not include_identity):
            continue
        w = node.weight_int if (integer and node.weight_int is not None) else node.effective_weight()
        zeros += int(np.sum(np.asarray(w) == 0))
        total += int(np.asarray(w).size)
    return round(zeros / total, 4) if total else 0.0


def footprint_bytes(graph: Graph, profile=None) -> dict:
    """Deployed integer footprint, in bytes (bits summed, then / 8).

    Counted: every synapse weight at the profile's ``weight_bits`` (dense storage, zeros included;
    identity synapses too, they occupy synaptic memory) plus one exponent per synapse layer (8
    bits); per neuron channel the threshold mantissa (``threshold_mant_bits``) and bias mantissa
    (``bias_mant_bits``); per neuron layer du and dv (``decay_bits`` each); per neuron the u and v
    state (``state_bits`` each). Without a profile: 8-bit weights, 17/13-bit vth/bias, 12-bit
    decays, 24-bit state (Loihi).
    """
    if profile is not None:
        from snn2hw.hw_profiles import load_profile
        f = load_profile(profile).formats
        wb, tb, bb, db, sb = f.weight_bits, f.threshold_mant_bits, f.bias_mant_bits, f.decay_bits, f.state_bits
    else:
        wb, tb, bb, db, sb = 8, 17, 13, 12, 24
    bits = {"weights": 0, "exponents": 0, "thresholds_biases": 0, "decays": 0, "state": 0}
    graph.infer_shapes()
    for node in graph.nodes.values():
        if isinstance(node, N.SYNAPSES):
            bits["weights"] += int(node.weight.size) * wb
            bits["exponents"] += 8
        elif isinstance(node, N.Neuron):
            shape = node.output_shape
            ch = int(np.asarray(node.vth).size) if node.vth is not None else 1
            bm = int(np.asarray(node.bias_mant).size) if node.bias_mant is not None else 0
            bits["thresholds_biases"] += ch * tb + bm * bb
            bits["decays"] += 2 * db
            bits["state"] += int(np.prod(shape)) * 2 * sb
    out = {f"{k}_bytes": v / 8 for k, v in bits.items()}
    out["total_bytes"] = sum(bits.values()) / 8
    return out


def float32_footprint_bytes(graph: Graph) -> int:
    """A float32 footprint estimated from a graph: every float parameter at 4 bytes.

    Not NeuroBench's Footprint, which is taken on the torch module with its stored dtypes and
    every buffer (``snn2hw/report/torch_metrics.py``); a graph has folded BatchNorm and no buffers.

    Counted: synapse weights, biases, channel scales and masks (a buffer); BatchNorm gamma, beta,
    running mean and var; one threshold per neuron channel (a scalar threshold counts 1) and beta
    (1). Integer-only fields are not part of the float model.
    """
    n = 0
    for node in graph.nodes.values():
        if isinstance(node, N.SYNAPSES):
            n += int(node.weight.size)
            for a in (node.bias, node.channel_scale, node.mask):
                n += 0 if a is None else int(np.asarray(a).size)
        elif isinstance(node, N.BatchNorm):
            n += 4 * int(node.gamma.size)
        elif isinstance(node, N.Neuron) and not node.readout:
            n += int(np.asarray(node.threshold).size) + 1
    return 4 * n


# ----------------------------------------------------------------------------- literature
def conv_flops(h_out: int, w_out: int, c_in: int, c_out: int, k_h: int, k_w: int = None, groups: int = 1) -> int:
    """``H_out W_out C_in/groups k_h k_w C_out`` (multiply-accumulates per timestep)."""
    k_w = k_h if k_w is None else k_w
    return int(h_out * w_out * (c_in // groups) * k_h * k_w * c_out)


def literature_sops(result, include_identity: bool = False, first_layer_once: bool = True) -> dict:
    """Paper-convention counts from a run: per synapse ``fr_src x T x FLOPs`` (SOPs, per sample) or,
    for a synapse fed by the graph input, MACs = FLOPs (x T unless ``first_layer_once``)."""
    fr = result.firing_rates()
    T = result.timesteps
    layers, sops, macs = {}, 0.0, 0.0
    for name, s in result.synapses.items():
        if s["identity"] and not include_identity:
            continue
        if s["source"] in fr:
            v = fr[s["source"]] * T * s["flops_per_step"]
            layers[name] = {"kind": "sop", "source_firing_rate": fr[s["source"]], "flops_per_step": s["flops_per_step"],
                            "sops_per_sample": v}
            sops += v
        else:
            v = s["flops_per_step"] * (1 if first_layer_once else T)
            layers[name] = {"kind": "mac", "flops_per_step": s["flops_per_step"], "macs_per_sample": v}
            macs += v
    e = literature_energy(sops, macs)
    return {"layers": layers, "sops_per_sample": sops, "sops_per_step": sops / T, "first_layer_macs_per_sample": macs,
            **e, "convention": "Spikingformer/QP-SNN: SOP = fr_in x T x FLOPs, first layer MACs, "
                               "E = 0.9 pJ x SOP + 4.6 pJ x MAC; excludes neuron updates, BN, residual adds, "
                               "pooling, memory"}


def literature_energy(sops: float, first_layer_macs: float, e_ac_pj: float = E_AC_PJ, e_mac_pj: float = E_MAC_PJ) -> dict:
    """``E = e_ac x SOPs + e_mac x first-layer MACs`` (SOPs already summed over T)."""
    pj = e_ac_pj * sops + e_mac_pj * first_layer_macs
    return {"energy_pj_per_sample": pj, "energy_mj_per_sample": pj * 1e-9}


def model_size(layers: Iterable) -> dict:
    """Model size from ``(parameter_count, bits)`` pairs: ``sum P x bits / 8`` bytes, in MB (1e6) and MiB."""
    layers = list(layers)
    bits = sum(int(p) * int(b) for p, b in layers)
    return {"params": sum(int(p) for p, _ in layers), "bytes": bits / 8, "MB": bits / 8 / 1e6,
            "MiB": bits / 8 / 2**20}


def _keep(n: int, ratio: float) -> int:
    return int(n * (1 - ratio))


def vgg16_qp_layers(ratio_a: float = 0.0, ratio_b: float = 0.0, bits: int = 32, classes: int = 10,
                    in_channels: int = 3) -> list:
    """QP-SNN VGG-16 (cfg 64,64,M,128,128,M,256x3,M,512x3,M,512x3; FC 512 -> classes) as
    ``(name, params, bits)``: ratio A prunes the 64-256-wide convs, ratio B the 512-wide convs except
    the last (keep = int(n (1 - r))), input channels propagated. First conv (with bias), last FC (with
    bias) and every BN (gamma, beta) at fp32; the other convs (no bias) at ``bits``."""
    cfg = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    out, cin = [], in_channels
    for i, c in enumerate(cfg):
        k = c if i == len(cfg) - 1 else _keep(c, ratio_a if c <= 256 else ratio_b)
        if i == 0:
            out.append((f"conv{i}", cin * 9 * k + k, 32))
        else:
            out.append((f"conv{i}", cin * 9 * k, bits))
        out.append((f"bn{i}", 2 * k, 32))
        cin = k
    out.append(("fc", cin * classes + classes, 32))
    return out


def resnet20_qp_layers(compress_rate: list, bits: int = 32, classes: int = 10, in_channels: int = 3) -> list:
    """QP-SNN wide ResNet20 (conv1 64; stages 128/256/512 x 3 BasicBlocks; option-A shortcuts without
    parameters) as ``(name, params, bits)``. ``compress_rate = [c0] + [a]*3 + [m]*16`` as the code reads
    it: conv1 keeps int(64 (1 - c0)); stage-1/2 outputs use a, stage-3 outputs are not pruned; the 9
    block-internal channels use [a, m x 8]. First conv (with bias), FC and BN pairs at fp32."""
    c0, a, m = compress_rate[0], compress_rate[1], compress_rate[4]
    w0 = _keep(64, c0)
    out = [("conv1", in_channels * 9 * w0 + w0, 32), ("bn1", 2 * w0, 32)]
    cin, mids, bi = w0, [a] + [m] * 8, 0
    for si, (width, r) in enumerate([(128, a), (256, a), (512, 0.0)]):
        cout = _keep(width, r)
        for b in range(3):
            mid = _keep(width, mids[bi])
            bi += 1
            out += [(f"layer{si + 1}.{b}.conv1", cin * 9 * mid, bits), (f"layer{si + 1}.{b}.bn1", 2 * mid, 32),
                    (f"layer{si + 1}.{b}.conv2", mid * 9 * cout, bits), (f"layer{si + 1}.{b}.bn2", 2 * cout, 32)]
            cin = cout
    out.append(("fc", cin * classes + classes, 32))
    return out


def layers_model_size(layers: list) -> dict:
    """:func:`model_size` of ``(name, params, bits)`` triples (from the ``*_qp_layers`` builders)."""
    return model_size((p, b) for _, p, b in layers)


def graph_model_size(graph: Graph, bits: int, fp32_first_last: bool = True) -> dict:
    """QP-SNN-style size of an IR graph: every non-identity synapse's kept weights (mask applied,
    structurally pruned channels are already gone) at ``bits``; the first and last synapse (with
    bias) at fp32 when ``fp32_first_last``; per neuron channel a threshold and bias at fp32 (the
    folded BN pair)."""
    graph.infer_shapes()
    syn = [n for n in graph.topological_order() if isinstance(graph.nodes[n], N.SYNAPSES)
           and not _identity(graph.nodes[n])]
    layers = []
    for i, name in enumerate(syn):
        node = graph.nodes[name]
        p = int(node.weight.size if node.mask is None else np.count_nonzero(node.mask))
        if fp32_first_last and i in (0, len(syn) - 1):
            layers.append((p + (0 if node.bias is None else int(node.bias.size)), 32))
        else:
            layers.append((p, bits))
    for node in graph.nodes.values():
        if isinstance(node, N.Neuron) and not node.readout:
            layers.append((2 * node.output_shape[0], 32))
    return model_size(layers)
