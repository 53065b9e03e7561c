"""FoldThresholdsPass: output scale, input gain, channel scales and unit thresholds fold exactly."""
import numpy as np
import pytest

from snn2hw.errors import PassError
from snn2hw.ir import Add, AvgPool2d, BatchNorm, Dense, Flatten, Graph, Input, Neuron, Output
from snn2hw.passes import (FoldBatchNormPass, FoldThresholdsPass, InsertIdentitySynapsesPass, LowerAvgPoolPass,
                           run_passes)

from tests.helpers.random_graphs import random_conv, random_dense, random_graph, random_input
from tests.passes._compare import assert_same_behaviour, neurons

INF = float("inf")


def readout():
    return Neuron(model="if", readout=True, threshold=INF)


def x_for(g, seed=0, T=12, B=4):
    return random_input(np.random.default_rng(seed), g, timesteps=T, batch=B)


def test_atlif_output_scale_folds_into_consumers_hand_computed():
    w2 = np.array([[1.0, -2.0, 0.5], [0.25, 1.0, 1.0]])
    g = Graph.sequential([
        ("in", Input(shape=(2,))),
        ("fc1", Dense(weight=[[1.5, 0.2], [0.3, 1.1], [0.9, 0.9]], bias=[0.1, 0.0, 0.2])),
        ("a", Neuron(model="atlif", beta=1.0, threshold=0.8, output_scale=1.75)),
        ("fc2", Dense(weight=w2, bias=[0.5, -0.5])),
        ("n", Neuron(model="lif", beta=0.9, threshold=1.0)),
        ("fc3", Dense(weight=[[1.0, -1.0]])),
        ("ro", readout()), ("out", Output())])
    res = FoldThresholdsPass().run(g)
    a, fc2 = res.graph.nodes["a"], res.graph.nodes["fc2"]
    assert a.output_scale == 1.0 and a.model == "if" and a.threshold == 0.8
    np.testing.assert_array_equal(fc2.weight, 1.75 * w2)
    np.testing.assert_array_equal(fc2.bias, [0.5, -0.5])  # biases do not see the spikes
    assert res.changes == ["neuron 'a': output scale 1.75 folded into ['fc2']"]
    stats = assert_same_behaviour(g, res.graph, x_for(g), atol=1e-9)
    assert stats["rates"]["a"] > 0


def test_output_scale_folds_through_pools_and_flatten_and_leaky_atlif_becomes_lif():
    rng = np.random.default_rng(1)
    g = Graph()
    g.add("in", Input(shape=(2, 8, 8)))
    g.add("c0", random_conv(rng, 2, (8, 8), 4, kernel=3, padding=1, stride=1, dilation=1), ["in"])
    g.add("a", Neuron(model="atlif", beta=0.8, threshold=0.9, output_scale=2.5), ["c0"])
    g.add("pool", AvgPool2d(kernel_size=2), ["a"])
    g.add("ca", random_conv(rng, 4, (4, 4), 4, kernel=3, padding=1, stride=1, dilation=1), ["pool"])
    g.add("na", Neuron(threshold=1.0), ["ca"])
    g.add("flat", Flatten(), ["pool"])
    g.add("fc", random_dense(rng, 64, 3), ["flat"])
    g.add("flat2", Flatten(), ["na"])
    g.add("fc2", random_dense(rng, 64, 3), ["flat2"])
    g.add("sum", Add(), ["fc", "fc2"])
    g.add("ro", readout(), ["sum"])
    g.add("out", Output(), ["ro"])
    g.validate()
    res = FoldThresholdsPass().run(g)
    assert res.graph.nodes["a"].model == "lif" and res.graph.nodes["a"].output_scale == 1.0
    assert "['ca', 'fc']" in res.changes[0]
    assert_same_behaviour(g, res.graph, x_for(g), atol=1e-9)


