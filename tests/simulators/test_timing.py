"""The detailed timing model's fast schedule (simulators/timing.py) equals the model as written.

``_detailed_one_step`` (a send queue of one entry per core, one FIFO of messages in flight per destination
core) against ``_detailed_one_step_heap`` (one heap of every message in flight) on random steps: crowded
meshes that block, shared tiles, placeholders, and zero processing delays (where the per-core order may
not hold and the fast schedule hands over to the heap); and the sender form (``detailed_latency_of_senders``)
against the message form (``detailed_step_latency``) on the messages it expands to.
"""
import numpy as np
import pytest

from snn2hw.simulators.timing import (_detailed_one_step_heap, _one_step, detailed_latency_of_senders,
                                      detailed_step_latency)


def _random_step(rng, zero_proc=False):
    n_cores = int(rng.integers(1, 12))
    w, h, cpt = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    tiles = rng.integers(0, w * h, n_cores)
    core_x, core_y = tiles // h, tiles % h
    core_off = rng.integers(0, cpt, n_cores)
    m = int(rng.integers(1, 400))
    src = np.sort(rng.integers(0, n_cores, m))
    dst = rng.integers(0, n_cores, m)
    dst[rng.random(m) < 0.05] = -1
    gen = rng.choice([0.0, 0.5, 3.0, 7.25], m)
    proc = np.zeros(m) if zero_proc else rng.choice([1.0, 4.5, 20.0], m)
    proc[dst < 0] = 0.0
    args = (src, gen, dst, proc, core_x.astype(np.int64), core_y.astype(np.int64), core_off.astype(np.int64),
            n_cores, w, h, cpt, 2.0, 3.0, float(rng.choice([1.0, 2.0, 16.0])))
    return m, args


@pytest.mark.parametrize("seed", range(40))
def test_fast_schedule_equals_the_heap_of_all_messages(seed):
    rng = np.random.default_rng(seed)
    m, args = _random_step(rng, zero_proc=seed % 4 == 3)
    assert _one_step(0, m, *args) == _detailed_one_step_heap(0, m, *args)


def test_senders_expand_to_the_messages_they_send():
    rng = np.random.default_rng(5)
    n_cores, n_src, steps = 6, 30, 4
    deg = rng.integers(0, 4, n_src)
    ptr = np.r_[0, np.cumsum(deg)].astype(np.int64)
    dest = np.concatenate([np.sort(rng.choice(n_cores, k, replace=False)) for k in deg]).astype(np.int64)
    nsyn = rng.integers(1, 9, len(dest)).astype(np.float64)
    k = 60
    step, core, pos = np.sort(rng.integers(0, steps, k)), rng.integers(0, n_cores, k), rng.permutation(k)
    order = np.lexsort((pos, core, step))
    step, core, pos = step[order], core[order], pos[order]
    src = rng.integers(0, n_src, k)
    cum = np.cumsum(rng.random(k))  # nondecreasing within each (step, core)
    ph = np.unique(np.c_[step, core], axis=0)          # one placeholder per (step, core) with senders
    s_all = np.r_[step, ph[:, 0]]
    c_all = np.r_[core, ph[:, 1]]
    p_all = np.r_[pos, np.full(len(ph), 10 ** 9)]
    cum_all = np.r_[cum, np.full(len(ph), cum[-1] + 5.0)]
    src_all = np.r_[src, np.full(len(ph), -1)]
    o = np.lexsort((p_all, c_all, s_all))
    s_all, c_all, cum_all, src_all = s_all[o], c_all[o], cum_all[o], src_all[o]
    syn_lat = rng.choice([2.0, 3.8], n_cores)
    cx, cy, coff = rng.integers(0, 3, n_cores), rng.integers(0, 3, n_cores), np.zeros(n_cores, dtype=np.int64)
    kw = dict(core_x=cx, core_y=cy, core_off=coff, mesh=(3, 3, 1), hop_latency=(2.0, 3.0), buffer_size=2.0,
              barrier=10.0)
    got = detailed_latency_of_senders(s_all, c_all, cum_all, src_all, steps, (ptr, dest, nsyn), 1.5, 4.0, syn_lat,
                                      **kw)
    # the same messages written out
    rows = []
    prev, last = 0.0, None
    for st, c, cu, sr in zip(s_all, c_all, cum_all, src_all):
        if (st, c) != last:
            prev, last = 0.0, (st, c)
        if sr < 0:
            if cu - prev > 1e-12:
                rows.append((st, c, cu - prev, -1, 0.0))
            continue
        for j in range(ptr[sr], ptr[sr + 1]):
            rows.append((st, c, (cu - prev if j == ptr[sr] else 0.0) + 1.5, dest[j], 4.0 + nsyn[j] * syn_lat[dest[j]]))
        if ptr[sr + 1] > ptr[sr]:
            prev = cu
    st, c, g, d, p = (np.array([r[i] for r in rows]) for i in range(5))
    want = detailed_step_latency(st, c, g, d, p, steps, **kw)
    assert np.array_equal(got, want)
