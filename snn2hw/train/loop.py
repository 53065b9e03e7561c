"""Train and evaluate SNNs on a ``Dataset``.

Loss: ``CE( (1/T) Σ_t out[t], y )`` (ALGORITHMS §0), optional ``extra_loss(model)``
added. Cosine LR over all optimizer steps (``CosineAnnealingLR``, T_max = steps).
After every optimizer step each ``ATLIF`` module gets
``adapt_threshold(current_lr)`` (ALGORITHMS §1.3, assumption A2: scheduled LR).
AT-LIF thresholds sit in a parameter group with weight decay 0 (A5).
Deterministic for a seed: ``torch.manual_seed(seed)``, a seeded generator for
the shuffling, and a seeded generator for rate encoding.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.dataset import Dataset
from ..data.encoding import ENCODINGS, encode
from ..nn.neurons import ATLIF

OPTIMIZERS = ("adam", "sgd")


@dataclass
class History:
    """Per-epoch mean training loss, train accuracy (on the batches seen) and test accuracy."""

    loss: List[float] = field(default_factory=list)
    train_acc: List[float] = field(default_factory=list)
    test_acc: List[float] = field(default_factory=list)
    lr: List[float] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"loss": self.loss, "train_acc": self.train_acc, "test_acc": self.test_acc,
                "lr": self.lr, "seconds": self.seconds}


def _tensor(a, dtype=None) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
    return t.to(dtype) if dtype is not None else t


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def time_mean_logits(model: nn.Module, x: torch.Tensor, T: int, encoding: str = "direct",
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``(1/T) Σ_t model(encode(x))[t]`` — the readout the loss and accuracy use."""
    return model(encode(x, T, encoding, generator=generator)).mean(0)


@torch.no_grad()
def evaluate(model: nn.Module, x, y, T: int = 4, encoding: str = "direct",
             batch_size: int = 256, seed: int = 0) -> float:
    """Top-1 accuracy of the time-mean readout, in eval mode, batched, no grad.

    The model's train/eval mode is restored afterwards.
    """
    xt, yt = _tensor(x, torch.float32), _tensor(y, torch.long)
    if len(xt) != len(yt):
        raise ValueError(f"x has {len(xt)} samples but y has {len(yt)}")
    if len(xt) == 0:
        raise ValueError("cannot evaluate on an empty set")
    device = _device_of(model)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    was_training = model.training
    model.eval()
    correct = 0
    try:
        for i in range(0, len(xt), batch_size):
            xb = xt[i:i + batch_size].to(device)
            logits = time_mean_logits(model, xb, T, encoding, gen)
            correct += int((logits.argmax(1).cpu() == yt[i:i + batch_size]).sum())
    finally:
        model.train(was_training)
    return correct / len(xt)


def _make_optimizer(model: nn.Module, optimizer: str, lr: float, weight_decay: float):
    thetas = [m.theta for m in model.modules() if isinstance(m, ATLIF)]
    ids = {id(p) for p in thetas}
    rest = [p for p in model.parameters() if id(p) not in ids and p.requires_grad]
    groups = [{"params": rest, "weight_decay": weight_decay}]
    if thetas:
        groups.append({"params": thetas, "weight_decay": 0.0})
    if optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")


def train_step(model: nn.Module, opt, sched, xb, yb, T: int, encoding: str, enc_gen, extra_loss=None,
               atlifs=(), before_step=None) -> tuple:
    """One optimisation step on a batch: CE of the time-mean readout (+ ``extra_loss(model)``),
    backward, ``before_step()`` (e.g. a gradient hook), optimizer step, AT-LIF threshold adaptation
    with the LR in effect, scheduler step. Returns ``(loss, logits, lr)``."""
    logits = time_mean_logits(model, xb, T, encoding, enc_gen)
    loss = F.cross_entropy(logits, yb)
    if extra_loss is not None:
        loss = loss + extra_loss(model)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if before_step is not None:
        before_step()
    opt.step()
    cur_lr = opt.param_groups[0]["lr"]
    for m in atlifs:
        m.adapt_threshold(cur_lr)
    sched.step()
    return loss, logits, cur_lr


