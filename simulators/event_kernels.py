"""Compiled inner loops of the event simulator (``simulators/event.py``), one pass over the data each.

* :func:`count_sender_messages` (:func:`count_messages` on one chip): the per-(device step, core) counts of a
  population's senders and their messages (messages out, hops, chip crossings, messages in, synaptic events),
  walking each sender's destination
  cores in the source-major routing table.
* :func:`neuron_layer`: a neuron layer over the S aligned frames of a chunk (``fixed_point.cuba_step``
  element by element, the run protocol's edits, the per-core counts).
* :func:`sender_soma`: the soma latency accumulated on a core up to each sender (detailed timing).
* :func:`source_major`: a population's (core, source) routing pairs regrouped by source (counting sort).

The loops add integer-valued float64 numbers only, so every count is exact whatever the order.
"""
from __future__ import annotations

import numpy as np

from snn2hw.simulators.timing import njit, prange

#: per-source quantities :func:`count_sender_messages` can sum on the sending core (the first two always, the
#: chip ones when the placement spans several chips)
SENDER_COUNTS = ("hops_ew", "hops_ns", "chip_hops", "messages_crossing_chips")


def message_counts(k: int) -> tuple:
    """Rows of :func:`count_sender_messages`' output with ``k`` per-source quantities (the first ``k`` of
    :data:`SENDER_COUNTS`)."""
    return ("messages_out",) + SENDER_COUNTS[:k] + ("spikes_in", "synops")


#: rows of :func:`count_messages`' output on a single chip
MESSAGE_COUNTS = message_counts(2)


def count_messages(rows, src, Bv, S, ran, ptr, dcore, dcnt, ew, ns, core, n_cores):
    """:func:`count_sender_messages` with the per-source hops ``ew``, ``ns`` (``[n]``) as its quantities: rows
    :data:`MESSAGE_COUNTS`."""
    return count_sender_messages(rows, src, Bv, S, ran, ptr, dcore, dcnt,
                                 np.ascontiguousarray(np.stack([ew, ns], 1), dtype=np.float64), core, n_cores)


@njit(cache=True)
def count_sender_messages(rows, src, Bv, S, ran, ptr, dcore, dcnt, per_src, core, n_cores):
    """Per-(device step row, core) counts of senders: element ``src[k]`` sends in frame-major row ``rows[k]``
    (frame ``rows[k] // Bv`` of sample ``rows[k] % Bv``) when its frame runs (``ran [S, Bv]``).

    Returns ``[3 + q, Bv * S, n_cores]`` float64 counts (:func:`message_counts` ``(q)``) on sample-major rows
    ``b * S + f``: per sending core ``core[i]``, its messages (destinations ``ptr[i + 1] - ptr[i]``) and the
    ``q`` per-source quantities ``per_src[i]`` (``[n, q]``: hops, chip hops, ...); per destination core
    ``dcore[j]``, the messages received and the synaptic events ``dcnt[j]``. Also ``(f, b, i)`` of the senders
    that ran and have a destination (for message lists)."""
    nq = per_src.shape[1]
    out = np.zeros((3 + nq, Bv * S, n_cores))
    m = len(rows)
    fs = np.empty(m, np.int64)
    bs = np.empty(m, np.int64)
    js = np.empty(m, np.int64)
    kept = 0
    for k in range(m):
        f = rows[k] // Bv
        b = rows[k] - f * Bv
        if not ran[f, b]:
            continue
        r = b * S + f
        i = src[k]
        c = core[i]
        lo = ptr[i]
        hi = ptr[i + 1]
        out[0, r, c] += hi - lo
        for q in range(nq):
            out[1 + q, r, c] += per_src[i, q]
        for j in range(lo, hi):
            d = dcore[j]
            out[1 + nq, r, d] += 1.0
            out[2 + nq, r, d] += dcnt[j]
        if hi > lo:
            fs[kept] = f
            bs[kept] = b
            js[kept] = i
            kept += 1
    return out, fs[:kept], bs[:kept], js[:kept]


