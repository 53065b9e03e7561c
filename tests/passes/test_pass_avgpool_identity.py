"""LowerAvgPoolPass and InsertIdentitySynapsesPass: exact rewrites, idempotent."""
import numpy as np
import pytest

from snn2hw.ir import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, Input, Neuron, Output, SumPool2d
from snn2hw.ir.topology import synapses_into
from snn2hw.passes import InsertIdentitySynapsesPass, LowerAvgPoolPass

from tests.helpers.random_graphs import random_conv, random_dense, random_graph, random_input
from tests.passes._compare import assert_same_behaviour, count, neurons

INF = float("inf")


def readout():
    return Neuron(model="if", readout=True, threshold=INF)


def x_for(g, seed=0, T=12, B=4):
    return random_input(np.random.default_rng(seed), g, timesteps=T, batch=B)


def check_exact_and_idempotent(pass_cls, g, x):
    res = pass_cls().run(g)
    stats = assert_same_behaviour(g, res.graph, x, atol=1e-9)
    again = pass_cls().run(res.graph)
    assert not again.modified, again.summary()
    assert_same_behaviour(res.graph, again.graph, x, atol=0.0)
    return res, stats


# ----------------------------------------------------------------------------- LowerAvgPoolPass
def test_avgpool_on_spikes_scales_consumers_hand_computed():
    rng = np.random.default_rng(0)
    g = Graph()
    g.add("in", Input(shape=(2, 8, 8)))
    g.add("c0", random_conv(rng, 2, (8, 8), 3, kernel=3, padding=1, stride=1, dilation=1), ["in"])
    g.add("n0", Neuron(threshold=1.0), ["c0"])
    g.add("pool", AvgPool2d(kernel_size=3, stride=2, padding=1), ["n0"])   # padding counted: sum / 9
    g.add("flat", Flatten(), ["pool"])
    fc = random_dense(rng, 48, 3)
    g.add("fc", fc, ["flat"])
    g.add("ro", readout(), ["fc"])
    g.add("out", Output(), ["ro"])
    g.validate()
    res, stats = check_exact_and_idempotent(LowerAvgPoolPass, g, x_for(g))
    assert isinstance(res.graph.nodes["pool"], SumPool2d)
    assert res.graph.nodes["pool"].padding == (1, 1) and res.graph.nodes["pool"].stride == (2, 2)
    np.testing.assert_allclose(res.graph.nodes["fc"].weight, fc.weight / 9, rtol=1e-15)
    np.testing.assert_array_equal(res.graph.nodes["fc"].bias, fc.bias)
    assert res.changes == ["AvgPool2d 'pool' -> SumPool2d, 1/9 folded into consumer synapse(s) ['fc']"]
    assert stats["rates"]["n0"] > 0


def test_avgpool_of_currents_scales_the_producer_with_its_bias():
    rng = np.random.default_rng(1)
    conv = random_conv(rng, 2, (8, 8), 4, kernel=3, padding=1, stride=1, dilation=1)
    g = Graph.sequential([("in", Input(shape=(2, 8, 8))), ("conv", conv), ("pool", AvgPool2d(kernel_size=2)),
                          ("n", Neuron(model="lif", beta=0.9, threshold=0.5)), ("flat", Flatten()),
                          ("fc", random_dense(rng, 64, 2)), ("ro", readout()), ("out", Output())])
    res, stats = check_exact_and_idempotent(LowerAvgPoolPass, g, x_for(g))
    np.testing.assert_allclose(res.graph.nodes["conv"].weight, conv.weight / 4, rtol=1e-15)
    np.testing.assert_allclose(res.graph.nodes["conv"].bias, conv.bias / 4, rtol=1e-15)
    assert "producer synapse 'conv'" in res.changes[0]
    assert stats["rates"]["n"] > 0


def test_avgpool_into_an_add_of_spikes_is_refused():
    rng = np.random.default_rng(2)
    g = Graph()
    g.add("in", Input(shape=(2, 8, 8)))
    g.add("c0", random_conv(rng, 2, (8, 8), 2, kernel=3, padding=1, stride=1, dilation=1), ["in"])
    g.add("n0", Neuron(threshold=1.0), ["c0"])
    g.add("pool", AvgPool2d(kernel_size=2), ["n0"])
    g.add("c1", random_conv(rng, 2, (8, 8), 2, kernel=2, padding=0, stride=2, dilation=1), ["n0"])
    g.add("add", Add(), ["pool", "c1"])
    g.add("n1", Neuron(threshold=0.5), ["add"])
    g.add("flat", Flatten(), ["n1"])
    g.add("fc", random_dense(rng, 32, 2), ["flat"])
    g.add("ro", readout(), ["fc"])
    g.add("out", Output(), ["ro"])
    g.validate()
    res, _ = check_exact_and_idempotent(LowerAvgPoolPass, g, x_for(g))
    assert isinstance(res.graph.nodes["pool"], AvgPool2d)
    assert res.refusals and res.refusals[0].startswith("AvgPool2d 'pool' kept") and "'add'" in res.refusals[0]


