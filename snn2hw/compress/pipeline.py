"""The compression API: ``compress(model, data, method, ...)`` in each paper's order.

Methods (ALGORITHMS §1–§4):

* ``'qp-snn'`` (§3.5): ReScaW-quantize every conv/FC but the first and last
  (``bits``, per-channel γ = mean|W|) → SVS channel scores on ``calib_samples``
  training images (the quantized model, eval mode) → remove ``ratio`` of the
  channels of every prunable layer (``StructuredPrunePass``, then the same
  channels physically in torch) → fine-tune (Adam lr 1e-3, weight decay 1e-5 on
  conv weights, cosine). ``order='pq'`` prunes the float model first (the
  paper's worse baseline); ``ranking='l1'|'bn'|'random'`` (filter L1 norm, BatchNorm |γ|, seeded random) replaces SVS.
* ``'atlif'`` (§1.3): every neuron becomes an AT-LIF (τ = the old β, θ = the old
  threshold, λ_t = ``lam``) and the network is fine-tuned with threshold adaptation.
  No weights are removed; ``ratio`` does not apply.
* ``'criticality-unstructured'`` (§2.4): gradual global magnitude pruning to
  ``ratio`` sparsity (cubic schedule, ``n_prune + 1`` points over the first 75 % of
  the fine-tune steps) with criticality-guided regeneration (``regen_ratio``;
  default the paper's pairing 0.2/0.1/0.01 for ≤ 90/95/98 %), SGD momentum 0.9,
  then fixed masks.
* ``'criticality-structured'`` (§2.5): Network-Slimming fine-tune (L1 on BN γ,
  λ = 1e-4) → one global |γ| threshold removing ``s~ = s + r(1-s)`` of the
  prunable channels (each layer keeps ≥ 1) → channel criticality on the
  calibration images → the top ``K = round(s~·C) - round(s·C)`` removed channels
  regrow → physical removal → fine-tune with the L1 term still on (SGD).
* ``'magnitude'``: one-shot global magnitude pruning to ``ratio`` sparsity, then
  fine-tune with fixed masks.
* ``'l1'``: remove ``ratio`` of each prunable layer's channels by filter L1 norm,
  then fine-tune.

Per-layer ratios: ``layer_ratios={layer: r}`` (graph layer names as for ``protect``:
a neuron layer such as ``'sn1'`` or its producing synapse ``'conv1.0'``; see
``prunable_groups``) overrides ``ratio`` for the named layers of the two methods that
prune each layer by its own share, ``'qp-snn'`` and ``'l1'``; the layers not named keep
``ratio`` (``None``: 0). The other pruning methods rank weights or BN scales globally
across layers, so a per-layer ratio is refused for them.

Saving: ``save_compressed`` writes a normal snn2hw checkpoint. A model whose
layers were resized, quantized or masked is saved under the architecture
``'compressed'`` with ``arch_kwargs = {base, base_kwargs, quant,
shapes, masked}``: ``build_compressed(...)`` (``compress/rebuild.py``, what ``load_checkpoint`` calls for it) rebuilds the base
architecture, swaps in ``QuantConv2d``/``QuantLinear``, resizes the pruned layers
and registers the mask buffers, so ``load_checkpoint`` (and therefore
``snn2hw convert/export/simulate``) loads it strictly.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

import numpy as np
import torch
from torch import nn

from ..models.registry import build_model
from ..nn.neurons import ATLIF, SpikingNeuron
from ..nn.quant import QUANT_LAYERS, quantize_model
from .rebuild import CompressError, build_compressed
from .rebuild import slice_module as _slice

METHODS = ("qp-snn", "atlif", "criticality-unstructured", "criticality-structured", "magnitude", "l1")
PRUNING = ("qp-snn", "criticality-unstructured", "criticality-structured", "magnitude", "l1")
STRUCTURED = ("qp-snn", "criticality-structured", "l1")
PER_LAYER = ("qp-snn", "l1")  # methods that prune each layer by its own ratio (layer_ratios)
RANKINGS = ("svs", "l1", "bn", "random")
ORDERS = ("qp", "pq")
BN_L1 = 1e-4


def default_regen_ratio(sparsity: float) -> float:
    """The paper's (s_f, r) pairs (ALGORITHMS §2.3): 0.2 up to 90 %, 0.1 up to 95 %, else 0.01."""
    return 0.2 if sparsity <= 0.9 + 1e-9 else 0.1 if sparsity <= 0.95 + 1e-9 else 0.01


