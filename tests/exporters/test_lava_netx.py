"""The Lava export in the real lava-dl 0.6.0 netx loader (``netx.hdf5.Network``), as Loihi 2 users load it.

Every network here is quantized for netx (``convert(..., netx=True)``, what ``snn2hw export --format lava``
does), exported WITHOUT ``allow_netx_incompatible`` (strict), loaded by ``exporters/lava_netx_runner.py``
with ``hdf5.Network(net_config, input_message_bits=8, reset_interval=T + L, reset_offset=1)`` and run in
``Loihi2SimCfg(select_tag='fixed_pt')``. Output and u, v, spikes of every layer at every step must equal
``simulate(mode='int')``. All networks share ONE Lava interpreter (``run_lava_many``): the shipped digits
model on 100 test samples, 12 random dense and conv chains (LIF / IF / CUBA), an AT-LIF and a CUBA MLP.

Without ``.venv-lava`` or without lava-dl's netx in it these tests FAIL (``make lava-venv``).
"""
from __future__ import annotations

import time

import h5py
import numpy as np
import pytest

import snn2hw
from snn2hw.data import direct, load_dataset
from snn2hw.errors import Snn2hwError
from snn2hw.exporters import lava as lx
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.passes.pipeline import convert

from test_lava import STEP, _compare, _conv_net, _dense_net, _int_input, _tiny_residual, _w

N_RANDOM = 12


def _mlp(rng, model: str):
    """A small MLP of AT-LIF (θ folded into the next layer) or CUBA neurons, readout last."""
    sizes = [16, 24, 12]
    items = [("x", N.Input(shape=(sizes[0],), step=STEP, bits=8))]
    for i in range(len(sizes) - 1):
        items.append((f"fc{i}", N.Dense(weight=_w(rng, sizes[i + 1], sizes[i], gain=3),
                                        bias=rng.normal(0.05, 0.2, sizes[i + 1]))))
        if model == "atlif":
            th = float(rng.uniform(0.6, 1.5))
            items.append((f"n{i}", N.Neuron(model="atlif", beta=1.0, threshold=th, output_scale=th)))
        else:
            items.append((f"n{i}", N.Neuron(model="cuba", alpha=float(rng.uniform(0.3, 0.8)), beta=0.9,
                                            threshold=float(rng.uniform(0.5, 1.5)))))
    items.append(("fco", N.Dense(weight=_w(rng, 4, sizes[-1], gain=3))))
    items.append(("no", N.Neuron(model="if", readout=True, threshold=float("inf"))))
    items.append(("out", N.Output()))
    return Graph.sequential(items), (sizes[0],)


