"""Fine-tuning after compression, with each paper's optimizer choice (ALGORITHMS §2.4, §3.5).

``finetune(model, dataset, epochs, ...)`` trains ``model`` in place with the
``snn2hw.train`` conventions (CE of the time-mean readout, cosine LR over all
steps, seeded shuffling, AT-LIF threshold adaptation after each step) plus:

* ``optimizer='adam'`` (QP-SNN fine-tune: lr 1e-3, weight decay 1e-5 **on conv
  weights only**, as the authors' code does) or ``'sgd'`` (criticality paper:
  momentum 0.9, weight decay on every weight);
* pruning masks stay fixed: a ``snn2hw.compress.masks.MaskKeeper`` re-zeroes masked
  weights and their optimizer state after every step;
* ``bn_l1``: the Network-Slimming sub-gradient ``λ·sign(γ)`` added to every
  BatchNorm scale's gradient (criticality structured, Eq. 16);
* a tqdm progress bar (``progress=True``).

``PRESETS`` holds the papers' defaults per compression method.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Optional

import torch
from torch import nn

from ..data.dataset import Dataset
from ..data.encoding import ENCODINGS
from ..nn.neurons import ATLIF
from .loop import History, _tensor, evaluate, event_setup, progress_bar, train_epoch

OPTIMIZERS = ("adam", "sgd")
DECAY_ON = ("conv", "all")

#: per method: optimizer, lr, weight decay, which weights decay
PRESETS = {
    "qp-snn": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-5, "decay_on": "conv"},
    "criticality-unstructured": {"optimizer": "sgd", "lr": 2e-2, "weight_decay": 1e-4, "decay_on": "all"},
    "criticality-structured": {"optimizer": "sgd", "lr": 2e-2, "weight_decay": 1e-4, "decay_on": "all"},
    "atlif": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "decay_on": "all"},
    "magnitude": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "decay_on": "all"},
    "l1": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "decay_on": "all"},
}


def make_optimizer(model: nn.Module, optimizer: str = "adam", lr: float = 1e-3, weight_decay: float = 0.0,
                   decay_on: str = "all", momentum: float = 0.9) -> torch.optim.Optimizer:
    """Adam or SGD (momentum 0.9). ``decay_on='conv'``: weight decay only on Conv2d weights;
    AT-LIF thresholds never decay."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    if decay_on not in DECAY_ON:
        raise ValueError(f"decay_on must be one of {list(DECAY_ON)}, got {decay_on!r}")
    thetas = {id(m.theta) for m in model.modules() if isinstance(m, ATLIF)}
    conv_w = {id(m.weight) for m in model.modules() if isinstance(m, nn.Conv2d)}
    decay, no_decay = [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        if id(p) in thetas or (decay_on == "conv" and id(p) not in conv_w):
            no_decay.append(p)
        else:
            decay.append(p)
    groups = [g for g in ({"params": decay, "weight_decay": float(weight_decay)},
                          {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    if optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=momentum)


def finetune(model: nn.Module, dataset: Dataset, epochs: int, T: int = 4, optimizer: str = "adam",
             lr: float = 1e-3, weight_decay: float = 1e-5, decay_on: str = "conv", batch_size: int = 64,
             seed: int = 0, encoding: str = "direct", bn_l1: float = 0.0,
             extra_loss: Optional[Callable[[nn.Module], torch.Tensor]] = None,
             progress: bool = True, eval_every: int = 1, desc: str = "finetune") -> History:
    """Fine-tune ``model`` in place; returns its ``History`` (see the module docstring)."""
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    T, encoding = event_setup(dataset, T, encoding)   # event data: its own frames
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; valid: {', '.join(ENCODINGS)}")
    from ..compress.masks import MaskKeeper, apply_masks, masked_layers
    torch.manual_seed(seed)
    p0 = next(model.parameters())
    device = p0.device
    x, y = _tensor(dataset.x_train, torch.float32), _tensor(dataset.y_train, torch.long)
    n = len(x)
    steps = math.ceil(n / batch_size)
    opt = make_optimizer(model, optimizer, lr, weight_decay, decay_on)
    keeper = MaskKeeper(model, opt) if masked_layers(model) else None
    if keeper is not None:
        apply_masks(model, opt)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)
    atlifs = [m for m in model.modules() if isinstance(m, ATLIF)]
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None]

    def bn_l1_step():  # network slimming's sub-gradient of bn_l1 * sum |gamma| (ALGORITHMS.md §2.5)
        with torch.no_grad():
            for m in bns:
                if m.weight.grad is not None:
                    m.weight.grad.add_(bn_l1 * torch.sign(m.weight))
    shuffle_gen = torch.Generator().manual_seed(seed)
    enc_gen = torch.Generator(device=device)
    enc_gen.manual_seed(seed + 1)
    hist = History()
    t0 = time.perf_counter()
    bar = progress_bar(epochs * steps, progress, desc)
    try:
        for epoch in range(epochs):
            train_epoch(model, opt, sched, x, y, batch_size, T, encoding, shuffle_gen, enc_gen, extra_loss, atlifs,
                        hist, epoch, bar, before_step=bn_l1_step if bn_l1 else None)
            if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
                hist.test_acc.append(evaluate(model, dataset.x_test, dataset.y_test, T, encoding, seed=seed))
    finally:
        if keeper is not None:
            keeper.remove()
        if bar is not None:
            bar.close()
    hist.seconds = time.perf_counter() - t0
    return hist


__all__ = ["finetune", "make_optimizer", "PRESETS", "OPTIMIZERS"]
