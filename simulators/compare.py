"""Float vs integer behaviour, layer by layer.

Quantization changes behaviour on purpose, so the two are compared by
agreement rates: for every spiking population, the fraction of (timestep,
sample, neuron) entries where the float and the integer network both spike or
both stay silent, in the aligned time frame (see ``simulators/reference.py``).
"""
from __future__ import annotations

import numpy as np


def layer_agreement(float_res, int_res) -> list:
    """Rows ``{layer, neurons, agreement, float_rate, int_rate}`` for layers recorded in both runs."""
    fs, is_ = float_res.record.get("spikes", {}), int_res.record.get("spikes", {})
    rows = []
    for name in fs:
        if name not in is_ or name not in float_res.layer_spikes:  # readouts never spike
            continue
        a, b = fs[name] != 0, is_[name] != 0
        if a.shape != b.shape:
            raise ValueError(f"layer '{name}': spike tensors differ in shape {tuple(a.shape)} vs {tuple(b.shape)}")
        rows.append({"layer": name, "neurons": int(np.prod(a.shape[2:])),
                     "agreement": float((a == b).double().mean()),
                     "float_rate": float(a.double().mean()), "int_rate": float(b.double().mean())})
    return rows


def prediction_agreement(float_res, int_res) -> float:
    return float((float_res.predictions() == int_res.predictions()).double().mean())
