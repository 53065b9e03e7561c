"""The integer reference simulator against the real Lava, bit for bit.

Random feed-forward dense LIF networks (2-3 layers, graded 8-bit input, every
sign pattern of weights, weight_exp 0..2, edge-case decays du in {-1, 0, 1000,
4095}, dv in {0, 100, 2048, 4096}, non-zero biases, u wrap and v saturation)
are built as snn2hw IR graphs with their integer fields set directly, run with
``simulate(..., mode='int')`` and with ``lava_dense_runner.py`` in Lava's
``Loihi2SimCfg(select_tag='fixed_pt')``, and u, v and spikes must be equal at
every step of every layer.

Time frames (LAVA.md §2): a layer at synaptic depth ``d`` first receives input
column 0 at Lava step ``1 + d`` (monitor row ``d``, 0-based), where its
``LIFReset`` (``reset_offset = d + 1``, ``reset_interval`` beyond the run)
clears whatever the biases did before; our aligned step ``k`` is Lava's row
``k + d``. The run lasts ``T + L`` steps so the deepest layer sees all input.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import depths
from snn2hw.simulators.reference import simulate

pytestmark = pytest.mark.lava

T = 50
SEED = 20240611
N_RANDOM = 12
DU_CHOICES = (-1, 0, 1000, 4095, None)     # None: uniform random in [0, 4095]
DV_CHOICES = (0, 100, 2048, 4096, None)    # None: uniform random in [0, 4096]


# --------------------------------------------------------------------------- network specs
def _layer(w, e, du, dv, vth, bias) -> dict:
    return {"w": np.asarray(w, dtype=np.int64), "e": int(e), "du": int(du), "dv": int(dv),
            "vth": int(vth), "bias": np.asarray(bias, dtype=np.int64)}


def build_graph(x_int: np.ndarray, layers: list) -> Graph:
    """IR graph with the integer fields set directly (Input.step = 1, 8 bits unsigned)."""
    items = [("x", N.Input(shape=(x_int.shape[1],), step=1.0, bits=8))]
    for i, L in enumerate(layers):
        w = L["w"]
        items.append((f"fc{i}", N.Dense(weight=w.astype(np.float64) / 64.0, weight_int=w, weight_exp=L["e"])))
        items.append((f"lif{i}", N.Neuron(model="cuba", beta=0.9, alpha=0.5, threshold=1.0, du=L["du"], dv=L["dv"],
                                          vth=L["vth"], bias_mant=L["bias"], bias_exp=6)))
    items.append(("out", N.Output()))
    g = Graph.sequential(items)
    g.validate()
    return g


def run_sim(graph: Graph, x: np.ndarray):
    """``x``: ``[T, n_in]`` float input; the simulator quantizes it to ``clip(round(x / 1.0), 0, 255)``."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float64))[:, None, :]    # [T, B=1, n_in]
    return simulate(graph, x, mode="int", record=["spikes", "u", "v"])


def float_input(rng: np.random.Generator, x_int: np.ndarray) -> np.ndarray:
    """A float input whose quantization (step 1, unsigned 8 bits) is ``x_int``: fractional noise below
    one half, and values beyond the range where ``x_int`` sits at 0 or 255 (clipped back)."""
    x = x_int + rng.uniform(-0.45, 0.45, x_int.shape)
    x = np.where((x_int == 255) & (rng.random(x_int.shape) < 0.5), 255 + rng.uniform(0.5, 400, x_int.shape), x)
    x = np.where((x_int == 0) & (rng.random(x_int.shape) < 0.5), -rng.uniform(0.5, 50, x_int.shape), x)
    return x


def lava_inputs(graph: Graph, x_int: np.ndarray, layers: list) -> dict:
    dep = depths(graph)
    net = {"x_int": x_int.astype(np.int64), "steps": T + len(layers), "reset_interval": 10 * (T + len(layers))}
    for i, L in enumerate(layers):
        net.update({f"w{i}": L["w"], f"weight_exp{i}": L["e"], f"du{i}": L["du"], f"dv{i}": L["dv"],
                    f"vth{i}": L["vth"], f"bias{i}": L["bias"], f"reset_offset{i}": dep[f"lif{i}"] + 1})
    return net


def _rate(res, i) -> float:
    return float(res.record["spikes"][f"lif{i}"].double().mean())


