"""StructuredPrunePass: channels are physically removed, the function of the kept channels is unchanged."""
import numpy as np
import pytest
import torch

from snn2hw.errors import PassError
from snn2hw.frontends.torch_fx import from_module
from snn2hw.ir import AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, Graph, Input, Neuron, Output
from snn2hw.models import build_model
from snn2hw.passes import InsertIdentitySynapsesPass, convert
from snn2hw.passes.structured_prune import ChannelGroups, StructuredPrunePass
from snn2hw.passes.svs import svs_scores
from snn2hw.simulators.reference import simulate

from tests.helpers.random_graphs import random_graph, random_input


def readout():
    return Neuron(model="if", readout=True, threshold=float("inf"))


def hand_graph(seed=0):
    """in(2,8,8) -> c0 8ch + BN -> n0 -> avgpool -> c1 6ch -> n1 -> flatten -> d0 10 -> n2 -> fc 3 -> readout."""
    rng = np.random.default_rng(seed)
    g = Graph.sequential([
        ("in", Input(shape=(2, 8, 8))),
        ("c0", Conv2d(weight=rng.normal(0, 1, (8, 2, 3, 3)), bias=rng.normal(0, 0.1, 8), padding=1,
                      channel_scale=rng.uniform(0.5, 1.5, 8))),
        ("bn0", BatchNorm(gamma=rng.uniform(0.5, 1.5, 8), beta=np.zeros(8), mean=np.zeros(8), var=np.ones(8))),
        ("n0", Neuron(model="lif", beta=0.9, threshold=rng.uniform(0.5, 1.5, 8))),
        ("p0", AvgPool2d(kernel_size=2)),
        ("c1", Conv2d(weight=rng.normal(0, 1, (6, 8, 3, 3)), bias=rng.normal(0, 0.1, 6), padding=1)),
        ("n1", Neuron(model="if", threshold=1.0)),
        ("flat", Flatten()),
        ("d0", Dense(weight=rng.normal(0, 0.3, (10, 96)), bias=rng.normal(0, 0.1, 10),
                     mask=rng.random((10, 96)) < 0.8)),
        ("n2", Neuron(model="if", threshold=rng.uniform(0.5, 1.5, 10))),
        ("fc", Dense(weight=rng.normal(0, 1, (3, 10)), bias=np.zeros(3))),
        ("ro", readout()), ("out", Output())])
    g.validate()
    return g


def _params(g):
    """Synapse weights (unmasked) and biases, counted by hand."""
    return sum(int(n.weight.size) + (0 if n.bias is None else int(n.bias.size))
               for n in g.nodes.values() if isinstance(n, (Dense, Conv2d)))


@pytest.mark.parametrize("ratio", [0.5, 0.25, 0.3])
def test_removes_exactly_the_share_of_channels_and_parameters(ratio):
    g = hand_graph()
    res = StructuredPrunePass("l1", ratio).run(g)
    p = res.graph
    keep = {n: int(c * (1 - ratio)) for n, c in (("n0", 8), ("n1", 6), ("n2", 10))}
    assert {k: v for k, v in res.stats["channels"].items()} == {n: ((8, 6, 10)[i], keep[n])
                                                                for i, n in enumerate(("n0", "n1", "n2"))}
    k0, k1, k2 = keep["n0"], keep["n1"], keep["n2"]
    assert p.nodes["c0"].weight.shape == (k0, 2, 3, 3) and p.nodes["c0"].channel_scale.shape == (k0,)
    assert p.nodes["bn0"].gamma.shape == (k0,) and p.nodes["n0"].threshold.shape == (k0,)
    assert p.nodes["c1"].weight.shape == (k1, k0, 3, 3)
    assert p.nodes["d0"].weight.shape == (k2, k1 * 16) and p.nodes["d0"].mask.shape == (k2, k1 * 16)
    assert p.nodes["n2"].threshold.shape == (k2,) and p.nodes["fc"].weight.shape == (3, k2)
    before = 8 * 2 * 9 + 8 + 6 * 8 * 9 + 6 + 10 * 96 + 10 + 3 * 10 + 3
    after = k0 * 2 * 9 + k0 + k1 * k0 * 9 + k1 + k2 * k1 * 16 + k2 + 3 * k2 + 3
    assert (_params(g), _params(p)) == (before, after)
    assert res.stats["params_before"] == g.num_params() and res.stats["params_after"] == p.num_params()
    assert res.stats["bn_params_before"] == 16 and res.stats["bn_params_after"] == 2 * k0
    # the kept filters are the largest by L1 (weights as applied), in their original order
    l1 = np.abs(g.nodes["c0"].effective_weight()).reshape(8, -1).sum(1)
    kept = res.stats["kept"]["n0"]
    assert kept == sorted(kept) and set(kept) == set(np.argsort(-l1, kind="stable")[:k0].tolist())
    np.testing.assert_array_equal(p.nodes["c0"].weight, g.nodes["c0"].weight[kept])
    np.testing.assert_array_equal(p.nodes["n0"].threshold, g.nodes["n0"].threshold[kept])
    cols = (np.array(res.stats["kept"]["n1"])[:, None] * 16 + np.arange(16)).ravel()
    np.testing.assert_array_equal(p.nodes["d0"].weight, g.nodes["d0"].weight[res.stats["kept"]["n2"]][:, cols])
    assert any("removed" in c and "'n0'" in c for c in res.changes)