@njit(cache=True)
def _wrap32(x):
    """Two's-complement wrap of an int64 into int32 (``fixed_point.wrap_bits(x, 32)``; the identity in range)."""
    return ((x + 2147483648) & 4294967295) - 2147483648


@njit(cache=True)
def _trunc_mul_shift(x, factor):
    """``trunc0(x * factor / 4096)`` (``fixed_point.trunc_mul_shift``), without a branch: a negative product is
    biased by 4095 before the arithmetic shift."""
    p = x * factor
    return (p + ((p >> 63) & 4095)) >> 12


#: neurons of one block of :func:`neuron_layer` (their state stays in cache over the frames)
_BLOCK = 512


@njit(cache=True, parallel=True)
def neuron_layer(a_map, a_rows, rc_map, rc_rows, du, dv, bias, vth64, ge, subtract, readout, forced, start, late, T,
                 off, ran, core, n_cores, want_active):
    """Run a layer of Lava fixed_pt CUBA neurons (``fixed_point.cuba_step``, element by element) over the ``S``
    aligned frames of ``Bv`` samples, with the run protocol's edits, and count per core.

    The summed synaptic input (already wrapped into int32) of frame ``f`` and sample ``b`` is row
    ``a_map[f, b]`` of ``a_rows`` ``[R, n]`` int64 (``-1``: all 0); whether each neuron received a synaptic
    event, row ``rc_map[f, b]`` of ``rc_rows`` ``[R', n]`` bool (``-1``: none did); ``bias``,
    ``vth64`` ``[n]``: ``bias_mant << bias_exp`` and ``vth << 6``; ``ge``: fire on ``>=`` (else ``>``);
    ``subtract``: reset by subtraction (else to 0); ``readout``: never fires (its potential is still reset
    as the arithmetic says). Per frame ``f`` and sample ``b``: the neuron is *active* when it received,
    holds a nonzero potential before the step or has a nonzero bias; in the last frame a sample with
    ``forced[b]`` is reset (active, silent, ``v = 0``); before ``start[b]`` (frames ``< late``) the state
    is held at 0, silent and inactive; ``ran[f, b]``: the frame runs on the chip (else nothing counts).

    Returns ``out`` ``[S, Bv, n]`` int8 spikes, ``row_any`` ``[S, Bv]`` (any spike), ``act_core`` / ``fired_core`` ``[S, Bv, n_cores]`` float64
    (active / firing neurons that ran, per core ``core[j]``), ``v_T`` ``[Bv, n]`` (``v`` after frame
    ``T - 1``), ``memb`` (NeuroBench's membrane updates over the ``T`` frames of samples ``b >= off``: all
    neurons at frame 0, then those whose ``v`` changed), the overflow events of those frames and samples
    per kind (``a_wrap``, ``u_wrap``, ``v_saturate``): ``events [3]``, ``hit_n [3, n]`` and
    ``hit_b [3, Bv]`` (neurons and samples that had one), and with ``want_active`` the active flags
    ``[S, Bv, n]`` (ran included; else an empty array).

    Samples run in parallel. The step is written without branches (selects and 0/1 factors: ``du = 4095``
    keeps no current as a factor 0, ``dv = 0`` keeps all of ``v`` as ``4096 / 4096``, ``>=`` is ``> vth - 1``)
    so that it vectorizes; a block of neurons whose state is 0, whose bias is 0, which 0 cannot fire and
    whose input is 0 in a frame stays so without the arithmetic.
    """
    S, Bv = a_map.shape
    n = len(bias)
    out = np.zeros((S, Bv, n), np.int8)
    row_any = np.zeros((S, Bv), np.bool_)
    act_core = np.zeros((S, Bv, n_cores))
    fired_core = np.zeros((S, Bv, n_cores))
    active = np.zeros((S, Bv, n) if want_active else (0, 0, 0), np.bool_)
    v_T = np.zeros((Bv, n), np.int64)
    events_b = np.zeros((Bv, 3), np.int64)
    hit_nb = np.zeros((Bv, 3, n), np.bool_)
    hit_b = np.zeros((3, Bv), np.bool_)
    memb_b = np.zeros(Bv, np.int64)
    any_forced = False
    for b in range(Bv):
        any_forced = any_forced or forced[b]
    u_factor = 4095 - du
    v_factor = 4096 - dv
    thr = vth64 - 1 if ge else vth64.copy()    # fires when v > thr
    sub = 1 if subtract else 0
    no_out = 0 if readout else 1
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    quiet = np.zeros(n_blocks, np.bool_)      # bias 0 and 0 does not fire: a zero state with zero input stays so
    block_core = np.full(n_blocks, -1, np.int64)  # the block's core when it lies on one
    for q in range(n_blocks):
        ok = True
        one = True
        for j in range(q * _BLOCK, min(n, (q + 1) * _BLOCK)):
            if bias[j] != 0 or thr[j] < 0:
                ok = False
            if core[j] != core[q * _BLOCK]:
                one = False
        quiet[q] = ok
        if one:
            block_core[q] = core[q * _BLOCK]
    for b in prange(Bv):
        u = np.zeros(_BLOCK, np.int64)
        v = np.zeros(_BLOCK, np.int64)
        act_k = np.zeros(_BLOCK, np.int64)
        sp_k = np.zeros(_BLOCK, np.int64)
        ev = np.zeros(3, np.int64)
        memb = 0
        for q in range(n_blocks):
            j0 = q * _BLOCK
            j1 = min(n, j0 + _BLOCK)
            m = j1 - j0
            u[:] = 0
            v[:] = 0
            zero = True                   # the block's state is 0
            for f in range(S):
                running = f >= late or start[b] <= f
                rf = ran[f, b] and running
                rec = f < T and b >= off
                reset_frame = any_forced and f == S - 1 and forced[b]
                ra, rr = a_map[f, b], rc_map[f, b]
                ha, hr = 1 if ra >= 0 else 0, 1 if rr >= 0 else 0
                ra, rr = max(ra, 0), max(rr, 0)   # a missing row reads row 0 times 0
                if zero and quiet[q]:
                    silent = True
                    if ha:
                        for k in range(m):
                            if a_rows[ra, j0 + k] != 0:
                                silent = False
                                break
                    if silent:  # nothing changes: only who received (or the reset frame) is active
                        if rec and f == 0:
                            memb += m
                        if rf:
                            for k in range(m):
                                if reset_frame or (hr and rc_rows[rr, j0 + k]):
                                    act_core[f, b, core[j0 + k]] += 1.0
                                    if want_active:
                                        active[f, b, j0 + k] = True
                        continue
                keep = 1 if running else 0
                force = 1 if reset_frame else 0
                rec_i = 1 if rec else 0
                first = 1 if f == 0 else 0
                nz = 0
                e0 = 0
                e1 = 0
                e2 = 0
                mm = 0
                for k in range(m):  # the step, branch-free
                    j = j0 + k
                    uu = u[k]
                    vv = v[k]
                    rcv = rc_rows[rr, j] * hr
                    act = ((vv != 0) | (bias[j] != 0) | (rcv != 0) | force) & keep
                    a64r = (a_rows[ra, j] * ha) << 6
                    a64 = _wrap32(a64r)
                    us = _trunc_mul_shift(uu, u_factor) + a64
                    u2 = _wrap32(us)
                    un = u2 - (u2 > 8388608) * 16777216 + (u2 <= -8388608) * 16777216
                    vs = _trunc_mul_shift(vv, v_factor) + un + bias[j]
                    vn = min(max(_wrap32(vs), -8388607), 8388607)
                    sp = vn > thr[j]
                    x0 = (a64r != a64) * rec_i
                    x1 = (un != us) * rec_i
                    x2 = (vn != vs) * rec_i
                    e0 += x0
                    e1 += x1
                    e2 += x2
                    hit_nb[b, 0, j] |= x0 != 0
                    hit_nb[b, 1, j] |= x1 != 0
                    hit_nb[b, 2, j] |= x2 != 0
                    vr = vn - sp * (sub * vth64[j] + (1 - sub) * vn)    # the reset
                    vr = vr * (1 - force) * keep
                    un = un * keep
                    spo = sp * no_out * (1 - force) * keep
                    mm += (first | (vr != vv)) * rec_i
                    u[k] = un
                    v[k] = vr
                    nz |= un | vr
                    out[f, b, j] = spo
                    act_k[k] = act
                    sp_k[k] = spo
                zero = nz == 0
                ev[0] += e0
                ev[1] += e1
                ev[2] += e2
                memb += mm
                if f == T - 1:
                    for k in range(m):
                        v_T[b, j0 + k] = v[k]
                if rf:
                    if want_active:
                        for k in range(m):
                            active[f, b, j0 + k] = act_k[k] != 0
                    c = block_core[q]
                    if c >= 0:
                        na = 0
                        ns = 0
                        for k in range(m):
                            na += act_k[k]
                            ns += sp_k[k]
                        act_core[f, b, c] += na
                        fired_core[f, b, c] += ns
                    else:
                        for k in range(m):
                            act_core[f, b, core[j0 + k]] += act_k[k]
                            fired_core[f, b, core[j0 + k]] += sp_k[k]
                if not row_any[f, b]:
                    for k in range(m):
                        if sp_k[k]:
                            row_any[f, b] = True
                            break
        memb_b[b] = memb
        events_b[b, 0] = ev[0]
        events_b[b, 1] = ev[1]
        events_b[b, 2] = ev[2]
    events = np.zeros(3, np.int64)
    hit_n = np.zeros((3, n), np.bool_)
    for b in range(Bv):
        for kk in range(3):
            if events_b[b, kk]:
                events[kk] += events_b[b, kk]
                hit_b[kk, b] = True
                for j in range(n):
                    hit_n[kk, j] |= hit_nb[b, kk, j]
    return out, row_any, act_core, fired_core, v_T, memb_b.sum(), events, hit_n, hit_b, active


