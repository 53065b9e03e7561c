"""Lava export: the netx file, its refusals, and the real lava-nc run against the integer simulator.

Networks are exported with ``export_lava`` and run by ``exporters/lava_runner.py``
in ``.venv-lava`` (lava-nc 0.10.0, ``Loihi2SimCfg(select_tag='fixed_pt')``), all
samples of a network back to back in one Lava run (``LIFReset`` between
samples). Spikes (and u, v where recorded) of every layer must equal
``simulate(..., mode='int')`` exactly in the aligned frame.

Residual graphs (``Add``, branching) use the ``snn2hw-residual/1`` form (one layer
group per synapse + ``graph/json``): tiny ResNet-20 (option A and B shortcuts,
delayed convs as DelaySparse), random dense residual nets (DelayDense, identity
spike shortcut, graded input shortcut) and a conv net with a graded-input conv
shortcut; every spiking layer must fire.

Without ``.venv-lava`` the Lava tests FAIL (``make lava-venv``) unless
``SNN2HW_ALLOW_NO_LAVA=1`` is set, as in ``tests/lava``.
"""
from __future__ import annotations


import h5py
import numpy as np
import pytest
import torch

import snn2hw
from snn2hw.data import direct, load_dataset
from snn2hw.errors import Snn2hwError
from snn2hw.exporters import lava as lx
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.simulators.reference import simulate

STEP = 1.0 / 16



def _int_input(graph, x):
    step = graph.nodes[graph.inputs[0]].step
    return np.rint(np.asarray(x, dtype=np.float64) / step).astype(np.int64)


def _compare(graph, x, res, quantities=("spikes", "u", "v")):
    """Max abs difference per (quantity, layer) between Lava and the reference; also the spike total."""
    sim = simulate(graph, torch.as_tensor(x), mode="int", record=list(quantities))
    diffs, total = {}, 0
    for q in quantities:
        for name, ref in sim.record[q].items():
            got = res["record"][q][name]
            assert got.shape == tuple(ref.shape), (q, name, got.shape, tuple(ref.shape))
            diffs[(q, name)] = int(np.abs(got - ref.numpy()).max())
            if q == "spikes":
                total += int(ref.sum())
    assert res["output"].shape == tuple(sim.output.shape)
    diffs[("output", "")] = int(np.abs(res["output"] - sim.output.numpy()).max())
    assert res["output_kind"] == sim.output_kind
    return diffs, total, sim


# ----------------------------------------------------------------------------- the shipped digits model
@pytest.mark.lava
def test_digits_lava_equals_reference_spike_for_spike(lava_env, tmp_path):
    g = snn2hw.load("examples/digits_lif.pt")
    gi = snn2hw.convert(g, "loihi").graph
    ds = load_dataset("digits")
    n = 100
    x = direct(ds.x_test[:n], 4)
    m = lx.export_lava(gi, tmp_path)
    assert m["netx_compatible"] and m["netx"] == "netx-compatible"
    res = lx.run_lava(tmp_path, _int_input(gi, x), record=True)
    assert res["lava_steps"] == n * (4 + 3)      # one run, T + L steps per sample
    diffs, total, sim = _compare(gi, x, res)
    assert max(diffs.values()) == 0, diffs
    assert total > 1000
    y = np.asarray(ds.y_test[:n])
    acc_lava = float((res["output"].argmax(1) == y).mean())
    assert acc_lava == sim.accuracy(y)
    assert acc_lava > 0.9


# ----------------------------------------------------------------------------- random networks
def _neuron(rng, c, readout=False):
    if readout:
        return N.Neuron(model="if", readout=True, threshold=float("inf"))
    model = rng.choice(["if", "lif", "cuba"])
    return N.Neuron(model=model, beta=float(rng.choice([1.0, 0.9, 0.5])) if model != "if" else 1.0,
                    alpha=float(rng.uniform(0.3, 0.9)) if model == "cuba" else 0.0,
                    threshold=float(rng.uniform(0.5, 2.0)), compare=str(rng.choice(["ge", "gt"])))


def _w(rng, *shape, gain=1.0):
    fan_in = int(np.prod(shape[1:]))
    return rng.normal(0.3 / np.sqrt(fan_in), 1.6 / np.sqrt(fan_in), shape) * gain


