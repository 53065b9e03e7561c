"""Spike functions with surrogate gradients.

Forward: a Heaviside step on ``x = v - θ`` (the pre-reset membrane minus the
threshold), with a choice of comparison:

* ``compare='ge'``: ``s = 1 if x >= 0`` (AT-LIF, QP-SNN; ALGORITHMS §1.1, §3.1)
* ``compare='gt'``: ``s = 1 if x > 0``  (Loihi / Lava's strict ``v > vth``)

Backward: the derivative ``h'(x) = dS/dx`` of a smooth stand-in for H:

* ``triangle(width=a)``: ``h'(x) = (1/a)·max(0, 1 - |x|/a)``
  (QP-SNN §3.1 with a = 1; AT-LIF uses a = θ, see ``neurons.ATLIF``)
* ``arctan(alpha)``:     ``h'(x) = (α/2) / (1 + ((π/2)·α·x)²)``  (ALGORITHMS §2.1 Eq. 2b, α = 2)
* ``sigmoid(alpha)``:    ``h'(x) = α·σ(αx)·(1 - σ(αx))``        (ALGORITHMS §2.1, α = 4)

``surrogate_derivative(name, x, **kw)`` evaluates ``h'`` directly (criticality
scores, ALGORITHMS §2.2, need it without autograd).
"""
from __future__ import annotations

import math
from typing import Dict, Type

import torch

COMPARES = ("ge", "gt")


def check_compare(compare: str) -> str:
    if compare not in COMPARES:
        raise ValueError(f"compare must be one of {list(COMPARES)}, got {compare!r}")
    return compare


def heaviside(x: torch.Tensor, compare: str = "ge") -> torch.Tensor:
    """``H(x)`` as a float tensor of 0/1: ``x >= 0`` ('ge') or ``x > 0`` ('gt')."""
    check_compare(compare)
    return (x >= 0).to(x.dtype) if compare == "ge" else (x > 0).to(x.dtype)


class Surrogate:
    """Base class: a named surrogate with ``derivative(x) = h'(x)``."""

    name: str = ""

    def derivative(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def params(self) -> dict:
        """The constructor keyword arguments (for configs and the converter)."""
        return {}

    def spike(self, x: torch.Tensor, compare: str = "ge") -> torch.Tensor:
        """``H(x)`` forward, ``h'(x)`` backward."""
        check_compare(compare)
        return _SpikeFn.apply(x, self, compare)

    __call__ = spike

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({kw})"


class Triangle(Surrogate):
    """``h'(x) = (1/a)·max(0, 1 - |x|/a)``; integrates to 1 over x."""

    name = "triangle"

    def __init__(self, width: float = 1.0):
        if not width > 0:
            raise ValueError(f"triangle width must be > 0, got {width}")
        self.width = float(width)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.width
        return torch.clamp(1.0 - x.abs() / a, min=0.0) / a

    def params(self) -> dict:
        return {"width": self.width}


class ArcTan(Surrogate):
    """``h(x) = (1/π)·arctan((π/2)αx) + 1/2``, ``h'(x) = (α/2)/(1 + ((π/2)αx)²)``."""

    name = "arctan"

    def __init__(self, alpha: float = 2.0):
        if not alpha > 0:
            raise ValueError(f"arctan alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        return (a / 2.0) / (1.0 + (math.pi / 2.0 * a * x) ** 2)

    def params(self) -> dict:
        return {"alpha": self.alpha}


class Sigmoid(Surrogate):
    """``h(x) = σ(αx)``, ``h'(x) = α·σ(αx)·(1 - σ(αx))``."""

    name = "sigmoid"

    def __init__(self, alpha: float = 4.0):
        if not alpha > 0:
            raise ValueError(f"sigmoid alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        sg = torch.sigmoid(self.alpha * x)
        return self.alpha * sg * (1.0 - sg)

    def params(self) -> dict:
        return {"alpha": self.alpha}


class _SpikeFn(torch.autograd.Function):
    """Heaviside forward, ``grad_x = grad_out · h'(x)`` backward."""

    @staticmethod
    def forward(ctx, x, surrogate, compare):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return heaviside(x, compare)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.derivative(x), None, None


SURROGATES: Dict[str, Type[Surrogate]] = {
    Triangle.name: Triangle,
    ArcTan.name: ArcTan,
    Sigmoid.name: Sigmoid,
}


def list_surrogates() -> list:
    return sorted(SURROGATES)


def get_surrogate(name, **kw) -> Surrogate:
    """Build a surrogate from its name (``'triangle' | 'arctan' | 'sigmoid'``).

    A ``Surrogate`` instance is returned unchanged (``kw`` must then be empty).
    Unknown names raise ``ValueError`` listing the valid ones.
    """
    if isinstance(name, Surrogate):
        if kw:
            raise ValueError("keyword arguments given together with a Surrogate instance")
        return name
    if not isinstance(name, str) or name.lower() not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; valid: {', '.join(list_surrogates())}")
    return SURROGATES[name.lower()](**kw)


def surrogate_derivative(name, x: torch.Tensor, **kw) -> torch.Tensor:
    """Evaluate ``h'(x)`` of the named surrogate directly (no autograd)."""
    return get_surrogate(name, **kw).derivative(torch.as_tensor(x))


def spike(x: torch.Tensor, surrogate="triangle", compare: str = "ge", **kw) -> torch.Tensor:
    """Functional form: ``get_surrogate(surrogate, **kw).spike(x, compare)``."""
    return get_surrogate(surrogate, **kw).spike(x, compare)


__all__ = [
    "COMPARES", "Surrogate", "Triangle", "ArcTan", "Sigmoid", "SURROGATES",
    "get_surrogate", "list_surrogates", "surrogate_derivative", "heaviside", "spike",
    "check_compare",
]
