"""Unstructured criticality-guided pruning-regeneration (ALGORITHMS §2.3–2.4, Algorithm 1).

* Importance ``I(w) = |w|`` ranked **globally** over the prunable layers (Eq. 14;
  prunable = all Conv2d/Linear but the first and the last, A14; ``masks.prunable_layers``).
* Gradual cubic schedule (Zhu & Gupta, Eq. 15) at steps ``t0 + kΔt``, k = 0..n::

      s_k = s_f + (s_i - s_f)·(1 - k/n)³

* At a pruning point: over-prune to ``s~ = s + r(1 - s)`` (Eq. 11, A10), then regrow
  ``K = round(s~·N) - round(s·N)`` of the masked connections (all of them are
  candidates, A11), so exactly ``round(s·N)`` weights end up removed. Regrowth order
  (``regen``):

  - ``'criticality'``: the post-synaptic channel's criticality from the last training
    batch (Eq. 12, A12), ties by the stored ``|w|``;
  - ``'random'``: uniformly at random (seeded);
  - ``'gradient'``: ``|∂L/∂w|`` of the last batch, dense over the masked weights (GraNet);
  - ``'none'``: plain gradual magnitude pruning (r ignored).

  Regrown weights restore their stored values (A11; ``regrow_init='zero'`` for GraNet).
* ``prune_during_training`` runs the whole thing: the ``snn2hw.train`` loss/optimizer/
  cosine-LR conventions, pruning until ~75 % of the steps, then fine-tuning with fixed masks.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
from torch import nn

from ..data.dataset import Dataset
from ..data.encoding import ENCODINGS
from ..nn.neurons import ATLIF
from ..train.loop import History, _make_optimizer, _tensor, evaluate, progress_bar, train_step
from .criticality import CriticalityMeter, rank_desc, synapse_owners, synapse_scores
from .masks import (MaskKeeper, add_masks, apply_masks, pick_modules, prunable_layers, regrow_zero, set_mask,
                    sparsity as masked_sparsity, weight_layers)

REGEN = ("criticality", "random", "gradient", "none")
REGROW_INIT = ("restore", "zero")


# ---------------------------------------------------------------------- schedule
def cubic_sparsity(k: int, n: int, final_sparsity: float, initial_sparsity: float = 0.0) -> float:
    """Eq. 15: ``s_k = s_f + (s_i - s_f)·(1 - k/n)³`` (k clipped to 0..n; n = 0 gives s_f)."""
    if n <= 0:
        return float(final_sparsity)
    k = min(max(int(k), 0), int(n))
    return float(final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - k / n) ** 3)


@dataclass
class PruneSchedule:
    """Pruning points ``t0 + kΔt`` (in optimizer steps, counted from 1), k = 0..n."""

    t0: int
    dt: int
    n: int
    final_sparsity: float
    initial_sparsity: float = 0.0

    def __post_init__(self):
        if not 0.0 <= self.initial_sparsity <= self.final_sparsity < 1.0:
            raise ValueError(f"need 0 <= initial_sparsity <= final_sparsity < 1, got "
                             f"{self.initial_sparsity}, {self.final_sparsity}")
        if self.t0 < 1 or self.dt < 1 or self.n < 0:
            raise ValueError(f"need t0 >= 1, dt >= 1, n >= 0; got {self.t0}, {self.dt}, {self.n}")

    @property
    def steps(self) -> List[int]:
        return [self.t0 + k * self.dt for k in range(self.n + 1)]

    @property
    def last_step(self) -> int:
        return self.t0 + self.n * self.dt

    def sparsity(self, k: int) -> float:
        return cubic_sparsity(k, self.n, self.final_sparsity, self.initial_sparsity)

    def point(self, step: int) -> Optional[int]:
        """k when ``step`` is a pruning point, else None."""
        d = step - self.t0
        if d < 0 or d % self.dt or d // self.dt > self.n:
            return None
        return d // self.dt


def make_schedule(total_steps: int, final_sparsity: float, n: Optional[int] = None,
                  dt: Optional[int] = None, t0: Optional[int] = None, end_frac: float = 0.75,
                  initial_sparsity: float = 0.0) -> PruneSchedule:
    """A schedule ending at about ``end_frac`` of ``total_steps`` (A13).

    Without ``dt``: n = 10 (11 points) and ``dt = t0 = floor(end_frac·total / (n + 1))``,
    so tiny data sets (digits: 23 steps/epoch) still get ~10 pruning points. With
    ``dt`` (paper: 2000) and no ``n``: t0 = dt and n as large as fits before ``end_frac``.
    """
    total_steps = int(total_steps)
    end = int(end_frac * total_steps)
    if dt is None:
        n = 10 if n is None else int(n)
        dt = max(1, end // (n + 1))
        t0 = dt if t0 is None else int(t0)
    else:
        dt = int(dt)
        t0 = dt if t0 is None else int(t0)
        if n is None:
            n = max(0, (end - t0) // dt)
    if t0 + n * dt > total_steps:
        raise ValueError(f"the last pruning point (step {t0 + n * dt}) is after the last training "
                         f"step ({total_steps}); lower n or dt")
    return PruneSchedule(int(t0), int(dt), int(n), float(final_sparsity), float(initial_sparsity))


# ---------------------------------------------------------------------- one pruning point
def _flat(tensors: Dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1).to(torch.float64).cpu() for t in tensors.values()])


def _split(flat: torch.Tensor, like: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    out, i = {}, 0
    for k, t in like.items():
        out[k] = flat[i:i + t.numel()].reshape(t.shape)
        i += t.numel()
    return out


def global_magnitude_masks(weights: Dict[str, torch.Tensor], sparsity: float) -> Dict[str, torch.Tensor]:
    """Masks removing exactly ``round(sparsity·N)`` of the N weights with the smallest
    ``|w|``, ranked globally (ties: the earlier index is kept). Bool, on CPU."""
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    mag = _flat({k: w.detach().abs() for k, w in weights.items()})
    N = mag.numel()
    keep = N - int(round(sparsity * N))
    mask = torch.zeros(N, dtype=torch.bool)
    mask[rank_desc(mag)[:keep]] = True
    return _split(mask, weights)


def regrow(masks: Dict[str, torch.Tensor], K: int, score: Dict[str, torch.Tensor],
           tiebreak: Optional[Dict[str, torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
    """Set the top-``K`` masked entries by ``score`` (ties by ``tiebreak``) back to kept.

    Returns ``{path: bool tensor}`` of the regrown entries; ``masks`` is updated in place.
    """
    m = _flat(masks).bool()
    s = _flat(score)
    tb = None if tiebreak is None else _flat(tiebreak)
    cand = torch.nonzero(~m).reshape(-1)
    K = int(K)
    if K > cand.numel():
        raise ValueError(f"cannot regrow {K} of {cand.numel()} masked connections")
    grown = torch.zeros_like(m)
    if K > 0:
        order = rank_desc(s[cand], None if tb is None else tb[cand])
        grown[cand[order[:K]]] = True
    new = _split(m | grown, masks)
    for k in masks:
        masks[k] = new[k]
    return _split(grown, masks)


@torch.no_grad()
def prune_step(model: nn.Module, layers: Dict[str, nn.Module], target_sparsity: float,
               r: float = 0.0, regen: str = "criticality",
               channel_scores: Optional[Dict[str, torch.Tensor]] = None, owners=None,
               generator: Optional[torch.Generator] = None, regrow_init: str = "restore") -> dict:
    """One pruning point (Algorithm 1): global |w| over-pruning to ``s~ = s + r(1-s)``,
    then regrowth of ``K = round(s~·N) - round(s·N)`` masked connections; installs the
    masks (``set_mask``). ``channel_scores``: ``{neuron path: [C]}`` for 'criticality'.
    Returns ``{'sparsity', 's_tilde', 'K', 'removed', 'total'}``.
    """
    if regen not in REGEN:
        raise ValueError(f"regen must be one of {list(REGEN)}, got {regen!r}")
    if regrow_init not in REGROW_INIT:
        raise ValueError(f"regrow_init must be one of {list(REGROW_INIT)}, got {regrow_init!r}")
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"r must be in [0, 1], got {r}")
    s = float(target_sparsity)
    s_t = s if regen == "none" else s + r * (1.0 - s)
    weights = {p: m.weight.detach() for p, m in layers.items()}
    N = sum(w.numel() for w in weights.values())
    K = int(round(s_t * N)) - int(round(s * N))
    masks = global_magnitude_masks(weights, s_t)
    if K > 0:
        stored = {p: torch.where(m.weight_mask != 0, m.weight, m.weight_stash).abs()
                  for p, m in layers.items()}
        if regen == "criticality":
            if channel_scores is None:
                raise ValueError("regen='criticality' needs channel_scores (a CriticalityMeter's)")
            score = synapse_scores(model, channel_scores, list(layers), owners)
            tie = stored
        elif regen == "gradient":
            missing = [p for p, m in layers.items() if m.weight.grad is None]
            if missing:
                raise ValueError(f"regen='gradient' needs the last batch's gradients; none for {missing}")
            score = {p: m.weight.grad.abs() for p, m in layers.items()}
            tie = stored
        else:  # random
            score = {p: torch.rand(m.weight.shape, generator=generator, dtype=torch.float64)
                     for p, m in layers.items()}
            tie = None
        grown = regrow(masks, K, score, tie)
    else:
        grown = None
    for p, m in layers.items():
        was_masked = (m.weight_mask == 0).cpu()
        set_mask(m, masks[p])
        if grown is not None and regrow_init == "zero":
            regrow_zero(m, grown[p] & was_masked)
    removed = sum(int((~masks[p]).sum()) for p in layers)
    return {"sparsity": s, "s_tilde": s_t, "K": K, "removed": removed, "total": N}


def _resolve_layers(model: nn.Module, layers) -> Dict[str, nn.Module]:
    if layers is None:
        layers = prunable_layers(model)
    elif not isinstance(layers, dict):
        layers = pick_modules(weight_layers(model), layers, "Conv2d/Linear modules")
    if not layers:
        raise ValueError("no prunable layers (by default the first and the last Conv2d/Linear are "
                         "kept dense; pass layers=[...] to choose)")
    return add_masks(model, layers)


def magnitude_prune(model: nn.Module, sparsity: float, layers=None) -> dict:
    """One-shot global magnitude pruning of ``layers`` (default ``prunable_layers``)."""
    layers = _resolve_layers(model, layers)
    return prune_step(model, layers, sparsity, 0.0, "none")


# ---------------------------------------------------------------------- training driver
@dataclass
class PruneHistory(History):
    """``History`` plus the sparsity after each epoch and one record per pruning point."""

    sparsity: List[float] = field(default_factory=list)
    events: List[dict] = field(default_factory=list)
    schedule: Optional[dict] = None

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.update(sparsity=self.sparsity, events=self.events, schedule=self.schedule)
        return d


def prune_during_training(model: nn.Module, dataset: Dataset, epochs: int, final_sparsity: float,
                          r: float = 0.2, regen: str = "criticality", T: int = 4, *,
                          lr: float = 1e-2, optimizer: str = "adam", batch_size: int = 64,
                          seed: int = 0, encoding: str = "direct", weight_decay: float = 0.0,
                          initial_sparsity: float = 0.0, n_prune: Optional[int] = None,
                          dt: Optional[int] = None, t0: Optional[int] = None,
                          end_frac: float = 0.75, layers=None, surrogate="arctan",
                          alpha: Optional[float] = 2.0, regrow_init: str = "restore",
                          extra_loss: Optional[Callable[[nn.Module], torch.Tensor]] = None,
                          progress: bool = True, eval_every: int = 1) -> PruneHistory:
    """Train ``model`` in place with gradual pruning-regeneration (Algorithm 1).

    Loss, optimizer ('adam' | 'sgd' momentum 0.9), cosine LR over all steps, AT-LIF
    threshold adaptation and seeding follow ``snn2hw.train.train``. Pruning at steps
    ``t0 + kΔt`` (``make_schedule``: default 11 points ending at ``end_frac`` of the
    steps); masks are re-applied to weights and optimizer state after every step and
    stay fixed after the last pruning point (fine-tuning). Criticality comes from the
    training batch of the pruning step itself (mode 'last'). The masks stay on the
    model as ``weight_mask`` buffers (``snn2hw.from_module`` carries them to the IR).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; valid: {', '.join(ENCODINGS)}")
    if regen not in REGEN:
        raise ValueError(f"regen must be one of {list(REGEN)}, got {regen!r}")
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    layers = _resolve_layers(model, layers)
    x, y = _tensor(dataset.x_train, torch.float32), _tensor(dataset.y_train, torch.long)
    n = len(x)
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    sched_p = make_schedule(total, final_sparsity, n_prune, dt, t0, end_frac, initial_sparsity)
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    keeper = MaskKeeper(model, opt)
    lr_sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    atlifs = [m for m in model.modules() if isinstance(m, ATLIF)]
    shuffle_gen = torch.Generator().manual_seed(seed)
    enc_gen = torch.Generator(device=device)
    enc_gen.manual_seed(seed + 1)
    regen_gen = torch.Generator().manual_seed(seed + 2)
    meter = CriticalityMeter(model, surrogate, alpha, mode="last") if regen == "criticality" else None
    owners = synapse_owners(model) if regen == "criticality" else None
    if meter is not None:
        meter.enabled = False
    hist = PruneHistory(schedule={"t0": sched_p.t0, "dt": sched_p.dt, "n": sched_p.n,
                                  "steps": sched_p.steps, "total_steps": total})
    start = time.perf_counter()
    bar = progress_bar(total, progress, f"prune[{regen}]")
    step = 0
    try:
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=shuffle_gen)
            tot_loss, tot_correct = 0.0, 0
            for i in range(0, n, batch_size):
                step += 1
                k = sched_p.point(step)
                if meter is not None:
                    meter.enabled = k is not None
                    meter.reset()
                idx = perm[i:i + batch_size]
                xb, yb = x[idx].to(device), y[idx].to(device)
                # MaskKeeper re-applies the masks after the optimizer step
                loss, logits, cur_lr = train_step(model, opt, lr_sched, xb, yb, T, encoding, enc_gen, extra_loss,
                                                  atlifs)
                if k is not None:
                    s_k = sched_p.sparsity(k)
                    info = prune_step(model, layers, s_k, r, regen,
                                      meter.channel_scores() if meter is not None else None,
                                      owners, regen_gen, regrow_init)
                    apply_masks(layers, opt)
                    info.update(step=step, k=k, epoch=epoch + 1)
                    hist.events.append(info)
                tot_loss += float(loss.detach()) * len(idx)
                tot_correct += int((logits.detach().argmax(1) == yb).sum())
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{float(loss.detach()):.3f}",
                                    sparsity=f"{masked_sparsity(model, layers):.3f}")
            hist.loss.append(tot_loss / n)
            hist.train_acc.append(tot_correct / n)
            hist.lr.append(cur_lr)
            hist.sparsity.append(masked_sparsity(model, layers))
            if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
                if meter is not None:
                    meter.enabled = False
                hist.test_acc.append(evaluate(model, dataset.x_test, dataset.y_test, T, encoding,
                                              seed=seed))
    finally:
        keeper.remove()
        if meter is not None:
            meter.remove()
        if bar is not None:
            bar.close()
    hist.seconds = time.perf_counter() - start
    return hist


__all__ = ["REGEN", "REGROW_INIT", "cubic_sparsity", "PruneSchedule", "make_schedule",
           "global_magnitude_masks", "regrow", "prune_step", "magnitude_prune",
           "PruneHistory", "prune_during_training"]
