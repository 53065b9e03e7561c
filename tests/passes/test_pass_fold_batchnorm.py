"""FoldBatchNormPass: exact on the float simulator, each of its four rules, and its refusals."""
import numpy as np
import pytest

from snn2hw.ir import Add, AvgPool2d, BatchNorm, Dense, Flatten, Graph, Input, Neuron, Output, SumPool2d
from snn2hw.passes import FoldBatchNormPass

from tests.helpers.random_graphs import random_bn, random_conv, random_dense, random_graph, random_input
from tests.passes._compare import assert_same_behaviour, count

INF = float("inf")


def readout():
    return Neuron(model="if", readout=True, threshold=INF)


def tail(g: Graph, src: str, rng, classes: int = 3):
    """src (C, H, W) or (N,) -> [Flatten] -> Dense -> readout -> Output."""
    g.infer_shapes()
    shape = g.nodes[src].output_shape
    if len(shape) == 3:
        g.add("flat", Flatten(), [src])
        src = "flat"
    g.add("fc", random_dense(rng, int(np.prod(shape)), classes), [src])
    g.add("ro", readout(), ["fc"])
    g.add("out", Output(), ["ro"])
    g.validate()
    return g


def x_for(g, rng, T=10, B=4):
    return random_input(rng, g, timesteps=T, batch=B)


def fold_and_check(g, rng, rule: str):
    res = FoldBatchNormPass().run(g)
    assert any(f"({rule})" in c for c in res.changes), res.summary()
    assert count(res.graph, BatchNorm) == 0, res.summary()
    stats = assert_same_behaviour(g, res.graph, x_for(g, rng), atol=1e-9)
    assert stats["rate"] > 0
    return res


