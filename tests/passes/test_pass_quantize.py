"""QuantizePass / convert(graph, 'loihi'): integer ranges, exactness on lattice IF networks, honest reports."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snn2hw.errors import PassError
from snn2hw.hw_profiles import load_profile
from snn2hw.ir import (Add, AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, Graph, Input, Neuron, Output, SumPool2d,
                       SYNAPSES)
from snn2hw.passes import QuantizePass, convert
from snn2hw.passes.quantize import search_scale
from snn2hw.simulators.reference import simulate

from tests.helpers.random_graphs import random_dense, random_graph, random_input

INF = float("inf")
FM = load_profile("loihi").formats
QMAX = 2 ** (FM.weight_bits - 1) - 1                 # 127
VTH_MAX = 2 ** FM.threshold_mant_bits - 1             # 17 bits
BIAS_MAX = 2 ** (FM.bias_mant_bits - 1) - 1           # 13-bit signed


def readout():
    return Neuron(model="if", readout=True, threshold=INF)


def simulate_both(g, x):
    x = torch.as_tensor(np.asarray(x))
    return (simulate(g, x, mode="float", record=["spikes"]), simulate(g, x, mode="int", record=["spikes"]))


# ----------------------------------------------------------------------------- ranges (property)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["mlp", "conv", "residual"]),
       granularity=st.sampled_from(["layer", "channel"]))
def test_integer_parameters_are_in_range(seed, kind, granularity):
    rng = np.random.default_rng(seed)
    g = random_graph(rng, kind, resets=("zero",), step=1 / 16)
    res = convert(g, "loihi", granularity=granularity)
    q = res.graph
    for name, node in q.nodes.items():
        if isinstance(node, SYNAPSES):
            assert node.weight_int is not None and node.weight_int.dtype == np.int64, name
            assert np.abs(node.weight_int).max() <= QMAX, name
            assert FM.weight_exp_min <= node.weight_exp <= FM.weight_exp_max, name
            if node.mask is not None:
                assert not np.any(node.weight_int[~node.mask]), name
        if isinstance(node, Neuron):
            assert node.vth.dtype == np.int64 and node.bias_mant.dtype == np.int64
            if node.readout:
                # documented: a readout gets vth = 2^17, so (vth << 6) is above the largest v and it never fires
                assert np.all(node.vth == VTH_MAX + 1), name
            else:
                assert np.all((0 <= node.vth) & (node.vth <= VTH_MAX)), (name, node.vth)
            assert np.abs(node.bias_mant).max() <= BIAS_MAX, name
            assert node.bias_exp == FM.bias_exp
            # u factor (4095 - du)/4096 and v factor (4096 - dv)/4096 must lie in [0, 1]
            assert -1 <= node.du <= 4095 and 0 <= node.dv <= 4096, (name, node.du, node.dv)
            if node.model != "cuba":
                assert node.du == 4095, name          # no current memory
            if node.beta == 1.0:
                assert node.dv == 0, name             # no leak
            assert node.int_reset == "zero" and node.int_compare == "gt"
    stats = res.results[-1].stats["layers"]
    approx = " ".join(res.approximations)
    for name, st_ in stats.items():
        # saturation is never silent
        assert (st_["clipped_weights"] > 0) == (f"neuron '{name}': {st_['clipped_weights']} weight(s) clipped" in approx)
        assert (not st_["overflow_proven_impossible"]) == (f"neuron '{name}': u may wrap" in approx)
    # where the pass claims u cannot wrap, it does not, even on the largest inputs the Input format allows
    lo, hi = q.nodes[q.inputs[0]].int_range()
    x = random_input(rng, g, timesteps=6, batch=3, lo=0.5 * hi / 16, hi=hi / 16)
    ri = simulate(q, torch.as_tensor(x), mode="int")
    for name, st_ in stats.items():
        if st_["overflow_proven_impossible"]:
            assert ri.overflow[name]["u_wrap"] == 0 and ri.overflow[name]["a_wrap"] == 0, (name, ri.overflow)


# ----------------------------------------------------------------------------- exactness on lattices
def _lattice(rng, shape, j, lo=-4, hi=13):
    """Weights k * 2^-j (|k| <= 127) with one odd k, so the grid is exactly 2^-j. Mostly excitatory, so
    that IF membranes do not drift far below zero (a 24-bit membrane saturates where the float one goes on)."""
    k = rng.integers(lo, hi, size=shape)
    k.flat[0] = 2 * int(rng.integers(1, 6)) + 1
    return k * 2.0 ** -j


def lattice_if_net(rng, conv: bool, compare: str) -> Graph:
    """IF network whose float weights and biases are integers times powers of two and whose inputs lie
    on the Input.step lattice; sum pools of currents, average pools of spikes (2x2: powers of two)."""
    step = 1 / 16
    g = Graph()
    if conv:
        g.add("in", Input(shape=(2, 8, 8), step=step, bits=5))
        j = int(rng.integers(2, 5))
        g.add("c1", Conv2d(weight=_lattice(rng, (4, 2, 3, 3), j), bias=rng.integers(-4, 9, 4) * 2.0 ** -j * step,
                           padding=1), ["in"])
        g.add("sp", SumPool2d(kernel_size=2), ["c1"])                 # currents: bias counted 4 times
        g.add("n1", Neuron(model="if", threshold=float(rng.uniform(0.5, 1.5)), compare=compare), ["sp"])
        g.add("ap", AvgPool2d(kernel_size=2), ["n1"])                 # spikes: 1/4 folds into c2
        j = int(rng.integers(1, 4))
        g.add("c2", Conv2d(weight=_lattice(rng, (4, 4, 1, 1), j), bias=rng.integers(-2, 5, 4) * 2.0 ** -j), ["ap"])
        g.add("n2", Neuron(model="if", threshold=rng.uniform(0.5, 1.5, size=4), compare=compare), ["c2"])
        g.add("flat", Flatten(), ["n2"])
        prev, n_in = "flat", 16
    else:
        g.add("in", Input(shape=(6,), step=step, bits=5))
        j = int(rng.integers(2, 5))
        g.add("d1", Dense(weight=_lattice(rng, (8, 6), j), bias=rng.integers(-4, 9, 8) * 2.0 ** -j * step), ["in"])
        g.add("n1", Neuron(model="if", threshold=float(rng.uniform(0.5, 1.5)), compare=compare), ["d1"])
        prev, n_in = "n1", 8
    j = int(rng.integers(1, 4))
    g.add("fc", Dense(weight=_lattice(rng, (4, n_in), j), bias=rng.integers(-3, 4, 4) * 2.0 ** -j), [prev])
    g.add("ro", readout(), ["fc"])
    g.add("out", Output(), ["ro"])
    g.validate()
    return g


def assert_int_equals_float(q, x, res):
    rf, ri = simulate_both(q, x)
    for name, counts in ri.overflow.items():
        assert not any(counts.values()), (name, counts)
    for name, s in rf.record["spikes"].items():
        if name in rf.layer_spikes:
            assert torch.equal(s, ri.record["spikes"][name].to(s.dtype)), name
    st_ = res.results[-1].stats["layers"]["ro"]
    unit = st_["scale"] / 2 ** st_["weight_exp"]
    assert torch.equal(ri.output / 64 * unit, rf.output)
    assert torch.equal(ri.predictions(), rf.predictions())
    return rf


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), conv=st.booleans(), compare=st.sampled_from(["ge", "gt"]),
       granularity=st.sampled_from(["layer", "channel"]))
def test_lattice_if_network_quantizes_exactly(seed, conv, compare, granularity):
    rng = np.random.default_rng(seed)
    g = lattice_if_net(rng, conv, compare)
    res = convert(g, "loihi", granularity=granularity)
    for name, st_ in res.results[-1].stats["layers"].items():
        assert st_["weight_rel_rmse"] == 0.0 and st_["clipped_weights"] == 0, (name, st_)
    x = np.round(rng.uniform(0, 1, size=(12, 4) + g.nodes["in"].shape) * 16) / 16
    rf = assert_int_equals_float(res.graph, x, res)
    assert sum(float(v.sum()) for v in rf.layer_spikes.values()) > 0


def test_hand_checked_if_network():
    """2 inputs -> 2 IF neurons (>= 1) -> 2-class readout, T = 4, worked out by hand.

    Layer 1 (x = k/4): I0 = 0.5 x0 + 0.25 x1, I1 = -0.25 x0 + 0.75 x1 + 0.25.
    x = (1, .5), (.25, .75), (.75, .75), (1.5, 1):  I0 = .625, .3125, .5625, 1.0 ; I1 = .375, .75, .625, .625
    v0 = .625, .9375, 1.5 (spike), 1.0 (spike: >= ties) ; v1 = .375, 1.125 (spike), .625, 1.25 (spike)
    Readout [[1, -.5], [.5, .5]] @ s: t1 (-.5, .5), t2 (1, .5), t3 (.5, 1) -> membrane (1, 2).
    Integer: W*step = [[.125, .0625], [-.0625, .1875]] on the grid 1/16 -> W_int [[2, 1], [-1, 3]];
    the exponent goes to the largest with |a<<6| provably < 2^23 (max row |W_int| 4 x input 15): 7, so
    the unit is 2^-11: vth = ceil(1 / 2^-11) - 1 = 2047 and bias_mant = (0, .25 * 2^11 = 512).
    """
    g = Graph.sequential([
        ("in", Input(shape=(2,), step=0.25, bits=4)),
        ("fc1", Dense(weight=[[0.5, 0.25], [-0.25, 0.75]], bias=[0.0, 0.25])),
        ("n", Neuron(model="if", threshold=1.0, compare="ge")),
        ("fc2", Dense(weight=[[1.0, -0.5], [0.5, 0.5]])),
        ("ro", readout()), ("out", Output())])
    res = convert(g, "loihi")
    q = res.graph
    np.testing.assert_array_equal(q.nodes["fc1"].weight_int, [[2, 1], [-1, 3]])
    assert q.nodes["fc1"].weight_exp == 7
    np.testing.assert_array_equal(q.nodes["n"].vth, [2047])
    np.testing.assert_array_equal(q.nodes["n"].bias_mant, [0, 512])
    assert (q.nodes["n"].du, q.nodes["n"].dv) == (4095, 0)
    np.testing.assert_array_equal(q.nodes["fc2"].weight_int, [[2, -1], [1, 1]])   # grid 1/2
    x = np.array([[1.0, 0.5], [0.25, 0.75], [0.75, 0.75], [1.5, 1.0]]).reshape(4, 1, 2)
    rf, ri = simulate_both(q, x)
    expected = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float64).reshape(4, 1, 2)
    assert torch.equal(rf.record["spikes"]["n"], expected)
    assert torch.equal(ri.record["spikes"]["n"].to(torch.float64), expected)
    assert torch.equal(rf.output, torch.tensor([[1.0, 2.0]], dtype=torch.float64))
    st_ = res.results[-1].stats["layers"]["ro"]
    assert torch.equal(ri.output / 64 * (st_["scale"] / 2 ** st_["weight_exp"]), rf.output)
    assert res.approximations == []


def test_readout_membrane_does_not_saturate_needlessly():
    """A readout integrates over the whole run; its exponent must not eat the 24-bit range it needs."""
    g = Graph.sequential([
        ("in", Input(shape=(4,), step=1 / 16, bits=5)),
        ("fc1", Dense(weight=np.full((32, 4), 0.5))),
        ("n", Neuron(model="if", threshold=0.25)),                 # fires every step
        ("fc2", Dense(weight=np.full((3, 32), 1.0))),
        ("ro", readout()), ("out", Output())])
    res = convert(g, "loihi")
    assert res.graph.nodes["fc2"].weight_exp == 0
    x = np.full((40, 1, 4), 1.0)
    # float membrane 40 * 32 = 1280 weights: at exponent 7 the 24-bit membrane holds only 2^23/64/2^7 = 1024
    rf = assert_int_equals_float(res.graph, x, res)
    assert rf.output[0, 0] == 1280


def test_sum_pool_of_currents_carries_the_bias_of_every_window_element():
    g = Graph.sequential([
        ("in", Input(shape=(1, 4, 4), step=1 / 16, bits=5)),
        ("c", Conv2d(weight=np.full((1, 1, 1, 1), 0.5), bias=[0.125])),
        ("sp", SumPool2d(kernel_size=2)),                          # current = sum of 4 inputs + 4 * 0.125
        ("n", Neuron(model="if", threshold=1.0)),
        ("flat", Flatten()), ("fc", Dense(weight=np.ones((2, 4)))), ("ro", readout()), ("out", Output())])
    res = convert(g, "loihi")
    assert not any("sp" in a for a in res.approximations)
    x = np.round(np.random.default_rng(0).uniform(0, 1, size=(10, 3, 1, 4, 4)) * 16) / 16
    assert_int_equals_float(res.graph, x, res)
    # a padded sum pool gives border neurons fewer bias terms: not expressible per channel, so reported
    g.nodes["sp"] = SumPool2d(kernel_size=2, padding=1)
    g.nodes["fc"] = Dense(weight=np.ones((2, 9)))
    g.validate()
    res = convert(g, "loihi")
    assert any("'n'" in a and "padded" in a and "'sp'" in a for a in res.approximations), res.approximations


def test_sum_pool_of_currents_counts_in_the_overflow_bound():
    """u receives the pooled sum of 9 conv outputs; a bound that forgets the pool 'proves' too much."""
    g = Graph.sequential([
        ("in", Input(shape=(1, 6, 6), step=1 / 16)),                # 8 bits: up to 255
        ("c", Conv2d(weight=np.ones((1, 1, 3, 3)))),
        ("sp", SumPool2d(kernel_size=3, stride=1)),
        ("n", Neuron(model="if", threshold=100.0)),
        ("flat", Flatten()), ("fc", Dense(weight=np.ones((2, 4)))), ("ro", readout()), ("out", Output())])
    res = convert(g, "loihi")
    assert res.results[-1].stats["layers"]["n"]["overflow_proven_impossible"]
    x = np.full((5, 1, 1, 6, 6), 255 / 16)                          # the largest input, everywhere
    assert_int_equals_float(res.graph, x, res)


# ----------------------------------------------------------------------------- granularity, clipping
def test_per_channel_error_is_never_above_per_layer():
    rng = np.random.default_rng(0)
    for seed in range(12):
        g = random_graph(np.random.default_rng(seed), ["mlp", "conv", "residual"][seed % 3], resets=("zero",),
                         step=1 / 16)
        lay = convert(g, "loihi", granularity="layer").results[-1].stats["layers"]
        ch = convert(g, "loihi", granularity="channel").results[-1].stats["layers"]
        for name in lay:
            assert ch[name]["weight_rel_rmse"] <= lay[name]["weight_rel_rmse"] + 1e-12, name
    # rows on a shared non-power-of-two grid (0.3) that only the layer scale hits exactly
    w = np.array([[127, 5, -3, 60], [100, 7, 2, -50], [33, -1, 0, 9]]) * 0.3
    g = Graph.sequential([
        ("in", Input(shape=(4,), step=1 / 16)), ("fc0", random_dense(rng, 4, 4)), ("n0", Neuron(threshold=1.0)),
        ("fc1", Dense(weight=w)), ("n1", Neuron(threshold=1.0)), ("fc2", Dense(weight=np.ones((2, 3)))),
        ("ro", readout()), ("out", Output())])
    lay = convert(g, "loihi", granularity="layer").results[-1].stats["layers"]["n1"]["weight_rel_rmse"]
    ch = convert(g, "loihi", granularity="channel").results[-1].stats["layers"]["n1"]["weight_rel_rmse"]
    assert lay < 1e-12 and ch <= lay + 1e-12


def test_per_channel_readout_keeps_one_unit_for_all_classes():
    """Class scores are compared with each other (argmax), so a readout's classes share one scale."""
    g = Graph.sequential([
        ("in", Input(shape=(3,), step=1 / 16, bits=5)), ("fc0", Dense(weight=np.full((4, 3), 1.0))),
        ("n", Neuron(threshold=0.5)),
        # rows alone would pick the grids 4, 1/4 and 1; together they share 1/4 exactly
        ("fc", Dense(weight=[[4.0, 4.0, 4.0, 4.0], [0.5, 0.25, 0.5, 0.25], [1.0, -1.0, 1.0, 0.0]])),
        ("ro", readout()), ("out", Output())])
    res = convert(g, "loihi", granularity="channel")
    x = np.full((6, 2, 3), 0.5)
    rf = assert_int_equals_float(res.graph, x, res)
    assert rf.predictions().tolist() == [0, 0]     # 16 per step against 1.5 and 1


