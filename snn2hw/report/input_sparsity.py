"""The report's ``input_sparsity`` block: how sparse event / binary inputs are.

Written when the inputs are event frames (the model's ``encoding`` is ``events``) or binary (every value
0 or 1, e.g. rate-encoded spikes); absent for graded inputs (direct encoding of images), where every
pixel is sent at every step anyway. An *input event* is one nonzero (input element, step) entry of
``x [T, B, *input_shape]``: the event simulator sends exactly one message per such entry from the input
cores (``simulators/event.py``), so these are the input spikes the chip is charged for.
"""
from __future__ import annotations

import numpy as np
import torch

UNITS = ("events = nonzero (input element, timestep) entries of the inputs; *_per_sample: mean over the "
         "samples; *_per_step: per sample / T; density = events / entries (entries = T x input elements "
         "per sample); per_channel: events per sample in each input channel (e.g. ON, OFF polarity)")


def _binary(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


def is_sparse_input(x: torch.Tensor, encoding) -> bool:
    """Event frames (``encoding == 'events'``) or binary values: the inputs the block describes."""
    return encoding == "events" or _binary(x)


def input_sparsity(x: torch.Tensor, encoding=None):
    """``None`` for graded inputs, else the block (plain numbers; units in :data:`UNITS`)."""
    binary = _binary(x)
    if not (encoding == "events" or binary):
        return None
    T, B = int(x.shape[0]), int(x.shape[1])
    elems = int(np.prod(x.shape[2:])) if x.dim() > 2 else 1
    nz = x != 0
    per_sample = nz.reshape(T, B, -1).sum((0, 2)).to(torch.float64)  # [B]
    mean = float(per_sample.mean()) if B else 0.0
    out = {"binary": binary, "samples": B, "timesteps": T, "input_elements": elems,
           "entries_per_sample": T * elems,
           "events_per_sample": mean, "events_per_sample_min": float(per_sample.min()) if B else 0.0,
           "events_per_sample_max": float(per_sample.max()) if B else 0.0,
           "events_per_step": mean / T if T else 0.0,
           "density": mean / (T * elems) if T * elems else 0.0,
           "sparsity": 1.0 - mean / (T * elems) if T * elems else 1.0}
    if x.dim() == 5:  # [T, B, C, H, W]: per channel (polarity)
        out["per_channel_events_per_sample"] = [float(v) / max(B, 1) for v in nz.sum((0, 1, 3, 4)).tolist()]
    out["units"] = UNITS
    return out


def input_sparsity_rows(block: dict) -> list:
    """``quantity | value`` rows of the block for Markdown / HTML (the per-channel list joined)."""
    from snn2hw.report.render import _num
    rows = []
    for k, v in block.items():
        if k == "units":
            continue
        if isinstance(v, list):
            v = ", ".join(_num(e) for e in v)
        else:
            v = _num(v)
        rows.append({"quantity": k, "value": v})
    return rows


__all__ = ["input_sparsity", "input_sparsity_rows", "is_sparse_input", "UNITS"]
