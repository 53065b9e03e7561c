"""Rebuilding a compressed built-in model from its checkpoint description.

A model whose layers compression resized, quantized or masked is saved under the architecture
``'compressed'`` with ``arch_kwargs = {base, base_kwargs, quant, shapes, masked}``
(:func:`snn2hw.compress.pipeline.describe`). :func:`build_compressed` turns that description back into
the module (``load_checkpoint`` calls it); :func:`slice_module` keeps chosen output or input channels of
one layer (structured pruning removes channels with it). This module imports nothing of the
checkpoint front end, so ``frontends/checkpoint.py`` and ``compress/pipeline.py`` do not import each other.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from ..errors import Snn2hwError
from ..models.registry import build_model
from ..nn.quant import quantize_model
from .masks import add_masks


class CompressError(Snn2hwError):
    """A compression option or model does not fit the chosen method."""


def _set_param(m: nn.Module, name: str, value: torch.Tensor) -> None:
    old = getattr(m, name)
    if isinstance(old, nn.Parameter):
        setattr(m, name, nn.Parameter(value.clone(), requires_grad=old.requires_grad))
    else:
        m._buffers[name] = value.clone()


@torch.no_grad()
def slice_module(m: nn.Module, idx, dim: int) -> None:
    idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        for name in ("weight", "bias", "running_mean", "running_var"):
            t = getattr(m, name, None)
            if t is not None:
                _set_param(m, name, t.index_select(0, idx.to(t.device)))
        m.num_features = int(idx.numel())
        return
    if not isinstance(m, (nn.Conv2d, nn.Linear)):
        raise CompressError(f"cannot resize a {type(m).__name__} (only Conv2d, Linear and BatchNorm)")
    if isinstance(m, nn.Conv2d) and m.groups != 1:
        raise CompressError("grouped convolutions are not resized by the torch channel removal")
    for name in ("weight", "weight_mask", "weight_stash"):
        t = getattr(m, name, None)
        if isinstance(t, torch.Tensor):
            _set_param(m, name, t.index_select(dim, idx.to(t.device)))
    if dim == 0 and m.bias is not None:
        _set_param(m, "bias", m.bias.index_select(0, idx.to(m.bias.device)))
    n = int(idx.numel())
    if isinstance(m, nn.Conv2d):
        if dim == 0:
            m.out_channels = n
        else:
            m.in_channels = n
    elif dim == 0:
        m.out_features = n
    else:
        m.in_features = n


def build_compressed(arch: str = "compressed", base: str = "digits_conv", base_kwargs: Optional[dict] = None,
                     quant: Optional[dict] = None, shapes: Optional[dict] = None, masked=()) -> nn.Module:
    """A built-in architecture after compression: ``build_model(base, **base_kwargs)``, then
    ReScaW layers (``quant``), layer widths (``shapes``: module path -> [out, in] or [features])
    and mask buffers (``masked`` module paths). ``load_checkpoint`` calls it for ``arch ==
    'compressed'`` (it is kept out of the public model registry)."""
    if arch != "compressed":
        raise ValueError(f"build_compressed builds arch 'compressed', got {arch!r}")
    model = build_model(base, **dict(base_kwargs or {}))
    if quant:
        q = dict(quant)
        layers = set(q.pop("layers"))
        bits = q.pop("bits")
        cands = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        quantize_model(model, bits, first_last_fp=False, skip=[n for n in cands if n not in layers], **q)
    mods = dict(model.named_modules())
    for path, shp in (shapes or {}).items():
        if path not in mods:
            raise ValueError(f"'compressed' shapes name an unknown module {path!r}")
        m = mods[path]
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if m.num_features != shp[0]:
                slice_module(m, np.arange(shp[0]), 0)
            continue
        if m.weight.shape[0] != shp[0]:
            slice_module(m, np.arange(shp[0]), 0)
        if m.weight.shape[1] != shp[1]:
            slice_module(m, np.arange(shp[1]), 1)
    if masked:
        add_masks(model, list(masked))
    model.arch = "compressed"
    model.arch_kwargs = {"base": base, "base_kwargs": dict(base_kwargs or {}), "quant": quant,
                         "shapes": dict(shapes or {}), "masked": list(masked)}
    return model
