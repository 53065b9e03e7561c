"""ReScaW weight quantization (QP-SNN, ALGORITHMS §3.2-3.3): drop-in ``QuantConv2d`` / ``QuantLinear``.

With ``s = 2^b - 1`` and a per-output-channel (or per-layer) scale ``γ`` (detached,
recomputed at every forward)::

    k      = round( (s/2) · (clamp(W/γ, -1, 1) + 1) )      ∈ {0, …, s}      (the b-bit code)
    w_odd  = 2k - s                                         ∈ {-s, -s+2, …, s} (odd integers)
    W^     = (γ/s) · w_odd                                  = γ·((2/s)·k - 1)   (Eq. 9-10)

``rescale=False`` is the vanilla quantizer of §3.2 (γ = 1: ``clamp(W, -1, 1)``).
``γ`` options: ``'mean'`` (mean |W|, the paper's winner and the default), ``'max'``
(max |W|), ``'percentile'`` (Ψ_x = max(|P_{1-x}(W)|, |P_x(W)|), x = ``percentile``,
0.99). ``granularity='channel'`` (the authors' code, default) computes γ over
(C_in, k, k) per output channel; ``'layer'`` over the whole tensor (the paper's text).
A γ of 0 (an all-zero channel) is replaced by 1e-8 so that κ stays non-zero.

Straight-through estimators: ``ste='clip'`` (paper, default) gives
``∂W^/∂W = 1[|W/γ| ≤ 1]``; ``ste='code'`` (the authors' code) passes the gradient
through ``W/γ`` without a clip mask, i.e. ``∂W^/∂W = 1/γ``.

:meth:`QuantConv2d.codes` returns ``(w_odd, kappa)`` with ``kappa = γ/s`` per output
channel, so ``W^ = kappa[f] · w_odd[f]`` exactly (the forward computes it that
way); the front end converts these layers into IR synapses with ``weight = w_odd``
and ``channel_scale = kappa``, which ``fold_thresholds`` folds into integer weights
and per-channel thresholds (§3.6).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

GAMMAS = ("mean", "max", "percentile")
GRANULARITIES = ("channel", "layer")
STES = ("clip", "code")
GAMMA_FLOOR = 1e-8


def rescaw_gamma(w: torch.Tensor, gamma: str = "mean", granularity: str = "channel",
                 percentile: float = 0.99) -> torch.Tensor:
    """γ as a detached tensor broadcastable to ``w`` (shape ``(C_out, 1, …)``)."""
    w = w.detach()
    flat = w.reshape(w.shape[0], -1) if granularity == "channel" else w.reshape(1, -1)
    if gamma == "mean":
        g = flat.abs().mean(1)
    elif gamma == "max":
        g = flat.abs().amax(1)
    else:
        q = torch.tensor([1.0 - percentile, percentile], dtype=flat.dtype, device=flat.device)
        p = torch.quantile(flat, q, dim=1)  # (2, rows)
        g = p.abs().amax(0)
    g = g.clamp_min(GAMMA_FLOOR)
    if granularity == "layer":
        g = g.expand(w.shape[0])
    return g.reshape((-1,) + (1,) * (w.dim() - 1))


class _QuantMixin:
    """Shared quantizer state and maths (``self.weight`` comes from the torch layer)."""

    def _init_quant(self, bits: int, gamma: str, granularity: str, ste: str, rescale: bool,
                    percentile: float) -> None:
        if int(bits) != bits or not 1 <= int(bits) <= 16:
            raise ValueError(f"bits must be an integer in [1, 16], got {bits}")
        if gamma not in GAMMAS:
            raise ValueError(f"gamma must be one of {list(GAMMAS)}, got {gamma!r}")
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {list(GRANULARITIES)}, got {granularity!r}")
        if ste not in STES:
            raise ValueError(f"ste must be one of {list(STES)}, got {ste!r}")
        if not 0.5 < float(percentile) <= 1.0:
            raise ValueError(f"percentile must be in (0.5, 1], got {percentile}")
        self.bits = int(bits)
        self.gamma_mode = gamma
        self.granularity = granularity
        self.ste = ste
        self.rescale = bool(rescale)
        self.percentile = float(percentile)

    @property
    def levels(self) -> int:
        """``s = 2^b - 1``."""
        return 2 ** self.bits - 1

    def gamma(self) -> torch.Tensor:
        """Detached γ, shape ``(C_out, 1, …)`` (ones when ``rescale=False``)."""
        w = self.weight
        if not self.rescale:
            return torch.ones((w.shape[0],) + (1,) * (w.dim() - 1), dtype=w.dtype, device=w.device)
        return rescaw_gamma(w, self.gamma_mode, self.granularity, self.percentile)

    def _parts(self):
        g = self.gamma()
        s = self.levels
        u = self.weight / g
        k = torch.round((s / 2.0) * (u.detach().clamp(-1.0, 1.0) + 1.0))
        w_odd = 2.0 * k - s
        return g, u, w_odd

    def quantized_weight(self) -> torch.Tensor:
        """``W^ = (γ/s)·w_odd`` with the straight-through gradient chosen by ``ste``."""
        g, u, w_odd = self._parts()
        kappa = g / self.levels
        wq = kappa * w_odd  # the exact value (no gradient: codes are detached)
        if self.ste == "clip":
            surrogate = g * u.clamp(-1.0, 1.0)  # d/dW = 1[|W/γ| <= 1]
        else:
            surrogate = u  # d/dW = 1/γ (authors' code: no clip mask)
        return wq + (surrogate - surrogate.detach())

    @torch.no_grad()
    def codes(self) -> tuple:
        """``(w_odd, kappa)``: odd-integer weights (int64, in [-s, s]) and κ = γ/s per output channel."""
        g, _, w_odd = self._parts()
        return w_odd.to(torch.int64), (g / self.levels).reshape(-1).clone()

    @torch.no_grad()
    def bit_utilisation(self) -> float:
        """Share of the 2^b levels used by the current codes (diagnostic of Eq. 8)."""
        w_odd, _ = self.codes()
        return float(torch.unique(w_odd).numel()) / (self.levels + 1)

    def as_codes_module(self) -> tuple:
        """``(plain, kappa)``: a plain torch layer whose weight is ``w_odd`` (float64) and the numpy κ.

        ``kappa[f] · plain.weight[f]`` equals this layer's quantized weight exactly (used by the front end)."""
        w_odd, kappa = self.codes()
        plain = self._plain()
        with torch.no_grad():
            plain.weight = nn.Parameter(w_odd.to(torch.float64), requires_grad=False)
            if self.bias is not None:
                plain.bias = nn.Parameter(self.bias.detach().to(torch.float64).clone(), requires_grad=False)
        return plain, kappa.detach().to(torch.float64).cpu().numpy()

    def quant_repr(self) -> str:
        return (f"bits={self.bits}, gamma={self.gamma_mode!r}, granularity={self.granularity!r}, "
                f"ste={self.ste!r}, rescale={self.rescale}")