def _dense_net(rng):
    sizes = [int(rng.integers(8, 30))] + [int(rng.integers(5, 25)) for _ in range(int(rng.integers(1, 3)))]
    items = [("x", N.Input(shape=(sizes[0],), step=STEP, bits=8))]
    for i in range(len(sizes) - 1):
        items.append((f"fc{i}", N.Dense(weight=_w(rng, sizes[i + 1], sizes[i], gain=3),
                                        bias=rng.normal(0.05, 0.2, sizes[i + 1]))))
        items.append((f"n{i}", _neuron(rng, sizes[i + 1])))
    readout = bool(rng.random() < 0.5)
    items.append(("fco", N.Dense(weight=_w(rng, 4, sizes[-1], gain=3), bias=rng.normal(0, 0.2, 4))))
    items.append(("no", _neuron(rng, 4, readout=readout)))
    items.append(("out", N.Output()))
    return Graph.sequential(items), (sizes[0],)


def _conv_net(rng, variant):
    c0, hw = int(rng.integers(1, 3)), int(rng.choice([8, 12]))
    c1, c2 = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    items = [("x", N.Input(shape=(c0, hw, hw), step=STEP, bits=8))]
    k1, s1, p1 = int(rng.choice([3, 5])), int(rng.choice([1, 2])), int(rng.choice([0, 1, 2]))
    if variant == 0:
        k1, s1, p1 = 3, 1, 1                     # keeps the map even for the pool below
    items.append(("conv0", N.Conv2d(weight=_w(rng, c1, c0, k1, k1, gain=3), bias=rng.normal(0.1, 0.2, c1),
                                    stride=s1, padding=p1)))
    items.append(("n0", _neuron(rng, c1)))
    h = (hw + 2 * p1 - k1) // s1 + 1
    if variant == 0 and h % 2 == 0:
        # sum pooling before a conv (folded into a k*K kernel), then pooling before the dense
        items.append(("pool0", N.SumPool2d(kernel_size=2)))
        h //= 2
        k2, s2, p2, d2 = int(rng.choice([1, 3])), 1, int(rng.choice([0, 1])), 1
    else:
        d2 = int(rng.choice([1, 2]))
        k2, s2, p2 = 3, int(rng.choice([1, 2])), d2 if h < 6 else int(rng.choice([0, d2]))
    gr = int(rng.choice([1, c1])) if c2 % c1 == 0 else 1
    items.append(("conv1", N.Conv2d(weight=_w(rng, c2, c1 // gr, k2, k2, gain=3), bias=rng.normal(0.1, 0.2, c2),
                                    stride=s2, padding=p2, dilation=d2, groups=gr)))
    items.append(("n1", _neuron(rng, c2)))
    h = (h + 2 * p2 - d2 * (k2 - 1) - 1) // s2 + 1
    if h >= 2 and rng.random() < 0.7:
        items.append(("pool1", N.SumPool2d(kernel_size=2)))
        h //= 2
    items.append(("flat", N.Flatten()))
    readout = bool(rng.random() < 0.5)
    items.append(("fc", N.Dense(weight=_w(rng, 5, c2 * h * h, gain=3), bias=rng.normal(0, 0.2, 5))))
    items.append(("no", _neuron(rng, 5, readout=readout)))
    items.append(("out", N.Output()))
    return Graph.sequential(items), (c0, hw, hw)


def _pooled_input_dense_net(rng):
    """(C, H, W) input -> overlapping sum pooling -> Flatten -> Dense: the pool's adjoint folds into the Dense."""
    shape = (2, 6, 6)
    items = [("x", N.Input(shape=shape, step=STEP, bits=8)),
             ("pool", N.SumPool2d(kernel_size=3, stride=2, padding=1)),
             ("flat", N.Flatten()),
             ("fc0", N.Dense(weight=_w(rng, 12, 18), bias=rng.normal(0, 0.2, 12))),
             ("n0", _neuron(rng, 12)),
             ("fc1", N.Dense(weight=_w(rng, 3, 12, gain=3))),
             ("n1", _neuron(rng, 3)),
             ("out", N.Output())]
    return Graph.sequential(items), shape


RANDOM_NETS = [("dense", s) for s in range(5)] + [("conv", s) for s in range(7)] + [("pooled_dense", 0)]


@pytest.mark.lava
@pytest.mark.parametrize("kind,seed", RANDOM_NETS)
def test_random_networks_lava_exact(lava_env, tmp_path, kind, seed):
    rng = np.random.default_rng(1000 + seed + (100 if kind == "conv" else 0))
    g, shape = (_dense_net(rng) if kind == "dense" else _conv_net(rng, seed % 2) if kind == "conv"
                else _pooled_input_dense_net(rng))
    gi = snn2hw.convert(g, "loihi").graph
    T, B = 6, 3
    x = np.round(rng.uniform(0, 1.2, (T, B) + shape) / STEP) * STEP
    m = lx.export_lava(gi, tmp_path, allow_netx_incompatible=True)
    res = lx.run_lava(tmp_path, _int_input(gi, x), record=True)
    assert res["lava_steps"] == B * (T + m["num_synapse_layers"])
    diffs, total, _ = _compare(gi, x, res)
    assert max(diffs.values()) == 0, diffs
    assert total > 0, "no spikes at all: the comparison would be vacuous"


# ----------------------------------------------------------------------------- netx file and refusals
def _small_dense(rng=None):
    rng = rng or np.random.default_rng(3)
    g = Graph.sequential([("x", N.Input(shape=(6,), step=STEP, bits=8)),
                          ("fc0", N.Dense(weight=_w(rng, 5, 6, gain=3), bias=rng.normal(0, 0.2, 5))),
                          ("n0", N.Neuron(model="lif", beta=0.5, threshold=1.0)),
                          ("fc1", N.Dense(weight=_w(rng, 3, 5, gain=3))),
                          ("n1", N.Neuron(model="if", threshold=1.0)),
                          ("out", N.Output())])
    return snn2hw.convert(g, "loihi").graph


def test_netx_file_layout(tmp_path):
    gi = snn2hw.convert(snn2hw.load("examples/digits_lif.pt"), "loihi").graph
    lx.export_lava(gi, tmp_path, allow_netx_incompatible=True)
    with h5py.File(tmp_path / "model.net", "r") as h:
        lay = h["layer"]
        types = [lay[str(i)]["type"][0].decode() for i in range(len(lay))]
        assert types == ["input", "conv", "conv", "flatten", "dense"]
        assert list(lay["0"]["shape"][()]) == [1, 8, 8]
        c0, c1, d = lay["1"], lay["2"], lay["4"]
        assert c0["weight"].shape == (16, 1, 3, 3)
        # pool0 (2x2) folded into conv1 (3x3, pad 1): kernel 6x6, stride 2, pad 2 on the 8x8 map
        assert c1["weight"].shape == (32, 16, 6, 6)
        assert list(c1["stride"][()]) == [2, 2] and list(c1["padding"][()]) == [2, 2]
        assert list(c1["shape"][()]) == [32, 4, 4]
        # pool1 folded into the dense: 32 x 4 x 4 inputs
        assert d["weight"].shape == (10, 512)
        sn0 = gi.nodes["sn0"]
        nr = c0["neuron"]
        assert nr["type"][0] == b"CUBA"
        assert int(nr["iDecay"][()]) == sn0.du + 1 and int(nr["vDecay"][()]) == sn0.dv
        assert int(nr["vThMant"][()]) == int(sn0.vth[0])
        assert c0["bias"].shape == (16,)
        # conv weight exponent folded: Lava's Conv ignores weight_exp
        np.testing.assert_array_equal(c0["weight"][()], gi.nodes["conv0.0"].weight_int << gi.nodes["conv0.0"].weight_exp)
        assert int(d["neuron"]["vThMant"][()]) >= 2 ** 17       # readout never fires
        assert h.attrs["snn2hw_netx_compatible"] == 1


def test_pool_into_conv_fold_is_exact():
    rng = np.random.default_rng(0)
    for k, K, s, p, d in [(2, 3, 1, 1, 1), (2, 3, 2, 0, 1), (3, 2, 1, 1, 1), (2, 3, 1, 2, 2), (2, 1, 1, 0, 1)]:
        x = torch.as_tensor(rng.integers(0, 3, (2, 3, 12, 12)), dtype=torch.float64)
        w = rng.integers(-5, 6, (4, 3, K, K))
        pooled = torch.nn.functional.avg_pool2d(x, k, k, divisor_override=1)
        ref = torch.nn.functional.conv2d(pooled, torch.as_tensor(w, dtype=torch.float64), None, s, p, d)
        w2, s2, p2 = lx._fold_pool_into_conv(w, (s, s), (p, p), (d, d), N.SumPool2d(kernel_size=k), (12, 12))
        got = torch.nn.functional.conv2d(x, torch.as_tensor(w2, dtype=torch.float64), None, s2, p2)
        assert torch.equal(got, ref), (k, K, s, p, d)


def test_netx_dense_verdict_rules():
    assert lx.netx_dense_verdict(np.array([[-256, 254], [3, -7]])) is None
    assert lx.netx_dense_verdict(np.array([[0, 255], [3, 7]])) is None
    assert lx.netx_dense_verdict(np.array([[-3, -100]])) is None
    assert "power-of-two" in lx.netx_dense_verdict(np.array([[-64, -3]]))
    assert lx.netx_dense_verdict(np.array([[0, -3]])) is not None
    assert "exceed 255" in lx.netx_dense_verdict(np.array([[0, 508]]))
    assert "[-256, 254]" in lx.netx_dense_verdict(np.array([[-300, 5]]))
    assert "all-zero" in lx.netx_dense_verdict(np.zeros((2, 2), int))


@pytest.mark.lava
def test_netx_incompatible_dense_still_exact_in_lava(lava_env, tmp_path):
    gi = _small_dense()
    fc1 = gi.nodes["fc1"]
    fc1.weight_int = -np.clip(np.abs(fc1.weight_int), 1, 63)
    fc1.weight_int[0, 0] = -64                               # all negative, min a power of two: netx truncates
    fc1.weight_exp = 0
    gi.nodes["fc0"].weight_exp = 2                           # (W << 2) has mixed signs within [-508, 508]
    m = lx.export_lava(gi, tmp_path, allow_netx_incompatible=True)
    assert not m["netx_compatible"]
    assert m["netx"].startswith("netx-incompatible: ")
    assert "'fc1'" in m["netx"] and "power-of-two" in m["netx"]
    with h5py.File(tmp_path / "model.net", "r") as h:
        assert h.attrs["snn2hw_netx_compatible"] == 0
    # our runner builds Dense exactly (2*W0, weight_exp k-1), whatever netx would do
    rng = np.random.default_rng(5)
    x = np.round(rng.uniform(0, 2, (8, 4, 6)) / STEP) * STEP
    res = lx.run_lava(tmp_path, _int_input(gi, x), record="spikes")
    diffs, total, _ = _compare(gi, x, res, quantities=("spikes",))
    assert max(diffs.values()) == 0, diffs


def test_refuses_per_channel_thresholds_naming_the_layer(tmp_path):
    gi = _small_dense()
    gi.nodes["n0"].vth = np.array([10, 11, 12, 10, 10])
    with pytest.raises(Snn2hwError, match=r"(?s)layer 'fc0' -> 'n0': per-channel thresholds"):
        lx.export_lava(gi, tmp_path)
    assert not (tmp_path / "model.net").exists()


def test_refuses_ge_compare_and_subtract_reset(tmp_path):
    gi = _small_dense()
    gi.nodes["n0"].int_compare = "ge"
    gi.nodes["n1"].int_reset = "subtract"
    with pytest.raises(Snn2hwError) as e:
        lx.export_lava(gi, tmp_path)
    msg = str(e.value)
    assert "layer 'fc0' -> 'n0': comparison 'ge'" in msg
    assert "layer 'fc1' -> 'n1': reset 'subtract'" in msg


def _tiny_residual():
    g = Graph()
    g.add("x", N.Input(shape=(4,), step=STEP, bits=8))
    g.add("a", N.Dense(weight=np.eye(4)), ["x"])
    g.add("n", N.Neuron(model="if", threshold=1.0), ["a"])
    g.add("b", N.Dense(weight=np.eye(4)), ["n"])
    g.add("c", N.Dense(weight=np.eye(4)), ["x"])
    g.add("add", N.Add(), ["b", "c"])
    g.add("n2", N.Neuron(model="if", threshold=1.0), ["add"])
    g.add("out", N.Output(), ["n2"])
    return snn2hw.convert(g, "loihi").graph


def test_residual_sidecar_format(tmp_path):
    """A residual graph is written in the snn2hw-residual/2 form: one group per synapse, a graph group."""
    import json
    gi = _tiny_residual()
    m = lx.export_lava(gi, tmp_path)
    assert m["residual"] and not m["netx_compatible"]
    assert m["netx"].startswith("netx-incompatible: residual/branching graph")
    assert [n["name"] for n in m["neurons"]] == ["n", "n2"]
    with h5py.File(tmp_path / "model.net", "r") as h:
        assert h.attrs["snn2hw_netx_compatible"] == 0
        assert h.attrs["snn2hw_format"] == lx.RESIDUAL_FORMAT
        desc = json.loads(h["graph"]["json"][0])
        assert desc["format"] == lx.RESIDUAL_FORMAT and desc["output"] == "n2" and desc["num_synapse_layers"] == 2
        n2 = desc["neurons"][1]
        assert n2["depth"] == 2
        # the input's shortcut 'c' skips one synapse stage: one extra step of delay
        assert sorted((e["synapse"], e["source"], e["delay"]) for e in n2["inputs"]) == [("b", "n", 0), ("c", "x", 1)]
        # netx's layer chain: the input, then a 'concat' that stops netx's loader (NotImplementedError)
        assert sorted(h["layer"].keys()) == ["0", "1"] and h["layer"]["1"]["type"][0] == b"concat"
        for e in n2["inputs"]:
            g = h[lx.RESIDUAL_SYNAPSES][e["layer"]]
            assert g["type"][0] == b"dense" and int(g["delay"][()]) == e["delay"]
            assert g["snn2hwSource"][0].decode() == e["source"]
            assert ("neuron" in g) == (e["layer"] == n2["layer"])     # the neuron's parameters: once


@pytest.mark.lava
def test_tiny_residual_graded_input_delay_exact(lava_env, tmp_path):
    gi = _tiny_residual()
    lx.export_lava(gi, tmp_path)
    rng = np.random.default_rng(2)
    x = np.round(rng.uniform(0, 2, (7, 3, 4)) / STEP) * STEP
    res = lx.run_lava(tmp_path, _int_input(gi, x), record=True)
    diffs, total, _ = _compare(gi, x, res)
    assert max(diffs.values()) == 0, diffs
    assert total > 0


def test_run_lava_without_venv(tmp_path, monkeypatch):
    gi = _small_dense()
    lx.export_lava(gi, tmp_path, allow_netx_incompatible=True)
    monkeypatch.setenv("SNN2HW_LAVA_PYTHON", str(tmp_path / "no_such_python"))
    with pytest.raises(Snn2hwError, match="make lava-venv"):
        lx.run_lava(tmp_path, np.zeros((2, 1, 6), np.int64))


@pytest.mark.lava
def test_run_lava_timeout_kills_the_group(lava_env, tmp_path):
    gi = _small_dense()
    lx.export_lava(gi, tmp_path, allow_netx_incompatible=True)
    with pytest.raises(Snn2hwError, match="Lava run timed out after 0.05 s"):
        lx.run_lava(tmp_path, np.zeros((2, 1, 6), np.int64), timeout=0.05)


# ----------------------------------------------------------------------------- residual graphs
RESNET_SEED = 6          # a draw where every layer of both variants fires (seeds 4, 6, 7 do)


def _randomize_bn(model, gen):
    """As tests/frontends/test_torch_fx.py: BatchNorm statistics that make the random network fire."""
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            c = m.num_features
            m.weight.data = torch.empty(c).uniform_(0.5, 2.0, generator=gen).double() * \
                torch.where(torch.rand(c, generator=gen) < 0.2, -1.0, 1.0).double()
            m.bias.data = torch.randn(c, generator=gen).double() * 0.3
            m.running_mean = torch.randn(c, generator=gen).double() * 0.3
            m.running_var = torch.empty(c).uniform_(0.5, 2.0, generator=gen).double()


def _tiny_resnet20(shortcut, seed=RESNET_SEED):
    from snn2hw.models import build_model
    with torch.random.fork_rng():                # the layers' initial weights come from torch's global RNG
        torch.manual_seed(seed)
        model = build_model("resnet20", input_size=8, widths=(4, 4, 8, 8), blocks=(1, 1, 1), shortcut=shortcut)
    gen = torch.Generator().manual_seed(seed)
    _randomize_bn(model, gen)
    g = snn2hw.from_module(model)
    g.nodes[g.inputs[0]].step = STEP
    return snn2hw.convert(g, "loihi").graph, tuple(model.input_shape), gen


def _assert_fires(sim):
    rates = sim.firing_rates()
    assert rates and min(rates.values()) > 0, rates       # every spiking layer fires: nothing is vacuous


@pytest.mark.lava
@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_resnet20_lava_exact(lava_env, tmp_path, shortcut):
    """Tiny ResNet-20 (identity shortcuts as depthwise 1x1 convs, downsampling 1x1 stride-2 convs): every
    shortcut skips one conv, so it gets one extra step (a DelaySparse unrolling of the conv)."""
    from snn2hw.ir.topology import depths
    gi, shape, gen = _tiny_resnet20(shortcut)
    m = lx.export_lava(gi, tmp_path)
    assert m["residual"] and not m["netx_compatible"]
    dep = depths(gi)
    assert m["num_synapse_layers"] == max(dep.values())
    delayed = {L["synapse"]: L["delay"] for L in m["layers"] if L["delay"]}
    assert delayed and set(delayed.values()) == {1}
    assert all(L["kind"] == "conv" for L in m["layers"] if L["synapse"] in delayed)
    assert any("identity" in s for s in delayed) and any("shortcut" in s for s in delayed)
    T, B = 8, 4
    x = np.round(torch.rand((T, B) + shape, generator=gen, dtype=torch.float64).numpy() * 3 / STEP) * STEP
    res = lx.run_lava(tmp_path, _int_input(gi, x), record=True)
    assert res["lava_steps"] == B * (T + m["num_synapse_layers"])
    diffs, total, sim = _compare(gi, x, res)
    assert max(diffs.values()) == 0, diffs
    _assert_fires(sim)


def test_resnet20_refuses_delayed_conv_that_could_wrap(tmp_path):
    gi, _, _ = _tiny_resnet20("A")
    sc = next(n for n in gi.nodes if n.startswith("layer2.0.shortcut"))
    gi.nodes[sc].weight_exp = 18
    with pytest.raises(Snn2hwError, match=f"layer '{sc}' -> 'layer2.0.sn2': delayed conv sums may reach"):
        lx.export_lava(gi, tmp_path)


def _residual_dense_net(rng, input_shortcut: bool):
    """x -> fc0 -> n0; n0 -> fca -> na -> fcb -> add; n0 -> fcc -> add; n0 -> add (identity spike shortcut);
    optionally x -> fcx -> add (graded input, delay 2); add -> n1 -> fco -> no."""
    n_in, h, k = int(rng.integers(6, 16)), int(rng.integers(5, 12)), int(rng.integers(4, 10))
    g = Graph()
    g.add("x", N.Input(shape=(n_in,), step=STEP, bits=8))
    g.add("fc0", N.Dense(weight=_w(rng, h, n_in, gain=3), bias=rng.normal(0.1, 0.2, h)), ["x"])
    g.add("n0", _neuron(rng, h), ["fc0"])
    g.add("fca", N.Dense(weight=_w(rng, k, h, gain=3), bias=rng.normal(0.1, 0.2, k)), ["n0"])
    g.add("na", _neuron(rng, k), ["fca"])
    g.add("fcb", N.Dense(weight=_w(rng, h, k, gain=2)), ["na"])
    g.add("fcc", N.Dense(weight=_w(rng, h, h, gain=2)), ["n0"])
    ins = ["fcb", "fcc", "n0"]
    if input_shortcut:
        g.add("fcx", N.Dense(weight=_w(rng, h, n_in, gain=1)), ["x"])
        ins.append("fcx")
    g.add("add", N.Add(), ins)
    g.add("n1", _neuron(rng, h), ["add"])
    readout = bool(rng.random() < 0.5)
    g.add("fco", N.Dense(weight=_w(rng, 4, h, gain=3), bias=rng.normal(0, 0.2, 4)), ["n1"])
    g.add("no", _neuron(rng, 4, readout=readout), ["fco"])
    g.add("out", N.Output(), ["no"])
    return g, (n_in,)


@pytest.mark.lava
@pytest.mark.parametrize("seed", range(4))
def test_random_residual_dense_lava_exact(lava_env, tmp_path, seed):
    """Two dense branches (depth 2 and 1) plus an identity spike shortcut into one Add (DelayDense for the
    short paths); odd seeds also add the graded input through a DelayDense of delay 2. Several samples back
    to back: the LIFReset offsets (depth + 1) must separate them exactly."""
    rng = np.random.default_rng(2000 + seed)
    g, shape = _residual_dense_net(rng, input_shortcut=bool(seed % 2))
    gi = snn2hw.convert(g, "loihi").graph
    m = lx.export_lava(gi, tmp_path)
    delays = {L["synapse"]: L["delay"] for L in m["layers"] if L["neuron"] == "n1"}
    ident = [s for s in delays if gi.nodes[s].metadata.get("identity")]
    assert len(ident) == 1 and delays[ident[0]] == 1
    assert delays["fcb"] == 0 and delays["fcc"] == 1 and delays.get("fcx", 2) == 2
    T, B = 6, 4
    x = np.round(rng.uniform(0, 1.2, (T, B) + shape) / STEP) * STEP
    res = lx.run_lava(tmp_path, _int_input(gi, x), record=True)
    diffs, total, sim = _compare(gi, x, res)
    assert max(diffs.values()) == 0, diffs
    _assert_fires(sim)


@pytest.mark.lava
def test_residual_conv_graded_input_shortcut_exact(lava_env, tmp_path):
    """A conv shortcut straight from the (graded) input, with a sum-pooled main path: the delayed conv is an
    exact DelaySparse of graded payloads; a dense branch reads the same input through pooling."""
    rng = np.random.default_rng(7)
    g = Graph()
    g.add("x", N.Input(shape=(2, 6, 6), step=STEP, bits=8))
    g.add("c0", N.Conv2d(weight=_w(rng, 3, 2, 3, 3, gain=3), bias=rng.normal(0.1, 0.2, 3), padding=1), ["x"])
    g.add("n0", _neuron(rng, 3), ["c0"])
    g.add("c1", N.Conv2d(weight=_w(rng, 4, 3, 3, 3, gain=3), stride=2, padding=1), ["n0"])
    g.add("cs", N.Conv2d(weight=_w(rng, 4, 2, 1, 1, gain=1), stride=2), ["x"])
    g.add("add", N.Add(), ["c1", "cs"])
    g.add("n1", _neuron(rng, 4), ["add"])
    g.add("flat", N.Flatten(), ["n1"])
    g.add("fc", N.Dense(weight=_w(rng, 5, 36, gain=3), bias=rng.normal(0, 0.2, 5)), ["flat"])
    g.add("pool", N.SumPool2d(kernel_size=2), ["x"])
    g.add("flatx", N.Flatten(), ["pool"])
    g.add("fx", N.Dense(weight=_w(rng, 5, 18, gain=1)), ["flatx"])
    g.add("add2", N.Add(), ["fc", "fx"])
    g.add("no", _neuron(rng, 5), ["add2"])
    g.add("out", N.Output(), ["no"])
    gi = snn2hw.convert(g, "loihi").graph
    m = lx.export_lava(gi, tmp_path)
    assert {L["synapse"]: L["delay"] for L in m["layers"]} == {"c0": 0, "c1": 0, "cs": 1, "fc": 0, "fx": 2}
    T, B = 5, 3
    x = np.round(rng.uniform(0, 1.5, (T, B, 2, 6, 6)) / STEP) * STEP
    res = lx.run_lava(tmp_path, _int_input(gi, x), record=True)
    diffs, total, sim = _compare(gi, x, res)
    assert max(diffs.values()) == 0, diffs
    _assert_fires(sim)