def test_rankings_bn_random_explicit_and_stable_ties():
    g = hand_graph(1)
    r_bn = StructuredPrunePass("bn", {"n0": 0.5}).run(g)
    gam = np.abs(g.nodes["bn0"].gamma)
    assert set(r_bn.stats["kept"]["n0"]) == set(np.argsort(-gam)[:4].tolist())
    assert set(r_bn.stats["kept"]) == {"n0"}  # unnamed layers keep all channels
    r_bn2 = StructuredPrunePass("bn", {"n1": 0.5}).run(g)
    assert any("n1" in r and "no BatchNorm" in r for r in r_bn2.refusals)
    a = StructuredPrunePass("random", 0.5, seed=3).run(g).stats["kept"]
    assert a == StructuredPrunePass("random", 0.5, seed=3).run(g).stats["kept"]
    assert a != StructuredPrunePass("random", 0.5, seed=4).run(g).stats["kept"]
    ties = {"n0": np.ones(8), "n1": [5, 1, 5, 1, 5, 5], "n2": np.arange(10)[::-1]}
    r = StructuredPrunePass(ties, {"n0": 0.5, "c1": 0.5, "n2": 0.5}).run(g)  # a synapse name names its layer
    assert r.stats["kept"] == {"n0": [0, 1, 2, 3], "n1": [0, 2, 4], "n2": [0, 1, 2, 3, 4]}
    r = StructuredPrunePass(ties, 0.5, protect=["c1", "n2"]).run(g)
    assert set(r.stats["kept"]) == {"n0"} and r.stats["protected"] == ["n1", "n2"]


def _zero_removed(g, stats):
    """A copy of ``g`` whose removed channels produce nothing: zero rows (weights, bias) and BN shifts."""
    z = g.copy()
    cg = ChannelGroups(z)
    for grp in cg.groups.values():
        rem = stats["removed"].get(grp["name"])
        if not rem:
            continue
        for s in grp["producers"]:
            z.nodes[s].weight[rem] = 0.0
            if z.nodes[s].bias is not None:
                z.nodes[s].bias[rem] = 0.0
        for b in grp["bns"]:
            z.nodes[b].beta[rem] = 0.0
            z.nodes[b].mean[rem] = 0.0
    return z


@pytest.mark.parametrize("kind", ["conv", "residual", "mlp"])
@pytest.mark.parametrize("identity_synapses", [False, True])
def test_pruning_channels_that_output_zero_keeps_the_function(kind, identity_synapses):
    pruned_groups = 0
    for seed in range(6):
        rng = np.random.default_rng(1000 * seed + 7)
        g = random_graph(rng, kind, channel_scale_prob=0.3)
        if identity_synapses:
            g = InsertIdentitySynapsesPass().run(g).graph
        x = torch.as_tensor(random_input(rng, g, timesteps=8, batch=3))
        prune = StructuredPrunePass("random", 0.5, seed=seed)
        stats = prune.run(g).stats
        z = _zero_removed(g, stats)
        res = prune.run(z)
        assert res.stats["removed"] == stats["removed"]
        pruned_groups += len(stats["removed"])
        a = simulate(z, x, record=["spikes"])
        b = simulate(res.graph, x, record=["spikes"])
        assert float((a.output - b.output).abs().max()) <= 1e-9
        cg = ChannelGroups(z)
        for name, s in a.record["spikes"].items():
            kept = stats["kept"].get(cg.groups[cg.root_of(name)]["name"])
            if kept is None:
                assert torch.equal(s, b.record["spikes"][name]), name
            else:
                assert torch.equal(s[:, :, kept], b.record["spikes"][name]), name
                rem = sorted(set(range(s.shape[2])) - set(kept))
                assert not s[:, :, rem].any(), name  # the zeroed channels never spiked
        assert res.graph.num_params() < g.num_params() or not stats["removed"]
    assert pruned_groups >= 6


def _tiny_resnet():
    torch.manual_seed(0)
    return build_model("resnet20", input_size=8, widths=(4, 4, 8, 8), blocks=(1, 1, 1), neuron="if",
                       threshold=0.5).double()