# ----------------------------------------------------------------------------- option checks
def check_options(method: str, ratio: Optional[float] = None, bits: Optional[int] = None,
                  data=None, finetune_epochs: int = 1, regen_ratio: Optional[float] = None,
                  order: str = "qp", ranking: str = "svs", layer_ratios: Optional[dict] = None) -> None:
    """Refuse bad options (``CompressError``) before any work."""
    if method not in METHODS:
        raise CompressError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    if layer_ratios is not None:
        if method not in PER_LAYER:
            raise CompressError(f"per-layer ratios apply to the methods {', '.join(PER_LAYER)} (each layer pruned by "
                                f"its own share), got method '{method}', which ranks across layers")
        if not isinstance(layer_ratios, dict):
            raise CompressError(f"layer ratios must be a mapping {{layer: ratio}}, got {type(layer_ratios).__name__}")
        for k, v in layer_ratios.items():
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= float(v) < 1.0):
                raise CompressError(f"layer ratio of '{k}' must be in [0, 1), got {v!r}")
        if ratio is None:
            ratio = 0.0
    if ratio is not None and not (isinstance(ratio, (int, float)) and 0.0 <= float(ratio) < 1.0):
        raise CompressError(f"--ratio must be in [0, 1), got {ratio}")
    if method == "atlif" and ratio not in (None, 0, 0.0):
        raise CompressError("method 'atlif' sparsifies activity, it removes no weights: --ratio does not apply")
    if bits is not None:
        if int(bits) != bits or not 1 <= int(bits) <= 16:
            raise CompressError(f"--bits must be an integer in [1, 16], got {bits}")
        if method != "qp-snn":
            raise CompressError(f"--bits applies to method 'qp-snn' only (the ReScaW grid has no zero level, so "
                                f"it is not combined with the other methods here), got method '{method}'")
    if method in PRUNING and ratio is None:
        raise CompressError(f"method '{method}' prunes: give --ratio in [0, 1)")
    if data is None:
        raise CompressError(f"method '{method}' needs data (fine-tuning and calibration): give --data digits or "
                            f"a .npz file")
    if int(finetune_epochs) < 0:
        raise CompressError(f"--finetune-epochs must be >= 0, got {finetune_epochs}")
    if method == "criticality-unstructured" and int(finetune_epochs) < 1:
        raise CompressError("method 'criticality-unstructured' prunes during training: --finetune-epochs must be >= 1")
    if regen_ratio is not None and not 0.0 <= float(regen_ratio) <= 1.0:
        raise CompressError(f"--regen-ratio must be in [0, 1], got {regen_ratio}")
    if order not in ORDERS:
        raise CompressError(f"order must be one of {list(ORDERS)}, got {order!r}")
    if ranking not in RANKINGS:
        raise CompressError(f"ranking must be one of {list(RANKINGS)}, got {ranking!r}")


def _graph(model: nn.Module):
    from ..frontends.torch_fx import from_module
    return from_module(model, getattr(model, "input_shape", None))


def _prunable_roots(model: nn.Module, protect: Iterable[str] = ()) -> tuple:
    """``(ChannelGroups, roots)``: the model's channel groups and, in graph order, the roots of those structured
    pruning may remove channels from (prunable and not protected)."""
    from ..passes.structured_prune import ChannelGroups
    cg = ChannelGroups(_graph(model))
    prot = {cg.root_of(p) for p in protect if p in cg.graph.nodes}
    return cg, [r for r in cg.groups if cg.prunable(r) and r not in prot]


