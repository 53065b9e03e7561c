"""SIGINT / SIGTERM sent to the real CLI process at named stages of export, simulate and convert.

Each case plants a previous artifact (placeholder bytes, plus an unrelated user
file) where the command writes, stops the command at a stage with the
``SNN2HW_TEST_FAULT_AT`` pause hook, sends the signal and checks: exit status
130 ('interrupted') for SIGINT, 143 ('terminated') for SIGTERM, no traceback, no
temporary file or folder anywhere, and the previous artifact byte-identical -
or, for a signal that lands while the final renames run (``commit:*``), the
complete new set (signals are held for those milliseconds), never a mix.
Every stage with SIGINT, and checkpoint saving (train, compress, finetune), is
covered in-process by ``test_stage_sweep.py``; these runs prove the CLI's own
signal handling (SIGTERM included) and exit statuses.
"""
from __future__ import annotations

import json
import signal

import pytest

from faultkit import (CKPT, EXPORT_FILES, REPORT_FILES, assert_complete_export, expected_exit, plant_prior,
                      signal_at_stage, snapshot, temp_leftovers)


def _check_signal_outcome(rc, err, sig):
    code, word = expected_exit(sig)
    assert rc == code, (rc, err)
    assert word in err and "Traceback" not in err, err


@pytest.mark.parametrize("stage,sig", [
    ("export:lava", signal.SIGINT),              # nir written into the temporary folder, lava next
])
def test_export_interrupted_keeps_previous_export(tmp_path, int_graph_file, stage, sig):
    out = tmp_path / "work" / "exp"
    prior = plant_prior(out, EXPORT_FILES)
    rc, err = signal_at_stage(["export", int_graph_file, "--format", "all", "--out", out], stage, sig, tmp_path)
    _check_signal_outcome(rc, err, sig)
    assert snapshot(out) == prior
    assert temp_leftovers(out.parent) == []


def test_export_terminated_during_commit_gives_complete_new_set(tmp_path, int_graph_file):
    out = tmp_path / "work" / "exp"
    prior = plant_prior(out, EXPORT_FILES)
    rc, err = signal_at_stage(["export", int_graph_file, "--format", "all", "--out", out], "commit:export",
                              signal.SIGTERM, tmp_path)
    _check_signal_outcome(rc, err, signal.SIGTERM)
    assert_complete_export(out, prior)
    assert temp_leftovers(out.parent) == []


def _simulate_args(out):
    return ["simulate", CKPT, "--profile", "loihi", "--data", "digits", "--samples", "4", "--out", out]


@pytest.mark.parametrize("stage,sig", [("atomic:report.md", signal.SIGTERM)])
def test_simulate_interrupted_keeps_previous_report(tmp_path, stage, sig):
    out = tmp_path / "work" / "rep"
    prior = plant_prior(out, REPORT_FILES)
    rc, err = signal_at_stage(_simulate_args(out), stage, sig, tmp_path)
    _check_signal_outcome(rc, err, sig)
    assert snapshot(out) == prior
    assert temp_leftovers(out.parent) == []


def test_simulate_interrupted_during_commit_gives_complete_new_report(tmp_path):
    out = tmp_path / "work" / "rep"
    prior = plant_prior(out, REPORT_FILES)
    rc, err = signal_at_stage(_simulate_args(out), "commit:report", signal.SIGINT, tmp_path)
    _check_signal_outcome(rc, err, signal.SIGINT)
    rep = json.loads((out / "report.json").read_text())
    assert rep["inputs"]["samples"] == 4
    for name in REPORT_FILES:
        assert (out / name).read_bytes() != prior[name], f"{name} is still the previous run's"
    assert rep["runs"][0]["profile"] in (out / "report.md").read_text()
    assert temp_leftovers(out.parent) == []


def test_convert_interrupted_keeps_previous_graph(tmp_path):
    out = tmp_path / "work" / "m.s2h"
    out.parent.mkdir()
    out.write_bytes(b"previous graph")
    rc, err = signal_at_stage(["convert", CKPT, "--profile", "loihi", "--out", out], "atomic:m.s2h",
                              signal.SIGINT, tmp_path)
    _check_signal_outcome(rc, err, signal.SIGINT)
    assert out.read_bytes() == b"previous graph"
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.s2h"]
