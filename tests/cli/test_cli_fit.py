"""snn2hw fit (issue 16, point 4): a digits model widened until it violates Speck's kernel memory is fitted by the
smallest structured pruning, the written checkpoint maps on speck with no violation (a separate 'snn2hw map');
the shipped model on loihi gets its head-room; bad input exits 2 with nothing written."""
import json
import subprocess
import sys

import click
import pytest
import torch

from snn2hw.cli import cli
from snn2hw.errors import Snn2hwError

SHIPPED = "examples/digits_lif.pt"


def _run(*args):
    cli.main(args=list(args), standalone_mode=False)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """digits_conv widened to 32/256 channels (seeded random weights: no training needed to violate a memory).
    Speck's sn1 kernel needs C_in * 2^ceil(log2 9) * 2^ceil(log2 C_out) = 32 * 16 * 256 = 131,072 entries; the
    largest kernel memory is 65,536 (cores 5, 6)."""
    from snn2hw.data import load_dataset
    from snn2hw.frontends.checkpoint import save_checkpoint
    from snn2hw.models import build_model
    torch.manual_seed(0)
    m = build_model("digits_conv", widths=[32, 256], num_classes=10)
    p = tmp_path_factory.mktemp("fit") / "wide.pt"
    save_checkpoint(p, m, input_step=load_dataset("digits").input_step, timesteps=4, encoding="direct",
                    dataset="digits")
    return p


@pytest.fixture(scope="module")
def fitted(wide, tmp_path_factory):
    d = tmp_path_factory.mktemp("fitted")
    out, js = d / "fitted.pt", d / "fit.json"
    _run("fit", str(wide), "--profile", "speck", "--data", "digits", "--epochs", "1", "--samples", "60",
         "--out", str(out), "--json", str(js))
    return out, json.loads(js.read_text()), d


def _map_json(path, profile, d):
    js = d / f"map-{profile}.json"
    _run("map", str(path), "--profile", profile, "--data", "digits", "--json", str(js))
    return json.loads(js.read_text())


def test_widened_model_violates_speck_and_fit_finds_the_smallest_pruning(wide, fitted):
    out, doc, d = fitted
    before = _map_json(wide, "speck", d)  # the independent reference: 'snn2hw map' on the original
    assert not before["fits"]
    assert [(v["layer"], v["rule"], v["needed"], v["available"]) for v in before["violations"]] == \
        [("sn1", "check_core_memory", 131072, 65536)]
    assert doc["original"]["fits"] is False and doc["fits_already"] is False
    # hand computation: 32 * 16 * 2^ceil(log2 k) <= 65,536  <=>  k <= 128; 129 rounds up to 256 and violates
    assert doc["change"]["keep"] == {"sn1": 128} and doc["change"]["channels_before"] == {"sn1": 256}
    probes = {c["keep"]["sn1"]: c["fits"] for c in doc["candidates"]}
    assert probes[128] is True and probes[129] is False  # the change is minimal: one more channel violates
    # a separate mapping of the written checkpoint: fits speck, no violation, 128 channels in sn1
    after = _map_json(out, "speck", d)
    assert after["fits"] and after["violations"] == []
    assert next(lay for lay in after["layers"] if lay["layer"] == "sn1")["neurons"] == 128 * 4 * 4
    assert doc["fitted"]["fits"] and doc["fitted"]["cores"] == after["cores"]
    # the written file loads strictly for simulate/export, its sn1 conv has 128 filters
    from snn2hw.frontends.checkpoint import load_checkpoint
    ck = load_checkpoint(out)
    assert [tuple(m.weight.shape[:2]) for m in ck.model.modules() if isinstance(m, torch.nn.Conv2d)] == \
        [(32, 1), (128, 32)]
    assert ck.info["compression"]["method"] == "fit"


