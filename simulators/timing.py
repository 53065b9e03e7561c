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

Several chips (a placement over a profile's ``system``, ``simulators/placement.py``): the chips' meshes form
one system mesh on which messages are routed as above; a link between two chips takes the system's
inter-chip latency instead of a tile hop's (the hop latency is ``on-chip hops x their latencies + chip
boundaries x inter-chip latency``; congestion and buffers treat it as one more link). The simple model,
which has no network time on one chip, adds per step the farthest crossing: ``max over the step's messages
of chip boundaries x inter-chip latency`` (``simulators/event_timeline.py``); on one chip both are unchanged.

Every step is scheduled on its own (nothing carries over from one step to the next), so the compiled
kernels run the steps in parallel; within a step the schedule is sequential and exact.
"""
from __future__ import annotations

import numpy as np

try:  # a compiled kernel; numba is a dependency of the package
    from numba import njit, prange
except ImportError:  # pragma: no cover - the package requires numba; keeps the module importable for docs
    def njit(*args, **kwargs):
        return args[0] if args and callable(args[0]) else (lambda f: f)
    prange = range

#: router links: north, east, south, west, then one link per core of the tile
N_DIRECTIONS = 4
NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3
#: chip size (tiles) standing for "one chip": every system coordinate // it is 0 (the kernels' default)
_ONE_CHIP = 1 << 40


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
def _sift_down(key, tie, val, n, i):
    """Restore a min-heap of ``n`` entries on ``(key, tie)`` (``tie`` unique) below entry ``i``."""
    k, t, v = key[i], tie[i], val[i]
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        j = left
        r = left + 1
        if r < n and (key[r] < key[left] or (key[r] == key[left] and tie[r] < tie[left])):
            j = r
        if k < key[j] or (k == key[j] and t < tie[j]):
            break
        key[i], tie[i], val[i] = key[j], tie[j], val[j]
        i = j
    key[i], tie[i], val[i] = k, t, v


@njit(cache=True)
def _sift_up(key, tie, val, i):
    """Restore a min-heap on ``(key, tie)`` above entry ``i``."""
    k, t, v = key[i], tie[i], val[i]
    while i > 0:
        p = (i - 1) // 2
        if key[p] < k or (key[p] == k and tie[p] < t):
            break
        key[i], tie[i], val[i] = key[p], tie[p], val[p]
        i = p
    key[i], tie[i], val[i] = k, t, v


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
def _walk(density, sx, sy, dx, dy, src_off, height, links, adj):
    """:func:`_route` with incremental link indices (the same links in the same order)."""
    t = sx * height + sy
    i = t * links + N_DIRECTIONS + src_off
    total = density[i]
    density[i] += adj
    if dx != sx:
        dt, link = (height, EAST) if dx > sx else (-height, WEST)
        for _ in range(abs(dx - sx)):
            t += dt
            i = t * links + link
            total += density[i]
            density[i] += adj
    if dy != sy:
        dt, link = (1, NORTH) if dy > sy else (-1, SOUTH)
        for _ in range(abs(dy - sy)):
            t += dt
            i = t * links + link
            total += density[i]
            density[i] += adj
    return total


@njit(cache=True)
def _source_ranges(lo, hi, src, n_cores):
    """Per source core, the index of its first and last message in ``[lo, hi)`` (-1: none)."""
    first = np.full(n_cores, -1, np.int64)
    last_i = np.full(n_cores, -1, np.int64)
    for i in range(lo, hi):
        c = src[i]
        if first[c] < 0:
            first[c] = i
        last_i[c] = i
    return first, last_i


@njit(cache=True)
def _leave(mean, in_noc, p):
    """The running mean processing delay of the messages in flight after one with delay ``p`` leaves."""
    if in_noc > 1:
        return mean + (mean - p) / (in_noc - 1.0)
    return 0.0


@njit(cache=True)
def _hop_latency(sx, sy, dx, dy, lat_ew, lat_ns, chip_w, chip_h, lat_chip):
    """The uncongested network delay from tile ``(sx, sy)`` to ``(dx, dy)`` (system coordinates, chips of
    ``chip_w x chip_h`` tiles): on-chip hops at their latencies plus ``lat_chip`` per chip boundary crossed
    (:mod:`snn2hw.simulators.placement`; on one chip, the tile hops alone)."""
    cx = abs(sx // chip_w - dx // chip_w)
    cy = abs(sy // chip_h - dy // chip_h)
    return (abs(sx - dx) - cx) * lat_ew + (abs(sy - dy) - cy) * lat_ns + (cx + cy) * lat_chip


@njit(cache=True)
def _deliver(t, along, hops, hop_lat, mean, free_d, p, buffer_size):
    """One message sent at ``t`` over ``hops`` links (``hop_lat``: their uncongested latency) whose route already
    carries ``along`` messages: the send time after any stall (the route's buffers are full), its received time
    and its core's new free time."""
    capacity = (hops + 1.0) * buffer_size
    if along > capacity:
        t += (along - capacity) * mean  # blocked: the sender stalls
    congestion = along * mean / (hops + 1.0)
    net = max(hop_lat, congestion)
    earliest = t + net
    recv = max(free_d, earliest)
    return t, recv, max(free_d, earliest) + p


@njit(cache=True)
def _detailed_one_step(lo, hi, src, gen, dst, proc, core_x, core_y, core_off, n_cores, width, height,
                       cores_per_tile, lat_ew, lat_ns, buffer_size, chip_w=_ONE_CHIP, chip_h=_ONE_CHIP,
                       lat_chip=0.0):
    """The end time (ns, before the barrier) of one step's messages ``[lo, hi)`` sorted by source core.

    The same schedule as :func:`_detailed_one_step_heap`, organised for speed: the send queue holds one entry
    per core (a sent message is replaced by its core's next one in a single sift); the messages in flight
    form one FIFO per destination core, since a core receives its messages in the order they were sent to
    it (each is received after the previous one's processing), and a heap of the FIFOs' first messages
    merges them in the same (received time, index) order as one heap of all of them; a route is read and
    updated in one walk. Returns NaN when that per-core order would not hold (two messages to a core
    received at the same time out of index order: zero processing delay); the caller then runs
    :func:`_detailed_one_step_heap`."""
    links = N_DIRECTIONS + cores_per_tile
    density = np.zeros(width * height * links)
    free = np.zeros(n_cores)          # when each destination core has processed its last message
    n = hi - lo
    max_h = 0
    if n_cores:
        max_h = core_x.max() + core_y.max()
    share = np.empty(max_h + 1)       # what a message adds to each link of a route of h hops
    for h in range(max_h + 1):
        share[h] = 1.0 / (2.0 + h)
    first, last_i = _source_ranges(lo, hi, src, n_cores)  # per source core: the range of its messages
    # send queue, one entry per core: (sent time, source core; its next message)
    sk = np.empty(n_cores + 1)
    sa = np.empty(n_cores + 1, np.int64)
    sb = np.empty(n_cores + 1, np.int64)
    ns = 0
    for c in range(n_cores):
        if first[c] >= 0:
            sk[ns], sa[ns], sb[ns] = gen[first[c]], c, first[c]
            _sift_up(sk, sa, sb, ns)
            ns += 1
    # in flight: one FIFO per destination core (its messages are received in order), merged by a heap of the
    # FIFOs' first messages: (received time, message index)
    recv_at = np.empty(n)
    nxt = np.empty(n, np.int64)
    tail = np.full(n_cores, -1, np.int64)
    fk = np.empty(n_cores + 1)
    fa = np.empty(n_cores + 1, np.int64)
    fb = np.empty(n_cores + 1, np.int64)   # (unused payload)
    nf = 0
    mean = 0.0
    in_noc = 0
    end = 0.0
    while ns > 0:
        t = sk[0]
        c = sa[0]
        i = sb[0]
        if t > end:
            end = t
        while nf > 0 and fk[0] <= t:  # messages received by now leave the network
            j = fa[0]
            k = nxt[j - lo]
            if k >= 0:
                fk[0], fa[0] = recv_at[k - lo], k
            else:
                nf -= 1
                fk[0], fa[0] = fk[nf], fa[nf]
                tail[dst[j]] = -1
            _sift_down(fk, fa, fb, nf, 0)
            sxj, syj = core_x[src[j]], core_y[src[j]]
            dxj, dyj = core_x[dst[j]], core_y[dst[j]]
            hj = abs(sxj - dxj) + abs(syj - dyj)
            _walk(density, sxj, syj, dxj, dyj, core_off[src[j]], height, links, -share[hj])
            mean = _leave(mean, in_noc, proc[j])
            in_noc -= 1
        d = dst[i]
        if d >= 0:
            sx, sy, dx, dy = core_x[c], core_y[c], core_x[d], core_y[d]
            hx, hy = abs(sx - dx), abs(sy - dy)
            hops = hx + hy
            along = _walk(density, sx, sy, dx, dy, core_off[c], height, links, share[hops])
            t, recv, free[d] = _deliver(t, along, hops, _hop_latency(sx, sy, dx, dy, lat_ew, lat_ns, chip_w, chip_h,
                                                                     lat_chip), mean, free[d], proc[i], buffer_size)
            if free[d] > end:
                end = free[d]
            recv_at[i - lo] = recv
            nxt[i - lo] = -1
            q = tail[d]
            if q < 0:
                fk[nf], fa[nf] = recv, i
                _sift_up(fk, fa, fb, nf)
                nf += 1
            else:
                if recv_at[q - lo] > recv or (recv_at[q - lo] == recv and q > i):
                    return np.nan
                nxt[q - lo] = i
            tail[d] = i
            mean += (proc[i] - mean) / (in_noc + 1.0)
            in_noc += 1
        if i < last_i[c]:  # the core's next message replaces this one in the send queue
            nt = t + gen[i + 1]
            if nt > end:
                end = nt
            sk[0], sb[0] = nt, i + 1
        else:
            ns -= 1
            sk[0], sa[0], sb[0] = sk[ns], sa[ns], sb[ns]
        _sift_down(sk, sa, sb, ns, 0)
    return end


@njit(cache=True)
def _detailed_one_step_heap(lo, hi, src, gen, dst, proc, core_x, core_y, core_off, n_cores, width, height,
                            cores_per_tile, lat_ew, lat_ns, buffer_size, chip_w=_ONE_CHIP, chip_h=_ONE_CHIP,
                            lat_chip=0.0):
    """The end time (ns, before the barrier) of one step's messages ``[lo, hi)`` sorted by source core: the model
    as written, with one heap of every message in flight (:func:`_detailed_one_step` falls back on it)."""
    links = N_DIRECTIONS + cores_per_tile
    density = np.zeros(width * height * links)
    free = np.zeros(n_cores)          # when each destination core has processed its last message
    n = hi - lo
    first, last_i = _source_ranges(lo, hi, src, n_cores)  # per source core: the range of its messages
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
            mean = _leave(mean, in_noc, proc[j])
            in_noc -= 1
        d = dst[i]
        if d >= 0:
            sx, sy, dx, dy = core_x[c], core_y[c], core_x[d], core_y[d]
            hx, hy = abs(sx - dx), abs(sy - dy)
            hops = hx + hy
            along = _route(density, sx, sy, dx, dy, core_off[c], height, links, 0.0)
            t, recv, free[d] = _deliver(t, along, hops, _hop_latency(sx, sy, dx, dy, lat_ew, lat_ns, chip_w, chip_h,
                                                                     lat_chip), mean, free[d], proc[i], buffer_size)
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
def _one_step(lo, hi, src, gen, dst, proc, core_x, core_y, core_off, n_cores, width, height, cores_per_tile, lat_ew,
              lat_ns, buffer_size, chip_w=_ONE_CHIP, chip_h=_ONE_CHIP, lat_chip=0.0):
    """:func:`_detailed_one_step`, or the heap of every message in flight where its per-core order does not hold."""
    end = _detailed_one_step(lo, hi, src, gen, dst, proc, core_x, core_y, core_off, n_cores, width, height,
                             cores_per_tile, lat_ew, lat_ns, buffer_size, chip_w, chip_h, lat_chip)
    if np.isnan(end):
        end = _detailed_one_step_heap(lo, hi, src, gen, dst, proc, core_x, core_y, core_off, n_cores, width, height,
                                      cores_per_tile, lat_ew, lat_ns, buffer_size, chip_w, chip_h, lat_chip)
    return end


@njit(cache=True, parallel=True)
def _detailed_steps(bounds, src, gen, dst, proc, core_x, core_y, core_off, n_cores, width, height,
                    cores_per_tile, lat_ew, lat_ns, buffer_size, chip_w=_ONE_CHIP, chip_h=_ONE_CHIP,
                    lat_chip=0.0):
    """Every step on its own (steps are independent: in parallel)."""
    out = np.zeros(len(bounds) - 1)
    for s in prange(len(bounds) - 1):
        if bounds[s + 1] > bounds[s]:
            out[s] = _one_step(bounds[s], bounds[s + 1], src, gen, dst, proc, core_x, core_y, core_off, n_cores,
                               width, height, cores_per_tile, lat_ew, lat_ns, buffer_size, chip_w, chip_h, lat_chip)
    return out


@njit(cache=True)
def _expand_senders(lo, hi, core, cum, src, ptr, dest, nsyn, out_lat, in_lat, syn_lat):
    """The messages of senders ``[lo, hi)`` (one step, sorted by core and soma-loop position): their source core,
    generation delay, destination core (``-1``: a placeholder) and processing delay."""
    m = 0
    for k in range(lo, hi):
        m += ptr[src[k] + 1] - ptr[src[k]] if src[k] >= 0 else 1
    msrc = np.empty(m, np.int64)
    mgen = np.empty(m)
    mdst = np.empty(m, np.int64)
    mproc = np.empty(m)
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
    return msrc[:m], mgen[:m], mdst[:m], mproc[:m]


@njit(cache=True, parallel=True)
def _sender_steps(bounds, core, cum, src, ptr, dest, nsyn, out_lat, in_lat, syn_lat, core_x, core_y, core_off,
                  n_cores, width, height, cores_per_tile, lat_ew, lat_ns, buffer_size, chip_w=_ONE_CHIP,
                  chip_h=_ONE_CHIP, lat_chip=0.0):
    """Per step (in parallel): expand its senders into messages, then schedule them."""
    out = np.zeros(len(bounds) - 1)
    for s in prange(len(bounds) - 1):
        if bounds[s + 1] > bounds[s]:
            msrc, mgen, mdst, mproc = _expand_senders(bounds[s], bounds[s + 1], core, cum, src, ptr, dest, nsyn,
                                                      out_lat, in_lat, syn_lat)
            if len(msrc):
                out[s] = _one_step(0, len(msrc), msrc, mgen, mdst, mproc, core_x, core_y, core_off, n_cores, width,
                                   height, cores_per_tile, lat_ew, lat_ns, buffer_size, chip_w, chip_h, lat_chip)
    return out



def _chips(chip) -> tuple:
    """``(chip width, chip height, ns per chip boundary)`` for the kernels from ``chip`` (``None``: one chip)."""
    if chip is None:
        return _ONE_CHIP, _ONE_CHIP, 0.0
    return int(chip[0]), int(chip[1]), float(chip[2])


def detailed_latency_of_senders(step, core, cum, src, n_steps: int, msg_table: tuple, out_lat: float, in_lat: float,
                                syn_lat, core_x, core_y, core_off, mesh: tuple, hop_latency: tuple,
                                buffer_size: float, barrier: float, chip=None) -> np.ndarray:
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
    chip_w, chip_h, lat_chip = _chips(chip)
    step = np.asarray(step, np.int64)
    bounds = np.searchsorted(step, np.arange(n_steps + 1)).astype(np.int64)
    w, h, cpt = (int(v) for v in mesh)
    ptr, dest, nsyn = msg_table
    ends = _sender_steps(bounds, np.asarray(core, np.int64), np.asarray(cum, np.float64), np.asarray(src, np.int64),
                         ptr, dest, nsyn, float(out_lat), float(in_lat), np.asarray(syn_lat, np.float64),
                         np.asarray(core_x, np.int64), np.asarray(core_y, np.int64), np.asarray(core_off, np.int64),
                         int(len(core_x)), max(w, int(np.max(core_x, initial=0)) + 1),
                         max(h, int(np.max(core_y, initial=0)) + 1), cpt, float(hop_latency[0]),
                         float(hop_latency[1]), float(buffer_size), chip_w, chip_h, lat_chip)
    return ends + barrier



def detailed_step_latency(step, src, gen, dst, proc, n_steps: int, core_x, core_y, core_off, mesh: tuple,
                          hop_latency: tuple, buffer_size: float, barrier: float, chip=None) -> np.ndarray:
    """``[n_steps]`` latencies (ns) of the detailed model.

    Messages are given as parallel arrays sorted by ``(step, src, send order)``: ``step`` (device step
    index), ``src`` and ``dst`` (compact core indices; ``dst = -1`` for a placeholder), ``gen`` (its
    generation delay, ns) and ``proc`` (its processing delay at the destination, ns). ``core_x``,
    ``core_y``: tile coordinates of each core, ``core_off``: its index within the tile; ``mesh``:
    ``(width, height, cores_per_tile)``; ``hop_latency``: ``(east-west, north-south)`` ns per hop;
    ``buffer_size``: messages a link buffers; ``chip``: ``(chip width, chip height, ns per chip boundary)``
    for a placement over several chips (their boundary links take that latency instead of a tile hop's;
    ``None``: one chip).
    """
    chip_w, chip_h, lat_chip = _chips(chip)
    step = np.asarray(step, np.int64)
    bounds = np.searchsorted(step, np.arange(n_steps + 1)).astype(np.int64)
    w, h, cpt = (int(v) for v in mesh)
    ends = _detailed_steps(bounds, np.asarray(src, np.int64), np.asarray(gen, np.float64),
                           np.asarray(dst, np.int64), np.asarray(proc, np.float64), np.asarray(core_x, np.int64),
                           np.asarray(core_y, np.int64), np.asarray(core_off, np.int64), int(len(core_x)),
                           max(w, int(np.max(core_x, initial=0)) + 1), max(h, int(np.max(core_y, initial=0)) + 1),
                           cpt, float(hop_latency[0]), float(hop_latency[1]), float(buffer_size), chip_w, chip_h,
                           lat_chip)
    return ends + barrier