def test_outlier_weight_is_reported_as_clipped():
    rng = np.random.default_rng(3)
    w = rng.normal(0, 0.1, size=(64, 128))
    w[5, 7] = 5.0
    g = Graph.sequential([
        ("in", Input(shape=(128,), step=1 / 16)), ("fc", Dense(weight=w)), ("n", Neuron(threshold=1.0)),
        ("fc2", random_dense(rng, 64, 3)), ("ro", readout()), ("out", Output())])
    res = convert(g, "loihi")
    st_ = res.results[-1].stats["layers"]["n"]
    assert st_["clipped_weights"] >= 1
    assert res.graph.nodes["fc"].weight_int[5, 7] == QMAX
    assert any(a.startswith("neuron 'n':") and "clipped" in a and "saturation" in a for a in res.approximations)


# ----------------------------------------------------------------------------- preconditions
def test_preconditions_are_all_listed_in_one_error():
    g = Graph()
    g.add("in", Input(shape=(3,)))                                   # no step, no calibration
    g.add("fc", Dense(weight=np.ones((4, 3))), ["in"])
    g.add("bn", BatchNorm(gamma=np.ones(4), beta=np.zeros(4), mean=np.zeros(4), var=np.ones(4)), ["fc"])
    g.add("a", Neuron(model="atlif", threshold=1.0, output_scale=2.0), ["bn"])
    g.add("fc2", Dense(weight=np.ones((4, 4))), ["a"])
    g.add("add", Add(), ["fc2", "a"])                                # spikes without a synapse
    g.add("s", Neuron(threshold=1.0, reset="subtract"), ["add"])     # the profile resets to zero
    g.add("fc3", Dense(weight=np.ones((2, 4))), ["s"])
    g.add("ro", readout(), ["fc3"])
    g.add("out", Output(), ["ro"])
    g.validate()
    with pytest.raises(PassError) as ei:
        QuantizePass("loihi").run(g)
    msg = str(ei.value)
    for frag in ["BatchNorm 'bn' is not folded", "neuron 'a' has output scale 2", "neuron 's' receives spikes of ['a']",
                 "neuron 's' resets by 'subtract'", "input 'in' has no integer step"]:
        assert frag in msg, (frag, msg)
    g2 = Graph.sequential([("in", Input(shape=(2, 4, 4), step=0.1)), ("c", Conv2d(weight=np.ones((2, 2, 1, 1)))),
                           ("n", Neuron(threshold=1.0)), ("p", AvgPool2d(kernel_size=2)), ("f", Flatten()),
                           ("fc", Dense(weight=np.ones((2, 8)))), ("ro", readout()), ("out", Output())])
    with pytest.raises(PassError, match="AvgPool2d 'p' is not folded"):
        QuantizePass("loihi").run(g2)
    g3 = Graph()                                                     # one synapse driving two neurons
    g3.add("in", Input(shape=(2,), step=0.25))
    g3.add("fc", Dense(weight=np.eye(2)), ["in"])
    g3.add("a", Neuron(threshold=1.0), ["fc"])
    g3.add("b", Neuron(threshold=2.0), ["fc"])
    g3.add("fa", Dense(weight=np.eye(2)), ["a"])
    g3.add("fb", Dense(weight=np.eye(2)), ["b"])
    g3.add("sum", Add(), ["fa", "fb"])
    g3.add("ro", readout(), ["sum"])
    g3.add("out", Output(), ["ro"])
    with pytest.raises(PassError, match="synapse 'fc' drives more than one neuron"):
        QuantizePass("loihi").run(g3)
    with pytest.raises(ValueError, match="granularity"):
        QuantizePass("loihi", granularity="tensor")