def test_resnet20_pruned_at_half_validates_runs_and_shares_residual_channels():
    model = _tiny_resnet()
    g = from_module(model)
    res = StructuredPrunePass("l1", 0.5).run(g)
    p = res.graph
    p.validate()
    assert res.stats["channels"] == {"sn1": (4, 2), "layer1.0.sn1": (4, 2), "layer2.0.sn1": (8, 4),
                                     "layer2.0.sn2": (8, 4), "layer3.0.sn1": (8, 4), "layer3.0.sn2": (8, 4)}
    # one keep-set for everything summed into an Add: stem, block-1 conv2 and the block-2 zero-pad shortcut input
    assert p.nodes["conv1.0"].weight.shape[0] == p.nodes["layer1.0.conv2.0"].weight.shape[0] == 2
    assert p.nodes["layer2.0.shortcut.0"].weight.shape == (4, 2, 1, 1)
    assert p.nodes["fc.0"].weight.shape == (10, 4)
    x = torch.rand(3, 2, 3, 8, 8, dtype=torch.float64)
    out = simulate(p, x).output
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    assert res.stats["params_after"] < res.stats["params_before"] / 2


def test_resnet20_svs_scores_drive_pruning_with_protected_stage3_and_still_convert():
    model = _tiny_resnet()
    x = torch.rand(2, 4, 3, 8, 8, dtype=torch.float64)
    scores = svs_scores(model, x, T=2)
    g = from_module(model)
    res = StructuredPrunePass(scores, 0.5, protect=["layer3.0.sn2"]).run(g)
    assert "layer3.0.sn2" not in res.stats["channels"] and res.stats["protected"] == ["layer3.0.sn2"]
    group = scores["sn1"] + scores["layer1.0.sn2"]  # the residual group is ranked by the sum of its scores
    assert res.stats["kept"]["sn1"] == sorted(np.argsort(-group, kind="stable")[:2].tolist())
    p = res.graph
    p.nodes["input"].step = 1 / 16
    out = convert(p, "loihi")
    assert not out.refusals
    simulate(out.graph, torch.round(x * 16) / 16, mode="int")


def test_errors_and_refusals():
    g = hand_graph()
    for bad in (1.0, -0.1, 1.5, "half"):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            StructuredPrunePass("l1", bad)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        StructuredPrunePass("l1", {"n0": 1.0})
    with pytest.raises(ValueError, match="unknown ranking"):
        StructuredPrunePass("svd", 0.5)
    one = Graph.sequential([("in", Input(shape=(3,))), ("d", Dense(weight=np.ones((1, 3)))),
                            ("n", Neuron(threshold=1.0)), ("fc", Dense(weight=np.ones((2, 1)))),
                            ("ro", readout()), ("out", Output())])
    with pytest.raises(PassError, match="'n' .*lose all its channels"):
        StructuredPrunePass("l1", 0.5).run(one)
    with pytest.raises(PassError, match="'nope'"):
        StructuredPrunePass("l1", 0.5, protect=["nope"]).run(g)
    with pytest.raises(PassError, match="keyed by neuron layers; 'c0' is a Conv2d"):
        StructuredPrunePass({"c0": np.ones(8)}, 0.5).run(g)
    with pytest.raises(PassError, match="3 entries, the layer has 8"):
        StructuredPrunePass({"n0": np.ones(3)}, 0.5).run(g)
    res = StructuredPrunePass({"n0": np.ones(8)}, 0.5).run(g)
    assert any("n1" in r and "no scores" in r for r in res.refusals)
    res = StructuredPrunePass("l1", {"ro": 0.5}).run(g)
    assert res.refusals == ["layer 'ro' not pruned: 'ro' is the readout (its channels are the classes); "
                            "it feeds the graph Output"]
    # coupled layers (through a residual Add) given different ratios
    model = _tiny_resnet()
    rg = from_module(model)
    with pytest.raises(PassError, match="share channels"):
        StructuredPrunePass("l1", {"sn1": 0.5, "layer1.0.sn2": 0.25}).run(rg)
    # a grouped (non-depthwise) conv couples channels: refused, the rest is pruned
    rng = np.random.default_rng(0)
    gg = Graph.sequential([
        ("in", Input(shape=(2, 6, 6))), ("c0", Conv2d(weight=rng.normal(0, 1, (4, 2, 3, 3)))),
        ("n0", Neuron(threshold=1.0)), ("c1", Conv2d(weight=rng.normal(0, 1, (4, 2, 3, 3)), groups=2)),
        ("n1", Neuron(threshold=1.0)), ("flat", Flatten()), ("fc", Dense(weight=rng.normal(0, 1, (2, 16)))),
        ("ro", readout()), ("out", Output())])
    res = StructuredPrunePass("l1", 0.5).run(gg)
    assert res.stats["removed"] == {} and len(res.refusals) == 2
    assert all("grouped conv 'c1'" in r for r in res.refusals)
