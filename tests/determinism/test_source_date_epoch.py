"""``SOURCE_DATE_EPOCH`` (https://reproducible-builds.org/specs/source-date-epoch/) fixes the one ``created``
field of ``manifest.json`` and of the reports: with it, two runs write byte-identical folders, that field included.

As in ``test_artifacts.py`` the two runs are separate processes started together, with different hash seeds,
input and output folders; here they also differ in the output folder's own name, thread count
(``OMP_NUM_THREADS``) and time zone (``TZ``), and every file is compared as is (nothing removed), the export with
every format (nir, lava, onnx, sanafe with its arch.yaml, ir, manifest). A malformed value is refused before any
work with exit 2 and the variable named.
"""
import datetime as dt
import os
import subprocess
import sys

import pytest

from snn2hw.errors import Snn2hwError
from snn2hw.util.timestamp import MAX_EPOCH, created_timestamp, source_date_epoch
from test_artifacts import CKPT, _run_twice, assert_same_outputs

EPOCH = 1700000000
ISO = "2023-11-14T22:13:20+00:00"  # EPOCH in UTC, as datetime.isoformat(timespec="seconds") writes it
ENVS = ({"SOURCE_DATE_EPOCH": str(EPOCH), "OMP_NUM_THREADS": "1", "TZ": "UTC"},
        {"SOURCE_DATE_EPOCH": str(EPOCH), "OMP_NUM_THREADS": "2", "TZ": "JST-9"})
EXPORT_FILES = ["manifest.json", "ir/model.s2h", "nir/model_float.nir", "nir/model_int.nir", "lava/model.net",
                "lava/model.lava.json", "onnx/model_int.onnx", "onnx/model_float.onnx", "sanafe/net.yaml",
                "sanafe/expected.json", "sanafe/arch.yaml"]
REPORT_FILES = ["report.json", "report.md", "report.html"]


def test_iso_constant_is_the_epoch():
    assert dt.datetime.fromtimestamp(EPOCH, dt.timezone.utc).isoformat(timespec="seconds") == ISO


@pytest.mark.parametrize("value, expect", [("0", "1970-01-01T00:00:00+00:00"), (str(EPOCH), ISO),
                                           ("0001700000000", ISO),
                                           (str(MAX_EPOCH), "9999-12-31T23:59:59+00:00")])
def test_created_follows_source_date_epoch(monkeypatch, value, expect):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    assert created_timestamp() == expect


@pytest.mark.parametrize("value", [None, ""])
def test_unset_or_empty_is_the_current_time(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    assert source_date_epoch() is None
    created = dt.datetime.fromisoformat(created_timestamp())
    assert created.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 5


@pytest.mark.parametrize("value", ["-1", "1.5", "1e9", " 17", "17 ", "+17", "1_000", "0x10", "abc", "٣",
                                   str(MAX_EPOCH + 1), "9" * 5000])
def test_malformed_values_are_refused(monkeypatch, value):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(Snn2hwError, match="SOURCE_DATE_EPOCH"):
        created_timestamp()


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Two ``export --format all,sanafe`` runs with the same SOURCE_DATE_EPOCH: their two folders (loihi_davies:
    SANA-FE's arch.yaml too; plain loihi is exported in test_artifacts.py)."""
    a, b = _run_twice(tmp_path_factory.mktemp("sde"), "export",
                      ["export", "{in}/digits_lif.pt", "--format", "all,sanafe", "--profile", "loihi_davies",
                       "--samples", "3", "--out", "{out}/{tag}"], [CKPT], envs=ENVS)
    return a / "first", b / "second_run"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Two ``simulate`` runs (one profile, few samples) with the same SOURCE_DATE_EPOCH: their two folders."""
    a, b = _run_twice(tmp_path_factory.mktemp("sde"), "simulate",
                      ["simulate", "{in}/digits_lif.pt", "--profile", "loihi", "--samples", "8", "--batch-size", "3",
                       "--out", "{out}/{tag}"], [CKPT], envs=ENVS)
    return a / "first", b / "second_run"


def test_export_folders_are_byte_identical(exports):
    files = assert_same_outputs(*exports, expect=EXPORT_FILES, exact=True)
    assert sorted(map(str, files)) == sorted(EXPORT_FILES)  # every file the export writes is compared


def test_manifest_created_is_the_epoch(exports):
    import json
    for d in exports:
        assert json.loads((d / "manifest.json").read_text())["created"] == ISO


def test_reports_are_byte_identical(reports):
    files = assert_same_outputs(*reports, expect=REPORT_FILES, exact=True)
    assert sorted(map(str, files)) == sorted(REPORT_FILES)


def test_report_created_is_the_epoch(reports):
    import json
    for d in reports:
        assert json.loads((d / "report.json").read_text())["created"] == ISO
        for name in ("report.md", "report.html"):
            assert f"created {ISO}" in (d / name).read_text()


@pytest.mark.parametrize("command", [
    ["export", str(CKPT), "--format", "all,sanafe", "--samples", "2"],
    ["simulate", str(CKPT), "--samples", "2"]])
def test_bad_value_exits_2_before_any_work(tmp_path, command):
    out = tmp_path / "out"
    env = dict(os.environ, SOURCE_DATE_EPOCH="2023-11-14")
    p = subprocess.run([sys.executable, "-m", "snn2hw", *command, "--out", str(out)], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "SOURCE_DATE_EPOCH='2023-11-14'" in p.stderr and "Traceback" not in p.stderr + p.stdout
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the output folder
