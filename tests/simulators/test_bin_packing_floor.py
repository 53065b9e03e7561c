"""The bin-packing floor of the lower bound (Martello-Toth L2) against brute-force optimal packings."""
import itertools
import math

import numpy as np

from snn2hw.simulators.mapping.lower_bound import bin_packing_floor


def _optimal_bins(sizes) -> int:
    """The fewest unit bins holding ``sizes`` (exhaustive: each item into an open bin or a new one)."""
    items = sorted(sizes, reverse=True)
    best = [len(items)]

    def place(i, bins):
        if len(bins) >= best[0]:
            return
        if i == len(items):
            best[0] = len(bins)
            return
        for b in range(len(bins)):
            if bins[b] + items[i] <= 1 + 1e-12:
                bins[b] += items[i]
                place(i + 1, bins)
                bins[b] -= items[i]
        bins.append(items[i])
        place(i + 1, bins)
        bins.pop()

    place(0, [])
    return best[0]


def test_never_above_the_optimum_and_never_below_the_sum():
    rng = np.random.default_rng(0)
    above_sum = 0
    for trial in range(300):
        n = int(rng.integers(1, 9))
        # shares as the bound makes them: multiples of 1/4096 (output-axon entries) or 1/n (neurons per core)
        if trial % 2:
            sizes = list(rng.integers(1, 4097, n) / 4096)
        else:
            sizes = [1.0 / int(k) for k in rng.integers(1, 5, n)]
        lb, opt = bin_packing_floor(sizes), _optimal_bins(sizes)
        assert math.ceil(round(sum(sizes), 9)) <= lb <= opt, (sizes, lb, opt)
        above_sum += lb > math.ceil(round(sum(sizes), 9))
    assert above_sum > 20   # it does add something over the sum on these instances


def test_hand_cases():
    assert bin_packing_floor([0.6, 0.6, 0.6]) == 3                 # the sum says 2
    assert bin_packing_floor([0.5, 0.5, 0.5, 0.5]) == 2            # halves pair up
    assert bin_packing_floor([1 / 3, 2 / 3] * 3) == 3              # complementary pairs are not split
    assert bin_packing_floor([3000 / 4096, 1096 / 4096]) == 1      # a pair that exactly fills a core
    assert bin_packing_floor([1.7, 0.2, 0.0]) == 2                 # above 1: a core of its own
    assert bin_packing_floor([]) == 0
    # items of 0.7 and 0.4: no 0.4 fits beside a 0.7, so 2 + ceil(2 x 0.4) = 3 (sum 2.2 says 3 too); with three 0.4
    assert bin_packing_floor([0.7, 0.7, 0.4, 0.4, 0.4]) == 4       # sum 2.6 says 3


def test_permutation_invariant():
    rng = np.random.default_rng(1)
    sizes = rng.random(50)
    assert all(bin_packing_floor(rng.permutation(sizes)) == bin_packing_floor(sizes) for _ in range(5))
    for perm in itertools.islice(itertools.permutations([0.6, 0.3, 0.6, 0.45]), 6):
        assert bin_packing_floor(perm) == 3


def test_destination_term_counts_neurons_that_cannot_share_a_core():
    """6 neurons, each reaching all 12 neurons of a dense consumer that fits 2 per core (6 cores): each takes 6
    output-axon entries of a core's 10, so no two share a core. The mapping uses 6 cores for them; the bound's
    destination term says 6 as well (the summed shares say ceil(6 x 0.6) = 4)."""
    from snn2hw.ir import nodes as N
    from snn2hw.ir.graph import Graph
    from snn2hw.simulators.mapping import map_graph
    from tests.simulators.test_mapping import neuron, profile
    w1 = np.ones((6, 4), dtype=np.int64)
    w2 = np.ones((12, 6), dtype=np.int64)
    g = Graph.sequential([("in", N.Input(shape=(4,), step=1.0)),
                          ("fc1", N.Dense(weight=w1.astype(float), weight_int=w1)), ("sn1", neuron()),
                          ("fc2", N.Dense(weight=w2.astype(float), weight_int=w2)), ("sn2", neuron())])
    res = map_graph(g, profile(npc=2, fan_in=None, fan_out=10))
    assert res.totals["cores_per_layer"]["sn2"] == 6 and res.bounds["sn2"].cores == 6
    assert res.totals["cores_per_layer"]["sn1"] == 6
    assert res.bounds["sn1"].terms["destination_cores"] == 6 and res.bounds["sn1"].cores == 6


def test_each_sources_targets_are_packed_as_bins():
    """The destination cores a source neuron's targets need (``_target_cores``), from the targets' shares of a core
    (their output-axon entries over the limit): never above the optimal packing of those shares (exhaustive),
    and above the summed shares where two targets of more than half a core cannot share one. Random dense paths,
    shares in multiples of 1/4096, most of them just above 1/2."""
    rng = np.random.default_rng(3)
    above_sum = 0
    for p, c, need, targets in _random_sources(rng, 80, (1, 5), (2, 8), 0.7, (0.6, (2049, 3300), (1, 2049))):
        above_sum += sum(n > math.ceil(round(sum(t), 9)) for n, t in zip(need, targets))
    assert above_sum > 10, above_sum


