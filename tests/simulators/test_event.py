"""Event simulator: spikes equal the reference's bit for bit; event counts equal hand counts; costs and latency."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import snn2hw
from snn2hw.hw_profiles import load_profile
from snn2hw.hw_profiles.schema import Costs, Figure
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.simulators.costs import literature_sops
from snn2hw.simulators.event import sequential_placement, simulate_events
from snn2hw.simulators.placement import LayerPlacement, Placement
from tests.helpers.random_graphs import random_graph, random_input


def _assert_same(g, x, placement=None, batch_size=None):
    ref = snn2hw.simulate(g, x, mode="int", record=["spikes"])
    ev = simulate_events(g, x, placement, "loihi", batch_size=batch_size, record_spikes=True)
    assert torch.equal(ref.output, ev.output) and ref.output_kind == ev.output_kind
    assert set(ev.spikes) == set(ref.layer_spikes)
    for k in ev.spikes:
        assert torch.equal(ref.record["spikes"][k], ev.spikes[k]), k
        assert torch.equal(ref.layer_spikes[k], ev.layer_spikes[k]), k
    return ref, ev


# ----------------------------------------------------------------------------- equality with the reference
def test_digits_equal_reference_and_streams():
    from snn2hw.data import load_dataset
    from snn2hw.data.encoding import direct
    gi = snn2hw.convert(snn2hw.load("examples/digits_lif.pt"), "loihi").graph
    x = direct(load_dataset("digits").x_test[:120], 4).double()
    pl = sequential_placement(gi, neurons_per_core=256, profile="loihi")
    ref, ev = _assert_same(gi, x, pl, batch_size=50)
    assert sum(float(v.sum()) for v in ev.layer_spikes.values()) > 1000
    whole = simulate_events(gi, x, pl, "loihi")
    for k, v in whole.totals.items():
        assert v == pytest.approx(ev.totals[k], rel=1e-12), k
    assert whole.energy["total_pj_per_sample"] == pytest.approx(ev.energy["total_pj_per_sample"], rel=1e-12)
    assert whole.latency["latency_ns_per_input_step"] == pytest.approx(ev.latency["latency_ns_per_input_step"], rel=1e-12)
    # a synapse's events equal NeuroBench's effective ops where no pool lies before it; behind a pool every
    # spike of the pre-pool population travels (the pool is composed into the synapse), so there are more
    for s in ev.synapses.values():
        assert s["synops_per_sample"] >= s["effective_ops_per_sample"] - 1e-9
    assert ev.synapses["conv0.0"]["synops_per_sample"] == pytest.approx(ev.synapses["conv0.0"]["effective_ops_per_sample"])
    assert ev.synapses["conv1.0"]["synops_per_sample"] > 1.2 * ev.synapses["conv1.0"]["effective_ops_per_sample"]
    # every core's events add up to the chip totals; all units are in the key names
    assert sum(c["synops_per_sample"] for c in ev.cores.values()) == pytest.approx(ev.totals["synops_per_sample"])
    assert ev.energy["synapse_pj_per_sample"] == pytest.approx(35.5 * ev.totals["synops_per_sample"])
    assert ev.energy["static_pj_per_sample"] is None and ev.energy["total_excludes"] == ["static"]
    assert any("static_power_mw" in n for n in ev.notes)


@pytest.mark.parametrize("seed", range(8))
def test_random_conv_and_residual_equal_reference(seed):
    rng = np.random.default_rng(seed)
    g = random_graph(rng, ("conv", "residual")[seed % 2], step=1 / 16, resets=("zero",))
    gi = snn2hw.convert(g, "loihi").graph
    x = random_input(rng, gi, timesteps=5, batch=4)
    pl = sequential_placement(gi, neurons_per_core=int(rng.integers(5, 60)), mesh_width=3, cores_per_tile=2)
    _assert_same(gi, x, pl, batch_size=3)


def test_resnet20_model_equal_reference():
    from snn2hw.models import build_model
    g = snn2hw.from_module(build_model("resnet20", input_size=8, widths=(4, 4, 8, 8), blocks=(1, 1, 1)))
    for node in g.nodes.values():
        if isinstance(node, N.Input):
            node.step = 1 / 16
    gi = snn2hw.convert(g).graph
    x = torch.rand(4, 6, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2
    _, ev = _assert_same(gi, x, sequential_placement(gi, neurons_per_core=64))
    ident = [s for s in ev.synapses.values() if s["identity"]]
    assert ident and all(s["effective_ops_per_sample"] == s["input_nonzero_per_sample"] for s in ident)


# ----------------------------------------------------------------------------- hand-built integer graphs
def _inp(shape):
    return N.Input(shape=shape, step=1.0, bits=8)


def _relay(c):
    """IF neuron firing exactly when its input current is >= 1 (vth = 0, strict >)."""
    return N.Neuron(model="if", du=4095, dv=0, vth=np.zeros(c, dtype=np.int64), bias_mant=np.zeros(c, dtype=np.int64))


def _readout(c):
    return N.Neuron(model="if", readout=True, threshold=float("inf"), du=4095, dv=0, vth=np.full(c, 2**17),
                    bias_mant=np.zeros(c, dtype=np.int64))


def _dense(wi):
    wi = np.asarray(wi, dtype=np.int64)
    return N.Dense(weight=wi.astype(float), weight_int=wi)


def _conv(wi, **kw):
    wi = np.asarray(wi, dtype=np.int64)
    return N.Conv2d(weight=wi.astype(float), weight_int=wi, **kw)


def _x(arr):
    return torch.as_tensor(np.asarray(arr, dtype=np.float64))


def test_padded_strided_conv_counts_existing_pairs():
    # 1x4x4 input, 3x3 kernel, stride 2, padding 1 -> 2x2 output. Output (oy, ox) reads input rows
    # 2oy-1..2oy+1: (0,0) sees 2x2 real pixels, (0,1) 2x3, (1,0) 3x2, (1,1) 3x3 -> 25 pairs in all.
    w = np.ones((1, 1, 3, 3), dtype=np.int64)
    w[0, 0, 0, 0] = 0  # a pruned tap
    g = Graph.sequential([("in", _inp((1, 4, 4))), ("c", _conv(w, stride=2, padding=1)), ("r", _readout(1)),
                          ("out", N.Output())])
    x = np.zeros((2, 1, 1, 4, 4))
    # pixel (0,0): only output (0,0), centre tap -> 1; pixel (1,1): the 4 outputs via the 4 corner taps, tap (0,0)
    # pruned -> 3; pixel (3,3): output (1,1) via tap (2,2) -> 1.  Value 2 makes the input graded (MAC).
    x[:, 0, 0, 0, 0] = 1
    x[:, 0, 0, 1, 1] = 2
    x[:, 0, 0, 3, 3] = 1
    ev = simulate_events(g, _x(x), sequential_placement(g), "loihi")
    s = ev.synapses["c"]
    assert s["effective_ops_per_sample"] == 2 * 5
    assert ev.totals["synops_per_sample"] == 10 and ev.totals["synops_graded_per_sample"] == 10
    assert s["effective_macs_per_sample"] == 10 and s["effective_acs_per_sample"] == 0
    assert s["dense_ops_per_sample"] == 2 * 25
    assert s["flops_per_step"] == 2 * 2 * 1 * 9 * 1  # the literature count ignores the padding
    assert ev.layers["in"]["messages_out_per_sample"] == 2 * 3  # 3 nonzero pixels, one core


def _relay_graph(shape, tail):
    """Input -> identity synapse -> relay neurons (spikes == input > 0) -> tail."""
    c = shape[0]
    first = (_conv(np.ones((c, 1, 1, 1), dtype=np.int64), groups=c) if len(shape) == 3
             else _dense(np.eye(shape[0], dtype=np.int64)))
    n = int(np.prod(shape))
    return Graph.sequential([("in", _inp(shape)), ("id", first), ("a", _relay(c if len(shape) == 3 else n))] + tail
                            + [("out", N.Output())])


def test_pruned_dense_counts_surviving_fanout():
    w = np.array([[1, 0, 2, 0], [3, 0, 0, 0], [1, -1, 0, 0]])  # column fan-outs 3, 1, 1, 0
    g = _relay_graph((4,), [("fc", _dense(w)), ("r", _readout(3))])
    x = np.array([[[1, 1, 0, 1]], [[0, 1, 1, 1]], [[1, 0, 0, 0]]], dtype=float)  # T=3, B=1
    ev = simulate_events(g, _x(x), sequential_placement(g), "loihi")
    assert torch.equal(ev.layer_spikes["a"], torch.tensor([7.0]))
    assert ev.layers["r"]["synops_per_sample"] == (3 + 1 + 0) + (1 + 1 + 0) + 3
    assert ev.synapses["fc"]["effective_acs_per_sample"] == 9  # binary spikes: ACs
    assert ev.layers["a"]["synops_graded_per_sample"] == 7  # the relay's input layer is graded (first layer)
    # 4 neurons, spiking ones with a nonzero column reach the readout core: messages only for those
    assert ev.layers["a"]["messages_out_per_sample"] == 2 + 2 + 1


def test_sum_pool_composed_into_the_synapse_counts_every_spike():
    w = np.array([[1, 1, 1, 1], [1, 0, 1, 1]])  # pooled-input fan-outs 2, 1, 2, 2
    g = _relay_graph((1, 4, 4), [("pool", N.SumPool2d(kernel_size=2)), ("fl", N.Flatten()), ("fc", _dense(w)),
                                 ("r", _readout(2))])
    x = np.zeros((1, 1, 1, 4, 4))
    x[0, 0, 0, 0, 0] = x[0, 0, 0, 1, 1] = 1  # window 0 holds 2 spikes: each fans out over 2 synapses
    x[0, 0, 0, 1, 2] = 1  # window 1 holds 1 spike: 1 synapse
    ev = simulate_events(g, _x(x), sequential_placement(g), "loihi")
    assert ev.layers["r"]["synops_per_sample"] == 2 * 2 + 1
    assert ev.layers["r"].get("synops_graded_per_sample", 0) == 0  # spikes, not graded values
    assert ev.synapses["fc"]["effective_macs_per_sample"] == 3  # NeuroBench: a pooled count of 2 is a MAC


@pytest.mark.parametrize("seed", range(6))
def test_pool_then_synapse_equals_brute_force_composition(seed):
    """Synaptic events behind a non-overlapping sum pool = sum over spikes of the composed (pool o synapse)
    fan-out, the composed weight matrix built explicitly from unit vectors (padding and pruned taps included)."""
    rng = np.random.default_rng(seed)
    c, h = 2, 6
    k = int(rng.integers(2, 4))
    pool = N.SumPool2d(kernel_size=k)
    ph = h // k
    if seed % 2:
        w = rng.integers(-2, 3, size=(3, c, 3, 3))
        tail = [("pool", pool), ("syn", _conv(w, stride=1, padding=1)), ("r", _relay(3))]
    else:
        w = rng.integers(-2, 3, size=(3, c * ph * ph))
        tail = [("pool", pool), ("fl", N.Flatten()), ("syn", _dense(w)), ("r", _readout(3))]
    g = _relay_graph((c, h, h), tail)
    T = 2
    x = (rng.random((T, 3, c, h, h)) < 0.4).astype(float)
    ev = simulate_events(g, _x(x), sequential_placement(g), "loihi")
    g.infer_shapes()
    n_in = c * h * h
    cols = []
    for i in range(n_in):  # the composed linear map pool o synapse, column by column
        e = torch.zeros(1, c, h, h, dtype=torch.float64)
        e.view(-1)[i] = 1
        y = F.avg_pool2d(e, k, k, divisor_override=1)
        wt = torch.as_tensor(w, dtype=torch.float64)
        y = F.conv2d(y, wt, padding=1) if seed % 2 else F.linear(y.flatten(1), wt)
        cols.append(y.flatten())
    composed = torch.stack(cols, 1) != 0  # [targets, sources]
    spikes = torch.as_tensor(x.reshape(T * 3, n_in))
    expected = float((spikes @ composed.double().t()).sum()) / 3
    assert ev.synapses["syn"]["synops_per_sample"] == pytest.approx(expected)


def test_residual_add_counts_identity_synapse():
    c = 2
    g = Graph()
    g.add("in", _inp((c, 3, 3)))
    g.add("id", _conv(np.ones((c, 1, 1, 1), dtype=np.int64), groups=c), ["in"])
    g.add("a", _relay(c), ["id"])
    w = np.array([[[[1]], [[2]]], [[[0]], [[1]]]])  # 1x1 conv, input-channel fan-outs 1 and 2
    g.add("conv", _conv(w), ["a"])
    skip = _conv(np.ones((c, 1, 1, 1), dtype=np.int64), groups=c, metadata={"identity": True})
    g.add("skip", skip, ["a"])
    g.add("add", N.Add(), ["conv", "skip"])
    g.add("b", _relay(c), ["add"])
    g.add("out", N.Output(), ["b"])
    x = np.zeros((2, 1, c, 3, 3))
    x[0, 0, 0, 0, 0] = 1  # channel 0 spike: conv fan-out 1 + identity 1
    x[1, 0, 1, 2, 2] = 1  # channel 1 spike: conv fan-out 2 + identity 1
    x[1, 0, 0, 1, 1] = 1  # channel 0 spike: 1 + 1
    ev = simulate_events(g, _x(x), sequential_placement(g), "loihi")
    assert ev.layers["b"]["synops_per_sample"] == 2 + 3 + 2
    assert ev.synapses["skip"]["effective_ops_per_sample"] == 3 and ev.synapses["skip"]["identity"]
    # "a" sends one message per spike (all of "b" is on one core, reached by both synapses)
    assert ev.layers["a"]["messages_out_per_sample"] == 3


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_uniform_firing_without_padding_equals_rate_times_flops(kind):
    if kind == "dense":
        shape, tail = (6,), [("fc", _dense(np.arange(1, 25).reshape(4, 6))), ("r", _readout(4))]
    else:
        w = np.arange(1, 3 * 2 * 9 + 1).reshape(3, 2, 3, 3)
        tail = [("c2", _conv(w, stride=1, padding=0)), ("r", _readout(3))]
        shape = (2, 5, 5)
    g = _relay_graph(shape, tail)
    T = 4
    x = np.zeros((T, 2) + shape)
    x[[0, 2]] = 1  # every neuron fires at steps 0 and 2, nothing else
    ev = simulate_events(g, _x(x), sequential_placement(g, neurons_per_core=7), "loihi")
    name = tail[0][0]
    lit = literature_sops(ev)
    assert ev.firing_rates()["a"] == 0.5
    assert lit["layers"][name]["sops_per_sample"] == ev.synapses[name]["effective_ops_per_sample"]
    assert ev.layers["r"]["synops_per_sample"] == 0.5 * T * ev.synapses[name]["flops_per_step"]
    # with padding the literature count overstates the events (padded taps do not exist)
    if kind == "conv":
        g2 = _relay_graph(shape, [("c2", _conv(w, padding=1)), ("r", _readout(3))])
        ev2 = simulate_events(g2, _x(x), sequential_placement(g2), "loihi")
        assert ev2.synapses["c2"]["effective_ops_per_sample"] < literature_sops(ev2)["layers"]["c2"]["sops_per_sample"]


# ----------------------------------------------------------------------------- costs and latency by hand
def _hand_profile(**drop):
    f = lambda v: Figure(value=v, source="test")  # noqa: E731
    costs = dict(synop_energy_pj=f(1), synop_latency_ns=f(1), neuron_active_energy_pj=f(10),
                 neuron_active_latency_ns=f(10), neuron_inactive_energy_pj=f(100), neuron_inactive_latency_ns=f(100),
                 spike_out_energy_pj=f(1000), spike_out_latency_ns=f(1000), message_out_energy_pj=f(1e4),
                 message_out_latency_ns=f(1e4), message_in_energy_pj=f(1e5), message_in_latency_ns=f(1e5),
                 hop_ew_energy_pj=f(1e6), hop_ew_latency_ns=f(1e6), hop_ns_energy_pj=f(1e7),
                 hop_ns_latency_ns=f(1e7), barrier_latency_ns={1: f(5), 4: f(7)}, static_power_mw=f(2))
    for k in drop:
        costs.pop(k)
    return load_profile("loihi").model_copy(update={"costs": Costs(**costs)})


def _hand_case():
    # input (2) -> eye -> relay a (neuron 0 on core 0, neuron 1 on core 1) -> [1 1] -> readout r (core 2)
    g = Graph.sequential([("in", _inp((2,))), ("id", _dense(np.eye(2, dtype=np.int64))), ("a", _relay(2)),
                          ("fc", _dense([[1, 1]])), ("r", _readout(1)), ("out", N.Output())])
    pl = Placement(profile="hand", mesh_width=2, cores_per_tile=1, input_tile=0,
                   layers={"a": LayerPlacement("a", 2, [(0, 0, 1), (1, 1, 2)]), "r": LayerPlacement("r", 1, [(2, 0, 1)])})
    return g, pl, _x([[[1.0, 0.0]]])  # T = 1, B = 1


def test_energy_and_latency_by_hand():
    g, pl, x = _hand_case()
    ev = simulate_events(g, x, pl, _hand_profile())
    # the input sender sits on core 0 (input tile 0, room left); 3 tiles in use -> barrier key 1 (largest <= 3): 5 ns
    # device step 0: the input sends 1 message (1e4, core 0's neuron side) to core 0, received (1e5) + 1 synop (1)
    #         on core 0's message side; a (depth 1) and r (depth 2) are in pipeline fill: 3 accesses (100 each)
    # step 1: a0 updated (10), fires (1000), one message to core 2 (1e4): core 0's neuron side 11010; a1 and r
    #         accessed only (100); core 2 receives it (1e5) + 1 synop -> message side 100001
    # step 2: the readout updates (10); a0 (reset after firing) and a1 accessed in drain (100 each)
    # step = max(slowest neuron side, slowest message side) + barrier (SANA-FE's simple timing model)
    # (one sample: the run is S = T + D = 3 device steps; steps 0 of "a" and 0-1 of "r" are fill, run from zero state)
    steps = [max(1e4 + 100, 1e5 + 1) + 5, max(10 + 1000 + 1e4, 100, 1e5 + 1) + 5, max(100, 100, 10) + 5]
    assert ev.device_steps == 3
    assert ev.latency["run_device_steps"] == 3 and ev.latency["timing_model"] == "simple"
    np.testing.assert_allclose(ev.latency["step_latency_ns"], steps)
    assert ev.latency["latency_ns_per_device_step_max"] == max(steps)
    assert ev.latency["latency_ns_per_device_step"] == pytest.approx(sum(steps) / 3)
    assert ev.latency["latency_ns_per_input_step"] == pytest.approx(sum(steps) / 1)  # T = 1
    assert ev.latency["latency_ns_per_sample"] == pytest.approx(sum(steps))
    t = ev.totals
    assert (t["synops_per_sample"], t["spikes_in_per_sample"], t["messages_out_per_sample"]) == (2, 2, 2)
    assert (t["neuron_updates_active_per_sample"], t["neuron_updates_inactive_per_sample"]) == (2, 7)
    assert (t["hops_ew_per_sample"], t["hops_ns_per_sample"], t["spikes_out_per_sample"]) == (0, 1, 1)
    e = ev.energy
    assert e["synapse_pj_per_sample"] == 2
    assert e["neuron_pj_per_sample"] == 2 * 10 + 7 * 100
    assert e["spike_pj_per_sample"] == 1000
    assert e["network_pj_per_sample"] == 2 * 1e4 + 2 * 1e5 + 1e7
    assert e["static_pj_per_sample"] == pytest.approx(2 * sum(steps))  # mW x ns = pJ
    assert e["total_pj_per_sample"] == pytest.approx(2 + 720 + 1000 + 2e4 + 2e5 + 1e7 + 2 * sum(steps))
    assert e["total_excludes"] == []
    assert [ev.cores[c]["synops_per_sample"] for c in (0, 1, 2)] == [1, 0, 1]


def test_sparse_synapse_unit_prices_its_core():
    g, pl, x = _hand_case()
    f = lambda v: Figure(value=v, source="test")  # noqa: E731
    prof = _hand_profile()
    prof = prof.model_copy(update={"costs": prof.costs.model_copy(update={"synop_sparse_energy_pj": f(3),
                                                                          "synop_sparse_latency_ns": f(4)})})
    pl.synapse_unit = {0: "dense", 2: "sparse"}
    ev = simulate_events(g, x, pl, prof)
    assert ev.energy["synapse_pj_per_sample"] == 1 + 3  # core 0 dense (1 pJ), core 2 sparse (3 pJ)
    assert ev.latency["step_latency_ns"][1] == max(11010, 1e5 + 4) + 5


def test_missing_costs_are_none_with_a_note():
    g, pl, x = _hand_case()
    ev = simulate_events(g, x, pl, _hand_profile(synop_energy_pj=1, message_in_latency_ns=1))
    assert ev.energy["synapse_pj_per_sample"] is None and ev.energy["synapse_pj_per_step"] is None
    assert "synapse" in ev.energy["total_excludes"]
    assert ev.energy["neuron_pj_per_sample"] == 720
    assert ev.latency["latency_ns_per_input_step"] is None and ev.energy["static_pj_per_sample"] is None
    assert any("synop_energy_pj" in n for n in ev.notes) and any("message_in_latency_ns" in n for n in ev.notes)


# ----------------------------------------------------------------------------- the run on the chip: idle frames, resets
def _biased_relay_case():
    """input (1) -> [1] -> a: one IF neuron, vth 0, bias 1 (v = 1 > 0 fires on every step it runs) -> [1] ->
    readout r. a on core 0, r on core 1 (both tile 0 of a 1-core-per-tile mesh: a and r on tiles 0 and 1)."""
    a = N.Neuron(model="if", du=4095, dv=0, vth=np.zeros(1, dtype=np.int64), bias_mant=np.ones(1, dtype=np.int64),
                 bias_exp=0)
    g = Graph.sequential([("in", _inp((1,))), ("id", _dense([[1]])), ("a", a), ("fc", _dense([[1]])),
                          ("r", _readout(1)), ("out", N.Output())])
    pl = Placement(profile="hand", mesh_width=4, cores_per_tile=1, input_tile=0,
                   layers={"a": LayerPlacement("a", 1, [(0, 0, 1)]), "r": LayerPlacement("r", 1, [(1, 0, 1)])})
    return g, pl, _x(np.zeros((2, 1, 1)))  # T = 2, one sample, no input at all


def test_idle_frames_and_fill_run_like_any_other_step():
    g, pl, x = _biased_relay_case()
    ev = simulate_events(g, x, pl, _hand_profile())
    # S = T + D = 2 + 2 = 4 device steps. "a" (depth 1) runs its fill step 0 from zero state and its frames 0..2
    # at steps 1..3 (the run ends before its last idle frame): 4 steps, and its bias makes it fire on each
    assert ev.latency["run_device_steps"] == 4
    assert ev.layers["a"]["spikes_out_per_sample"] == 4 and ev.layers["a"]["messages_out_per_sample"] == 4
    assert ev.layer_spikes["a"].tolist() == [2.0]  # the execution model's T frames: as the reference
    # every spike meets r's one synapse: 4 synaptic events on core 1, r updated on each step it received one
    assert ev.cores[1]["synops_per_sample"] == 4 and ev.layers["r"]["synops_per_sample"] == 4
    # r (depth 2): fill steps 0-1 (virtual sample frames 2-3) then frames 0-1; it receives at steps 0-3 and
    # integrates at the next step: updated on steps 1, 2, 3 -> 3 updates, 1 access only
    assert ev.layers["r"]["neuron_updates_active_per_sample"] == 3
    assert ev.layers["r"]["neuron_updates_inactive_per_sample"] == 1
    ref = snn2hw.simulate(g, x, mode="int")
    assert torch.equal(ref.output, ev.output)  # the readout after frame T - 1 (2 spikes of a), not the idle frames


def test_reset_neuron_protocol_by_hand():
    g, pl, x = _biased_relay_case()
    x = torch.cat([x, x], 1)  # two samples
    ev = simulate_events(g, x, pl, _hand_profile(), reset="neuron")
    state = simulate_events(g, x, pl, _hand_profile(), reset="state")
    # one warm-up step, then 2 x S = 8 steps; the reset neurons (depths 1 and 2) sit on the input tile's free core
    assert ev.latency["run_device_steps"] == 9 and state.latency["run_device_steps"] == 8
    # "a": the virtual sample's frames 2-3 (steps 0-1; frame 3 is its reset frame: updated, silent), sample 0's
    # frames 0-3 (steps 2-5; frame 3 reset), sample 1's frames 0-2 (steps 6-8): it fires on 1 + 3 + 3 = 7 steps
    assert ev.layers["a"]["spikes_out_per_sample"] * 2 == 7
    # the state protocol: fill step 0, sample 0's frames 0-3 (steps 1-4), sample 1's frames 0-2 (steps 5-7): 8
    assert state.layers["a"]["spikes_out_per_sample"] * 2 == 8
    # reset spikes: depth 1 at steps tau0(n) - 1 = 0 and 4, depth 2 at 1 and 5: 4 messages (one core each),
    # 4 synaptic events (one neuron each) on top of a's 7 messages and events
    assert ev.totals["messages_out_per_sample"] * 2 == 7 + 4
    assert ev.totals["synops_per_sample"] * 2 == 7 + 4
    assert torch.equal(ev.output, state.output)  # the execution model is the same


def test_detailed_timing_model_by_hand():
    from snn2hw.simulators.timing import detailed_step_latency
    # core 0 (tile (0, 0)) sends to core 1 (tile (1, 0), one east hop of 4 ns); each message takes 10 ns at core 1
    kw = dict(n_steps=1, core_x=[0, 1], core_y=[0, 0], core_off=[0, 0], mesh=(2, 1, 1), hop_latency=(4.0, 7.0),
              barrier=100.0)
    # message 0 leaves at 5, arrives at 9, done at 19; message 1 leaves at 8: the route holds message 0 (2 links of
    # density 1/3), congestion 2/3 x 10 / 2 < 4 ns of hop, so it arrives at 12, waits for the core: done at 29
    out = detailed_step_latency([0, 0], [0, 0], [5.0, 3.0], [1, 1], [10.0, 10.0], buffer_size=16, **kw)
    assert out.tolist() == [29.0 + 100.0]
    # a link buffer of 0: message 1 finds 2/3 on its route, more than the route holds (0): it is blocked for
    # 2/3 x the mean delay in flight (10 ns) and leaves at 8 + 20/3, arrives 4 ns later, waits for the core (free
    # at 19): done at 29. Message 2 (gen 0) leaves after the stall; message 0 was received (9) by then, message 1
    # is in flight: 2/3 again, blocked 20/3 more: it leaves at 8 + 40/3, arrives 4 ns later, done at 29 + 10
    out = detailed_step_latency([0, 0, 0], [0, 0, 0], [5.0, 3.0, 0.0], [1, 1, 1], [10.0, 10.0, 10.0],
                                buffer_size=0, **kw)
    t2 = 8 + 2 * (2 / 3) * 10
    assert t2 + 4 < 29 and out[0] == pytest.approx(29 + 10 + 100.0)
    # with the core fast (1 ns per message) the stalls show: message 2 is done 1 ns after it arrives
    out = detailed_step_latency([0, 0, 0], [0, 0, 0], [5.0, 3.0, 0.0], [1, 1, 1], [1.0, 1.0, 1.0],
                                buffer_size=0, **kw)
    # 0: sent 5, arrives 9, done 10 (mean 1). 1: blocked 2/3 x 1 -> leaves 8.67, arrives 12.67, done 13.67.
    # 2: at 8.67 messages 0 (received at 9) and 1 are in flight: 4/3 on the route, blocked 4/3 -> leaves 10,
    # arrives 14, done 15
    assert out[0] == pytest.approx(8 + 2 / 3 + 4 / 3 + 4 + 1 + 100.0)
    # a placeholder (dst -1) only extends the step when the soma loop outlasts the messages
    out = detailed_step_latency([0, 0], [0, 0], [5.0, 50.0], [1, -1], [10.0, 0.0], buffer_size=16, **kw)
    assert out.tolist() == [55.0 + 100.0]


@pytest.mark.parametrize("seed", range(4))
def test_spatial_tile_placements_equal_reference(seed):
    """On the partitioner's (channel, y, x) tiles (neurons of a core not contiguous in C-major order), the event
    simulator's spikes still equal the reference simulator's, and every neuron is counted on its own core."""
    from snn2hw.simulators.mapping import MappingError, map_graph
    from tests.simulators.test_mapping import profile
    rng = np.random.default_rng(seed)
    for _ in range(20):   # a random net may pool between a synapse and its neuron, which no chip maps: draw again
        g = random_graph(rng, ("conv", "residual")[seed % 2], step=1 / 16, resets=("zero",), models=("if", "lif"))
        gi = snn2hw.convert(g, "loihi").graph
        try:
            res = map_graph(gi, profile(npc=int(rng.integers(6, 24)), mem=int(rng.integers(3000, 12000)),
                                        fan_in=60, fan_out=80), synapse_model=("expanded", "shared")[seed % 2])
            break
        except MappingError:
            continue
    x = random_input(rng, gi, timesteps=5, batch=4)
    split = [t for lp in res.placement.layers.values() for _, t in lp.tiles
             if len(lp.shape) == 3 and (t[3] - t[2], t[5] - t[4]) != tuple(lp.shape[1:])]
    assert split, "no tile cuts a map spatially: the test would not exercise non-contiguous cores"
    _, ev = _assert_same(gi, x, res.placement, batch_size=3)
    for name, lp in res.placement.layers.items():
        co = lp.core_of_neuron()
        for core, t in lp.tiles:
            assert (co.reshape(-1, *(lp.shape[1:] if len(lp.shape) == 3 else (1, 1)))
                    [t[0]:t[1], t[2]:t[3], t[4]:t[5]] == core).all()