def prunable_groups(model: nn.Module, protect: Iterable[str] = ()) -> List[str]:
    """The names of the channel groups structured pruning may remove channels from (graph order): the keys
    ``layer_ratios`` takes (each group's neuron layer, e.g. ``['sn0', 'sn1']`` for digits_conv)."""
    cg, roots = _prunable_roots(model, protect)
    return [cg.groups[r]["name"] for r in roots]


def layer_ratio_map(model: nn.Module, ratio: Optional[float], layer_ratios: dict,
                    protect: Iterable[str] = ()) -> Dict[str, float]:
    """``{group name: ratio}`` for every prunable group: its entry in ``layer_ratios`` (by any member's name),
    else ``ratio``. Refuses names that are not layers, or that are not prunable, and two different ratios for
    layers that share channels."""
    cg, roots = _prunable_roots(model, protect)
    names = [cg.groups[r]["name"] for r in roots]
    given: Dict[str, set] = {}
    for k, v in layer_ratios.items():
        if k not in cg.graph.nodes:
            raise CompressError(f"layer ratio names unknown layer '{k}'; prunable layers: {', '.join(names)}")
        root = cg.root_of(k)
        if root not in roots:
            raise CompressError(f"layer ratio names layer '{k}', which structured pruning may not prune here "
                                f"(protected or {cg.why_not(root) if not cg.prunable(root) else 'not prunable'}); "
                                f"prunable layers: {', '.join(names)}")
        given.setdefault(root, set()).add(float(v))
    for root, vals in given.items():
        if len(vals) > 1:
            raise CompressError(f"layer '{cg.groups[root]['name']}' was given different ratios {sorted(vals)} "
                                f"(its layers share channels)")
    return {cg.groups[r]["name"]: (given[r].pop() if r in given else float(ratio or 0.0)) for r in roots}


def check_model(model: nn.Module, method: str, ratio: Optional[float], protect: Iterable[str] = (),
                layer_ratios: Optional[dict] = None) -> None:
    """Refuse a structured ratio that would leave a prunable layer without channels, or a
    method the model cannot take (before any work)."""
    if layer_ratios is not None:
        from ..passes.structured_prune import ChannelGroups
        bad = [p for p in protect if p not in _graph(model).nodes]
        if bad:
            raise CompressError(f"--protect names unknown layer(s) {bad}")
        cg = ChannelGroups(_graph(model))
        chans = {g["name"]: g["channels"] for g in cg.groups.values()}
        for name, r in layer_ratio_map(model, ratio, layer_ratios, protect).items():
            if int(chans[name] * (1.0 - r)) < 1:
                raise CompressError(f"layer '{name}' ({chans[name]} channels) would lose all its channels at ratio "
                                    f"{r:g}; lower its ratio")
        return
    if method == "atlif" and not any(isinstance(m, SpikingNeuron) for m in model.modules()):
        raise CompressError("the model has no snn2hw spiking neurons to turn into AT-LIF")
    if method == "atlif" and not hasattr(model, "arch"):
        raise CompressError("method 'atlif' rebuilds the architecture with AT-LIF neurons: it needs a built-in "
                            "architecture (a snn2hw checkpoint)")
    if method in ("magnitude", "criticality-unstructured") and ratio:
        from .masks import prunable_layers
        if not prunable_layers(model):
            raise CompressError(f"method '{method}' has no layer to prune: the first and the last Conv2d/Linear stay "
                                f"dense (the papers' convention), and this model has no other weight layer")
    if method in STRUCTURED and ratio:
        from ..passes.structured_prune import ChannelGroups
        cg = ChannelGroups(_graph(model))
        prot = {cg.root_of(p) for p in protect if p in cg.graph.nodes}
        bad = [p for p in protect if p not in cg.graph.nodes]
        if bad:
            raise CompressError(f"--protect names unknown layer(s) {bad}")
        prunable = [r for r in cg.groups if cg.prunable(r) and r not in prot]
        if not prunable:
            raise CompressError("the model has no channel group that structured pruning may remove")
        if method != "criticality-structured":
            for r in prunable:
                g = cg.groups[r]
                if int(g["channels"] * (1.0 - float(ratio))) < 1:
                    raise CompressError(f"layer '{g['name']}' ({g['channels']} channels) would lose all its channels "
                                        f"at --ratio {ratio:g}; lower the ratio or --protect it")


