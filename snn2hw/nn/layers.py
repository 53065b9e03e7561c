"""Time-distributed containers for stateless layers.

``TimeDistributed(*modules)`` applies ordinary torch layers to every time step at
once: ``y = inner(x.flatten(0, 1)).unflatten(0, (T, B))`` for ``x`` of shape
``[T, B, ...]`` (the role of SpikingJelly's SeqToANNContainer). Since the inner
layers are stateless (Conv2d, BatchNorm2d, AvgPool2d, Linear, Flatten,
ZeroPadShortcut), this equals applying them to each ``x[t]`` separately
(BatchNorm in training mode pools its statistics over T·B, as tdBN does).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TimeDistributed(nn.Module):
    """Apply ``self.inner`` (an ``nn.Sequential``) to ``x.flatten(0, 1)``; restore ``[T, B]``."""

    def __init__(self, *modules: nn.Module):
        super().__init__()
        if not modules:
            raise ValueError("TimeDistributed needs at least one module")
        self.inner = nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"TimeDistributed expects [T, B, ...], got shape {tuple(x.shape)}")
        T, B = x.shape[0], x.shape[1]
        y = self.inner(x.flatten(0, 1))
        return y.reshape(T, B, *y.shape[1:])


class ZeroPadShortcut(nn.Module):
    """Option-A ResNet shortcut on ``[N, C, H, W]``.

    ``y = pad_C(x[:, :, ::stride, ::stride])``: spatial subsampling, then
    ``pad_before = (out - in) // 2`` zero channels in front and
    ``pad_after = out - in - pad_before`` behind (the QP-SNN / CIFAR ResNet
    convention). Equivalent to a fixed 1×1 conv with stride ``stride`` and the
    weight of ``conv_weight()``: ``W[pad_before + c, c] = 1``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"ZeroPadShortcut cannot shrink channels ({in_channels} -> {out_channels})")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.stride = int(stride)
        self.pad_before = (self.out_channels - self.in_channels) // 2
        self.pad_after = self.out_channels - self.in_channels - self.pad_before

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.pad_before or self.pad_after:
            x = F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))
        return x

    def conv_weight(self, dtype=torch.float32) -> torch.Tensor:
        """The equivalent 1×1 conv weight ``[out, in, 1, 1]`` (no bias, padding 0)."""
        w = torch.zeros(self.out_channels, self.in_channels, 1, 1, dtype=dtype)
        idx = torch.arange(self.in_channels)
        w[self.pad_before + idx, idx, 0, 0] = 1.0
        return w

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


__all__ = ["TimeDistributed", "ZeroPadShortcut"]
