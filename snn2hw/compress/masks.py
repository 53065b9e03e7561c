"""Unstructured pruning masks on Conv2d / Linear modules.

Each masked module carries two buffers:

* ``weight_mask`` (persistent, the weight's dtype, 1 keeps / 0 removes): saved in
  the state dict and read by ``snn2hw.from_module`` into the IR node's ``mask``
  (the same name torch.nn.utils.prune uses);
* ``weight_stash`` (not persistent): the last value each weight had when it was
  kept, so a regrown connection restores its old value (ALGORITHMS §2.3, A11).

The weight parameter itself holds zeros where masked. ``apply_masks`` re-zeroes
the weights and the optimizer state (momentum, Adam moments) after a step;
``MaskKeeper`` does so automatically after every ``optimizer.step()``.

Prunable layers (A14): every Conv2d / Linear except the first one (the encoder
conv) and the last one (the classifier), configurable.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, Iterable, Optional

import torch
from torch import nn

WEIGHT_TYPES = (nn.Conv2d, nn.Linear)


def weight_layers(model: nn.Module) -> "OrderedDict[str, nn.Module]":
    """Every Conv2d / Linear by module path, in registration order."""
    return OrderedDict((n, m) for n, m in model.named_modules() if isinstance(m, WEIGHT_TYPES))


def pick_modules(available: "OrderedDict[str, nn.Module]", wanted: Iterable[str],
                 kind: str) -> "OrderedDict[str, nn.Module]":
    """``wanted`` module paths out of ``available``, in the given order; ``ValueError`` naming every
    path that is not one of ``available`` (``kind`` says what they should have been)."""
    wanted = list(wanted)
    bad = [p for p in wanted if p not in available]
    if bad:
        raise ValueError(f"not {kind} of the model: {bad}; valid: {list(available)}")
    return OrderedDict((p, available[p]) for p in wanted)


def prunable_layers(model: nn.Module, skip_first: bool = True, skip_last: bool = True,
                    include: Optional[Iterable[str]] = None,
                    exclude: Iterable[str] = ()) -> "OrderedDict[str, nn.Module]":
    """The layers unstructured pruning acts on (A14).

    Default: all Conv2d / Linear except the first (encoder) and the last
    (classifier) in registration order. ``include`` lists module paths explicitly
    (then ``skip_first``/``skip_last`` are ignored); ``exclude`` removes paths.
    """
    layers = weight_layers(model)
    if include is not None:
        chosen = pick_modules(layers, include, "Conv2d/Linear modules")
    else:
        names = list(layers)
        if skip_first and names:
            names = names[1:]
        if skip_last and names:
            names = names[:-1]
        chosen = OrderedDict((p, layers[p]) for p in names)
    exc = set(exclude)
    return OrderedDict((p, m) for p, m in chosen.items() if p not in exc)


def has_mask(module: nn.Module) -> bool:
    return isinstance(getattr(module, "weight_mask", None), torch.Tensor) and \
        not hasattr(module, "weight_orig")


def add_masks(model: nn.Module, layers=None) -> "OrderedDict[str, nn.Module]":
    """Give each layer (default ``prunable_layers(model)``) an all-ones ``weight_mask``
    and a ``weight_stash``; layers that already have one keep it. Returns the layers."""
    if layers is None:
        layers = prunable_layers(model)
    elif not isinstance(layers, dict):
        allw = weight_layers(model)
        layers = OrderedDict((p, allw[p]) for p in layers)
    for path, m in layers.items():
        if hasattr(m, "weight_orig"):
            raise ValueError(f"'{path}' is pruned with torch.nn.utils.prune; call prune.remove first")
        if not has_mask(m):
            m.register_buffer("weight_mask", torch.ones_like(m.weight.detach()))
        if not isinstance(getattr(m, "weight_stash", None), torch.Tensor):
            m.register_buffer("weight_stash", m.weight.detach().clone(), persistent=False)
    return OrderedDict(layers)


def add_masks_from_state_dict(model: nn.Module, state: dict) -> list:
    """Register ``weight_mask`` buffers for every ``<path>.weight_mask`` key of ``state``
    (so a pruned model's state dict loads strictly into a fresh model). Returns the paths."""
    mods = dict(model.named_modules())
    paths = []
    for key in state:
        if key.endswith(".weight_mask") and key[:-len(".weight_mask")] in mods:
            paths.append(key[:-len(".weight_mask")])
    add_masks(model, paths)
    return paths


def masked_layers(model: nn.Module) -> "OrderedDict[str, nn.Module]":
    """The modules that carry a ``weight_mask`` (ours, not torch.nn.utils.prune's)."""
    return OrderedDict((n, m) for n, m in model.named_modules()
                       if isinstance(m, WEIGHT_TYPES) and has_mask(m))


def get_masks(model: nn.Module) -> Dict[str, torch.Tensor]:
    """``{module path: bool mask}`` of every masked layer."""
    return {n: m.weight_mask.detach() != 0 for n, m in masked_layers(model).items()}


@torch.no_grad()
def set_mask(module: nn.Module, mask: torch.Tensor) -> None:
    """Install a new mask: stash the values of newly removed weights, restore the stashed
    values of regrown ones, zero the removed ones."""
    if not has_mask(module):
        raise ValueError("module has no weight_mask; call add_masks first")
    w = module.weight
    new = mask.to(device=w.device).bool()
    if new.shape != w.shape:
        raise ValueError(f"mask shape {tuple(new.shape)} != weight shape {tuple(w.shape)}")
    old = module.weight_mask != 0
    stash = module.weight_stash
    stash.copy_(torch.where(old, w, stash))          # kept weights: their current value
    w.copy_(torch.where(new, stash, torch.zeros_like(w)))
    module.weight_mask.copy_(new.to(module.weight_mask.dtype))


@torch.no_grad()
def regrow_zero(module: nn.Module, regrown: torch.Tensor) -> None:
    """Set the weights at ``regrown`` (bool, weight-shaped) to 0 (GraNet zero-init, A11)."""
    module.weight[regrown.to(module.weight.device)] = 0.0


@torch.no_grad()
def apply_masks(model_or_layers, optimizer: Optional[torch.optim.Optimizer] = None) -> None:
    """``w *= mask`` on every masked layer, and on each weight-shaped optimizer state
    tensor (SGD momentum, Adam moments) when ``optimizer`` is given."""
    layers = masked_layers(model_or_layers) if isinstance(model_or_layers, nn.Module) \
        else model_or_layers
    for m in layers.values():
        mask = m.weight_mask
        m.weight.mul_(mask)
        if optimizer is not None:
            for v in optimizer.state.get(m.weight, {}).values():
                if isinstance(v, torch.Tensor) and v.shape == mask.shape:
                    v.mul_(mask.to(v.dtype))


class MaskKeeper:
    """Re-apply the masks (weights and optimizer state) after every ``optimizer.step()``."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.model = model
        self.optimizer = optimizer
        self._handle = optimizer.register_step_post_hook(
            lambda opt, args, kwargs: apply_masks(self.model, opt))

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def sparsity(model: nn.Module, layers=None) -> float:
    """Fraction of removed weights over ``layers`` (default: the masked layers)."""
    layers = masked_layers(model) if layers is None else layers
    tot = sum(m.weight.numel() for m in layers.values())
    if tot == 0:
        return 0.0
    kept = sum(int((m.weight_mask != 0).sum()) if has_mask(m) else m.weight.numel()
               for m in layers.values())
    return 1.0 - kept / tot


def layer_sparsity(model: nn.Module) -> Dict[str, float]:
    """``{path: removed fraction}`` per masked layer."""
    return {n: 1.0 - float((m.weight_mask != 0).float().mean()) for n, m in masked_layers(model).items()}


@torch.no_grad()
def remove_masks(model: nn.Module) -> None:
    """Bake the masks into the weights (``w *= mask``) and delete the buffers."""
    for m in masked_layers(model).values():
        m.weight.mul_(m.weight_mask)
        del m._buffers["weight_mask"]
        m._buffers.pop("weight_stash", None)


__all__ = ["WEIGHT_TYPES", "weight_layers", "prunable_layers", "add_masks",
           "add_masks_from_state_dict", "masked_layers", "get_masks", "set_mask", "regrow_zero",
           "apply_masks", "MaskKeeper", "sparsity", "layer_sparsity", "remove_masks", "has_mask"]
