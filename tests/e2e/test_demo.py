"""The main job on the shipped checkpoint: the acceptance numbers of the foundation issue."""
import json

import pytest

from snn2hw.demo import SHIPPED, run_demo


def test_shipped_digits_model_converts_within_one_point(tmp_path):
    assert SHIPPED.is_file(), "examples/digits_lif.pt must be shipped"
    res = run_demo(tmp_path, log=lambda *_: None, events=False)  # the event section: the test below
    assert res["test_samples"] == 360
    assert res["float_accuracy"] >= 0.95
    assert res["float_accuracy"] - res["int_accuracy"] <= 0.01
    assert res["overflow_events"] == {}
    layers = {r["layer"]: r for r in res["layers"]}
    assert set(layers) == {"sn0", "sn1"}
    for r in layers.values():
        assert 0.9 <= r["agreement"] <= 1.0 and r["float_rate"] > 0.01
    saved = json.loads((tmp_path / "demo_results.json").read_text())
    assert saved["int_accuracy"] == res["int_accuracy"]
    assert (tmp_path / "model.s2h").is_file() and "agreement" in (tmp_path / "demo_results.md").read_text()


def test_event_section_costs_the_shipped_shapes_dvs_model_on_loihi_and_speck(tmp_path):
    """The demo's event-data section on a few test samples: the shipped checkpoint fits both chips with no
    violation, its recorded accuracy is far above chance (1/12), and the report's input sparsity is the hand
    count of the event frames the section fed."""
    import numpy as np
    from snn2hw.data import load_dataset
    from snn2hw.demo import DVS_SHIPPED, run_event_demo
    assert DVS_SHIPPED.is_file() and DVS_SHIPPED.stat().st_size < 1_000_000
    n = 24
    res = run_event_demo(tmp_path, samples=n, log=lambda *_: None)
    assert res["test_samples"] == n and res["timesteps"] == 8
    assert res["trained_test_accuracy"] >= 0.5
    acc = res["accuracy"]
    for p in ("loihi", "speck"):
        r = res["runs"][p]
        assert r["fits"] is True and r["violations"] == 0, (p, r)
        assert r["input_messages_per_sample"] > 0
        # the gate's verdict is the 2-point rule on these samples (Speck's 8-bit biases clip: it fails there)
        assert r["fidelity_passed"] == (100 * (acc["float"] - acc[f"int ({p})"]) <= 2), (p, r["fidelity"])
    assert res["runs"]["loihi"]["fidelity_passed"] is True and res["runs"]["loihi"]["energy_pj_per_sample"] > 0
    assert res["runs"]["speck"]["energy_pj_per_sample"] is None  # no per-event energy published for Speck
    x = load_dataset("shapes_dvs").x_test[:n]  # [n, T, 2, 32, 32] binary frames
    events = np.count_nonzero(x.reshape(n, -1), axis=1)
    sp = res["input_sparsity"]
    assert sp["events_per_sample"] == pytest.approx(events.mean(), rel=1e-11)
    assert sp["events_per_sample_max"] == events.max() and sp["density"] == pytest.approx(
        events.mean() / (8 * 2048), rel=1e-11)
    for f in ("demo_events.json", "demo_events.md", "report/report.json", "report/report.html"):
        assert (tmp_path / f).is_file(), f
    assert "Input sparsity" in (tmp_path / "report" / "report.md").read_text()


def test_event_section_trains_its_model_when_asked(tmp_path):
    """--retrain's path: train_events writes an events-encoded checkpoint that the section then costs (a tiny
    shapes_dvs variant and one epoch, to keep it quick)."""
    import torch
    from snn2hw.demo import run_event_demo, train_events
    spec = "shapes_dvs:n_per_class=5"
    ckpt = train_events(tmp_path / "m.pt", epochs=1, data=spec, log=lambda *_: None)
    meta = torch.load(ckpt, weights_only=True)
    assert meta["arch"] == "dvs_conv" and meta["arch_kwargs"]["neuron"] == "if"
    assert meta["encoding"] == "events" and meta["timesteps"] == 8 and meta["dataset"] == spec
    res = run_event_demo(tmp_path / "ev", checkpoint=ckpt, samples=8, log=lambda *_: None)
    assert res["dataset"] == spec and res["test_samples"] == 8
    assert all(r["fits"] and r["violations"] == 0 for r in res["runs"].values())
