"""The report's input_sparsity block: written for event / binary inputs (counts by hand), rendered in Markdown
and HTML with its units, absent for graded inputs."""
import pytest
import torch

from snn2hw.frontends.torch_fx import from_module
from snn2hw.models import build_model
from snn2hw.report.build import build_report
from snn2hw.report.render import to_html, to_markdown


def _graph(encoding):
    torch.manual_seed(0)
    model = build_model("dvs_conv", input_size=8, widths=(4, 4, 4), num_classes=3, neuron="if").eval()
    g = from_module(model)
    g.nodes[g.inputs[0]].step = 1.0
    g.metadata["encoding"] = encoding
    g.metadata["timesteps"] = 4
    return g, model


def test_event_inputs_get_the_block_with_hand_counts():
    g, model = _graph("events")
    T, B = 4, 3
    x = torch.zeros(T, B, 2, 8, 8, dtype=torch.float64)
    x[0, 0, 0, 1, 1] = x[1, 0, 0, 1, 1] = x[3, 0, 1, 7, 0] = 1   # sample 0: 3 events (2 ON, 1 OFF)
    x[2, 1, 1, 4, 4] = 1                                        # sample 1: 1 OFF event; sample 2: none
    rep = build_report(g, x, ["loihi"], labels=[0, 1, 2], data_name="hand", model=model)
    sp = rep["input_sparsity"]
    assert sp["binary"] is True and sp["timesteps"] == T and sp["samples"] == B
    assert sp["input_elements"] == 128 and sp["entries_per_sample"] == 4 * 128
    exact = pytest.approx  # the report rounds floats to 12 digits
    assert sp["events_per_sample"] == exact(4 / 3, rel=1e-11)
    assert sp["events_per_sample_min"] == 0 and sp["events_per_sample_max"] == 3
    assert sp["events_per_step"] == exact(4 / 3 / 4, rel=1e-11)
    assert sp["density"] == exact((4 / 3) / 512, rel=1e-11) and sp["sparsity"] == exact(1 - (4 / 3) / 512)
    assert sp["per_channel_events_per_sample"] == [exact(2 / 3, rel=1e-11)] * 2
    assert "entries = T x input elements" in sp["units"]
    # the input population's messages: one per event at most (an event with no synapse sends none)
    run = rep["runs"][0]
    row = next(r for r in run["layers"] if r["layer"] == "input")
    assert 0 < row["messages_out_per_sample"] <= sp["events_per_sample"] * len(run["cores"])
    md, html = to_markdown(rep), to_html(rep)
    for text in (md, html):
        assert "Input sparsity" in text and "events_per_sample" in text and "density" in text
        assert "entries = T x input elements" in text


def test_graded_inputs_have_no_block_and_binary_ones_do():
    g, model = _graph("direct")
    x = torch.full((2, 2, 2, 8, 8), 0.5, dtype=torch.float64)
    rep = build_report(g, x, ["loihi"], data_name="graded")
    assert "input_sparsity" not in rep and "Input sparsity" not in to_markdown(rep)
    xb = (torch.arange(2 * 2 * 128).reshape(2, 2, 2, 8, 8) % 4 == 0).to(torch.float64)  # rate-coded style 0/1
    rep = build_report(g, xb, ["loihi"], data_name="binary")
    assert rep["input_sparsity"]["density"] == 0.25 and rep["input_sparsity"]["events_per_sample"] == 64


def test_comparison_energy_is_na_for_a_profile_that_prices_no_event():
    """Speck publishes no per-event energy: the comparison table says n/a, not the 0 of its unpriced chip
    crossings; Loihi's total is shown in uJ."""
    from snn2hw.report.render import comparison_rows
    g, model = _graph("events")
    x = torch.zeros(2, 1, 2, 8, 8, dtype=torch.float64)
    x[0, 0, 0, 3, 3] = 1
    rep = build_report(g, x, ["loihi", "speck"], data_name="hand")
    rows = {r["profile"]: r for r in comparison_rows(rep)}
    assert rows["speck"]["energy per sample (uJ)"] == "n/a"
    loihi = rep["runs"][0]["energy_pj_per_sample"]["total"]
    assert loihi > 0 and rows["loihi"]["energy per sample (uJ)"] != "n/a"
