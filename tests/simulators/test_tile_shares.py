"""The ``tile_memory`` lower-bound term and the per-neuron core shares behind it (simulators/mapping/lower_bound.py):
a hand case where the 64-bit word of a short synapse run decides, and the property that makes the bound a bound:
on every core of a mapping the shares of its neurons add up to at most 1."""
import math

import numpy as np
import pytest

import snn2hw
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.simulators.mapping import axon_bits, map_graph
from tests.simulators.test_mapping import neuron, profile


def test_short_runs_take_a_word_each_hand_case():
    """12 neurons with 9,180 8-bit synapses each on a 1 Mbit core (64-bit words, 10-bit header, 10-bit index):
    dense, an axon of n synapses takes one word for n <= 6 (6 x 8 + 10 = 58 bits) and two for n = 7, so
    9,180 x 64 fits and 9,180 x 128 does not: 6 neurons per core dense. Sparse, 18 bits per synapse at best
    18.29 (a run of 35: 640 bits), 9,180 x 18.29 / 2^20 = 0.160 of a core per neuron. So 12 neurons take
    ceil(12 x 0.160) = 2 cores at least, and 2 is what the mapping uses; the synapse count alone (8.26 bits per
    synapse) says 1."""
    w = np.full((12, 9180), 100, dtype=np.int64)
    g = Graph.sequential([("in", N.Input(shape=(9180,), step=1.0)),
                          ("fc", N.Dense(weight=w.astype(float), weight_int=w)), ("sn", neuron())])
    res = map_graph(g, profile(fan_in=None, fan_out=None))
    assert axon_bits(6, 8, 10, 64) == 64 and axon_bits(7, 8, 10, 64) == 128
    assert 9180 * 64 <= 1 << 20 < 9180 * 128
    b_sp = min(int(axon_bits(k, 18, 10, 64)) / k for k in range(1, 129))
    assert b_sp == pytest.approx(640 / 35)
    share = min(1 / 6, 9180 * b_sp / (1 << 20))
    bound = res.bounds["sn"]
    assert bound.terms["tile_memory"] == math.ceil(12 * share) == 2
    assert bound.terms["synapse_memory"] == 1
    assert res.totals["cores_per_layer"]["sn"] == 2 and bound.cores == 2
    assert max(b - a for _, a, b in res.placement.layers["sn"].ranges) <= 6


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("model", ["expanded", "shared"])
def test_shares_on_every_core_add_up_to_at_most_one(seed, model):
    """On random conv / residual / dense networks and random small cores, each share vector of a layer (memory
    per path, destination cores over the fan-out limit) sums to at most 1 on every core of the mapping. A core
    that breaks a limit (a violation the rules report) is left out."""
    from tests.helpers.random_graphs import random_graph
    rng = np.random.default_rng(100 + seed)
    g = snn2hw.convert(random_graph(rng, step=1 / 16, resets=("zero",), compares=("ge",), models=("if", "lif")),
                       "loihi").graph
    p = profile(cores=256, npc=int(rng.integers(4, 48)), mem=int(rng.integers(2000, 20000)),
                fan_in=int(rng.integers(20, 120)), fan_out=int(rng.integers(10, 80)), word=int(rng.choice([1, 64])))
    res = map_graph(g, p, synapse_model=model)
    lim = res.limits
    over = {u.core for u in res.usage
            if (lim["fan_out_axons_per_core"] and u.fan_out > lim["fan_out_axons_per_core"])
            or (lim["synapse_memory_bits_per_core"] and u.synapse_bits > lim["synapse_memory_bits_per_core"])}
    checked = 0
    for name, b in res.bounds.items():
        lp = res.placement.layers[name]
        core_of = lp.core_of_neuron()
        for share in b.shares:   # per core, over every box it holds (a core may hold several: merge_cores)
            per_core = np.bincount(core_of, weights=share.reshape(-1))
            for core in lp.cores:
                if core in over:
                    continue
                assert per_core[core] <= 1 + 1e-9, (name, core, per_core[core])
                checked += 1
    assert model == "shared" or checked > 0
