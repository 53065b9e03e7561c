"""Seeded, untrained checkpoints of the built-in architectures, for costing a network before training it.

:func:`init_checkpoint` (``snn2hw init``) builds ``arch`` for an input shape and a number
of classes from ``torch.manual_seed(seed)``, makes its neurons fire, and writes the
same checkpoint bundle ``snn2hw train`` writes (:func:`~snn2hw.frontends.checkpoint.save_checkpoint`:
read by ``convert``, ``simulate``, ``export`` with ``torch.load(weights_only=True)``),
with ``training = {"untrained": True, "seed": seed, ...}``, no metrics, ``timesteps``
(default 4, as ``train``), ``encoding = "direct"`` and ``input_step`` (default 1/255:
8-bit inputs in [0, 1]). The same arguments give the same bytes.

**Why the weights are calibrated, and how.** PyTorch's default initialization
(Kaiming-uniform weights with ``a = sqrt(5)``, i.e. ``U(±1/sqrt(fan_in))``, BatchNorm as
the identity) gives input currents with a standard deviation of about ``sqrt(rate/3)``
against a threshold of 1, so the network is silent: measured on VGG-16 at 3×32×32 with
random inputs, 0.3 % of ``sn0``'s neurons fire per step and none in any deeper layer
(ResNet-19 and the digits conv net alike). Costs of a silent network say nothing. So the
weights stay the seeded default ones and a data-free calibration sets the *scale* of each
spiking layer's input current, in one forward pass over :data:`CALIB_SAMPLES` seeded
random samples (:func:`snn2hw.data.random_data.random_inputs`: density
:data:`CALIB_DENSITY`, on the model's input lattice, ``seed`` as the weights'; no data
set), layer by layer in forward order (each layer sees its calibrated predecessors):

* every BatchNorm's running mean and variance are set to the statistics of its input on
  those samples (BatchNorm in training mode with a cumulative average), with its affine
  ``γ = 1``, ``β = 0`` kept: each channel's current then has mean 0 and standard
  deviation 1 over samples, steps and positions (a LSUV / BatchNorm-recalibration style
  normalization, like a network whose BatchNorm statistics were estimated on data);
* a Linear (or bias-free Conv2d) that feeds a neuron directly, without BatchNorm, gets
  the same normalization folded into its weights: ``w_f /= σ_f``, ``b_f = (b_f − μ_f) / σ_f``.

Thresholds stay as built (1.0), so a unit-variance current fires a LIF neuron (β = 0.5)
whenever it exceeds about 0.5 for a few steps: about 15–25 % of neurons per step in every
layer, deep ones included (VGG-16 at 32×32, LIF: 0.15–0.22 per layer in the float model,
0.16–0.23 in the integer network after ``convert`` for Loihi; IF and AT-LIF 0.15–0.27,
CUBA 0.2–0.3 on smaller nets). Real trained networks
differ; the point is a plausible, non-degenerate activity for costing, not accuracy (the
readout is random: accuracy is chance). The per-layer rates on the calibration samples
are returned in :class:`InitResult` and printed by the CLI.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from snn2hw.errors import Snn2hwError

from .registry import build_model, list_models, model_kwargs

#: random samples the calibration pass runs on
CALIB_SAMPLES = 16
#: their density (the probability that an input element is nonzero), as ``--data random``'s default
CALIB_DENSITY = 0.5
DEFAULT_TIMESTEPS = 4
DEFAULT_INPUT_STEP = 1.0 / 255.0
#: the keywords the input shape and class count set; ``arch_kwargs`` may not set them too
SHAPE_KWARGS = ("in_features", "in_channels", "input_size", "num_classes")
INIT_DESCRIPTION = ("torch default initialization from torch.manual_seed(seed); data-free calibration: BatchNorm "
                    "statistics of seeded random inputs, neuron-feeding Linear layers normalized alike "
                    "(snn2hw.models.init)")


class InitError(Snn2hwError, ValueError):
    """An ``init`` option cannot give a model (unknown architecture, bad shape, classes, seed ...)."""


@dataclass
class InitResult:
    """What :func:`init_model` / :func:`init_checkpoint` made: the model (eval mode), the metadata written
    beside its weights, the per-layer firing rates (spikes per neuron per step) on the calibration samples,
    and the file (None when nothing was written)."""

    model: nn.Module
    meta: dict
    firing_rates: dict = field(default_factory=dict)
    path: Optional[Path] = None


def parse_input_shape(text, name: str = "input shape") -> tuple:
    """``'3,32,32'`` (or a sequence of ints) -> ``(3, 32, 32)``: 1 to 4 positive integers; ``InitError``
    naming ``name`` otherwise."""
    raw = text
    if isinstance(text, str):
        parts = [p.strip() for p in text.replace("x", ",").split(",")]
        try:
            text = [int(p) for p in parts]
        except ValueError:
            raise InitError(f"{name} {raw!r}: expected comma-separated positive integers such as 3,32,32 "
                            f"(C,H,W) or 64 (features)") from None
    try:
        shape = tuple(text)
    except TypeError:
        raise InitError(f"{name} {raw!r}: expected a sequence of positive integers") from None
    if not 1 <= len(shape) <= 4 or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                           for d in shape):
        raise InitError(f"{name} {raw!r}: expected 1 to 4 positive integers such as 3,32,32 (C,H,W) or 64 "
                        f"(features)")
    return shape


def _shape_kwargs(arch: str, shape: tuple) -> dict:
    """The builder keywords that give ``arch`` the input ``shape``."""
    params = model_kwargs(arch)
    if "in_features" in params:  # fully connected: any shape, flattened
        return {"in_features": math.prod(shape)}
    if "in_channels" in params and "input_size" in params:
        if len(shape) != 3 or shape[1] != shape[2]:
            raise InitError(f"architecture '{arch}' cannot take the input shape {','.join(map(str, shape))}: it "
                            f"takes square images C,H,W with H = W (e.g. --input-shape 3,32,32)")
        return {"in_channels": shape[0], "input_size": shape[1]}
    raise InitError(f"architecture '{arch}' does not say how to set its input shape")  # pragma: no cover


def _check_options(arch, classes, seed, timesteps, input_step) -> None:
    if arch not in list_models():
        raise InitError(f"unknown architecture {arch!r}; valid: {', '.join(list_models())}")
    for key, v in (("classes", classes), ("seed", seed), ("timesteps", timesteps)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise InitError(f"{key} must be an integer, got {v!r}")
    if classes < 1:
        raise InitError(f"classes must be at least 1, got {classes}")
    if not 0 <= seed < 2**63:
        raise InitError(f"seed must be a non-negative integer below 2**63, got {seed}")
    if timesteps < 1:
        raise InitError(f"timesteps must be at least 1, got {timesteps}")
    if isinstance(input_step, bool) or not isinstance(input_step, (int, float)) or not (
            math.isfinite(input_step) and input_step > 0):
        raise InitError(f"input step must be a positive finite number, got {input_step!r}")


def _build(arch: str, shape: tuple, kwargs: dict) -> nn.Module:
    from snn2hw.util.limits import limit_text, too_many
    shown = ",".join(map(str, shape))
    try:
        with torch.device("meta"):  # sizes first, without allocating
            ghost = build_model(arch, **kwargs)
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, OverflowError) as e:
        raise InitError(f"architecture '{arch}' cannot be built for the input shape {shown} with the options "
                        f"{kwargs}: {e}") from None
    size = sum(t.numel() for t in ghost.state_dict().values())
    if too_many(size):
        raise InitError(f"architecture '{arch}' for the input shape {shown} has {size} parameters, above the "
                        f"{limit_text()}")
    return build_model(arch, **kwargs)


def _feeders(model: nn.Module) -> list:
    """Synapses (Linear, or Conv2d without BatchNorm) whose output goes straight into a spiking neuron: the
    last module of a ``TimeDistributed`` followed, among its parent's children, by a neuron (the built-in
    architectures register their modules in forward order)."""
    from snn2hw.nn import TimeDistributed
    from snn2hw.nn.neurons import SpikingNeuron
    out = []
    for parent in model.modules():
        kids = list(parent.children())
        for a, b in zip(kids, kids[1:]):
            if isinstance(a, TimeDistributed) and isinstance(b, SpikingNeuron):
                last = list(a.inner)[-1]
                if isinstance(last, (nn.Linear, nn.Conv2d)):
                    out.append(last)
    return out


@torch.no_grad()
def calibrate(model: nn.Module, x: torch.Tensor) -> dict:
    """The data-free calibration of the module docstring, on time-major inputs ``x [T, B, ...]``; returns the
    firing rate of every spiking layer during the pass, by module name. Leaves ``model`` in eval mode."""
    from snn2hw.nn.neurons import SpikingNeuron
    model.eval()
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: after one batch, exactly its statistics
        bn.train()

    def normalize(mod, inp, out):
        dims = tuple(d for d in range(out.dim()) if d != 1)  # [N, C, ...]: per output channel / feature
        mu = out.mean(dims)
        sd = out.std(dims)
        sd = torch.where(sd > 1e-6, sd, torch.ones_like(sd))  # a constant output (dead input) stays as it is
        view = (1, -1) + (1,) * (out.dim() - 2)
        mod.weight.div_(sd.reshape((-1,) + (1,) * (mod.weight.dim() - 1)))
        if mod.bias is not None:
            mod.bias.sub_(mu).div_(sd)
            return (out - mu.reshape(view)) / sd.reshape(view)
        return out / sd.reshape(view)

    rates = {}

    def count(name):
        def hook(mod, inp, out):
            rates[name] = float((out != 0).to(torch.float64).mean())
        return hook

    handles = [m.register_forward_hook(normalize) for m in _feeders(model)]
    handles += [m.register_forward_hook(count(n)) for n, m in model.named_modules() if isinstance(m, SpikingNeuron)]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
        for bn, mom in zip(bns, momenta):
            bn.momentum = mom
        model.eval()
    return rates


def init_model(arch: str, input_shape, classes: int = 10, seed: int = 0, *, neuron: str = "lif",
               arch_kwargs: Optional[dict] = None, timesteps: int = DEFAULT_TIMESTEPS,
               input_step: float = DEFAULT_INPUT_STEP) -> InitResult:
    """Build and calibrate ``arch`` (see the module docstring); nothing is written. ``input_shape``: C,H,W for
    the conv nets (H = W), any shape (flattened) for ``mlp``; ``arch_kwargs``: the builder's other options
    (``widths``, ``hidden``, neuron options ...)."""
    from snn2hw.data.encoding import direct
    from snn2hw.data.random_data import random_inputs
    _check_options(arch, classes, seed, timesteps, input_step)
    shape = parse_input_shape(input_shape)
    extra = dict(arch_kwargs or {})
    clash = sorted(set(extra) & set(SHAPE_KWARGS))
    if clash:
        raise InitError(f"arch_kwargs may not set {clash}: the input shape and the number of classes set them")
    kwargs = {**_shape_kwargs(arch, shape), "num_classes": int(classes), "neuron": neuron, **extra}
    _build(arch, shape, kwargs)  # option and size errors before any allocation
    torch.manual_seed(seed)
    model = build_model(arch, **kwargs)
    x = random_inputs(model.input_shape, CALIB_SAMPLES, CALIB_DENSITY, seed, float(input_step))
    try:
        rates = calibrate(model, direct(torch.as_tensor(x), timesteps))
    except (RuntimeError, ValueError) as e:  # e.g. a feature map smaller than a kernel
        raise InitError(f"architecture '{arch}' cannot take the input shape {','.join(map(str, shape))}: "
                        f"{str(e).splitlines()[0][:200]}") from None
    meta = {"input_step": float(input_step), "timesteps": int(timesteps), "encoding": "direct", "metrics": {},
            "training": {"untrained": True, "weights": "random", "seed": int(seed), "init": INIT_DESCRIPTION,
                         "calibration": {"samples": CALIB_SAMPLES, "density": CALIB_DENSITY, "seed": int(seed),
                                         "timesteps": int(timesteps)}}}
    return InitResult(model, meta, rates)


def init_checkpoint(arch: str, input_shape, classes: int = 10, seed: int = 0, path=None, **options) -> InitResult:
    """:func:`init_model`, then write the checkpoint to ``path`` atomically (nothing is written when any step
    fails; ``OutputError`` names the file if writing fails). ``options``: ``neuron``, ``arch_kwargs``,
    ``timesteps``, ``input_step``."""
    from snn2hw.frontends.checkpoint import save_checkpoint
    if path is None:
        raise InitError("init_checkpoint needs an output path (use init_model for the model alone)")
    res = init_model(arch, input_shape, classes, seed, **options)
    res.path = save_checkpoint(path, res.model, **res.meta)
    return res


__all__ = ["init_checkpoint", "init_model", "calibrate", "parse_input_shape", "InitError", "InitResult",
           "CALIB_SAMPLES", "CALIB_DENSITY"]