def test_fitted_accuracy_matches_an_independent_measurement(wide, fitted):
    out, doc, d = fitted
    m = doc["metrics"]
    assert m["fitted"]["samples"] == 60 and 0.0 <= m["fitted"]["int_accuracy"] <= 1.0
    assert m["int_accuracy_drop_points"] == pytest.approx(
        100 * (m["original"]["int_accuracy"] - m["fitted"]["int_accuracy"]), abs=1e-3)
    # the event simulator on the same 60 test samples (compress.measure: its own convert + simulate_events)
    from snn2hw.cli_compress import _load
    from snn2hw.compress.pipeline import measure
    ck, data = _load(out, "digits")
    ref = measure(ck.model, data, T=4, samples=60, profile="speck")
    assert m["fitted"]["int_accuracy"] == pytest.approx(ref["int_accuracy"], abs=1e-9)
    assert m["fitted"]["float_accuracy"] is not None


def test_shipped_model_on_loihi_reports_headroom(tmp_path, capsys):
    js = tmp_path / "fit.json"
    out = tmp_path / "never.pt"
    _run("fit", SHIPPED, "--profile", "loihi", "--data", "digits", "--json", str(js), "--out", str(out))
    doc = json.loads(js.read_text())
    text = capsys.readouterr().out
    assert doc["fits_already"] and doc["change"] is None and not out.exists()
    ref = _map_json(SHIPPED, "loihi", tmp_path)
    u = doc["headroom"]["utilisation"]
    # the same per-core use as 'snn2hw map' prints: sn0's 16x8x8 = 1024 neurons fill a 1024-neuron core
    sn0 = next(lay for lay in ref["layers"] if lay["layer"] == "sn0")
    assert u["neurons"]["fraction"] == pytest.approx(sn0["utilisation"]["neurons_per_core"]) == 1.0
    assert doc["headroom"]["cores"] == ref["cores"]
    # hand computation: the readout neuron's fan-in on loihi (shared synapses) is 16 axons per sn1 channel;
    # 16 * 32g <= 4096 axons  <=>  g <= 8, and x8.125 (260 channels, 4160 axons) violates
    assert doc["headroom"]["growth"] == 8.0 and doc["headroom"]["growth_fails_at"] == 8.125
    assert "growth head-room: every hidden width x8 still fits loihi" in text


def test_nothing_fits_names_the_best_candidate_and_what_still_violates(wide, tmp_path):
    prof = tmp_path / "speck_k2.yaml"
    text = open("hw_profiles/speck.yaml").read()
    prof.write_text(text.replace("max_kernel_size: {value: 16", "max_kernel_size: {value: 2"))
    out = tmp_path / "x.pt"
    with pytest.raises(Snn2hwError) as e:
        _run("fit", str(wide), "--profile", str(prof), "--out", str(out))
    msg = str(e.value)
    assert "no candidate" in msg and "sn1 256 -> 128 channels" in msg and "check_kernel_size" in msg
    assert "kernel memory" not in msg  # pruning removed that one
    assert not out.exists() and list(tmp_path.iterdir()) == [prof]


@pytest.mark.parametrize("args, words", [
    (["--profile", "nosuchchip"], ["nosuchchip"]),
    (["--profile", "speck", "--max-accuracy-drop", "-1", "--data", "digits"], ["--max-accuracy-drop"]),
    (["--profile", "speck", "--max-accuracy-drop", "nan", "--data", "digits"], ["--max-accuracy-drop", "nan"]),
    (["--profile", "speck", "--max-accuracy-drop", "1"], ["--max-accuracy-drop", "--data"]),
])
def test_bad_options_refused_before_any_work(wide, tmp_path, args, words):
    out = tmp_path / "o.pt"
    with pytest.raises((Snn2hwError, click.ClickException)) as e:
        _run("fit", str(wide), "--out", str(out), *args)
    msg = e.value.format_message() if isinstance(e.value, click.ClickException) else str(e.value)
    assert all(w in msg for w in words), msg
    assert not out.exists()


def test_unreadable_checkpoint_exit_2_no_traceback(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    r = subprocess.run([sys.executable, "-m", "snn2hw", "fit", str(bad), "--profile", "speck",
                        "--out", str(tmp_path / "o.pt")], capture_output=True, text=True)
    assert r.returncode == 2 and "bad.pt" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]
