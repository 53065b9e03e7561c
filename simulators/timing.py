"""Timing models of a device step: how long the cores take to process what the event simulator counted.

Both follow SANA-FE (Boyle et al., "SANA-FE: Simulating Advanced Neuromorphic Architectures for Fast
Exploration", IEEE TCAD 44(8) 2025, §IV-C; SANA-FE 2.2.9 is GPL-3 and used only as an outside
oracle in ``tests/oracles``: this is our own implementation of the published model).

A step has two kinds of serial work per core. The *neuron side* of core ``c`` is its soma loop: every
neuron it holds is accessed (and updated, and spikes) in order, and each spike leaves as one message
per destination core through the axon-out unit; the neuron latencies accumulate into the *generation
delay* of the next message the core sends (what is left after its last message is a placeholder with
no destination). The *message side* of a core is the work of the messages it receives: axon-in plus
one synapse lookup per synaptic event (the *processing delay* of a message).

* **simple**: ``max(max_c neuron side, max_c message side) + barrier``: no network time, no
  dependency between the two sides, no contention (:func:`simple_step_latency`).
* **detailed**: every message is scheduled (:func:`detailed_step_latency`). Each core sends its
  messages in order, message ``k`` leaving ``generation_delay[k]`` after message ``k - 1``; a global
  priority queue takes the earliest sent message next. Its network delay is the larger of the
  hop latency (dimension-order routing) and a congestion delay: the messages in flight along its
  route (each in-flight message adds ``1 / (hops + 2)`` to every link on its path: the source
  core's output link, the mesh links, the link into the destination) times the mean processing
  delay of the messages in flight, divided by ``hops + 1``. When the route holds more than
  ``(hops + 1) x link buffer`` messages, the message is blocked for the excess times that mean, and
  so is every later message of its core. The destination core processes its messages one at a
  time in the order they are scheduled: a message is processed from
  ``max(core free, sent + network delay)`` for its processing delay; it stays in flight until it is
  received. The step ends at the latest send or processing time, plus the barrier.
"""
from __future__ import annotations

import numpy as np

try:  # a compiled kernel; numba is a dependency of the package
    from numba import njit
except ImportError:  # pragma: no cover - the package requires numba; keeps the module importable for docs
    def njit(*args, **kwargs):
        return args[0] if args and callable(args[0]) else (lambda f: f)

#: router links: north, east, south, west, then one link per core of the tile
N_DIRECTIONS = 4
NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3


def simple_step_latency(neuron_side: np.ndarray, message_side: np.ndarray, barrier: float) -> np.ndarray:
    """``[steps]`` latencies from per-core work ``[steps, cores]`` (ns)."""
    if neuron_side.shape[1] == 0:
        return np.full(neuron_side.shape[0], barrier)
    return np.maximum(neuron_side.max(1), message_side.max(1)) + barrier


@njit(cache=True)
def _heap_push(key, a, b, n, k, va, vb):
    """Push ``(k, va, vb)`` onto a min-heap of ``n`` entries on ``key`` (ties: smaller ``a``, then ``b``)."""
    i = n
    key[i] = k
    a[i] = va
    b[i] = vb
    while i > 0:
        p = (i - 1) // 2
        if key[p] < key[i] or (key[p] == key[i] and (a[p] < a[i] or (a[p] == a[i] and b[p] <= b[i]))):
            break
        key[p], key[i] = key[i], key[p]
        a[p], a[i] = a[i], a[p]
        b[p], b[i] = b[i], b[p]
        i = p
    return n + 1