@pytest.mark.parametrize("kind", ["conv", "residual"])
def test_random_graphs_lower_every_avgpool_exactly(kind):
    lowered = 0
    for seed in range(10):
        rng = np.random.default_rng(300 + seed)
        g = random_graph(rng, kind, bn=False)
        res, stats = check_exact_and_idempotent(LowerAvgPoolPass, g, random_input(rng, g, timesteps=10, batch=3))
        assert count(res.graph, AvgPool2d) == 0
        assert count(res.graph, SumPool2d) == count(g, SumPool2d) + count(g, AvgPool2d)
        lowered += len(res.changes)
        assert stats["rate"] > 0.01
    assert lowered >= 3


# ----------------------------------------------------------------------------- InsertIdentitySynapsesPass
def test_identity_synapse_on_a_conv_shortcut():
    rng = np.random.default_rng(4)
    g = Graph()
    g.add("in", Input(shape=(3, 6, 6)))
    g.add("c0", random_conv(rng, 3, (6, 6), 4, kernel=3, padding=1, stride=1, dilation=1), ["in"])
    g.add("x", Neuron(model="atlif", threshold=1.0, output_scale=1.5), ["c0"])
    g.add("c1", random_conv(rng, 4, (6, 6), 4, kernel=3, padding=1, stride=1, dilation=1), ["x"])
    g.add("add", Add(), ["x", "c1"])
    g.add("n", Neuron(threshold=1.0), ["add"])
    g.add("flat", Flatten(), ["n"])
    g.add("fc", random_dense(rng, 144, 2), ["flat"])
    g.add("ro", readout(), ["fc"])
    g.add("out", Output(), ["ro"])
    g.validate()
    res, stats = check_exact_and_idempotent(InsertIdentitySynapsesPass, g, x_for(g))
    name = "x_to_add_identity"
    assert res.changes == [f"inserted identity synapse '{name}' on the spike path x -> add"]
    ident = res.graph.nodes[name]
    assert isinstance(ident, Conv2d) and ident.groups == 4 and ident.weight.shape == (4, 1, 1, 1)
    np.testing.assert_array_equal(ident.weight, 1.0)
    assert ident.metadata == {"identity": True}
    assert ("x", name) in res.graph.edges and (name, "add") in res.graph.edges and ("x", "add") not in res.graph.edges
    assert synapses_into(res.graph, "n") == (["c1", name], [])
    assert stats["rates"]["x"] > 0


def test_identity_synapse_on_a_vector_shortcut_and_a_direct_spike_edge():
    rng = np.random.default_rng(5)
    g = Graph()
    g.add("in", Input(shape=(4,)))
    g.add("fc0", random_dense(rng, 4, 5), ["in"])
    g.add("x", Neuron(threshold=0.5), ["fc0"])
    g.add("fc1", random_dense(rng, 5, 5), ["x"])
    g.add("add", Add(), ["fc1", "x"])
    g.add("n", Neuron(threshold=1.0), ["add"])
    g.add("m", Neuron(threshold=0.5), ["n"])  # spikes straight into a neuron
    g.add("fc", random_dense(rng, 5, 2), ["m"])
    g.add("ro", readout(), ["fc"])
    g.add("out", Output(), ["ro"])
    g.validate()
    res, stats = check_exact_and_idempotent(InsertIdentitySynapsesPass, g, x_for(g))
    assert len(res.changes) == 2
    ident = res.graph.nodes["x_to_add_identity"]
    assert isinstance(ident, Dense)
    np.testing.assert_array_equal(ident.weight, np.eye(5))
    np.testing.assert_array_equal(ident.mask, np.eye(5, dtype=bool))
    assert isinstance(res.graph.nodes["n_to_m_identity"], Dense)
    for name in neurons(res.graph):
        assert synapses_into(res.graph, name)[1] == [], name
    assert stats["rates"]["n"] > 0


def test_random_residual_graphs_get_identity_synapses_exactly():
    inserted = 0
    for seed in range(10):
        rng = np.random.default_rng(500 + seed)
        g = random_graph(rng, "residual", variants=("identity", "identity_bn_after", "two_conv"))
        res, stats = check_exact_and_idempotent(InsertIdentitySynapsesPass, g, random_input(rng, g, 10, 3))
        adds = [n for n, node in g.nodes.items() if isinstance(node, Add)]
        bare = sum(len(synapses_into(g, a)[1]) for a in adds)
        assert len(res.changes) == bare
        inserted += bare
        for name in list(res.graph.nodes):
            if isinstance(res.graph.nodes[name], (Add, Neuron)):
                assert synapses_into(res.graph, name)[1] == [], name
        assert stats["rate"] > 0.01
    assert inserted >= 3