class QuantConv2d(_QuantMixin, nn.Conv2d):
    """``nn.Conv2d`` whose weight is ReScaW-quantized at every forward (see the module docstring)."""

    def __init__(self, *args, bits: int = 4, gamma: str = "mean", granularity: str = "channel",
                 ste: str = "clip", rescale: bool = True, percentile: float = 0.99, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_quant(bits, gamma, granularity, ste, rescale, percentile)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.quantized_weight(), self.bias)

    def _plain(self) -> nn.Conv2d:
        return nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, stride=self.stride,
                         padding=self.padding, dilation=self.dilation, groups=self.groups,
                         bias=self.bias is not None, padding_mode=self.padding_mode)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self.quant_repr()


class QuantLinear(_QuantMixin, nn.Linear):
    """``nn.Linear`` whose weight is ReScaW-quantized at every forward (see the module docstring)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, bits: int = 4,
                 gamma: str = "mean", granularity: str = "channel", ste: str = "clip", rescale: bool = True,
                 percentile: float = 0.99, **kwargs):
        super().__init__(in_features, out_features, bias=bias, **kwargs)
        self._init_quant(bits, gamma, granularity, ste, rescale, percentile)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.quantized_weight(), self.bias)

    def _plain(self) -> nn.Linear:
        return nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self.quant_repr()


QUANT_LAYERS = (QuantConv2d, QuantLinear)


def _quantized_copy(m: nn.Module, bits: int, kw: dict) -> nn.Module:
    dd = {"device": m.weight.device, "dtype": m.weight.dtype}
    if isinstance(m, nn.Conv2d):
        q = QuantConv2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding,
                        dilation=m.dilation, groups=m.groups, bias=m.bias is not None,
                        padding_mode=m.padding_mode, bits=bits, **kw, **dd)
    else:
        q = QuantLinear(m.in_features, m.out_features, bias=m.bias is not None, bits=bits, **kw, **dd)
    q.load_state_dict(m.state_dict())
    q.train(m.training)
    return q


def quantize_model(model: nn.Module, bits: int, first_last_fp: bool = True,
                   skip: Optional[list] = None, **kw) -> nn.Module:
    """Replace every ``nn.Conv2d`` / ``nn.Linear`` of ``model`` (in place) by its ReScaW twin; return ``model``.

    ``first_last_fp``: keep the first and the last such layer (in registration order: the
    first conv and the classifier FC) full precision, as the paper does. ``skip``: further
    qualified module names to keep. ``kw``: ``gamma``, ``granularity``, ``ste``, ``rescale``,
    ``percentile``. Weights and biases are copied; already quantized layers are left alone.
    """
    bad = sorted(set(kw) - {"gamma", "granularity", "ste", "rescale", "percentile"})
    if bad:
        raise ValueError(f"quantize_model got unknown argument(s) {bad}")
    cands = [n for n, m in model.named_modules()
             if isinstance(m, (nn.Conv2d, nn.Linear)) and not isinstance(m, QUANT_LAYERS)]
    keep = set(skip or ())
    unknown = sorted(keep - {n for n, _ in model.named_modules()})
    if unknown:
        raise ValueError(f"quantize_model: skip names unknown module(s) {unknown}")
    if first_last_fp and cands:
        keep |= {cands[0], cands[-1]}
    for name in cands:
        if name in keep:
            continue
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, _quantized_copy(getattr(parent, attr), bits, kw))
    return model


__all__ = ["QuantConv2d", "QuantLinear", "QUANT_LAYERS", "quantize_model", "rescaw_gamma"]
