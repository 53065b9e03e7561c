"""The event simulator charges only the input events that exist (issue 17): sparse binary event frames in,
input messages and the synaptic events they drive equal a hand count / a brute-force count over the weights'
nonzero pattern, far below what dense inputs would cost."""
import numpy as np
import torch
import torch.nn.functional as F

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.report.input_sparsity import input_sparsity
from snn2hw.simulators.event import sequential_placement, simulate_events

C_IN, C_OUT, H = 2, 3, 6
T, B = 3, 2


def _weights() -> np.ndarray:
    """3x3 conv weights, pad 1; output channel 2 ignores the OFF channel and two taps of the ON channel are
    pruned, so fan-outs differ per input channel and position."""
    rng = np.random.default_rng(3)
    w = rng.integers(1, 4, size=(C_OUT, C_IN, 3, 3)).astype(np.int64)
    w[2, 1] = 0                # OFF events never reach output channel 2
    w[1, 0, 0, 0] = w[1, 0, 2, 2] = 0
    return w


def _graph(w) -> Graph:
    relay = N.Neuron(model="if", du=4095, dv=0, vth=np.full(C_OUT, 10**6, dtype=np.int64),
                     bias_mant=np.zeros(C_OUT, dtype=np.int64))  # never fires: only the input's events count
    fc_w = np.ones((2, C_OUT * H * H), dtype=np.int64)
    readout = N.Neuron(model="if", readout=True, threshold=float("inf"), du=4095, dv=0, vth=np.full(2, 2**17),
                       bias_mant=np.zeros(2, dtype=np.int64))
    return Graph.sequential([
        ("in", N.Input(shape=(C_IN, H, H), step=1.0, bits=8)),
        ("conv", N.Conv2d(weight=w.astype(float), weight_int=w, padding=1)),
        ("a", relay), ("fl", N.Flatten()),
        ("fc", N.Dense(weight=fc_w.astype(float), weight_int=fc_w)), ("r", readout), ("out", N.Output())])


#: (t, b, channel, y, x) of every input event: 5 in sample 0, 3 in sample 1
EVENTS = [(0, 0, 0, 0, 0), (0, 0, 1, 2, 3), (1, 0, 0, 5, 5), (2, 0, 1, 0, 4), (2, 0, 0, 3, 3),
          (0, 1, 0, 1, 1), (1, 1, 1, 5, 0), (2, 1, 0, 2, 2)]


def _input() -> torch.Tensor:
    x = torch.zeros(T, B, C_IN, H, H, dtype=torch.float64)
    for e in EVENTS:
        x[e] = 1.0
    return x


def _fanout(w) -> np.ndarray:
    """Brute force: per input element, the conv outputs its nonzero taps reach (padding respected), found by
    pushing a one-hot input through the conv with the weights' nonzero pattern; ``[C_IN, H, H, C_OUT*H*H]``."""
    mask = torch.as_tensor((w != 0).astype(np.float64))
    out = np.zeros((C_IN, H, H, C_OUT * H * H), dtype=bool)
    for c in range(C_IN):
        for y in range(H):
            for x in range(H):
                one = torch.zeros(1, C_IN, H, H, dtype=torch.float64)
                one[0, c, y, x] = 1
                out[c, y, x] = (F.conv2d(one, mask, padding=1) != 0).reshape(-1).numpy()
    return out


def test_input_events_charge_their_own_fanout_only():
    w = _weights()
    g = _graph(w)
    per_core = 40  # layer 'a' (108 neurons) on cores 0, 1, 2: events reach one to three of them
    pl = sequential_placement(g, neurons_per_core=per_core)
    ev = simulate_events(g, _input(), pl, "loihi")
    reach = _fanout(w)
    fan = reach.sum(-1)
    # hand check of the brute force: the ON event in the corner reaches the 2x2 outputs of the 3 channels (12),
    # less channel 1's pruned tap (0, 0), the one that joins input (0, 0) to output (1, 1): 11
    assert fan[0, 0, 0] == 11
    # an OFF event in the middle: channels 0 and 1 only, all 9 taps
    assert fan[1, 2, 3] == 2 * 9
    syn = sum(int(fan[c, y, x]) for _, _, c, y, x in EVENTS)
    cores = np.arange(C_OUT * H * H) // per_core
    msgs = sum(len(set(cores[reach[c, y, x]].tolist())) for _, _, c, y, x in EVENTS)
    assert ev.layers["a"]["synops_per_sample"] == syn / B              # the relay never fires: all from the input
    assert ev.layers["a"]["synops_graded_per_sample"] == syn / B
    assert ev.totals["synops_graded_per_sample"] == syn / B
    assert ev.layers["in"]["messages_out_per_sample"] == msgs / B
    assert ev.synapses["conv"]["input_nonzero_per_sample"] == len(EVENTS) / B
    assert ev.synapses["conv"]["effective_acs_per_sample"] == syn / B   # binary events: accumulates
    # what dense inputs would cost (every element sent at every step): the counts above are far below it
    dense_syn = T * int(fan.sum())
    assert syn < dense_syn / 10 and ev.layers["a"]["synops_per_sample"] < dense_syn / 10
    # the report's block counts the same events
    sp = input_sparsity(_input(), "events")
    assert sp["events_per_sample"] == len(EVENTS) / B == 4.0
    assert sp["events_per_sample_min"] == 3 and sp["events_per_sample_max"] == 5
    assert sp["entries_per_sample"] == T * C_IN * H * H
    assert sp["density"] == 4.0 / (T * C_IN * H * H)
    assert sp["per_channel_events_per_sample"] == [2.5, 1.5]


def test_twice_the_events_twice_the_input_cost():
    """Adding events adds exactly their fan-out; an empty input costs no input message or synaptic event."""
    w = _weights()
    g = _graph(w)
    pl = sequential_placement(g)
    x = _input()
    one = simulate_events(g, x, pl, "loihi")
    x2 = x.clone()
    x2[0, 0, 1, 4, 4] = 1.0  # one more OFF event in sample 0
    two = simulate_events(g, x2, pl, "loihi")
    fan = _fanout(w).sum(-1)
    assert (two.layers["a"]["synops_per_sample"] - one.layers["a"]["synops_per_sample"]) * B == fan[1, 4, 4]
    assert (two.layers["in"]["messages_out_per_sample"] - one.layers["in"]["messages_out_per_sample"]) * B == 1
    zero = simulate_events(g, torch.zeros_like(x), pl, "loihi")
    assert zero.layers.get("in", {}).get("messages_out_per_sample", 0) == 0
    assert zero.totals["synops_per_sample"] == 0
