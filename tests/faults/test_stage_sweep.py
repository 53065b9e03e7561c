"""Every stage of export, report writing and checkpoint/graph saving, hit by Ctrl-C or a full disk, in-process.

The ``fault_point`` hook (``snn2hw/util/faults.py``) sends SIGINT to the process
itself (the real signal path: Python's handler raises KeyboardInterrupt) or
raises ``OSError(ENOSPC)`` at one named stage. For every stage the previous
artifacts (placeholder bytes) must stay byte-identical and no temporary file
may remain - except that SIGINT during the final renames (``commit:*``) is held
until they finish, giving the complete new set. A full disk there rolls the
renames back. The stage lists are checked against a trace of a real run, so a
new stage cannot go untested.
"""
from __future__ import annotations

import json

import pytest

import snn2hw
from faultkit import EXPORT_FILES, REPO, REPORT_FILES, assert_complete_export, plant_prior, snapshot, temp_leftovers
from snn2hw.errors import OutputError
from snn2hw.report.write import write_report

EXPORT_STAGES = ["atomic:model.s2h", "export:nir", "atomic:model_float.nir", "atomic:model_int.nir", "export:lava",
                 "atomic:model.net", "atomic:model.lava.json", "export:onnx", "atomic:model_int.onnx", "atomic:model_float.onnx", "export:manifest",
                 "commit:export"]
REPORT_STAGES = ["atomic:report.json", "atomic:report.md", "atomic:report.html", "report:written", "commit:report"]


@pytest.fixture(scope="module")
def graph(int_graph_file):
    return snn2hw.load_graph(int_graph_file)


@pytest.fixture(scope="module")
def report():
    """A real report (the shipped example on two digits, loihi)."""
    import torch
    from snn2hw.data import direct, load_dataset
    from snn2hw.report.build import build_report
    g = snn2hw.load(REPO / "examples" / "digits_lif.pt")
    data = load_dataset("digits")
    x = direct(torch.as_tensor(data.x_test[:2], dtype=torch.float64), 4)
    return build_report(g, x, ["loihi"], labels=data.y_test[:2], source="digits_lif.pt", data_name="digits")


def _trace(monkeypatch, capfd, fn) -> list:
    monkeypatch.setenv("SNN2HW_TEST_FAULT_AT", "*")
    monkeypatch.setenv("SNN2HW_TEST_FAULT", "trace")
    capfd.readouterr()
    fn()
    return [line.split(" ", 1)[1] for line in capfd.readouterr().err.splitlines() if line.startswith("SNN2HW_STAGE ")]


def test_stage_lists_match_a_real_run(tmp_path, graph, report, monkeypatch, capfd):
    assert _trace(monkeypatch, capfd, lambda: snn2hw.export(graph, tmp_path / "e")) == EXPORT_STAGES
    assert _trace(monkeypatch, capfd, lambda: write_report(report, tmp_path / "r")) == REPORT_STAGES


def _inject(monkeypatch, stage, action):
    monkeypatch.setenv("SNN2HW_TEST_FAULT_AT", stage)
    monkeypatch.setenv("SNN2HW_TEST_FAULT", action)


@pytest.mark.parametrize("action", ["SIGINT", "ENOSPC"])
@pytest.mark.parametrize("stage", EXPORT_STAGES)
def test_export_fault_at_every_stage(tmp_path, graph, monkeypatch, stage, action):
    out = tmp_path / "work" / "exp"
    prior = plant_prior(out, EXPORT_FILES)
    _inject(monkeypatch, stage, action)
    if action == "SIGINT":
        with pytest.raises(KeyboardInterrupt):
            snn2hw.export(graph, out)
    else:
        with pytest.raises(OutputError, match="No space left on device") as e:
            snn2hw.export(graph, out)
        assert e.value.path == out  # the output folder, not the temporary one
    if stage.startswith("commit:") and action == "SIGINT":
        assert_complete_export(out, prior)
    else:
        assert snapshot(out) == prior
    assert temp_leftovers(out.parent) == []


def test_export_into_new_folder_full_disk_leaves_nothing(tmp_path, graph, monkeypatch):
    """A full disk during the renames into a folder that did not exist removes the folders made for it."""
    (tmp_path / "work").mkdir()
    _inject(monkeypatch, "commit:export", "ENOSPC")
    with pytest.raises(OutputError):
        snn2hw.export(graph, tmp_path / "work" / "new" / "deeper" / "exp")
    assert [p.name for p in (tmp_path / "work").iterdir()] == []


@pytest.mark.parametrize("action", ["SIGINT", "ENOSPC"])
@pytest.mark.parametrize("stage", REPORT_STAGES)
def test_report_fault_at_every_stage(tmp_path, report, monkeypatch, stage, action):
    out = tmp_path / "work" / "rep"
    prior = plant_prior(out, REPORT_FILES)
    _inject(monkeypatch, stage, action)
    if action == "SIGINT":
        with pytest.raises(KeyboardInterrupt):
            write_report(report, out)
    else:
        with pytest.raises(OutputError, match="No space left on device") as e:
            write_report(report, out)
        assert e.value.path == out or (e.value.path.parent == out and e.value.path.name in REPORT_FILES)
    if stage.startswith("commit:") and action == "SIGINT":
        assert json.loads((out / "report.json").read_text()) == report
        assert all((out / n).read_bytes() != prior[n] for n in REPORT_FILES)
    else:
        assert snapshot(out) == prior
    assert temp_leftovers(out.parent) == []


@pytest.mark.parametrize("action", ["SIGINT", "ENOSPC"])
@pytest.mark.parametrize("kind", ["checkpoint", "graph"])
def test_single_file_save_fault_keeps_previous(tmp_path, graph, monkeypatch, kind, action):
    """save_checkpoint (train, compress, finetune) and save_graph (convert): one atomic file each."""
    from snn2hw.models import build_model
    out = tmp_path / "work" / ("m.pt" if kind == "checkpoint" else "m.s2h")
    out.parent.mkdir()
    out.write_bytes(b"previous")
    _inject(monkeypatch, f"atomic:{out.name}", action)
    save = ((lambda: snn2hw.save_checkpoint(out, build_model("mlp", hidden=[8]), input_step=0.0625))
            if kind == "checkpoint" else (lambda: snn2hw.save_graph(graph, out)))
    with pytest.raises(KeyboardInterrupt if action == "SIGINT" else OutputError):
        save()
    assert out.read_bytes() == b"previous"
    assert [p.name for p in out.parent.iterdir()] == [out.name]
