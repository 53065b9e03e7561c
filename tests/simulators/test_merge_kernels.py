"""The compiled steps of merging (``simulators/mapping/merge.py``) against the plain numpy they replace, on random
inputs: a core's sources with a box's merged in, the room of the touching cores, the cores with room."""
import numpy as np
import pytest

from snn2hw.simulators.mapping.merge import _add_sources, _cores_with_room, _room_around


@pytest.mark.parametrize("seed", range(6))
def test_add_sources_is_the_union_with_synapses_added(seed):
    rng = np.random.default_rng(seed)
    a = np.unique(rng.integers(0, 400, size=rng.integers(0, 200))).astype(np.int32)
    b = np.unique(rng.integers(0, 400, size=rng.integers(0, 200))).astype(np.int32)
    ca = rng.integers(1, 5, size=a.size).astype(np.int32)
    cb = rng.integers(1, 5, size=b.size).astype(np.int32)
    sparse_tab = np.concatenate([[0], np.cumsum(rng.integers(5, 30, size=16))]).astype(np.int64)
    idx, cnt, added = _add_sources(a, ca, b, cb, sparse_tab)
    per = {}
    for i, c in list(zip(a.tolist(), ca.tolist())) + list(zip(b.tolist(), cb.tolist())):
        per[i] = per.get(i, 0) + c
    assert idx.tolist() == sorted(per) and cnt.tolist() == [per[i] for i in sorted(per)]
    assert added == sparse_tab[cnt].sum() - sparse_tab[ca].sum()


@pytest.mark.parametrize("seed", range(6))
def test_room_and_candidates_equal_the_numpy_counts(seed):
    rng = np.random.default_rng(seed)
    n = 60
    group_of = rng.integers(0, 25, size=n)
    g_neurons = rng.integers(0, 1024, size=25).astype(np.float64)
    g_fo = rng.integers(0, 4096, size=25).astype(np.float64)
    idx = rng.choice(n, size=40, replace=False).astype(np.int64)
    own = int(group_of[idx[0]])
    for fo_lim in (4096.0, np.inf):
        for area, step, parts in ((1, 300.0, 12), (4, 0.0, 3), (2, 1000.0, 50)):
            g = group_of[idx]
            g = g[g != own]
            r = (1024 - g_neurons[g]) // area
            if np.isfinite(fo_lim) and step > 0:
                r = np.minimum(r, np.floor((fo_lim - g_fo[g]) / step))
            r = np.sort(np.maximum(r, 0))[::-1][:parts]
            assert _room_around(idx, group_of, own, g_neurons, g_fo, 1024.0, fo_lim, float(area), step, parts) \
                == r.sum()
        need_n, need_fo = 100.0, 900.0
        g = group_of[idx]
        want = g[(g != own) & (g_neurons[g] + need_n <= 1024) & (g_fo[g] + need_fo <= fo_lim)]
        got = _cores_with_room(idx, group_of, own, g_neurons, g_fo, 1024.0, fo_lim, need_n, need_fo)
        assert got.tolist() == want.tolist()