def test_output_scale_refused_when_spikes_reach_an_add_without_synapse():
    rng = np.random.default_rng(2)
    g = Graph()
    g.add("in", Input(shape=(3,)))
    g.add("fc0", random_dense(rng, 3, 4), ["in"])
    g.add("a", Neuron(model="atlif", threshold=1.0, output_scale=1.5), ["fc0"])
    g.add("fc1", random_dense(rng, 4, 4), ["a"])
    g.add("add", Add(), ["fc1", "a"])
    g.add("n", Neuron(threshold=1.0), ["add"])
    g.add("fc2", random_dense(rng, 4, 2), ["n"])
    g.add("ro", readout(), ["fc2"])
    g.add("out", Output(), ["ro"])
    res = FoldThresholdsPass().run(g)
    assert res.graph.nodes["a"].output_scale == 1.5
    assert any(r.startswith("neuron 'a': output scale 1.5 kept") and "'add'" in r for r in res.refusals)
    assert_same_behaviour(g, res.graph, x_for(g), atol=1e-12)
    # with identity synapses first, it folds (the identity synapse carries theta)
    g2 = InsertIdentitySynapsesPass().run(g).graph
    res2 = FoldThresholdsPass().run(g2)
    assert res2.graph.nodes["a"].output_scale == 1.0 and not res2.refusals
    assert_same_behaviour(g, res2.graph, x_for(g), atol=1e-9)


def test_input_gain_folds_into_weights_and_bias():
    g = Graph.sequential([
        ("in", Input(shape=(2,))),
        ("fc1", Dense(weight=[[1.0, 0.5], [-0.5, 2.0]], bias=[0.25, 0.5])),
        ("n", Neuron(model="cuba", beta=0.9, alpha=0.5, threshold=0.6, input_gain=0.4)),
        ("fc2", Dense(weight=[[1.0, 1.0]])), ("ro", readout()), ("out", Output())])
    res = FoldThresholdsPass().run(g)
    fc1, n = res.graph.nodes["fc1"], res.graph.nodes["n"]
    assert n.input_gain == 1.0
    np.testing.assert_allclose(fc1.weight, [[0.4, 0.2], [-0.2, 0.8]], rtol=1e-15)
    np.testing.assert_allclose(fc1.bias, [0.1, 0.2], rtol=1e-15)
    stats = assert_same_behaviour(g, res.graph, x_for(g), atol=1e-9)
    assert stats["rates"]["n"] > 0


@pytest.mark.parametrize("seed", range(4))
def test_negative_channel_scales_fold_into_per_channel_thresholds(seed):
    """Add of two scaled conv branches into a LIF: the lead's |kappa| divides the state, signs stay in weights."""
    rng = np.random.default_rng(100 + seed)
    g = Graph()
    g.add("in", Input(shape=(2, 7, 7)))
    g.add("c0", random_conv(rng, 2, (7, 7), 4, kernel=3, padding=1, stride=1, dilation=1), ["in"])
    g.add("n0", Neuron(threshold=1.0), ["c0"])
    ca = random_conv(rng, 4, (7, 7), 6, kernel=3, padding=1, stride=1, dilation=1)
    ca.channel_scale = np.array([1.5, -0.5, 0.75, -1.25, 1.0, -2.0])
    cb = random_conv(rng, 4, (7, 7), 6, kernel=1, padding=0, stride=1, channel_scale_prob=1.0)
    g.add("ca", ca, ["n0"])
    g.add("cb", cb, ["n0"])
    g.add("add", Add(), ["ca", "cb"])
    th = rng.uniform(0.5, 1.5, size=6) if seed % 2 else 0.9
    g.add("n1", Neuron(model="lif", beta=0.85, threshold=th, reset="subtract" if seed >= 2 else "zero"), ["add"])
    g.add("flat", Flatten(), ["n1"])
    g.add("fc", random_dense(rng, 6 * 49, 3), ["flat"])
    g.add("ro", readout(), ["fc"])
    g.add("out", Output(), ["ro"])
    g.validate()
    res = FoldThresholdsPass().run(g)
    n1 = res.graph.nodes["n1"]
    np.testing.assert_allclose(n1.threshold, np.broadcast_to(th, 6) / np.abs(ca.channel_scale), rtol=1e-15)
    new_a, new_b = res.graph.nodes["ca"], res.graph.nodes["cb"]
    assert new_a.channel_scale is None and new_b.channel_scale is None
    sign = np.sign(ca.channel_scale).reshape(-1, 1, 1, 1)
    np.testing.assert_allclose(new_a.weight, ca.weight * sign, rtol=1e-15)
    assert "2 negative" not in res.changes[-1] and "3 negative channel(s) negated" in res.changes[-1]
    stats = assert_same_behaviour(g, res.graph, x_for(g, seed), atol=1e-9)
    assert stats["rates"]["n1"] > 0