# ----------------------------------------------------------------------------- physical channel removal
def _module_for(model: nn.Module, irname: str) -> nn.Module:
    """The torch module the front end named ``irname`` (``'conv0.0'`` = ``conv0.inner[0]``)."""
    mods = dict(model.named_modules())
    if irname in mods:
        return mods[irname]
    head, _, idx = irname.rpartition(".")
    if head in mods and hasattr(mods[head], "inner") and idx.isdigit():
        return mods[head].inner[int(idx)]
    if head == "" and hasattr(model, "inner") and idx.isdigit():
        return model.inner[int(idx)]
    raise CompressError(f"cannot find the torch module of graph node '{irname}'")


def prune_channels(model: nn.Module, scores, ratio, protect: Iterable[str] = (), seed: int = 0) -> dict:
    """Run ``StructuredPrunePass(scores, ratio, protect, seed)`` on the model's graph and
    remove the same channels from the torch modules (in place). Returns the pass stats
    (``removed``/``kept``/``channels`` per layer, ``params_before``/``params_after``)."""
    from ..passes.structured_prune import ChannelGroups, StructuredPrunePass
    g = _graph(model)
    cg = ChannelGroups(g)
    res = StructuredPrunePass(scores, ratio, protect, seed).run(g)
    for name, keep in res.stats.get("kept", {}).items():
        grp = cg.groups[cg.root_of(name)]
        for s in grp["producers"] + grp["depthwise"]:
            _slice(_module_for(model, s), keep, 0)
        for b in grp["bns"]:
            _slice(_module_for(model, b), keep, 0)
        for s, hw in grp["consumers"]:
            k = np.asarray(keep)
            idx = k if hw == 1 else (k[:, None] * hw + np.arange(hw)[None, :]).reshape(-1)
            _slice(_module_for(model, s), idx, 1)
    res.stats["refusals"] = list(res.refusals)
    return res.stats


# ----------------------------------------------------------------------------- the 'compressed' architecture
def _quant_info(model: nn.Module) -> Optional[dict]:
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, QUANT_LAYERS)]
    if not layers:
        return None
    m = layers[0][1]
    return {"bits": m.bits, "gamma": m.gamma_mode, "granularity": m.granularity, "ste": m.ste,
            "rescale": m.rescale, "percentile": m.percentile, "layers": [n for n, _ in layers]}


def _shapes(model: nn.Module) -> Dict[str, list]:
    out = {}
    for n, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            out[n] = [int(d) for d in m.weight.shape[:2]]
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            out[n] = [int(m.num_features)]
    return out


def describe(model: nn.Module) -> tuple:
    """``(arch, arch_kwargs)`` to save ``model`` under: its own built-in arch when nothing
    changed its layers, else ``'compressed'``."""
    from .masks import masked_layers
    arch, kw = model.arch, dict(model.arch_kwargs)
    if arch == "compressed":
        base, base_kw = kw["base"], dict(kw.get("base_kwargs") or {})
    else:
        base, base_kw = arch, kw
    quant = _quant_info(model)
    masked = list(masked_layers(model))
    shapes = _shapes(model)
    fresh = _shapes(build_model(base, **base_kw))
    if quant is None and not masked and shapes == fresh:
        return base, base_kw
    return "compressed", {"base": base, "base_kwargs": base_kw, "quant": quant,
                          "shapes": {k: v for k, v in shapes.items() if fresh.get(k) != v}, "masked": masked}


def save_compressed(path, model: nn.Module, **meta):
    """``save_checkpoint`` under the architecture ``describe(model)`` gives."""
    from ..frontends.checkpoint import save_checkpoint
    model.arch, model.arch_kwargs = describe(model)
    return save_checkpoint(path, model, **meta)


