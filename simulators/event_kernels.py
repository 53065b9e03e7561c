"""Compiled inner loops of the event simulator (``simulators/event.py``), one pass over the data each.

* :func:`count_messages`: the per-(device step, core) counts of a population's senders and their
  messages (messages out, hops, messages in, synaptic events), walking each sender's destination
  cores in the source-major routing table.

The loops add integer-valued float64 numbers only, so every count is exact whatever the order.
"""
from __future__ import annotations

import numpy as np

from snn2hw.simulators.timing import njit

#: rows of :func:`count_messages`' output
MESSAGE_COUNTS = ("messages_out", "hops_ew", "hops_ns", "spikes_in", "synops")


@njit(cache=True)
def count_messages(row, src, src_core, ptr, dcore, dcnt, ew, ns, rows, n_cores):
    """``[5, rows, n_cores]`` float64 counts (:data:`MESSAGE_COUNTS`) of the senders ``src`` (element indices)
    on rows ``row`` (device step rows), placed on cores ``src_core``: per sending core, its messages
    (destinations ``ptr[i + 1] - ptr[i]``) and their hops (``ew[i]``, ``ns[i]``); per destination core
    ``dcore[j]``, the messages received and the synaptic events ``dcnt[j]``."""
    out = np.zeros((5, rows, n_cores))
    for k in range(len(row)):
        r = row[k]
        i = src[k]
        c = src_core[k]
        lo = ptr[i]
        hi = ptr[i + 1]
        out[0, r, c] += hi - lo
        out[1, r, c] += ew[i]
        out[2, r, c] += ns[i]
        for j in range(lo, hi):
            d = dcore[j]
            out[3, r, d] += 1.0
            out[4, r, d] += dcnt[j]
    return out


@njit(cache=True)
def _wrap32(x):
    """Two's-complement wrap of an int64 into int32 (``fixed_point.wrap_bits(x, 32)``)."""
    if -2147483648 <= x < 2147483648:
        return x
    return ((x + 2147483648) & 4294967295) - 2147483648


@njit(cache=True)
def _trunc_mul_shift(x, factor):
    """``trunc0(x * factor / 4096)`` (``fixed_point.trunc_mul_shift``)."""
    p = x * factor
    return p // 4096 if p >= 0 else -((-p) // 4096)


#: neurons of one block of :func:`neuron_layer` (their state stays in cache over the frames)
_BLOCK = 512