def _random_sources(rng, trials, n_src, n_dst, density, shares):
    """Random dense paths and their consumers' shares of a core (``shares = (p, (lo, hi), (lo, hi))``: entries of
    4,096 from the first range with probability ``p``, else from the second): per path ``(path, consumer, each
    source's target cores, each source's targets' shares)``, the target cores checked against the optimal packing
    of its targets' shares (exhaustive)."""
    from snn2hw.simulators.mapping import layer_needs
    from snn2hw.simulators.mapping.lower_bound import _Consumer, _target_cores
    from tests.simulators.test_mapping import dense_graph, profile
    p_first, first, second = shares
    for _ in range(trials):
        ns, nd = int(rng.integers(*n_src)), int(rng.integers(*n_dst))
        w = (rng.random((nd, ns)) < density).astype(np.int64)
        p = layer_needs(dense_graph(w), profile())["sn"].paths[0]
        share = np.where(rng.random(nd) < p_first, rng.integers(*first, nd), rng.integers(*second, nd)) / 4096
        c = _Consumer(None, float("inf"), np.zeros(nd, dtype=bool), shares=[share])
        need = _target_cores(p, c, 1024)
        targets = [list(share[w[:, s] != 0]) for s in range(ns)]
        for n, t in zip(need, targets):
            assert n <= (_optimal_bins(t) if t else 0), (t, n)
        yield p, c, need, targets


def test_dual_feasible_functions_keep_a_full_bin_within_one():
    """Fekete and Schepers' u^(k) (``dff``): items that fit one bin still add up to at most 1 after it, including
    items at exact multiples of 1/(k + 1) (where the function keeps the item's own value) and items just beside
    them (the sum of the images bounds the bins below only because of this)."""
    from snn2hw.simulators.mapping.lower_bound import DFF_KS, dff
    rng = np.random.default_rng(4)
    for k in DFF_KS + (5, 6):
        marks = np.arange(1, k + 1) / (k + 1)
        for _ in range(400):
            items = []
            while True:   # fill one bin: multiples of 1/4096, of 1/(k + 1) and just beside them
                r = rng.random()
                x = (rng.choice(marks) if r < 0.3 else rng.choice(marks) + rng.choice([-1, 1]) / 4096 if r < 0.6
                     else rng.integers(1, 4097) / 4096)
                if sum(items) + x > 1 + 1e-12:
                    break
                items.append(float(x))
            assert dff(np.array(items), k).sum() <= 1 + 1e-9, (k, items)
    assert dff(np.array([0.26] * 3), 3).tolist() == [1 / 3] * 3          # three above 1/4 fill a bin
    assert dff(np.array([0.7, 0.3, 1 / 3, 2 / 3]), 2).tolist() == [1.0, 0.0, 1 / 3, 2 / 3]


def test_dual_feasible_functions_add_what_l2_misses(monkeypatch):
    """Items just above 1/4 (a neuron's share where 3 fit a core): never above the optimum, and above
    Martello-Toth's L2 alone on many instances (the same instances with the functions switched off)."""
    from snn2hw.simulators.mapping import lower_bound
    assert bin_packing_floor([0.26] * 7) == 3                      # sum and L2 say 2: three to a bin at most
    rng = np.random.default_rng(5)
    cases = [list(rng.integers(1025, 1250, int(rng.integers(2, 10))) / 4096) for _ in range(200)]
    with_dff = [bin_packing_floor(c) for c in cases]
    for c, lb in zip(cases, with_dff):
        assert lb <= _optimal_bins(c), (c, lb)
    monkeypatch.setattr(lower_bound, "DFF_KS", ())
    assert bin_packing_floor([0.26] * 7) == 2
    assert sum(a > bin_packing_floor(c) for a, c in zip(with_dff, cases)) > 20


def test_each_sources_targets_count_through_the_dual_feasible_functions(monkeypatch):
    """``_target_cores`` with targets of just above 1/4 or 1/3 of a core (3 or 2 to a core where the summed shares
    say 3 or 4): never above the optimal packing of a source's targets (exhaustive), and above what it says without
    the dual feasible functions for many sources."""
    from snn2hw.simulators.mapping import lower_bound
    from snn2hw.simulators.mapping.lower_bound import _target_cores
    rng = np.random.default_rng(6)
    gained = 0
    for p, c, need, _ in _random_sources(rng, 100, (1, 4), (4, 10), 0.9, (0.7, (1025, 1150), (1366, 1500))):
        with monkeypatch.context() as m:
            m.setattr(lower_bound, "DFF_KS", ())
            gained += int((need > _target_cores(p, c, 1024)).sum())
    assert gained > 10, gained
