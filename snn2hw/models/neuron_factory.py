"""The neuron keyword arguments shared by every built-in model.

``neuron='lif'|'if'|'atlif'|'cuba'``, ``beta`` (None: 0.5 for lif/cuba — the
QP-SNN τ = 0.5 — and 1.0 for atlif — the AT-LIF code default τ), ``threshold``
(1.0; the initial θ for atlif), ``surrogate`` ('triangle'), ``reset`` ('zero'),
``compare`` ('ge'), ``alpha`` (cuba current decay, 0.5), ``eta`` (atlif λ_t, 1e-4),
``theta_grad_mode`` (atlif, 'official').
"""
from __future__ import annotations

from typing import Callable, Optional

from torch import nn

from ..nn import ATLIF, IF, LIF, CubaLIF

NEURON_KINDS = ("lif", "if", "atlif", "cuba")
NEURON_KWARGS = ("neuron", "beta", "threshold", "surrogate", "reset", "compare", "alpha",
                 "eta", "theta_grad_mode")


def neuron_factory(neuron: str = "lif", beta: Optional[float] = None, threshold: float = 1.0,
                   surrogate: str = "triangle", reset: str = "zero", compare: str = "ge",
                   alpha: float = 0.5, eta: float = 1e-4,
                   theta_grad_mode: str = "official") -> Callable[[], nn.Module]:
    """Return a zero-argument callable that builds one fresh neuron module."""
    if neuron not in NEURON_KINDS:
        raise ValueError(f"unknown neuron {neuron!r}; valid: {', '.join(NEURON_KINDS)}")
    if neuron == "atlif":
        if reset != "zero" or compare != "ge":
            raise ValueError("atlif always uses reset='zero' and compare='ge'")
        tau = 1.0 if beta is None else float(beta)
        return lambda: ATLIF(tau=tau, theta=threshold, eta=eta, theta_grad_mode=theta_grad_mode)
    if neuron == "if":
        if beta is not None and float(beta) != 1.0:
            raise ValueError(f"neuron 'if' has no leak: beta must be omitted or 1.0, got {beta}")
        return lambda: IF(threshold=threshold, reset=reset, compare=compare, surrogate=surrogate)
    b = 0.5 if beta is None else float(beta)
    if neuron == "cuba":
        return lambda: CubaLIF(alpha=alpha, beta=b, threshold=threshold, reset=reset,
                               compare=compare, surrogate=surrogate)
    return lambda: LIF(beta=b, threshold=threshold, reset=reset, compare=compare,
                       surrogate=surrogate)
