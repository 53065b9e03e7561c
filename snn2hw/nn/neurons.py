"""Multi-step spiking neurons (time-major: input current ``I`` is ``[T, B, ...]``).

All state is local to one ``forward`` call and starts at 0. The integer IR and
the simulators implement exactly these recurrences, so they are spelled out:

LIF(β, θ) / IF (β = 1), for t = 0..T-1 (v = 0 before t = 0)::

    v    = β·v + g·I[t]          g = (1 - β) if decay_input else 1   (SpikingJelly decay_input)
    s[t] = H(v - θ)              H: '>=' (compare='ge') or '>' (compare='gt')
    v    = v·(1 - s[t])          reset='zero'      (hard reset to 0)
    v    = v - θ·s[t]            reset='subtract'  (soft reset)

CubaLIF(α, β, θ)::

    i    = α·i + I[t]
    v    = β·v + i
    s[t] = H(v - θ);  v is reset as above, i is never reset

ATLIF(τ, θ learnable) — ALGORITHMS §1.1–1.3::

    m    = τ·m + I[t]
    s[t] = H(m - θ)  (>=),  o[t] = θ·s[t]   (the module returns o)
    m    = m·(1 - o[t]/θ.detach())          (hard reset to 0)
    ∂o/∂m ≈ tri((m - θ)/θ) = max(0, 1 - |m - θ|/θ)
    ∂L/∂θ = -mean(g·tri²) per step ('official') or Σ g·(s - tri) ('analytic'), g = ∂L/∂o

With ``record=True`` a neuron keeps the last forward's pre-reset membrane in
``last_v`` and its spikes (0/1, not θ-scaled) in ``last_s``, both ``[T, B, ...]``
and detached.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .surrogate import Surrogate, Triangle, check_compare, get_surrogate

RESETS = ("zero", "subtract")
THETA_GRAD_MODES = ("official", "analytic")


def _check_input(I: torch.Tensor) -> None:
    if not isinstance(I, torch.Tensor) or I.dim() < 2:
        raise ValueError("neuron input must be a time-major tensor [T, B, ...], got "
                         f"{getattr(I, 'shape', type(I))}")


class SpikingNeuron(nn.Module):
    """Common attributes of every neuron module (read by the converter).

    ``neuron_kind`` ('if' | 'lif' | 'cuba' | 'atlif'), ``beta``, ``threshold``
    (float), ``reset`` ('zero' | 'subtract'), ``compare`` ('ge' | 'gt'),
    ``input_gain``, ``output_scale`` (1.0 except AT-LIF: θ), ``surrogate_name``
    and ``surrogate_params``.
    """

    neuron_kind: str = ""
    output_scale: float = 1.0

    def __init__(self, threshold: float = 1.0, reset: str = "zero", compare: str = "ge",
                 surrogate="triangle", surrogate_kwargs: Optional[dict] = None,
                 detach_reset: bool = False, record: bool = False):
        super().__init__()
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {list(RESETS)}, got {reset!r}")
        self.reset = reset
        self.compare = check_compare(compare)
        self.surrogate: Surrogate = get_surrogate(surrogate, **(surrogate_kwargs or {}))
        self.detach_reset = bool(detach_reset)
        self.record = bool(record)
        self.last_v: Optional[torch.Tensor] = None
        self.last_s: Optional[torch.Tensor] = None
        self._set_threshold(threshold)

    def _set_threshold(self, threshold: float) -> None:
        if not float(threshold) > 0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        self._threshold = float(threshold)

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def surrogate_name(self) -> str:
        return self.surrogate.name

    @property
    def surrogate_params(self) -> dict:
        return self.surrogate.params()

    def surrogate_derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``h'(x)`` with ``x = v - θ`` (pre-reset membrane minus threshold)."""
        return self.surrogate.derivative(x)

    def _fire(self, v: torch.Tensor) -> torch.Tensor:
        return self.surrogate.spike(v - self._threshold, self.compare)

    def _apply_reset(self, v: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        sr = s.detach() if self.detach_reset else s
        if self.reset == "zero":
            return v * (1.0 - sr)
        return v - self._threshold * sr

    def _store(self, vs, ss) -> None:
        if self.record:
            self.last_v = torch.stack(vs).detach()
            self.last_s = torch.stack(ss).detach()

    def extra_repr(self) -> str:
        return (f"beta={getattr(self, 'beta', None)}, threshold={self.threshold}, "
                f"reset={self.reset!r}, compare={self.compare!r}, surrogate={self.surrogate!r}")


class LIF(SpikingNeuron):
    """Leaky integrate-and-fire: ``v = β·v + g·I[t]``; see the module docstring."""

    neuron_kind = "lif"

    def __init__(self, beta: float = 0.5, threshold: float = 1.0, reset: str = "zero",
                 compare: str = "ge", surrogate="triangle", surrogate_kwargs: Optional[dict] = None,
                 decay_input: bool = False, detach_reset: bool = False, record: bool = False):
        super().__init__(threshold, reset, compare, surrogate, surrogate_kwargs, detach_reset, record)
        if not 0.0 <= float(beta) <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        self.beta = float(beta)
        self.decay_input = bool(decay_input)

    @property
    def input_gain(self) -> float:
        """``g``: (1 - β) if ``decay_input`` else 1.0."""
        return (1.0 - self.beta) if self.decay_input else 1.0

    def forward(self, I: torch.Tensor) -> torch.Tensor:
        _check_input(I)
        beta, gain = self.beta, self.input_gain
        v = torch.zeros_like(I[0])
        out, vs = [], []
        for t in range(I.shape[0]):
            v = beta * v + (I[t] if gain == 1.0 else gain * I[t])
            s = self._fire(v)
            vs.append(v)
            out.append(s)
            v = self._apply_reset(v, s)
        self._store(vs, out)
        return torch.stack(out)


class IF(LIF):
    """Integrate-and-fire: LIF with ``β = 1`` (no leak, input gain 1)."""

    neuron_kind = "if"

    def __init__(self, threshold: float = 1.0, reset: str = "zero", compare: str = "ge",
                 surrogate="triangle", surrogate_kwargs: Optional[dict] = None,
                 detach_reset: bool = False, record: bool = False):
        super().__init__(1.0, threshold, reset, compare, surrogate, surrogate_kwargs,
                         decay_input=False, detach_reset=detach_reset, record=record)


class CubaLIF(SpikingNeuron):
    """Current-based LIF: ``i = α·i + I[t]; v = β·v + i``; only v is reset."""

    neuron_kind = "cuba"
    input_gain = 1.0

    def __init__(self, alpha: float = 0.5, beta: float = 0.5, threshold: float = 1.0,
                 reset: str = "zero", compare: str = "ge", surrogate="triangle",
                 surrogate_kwargs: Optional[dict] = None, detach_reset: bool = False,
                 record: bool = False):
        super().__init__(threshold, reset, compare, surrogate, surrogate_kwargs, detach_reset, record)
        for name, val in (("alpha", alpha), ("beta", beta)):
            if not 0.0 <= float(val) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {val}")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.last_i: Optional[torch.Tensor] = None

    def forward(self, I: torch.Tensor) -> torch.Tensor:
        _check_input(I)
        i = torch.zeros_like(I[0])
        v = torch.zeros_like(I[0])
        out, vs, cs = [], [], []
        for t in range(I.shape[0]):
            i = self.alpha * i + I[t]
            v = self.beta * v + i
            s = self._fire(v)
            vs.append(v)
            cs.append(i)
            out.append(s)
            v = self._apply_reset(v, s)
        self._store(vs, out)
        if self.record:
            self.last_i = torch.stack(cs).detach()
        return torch.stack(out)


class _ATLIFFire(torch.autograd.Function):
    """``o = θ·H(m - θ)`` (>=) with the AT-LIF surrogate (ALGORITHMS §1.2)."""

    @staticmethod
    def forward(ctx, m, theta, mode):
        s = (m >= theta).to(m.dtype)
        ctx.save_for_backward(m, theta, s)
        ctx.mode = mode
        return theta * s

    @staticmethod
    def backward(ctx, g):
        m, theta, s = ctx.saved_tensors
        tri = torch.clamp(1.0 - (m - theta).abs() / theta, min=0.0)
        grad_m = g * tri
        if ctx.mode == "official":
            grad_theta = -(g * tri * tri).mean()          # code form: mean, tri squared
        else:
            grad_theta = (g * (s - tri)).sum()            # product rule: d(θ·H(m-θ))/dθ = s - tri
        return grad_m, grad_theta.reshape(theta.shape), None


class ATLIF(SpikingNeuron):
    """AT-LIF: learnable per-layer threshold θ, current-based output ``o = θ·s``.

    Threshold adaptation (ALGORITHMS §1.3): during a training forward, per step t::

        U += (λ_t / T) · Σ_b mean_i[ tri((m - θ)/θ) · s ]      (normalized=True: mean_b)

    and after each optimizer step ``adapt_threshold(lr)`` does ``θ += lr·U; U = 0;
    θ = max(θ, theta_min)``. ``eta`` is λ_t (code default 1e-4).
    """

    neuron_kind = "atlif"
    input_gain = 1.0
    decay_input = False

    def __init__(self, tau: float = 1.0, theta: float = 1.0, eta: float = 1e-4,
                 theta_grad_mode: str = "official", normalized: bool = False,
                 theta_min: float = 1e-3, record: bool = False):
        super().__init__(theta, "zero", "ge", Triangle(1.0), None, False, record)
        if theta_grad_mode not in THETA_GRAD_MODES:
            raise ValueError(f"theta_grad_mode must be one of {list(THETA_GRAD_MODES)}, "
                             f"got {theta_grad_mode!r}")
        if not 0.0 <= float(tau) <= 1.0:
            raise ValueError(f"tau must be in [0, 1], got {tau}")
        self.beta = float(tau)
        self.theta = nn.Parameter(torch.tensor(float(theta)))
        self.eta = float(eta)
        self.theta_grad_mode = theta_grad_mode
        self.normalized = bool(normalized)
        self.theta_min = float(theta_min)
        self.register_buffer("theta_update", torch.zeros(()), persistent=False)

    @property
    def tau(self) -> float:
        return self.beta

    @property
    def threshold(self) -> float:  # type: ignore[override]
        return float(self.theta.detach())

    @property
    def output_scale(self) -> float:  # type: ignore[override]
        return float(self.theta.detach())

    @property
    def surrogate_params(self) -> dict:
        return {"width": self.threshold}

    def surrogate_derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``ds/dm = (1/θ)·tri(x/θ)`` with ``x = m - θ`` (triangle of width θ)."""
        return Triangle(self.threshold).derivative(x)

    def forward(self, I: torch.Tensor) -> torch.Tensor:
        _check_input(I)
        T = I.shape[0]
        theta = self.theta
        m = torch.zeros_like(I[0])
        out, vs, ss = [], [], []
        for t in range(T):
            m = self.beta * m + I[t]
            o = _ATLIFFire.apply(m, theta, self.theta_grad_mode)
            if self.training and self.eta != 0.0:
                self._accumulate(m.detach(), theta.detach(), T)
            vs.append(m)
            out.append(o)
            if self.record:
                ss.append((m.detach() >= theta.detach()).to(m.dtype))
            m = m * (1.0 - o / theta.detach())
        if self.record:
            self.last_v = torch.stack(vs).detach()
            self.last_s = torch.stack(ss)
        return torch.stack(out)

    @torch.no_grad()
    def _accumulate(self, m: torch.Tensor, theta: torch.Tensor, T: int) -> None:
        s = (m >= theta).to(m.dtype)
        tri = torch.clamp(1.0 - (m - theta).abs() / theta, min=0.0)
        per_sample = (tri * s).reshape(m.shape[0], -1).mean(1)
        red = per_sample.mean() if self.normalized else per_sample.sum()
        self.theta_update += (self.eta / T) * red.to(self.theta_update.dtype)

    @torch.no_grad()
    def adapt_threshold(self, lr: float) -> None:
        """``θ += lr·U; U = 0; θ = max(θ, theta_min)``."""
        self.theta.add_(lr * self.theta_update.to(self.theta.dtype))
        self.theta_update.zero_()
        self.theta.clamp_(min=self.theta_min)

    def extra_repr(self) -> str:
        return (f"tau={self.beta}, theta={self.threshold:.4g}, eta={self.eta}, "
                f"theta_grad_mode={self.theta_grad_mode!r}")


NEURONS = {"if": IF, "lif": LIF, "cuba": CubaLIF, "atlif": ATLIF}

__all__ = ["SpikingNeuron", "LIF", "IF", "CubaLIF", "ATLIF", "NEURONS", "RESETS",
           "THETA_GRAD_MODES"]
