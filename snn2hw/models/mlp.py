"""``mlp``: fully connected SNN on flat inputs ``[T, B, in_features]``.

Linear → neuron for each hidden width, then a Linear readout (no neuron).
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from ..nn import TimeDistributed
from .neuron_factory import neuron_factory
from .registry import register_model


@register_model("mlp")
def mlp(in_features: int = 64, hidden=(128,), num_classes: int = 10, **neuron_kw) -> nn.Module:
    """MLP: one Linear-neuron layer per ``hidden`` width, then a Linear readout (no neuron)."""
    make = neuron_factory(**neuron_kw)
    layers, width = OrderedDict(), int(in_features)
    for i, h in enumerate(hidden):
        layers[f"fc{i}"] = TimeDistributed(nn.Linear(width, int(h)))
        layers[f"sn{i}"] = make()
        width = int(h)
    layers["fc"] = TimeDistributed(nn.Linear(width, num_classes))
    model = nn.Sequential(layers)
    model.input_shape = (int(in_features),)
    model.num_classes = int(num_classes)
    return model
