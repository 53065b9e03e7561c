"""Criticality scores of spiking neurons (ALGORITHMS §2.2, Eq. 13a/13b).

For a neuron n (an FC unit, or one (c, y, x) position of a conv feature map)::

    C(n) = (1/N) Σ_k (1/T) Σ_t h'( u_n^(k)[t] - V_th )            (13a)
    C(S) = Agg_{n ∈ S} C(n)                                         (13b)

``u`` is the pre-reset membrane (the neurons' ``last_v`` with ``record=True``),
``V_th`` the module's threshold and ``h'`` the arctan surrogate derivative
``(α/2) / (1 + ((π/2)·α·x)²)`` with α = 2 (A8) — independent of the surrogate the
network was trained with (pass ``surrogate='module'`` to use each neuron's own).

Aggregation: an FC neuron is its own structure; a conv channel scores the **max
over H×W of the per-position averages** (average over samples and time first).
A synapse ``w[o, ...]`` scores as its post-synaptic channel/unit ``o`` (A12);
ties inside a channel are broken by ``|w|`` (see ``rank_desc``).

Use ``CriticalityMeter`` during training (``mode='last'`` keeps only the latest
forward, i.e. the last mini-batch before a pruning step, §2.4) or ``collect`` /
``channel_criticality`` on calibration data (eval mode, no grad, §2.5).
"""
from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from typing import Dict, Iterable, Optional

import torch
from torch import nn

from ..data.encoding import encode
from ..nn.neurons import SpikingNeuron
from ..nn.layers import TimeDistributed
from ..nn.surrogate import get_surrogate
from .masks import pick_modules

MODES = ("last", "sum")
AGGREGATIONS = ("max", "mean")


def neuron_modules(model: nn.Module) -> "OrderedDict[str, SpikingNeuron]":
    """Every spiking neuron module of ``model`` by its module path (registration order)."""
    return OrderedDict((n, m) for n, m in model.named_modules() if isinstance(m, SpikingNeuron))


def aggregate(scores: torch.Tensor, agg: str = "max") -> torch.Tensor:
    """Per-neuron scores ``[C]`` or ``[C, *spatial]`` to per-structure scores ``[C]`` (Eq. 13b).

    1-D (FC): identity. Otherwise the max (default) or mean over all non-channel dims.
    """
    if agg not in AGGREGATIONS:
        raise ValueError(f"agg must be one of {list(AGGREGATIONS)}, got {agg!r}")
    if scores.dim() <= 1:
        return scores.clone()
    flat = scores.reshape(scores.shape[0], -1)
    return flat.amax(1) if agg == "max" else flat.mean(1)


