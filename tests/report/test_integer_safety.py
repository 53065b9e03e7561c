"""The report's integer_safety section, its rendering and the CLI warning, on a network crafted to wrap."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from snn2hw.data import load_dataset
from snn2hw.frontends.load import load
from snn2hw.ir import Dense, Graph, Input, Neuron, Output
from snn2hw.ir.io import save_graph
from snn2hw.passes import convert
from snn2hw.report.build import build_report
from snn2hw.report.integer_safety import warning_line
from snn2hw.report.render import to_html, to_markdown
from snn2hw.simulators.bounds import analyze
from snn2hw.simulators.reference import simulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from test_cli import run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def crafted():
    """One 8-bit input, two IF neurons without current decay (du = -1) that never fire (vth << 6 = 2^23).

    a = w x << 2: neuron 0 (w = 127) gets 8,290,560 per input of 255 in u, neuron 1 (w = 64) 4,177,920."""
    return Graph.sequential([
        ("in", Input(shape=(1,), step=1.0, bits=8)),
        ("fc", Dense(weight=np.ones((2, 1)), weight_int=np.array([[127], [64]]), weight_exp=2)),
        ("n", Neuron(model="if", du=-1, dv=0, vth=np.array([2**17]), bias_mant=np.array([0]))),
        ("out", Output())])


# Hand trace (u_sum = u + a64, wraps by -2^24 above 2^23 = 8,388,608; v saturates above 8,388,607):
# sample 0, x = 255, 255, 0, 0
#   n0: t0 u 8,290,560; t1 u_sum 16,581,120 -> u WRAP -196,096, v 8,094,464; t2, t3 v falls: no event
#   n1: t0 u 4,177,920; t1 u 8,355,840, v_sum 12,533,760 -> v SAT; t2, t3 v_sum > 2^23 - 1 -> v SAT twice more
# sample 1, x = 0, 0, 0, 255: n0 and n1 only reach u = v = 8,290,560 / 4,177,920: no event
# sample 2, x = 255 x 4
#   n0: t1 u WRAP (-196,096, v 8,094,464); t2 u 8,094,464, v_sum 16,188,928 -> v SAT; t3 u_sum 16,385,024 -> u WRAP
#   n1: t1 v SAT (u 8,355,840); t2 u_sum 12,533,760 -> u WRAP (-4,243,456); t3 nothing
# totals: u_wrap 4 events (n0: 3, n1: 1) at 2 neurons in 2 samples; v_saturate 5 events (n0: 1, n1: 4), 2 neurons,
# 2 samples; no a_wrap, input_wrap or sum_wrap.
X = torch.tensor([[255, 255, 0, 0], [0, 0, 0, 255], [255, 255, 255, 255]], dtype=torch.float64).T.reshape(4, 3, 1)


def _row(sec, node, quantity):
    return next(r for r in sec["quantities"] if r["node"] == node and r["quantity"] == quantity)


@pytest.fixture(scope="module")
def report():
    return build_report(crafted(), X, ["loihi"], batch_size=2)


def test_counts_equal_the_hand_trace(report):
    sec = report["runs"][0]["integer_safety"]
    u, v = _row(sec, "n", "u_wrap"), _row(sec, "n", "v_saturate")
    assert (u["events"], u["neurons"], u["samples"]) == (4, 2, 2)
    assert (v["events"], v["neurons"], v["samples"]) == (5, 2, 2)
    for node, q in (("fc", "sum_wrap"), ("n", "input_wrap"), ("n", "a_wrap")):
        r = _row(sec, node, q)
        assert (r["events"], r["neurons"], r["samples"]) == (0, 0, 0) and r["proven_safe"], (node, q)
    (layer,) = sec["layers"]
    assert layer["layer"] == "n" and not layer["proven_safe"]
    assert layer["may_wrap"] == ["n.u_wrap", "n.v_saturate"]
    assert (layer["events"], layer["neurons_affected"], layer["samples_affected"]) == (9, 2, 2)
    assert layer["by_kind"] == {"input_wrap": 0, "a_wrap": 0, "u_wrap": 4, "v_saturate": 5}
    # static verdict: both neurons may wrap u and saturate v; a << 6 is at most 127 * 255 * 4 * 64
    assert not sec["proven_safe"] and u["elements_at_risk"] == 2 and v["elements_at_risk"] == 2
    assert _row(sec, "n", "a_wrap")["hi"] == 127 * 255 * 4 * 64
    assert sec["onnx_int64"]["proven_safe"] and sec["events"] == 9 and sec["neurons_affected"] == 2


def test_reference_simulator_tallies_the_same_for_any_batch_size(report):
    sec = report["runs"][0]["integer_safety"]
    for bs in (1, 3):
        r = simulate(crafted(), X, mode="int", batch_size=bs)
        assert r.overflow["n"] == {"a_wrap": 0, "u_wrap": 4, "v_saturate": 5}
        for kind in ("u_wrap", "v_saturate", "a_wrap", "input_wrap"):
            row = _row(sec, "n", kind)
            assert r.wraps["n"][kind] == {k: row[k] for k in ("events", "neurons", "samples")}


def test_rendering_and_warning(report):
    md, html = to_markdown(report), to_html(report)
    assert "### Integer safety" in md and "may wrap (2 of 2)" in md and "proven bounded" in md
    assert "<h3>Integer safety</h3>" in html and "may wrap (2 of 2)" in html
    w = warning_line(report)
    assert w.startswith("warning:") and "\n" not in w
    assert "n u_wrap (4 events at 2 neurons)" in w and "n v_saturate (5 events at 2 neurons)" in w
    quiet = {"runs": [{"profile": "p", "integer_safety": {"quantities": [{**_row(
        report["runs"][0]["integer_safety"], "fc", "sum_wrap")}]}}]}
    assert warning_line(quiet) is None


def test_simulate_cli_warns_on_stderr(tmp_path):
    save_graph(crafted(), tmp_path / "g.s2h")
    two = dict(x=np.full((2, 1), 255.0), y=np.array([0, 1]))
    np.savez(tmp_path / "d.npz", **two, x_test=two["x"], y_test=two["y"])
    res = run("simulate", tmp_path / "g.s2h", "--data", tmp_path / "d.npz", "-T", "4", "--samples", "2",
              "--out", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("warning: the integer network")]
    assert len(lines) == 1, res.stderr
    # a constant 255 for 4 steps is sample 2 of the hand trace: per sample u_wrap 3, v_saturate 2
    assert "n u_wrap (6 events at 2 neurons)" in lines[0] and "n v_saturate (4 events at 2 neurons)" in lines[0]
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert _row(rep["runs"][0]["integer_safety"], "n", "u_wrap")["samples"] == 2


def test_digits_example_is_bounded_where_it_matters_and_quiet_on_its_data():
    g = load(REPO / "examples" / "digits_lif.pt")
    data = load_dataset("digits")
    g.nodes[g.inputs[0]].step = float(data.input_step)
    gi = convert(g, profile="loihi").graph
    res = analyze(gi, 4)
    # every synaptic sum, int32 input and a << 6 is proven inside its range, and the ONNX model is exact in int64
    for b in res.bounds:
        if b.kind in ("sum_wrap", "input_wrap", "a_wrap", "onnx_int64"):
            assert b.proven_safe, (b.node, b.kind, b.lo, b.hi)
    x = torch.as_tensor(np.repeat(data.x_test[None, :48].reshape(1, 48, *gi.nodes[gi.inputs[0]].shape), 4, 0))
    r = simulate(gi, x, mode="int")
    assert all(v["events"] == 0 for site in r.wraps.values() for v in site.values())
