"""Plain (non-residual) conv SNNs: ``digits_conv``, ``dvs_conv``, ``6conv2fc``, ``vgg16``.

Block: ``TimeDistributed(Conv2d 3×3 pad 1 no bias, BatchNorm2d)`` → neuron;
pooling is ``AvgPool2d(2)`` (max-pool is not expressible on the hardware);
readout: ``TimeDistributed(Flatten, Linear)`` with no neuron after it.
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from ..nn import TimeDistributed
from .neuron_factory import neuron_factory
from .registry import register_model


def conv_bn(cin: int, cout: int, stride: int = 1) -> TimeDistributed:
    return TimeDistributed(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                           nn.BatchNorm2d(cout))


def _finish(layers: OrderedDict, input_shape, num_classes) -> nn.Sequential:
    model = nn.Sequential(layers)
    model.input_shape = tuple(int(d) for d in input_shape)
    model.num_classes = int(num_classes)
    return model


@register_model("digits_conv")
def digits_conv(in_channels: int = 1, input_size: int = 8, widths=(16, 32),
                num_classes: int = 10, **neuron_kw) -> nn.Module:
    """Small conv SNN for 8×8 digits: [conv3×3-BN-neuron-avgpool2] per width, then FC.

    Default: 1×8×8 → 16×4×4 → 32×2×2 → 128 → 10 (≈ 6.2 k parameters).
    """
    make = neuron_factory(**neuron_kw)
    if input_size % (2 ** len(widths)):
        raise ValueError(f"input_size {input_size} must be divisible by {2 ** len(widths)}")
    layers, c, hw = OrderedDict(), int(in_channels), int(input_size)
    for i, w in enumerate(widths):
        layers[f"conv{i}"] = conv_bn(c, int(w))
        layers[f"sn{i}"] = make()
        layers[f"pool{i}"] = TimeDistributed(nn.AvgPool2d(2))
        c, hw = int(w), hw // 2
    layers["fc"] = TimeDistributed(nn.Flatten(), nn.Linear(c * hw * hw, num_classes))
    return _finish(layers, (in_channels, input_size, input_size), num_classes)


@register_model("dvs_conv")
def dvs_conv(in_channels: int = 2, input_size: int = 32, widths=(16, 32, 32), num_classes: int = 12,
             **neuron_kw) -> nn.Module:
    """Small VGG-style SNN for 2×32×32 event frames (``shapes_dvs``, trains in minutes on a CPU):
    [conv3×3-BN-neuron-avgpool2] per width, then FC readout.

    Default: 2×32×32 → 16×16×16 → 32×8×8 → 32×4×4 → 512 → 12 (20.4 k parameters). Three pools
    keep the readout's fan-in at 512 (Loihi allows 4,096 input axons per core) and every layer within
    one Speck core's memories (conv → IAF → sum-pool per core); use ``neuron='if'`` for Speck.
    """
    return digits_conv(in_channels=in_channels, input_size=input_size, widths=widths,
                       num_classes=num_classes, **neuron_kw)


@register_model("6conv2fc")
def six_conv_two_fc(in_channels: int = 3, input_size: int = 32, channels=(64, 128, 256),
                    convs_per_stage: int = 2, fc_hidden: int = 256, num_classes: int = 10,
                    **neuron_kw) -> nn.Module:
    """CIFAR 6Conv-2FC: stages of ``convs_per_stage`` conv-BN-neuron, avgpool2 after each
    stage, then FC(fc_hidden)-neuron and the FC readout.

    Default 3 stages × 2 convs (64/128/256), 32→4, FC 4096→256→classes. The
    PLIF/Grad-R/STDS CIFAR-10 net (36.7 M params) is
    ``channels=(256, 256), convs_per_stage=3, fc_hidden=2048``.
    """
    make = neuron_factory(**neuron_kw)
    if input_size % (2 ** len(channels)):
        raise ValueError(f"input_size {input_size} must be divisible by {2 ** len(channels)}")
    layers, c, hw, k = OrderedDict(), int(in_channels), int(input_size), 0
    for s, w in enumerate(channels):
        for _ in range(convs_per_stage):
            layers[f"conv{k}"] = conv_bn(c, int(w))
            layers[f"sn{k}"] = make()
            c, k = int(w), k + 1
        layers[f"pool{s}"] = TimeDistributed(nn.AvgPool2d(2))
        hw //= 2
    layers["fc1"] = TimeDistributed(nn.Flatten(), nn.Linear(c * hw * hw, fc_hidden))
    layers["sn_fc1"] = make()
    layers["fc2"] = TimeDistributed(nn.Linear(fc_hidden, num_classes))
    return _finish(layers, (in_channels, input_size, input_size), num_classes)


VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


@register_model("vgg16")
def vgg16(in_channels: int = 3, input_size: int = 32, num_classes: int = 10, cfg=VGG16_CFG,
          **neuron_kw) -> nn.Module:
    """QP-SNN VGG-16 (ALGORITHMS §3.5): cfg with M = AvgPool2d(2), each conv 3×3 pad 1
    + BN + neuron, then AvgPool2d(2) and FC 512·(input_size/32)² → classes.

    Layers are named after the seed's numbering: ``convbn{i}``/``sn{i}`` for the
    i-th cfg entry, ``pool{i}`` for an M; then ``pool_final`` and ``fc``.
    14.72 M parameters for 10 classes (ALGORITHMS §5.1).
    """
    make = neuron_factory(**neuron_kw)
    n_pool = sum(1 for v in cfg if v == "M") + 1
    if input_size % (2 ** n_pool):
        raise ValueError(f"input_size {input_size} must be divisible by {2 ** n_pool}")
    layers, c, hw = OrderedDict(), int(in_channels), int(input_size)
    for i, v in enumerate(cfg):
        if v == "M":
            layers[f"pool{i}"] = TimeDistributed(nn.AvgPool2d(2))
            hw //= 2
        else:
            layers[f"convbn{i}"] = conv_bn(c, int(v))
            layers[f"sn{i}"] = make()
            c = int(v)
    layers["pool_final"] = TimeDistributed(nn.AvgPool2d(2))
    hw //= 2
    layers["fc"] = TimeDistributed(nn.Flatten(), nn.Linear(c * hw * hw, num_classes))
    return _finish(layers, (in_channels, input_size, input_size), num_classes)