def test_calibration_sets_the_input_step():
    g = Graph.sequential([("in", Input(shape=(3,))), ("fc", Dense(weight=np.ones((2, 3)))), ("ro", readout()),
                          ("out", Output())])
    calib = np.array([[[0.0, 2.55, 1.0]]])
    res = QuantizePass("loihi", calibration=calib).run(g)
    node = res.graph.nodes["in"]
    assert node.step == pytest.approx(0.01) and node.bits == 8 and node.signed is False
    res = QuantizePass("loihi", calibration=-calib).run(g)
    assert res.graph.nodes["in"].signed is True and res.graph.nodes["in"].step == pytest.approx(2.55 / 127)


# ----------------------------------------------------------------------------- search_scale
@given(k=st.lists(st.integers(-QMAX, QMAX), min_size=1, max_size=40).filter(any),
       j=st.integers(-3, 14), rows=st.integers(1, 3))
def test_search_scale_finds_power_of_two_grids(k, j, rows):
    w = np.tile(np.array(k, dtype=np.float64) * 2.0 ** -j, (rows, 1))
    d, err, clipped = search_scale(w, QMAX)
    q = w / d
    assert err == 0.0 and clipped == 0
    np.testing.assert_array_equal(q, np.round(q))
    assert np.abs(q).max() <= QMAX


@given(k=st.lists(st.integers(-QMAX, QMAX), min_size=1, max_size=40), scale=st.floats(1e-3, 1e3))
def test_search_scale_finds_a_full_range_grid(k, scale):
    w = np.array(k + [QMAX], dtype=np.float64)[None, :] * scale
    d, err, clipped = search_scale(w, QMAX)
    assert err <= 1e-18 * max(1.0, scale**2) * w.size and clipped == 0
    assert d == pytest.approx(scale, rel=1e-12)


def test_search_scale_of_zeros():
    assert search_scale(np.zeros((2, 3)), QMAX) == (1.0, 0.0, 0)
