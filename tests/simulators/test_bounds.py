"""Static overflow bounds (simulators/bounds.py): hand-computed cases and soundness against the simulator."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snn2hw.errors import GraphError
from snn2hw.ir import Conv2d, Dense, Graph, Input, Neuron, Output, SumPool2d
from snn2hw.ir import nodes as N
from snn2hw.passes import convert
from snn2hw.simulators import bounds as B
from snn2hw.simulators.event import sequential_placement, simulate_events
from snn2hw.simulators.reference import _Runner, simulate

from tests.helpers.random_graphs import random_graph


def dense_graph(w, e=0, du=2048, dv=0, vth=100, bias=0, bits=4, reset="zero", compare="gt"):
    w = np.asarray(w)
    return Graph.sequential([
        ("in", Input(shape=(w.shape[1],), step=1.0, bits=bits)),
        ("fc", Dense(weight=np.ones(w.shape), weight_int=w, weight_exp=e)),
        ("n", Neuron(model="if", du=du, dv=dv, vth=np.array([vth]), bias_mant=np.array([bias]),
                     int_reset=reset, int_compare=compare)),
        ("out", Output())])


# ----------------------------------------------------------------------------- hand-computed cases
def test_two_input_dense_layer_matches_hand_values():
    # inputs in [0, 15] (4-bit unsigned); W = [[3, -2], [1, 4]]
    # a0 in [3*0 - 2*15, 3*15 - 2*0] = [-30, 45], a1 in [0, 75]; a << 6: [-1920, 2880], [0, 4800]
    # u (du = 2048, factor 2047/4096, truncation toward zero), neuron 1 upper side:
    #   t1: 4800; t2: trunc(4800*2047/4096) = 2398 -> 7198; t3: trunc(7198*2047/4096) = 3597 -> 8397
    # neuron 0 lower side: t1: -1920; t2: trunc(-1920*2047/4096) = -959 -> -2879; t3: -1438 -> -3358
    # v (dv = 0, vth << 6 = 6400, reset to 0), upper: t1 4800; t2 4800 + 7198 = 11998 (fires, v <= 6400 after);
    #   t3 6400 + 8397 = 14797.  lower: -1920, -1920 - 2879 = -4799, -4799 - 3358 = -8157
    r = B.analyze(dense_graph([[3, -2], [1, 4]]), timesteps=3)
    s = r.of("fc", "sum_wrap")
    assert (s.lo, s.hi, s.limit_lo, s.limit_hi) == (-30, 45 + 30, -(2**31), 2**31 - 1)
    assert r.of("n", "a_wrap").lo == -1920 and r.of("n", "a_wrap").hi == 4800
    u, v = r.of("n", "u_wrap"), r.of("n", "v_saturate")
    assert (u.lo, u.hi) == (-3358, 8397) and (v.lo, v.hi) == (-8157, 14797)
    assert r.proven_safe and all(b.proven_safe for b in r.bounds)
    a_lo, a_hi = r.states["n"]["a"]
    assert a_lo.tolist() == [-30, 0] and a_hi.tolist() == [45, 75]
    assert r.states["n"]["v"][1].tolist() == [6400, 6400]  # post-step v never above the threshold


def test_ge_compare_and_subtract_reset_move_the_post_step_bound():
    # one input in [0, 1], w = 10: a << 6 = 640 each step, du = 4095 (u = a << 6), dv = 0, vth << 6 = 640
    # 'ge' fires at v >= 640, so a quiet v is <= 639; subtract reset leaves v - 640
    r = B.analyze(dense_graph([[10]], du=4095, vth=10, bits=1, reset="subtract", compare="ge"), timesteps=5)
    v_lo, v_hi = r.states["n"]["v"]
    assert v_hi.tolist() == [639] and v_lo.tolist() == [0]
    assert r.of("n", "v_saturate").hi == 639 + 640


def test_u_without_decay_grows_with_the_horizon_and_with_decay_it_converges():
    # du = -1 keeps all of u: after T steps of a << 6 = 64 * 255 * 127 * 4 the sum is T times that
    a64 = 64 * 255 * 127 * 4
    g = dense_graph([[127]], e=2, du=-1, dv=0, vth=2**17, bits=8)
    r1, r2 = B.analyze(g, 1), B.analyze(g, 2)
    assert r1.of("n", "u_wrap").hi == a64 and r1.of("n", "u_wrap").proven_safe
    assert r2.of("n", "u_wrap").hi == 2 * a64 and not r2.of("n", "u_wrap").proven_safe
    # du = 1023: bounded by a64 * 4096 / 1024 = 4 a64 for any horizon; the iteration reaches a fixed point
    g = dense_graph([[1]], du=1023, dv=4096, vth=2**17, bits=8)
    r = B.analyze(g, 100000)
    assert r.converged["n"] is not None and r.converged["n"] < 100000
    assert 255 * 64 < r.of("n", "u_wrap").hi <= 255 * 64 * 4096 // 1024


def test_conv_sum_pool_and_wrap24_bound():
    # a 1x1 conv of a 2x2 map of 8-bit inputs with w = 127 << 10 reaches 255 * 127 * 1024 = 33,160,320 > 2^23:
    # the 24-bit conv wrap is at risk on all 4 outputs; the following 2x2 sum pool (padding 1) sums 1 of them
    g = Graph.sequential([
        ("in", Input(shape=(1, 2, 2), step=1.0, bits=8)),
        ("conv", Conv2d(weight=np.ones((1, 1, 1, 1)), weight_int=np.array([[[[127]]]]), weight_exp=10)),
        ("pool", SumPool2d(kernel_size=2, stride=2, padding=1)),
        ("n", Neuron(model="if", du=4095, dv=0, vth=np.array([100]), bias_mant=np.array([0]))),
        ("out", Output())])
    r = B.analyze(g, 2)
    s = r.of("conv", "sum_wrap")
    assert s.hi == 255 * 127 * 1024 and s.limit_hi == 2**23 - 1 and s.at_risk == 4 and not s.proven_safe
    # after the wrap each output is anywhere in 24 bits; a pool window holds one output (corners of a 2x2 map)
    a = r.of("n", "input_wrap")
    assert (a.lo, a.hi) == (-(2**23), 2**23 - 1) and a.elements == 4


def test_refuses_float_graphs_and_bad_decays():
    g = dense_graph([[1]])
    g.nodes["fc"].weight_int = None
    with pytest.raises(GraphError, match="integer graph"):
        B.analyze(g, 3)
    with pytest.raises(GraphError, match="du = 5000"):
        B.analyze(dense_graph([[1]], du=5000), 3)


# ----------------------------------------------------------------------------- soundness (property)
def _observed(graph, x):
    """Run the reference integer simulator and capture every neuron's summed input a (after its wrap)."""
    seen = {}
    orig = _Runner._neuron_int

    def spy(self, name, node, a, res):
        seen[name] = a.clone()
        return orig(self, name, node, a, res)

    _Runner._neuron_int = spy
    try:
        r = simulate(graph, x, mode="int", record=("u", "v", "spikes"))
    finally:
        _Runner._neuron_int = orig
    return r, seen


