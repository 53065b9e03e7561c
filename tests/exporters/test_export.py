"""snn2hw.export / `snn2hw export`: manifest contents and all-or-nothing writes."""
import hashlib
import json

import pytest

import snn2hw
from snn2hw.errors import Snn2hwError
from snn2hw.exporters import export as export_mod


@pytest.fixture(scope="module")
def conv():
    return snn2hw.convert(snn2hw.load("examples/digits_lif.pt"), "loihi")


def test_manifest_lists_files_with_hashes(conv, tmp_path):
    man = snn2hw.export(conv.graph, tmp_path / "out", formats="onnx", conversion=conv)
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert saved["formats"] == ["onnx"] and saved["profile"] == "loihi"
    assert saved["snn2hw_version"] == snn2hw.__version__
    assert saved["approximations"] == conv.approximations and saved["approximations"]
    for f in saved["files"]:
        data = (tmp_path / "out" / f["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
    assert {f["path"] for f in man["files"]} == {"ir/model.s2h", "onnx/model_int.onnx", "onnx/model_float.onnx"}


def test_failed_export_leaves_previous_artifacts_intact(conv, tmp_path, monkeypatch):
    out = tmp_path / "out"
    snn2hw.export(conv.graph, out, formats="onnx", conversion=conv)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def boom(fmt, graph, tmp, *rest, **kw):
        (tmp / "partial.bin").write_bytes(b"half")
        raise Snn2hwError("simulated failure")

    monkeypatch.setattr(export_mod, "_write_format", boom)
    with pytest.raises(Snn2hwError, match="simulated"):
        snn2hw.export(conv.graph, out, formats="onnx")
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")], "temporary folder left behind"


def test_bad_format_and_float_graph_are_refused(conv, tmp_path):
    with pytest.raises(Snn2hwError, match="unknown export format 'tflite'"):
        snn2hw.export(conv.graph, tmp_path / "o", formats="tflite")
    with pytest.raises(Snn2hwError, match="integer graph"):
        snn2hw.export(snn2hw.load("examples/digits_lif.pt"), tmp_path / "o", formats="onnx")
    assert not (tmp_path / "o").exists()
