"""Singular-value spike scores (SVS, QP-SNN Eq. 11-13, ALGORITHMS §3.4) for structured pruning.

For every spiking layer with feature maps, channel ``f`` and calibration sample ``b``::

    S_avg = (1/T) Σ_t S_f[t]                 # the H×W firing-rate map of the channel (entries k/T)
    score_b = #{ i : σ_i(S_avg) > eps }       # numerical rank, eps = 1e-6
    Score_f = mean over samples of score_b

The spikes are taken at the neuron output, before any pooling (assumption A19;
the authors' code hooks the pool output after max-pooled convs). Singular values
are computed batched (``torch.linalg.svdvals`` over ``[B, C, H, W]``, float64).
Layers whose neurons are vectors (Dense layers) have no H×W map and are skipped.

``svs_scores(model_or_graph, x_calib, T)`` returns ``{layer: scores[C]}`` keyed by
neuron module names (a torch model) or neuron node names (a Graph); the
torch front end names neuron nodes after their modules, so the same dict drives
:class:`snn2hw.passes.structured_prune.StructuredPrunePass` on the converted graph.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
from torch import nn

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph


def spike_map_ranks(spikes: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Numerical ranks ``[B, C]`` of the T-averaged maps of ``spikes`` ``[T, B, C, H, W]``."""
    if spikes.dim() != 5:
        raise ValueError(f"spikes must be [T, B, C, H, W], got shape {tuple(spikes.shape)}")
    avg = spikes.to(torch.float64).mean(0)
    sv = torch.linalg.svdvals(avg)  # [B, C, min(H, W)]
    return (sv > eps).sum(-1)


def svs_from_spikes(spikes: torch.Tensor, eps: float = 1e-6) -> np.ndarray:
    """SVS score per channel (``[C]``, mean rank over the batch) of ``spikes`` ``[T, B, C, H, W]``."""
    return spike_map_ranks(spikes, eps).to(torch.float64).mean(0).cpu().numpy()


LAYOUTS = ("auto", "time_major", "sample_major")


def _time_major(x, input_shape: tuple, T: int, layout: str = "auto") -> torch.Tensor:
    """Calibration inputs as ``[T, B, *input_shape]``.

    ``[B, *input_shape]``: static images, repeated over the T steps (direct encoding).
    ``[T, B, *input_shape]`` (``layout='time_major'``) is used as is; ``[B, T, *input_shape]``
    (``layout='sample_major'``: event frames as a :class:`~snn2hw.data.Dataset` holds them, ``x_train[:n]``)
    is transposed. ``'auto'`` takes the axis of length T as time: dimension 0 if it has T entries (so
    ``[T, T, ...]`` is read time-major), else dimension 1; pass the layout when B may equal T.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    x = torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    nd = len(input_shape)
    if x.dim() == nd + 1:  # static images, direct encoding: the same frame at every step
        return x.unsqueeze(0).expand(T, *x.shape)
    if x.dim() == nd + 2:
        if layout == "auto":
            layout = "time_major" if x.shape[0] == T or x.shape[1] != T else "sample_major"
        axis = 0 if layout == "time_major" else 1
        if x.shape[axis] != T:
            raise ValueError(f"x_calib has {x.shape[axis]} time steps in dimension {axis} ({layout}), T = {T}")
        return x if axis == 0 else x.transpose(0, 1)
    raise ValueError(f"x_calib must be [B, *{tuple(input_shape)}], [T, B, *{tuple(input_shape)}] or "
                     f"[B, T, *{tuple(input_shape)}] (event frames), got shape {tuple(x.shape)}")


class _Acc:
    def __init__(self):
        self.sums, self.count = {}, {}

    def add(self, name: str, spikes: torch.Tensor, eps: float):
        r = spike_map_ranks(spikes, eps).to(torch.float64).sum(0)
        self.sums[name] = self.sums.get(name, 0) + r
        self.count[name] = self.count.get(name, 0) + spikes.shape[1]

    def result(self) -> dict:
        return {k: (self.sums[k] / self.count[k]).cpu().numpy() for k in self.sums}


def svs_scores(model_or_graph: Union[nn.Module, Graph], x_calib, T: int, eps: float = 1e-6,
               batch_size: Optional[int] = 64, layout: str = "auto") -> dict:
    """``{layer: scores[C]}`` (float64 numpy) for every spiking layer with ``[C, H, W]`` outputs.

    ``x_calib``: ``[B, *input_shape]`` (repeated over ``T`` steps), ``[T, B, *input_shape]`` or event frames
    ``[B, T, *input_shape]`` (``layout``: see :func:`_time_major`; ``'sample_major'`` when B may equal T).
    A torch model runs in eval mode without gradients; a Graph runs in the float reference
    simulator. ``batch_size`` samples are processed at a time.
    """
    if int(T) < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    acc = _Acc()
    if isinstance(model_or_graph, Graph):
        from snn2hw.simulators.reference import simulate
        g = model_or_graph
        g.infer_shapes()
        (inp,) = g.inputs
        x = _time_major(x_calib, g.nodes[inp].shape, int(T), layout)
        layers = [n for n, node in g.nodes.items() if isinstance(node, N.Neuron) and not node.readout
                  and node.output_shape is not None and len(node.output_shape) == 3]
        bs = x.shape[1] if not batch_size else int(batch_size)
        for i in range(0, x.shape[1], bs):
            res = simulate(g, x[:, i:i + bs], mode="float", record=["spikes"])
            for n in layers:
                acc.add(n, res.record["spikes"][n], eps)
        return acc.result()
    from snn2hw.nn.neurons import SpikingNeuron
    model = model_or_graph
    shape = getattr(model, "input_shape", None)
    x = torch.as_tensor(np.asarray(x_calib)) if not isinstance(x_calib, torch.Tensor) else x_calib
    if shape is None:  # assume [B, ...] static input
        shape = tuple(x.shape[1:])
    x = _time_major(x, tuple(shape), int(T), layout)
    dtype = next((p.dtype for p in model.parameters()), torch.float32)
    handles = []

    def hook(name):
        def fn(_m, _inp, out):
            if isinstance(out, torch.Tensor) and out.dim() == 5:
                acc.add(name, (out != 0).to(torch.float64), eps)
        return fn

    for name, m in model.named_modules():
        if isinstance(m, SpikingNeuron):
            handles.append(m.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        bs = x.shape[1] if not batch_size else int(batch_size)
        with torch.no_grad():
            for i in range(0, x.shape[1], bs):
                model(x[:, i:i + bs].to(dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return acc.result()


__all__ = ["svs_scores", "svs_from_spikes", "spike_map_ranks"]