def _within(obs: torch.Tensor, lo: np.ndarray, hi: np.ndarray) -> bool:
    o = obs.numpy()
    return bool(np.all(o >= lo) and np.all(o <= hi))


RATIOS = []  # (quantity, observed max |.| / static bound) over the property runs, for the record


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["mlp", "conv", "residual"]),
       boost=st.integers(0, 9))
def test_static_bounds_hold_on_random_graphs(seed, kind, boost):
    """Every observed a, u, v lies in its static interval, and no event happens where the analysis proves none.

    ``boost`` raises every weight exponent so that some graphs wrap and saturate (the bounds must stay sound
    through the wrapped ranges too)."""
    rng = np.random.default_rng(seed)
    g = convert(random_graph(rng, kind, resets=("zero",), step=1 / 16), profile="loihi").graph
    for n in g.nodes.values():
        if isinstance(n, N.SYNAPSES):
            n.weight_exp += boost
        if isinstance(n, N.Neuron) and not n.readout:  # the profile knobs of the integer model
            n.int_reset, n.int_compare = str(rng.choice(["zero", "subtract"])), str(rng.choice(["gt", "ge"]))
    T = 6
    (name,) = g.inputs
    shape = g.nodes[name].shape
    x = torch.as_tensor(rng.uniform(-2, 20, size=(T, 5) + shape))  # beyond the 8-bit range too: clipped
    r, seen = _observed(g, x)
    res = B.analyze(g, T)
    for layer, st_ in res.states.items():
        assert _within(seen[layer], *st_["a"]), layer
        assert _within(r.record["u"][layer], *st_["u"]), layer
        assert _within(r.record["v"][layer], *st_["v"]), layer
        for q, obs in (("a", seen[layer]), ("u", r.record["u"][layer]), ("v", r.record["v"][layer])):
            b = max(np.abs(st_[q][0]).max(), np.abs(st_[q][1]).max())
            RATIOS.append((q, float(obs.abs().max()) / max(float(b), 1.0)))
    for b in res.bounds:
        if b.kind != "onnx_int64" and b.proven_safe:
            assert r.wraps[b.node][b.kind]["events"] == 0, (b.node, b.kind)
    # the event simulator tallies exactly the same
    ev = simulate_events(g, x, placement=sequential_placement(g), profile="loihi", batch_size=2)
    assert ev.wraps == r.wraps


def test_soundness_cases_cover_wraps():
    """The property above is only worth something if some of its graphs really wrap; check a boosted one."""
    rng = np.random.default_rng(3)
    g = convert(random_graph(rng, "mlp", step=1 / 16), profile="loihi").graph
    for n in g.nodes.values():
        if isinstance(n, N.SYNAPSES):
            n.weight_exp += 9
    x = torch.as_tensor(rng.uniform(0, 16, size=(6, 5) + g.nodes[g.inputs[0]].shape))
    r, seen = _observed(g, x)
    res = B.analyze(g, 6)
    assert sum(k["events"] for site in r.wraps.values() for k in (v for kk, v in site.items() if kk != "any")) > 0
    for layer, st_ in res.states.items():
        assert _within(r.record["u"][layer], *st_["u"]) and _within(r.record["v"][layer], *st_["v"])
    assert not res.proven_safe
