"""Input encodings: a static sample batch ``[B, ...]`` to a time-major ``[T, B, ...]``.

* ``direct``: the analog frame repeated at every step, ``X[t] = x`` (all three seed papers).
* ``rate``:   Bernoulli spikes, ``X[t] ~ Bernoulli(clip(x, 0, 1))`` i.i.d. over t,
  deterministic for a given seed (a private ``torch.Generator``).
* ``events``: the sample already is a sequence of frames ``[B, T, ...]`` (event data,
  ``Dataset.timesteps = T``); it is only made time-major, ``X[t] = x[:, t]``.
"""
from __future__ import annotations

from typing import Optional

import torch

ENCODINGS = ("direct", "rate", "events")


def _as_tensor(x) -> torch.Tensor:
    x = torch.as_tensor(x)
    return x if x.is_floating_point() else x.float()


def _check_T(T: int) -> int:
    if int(T) != T or T < 1:
        raise ValueError(f"T must be a positive integer, got {T}")
    return int(T)


def direct(x, T: int) -> torch.Tensor:
    """``[B, ...] -> [T, B, ...]`` with every step equal to x (a contiguous copy)."""
    x = _as_tensor(x)
    return x.unsqueeze(0).repeat(_check_T(T), *([1] * x.dim()))


def rate(x, T: int, seed: Optional[int] = 0,
         generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Bernoulli spikes with ``p = clip(x, 0, 1)``; same seed → same spikes.

    Pass ``generator`` to draw from a running stream instead of ``seed``.
    """
    x = _as_tensor(x)
    T = _check_T(T)
    if generator is None:
        generator = torch.Generator(device=x.device)
        generator.manual_seed(0 if seed is None else int(seed))
    p = x.clamp(0.0, 1.0).unsqueeze(0).expand(T, *x.shape)
    return torch.bernoulli(p, generator=generator)


def events(x, T: int) -> torch.Tensor:
    """``[B, T, ...] -> [T, B, ...]`` (a contiguous copy); T must match the frames' count."""
    x = _as_tensor(x)
    T = _check_T(T)
    if x.dim() < 2 or x.shape[1] != T:
        raise ValueError(f"event frames of shape {tuple(x.shape)} do not hold T={T} steps in dimension 1")
    return x.transpose(0, 1).contiguous()


def encode(x, T: int, encoding: str = "direct", seed: Optional[int] = 0,
           generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Dispatch on the encoding name (``'direct'`` | ``'rate'``)."""
    if encoding == "direct":
        return direct(x, T)
    if encoding == "rate":
        return rate(x, T, seed=seed, generator=generator)
    if encoding == "events":
        return events(x, T)
    raise ValueError(f"unknown encoding {encoding!r}; valid: {', '.join(ENCODINGS)}")