def test_readout_keeps_channel_scales_in_weights():
    kappa = np.array([2.0, -0.5, 1.5])
    w = np.array([[1.0, 0.0], [0.5, 0.5], [-1.0, 2.0]])
    g = Graph.sequential([
        ("in", Input(shape=(2,))), ("fc0", Dense(weight=[[1.2, 0.1], [0.2, 0.9]])), ("n", Neuron(threshold=0.5)),
        ("fc", Dense(weight=w, bias=[0.1, 0.2, 0.3], channel_scale=kappa)), ("ro", readout()), ("out", Output())])
    res = FoldThresholdsPass().run(g)
    fc = res.graph.nodes["fc"]
    assert fc.channel_scale is None and res.graph.nodes["ro"].threshold == INF
    np.testing.assert_array_equal(fc.weight, w * kappa[:, None])
    np.testing.assert_array_equal(fc.bias, [0.1, 0.2, 0.3])
    assert any("'ro'" in r and "readout" in r for r in res.refusals)
    assert_same_behaviour(g, res.graph, x_for(g), atol=1e-12)


def test_cuba_channel_scale_stays_in_weights_and_is_exact():
    rng = np.random.default_rng(5)
    g = Graph.sequential([
        ("in", Input(shape=(4,))), ("fc0", random_dense(rng, 4, 5, channel_scale_prob=1.0)),
        ("n", Neuron(model="cuba", beta=0.9, alpha=0.6, threshold=0.8)), ("fc", random_dense(rng, 5, 2)),
        ("ro", readout()), ("out", Output())])
    res = FoldThresholdsPass().run(g)
    assert res.graph.nodes["fc0"].channel_scale is None and res.graph.nodes["n"].threshold == 0.8
    assert any("CUBA" in r for r in res.refusals)
    assert_same_behaviour(g, res.graph, x_for(g), atol=1e-9)


def _prepared(seed, kind, **kw):
    """A random graph with identity synapses, BN and AvgPool already folded: the input of fold_thresholds."""
    rng = np.random.default_rng(seed)
    g = random_graph(rng, kind, **kw)
    g, _ = run_passes(g, [InsertIdentitySynapsesPass(), FoldBatchNormPass(), LowerAvgPoolPass()])
    return g, random_input(rng, g, timesteps=12, batch=4)


@pytest.mark.parametrize("unit", [False, True])
@pytest.mark.parametrize("kind", ["mlp", "conv", "residual"])
def test_random_graphs_fold_exactly(kind, unit):
    seen = {"output scale": 0, "input gain": 0, "folded into its threshold": 0}
    for seed in range(5):
        g, x = _prepared(7 * seed + 3, kind)
        res = FoldThresholdsPass(unit_threshold=unit).run(g)
        for key in seen:
            seen[key] += sum(key in c for c in res.changes)
        for name, n in neurons(res.graph).items():
            assert n.output_scale == 1.0 and n.input_gain == 1.0 and n.model != "atlif", name
            if unit and not n.readout:
                np.testing.assert_array_equal(n.threshold, 1.0)
        scaled = [s for s, node in res.graph.nodes.items() if getattr(node, "channel_scale", None) is not None]
        assert scaled == []
        stats = assert_same_behaviour(g, res.graph, x, atol=1e-6)
        assert stats["rate"] > 0.01
        assert not FoldThresholdsPass(unit_threshold=unit).run(res.graph).modified
    assert all(seen.values()), seen  # every rule was exercised