@njit(cache=True)
def _heap_pop(key, a, b, n):
    """Remove the top of a heap of ``n`` entries (read it first); returns the new size."""
    n -= 1
    key[0] = key[n]
    a[0] = a[n]
    b[0] = b[n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        j = left
        r = left + 1
        if r < n and (key[r] < key[left] or (key[r] == key[left] and (a[r] < a[left] or (a[r] == a[left]
                                                                                           and b[r] < b[left])))):
            j = r
        if key[i] < key[j] or (key[i] == key[j] and (a[i] < a[j] or (a[i] == a[j] and b[i] <= b[j]))):
            break
        key[j], key[i] = key[i], key[j]
        a[j], a[i] = a[i], a[j]
        b[j], b[i] = b[i], b[j]
        i = j
    return n


@njit(cache=True)
def _route(density, sx, sy, dx, dy, src_off, height, links, adj):
    """Add ``adj`` to every link on the route (``adj == 0``: only read); returns the sum before adding."""
    total = 0.0
    core_link = N_DIRECTIONS + src_off
    prev = core_link
    step = 1 if sx < dx else -1
    x = sx
    while x != dx:
        link = core_link if x == sx else (EAST if step > 0 else WEST)
        i = (x * height + sy) * links + link
        total += density[i]
        density[i] += adj
        prev = EAST if step > 0 else WEST
        x += step
    ystep = 1 if sy < dy else -1
    y = sy
    while y != dy:
        link = core_link if (sx == dx and y == sy) else prev
        i = (dx * height + y) * links + link
        total += density[i]
        density[i] += adj
        prev = NORTH if ystep > 0 else SOUTH
        y += ystep
    link = core_link if (sx == dx and sy == dy) else prev
    i = (dx * height + dy) * links + link
    total += density[i]
    density[i] += adj
    return total


@njit(cache=True)
def _detailed_one_step(lo, hi, src, gen, dst, proc, core_x, core_y, core_off, n_cores, width, height,
                       cores_per_tile, lat_ew, lat_ns, buffer_size):
    """The end time (ns, before the barrier) of one step's messages ``[lo, hi)`` sorted by source core."""
    links = N_DIRECTIONS + cores_per_tile
    density = np.zeros(width * height * links)
    free = np.zeros(n_cores)          # when each destination core has processed its last message
    n = hi - lo
    # per source core: the range of its messages
    first = np.full(n_cores, -1, np.int64)
    last_i = np.full(n_cores, -1, np.int64)
    for i in range(lo, hi):
        c = src[i]
        if first[c] < 0:
            first[c] = i
        last_i[c] = i
    # send queue: (sent time, source core, message index)
    sk = np.empty(n_cores + 1)
    sa = np.empty(n_cores + 1, np.int64)
    sb = np.empty(n_cores + 1, np.int64)
    ns = 0
    for c in range(n_cores):
        if first[c] >= 0:
            ns = _heap_push(sk, sa, sb, ns, gen[first[c]], c, first[c])
    # in flight: (received time, message index, 0)
    fk = np.empty(n + 1)
    fa = np.empty(n + 1, np.int64)
    fb = np.zeros(n + 1, np.int64)
    nf = 0
    mean = 0.0
    in_noc = 0
    end = 0.0
    while ns > 0:
        t = sk[0]
        c = sa[0]
        i = sb[0]
        ns = _heap_pop(sk, sa, sb, ns)
        if t > end:
            end = t
        while nf > 0 and fk[0] <= t:  # messages received by now leave the network
            j = fa[0]
            nf = _heap_pop(fk, fa, fb, nf)
            sxj, syj = core_x[src[j]], core_y[src[j]]
            dxj, dyj = core_x[dst[j]], core_y[dst[j]]
            hj = abs(sxj - dxj) + abs(syj - dyj)
            _route(density, sxj, syj, dxj, dyj, core_off[src[j]], height, links, -1.0 / (2.0 + hj))
            if in_noc > 1:
                mean += (mean - proc[j]) / (in_noc - 1.0)
            else:
                mean = 0.0
            in_noc -= 1
        d = dst[i]
        if d >= 0:
            sx, sy, dx, dy = core_x[c], core_y[c], core_x[d], core_y[d]
            hx, hy = abs(sx - dx), abs(sy - dy)
            hops = hx + hy
            along = _route(density, sx, sy, dx, dy, core_off[c], height, links, 0.0)
            capacity = (hops + 1.0) * buffer_size
            if along > capacity:
                t += (along - capacity) * mean  # blocked: the sender stalls
            congestion = along * mean / (hops + 1.0)
            net = max(hx * lat_ew + hy * lat_ns, congestion)
            earliest = t + net
            recv = max(free[d], earliest)
            free[d] = max(free[d], earliest) + proc[i]
            if free[d] > end:
                end = free[d]
            nf = _heap_push(fk, fa, fb, nf, recv, i, 0)
            _route(density, sx, sy, dx, dy, core_off[c], height, links, 1.0 / (2.0 + hops))
            mean += (proc[i] - mean) / (in_noc + 1.0)
            in_noc += 1
        if i < last_i[c]:
            nt = t + gen[i + 1]
            if nt > end:
                end = nt
            ns = _heap_push(sk, sa, sb, ns, nt, c, i + 1)
    return end


@njit(cache=True)
def _detailed_steps(bounds, src, gen, dst, proc, core_x, core_y, core_off, n_cores, width, height,
                    cores_per_tile, lat_ew, lat_ns, buffer_size):
    out = np.zeros(len(bounds) - 1)
    for s in range(len(bounds) - 1):
        if bounds[s + 1] > bounds[s]:
            out[s] = _detailed_one_step(bounds[s], bounds[s + 1], src, gen, dst, proc, core_x, core_y, core_off,
                                        n_cores, width, height, cores_per_tile, lat_ew, lat_ns, buffer_size)
    return out


@njit(cache=True)
def _sender_steps(bounds, core, cum, src, ptr, dest, nsyn, out_lat, in_lat, syn_lat, core_x, core_y, core_off,
                  n_cores, width, height, cores_per_tile, lat_ew, lat_ns, buffer_size):
    """Per step: expand its senders into messages (generation and processing delays), then schedule them."""
    out = np.zeros(len(bounds) - 1)
    cap = 16
    msrc = np.empty(cap, np.int64)
    mgen = np.empty(cap)
    mdst = np.empty(cap, np.int64)
    mproc = np.empty(cap)
    for s in range(len(bounds) - 1):
        lo, hi = bounds[s], bounds[s + 1]
        m = 0
        for k in range(lo, hi):
            m += ptr[src[k] + 1] - ptr[src[k]] if src[k] >= 0 else 1
        if m > cap:
            cap = max(m, 2 * cap)
            msrc = np.empty(cap, np.int64)
            mgen = np.empty(cap)
            mdst = np.empty(cap, np.int64)
            mproc = np.empty(cap)
        m = 0
        prev = 0.0
        for k in range(lo, hi):
            c = core[k]
            if k == lo or c != core[k - 1]:
                prev = 0.0  # the first sender of a (step, core) counts from the soma loop's start
            if src[k] < 0:  # placeholder: what is left of the core's soma loop after its last sender
                g = cum[k] - prev
                if g > 1e-12:
                    msrc[m] = c
                    mgen[m] = g
                    mdst[m] = -1
                    mproc[m] = 0.0
                    m += 1
                continue
            jlo, jhi = ptr[src[k]], ptr[src[k] + 1]
            if jhi == jlo:
                continue
            first = cum[k] - prev
            for j in range(jlo, jhi):
                d = dest[j]
                msrc[m] = c
                mgen[m] = (first if j == jlo else 0.0) + out_lat
                mdst[m] = d
                mproc[m] = in_lat + nsyn[j] * syn_lat[d]
                m += 1
            prev = cum[k]
        if m > 0:
            out[s] = _detailed_one_step(0, m, msrc, mgen, mdst, mproc, core_x, core_y, core_off, n_cores, width, height,
                                        cores_per_tile, lat_ew, lat_ns, buffer_size)
    return out


def detailed_latency_of_senders(step, core, cum, src, n_steps: int, msg_table: tuple, out_lat: float, in_lat: float,
                                syn_lat, core_x, core_y, core_off, mesh: tuple, hop_latency: tuple,
                                buffer_size: float, barrier: float) -> np.ndarray:
    """``[n_steps]`` latencies (ns) of the detailed model, from the *senders* of each step rather than their
    messages (:func:`detailed_step_latency`).

    Senders are parallel arrays sorted by ``(step, core, soma-loop position)``: ``step``, ``core`` (compact
    index), ``cum`` (the core's soma latency up to and including the sender, ns) and ``src`` (its row in
    ``msg_table = (ptr, dest, nsyn)``: its messages go to ``dest[ptr[src]:ptr[src + 1]]`` and meet ``nsyn``
    synapses there; ``src = -1``: the core's placeholder, ``cum`` its whole soma loop). A sender's first
    message carries the soma latency since the previous sender on its core, every message the axon-out
    latency ``out_lat``; a message's processing delay is ``in_lat + nsyn x syn_lat[dest]``; a placeholder
    is kept when what it carries exceeds 1e-12 ns. Each step's messages are then scheduled as in
    :func:`detailed_step_latency`.
    """
    step = np.asarray(step, np.int64)
    bounds = np.searchsorted(step, np.arange(n_steps + 1)).astype(np.int64)
    w, h, cpt = (int(v) for v in mesh)
    ptr, dest, nsyn = msg_table
    ends = _sender_steps(bounds, np.asarray(core, np.int64), np.asarray(cum, np.float64), np.asarray(src, np.int64),
                         ptr, dest, nsyn, float(out_lat), float(in_lat), np.asarray(syn_lat, np.float64),
                         np.asarray(core_x, np.int64), np.asarray(core_y, np.int64), np.asarray(core_off, np.int64),
                         int(len(core_x)), max(w, int(np.max(core_x, initial=0)) + 1),
                         max(h, int(np.max(core_y, initial=0)) + 1), cpt, float(hop_latency[0]),
                         float(hop_latency[1]), float(buffer_size))
    return ends + barrier


def detailed_step_latency(step, src, gen, dst, proc, n_steps: int, core_x, core_y, core_off, mesh: tuple,
                          hop_latency: tuple, buffer_size: float, barrier: float) -> np.ndarray:
    """``[n_steps]`` latencies (ns) of the detailed model.

    Messages are given as parallel arrays sorted by ``(step, src, send order)``: ``step`` (device step
    index), ``src`` and ``dst`` (compact core indices; ``dst = -1`` for a placeholder), ``gen`` (its
    generation delay, ns) and ``proc`` (its processing delay at the destination, ns). ``core_x``,
    ``core_y``: tile coordinates of each core, ``core_off``: its index within the tile; ``mesh``:
    ``(width, height, cores_per_tile)``; ``hop_latency``: ``(east-west, north-south)`` ns per hop;
    ``buffer_size``: messages a link buffers.
    """
    step = np.asarray(step, np.int64)
    bounds = np.searchsorted(step, np.arange(n_steps + 1)).astype(np.int64)
    w, h, cpt = (int(v) for v in mesh)
    ends = _detailed_steps(bounds, np.asarray(src, np.int64), np.asarray(gen, np.float64),
                           np.asarray(dst, np.int64), np.asarray(proc, np.float64), np.asarray(core_x, np.int64),
                           np.asarray(core_y, np.int64), np.asarray(core_off, np.int64), int(len(core_x)),
                           max(w, int(np.max(core_x, initial=0)) + 1), max(h, int(np.max(core_y, initial=0)) + 1),
                           cpt, float(hop_latency[0]), float(hop_latency[1]), float(buffer_size))
    return ends + barrier
