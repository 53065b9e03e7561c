"""Loihi / Lava fixed-point arithmetic, the one integer execution model of snn2hw.

Every function here reproduces ``Loihi2SimCfg(select_tag='fixed_pt')`` of
lava-nc 0.10.0 bit for bit (shared/reference/LAVA.md §1, checked there against
Lava on 29 random networks and here in ``tests/lava``):

* decays are 12-bit: ``u *= (4095 - du) / 4096`` (note the ``+1`` offset on du),
  ``v *= (4096 - dv) / 4096``, truncating toward zero;
* synaptic input enters ``u`` scaled by 64 (``a << 6``) with int32 wrap;
* ``u`` wraps by one conditional ``+-2^24`` (not a modulo), ``v`` saturates at
  ``+-(2^23 - 1)``;
* a neuron fires when ``v > vth << 6`` (strict) and ``v`` resets to 0; ``u`` is not reset.

Profiles may switch the comparison to ``>=`` and the reset to subtraction;
the arithmetic stays the same. All tensors are int64.
"""
from __future__ import annotations

import torch

STATE_BITS = 24
V_MAX = 2 ** (STATE_BITS - 1) - 1
U_HI = 2 ** (STATE_BITS - 1)       # u > U_HI wraps down by 2^24
DECAY_ONE = 4096                    # 12-bit decay unit
SCALE_SHIFT = 6                     # synaptic input, bias and threshold live at x64


def trunc_mul_shift(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``trunc0(x * factor / 4096)``: the product in int64, truncated toward zero."""
    return torch.div(x * int(factor), DECAY_ONE, rounding_mode="trunc")


def wrap_bits(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement wrap of int64 values into ``bits`` bits (true modulo)."""
    half = 1 << (bits - 1)
    if x.numel() == 0:
        return x
    lo, hi = torch.aminmax(x)
    if int(hi) < half and int(lo) >= -half:
        return x  # already in range: skip the modulo (the common case)
    return torch.remainder(x + half, 1 << bits) - half


def shift(x: torch.Tensor, e: int) -> torch.Tensor:
    """Lava's weight exponent on a sum: ``x << e`` for e >= 0, floor ``x >> -e`` otherwise."""
    e = int(e)
    return x << e if e >= 0 else x >> (-e)


def bias_value(bias_mant: torch.Tensor, bias_exp: int) -> torch.Tensor:
    """``bias_mant << bias_exp`` (floor shift for a negative exponent)."""
    return shift(bias_mant, bias_exp)


def cuba_step(u, v, a, du: int, dv: int, bias, vth64, compare: str = "gt", reset: str = "zero",
              counters: dict | None = None, on_overflow=None):
    """One Lava LIF fixed_pt step. Returns ``(u, v, s)``; ``s`` is int64 0/1.

    ``a`` is the summed int32 synaptic input, ``bias`` is ``bias_mant << bias_exp``
    and ``vth64`` is ``vth << 6`` (all broadcastable to ``u``).

    Overflow events (one per neuron and step, whatever the number of wraps in it):

    * ``a_wrap``: ``a << 6`` left int32 and wrapped;
    * ``u_wrap``: the new ``u`` differs from the exact ``decay(u) + (a << 6)`` (its int32
      wrap and/or the conditional +-2^24 wrap changed it);
    * ``v_saturate``: the new ``v`` (before the reset) differs from the exact
      ``decay(v) + u + bias`` (saturated at +-(2^23 - 1), or wrapped at int32 first).

    ``counters`` (kind -> int) gets the number of events added; ``on_overflow(kind, mask)``
    is called with the boolean mask (shape of ``u``) of the neurons that had the event. Both
    are only touched when an event happens; neither changes the arithmetic.
    """
    for name, t in (("u", u), ("v", v), ("a", a)):
        if t.dtype != torch.int64:  # no float (or narrower int) may creep into the integer state
            raise TypeError(f"cuba_step: {name} must be an int64 tensor, got {t.dtype}")
    a64_raw = a << SCALE_SHIFT
    a64 = wrap_bits(a64_raw, 32)
    # du = 4095 keeps no current (factor 0); dv = 0 keeps all of v (factor 4096): skip the multiply
    u_sum = a64 if du == DECAY_ONE - 1 else trunc_mul_shift(u, 4095 - du) + a64
    u2 = wrap_bits(u_sum, 32)
    lo, hi = torch.aminmax(u2)
    if int(hi) > U_HI or int(lo) <= -U_HI:
        u_new = torch.where(u2 > U_HI, u2 - (1 << STATE_BITS), torch.where(u2 <= -U_HI, u2 + (1 << STATE_BITS), u2))
    else:
        u_new = u2
    v1 = v if dv == 0 else trunc_mul_shift(v, DECAY_ONE - dv)
    v_sum = v1 + u_new + bias
    v2 = wrap_bits(v_sum, 32)
    v_new = torch.clamp(v2, -V_MAX, V_MAX)
    s = (v_new >= vth64) if compare == "ge" else (v_new > vth64)
    if counters is not None or on_overflow is not None:
        events = {}
        if a64 is not a64_raw:
            events["a_wrap"] = a64_raw != a64
        if u_new is not u2 or u2 is not u_sum:
            events["u_wrap"] = u_new != u_sum
        if v_sum.numel():
            lo, hi = torch.aminmax(v_sum)
            if int(hi) > V_MAX or int(lo) < -V_MAX:
                events["v_saturate"] = torch.broadcast_to(v_new != v_sum, u_new.shape)
        for kind, mask in events.items():
            if counters is not None:
                counters[kind] += int(mask.sum())
            if on_overflow is not None:
                on_overflow(kind, mask)
    if reset == "subtract":
        v_new = v_new - vth64 * s
    else:
        v_new = v_new.masked_fill(s, 0)
    return u_new, v_new, s.to(torch.int64)