# ----------------------------------------------------------------------------- measurements
def _connections(model: nn.Module) -> int:
    tot = 0
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            mk = getattr(m, "weight_mask", None)
            tot += int((mk != 0).sum()) if isinstance(mk, torch.Tensor) else m.weight.numel()
    return tot


def measure(model: nn.Module, data, T: int = 4, samples: int = 256, profile: str = "loihi",
            spikes: bool = True) -> dict:
    """Parameters, model size (QP-SNN MB: quantized layers at b bits, first/last and BN at
    fp32), connections (kept synapse weights), test accuracy (torch, float) and, on
    ``samples`` test images in the event simulator after ``convert(profile)``: SOPs per
    sample (nonzero input x existing synapse, every layer but the first), the literature
    SOPs (fr x T x FLOPs) and the mean firing rate. Event data (``data.timesteps`` set) runs its own frames
    and their T, in torch and in the simulator."""
    from ..simulators.costs import graph_model_size, literature_sops
    from ..train.loop import evaluate, event_setup
    T, encoding = event_setup(data, T, "direct")
    q = _quant_info(model)
    g = _graph(model)
    bits = q["bits"] if q else 32
    size = graph_model_size(g, bits, fp32_first_last=True)
    out = {"params": int(g.num_params()), "connections": _connections(model), "size_mb": size["MB"],
           "bits": bits, "accuracy": evaluate(model, data.x_test, data.y_test, T, encoding)}
    if spikes:
        from ..data.encoding import encode
        from ..passes.pipeline import convert
        from ..simulators.event import simulate_events
        for name in g.inputs:
            if data.input_step:
                g.nodes[name].step = float(data.input_step)
        r = convert(g, profile, calibration=data.x_train)
        n = min(int(samples), len(data.y_test))
        x = encode(torch.as_tensor(np.asarray(data.x_test[:n]), dtype=torch.float64), T, encoding)
        ev = simulate_events(r.graph, x, profile=profile)
        out["sops"] = float(sum(s["effective_ops_per_sample"] for s in ev.synapses.values()
                                if s["source"] not in r.graph.inputs and not s["identity"]))
        out["sops_literature"] = float(literature_sops(ev)["sops_per_sample"])
        spk = sum(float(v.sum()) for v in ev.layer_spikes.values())
        neu = sum(ev.neurons_per_layer[k] for k in ev.layer_spikes) * ev.timesteps * ev.samples
        out["firing_rate"] = spk / max(neu, 1)
        out["int_accuracy"] = float((ev.predictions().numpy() == np.asarray(data.y_test[:n])).mean())
        out["sim_samples"] = n
    return out


