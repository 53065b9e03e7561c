"""Hand-computed traces of the integer execution model (LAVA.md §1)."""
import numpy as np
import pytest
import torch

from snn2hw.ir import Dense, Graph, Input, Neuron, Output
from snn2hw.simulators import fixed_point as fp
from snn2hw.simulators.reference import simulate


def step(u, v, a, du=4095, dv=0, bias=0, vth=10, **kw):
    c = {"a_wrap": 0, "u_wrap": 0, "v_saturate": 0}
    t = lambda x: torch.tensor([x], dtype=torch.int64)  # noqa: E731
    u2, v2, s = fp.cuba_step(t(u), t(v), t(a), du, dv, t(bias), t(vth << 6), counters=c, **kw)
    return int(u2), int(v2), int(s), c


def test_decay_truncates_toward_zero_not_floor():
    # u = -100 with du = 2048: factor (4095 - 2048) / 4096 = 0.49976; -49.97 truncates to -49 (floor would be -50)
    u, _, _, _ = step(-100, 0, 0, du=2048, vth=1000)
    assert u == -49
    u, _, _, _ = step(100, 0, 0, du=2048, vth=1000)
    assert u == 49
    # du = 0 still decays u by 1/4096 per step (ds_offset = 1): 4096 -> 4095
    u, _, _, _ = step(4096, 0, 0, du=0, vth=1000)
    assert u == 4095
    # v: dv = 1024, v = -1000 -> trunc0(-1000 * 3072 / 4096) = trunc0(-750) = -750; -1001 -> -750.75 -> -750
    _, v, _, _ = step(0, -1001, 0, dv=1024, vth=1000)
    assert v == -750


def test_threshold_is_strict():
    # v reaches exactly vth << 6 = 640: no spike; one more unit fires and resets v to 0 (u is kept)
    u, v, s, _ = step(0, 0, 10, vth=10)
    assert (u, v, s) == (640, 640, 0)
    u, v, s, _ = step(0, 1, 10, vth=10)
    assert (u, v, s) == (640, 0, 1)
    # the profile knob '>=' fires at equality
    _, v, s, _ = step(0, 0, 10, vth=10, compare="ge")
    assert (v, s) == (0, 1)


def test_u_wraps_once_and_v_saturates():
    # a << 6 = 2^23 + 64 > 2^23: u wraps by -2^24 once
    u, v, s, c = step(0, 0, 2**17 + 1, vth=2**17)
    assert u == 2**23 + 64 - 2**24
    assert c["u_wrap"] == 1
    # -2^23 becomes +2^23 (the conditional wrap is not a modulo)
    u, _, _, _ = step(0, 0, -(2**17), vth=2**17)
    assert u == 2**23
    # v saturates at 2^23 - 1
    _, v, _, c = step(0, 2**23 - 10, 1, vth=2**17)
    assert v == 2**23 - 1 and c["v_saturate"] == 1


def _one_neuron(weight_int, weight_exp, vth, dv=0, bias=0):
    g = Graph.sequential([
        ("in", Input(shape=(1,), step=1.0, bits=8)),
        ("fc", Dense(weight=np.array([[1.0]]), weight_int=np.array([[weight_int]]), weight_exp=weight_exp)),
        ("n", Neuron(model="if", du=4095, dv=dv, vth=np.array([vth]), bias_mant=np.array([bias]))),
        ("out", Output())])
    g.validate()
    return g


def test_graph_trace_if_neuron():
    # input 1 each step, W = 3 << 1 = 6 per step; v += 6*64 = 384; fires when v > 640: steps 2 and 4
    g = _one_neuron(3, 1, 10)
    r = simulate(g, torch.ones(4, 1, 1), mode="int", record=["spikes", "u", "v"])
    assert r.record["spikes"]["n"].flatten().tolist() == [0, 1, 0, 1]
    assert r.record["v"]["n"].flatten().tolist() == [384, 0, 384, 0]
    assert r.record["u"]["n"].flatten().tolist() == [384] * 4
    assert r.output.flatten().tolist() == [2.0]


def test_graph_trace_leak_and_bias():
    # dv = 2048 halves v each step (truncating); bias_mant 1 << 6 = 64 added to v every step
    g = _one_neuron(1, 0, 100, dv=2048, bias=1)
    r = simulate(g, torch.ones(3, 1, 1), mode="int", record=["v"])
    v, out = 0, []
    for _ in range(3):
        v = int(np.trunc(v * 2048 / 4096)) + 64 + 64
        out.append(v)
    assert r.record["v"]["n"].flatten().tolist() == out == [128, 192, 224]


def test_negative_weight_exponent_is_a_floor_shift_of_the_sum():
    # W = -3, e = -1: a = floor(-3 / 2) = -2 (Lava shifts the sum, flooring)
    g = _one_neuron(-3, -1, 10)
    r = simulate(g, torch.ones(1, 1, 1), mode="int", record=["u"])
    assert r.record["u"]["n"].flatten().tolist() == [-2 * 64]
