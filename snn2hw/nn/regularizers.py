"""Activity regularizers added to the task loss, ``L = CE + λ·R`` (ALGORITHMS §1.4).

For layer l with output ``o_l[t]`` (``θ_l·s_l[t]`` for AT-LIF, ``s_l[t]`` otherwise),
over a batch of B samples, N_l neurons, T steps:

* ``'ar'``    (AT-LIF code ``regularize_spike``): ``R = Σ_l Σ_t mean_{b,i} o_l[t]``
* ``'l1'``    (Deng et al. 2021, assumption A7):  ``R = Σ_l (1/(T·N_l)) Σ_t Σ_i s_l[t]``,
  averaged over the batch (the sum over layers of the mean firing rate)
* ``'hoyer'`` (Narduzzi et al. 2022, A6): per layer and sample, over all (t, i),
  ``R_H(x) = (Σ|x|)² / (Σx² + ε)``, ε = 1e-8; summed over layers, mean over batch.

``ActivityRegularizer(model, kind, lam)`` hooks every neuron module, keeps the
outputs of the latest training forward (with their graph) and returns ``λ·R``
when called with the model, so it plugs into ``train(..., extra_loss=reg)``.
"""
from __future__ import annotations

from typing import Dict, List

import torch
from torch import nn

from .neurons import SpikingNeuron

KINDS = ("ar", "l1", "hoyer")
HOYER_EPS = 1e-8


def ar_loss(outputs: List[torch.Tensor]) -> torch.Tensor:
    """``Σ_l Σ_t mean_{b,i} o_l[t]``; each output is ``[T, B, ...]``."""
    return sum(o.reshape(o.shape[0], -1).mean(1).sum() for o in outputs)


def l1_rate_loss(spikes: List[torch.Tensor]) -> torch.Tensor:
    """``Σ_l mean_{t,b,i} s_l`` (per-layer mean firing rate, summed)."""
    return sum(s.mean() for s in spikes)


def hoyer_loss(outputs: List[torch.Tensor], eps: float = HOYER_EPS) -> torch.Tensor:
    """``Σ_l mean_b (Σ_{t,i}|x|)² / (Σ_{t,i} x² + ε)``."""
    total = 0.0
    for o in outputs:
        x = o.transpose(0, 1).reshape(o.shape[1], -1)     # [B, T·N]
        total = total + (x.abs().sum(1) ** 2 / (x.pow(2).sum(1) + eps)).mean()
    return total


class ActivityRegularizer:
    """Collects neuron outputs during training forwards; ``reg(model) -> λ·R``."""

    def __init__(self, model: nn.Module, kind: str = "ar", lam: float = 1e-2):
        if kind not in KINDS:
            raise ValueError(f"unknown regularizer {kind!r}; valid: {', '.join(KINDS)}")
        self.kind, self.lam = kind, float(lam)
        self._outputs: Dict[int, tuple] = {}
        self._handles = [m.register_forward_hook(self._hook) for m in model.modules()
                         if isinstance(m, SpikingNeuron)]
        if not self._handles:
            raise ValueError("the model has no snn2hw.nn neuron modules to regularize")

    def _hook(self, module, inputs, output):
        if module.training and torch.is_grad_enabled():
            self._outputs[id(module)] = (module, output)

    def __call__(self, model: nn.Module = None) -> torch.Tensor:
        if not self._outputs:
            raise RuntimeError("no training forward was recorded since the last call")
        mods, outs = zip(*self._outputs.values())
        self._outputs = {}
        if self.kind == "ar":
            r = ar_loss(list(outs))
        elif self.kind == "hoyer":
            r = hoyer_loss(list(outs))
        else:
            r = l1_rate_loss([o / m.output_scale for m, o in zip(mods, outs)])
        return self.lam * r

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._outputs = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