def _cases():
    """[(name, integer graph, float input [T, B, ...])]."""
    cases = []
    g = snn2hw.load("examples/digits_lif.pt")
    ds = load_dataset("digits")
    gi = convert(g, "loihi", netx=True).graph
    cases.append(("digits", gi, direct(ds.x_test[:100], 4)))
    for k in range(N_RANDOM):
        rng = np.random.default_rng(5000 + k)
        g, shape = _dense_net(rng) if k % 2 == 0 else _conv_net(rng, (k // 2) % 2)
        T, B = 6, 3
        x = np.round(rng.uniform(0, 1.2, (T, B) + shape) / STEP) * STEP
        cases.append((f"random_{'dense' if k % 2 == 0 else 'conv'}_{k}", convert(g, "loihi", netx=True).graph, x))
    for model in ("atlif", "cuba"):
        rng = np.random.default_rng(77 if model == "atlif" else 78)
        g, shape = _mlp(rng, model)
        x = np.round(rng.uniform(0, 1.5, (8, 4) + shape) / STEP) * STEP
        cases.append((f"mlp_{model}", convert(g, "loihi", netx=True).graph, x))
    return cases


@pytest.fixture(scope="module")
def netx_runs(lava_env, tmp_path_factory):
    """Every case exported strictly and run through netx in one Lava interpreter (u, v, spikes recorded)."""
    cases, jobs, manifests = _cases(), [], {}
    for name, gi, x in cases:
        d = tmp_path_factory.mktemp(f"netx_{name}")
        manifests[name] = lx.export_lava(gi, d)           # strict: raises if netx would mis-run it
        jobs.append((d, _int_input(gi, x)))
    results = lx.run_lava_many(jobs, record=True, runtime="netx", timeout=900)
    return {name: (gi, x, manifests[name], res) for (name, gi, x), res in zip(cases, results)}


@pytest.mark.lava
def test_netx_cases_cover_models_and_layers(netx_runs):
    kinds = {n: {L["kind"] for L in m["layers"]} for n, (_, _, m, _) in netx_runs.items()}
    assert sum(1 for n in kinds if n.startswith("random_")) >= 10
    assert any("conv" in k for k in kinds.values()) and any(k == {"dense"} for k in kinds.values())
    models = {nd.model for gi, _, _, _ in netx_runs.values() for nd in gi.nodes.values() if isinstance(nd, N.Neuron)}
    assert {"lif", "cuba", "if"} <= models
    for n, (_, _, m, _) in netx_runs.items():
        assert m["netx_compatible"] and m["netx_loading"]["input_message_bits"] == 8, n


@pytest.mark.lava
@pytest.mark.parametrize("name", ["digits"] + [f"random_{'dense' if k % 2 == 0 else 'conv'}_{k}"
                                               for k in range(N_RANDOM)] + ["mlp_atlif", "mlp_cuba"])
def test_netx_exact(netx_runs, name):
    gi, x, m, res = netx_runs[name]
    assert res["runtime"] == "netx"
    diffs, total, sim = _compare(gi, x, res)
    assert max(diffs.values()) == 0, diffs
    assert total > 0, "no spikes at all: the comparison would be vacuous"
    if name == "digits":
        y = np.asarray(load_dataset("digits").y_test[:100])
        assert float((res["output"].argmax(1) == y).mean()) == sim.accuracy(y) > 0.9


def test_netx_quantization_accuracy_on_digits():
    """Capping the exponents for netx costs at most 1 point of integer accuracy on digits."""
    from snn2hw.simulators.reference import simulate
    ds = load_dataset("digits")
    g = snn2hw.load("examples/digits_lif.pt")
    x, y = direct(ds.x_test, 4), np.asarray(ds.y_test)
    acc = {netx: simulate(convert(g, "loihi", netx=netx).graph, x, mode="int").accuracy(y) for netx in (False, True)}
    assert acc[True] >= acc[False] - 0.01, acc


def test_netx_cap_makes_large_exponents_exact_and_strict_export_refuses(tmp_path):
    """Without the netx cap, these nets get W_int << e beyond netx's range: export refuses them, naming the
    layer and the numbers, writes nothing; with the cap the same nets export strictly."""
    rng = np.random.default_rng(1005)
    g, _ = _dense_net(rng)
    gi = convert(g, "loihi").graph
    with pytest.raises(Snn2hwError) as e:
        lx.export_lava(gi, tmp_path / "a")
    msg = str(e.value)
    assert "netx would load model.net and run it wrongly" in msg and "'fc0'" in msg and "[-256, 254]" in msg
    assert "--allow-netx-incompatible" in msg
    assert not (tmp_path / "a").exists()
    m = lx.export_lava(gi, tmp_path / "b", allow_netx_incompatible=True)
    assert not m["netx_compatible"] and any("only `snn2hw run-lava --runtime ours`" in n for n in m["notes"])
    gn = convert(g, "loihi", netx=True).graph
    assert lx.export_lava(gn, tmp_path / "c")["netx_compatible"]


@pytest.mark.lava
def test_residual_file_fails_fast_in_netx(lava_env, tmp_path):
    """netx must refuse a residual export at load time with a message, not run it as a chain."""
    gi = _tiny_residual()
    m = lx.export_lava(gi, tmp_path)                      # residual graphs are written (strict or not)
    assert m["residual"] and m["netx_loading"] is None
    with h5py.File(tmp_path / "model.net", "r") as h:
        assert [h["layer"][k]["type"][0] for k in sorted(h["layer"].keys())] == [b"input", b"concat"]
    x = np.zeros((3, 1, 4), dtype=np.int64)
    t0 = time.perf_counter()
    with pytest.raises(Snn2hwError, match="concat is not implemented.*runtime ours"):
        lx.run_lava(tmp_path, x, runtime="netx", timeout=120)
    assert time.perf_counter() - t0 < 60