def progress_bar(total: int, progress: bool, desc: str):
    """A tqdm bar over ``total`` steps (hidden unless ``progress``); on a terminal it redraws often,
    in a log file it writes a line at most every 10 s. ``None`` without tqdm."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, disable=not progress, desc=desc, leave=False,
                mininterval=0.1 if sys.stderr.isatty() else 10.0)


def train_epoch(model: nn.Module, opt, sched, x, y, batch_size: int, T: int, encoding: str, shuffle_gen, enc_gen,
                extra_loss, atlifs, hist: "History", epoch: int, bar=None, before_step=None) -> float:
    """One shuffled pass over ``(x, y)`` with :func:`train_step`; appends the epoch's loss, train
    accuracy and LR to ``hist`` and returns the LR in effect at the end."""
    model.train()
    device = _device_of(model)
    n = len(x)
    perm = torch.randperm(n, generator=shuffle_gen)
    tot_loss, tot_correct, cur_lr = 0.0, 0, opt.param_groups[0]["lr"]
    for i in range(0, n, batch_size):
        idx = perm[i:i + batch_size]
        xb, yb = x[idx].to(device), y[idx].to(device)
        loss, logits, cur_lr = train_step(model, opt, sched, xb, yb, T, encoding, enc_gen, extra_loss, atlifs,
                                          before_step)
        tot_loss += float(loss.detach()) * len(idx)
        tot_correct += int((logits.detach().argmax(1) == yb).sum())
        if bar is not None:
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{float(loss.detach()):.3f}")
    hist.loss.append(tot_loss / n)
    hist.train_acc.append(tot_correct / n)
    hist.lr.append(cur_lr)
    return cur_lr


def event_setup(dataset: Dataset, T: int, encoding: str) -> tuple:
    """``(T, encoding)`` for ``dataset``: event data (``dataset.timesteps`` set) runs its own frames,
    ``(dataset.timesteps, 'events')``, whatever was asked; other data keeps ``(T, encoding)``."""
    if getattr(dataset, "timesteps", None):
        return int(dataset.timesteps), "events"
    return T, encoding


def train(model: nn.Module, dataset: Dataset, epochs: int, T: int = 4, lr: float = 1e-3,
          optimizer: str = "adam", batch_size: int = 64, seed: int = 0,
          encoding: str = "direct", progress: bool = True, weight_decay: float = 0.0,
          extra_loss: Optional[Callable[[nn.Module], torch.Tensor]] = None,
          eval_every: int = 1) -> History:
    """Train ``model`` in place on ``dataset`` and return its ``History``.

    ``optimizer``: 'adam' (default, weight decay 0) or 'sgd' (momentum 0.9).
    ``extra_loss(model)``: an optional regularizer added to the CE loss.
    ``eval_every``: test accuracy every that many epochs (and after the last).
    Event data (``dataset.timesteps`` set) uses its own T and the ``events`` encoding (:func:`event_setup`).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    T, encoding = event_setup(dataset, T, encoding)
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; valid: {', '.join(ENCODINGS)}")
    torch.manual_seed(seed)
    device = _device_of(model)
    x, y = _tensor(dataset.x_train, torch.float32), _tensor(dataset.y_train, torch.long)
    n = len(x)
    steps_per_epoch = math.ceil(n / batch_size)
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    atlifs = [m for m in model.modules() if isinstance(m, ATLIF)]
    shuffle_gen = torch.Generator().manual_seed(seed)
    enc_gen = torch.Generator(device=device)
    enc_gen.manual_seed(seed + 1)
    hist = History()
    t0 = time.perf_counter()
    bar = progress_bar(epochs * steps_per_epoch, progress, "train")
    for epoch in range(epochs):
        train_epoch(model, opt, sched, x, y, batch_size, T, encoding, shuffle_gen, enc_gen, extra_loss, atlifs,
                    hist, epoch, bar)
        if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
            hist.test_acc.append(evaluate(model, dataset.x_test, dataset.y_test, T, encoding,
                                          seed=seed))
            if bar is not None:
                bar.set_postfix(epoch=epoch + 1, loss=f"{hist.loss[-1]:.3f}",
                                test_acc=f"{hist.test_acc[-1]:.3f}")
    if bar is not None:
        bar.close()
    hist.seconds = time.perf_counter() - t0
    return hist