# ----------------------------------------------------------------------------- the methods
@dataclass
class CompressResult:
    model: nn.Module
    method: str
    before: dict
    after: dict
    steps: List[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    history: Optional[dict] = None

    def summary(self) -> str:
        b, a = self.before, self.after
        rows = [("parameters", f"{b['params']}", f"{a['params']}"),
                ("model size (MB)", f"{b['size_mb']:.6f}", f"{a['size_mb']:.6f}"),
                ("connections", f"{b['connections']}", f"{a['connections']}"),
                ("connection ratio", "1.0000", f"{a['connections'] / max(b['connections'], 1):.4f}"),
                ("accuracy (float, test)", f"{b['accuracy']:.4f}", f"{a['accuracy']:.4f}")]
        if "sops" in b and "sops" in a:
            rows += [(f"SOPs/sample ({a['sim_samples']} samples)", f"{b['sops']:.0f}", f"{a['sops']:.0f}"),
                     ("SOPs/sample (fr x T x FLOPs)", f"{b['sops_literature']:.0f}", f"{a['sops_literature']:.0f}"),
                     ("firing rate", f"{b['firing_rate']:.4f}", f"{a['firing_rate']:.4f}"),
                     ("accuracy (integer, sim)", f"{b['int_accuracy']:.4f}", f"{a['int_accuracy']:.4f}")]
        w = max(len(r[0]) for r in rows)
        lines = [f"method {self.method}: " + " -> ".join(self.steps),
                 f"{'':{w}}  {'before':>14}  {'after':>14}"]
        lines += [f"{r[0]:{w}}  {r[1]:>14}  {r[2]:>14}" for r in rows]
        return "\n".join(lines)


def to_atlif(model: nn.Module, lam: float = 1e-4) -> nn.Module:
    """Rebuild a built-in architecture with AT-LIF neurons (τ = β, θ = threshold, λ_t = ``lam``),
    copying every weight; the neurons' θ start at the old threshold."""
    arch, kw = model.arch, dict(model.arch_kwargs)
    inner = dict(kw.get("base_kwargs") or {}) if arch == "compressed" else kw
    neurons = [m for m in model.modules() if isinstance(m, SpikingNeuron)]
    first = neurons[0]
    if getattr(first, "reset", "zero") != "zero":
        raise CompressError("AT-LIF uses a hard reset to 0; this model's neurons use a soft reset")
    inner.update(neuron="atlif", beta=float(getattr(first, "beta", 1.0)), threshold=float(first.threshold),
                 eta=float(lam))
    for k in ("surrogate", "reset", "compare", "alpha"):
        inner.pop(k, None)
    if arch == "compressed":
        kw["base_kwargs"] = inner
        new = build_compressed("compressed", **kw)
    else:
        new = build_model(arch, **inner)
    state = {k: v for k, v in model.state_dict().items()}
    own = new.state_dict()
    missing = [k for k in own if k not in state]
    if any(not k.endswith("theta") for k in missing):
        raise CompressError(f"cannot carry the weights into the AT-LIF model (missing {missing[:4]})")
    new.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    new.eval()
    return new


def _calib(data, n: int):
    return np.asarray(data.x_train[:n])


def _structured_criticality(model, data, ratio, regen_ratio, T, calib, protect, log, encoding="direct") -> dict:
    """Global |γ| threshold to s~, criticality regrowth of K channels, physical removal."""
    from ..passes.structured_prune import ChannelGroups
    from .criticality import channel_criticality
    g = _graph(model)
    cg = ChannelGroups(g)
    prot = {cg.root_of(p) for p in protect}
    groups = [r for r in cg.groups if cg.prunable(r) and r not in prot and cg.groups[r]["bns"]]
    if not groups:
        raise CompressError("no prunable channel group with a BatchNorm (network slimming needs BN scales)")
    gam = {r: sum(np.abs(g.nodes[b].gamma) for b in cg.groups[r]["bns"]) for r in groups}
    C = sum(len(v) for v in gam.values())
    r_ = (0.3 if ratio <= 0.55 else 0.1) if regen_ratio is None else float(regen_ratio)  # paper pairs (§2.3)
    s_t = ratio + r_ * (1.0 - ratio)
    n_rm_t, n_rm = int(round(s_t * C)), int(round(ratio * C))
    flat = [(float(v), r, i) for r in groups for i, v in enumerate(gam[r])]
    order = sorted(range(len(flat)), key=lambda j: (flat[j][0], j))
    removed = {r: set() for r in groups}
    for j in order:
        if sum(len(s) for s in removed.values()) >= n_rm_t:
            break
        _, r, i = flat[j]
        if len(removed[r]) < len(gam[r]) - 1:       # every layer keeps at least one channel
            removed[r].add(i)
    crit = channel_criticality(model, calib, T, graph=g, encoding=encoding)
    K = max(0, sum(len(s) for s in removed.values()) - n_rm)
    cand = []
    for r in groups:
        sc = sum(np.asarray(crit[n], dtype=np.float64) for n in cg.groups[r]["neurons"] if n in crit)
        for i in removed[r]:
            cand.append((-float(np.asarray(sc)[i]) if np.ndim(sc) else 0.0, -float(gam[r][i]), r, i))
    cand.sort(key=lambda c: (c[0], c[1]))
    for _, _, r, i in cand[:K]:
        removed[r].discard(i)
    scores, ratios = {}, {}
    for r in groups:
        n = len(gam[r])
        keep = np.ones(n)
        for i in removed[r]:
            keep[i] = 0.0
        name = cg.groups[r]["neurons"][0]
        scores[name] = keep
        ratios[name] = (len(removed[r]) - 0.5) / n if removed[r] else 0.0
    stats = prune_channels(model, scores, ratios)
    log(f"network slimming: s~ = {s_t:.3f} over {C} channels, {K} regrown by criticality, "
        f"{sum(len(s) for s in removed.values())} removed")
    stats.update(s_tilde=s_t, regrown=K, total_channels=C)
    return stats


def compress(model: nn.Module, data, method: str, ratio: Optional[float] = None, bits: Optional[int] = None,
             finetune_epochs: int = 5, T: int = 4, seed: int = 0, regen_ratio: Optional[float] = None,
             regen: str = "criticality", n_prune: Optional[int] = None, protect: Iterable[str] = (),
             lam: Optional[float] = None, calib_samples: int = 640, batch_size: int = 64,
             order: str = "qp", ranking: str = "svs", rescale: bool = True, qat_epochs: int = 0,
             lr: Optional[float] = None, progress: bool = True, measure_samples: int = 256,
             measure_spikes: bool = True, profile: str = "loihi", log=None,
             layer_ratios: Optional[Dict[str, float]] = None) -> CompressResult:
    """Compress a copy of ``model`` by ``method`` (see the module docstring); returns the
    compressed model with before/after measurements. ``data``: a ``Dataset`` or a spec.
    ``layer_ratios``: per-layer ratios overriding ``ratio`` ('qp-snn' and 'l1'; the module docstring)."""
    from ..data import load_dataset
    from ..train.finetune import PRESETS, finetune
    log = log or (lambda s: None)
    check_options(method, ratio, bits, data, finetune_epochs, regen_ratio, order, ranking, layer_ratios)
    if layer_ratios is not None and ratio is None:
        ratio = 0.0
    data = load_dataset(data)
    from ..train.loop import event_setup
    T, encoding = event_setup(data, T, "direct")   # event data: its own frames and T throughout
    model = copy.deepcopy(model)
    if hasattr(model, "arch"):
        model.arch_kwargs = dict(model.arch_kwargs)
    protect = list(protect)
    check_model(model, method, ratio, protect, layer_ratios)
    # what the structured per-layer methods hand to prune_channels: one float, or every group's own ratio
    share = float(ratio) if ratio is not None else None
    if layer_ratios is not None:
        share = layer_ratio_map(model, ratio, layer_ratios, protect)
    torch.manual_seed(seed)
    before = measure(model, data, T, measure_samples, profile, measure_spikes)
    preset = dict(PRESETS[method])
    if lr is not None:
        preset["lr"] = float(lr)
    calib = _calib(data, calib_samples)
    steps, stats, hist = [], {}, None

    def ft(m, epochs, desc, **kw):
        if epochs <= 0:
            return None
        h = finetune(m, data, epochs, T, batch_size=batch_size, seed=seed, progress=progress, desc=desc,
                     **preset, **kw)
        steps.append(f"fine-tune {epochs} epoch(s) ({preset['optimizer']}, lr {preset['lr']:g}, "
                     f"wd {preset['weight_decay']:g} on {preset['decay_on']} weights, cosine)")
        return h.to_dict()

    def scores_for(m):
        if ranking == "svs":
            from ..passes.svs import svs_scores
            return svs_scores(m, calib, T, layout="sample_major" if encoding == "events" else "auto")
        return ranking

    if method == "qp-snn":
        b = 4 if bits is None else int(bits)
        quant = dict(rescale=rescale)

        def quantize(m):
            quantize_model(m, b, **quant)
            steps.append(f"quantize {b}-bit ({'ReScaW' if rescale else 'vanilla'}, first/last fp32)")
            if qat_epochs:
                ft(m, qat_epochs, "qat")

        def prune(m):
            st = prune_channels(m, scores_for(m), share, protect, seed)
            steps.append(f"prune {_share_text(share)} of the channels per layer by {ranking.upper()}")
            return st
        if order == "qp":
            quantize(model)
            stats = prune(model) if _any(share) else {}
        else:
            stats = prune(model) if _any(share) else {}
            quantize(model)
        hist = ft(model, finetune_epochs, "finetune")
    elif method == "atlif":
        lam_t = 1e-4 if lam is None else float(lam)
        model = to_atlif(model, lam_t)
        steps.append(f"AT-LIF neurons (λ_t = {lam_t:g})")
        hist = ft(model, finetune_epochs, "finetune[atlif]")
        stats = {"theta": {n: float(m.threshold) for n, m in model.named_modules() if isinstance(m, ATLIF)}}
    elif method == "criticality-unstructured":
        from .unstructured import prune_during_training
        r = default_regen_ratio(ratio) if regen_ratio is None else float(regen_ratio)
        h = prune_during_training(model, data, finetune_epochs, float(ratio), r, regen, T, lr=preset["lr"],
                                  optimizer=preset["optimizer"], batch_size=batch_size, seed=seed,
                                  weight_decay=preset["weight_decay"], n_prune=n_prune, progress=progress,
                                  encoding=encoding)
        steps.append(f"gradual magnitude pruning to {ratio:g} with {regen} regeneration r = {r:g} "
                     f"({len(h.events)} pruning points), SGD momentum 0.9 cosine, {finetune_epochs} epoch(s)")
        hist = h.to_dict()
        stats = {"events": h.events, "regen_ratio": r}
    elif method == "criticality-structured":
        ft(model, finetune_epochs, "slimming", bn_l1=BN_L1)
        if steps:
            steps[-1] = "network-slimming " + steps[-1] + f" + L1 {BN_L1:g} on BN gamma"
        stats = _structured_criticality(model, data, float(ratio), regen_ratio, T, calib, protect, log, encoding)
        steps.append(f"one-shot global |gamma| prune to {ratio:g} (s~ = {stats['s_tilde']:.3f}), "
                     f"{stats['regrown']} channels regrown by criticality")
        hist = ft(model, finetune_epochs, "finetune", bn_l1=BN_L1)
    elif method == "magnitude":
        from .unstructured import magnitude_prune
        stats = magnitude_prune(model, float(ratio))
        steps.append(f"one-shot global magnitude prune to {ratio:g}")
        hist = ft(model, finetune_epochs, "finetune")
    elif method == "l1":
        stats = prune_channels(model, "l1", share, protect, seed) if _any(share) else {}
        steps.append(f"prune {_share_text(share)} of the channels per layer by filter L1 norm")
        hist = ft(model, finetune_epochs, "finetune")
    model.eval()
    after = measure(model, data, T, measure_samples, profile, measure_spikes)
    return CompressResult(model, method, before, after, steps, stats, hist)


def _any(share) -> bool:
    return any(share.values()) if isinstance(share, dict) else bool(share)


def _share_text(share) -> str:
    if isinstance(share, dict):
        return "(" + ", ".join(f"{k} {v:g}" for k, v in share.items()) + ")"
    return f"{share:g}"


def dataset_for(model: nn.Module, data):
    """``data`` reshaped to the model's input shape (flat digits for an MLP and so on)."""
    shape = tuple(getattr(model, "input_shape", data.input_shape))
    if shape == tuple(data.input_shape):
        return data
    if int(np.prod(shape)) != int(np.prod(data.input_shape)):
        raise CompressError(f"the model expects inputs of shape {shape}, the data '{data.name}' has "
                            f"{tuple(data.input_shape)}")
    return dataclasses.replace(data, x_train=data.x_train.reshape((-1,) + shape),
                               x_test=data.x_test.reshape((-1,) + shape), input_shape=shape)


__all__ = ["METHODS", "CompressError", "CompressResult", "compress", "check_options", "check_model",
           "prune_channels", "prunable_groups", "layer_ratio_map", "PER_LAYER", "measure", "save_compressed", "describe", "build_compressed", "to_atlif", "default_regen_ratio",
           "dataset_for"]