def random_network(rng: np.random.Generator, idx: int):
    """A random 2-3 layer network; vth is tuned per layer (with our simulator) so that it fires a fair amount."""
    n_layers = int(rng.integers(2, 4))
    n_in = int(rng.integers(4, 41))
    density = rng.uniform(0.2, 0.8)
    amax = int(rng.choice([15, 63, 255]))   # graded input amplitude
    x_int = np.where(rng.random((T, n_in)) < density, rng.integers(0, amax + 1, (T, n_in)), 0)
    sizes = [int(rng.integers(4, 41)) for _ in range(n_layers)]
    layers, prev = [], n_in
    for i, n in enumerate(sizes):
        kind = rng.choice(["mixed", "mixed", "positive", "sparse"])
        if kind == "positive":
            w = rng.integers(0, 128, (n, prev))
        else:
            w = rng.integers(-127, 128, (n, prev))
            if kind == "sparse":
                w = np.where(rng.random((n, prev)) < 0.3, w, 0)
        if idx == 0 and i == 0:
            w[0, 0], w[-1, -1] = 127, -127   # the extremes occur at least once
        du = DU_CHOICES[int(rng.integers(len(DU_CHOICES)))]
        du = int(rng.integers(0, 4096)) if du is None else du
        dv = DV_CHOICES[int(rng.integers(len(DV_CHOICES)))]
        dv = int(rng.integers(0, 4097)) if dv is None else dv
        layers.append(_layer(w, int(rng.integers(0, 3)), du, dv, 1, np.zeros(n)))
        prev = n
    # Tune thresholds layer by layer: target a firing rate of roughly 5-50 %.
    for i, L in enumerate(layers):
        inp = x_int if i == 0 else (rng.random((T, L["w"].shape[1])) < 0.3) * 1
        a_rms = float(np.sqrt(np.mean(((inp @ L["w"].T) << L["e"]).astype(np.float64) ** 2))) + 1.0
        L["vth"] = max(1, int(a_rms * rng.uniform(0.5, 3.0)))
        b = max(1, min(4000, L["vth"] // 8))
        L["bias"] = rng.integers(-b, b + 1, L["w"].shape[0])
        L["bias"][L["bias"] == 0] = 1
        for _ in range(12):
            rate = _rate(run_sim(build_graph(x_int, layers), x_int), i)
            if rate < 0.05 and L["vth"] > 1:
                L["vth"] = max(1, L["vth"] // 3)
            elif rate > 0.5 and L["vth"] < 2**17 - 1:
                L["vth"] = min(2**17 - 1, L["vth"] * 2 + 1)   # vth is nominally 17-bit
            else:
                break
    return x_int, layers


def overflow_networks(rng: np.random.Generator) -> list:
    """Networks that exercise the odd corners: u wrap, v saturation, int32 wrap of a << 6."""
    nets = []
    # u wrap: strong all-positive drive, no current decay (du = -1), graded input.
    n_in = 30
    x_int = rng.integers(100, 256, (T, n_in))
    w0 = rng.integers(60, 128, (12, n_in))
    w1 = rng.integers(-127, 128, (8, 12))
    nets.append(("u_wrap", x_int, [_layer(w0, 2, -1, 2048, 50_000, rng.integers(-50, 50, 12)),
                                   _layer(w1, 1, 0, 100, 300, rng.integers(1, 30, 8))]))
    # v saturation: rows 0-4 of layer 0 are all-negative with a negative bias and no voltage decay
    # (saturate at -(2^23 - 1)); rows 5-9 fire often and drive layer 1, whose threshold 2^17 << 6 = 2^23
    # is unreachable, to +(2^23 - 1). Layer 2 is all-negative (inhibitory sign mode in Lava's Dense).
    n_in = 20
    x_int = rng.integers(0, 256, (T, n_in))
    w0 = np.concatenate([-rng.integers(1, 128, (5, n_in)), rng.integers(0, 128, (5, n_in))])
    b0 = np.concatenate([-rng.integers(1, 4000, 5), rng.integers(1, 50, 5)])
    w2 = -rng.integers(0, 128, (6, 10))
    nets.append(("v_saturate", x_int, [_layer(w0, 0, 4095, 0, 10, b0),
                                       _layer(np.full((10, 10), 127), 2, -1, 0, 2**17, rng.integers(1, 100, 10)),
                                       _layer(w2, 0, 1000, 4096, 5, rng.integers(1, 20, 6))]))
    # a << 6 beyond int32: weight_exp 7 (outside the 0..2 of the random nets, on purpose).
    n_in = 40
    x_int = rng.integers(200, 256, (T, n_in))
    w0 = rng.integers(-127, 128, (8, n_in))
    w0[:4] = rng.integers(100, 128, (4, n_in))
    nets.append(("a_wrap", x_int, [_layer(w0, 7, 4095, 2048, 1000, rng.integers(-100, 100, 8)),
                                   _layer(rng.integers(-127, 128, (5, 8)), 0, 0, 0, 200, rng.integers(1, 50, 5))]))
    return nets


def hand_network():
    """One graded input of 1 at column 0 through w = 100 << 1 = 200 (LAVA.md §2), then w = 100 into layer 2."""
    x_int = np.zeros((T, 1), dtype=np.int64)
    x_int[0, 0] = 1
    return ("hand", x_int, [_layer([[100]], 1, 4095, 0, 100, [0]), _layer([[100]], 0, 0, 0, 10_000, [0])])


def all_networks() -> list:
    rng = np.random.default_rng(SEED)
    nets = []
    for idx in range(N_RANDOM):
        x_int, layers = random_network(rng, idx)
        # odd networks get a float input (rounding and clipping in the simulator's input quantization)
        x = float_input(rng, x_int) if idx % 2 else x_int.astype(np.float64)
        nets.append((f"random{idx}", x_int, layers, x))
    nets += [(n, x, layers, x.astype(np.float64)) for n, x, layers in overflow_networks(rng) + [hand_network()]]
    return nets


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def runs(run_lava_dense):
    """name -> (graph, layers, SimResult, lava result); all Lava runs in one interpreter."""
    nets = all_networks()
    graphs = [build_graph(x, layers) for _, x, layers, _ in nets]
    lava = run_lava_dense([lava_inputs(g, x, layers) for g, (_, x, layers, _) in zip(graphs, nets)])
    return {name: (g, layers, run_sim(g, xf), res) for g, (name, _, layers, xf), res in zip(graphs, nets, lava)}


NAMES = [f"random{i}" for i in range(N_RANDOM)] + ["u_wrap", "v_saturate", "a_wrap", "hand"]


# --------------------------------------------------------------------------- tests
def _aligned_lava(graph, res, i: int) -> dict:
    d = depths(graph)[f"lif{i}"]
    return {q: res[f"{k}{i}"][d:d + T] for q, k in (("spikes", "s"), ("u", "u"), ("v", "v"))}


def _mismatch_report(q, i, ours, theirs) -> str:
    bad = np.argwhere(ours != theirs)
    k, n = bad[0]
    return (f"layer {i} {q}: {len(bad)} mismatching entries, max |diff| {np.abs(ours - theirs).max()}; "
            f"first at aligned step {k}, neuron {n}: snn2hw {ours[k, n]} vs Lava {theirs[k, n]}")


@pytest.mark.parametrize("name", NAMES)
def test_simulator_matches_lava_exactly(runs, name):
    graph, layers, sim, res = runs[name]
    for i in range(len(layers)):
        theirs = _aligned_lava(graph, res, i)
        for q in ("u", "v", "spikes"):
            ours = sim.record[q][f"lif{i}"][:, 0, :].numpy().astype(np.int64)
            assert ours.shape == theirs[q].shape, (q, i, ours.shape, theirs[q].shape)
            assert np.array_equal(ours, theirs[q]), _mismatch_report(q, i, ours, theirs[q])


def test_networks_fire_and_cover_the_edge_cases(runs):
    """The comparison is only worth something if neurons fire and the overflow paths run."""
    rates = []
    for name in NAMES:
        if name.startswith("random"):
            graph, layers, sim, res = runs[name]
            rates += [_rate(sim, i) for i in range(len(layers))]
    rates = np.array(rates)
    assert np.mean(rates > 0.01) >= 0.8, f"too many silent layers: rates {np.round(rates, 3)}"
    assert runs["u_wrap"][2].overflow["lif0"]["u_wrap"] > 0
    sat = runs["v_saturate"][2]
    assert sat.overflow["lif0"]["v_saturate"] > 0 and sat.overflow["lif1"]["v_saturate"] > 0
    v0, v1 = sat.record["v"]["lif0"], sat.record["v"]["lif1"]
    assert int(v0.min()) == -(2**23 - 1) and int(v1.max()) == 2**23 - 1
    assert runs["a_wrap"][2].overflow["lif0"]["a_wrap"] > 0
    # every decay edge case of the brief occurs somewhere
    dus = {L["du"] for n in NAMES for L in runs[n][1]}
    dvs = {L["dv"] for n in NAMES for L in runs[n][1]}
    assert {-1, 0, 1000, 4095} <= dus and {0, 100, 2048, 4096} <= dvs, (dus, dvs)
    # all-positive, all-negative and mixed weight matrices
    signs = {("pos" if L["w"].min() >= 0 else "neg" if L["w"].max() <= 0 else "mixed")
             for n in NAMES for L in runs[n][1]}
    assert signs == {"pos", "neg", "mixed"}


def test_hand_computed_trace(runs):
    """LAVA.md §2: input 1 at column 0 through w = 200 gives layer-1 u = 12800 at Lava step 2 (row 1),
    which fires (12800 > 100 << 6) and gives layer-2 u = 6400 at step 3 (row 2), then decays by 1/4096."""
    graph, layers, sim, res = runs["hand"]
    assert res["u0"][:4, 0].tolist() == [0, 12800, 0, 0]
    assert res["s0"][:4, 0].tolist() == [0, 1, 0, 0]
    assert res["v0"][:4, 0].tolist() == [0, 0, 0, 0]
    assert res["u1"][:5, 0].tolist() == [0, 0, 6400, 6398, 6396]       # 6400 * 4095 // 4096 = 6398
    assert res["v1"][:5, 0].tolist() == [0, 0, 6400, 12798, 19194]
    assert res["s1"].sum() == 0
    assert sim.record["u"]["lif0"][:2, 0, 0].tolist() == [12800, 0]
    assert sim.record["u"]["lif1"][:3, 0, 0].tolist() == [6400, 6398, 6396]