@njit(cache=True, parallel=True)
def sender_soma(f, b, i, active, out, ran, order, core, lat_in, lat_act, lat_sp):
    """The soma latency accumulated on its core up to and including each sender ``(f[k], b[k], i[k])`` (grouped
    by ``(f, b)``) within its population's block: the running sum of the per-neuron soma latencies
    ``(lat_in + (lat_act - lat_in) x active + lat_sp x fired) x ran`` of the sender's frame, taken over the
    whole population in soma-loop ``order`` (core by core), minus the sum before its core's first neuron.
    The groups run in parallel."""
    n = len(order)
    dl = lat_act - lat_in
    cum = np.empty(len(i))
    starts = [0]
    for k in range(1, len(i)):
        if f[k] != f[k - 1] or b[k] != b[k - 1]:
            starts.append(k)
    starts.append(len(i))
    for g in prange(len(starts) - 1):
        k0, k1 = starts[g], starts[g + 1]
        ff, bb = f[k0], b[k0]
        r = 1.0 if ran[ff, bb] else 0.0
        blk = np.empty(n)
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
        for k in range(k0, k1):
            cum[k] = blk[i[k]]
    return cum


@njit(cache=True)
def source_major(keys, counts, n_src, dest, nsyn):
    """Regroup the sorted core-major keys ``core * n_src + source`` (with their synapse counts) by source, each
    source's cores ascending: fills ``dest`` and ``nsyn`` (length of ``keys``) and returns ``ptr [n_src + 1]``
    (source ``i``'s pairs are ``[ptr[i], ptr[i + 1])``). The same order as a stable sort by source."""
    ptr = np.zeros(n_src + 1, np.int64)
    src = np.empty(len(keys), np.int64)
    c = 0
    for k in range(len(keys)):  # keys ascend: follow the core instead of dividing
        while keys[k] >= (c + 1) * n_src:
            c += 1
        src[k] = keys[k] - c * n_src
        ptr[src[k] + 1] += 1
    for i in range(n_src):
        ptr[i + 1] += ptr[i]
    at = ptr[:n_src].copy()
    c = 0
    for k in range(len(keys)):
        while keys[k] >= (c + 1) * n_src:
            c += 1
        i = src[k]
        dest[at[i]] = c
        nsyn[at[i]] = counts[k]
        at[i] += 1
    return ptr