def test_unit_threshold_hand_computed():
    g = Graph.sequential([
        ("in", Input(shape=(2,))), ("fc", Dense(weight=[[1.0, 2.0], [3.0, -1.0]], bias=[0.5, 1.0])),
        ("n", Neuron(model="lif", beta=0.5, threshold=[0.5, 4.0], reset="subtract")),
        ("fc2", Dense(weight=[[1.0, 1.0]])), ("ro", readout()), ("out", Output())])
    res = FoldThresholdsPass(unit_threshold=True).run(g)
    np.testing.assert_array_equal(res.graph.nodes["n"].threshold, [1.0, 1.0])
    np.testing.assert_allclose(res.graph.nodes["fc"].weight, [[2.0, 4.0], [0.75, -0.25]], rtol=1e-15)
    np.testing.assert_allclose(res.graph.nodes["fc"].bias, [1.0, 0.25], rtol=1e-15)
    assert_same_behaviour(g, res.graph, x_for(g), atol=1e-12)


def test_requires_batchnorm_folded_first():
    g = Graph.sequential([
        ("in", Input(shape=(2,))), ("fc", Dense(weight=np.eye(2))),
        ("bn", BatchNorm(gamma=np.ones(2), beta=np.zeros(2), mean=np.zeros(2), var=np.ones(2))),
        ("n", Neuron(threshold=1.0)), ("fc2", Dense(weight=np.eye(2))), ("ro", readout()), ("out", Output())])
    with pytest.raises(PassError, match="BatchNorm 'bn' must be folded first"):
        FoldThresholdsPass().run(g)


def test_a_synapse_shared_by_two_neurons_is_not_rescaled_for_one_of_them():
    """fc drives both 'a' (input gain 2, threshold 0.5, channel scale on fc) and 'b': folding a's gain,
    channel scale or threshold into fc would change b's input."""
    g = Graph()
    g.add("in", Input(shape=(3,)))
    g.add("fc", Dense(weight=[[1.0, 0.5, 0.2], [0.3, 0.9, 0.4]], bias=[0.1, 0.2], channel_scale=[-1.5, 0.5]),
          ["in"])
    g.add("a", Neuron(threshold=0.5, input_gain=2.0), ["fc"])
    g.add("b", Neuron(threshold=0.7), ["fc"])
    g.add("fa", Dense(weight=[[1.0, -1.0], [0.5, 1.0]]), ["a"])
    g.add("fb", Dense(weight=[[1.0, 0.5], [-1.0, 1.0]]), ["b"])
    g.add("sum", Add(), ["fa", "fb"])
    g.add("ro", readout(), ["sum"])
    g.add("out", Output(), ["ro"])
    g.validate()
    res = FoldThresholdsPass(unit_threshold=True).run(g)
    assert res.graph.nodes["a"].input_gain == 2.0 and res.graph.nodes["a"].threshold == 0.5
    assert any("input gain 2 kept, synapse(s) ['fc'] also drive other neurons" in r for r in res.refusals)
    assert any("'a': threshold not normalised" in r for r in res.refusals)
    assert res.graph.nodes["fc"].channel_scale is None  # kept in the weights, which is exact for both
    stats = assert_same_behaviour(g, res.graph, x_for(g), atol=1e-9)
    assert stats["rates"]["a"] > 0 and stats["rates"]["b"] > 0
