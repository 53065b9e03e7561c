"""The main job on the shipped checkpoint: the acceptance numbers of the foundation issue."""
import json

from snn2hw.demo import SHIPPED, run_demo


def test_shipped_digits_model_converts_within_one_point(tmp_path):
    assert SHIPPED.is_file(), "examples/digits_lif.pt must be shipped"
    res = run_demo(tmp_path, log=lambda *_: None)
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