def test_rule1_hand_computed():
    bn = BatchNorm(gamma=[2.0, -1.0], beta=[0.5, 0.0], mean=[1.0, 2.0], var=[3.0, 0.0], eps=1.0)  # a = [1, -1]
    g = Graph.sequential([("in", Input(shape=(2,))), ("fc1", Dense(weight=[[1.0, 2.0], [3.0, 4.0]], bias=[1.0, 1.0])),
                          ("bn", bn), ("n", Neuron(threshold=1.0)), ("fc2", Dense(weight=np.eye(2))),
                          ("ro", readout()), ("out", Output())])
    res = FoldBatchNormPass().run(g)
    assert res.changes == ["folded BatchNorm 'bn' into synapse 'fc1' (rule 1)"]
    fc1 = res.graph.nodes["fc1"]
    # c = beta - a * mean = [0.5 - 1, 0 + 2]; W' = a W; b' = a b + c
    np.testing.assert_allclose(fc1.weight, [[1.0, 2.0], [-3.0, -4.0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(fc1.bias, [0.5, 1.0], rtol=0, atol=1e-15)
    assert res.graph.edges == [("in", "fc1"), ("n", "fc2"), ("fc2", "ro"), ("ro", "out"), ("fc1", "n")]
    # the input graph is untouched (passes are functional)
    assert "bn" in g.nodes and g.nodes["fc1"].weight[1, 0] == 3.0


@pytest.mark.parametrize("seed", range(3))
def test_rule1_conv_with_channel_scale_and_mask(seed):
    rng = np.random.default_rng(seed)
    g = Graph()
    g.add("in", Input(shape=(4, 8, 8)))
    conv = random_conv(rng, 4, (8, 8), 6, channel_scale_prob=1.0, mask_prob=1.0)
    g.add("conv", conv, ["in"])
    g.add("bn", random_bn(rng, 6), ["conv"])
    g.add("n", Neuron(threshold=1.0), ["bn"])
    fold_and_check(tail(g, "n", rng), rng, "rule 1")


@pytest.mark.parametrize("pool_cls", [AvgPool2d, SumPool2d])
@pytest.mark.parametrize("seed", range(2))
def test_rule2_bn_after_unpadded_pool(pool_cls, seed):
    rng = np.random.default_rng(10 + seed)
    g = Graph()
    g.add("in", Input(shape=(2, 9, 9)))
    g.add("conv", random_conv(rng, 2, (9, 9), 4, padding=1, stride=1, dilation=1), ["in"])
    g.add("pool", pool_cls(kernel_size=3, stride=2), ["conv"])
    g.add("bn", random_bn(rng, 4), ["pool"])
    g.add("n", Neuron(model="lif", beta=0.8, threshold=1.0), ["bn"])
    res = fold_and_check(tail(g, "n", rng), rng, "rule 2")
    assert "through pool 'pool'" in res.changes[0]


@pytest.mark.parametrize("seed", range(3))
def test_rule3_bn_after_add_of_synapses(seed):
    rng = np.random.default_rng(20 + seed)
    g = Graph()
    g.add("in", Input(shape=(4, 7, 7)))
    g.add("c0", random_conv(rng, 4, (7, 7), 4, kernel=3, padding=1, stride=1, dilation=1), ["in"])
    g.add("n0", Neuron(threshold=0.8), ["c0"])
    g.add("ca", random_conv(rng, 4, (7, 7), 6, kernel=3, padding=1, stride=2, dilation=1,
                            channel_scale_prob=1.0), ["n0"])
    g.add("cb", random_conv(rng, 4, (7, 7), 6, kernel=1, padding=0, stride=2, groups=2), ["n0"])
    g.add("add", Add(), ["ca", "cb"])
    g.add("bn", random_bn(rng, 6), ["add"])
    g.add("n1", Neuron(model="cuba", beta=0.9, alpha=0.5, threshold=1.0), ["bn"])
    res = fold_and_check(tail(g, "n1", rng), rng, "rule 3")
    assert "the 2 synapses into Add 'add'" in res.changes[0]


def test_rule3_adds_the_shift_once():
    bn = BatchNorm(gamma=[1.0], beta=[3.0], mean=[0.0], var=[1.0], eps=0.0)  # a = 1, c = 3
    g = Graph()
    g.add("in", Input(shape=(1,)))
    g.add("d1", Dense(weight=[[1.0]], bias=[0.5]), ["in"])
    g.add("d2", Dense(weight=[[2.0]]), ["in"])
    g.add("add", Add(), ["d1", "d2"])
    g.add("bn", bn, ["add"])
    g.add("ro", readout(), ["bn"])
    g.add("out", Output(), ["ro"])
    res = FoldBatchNormPass().run(g)
    biases = [res.graph.nodes[n].bias for n in ("d1", "d2")]
    total = sum(0.0 if b is None else float(b[0]) for b in biases)
    assert total == pytest.approx(3.5)


@pytest.mark.parametrize("seed", range(3))
def test_rule4_bn_on_spikes_before_conv_and_dense(seed):
    rng = np.random.default_rng(30 + seed)
    g = Graph()
    g.add("in", Input(shape=(4, 8, 8)))
    g.add("c0", random_conv(rng, 4, (8, 8), 4, kernel=3, padding=1, stride=1, dilation=1), ["in"])
    g.add("n0", Neuron(threshold=1.0), ["c0"])
    g.add("bn", random_bn(rng, 4), ["n0"])
    # two consumers of the BN into one Add: a grouped, dilated unpadded conv with a channel scale and a
    # mask (8x8 -> 4x4), and a strided 1x1 conv with a channel scale (8x8 -> 4x4)
    g.add("ca", random_conv(rng, 4, (8, 8), 6, kernel=3, padding=0, stride=1, dilation=2, groups=2,
                            channel_scale_prob=1.0, mask_prob=1.0), ["bn"])
    g.add("cb", random_conv(rng, 4, (8, 8), 6, kernel=1, padding=0, stride=2, channel_scale_prob=1.0), ["bn"])
    g.add("add", Add(), ["ca", "cb"])
    g.add("n1", Neuron(threshold=1.0), ["add"])
    g.add("flat", Flatten(), ["n1"])
    g.infer_shapes()
    n = g.nodes["flat"].output_shape[0]
    g.add("bn2", random_bn(rng, n), ["flat"])
    g.add("fc", random_dense(rng, n, 3, channel_scale_prob=1.0, mask_prob=1.0), ["bn2"])
    g.add("ro", readout(), ["fc"])
    g.add("out", Output(), ["ro"])
    g.validate()
    res = FoldBatchNormPass().run(g)
    assert sum("(rule 4)" in c for c in res.changes) == 2, res.summary()
    assert any("consumer synapse(s) ['ca', 'cb']" in c for c in res.changes)
    assert count(res.graph, BatchNorm) == 0
    stats = assert_same_behaviour(g, res.graph, x_for(g, rng), atol=1e-9)
    assert stats["rate"] > 0


def test_rule4_masked_consumer_hand_computed():
    """The shift meets the weights as applied: a masked-out or channel-scaled weight must not
    contribute its raw value to the folded bias."""
    bn = BatchNorm(gamma=[1.0, 1.0], beta=[1.0, 2.0], mean=[0.0, 0.0], var=[1.0, 1.0], eps=0.0)  # a=1, c=[1,2]
    g = Graph.sequential([("in", Input(shape=(2,))), ("bn", bn),
                          ("fc", Dense(weight=[[1.0, 10.0], [3.0, 4.0]], mask=[[1, 0], [1, 1]],
                                       channel_scale=[1.0, -0.5])),
                          ("ro", readout()), ("out", Output())])
    res = FoldBatchNormPass().run(g)
    # effective W = [[1, 0], [-1.5, -2]]; bias = W_eff @ c = [1, -1.5 - 4]
    np.testing.assert_allclose(res.graph.nodes["fc"].bias, [1.0, -5.5], rtol=0, atol=1e-15)
    assert_same_behaviour(g, res.graph, np.random.default_rng(0).uniform(size=(3, 2, 2)), atol=1e-12)


def test_rule4_padded_conv_with_zero_shift_folds():
    rng = np.random.default_rng(40)
    g = Graph()
    g.add("in", Input(shape=(2, 6, 6)))
    g.add("bn", random_bn(rng, 2, zero_shift=True), ["in"])
    g.add("conv", random_conv(rng, 2, (6, 6), 4, padding=1), ["bn"])
    g.add("n", Neuron(threshold=0.7), ["conv"])
    fold_and_check(tail(g, "n", rng), rng, "rule 4")


# ----------------------------------------------------------------------------- refusals
def _refused(g, bn_name, *fragments):
    res = FoldBatchNormPass().run(g)
    assert bn_name in res.graph.nodes, res.summary()
    (ref,) = [r for r in res.refusals if f"BatchNorm '{bn_name}' kept" in r]
    for f in fragments:
        assert f in ref, ref
    assert_same_behaviour(g, res.graph, x_for(g, np.random.default_rng(1)), atol=1e-12)
    return res


def test_refuses_bn_after_padded_pool():
    rng = np.random.default_rng(50)
    g = Graph()
    g.add("in", Input(shape=(2, 8, 8)))
    g.add("conv", random_conv(rng, 2, (8, 8), 4, padding=1, stride=1), ["in"])
    g.add("pool", AvgPool2d(kernel_size=2, stride=2, padding=1), ["conv"])
    g.add("bn", random_bn(rng, 4), ["pool"])
    g.add("n", Neuron(threshold=1.0), ["bn"])
    res = _refused(tail(g, "n", rng), "bn", "pool 'pool' is padded")
    assert not res.modified


def test_refuses_bn_before_padded_conv_with_shift():
    rng = np.random.default_rng(51)
    g = Graph()
    g.add("in", Input(shape=(2, 6, 6)))
    g.add("c0", random_conv(rng, 2, (6, 6), 2, padding=1), ["in"])
    g.add("n0", Neuron(threshold=1.0), ["c0"])
    g.add("bn", random_bn(rng, 2), ["n0"])
    g.add("conv", random_conv(rng, 2, (6, 6), 4, padding=1, kernel=3, stride=1, dilation=1), ["bn"])
    g.add("n", Neuron(threshold=1.0), ["conv"])
    _refused(tail(g, "n", rng), "bn", "consumer conv 'conv' is zero-padded")


def test_refuses_bn_after_add_with_a_bare_spike_input():
    rng = np.random.default_rng(52)
    g = Graph()
    g.add("in", Input(shape=(2, 6, 6)))
    g.add("c0", random_conv(rng, 2, (6, 6), 2, padding=1, kernel=3, stride=1, dilation=1), ["in"])
    g.add("n0", Neuron(threshold=1.0), ["c0"])
    g.add("c1", random_conv(rng, 2, (6, 6), 2, padding=1, kernel=3, stride=1, dilation=1), ["n0"])
    g.add("add", Add(), ["c1", "n0"])
    g.add("bn", random_bn(rng, 2), ["add"])
    g.add("n1", Neuron(threshold=1.0), ["bn"])
    _refused(tail(g, "n1", rng), "bn", "Add 'add'", "'n0'")


def test_refuses_bn_between_spikes_and_a_neuron():
    rng = np.random.default_rng(53)
    g = Graph.sequential([("in", Input(shape=(3,))), ("fc0", random_dense(rng, 3, 4)), ("n0", Neuron(threshold=1.0)),
                          ("bn", random_bn(rng, 4)), ("n1", Neuron(threshold=1.0))])
    _refused(tail(g, "n1", rng), "bn", "consumer 'n1' is Neuron")


# ----------------------------------------------------------------------------- random graphs
@pytest.mark.parametrize("kind", ["mlp", "conv", "residual"])
def test_random_graphs_keep_outputs_and_spikes(kind):
    folded = 0
    for seed in range(8):
        rng = np.random.default_rng(1000 * seed + 7)
        g = random_graph(rng, kind)
        res = FoldBatchNormPass().run(g)
        folded += len(res.changes)
        if kind != "residual":  # residual BN after an Add with a bare spike input waits for identity synapses
            assert count(res.graph, BatchNorm) == 0, res.summary()
        assert len(res.changes) + len(res.refusals) == count(g, BatchNorm)
        stats = assert_same_behaviour(g, res.graph, random_input(rng, g, timesteps=12, batch=4), atol=1e-6)
        assert stats["rate"] > 0.01
        again = FoldBatchNormPass().run(res.graph)
        assert not again.modified
    assert folded >= 8