@njit(cache=True)
def neuron_layer(a, received, has_received, du, dv, bias, vth64, ge, subtract, readout, forced, start, late, T, off,
                 ran, core, n_cores, want_active):
    """Run a layer of Lava fixed_pt CUBA neurons (``fixed_point.cuba_step``, element by element) over the ``S``
    aligned frames of ``Bv`` samples, with the run protocol's edits, and count per core.

    ``a`` ``[S, Bv, n]`` int64: the summed synaptic input (already wrapped into int32); ``received``
    ``[S, Bv, n]`` bool (used when ``has_received``): the neuron received a synaptic event; ``bias``,
    ``vth64`` ``[n]``: ``bias_mant << bias_exp`` and ``vth << 6``; ``ge``: fire on ``>=`` (else ``>``);
    ``subtract``: reset by subtraction (else to 0); ``readout``: never fires (its potential is still reset
    as the arithmetic says). Per frame ``f`` and sample ``b``: the neuron is *active* when it received,
    holds a nonzero potential before the step or has a nonzero bias; in the last frame a sample with
    ``forced[b]`` is reset (active, silent, ``v = 0``); before ``start[b]`` (frames ``< late``) the state
    is held at 0, silent and inactive; ``ran[f, b]``: the frame runs on the chip (else nothing counts).

    Returns ``out`` ``[S, Bv, n]`` int64 spikes, ``act_core`` / ``fired_core`` ``[S, Bv, n_cores]`` float64
    (active / firing neurons that ran, per core ``core[j]``), ``v_T`` ``[Bv, n]`` (``v`` after frame
    ``T - 1``), ``memb`` (NeuroBench's membrane updates over the ``T`` frames of samples ``b >= off``: all
    neurons at frame 0, then those whose ``v`` changed), the overflow events of those frames and samples
    per kind (``a_wrap``, ``u_wrap``, ``v_saturate``): ``events [3]``, ``hit_n [3, n]`` and
    ``hit_b [3, Bv]`` (neurons and samples that had one), and with ``want_active`` the active flags
    ``[S, Bv, n]`` (ran included; else an empty array).
    """
    S, Bv, n = a.shape
    out = np.zeros((S, Bv, n), np.int64)
    act_core = np.zeros((S, Bv, n_cores))
    fired_core = np.zeros((S, Bv, n_cores))
    active = np.zeros((S, Bv, n) if want_active else (0, 0, 0), np.bool_)
    v_T = np.zeros((Bv, n), np.int64)
    events = np.zeros(3, np.int64)
    hit_n = np.zeros((3, n), np.bool_)
    hit_b = np.zeros((3, Bv), np.bool_)
    any_forced = False
    for b in range(Bv):
        any_forced = any_forced or forced[b]
    keep_u = du == 4095            # no current kept: u = a << 6
    u_factor = 4095 - du
    v_factor = 4096 - dv
    memb = 0
    u = np.zeros(_BLOCK, np.int64)
    v = np.zeros(_BLOCK, np.int64)
    for b in range(Bv):
        for j0 in range(0, n, _BLOCK):
            j1 = min(n, j0 + _BLOCK)
            u[:] = 0
            v[:] = 0
            for f in range(S):
                running = f >= late or start[b] <= f
                rf = ran[f, b]
                rec = f < T and b >= off
                reset_frame = any_forced and f == S - 1 and forced[b]
                for j in range(j0, j1):
                    k = j - j0
                    uu = u[k]
                    vv = v[k]
                    act = vv != 0 or bias[j] != 0 or (has_received and received[f, b, j])
                    a64r = a[f, b, j] << 6
                    a64 = _wrap32(a64r)
                    us = a64 if keep_u else _trunc_mul_shift(uu, u_factor) + a64
                    u2 = _wrap32(us)
                    if u2 > 8388608:
                        un = u2 - 16777216
                    elif u2 <= -8388608:
                        un = u2 + 16777216
                    else:
                        un = u2
                    v1 = vv if dv == 0 else _trunc_mul_shift(vv, v_factor)
                    vs = v1 + un + bias[j]
                    vn = min(max(_wrap32(vs), -8388607), 8388607)
                    sp = vn >= vth64[j] if ge else vn > vth64[j]
                    if rec:
                        if a64r != a64:
                            events[0] += 1
                            hit_n[0, j] = True
                            hit_b[0, b] = True
                        if un != us:
                            events[1] += 1
                            hit_n[1, j] = True
                            hit_b[1, b] = True
                        if vn != vs:
                            events[2] += 1
                            hit_n[2, j] = True
                            hit_b[2, b] = True
                    if sp:
                        vn = vn - vth64[j] if subtract else 0
                    if readout:
                        sp = False
                    if reset_frame:
                        act = True
                        sp = False
                        vn = 0
                    if not running:
                        act = False
                        sp = False
                        un = 0
                        vn = 0
                    if rec:
                        memb += 1 if f == 0 else (1 if vn != vv else 0)
                    u[k] = un
                    v[k] = vn
                    if f == T - 1:
                        v_T[b, j] = vn
                    if sp:
                        out[f, b, j] = 1
                    if rf:
                        if act:
                            act_core[f, b, core[j]] += 1.0
                        if sp:
                            fired_core[f, b, core[j]] += 1.0
                        if want_active:
                            active[f, b, j] = act
    return out, act_core, fired_core, v_T, memb, events, hit_n, hit_b, active


@njit(cache=True)
def sender_soma(f, b, i, active, out, ran, order, core, lat_in, lat_act, lat_sp):
    """The soma latency accumulated on its core up to and including each sender ``(f[k], b[k], i[k])`` (sorted
    by ``(b, f)``) within its population's block: the running sum of the per-neuron soma latencies
    ``(lat_in + (lat_act - lat_in) x active + lat_sp x fired) x ran`` of the sender's frame, taken over the
    whole population in soma-loop ``order`` (core by core), minus the sum before its core's first neuron."""
    n = len(order)
    dl = lat_act - lat_in
    blk = np.empty(n)
    cum = np.empty(len(i))
    k = 0
    while k < len(i):
        ff, bb = f[k], b[k]
        r = 1.0 if ran[ff, bb] else 0.0
        acc = 0.0
        base = 0.0
        for m in range(n):
            j = order[m]
            if m > 0 and core[j] != core[order[m - 1]]:
                base = acc
            act = 1.0 if active[ff, bb, j] else 0.0
            fired = 1.0 if (out[ff, bb, j] != 0 and r != 0.0) else 0.0
            acc += ((lat_in + dl * act) + lat_sp * fired) * r
            blk[j] = acc - base
        while k < len(i) and f[k] == ff and b[k] == bb:
            cum[k] = blk[i[k]]
            k += 1
    return cum
