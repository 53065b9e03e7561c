"""Spiking ResNets: ``resnet20`` (QP-SNN wide ResNet-20) and ``resnet19`` (tdBN ResNet-19).

BasicBlock (QP-SNN / SEW-style placement, ALGORITHMS §3.5)::

    out = sn2( BN2(conv2( sn1(BN1(conv1(x))) )) + shortcut(x) )

shortcut: identity when shape is kept; otherwise option 'A' = ZeroPadShortcut
(stride subsampling + zero channels, no parameters) or option 'B' = 1×1 strided
conv + BN. After the stages: global AvgPool2d, Flatten, (optional FC-neuron),
FC readout.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
from torch import nn

from ..nn import TimeDistributed, ZeroPadShortcut
from .convnets import conv_bn
from .neuron_factory import neuron_factory
from .registry import register_model

SHORTCUTS = ("A", "B")


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, make: Callable[[], nn.Module],
                 shortcut: str = "A"):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, stride)
        self.sn1 = make()
        self.conv2 = conv_bn(cout, cout)
        self.shortcut: Optional[nn.Module] = None
        if stride != 1 or cin != cout:
            if shortcut == "A":
                self.shortcut = TimeDistributed(ZeroPadShortcut(cin, cout, stride))
            else:
                self.shortcut = TimeDistributed(
                    nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        self.sn2 = make()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.sn1(self.conv1(x)))
        sc = x if self.shortcut is None else self.shortcut(x)
        return self.sn2(out + sc)


class SpikingResNet(nn.Module):
    """Stem conv-BN-neuron, ``stages`` of BasicBlocks, global avg pool, [FC-neuron], FC."""

    def __init__(self, stem: int, stages: Sequence[tuple], make: Callable[[], nn.Module],
                 shortcut: str, in_channels: int, input_size: int, num_classes: int,
                 fc_hidden: Optional[int] = None):
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {list(SHORTCUTS)}, got {shortcut!r}")
        self.conv1 = conv_bn(in_channels, stem)
        self.sn1 = make()
        c, hw = stem, input_size
        for k, (width, blocks, stride) in enumerate(stages, start=1):
            layer = []
            for b in range(blocks):
                s = stride if b == 0 else 1
                layer.append(BasicBlock(c, width, s, make, shortcut))
                c = width
                hw = (hw - 1) // s + 1
            setattr(self, f"layer{k}", nn.Sequential(*layer))
        self.num_stages = len(stages)
        self.pool = TimeDistributed(nn.AvgPool2d(hw), nn.Flatten())
        if fc_hidden:
            self.fc1 = TimeDistributed(nn.Linear(c, fc_hidden))
            self.sn_fc1 = make()
            c = fc_hidden
        else:
            self.fc1 = None
            self.sn_fc1 = None
        self.fc = TimeDistributed(nn.Linear(c, num_classes))
        self.input_shape = (int(in_channels), int(input_size), int(input_size))
        self.num_classes = int(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sn1(self.conv1(x))
        for k in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{k}")(x)
        x = self.pool(x)
        if self.fc1 is not None:
            x = self.sn_fc1(self.fc1(x))
        return self.fc(x)


@register_model("resnet20")
def resnet20(in_channels: int = 3, input_size: int = 32, num_classes: int = 10,
             widths=(64, 128, 256, 512), blocks=(3, 3, 3), shortcut: str = "A",
             **neuron_kw) -> nn.Module:
    """QP-SNN wide ResNet-20: conv1 3→64, 3 stages × 3 blocks at 128/256/512,
    strides 1/2/2, option-A shortcuts (default), global avg pool, FC 512→classes."""
    make = neuron_factory(**neuron_kw)
    stages = [(widths[i + 1], blocks[i], 1 if i == 0 else 2) for i in range(len(blocks))]
    return SpikingResNet(widths[0], stages, make, shortcut, in_channels, input_size, num_classes)


@register_model("resnet19")
def resnet19(in_channels: int = 3, input_size: int = 32, num_classes: int = 10,
             widths=(128, 128, 256, 512), blocks=(3, 3, 2), fc_hidden: int = 256,
             shortcut: str = "B", **neuron_kw) -> nn.Module:
    """tdBN ResNet-19 (Zheng et al. 2021): conv 128, stages [3, 3, 2] at 128/256/512
    (strides 1/2/2), option-B shortcuts, global avg pool, FC 256-neuron, FC classes."""
    make = neuron_factory(**neuron_kw)
    stages = [(widths[i + 1], blocks[i], 1 if i == 0 else 2) for i in range(len(blocks))]
    return SpikingResNet(widths[0], stages, make, shortcut, in_channels, input_size,
                         num_classes, fc_hidden=fc_hidden)