class CriticalityMeter:
    """Accumulate ``h'(u - V_th)`` per neuron with forward hooks on every neuron module.

    ``mode='last'``: each forward of a neuron replaces its accumulator (N = that batch);
    ``mode='sum'``: running sums over all forwards until ``reset()``. Hooks set
    ``record=True`` on the neurons (restored by ``remove()``) and drop the recorded
    tensors after reading them when the module was not recording before.
    ``enabled`` (or the ``paused()`` context) switches accumulation off, e.g. during
    evaluation. Usable as a context manager (``remove()`` on exit).
    """

    def __init__(self, model: nn.Module, surrogate="arctan", alpha: Optional[float] = 2.0,
                 mode: str = "last", modules: Optional[Iterable[str]] = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        self.mode = mode
        self._enabled = True
        if surrogate == "module":
            self._h = None
        else:
            kw = {} if alpha is None else {"alpha": float(alpha)}
            self._h = get_surrogate(surrogate, **kw)
        allm = neuron_modules(model)
        if modules is not None:
            allm = pick_modules(allm, modules, "neuron modules")
        if not allm:
            raise ValueError("the model has no spiking neuron modules (snn2hw.nn IF/LIF/CubaLIF/ATLIF)")
        self.neurons = allm
        self._sum: Dict[str, torch.Tensor] = {}
        self._count: Dict[str, int] = {}
        self._was_recording = {n: m.record for n, m in allm.items()}
        self._handles = []
        for name, m in allm.items():
            m.record = True
            self._handles.append(m.register_forward_hook(self._hook(name)))

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        """Switch accumulation (and the neurons' recording, unless they recorded before)."""
        self._enabled = bool(value)
        if self._handles:
            for n, m in self.neurons.items():
                m.record = self._enabled or self._was_recording[n]

    # ------------------------------------------------------------------ hooks
    def derivative(self, module: SpikingNeuron, x: torch.Tensor) -> torch.Tensor:
        """``h'(x)`` of this meter's surrogate (or the module's own for ``'module'``)."""
        return module.surrogate_derivative(x) if self._h is None else self._h.derivative(x)

    def _hook(self, name: str):
        def hook(module, inputs, output):
            v = module.last_v
            if self.enabled and v is not None:
                self._add(name, module, v)
            if not self._was_recording[name]:      # free the recorded tensors
                module.last_v = None
                module.last_s = None
                if hasattr(module, "last_i"):
                    module.last_i = None
        return hook

    def _add(self, name: str, module: SpikingNeuron, v: torch.Tensor) -> None:
        with torch.no_grad():
            hp = self.derivative(module, v.detach() - module.threshold)   # [T, B, ...]
            per_sample = hp.mean(0)                                        # [B, ...]
            s = per_sample.sum(0).to(torch.float64)
            b = int(per_sample.shape[0])
        if self.mode == "last" or name not in self._sum:
            self._sum[name], self._count[name] = s, b
        else:
            self._sum[name] = self._sum[name] + s
            self._count[name] += b

    # ------------------------------------------------------------------ results
    def reset(self) -> None:
        self._sum.clear()
        self._count.clear()

    @property
    def num_samples(self) -> Dict[str, int]:
        return dict(self._count)

    def neuron_scores(self) -> "OrderedDict[str, torch.Tensor]":
        """``C(n)`` (Eq. 13a) per neuron module: float tensors of the neuron's feature shape."""
        return OrderedDict((n, (self._sum[n] / self._count[n]).float())
                           for n in self.neurons if n in self._sum)

    def channel_scores(self, agg: str = "max") -> "OrderedDict[str, torch.Tensor]":
        """``C(S)`` (Eq. 13b) per neuron module: ``[C]`` (FC unit or conv channel)."""
        return OrderedDict((n, aggregate(s, agg)) for n, s in self.neuron_scores().items())

    @contextmanager
    def paused(self):
        prev, self.enabled = self.enabled, False
        try:
            yield self
        finally:
            self.enabled = prev

    def remove(self) -> None:
        """Remove the hooks and restore the neurons' ``record`` flags (scores are kept)."""
        for h in self._handles:
            h.remove()
        self._handles = []
        for n, m in self.neurons.items():
            m.record = self._was_recording[n]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def collect(model: nn.Module, x_calib, T: int, surrogate="arctan", alpha: Optional[float] = 2.0,
            batch_size: int = 256, encoding: str = "direct", seed: int = 0,
            eval_mode: bool = True) -> "OrderedDict[str, torch.Tensor]":
    """Per-neuron criticality ``C(n)`` (Eq. 13a) over a calibration set ``x_calib [N, ...]``.

    Runs the model on ``encode(x, T)`` in batches, in eval mode by default (BN
    running statistics, A: §2.5), no grad; the train/eval mode is restored.
    Returns ``{neuron module path: scores of the neuron's feature shape}``.
    """
    x = torch.as_tensor(x_calib)
    x = x if x.is_floating_point() else x.float()
    if len(x) == 0:
        raise ValueError("x_calib is empty")
    device = _device_of(model)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    was_training = model.training
    model.train(not eval_mode)
    meter = CriticalityMeter(model, surrogate, alpha, mode="sum")
    try:
        for i in range(0, len(x), batch_size):
            model(encode(x[i:i + batch_size].to(device), T, encoding, generator=gen))
    finally:
        meter.remove()
        model.train(was_training)
    return meter.neuron_scores()


def neuron_node_names(model: nn.Module, graph=None) -> Dict[str, str]:
    """``{neuron module path: IR neuron node name}`` of ``snn2hw.from_module(model)``.

    The converter names a neuron node by its module path; a path missing from the
    graph (e.g. a neuron module called twice) is left out.
    """
    if graph is None:
        from ..frontends.torch_fx import from_module
        graph = from_module(model)
    from ..ir import nodes as N
    out = {}
    for path in neuron_modules(model):
        node = graph.nodes.get(path)
        if isinstance(node, N.Neuron) and not getattr(node, "readout", False):
            out[path] = path
    return out


def channel_criticality(model: nn.Module, x_calib, T: int, surrogate="arctan",
                        alpha: Optional[float] = 2.0, agg: str = "max", batch_size: int = 256,
                        encoding: str = "direct", graph=None) -> Dict[str, torch.Tensor]:
    """Structured criticality (ALGORITHMS §2.5 step 3): ``{IR neuron node name: scores[C]}``.

    Channel score = max over H×W of the per-position averages over the calibration
    samples and T (Eq. 13b); FC units score themselves. Keys are the neuron node
    names of ``snn2hw.from_module(model)`` (the module paths, e.g. ``'sn0'``,
    ``'layer1.0.sn1'``); CPU tensors (``np.asarray`` works, as StructuredPrunePass wants);
    pass ``graph`` to reuse an already converted graph.
    """
    names = neuron_node_names(model, graph)
    scores = collect(model, x_calib, T, surrogate, alpha, batch_size, encoding)
    return {names[p]: aggregate(s, agg).cpu() for p, s in scores.items() if p in names}


# ---------------------------------------------------------------------- synapses
def _weight_layer_ir_names(model: nn.Module) -> Dict[str, str]:
    """``{module path of a Conv2d/Linear: the IR node name the converter gives it}``."""
    out = {}
    for path, m in model.named_modules():
        if isinstance(m, TimeDistributed):
            for i, inner in enumerate(m.inner):
                if isinstance(inner, (nn.Conv2d, nn.Linear)):
                    out[f"{path}.inner.{i}" if path else f"inner.{i}"] = f"{path}.{i}" if path else str(i)
        elif isinstance(m, (nn.Conv2d, nn.Linear)) and path not in out:
            out[path] = path
    return out


def _owners_from_graph(model: nn.Module, graph) -> Dict[str, Optional[str]]:
    from ..ir import nodes as N
    neuron_paths = set(neuron_modules(model))
    out = {}
    for path, irname in _weight_layer_ir_names(model).items():
        if irname not in graph.nodes:
            continue
        owner, frontier, seen = None, [irname], {irname}
        while frontier and owner is None:
            nxt = []
            for name in frontier:
                for s in graph.successors(name):
                    if s in seen:
                        continue
                    seen.add(s)
                    node = graph.nodes[s]
                    if isinstance(node, N.Neuron):
                        if s in neuron_paths:
                            owner = s
                            break
                    elif isinstance(node, (N.BatchNorm, N.Add, N.AvgPool2d)):
                        nxt.append(s)   # channel-preserving on the way to the neuron
                if owner is not None:
                    break
            frontier = nxt
        out[path] = owner
    return out


def _owners_by_order(model: nn.Module) -> Dict[str, Optional[str]]:
    """Fallback: the next neuron module in registration order (``None`` for the last layer)."""
    out, pending = {}, []
    weights = set(_weight_layer_ir_names(model))
    for path, m in model.named_modules():
        if path in weights:
            pending.append(path)
        elif isinstance(m, SpikingNeuron):
            for p in pending:
                out[p] = path
            pending = []
    for p in pending:
        out[p] = None
    return out


def synapse_owners(model: nn.Module, graph=None) -> Dict[str, Optional[str]]:
    """``{Conv2d/Linear module path: post-synaptic neuron module path or None}`` (A12).

    Found on the converted IR graph: the first neuron reached from the layer's
    node through BatchNorm / Add / AvgPool nodes (so a ResNet's conv2 and its
    1×1 shortcut conv both feed ``sn2``). ``None`` when no neuron follows (the
    classifier). Falls back to registration order when the model cannot be
    converted.
    """
    if graph is None:
        from ..errors import UnsupportedModuleError
        from ..frontends.torch_fx import from_module
        try:
            graph = from_module(model)
        except (UnsupportedModuleError, ValueError, TypeError):
            return _owners_by_order(model)
    return _owners_from_graph(model, graph)


def synapse_scores(model: nn.Module, channel_scores: Dict[str, torch.Tensor],
                   layers: Optional[Iterable[str]] = None, owners=None,
                   missing: float = float("-inf")) -> Dict[str, torch.Tensor]:
    """Per-synapse criticality: ``score[o, ...] = channel_scores[owner][o]`` (A12).

    ``layers``: Conv2d/Linear module paths (default: every one with an owner).
    A layer without a scored post-synaptic neuron gets ``missing`` everywhere.
    """
    owners = synapse_owners(model) if owners is None else owners
    mods = dict(model.named_modules())
    out = {}
    for path in (layers if layers is not None else [p for p, o in owners.items() if o is not None]):
        w = mods[path].weight
        owner = owners.get(path)
        c = channel_scores.get(owner) if owner is not None else None
        if c is None or c.numel() != w.shape[0]:
            out[path] = torch.full(w.shape, missing, dtype=torch.float64, device=w.device)
        else:
            c = c.to(device=w.device, dtype=torch.float64)
            out[path] = c.reshape((-1,) + (1,) * (w.dim() - 1)).expand(w.shape).clone()
    return out


def rank_desc(primary: torch.Tensor, secondary: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Indices of a flat tensor sorted by ``primary`` descending, ties by ``secondary``
    descending (then by index, ascending): the synapse ranking with ``|w|`` tie-break."""
    primary = primary.reshape(-1)
    if secondary is None:
        return torch.sort(primary, descending=True, stable=True).indices
    order = torch.sort(secondary.reshape(-1), descending=True, stable=True).indices
    return order[torch.sort(primary[order], descending=True, stable=True).indices]


__all__ = ["CriticalityMeter", "collect", "channel_criticality", "aggregate", "neuron_modules",
           "neuron_node_names", "synapse_owners", "synapse_scores", "rank_desc", "MODES",
           "AGGREGATIONS"]
