"""The fidelity gate in the CLI (issue 13, point 1): convert / export / simulate compare float and integer
accuracy on labelled data, exit 2 (like a model that does not fit) when the drop exceeds --max-accuracy-drop,
still writing their output, and refuse neuron models a profile cannot realise unless --allow-approximation."""
import json
from pathlib import Path

import numpy as np
import pytest

import snn2hw.passes.pipeline as pipeline
import snn2hw.report.build as build
from snn2hw.cli import main
from snn2hw.data import load_dataset

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_lif.pt"
N = 40


def cli(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return e.value.code, out.out, out.err


@pytest.fixture
def broken_integer(monkeypatch):
    """Convert as usual, then zero every integer weight: the integer network's output no longer depends on
    its input, so it predicts one class for every sample (accuracy = that class's share of the labels)."""
    real = pipeline.convert

    def broken(*a, **k):
        res = real(*a, **k)
        for node in res.graph.nodes.values():
            if getattr(node, "weight_int", None) is not None:
                node.weight_int = np.zeros_like(node.weight_int)
        return res
    monkeypatch.setattr(pipeline, "convert", broken)
    monkeypatch.setattr(build, "convert", broken)


def _class_shares():
    y = np.asarray(load_dataset("digits").y_test[:N])
    return {round(float((y == c).mean()), 6) for c in range(10)}


def test_simulate_passes_and_shows_accuracy_columns(capsys, tmp_path):
    code, out, err = cli(capsys, "simulate", EXAMPLE, "--profile", "loihi", "--samples", N, "--out", tmp_path / "o")
    assert code == 0, err
    header = out.splitlines()[0]
    assert "float acc" in header and "int acc" in header
    acc = json.loads((tmp_path / "o" / "report.json").read_text())["accuracy"]
    assert abs(acc["float"] - acc["int (loihi)"]) <= 0.02


def test_simulate_broken_integer_path_fails_and_still_writes_the_report(capsys, tmp_path, broken_integer):
    code, out, err = cli(capsys, "simulate", EXAMPLE, "--profile", "loihi", "--samples", N, "--out", tmp_path / "o")
    assert code == 2  # the same status as a model that does not fit
    assert "error: FIDELITY GATE FAILED" in err and "loihi: integer accuracy" in err
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    acc = rep["accuracy"]
    assert acc["float"] >= 0.9
    assert round(acc["int (loihi)"], 6) in _class_shares()  # one constant prediction
    # the report records the gate's verdict per profile (runs[].fidelity, snn2hw/report/SCHEMA.md)
    fid = rep["runs"][0]["fidelity"]
    assert fid["passed"] is False and fid["accuracy_checked"] is True and fid["max_drop_points"] == 2.0
    assert fid["float_accuracy"] == acc["float"] and fid["int_accuracy"] == acc["int (loihi)"]
    assert abs(fid["drop_points"] - 100 * (acc["float"] - acc["int (loihi)"])) < 1e-6
    assert "Fidelity gate FAILED" in (tmp_path / "o" / "report.md").read_text()
    assert "Fidelity gate FAILED" in (tmp_path / "o" / "report.html").read_text()
    # a generous limit lets the same run pass
    code, _, err = cli(capsys, "simulate", EXAMPLE, "--profile", "loihi", "--samples", N, "--out", tmp_path / "o2",
                       "--max-accuracy-drop", 100)
    assert code == 0, err
    fid = json.loads((tmp_path / "o2" / "report.json").read_text())["runs"][0]["fidelity"]
    assert fid["passed"] is True and fid["max_drop_points"] == 100.0


def test_simulate_refuses_leaky_neurons_on_truenorth_naming_the_layer(capsys, tmp_path):
    code, out, err = cli(capsys, "simulate", EXAMPLE, "--profile", "truenorth", "--samples", N,
                         "--out", tmp_path / "o")
    assert code == 2
    assert "layer 'sn0' is a lif neuron" in err and "closest realisable model: if" in err
    assert "--allow-approximation" in err
    fid = json.loads((tmp_path / "o" / "report.json").read_text())["runs"][0]["fidelity"]
    assert fid["passed"] is False and fid["approximation_allowed"] is False
    assert ("sn0", "lif") in [(u["layer"], u["model"]) for u in fid["unrealisable_neurons"]]


def test_allow_approximation_turns_the_refusal_into_a_warning(capsys, tmp_path):
    code, out, err = cli(capsys, "simulate", EXAMPLE, "--profile", "speck", "--samples", N, "--out", tmp_path / "o",
                         "--allow-approximation", "--max-accuracy-drop", 100)
    assert code == 0, err
    assert "warning: speck: layer 'sn0'" in err and "approximated" in err


def test_convert_without_data_says_the_gate_was_not_applied(capsys, tmp_path):
    code, out, err = cli(capsys, "convert", EXAMPLE, "--profile", "loihi", "--out", tmp_path / "m.s2h")
    assert code == 0, err
    assert "fidelity gate not applied: no labelled data" in err
    code, out, err = cli(capsys, "export", EXAMPLE, "--format", "nir", "--profile", "loihi", "--out", tmp_path / "e")
    assert code == 0, err   # a checkpoint, not an integer graph: the message says what is missing
    assert "fidelity gate not applied: no labelled data" in err and "integer graph" not in err


def test_convert_and_export_with_data(capsys, tmp_path, broken_integer):
    code, out, err = cli(capsys, "convert", EXAMPLE, "--profile", "loihi", "--data", "digits",
                         "--out", tmp_path / "m.s2h")
    assert code == 2 and "FIDELITY GATE FAILED" in err and "accuracy on 100 samples of digits: float" in out
    assert (tmp_path / "m.s2h").is_file()  # written, then refused
    code, out, err = cli(capsys, "export", EXAMPLE, "--format", "nir", "--profile", "loihi", "--data", "digits",
                         "--out", tmp_path / "e")
    assert code == 2 and "FIDELITY GATE FAILED" in err
    assert (tmp_path / "e" / "manifest.json").is_file()
    code, out, err = cli(capsys, "export", tmp_path / "m.s2h", "--format", "nir", "--profile", "loihi",
                         "--data", "digits", "--out", tmp_path / "e2")
    assert code == 0 and "already an integer graph" in err
