"""``snn2hw.export(graph, out_dir, formats)``: every artifact plus a manifest, all or nothing.

Artifacts are first written into a temporary folder beside ``out_dir``; only
when every requested format succeeded are they moved into ``out_dir`` (one
``os.replace`` per file, ``manifest.json`` last). A failure leaves ``out_dir``
as it was. The manifest lists formats, files with sha256 and size, the snn2hw
version, the profile, and what was approximated or refused and why. ``ir/model.s2h``
(the integer graph) is always written, so ``snn2hw run-lava`` can compare with the
reference simulator.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from snn2hw import __version__
from snn2hw.errors import Snn2hwError
from snn2hw.ir.checks import quantization_problems
from snn2hw.ir.graph import Graph

FORMATS = ("nir", "lava", "onnx")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_quantized(graph: Graph) -> bool:
    return not quantization_problems(graph)


def parse_formats(formats) -> list:
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",")]
    out = []
    for f in formats:
        if f == "all":
            out += list(FORMATS)
        elif f in FORMATS:
            out.append(f)
        else:
            raise Snn2hwError(f"unknown export format '{f}'; choose from {', '.join(FORMATS)} or 'all'")
    return list(dict.fromkeys(out))


def _write_format(fmt: str, graph: Graph, tmp: Path) -> tuple:
    """Write one format into ``tmp``; return (files, notes)."""
    notes = []
    if fmt == "onnx":
        from snn2hw.exporters.onnx import export_onnx_float, export_onnx_int
        a = export_onnx_int(graph, tmp / "model_int.onnx")
        export_onnx_float(graph, tmp / "model_float.onnx")
        notes.append(f"onnx: opset {a.get('opset')}, IR version {a.get('ir_version')}; model_int.onnx takes the "
                     f"integer input round(x / step) as int [T, B, ...]")
        return ["model_int.onnx", "model_float.onnx"], notes
    if fmt == "nir":
        from snn2hw.exporters.nir import export_nir
        ra = export_nir(graph, tmp / "model_float.nir", integer=False)
        rb = export_nir(graph, tmp / "model_int.nir", integer=True)
        for r in (ra, rb):
            notes += [f"nir: {n}" for n in (r or {}).get("notes", [])]
        return ["model_float.nir", "model_int.nir"], notes
    if fmt == "lava":
        from snn2hw.exporters.lava import export_lava
        r = export_lava(graph, tmp) or {}
        notes += [f"lava: {n}" for n in r.get("notes", [])]
        notes += [f"lava refused: {n}" for n in r.get("refusals", [])]
        return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()), notes
    raise Snn2hwError(f"unknown export format '{fmt}'")


def export(graph: Graph, out_dir, formats="all", conversion=None) -> dict:
    """Export an integer graph (quantized by ``snn2hw.convert``) to ``out_dir``; return the manifest.

    ``conversion``: the :class:`~snn2hw.passes.pipeline.ConvertResult` that made the graph, whose
    approximations and refusals go into the manifest.
    """
    fmts = parse_formats(formats)
    if not is_quantized(graph):
        raise Snn2hwError("export needs an integer graph: convert the model first (snn2hw convert, or give "
                          "snn2hw export a checkpoint and --profile)")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        from snn2hw.ir.io import save_graph
        files, notes = {"ir": ["model.s2h"]}, []
        (tmp / "ir").mkdir()
        save_graph(graph, tmp / "ir" / "model.s2h")  # the integer graph itself, for run-lava and re-export
        for fmt in fmts:
            sub = tmp / fmt
            sub.mkdir()
            written, n = _write_format(fmt, graph, sub)
            files[fmt] = written
            notes += n
        manifest = {
            "snn2hw_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "profile": graph.metadata.get("profile"),
            "formats": fmts,
            "files": [{"format": f, "path": f"{f}/{name}", "bytes": (tmp / f / name).stat().st_size,
                       "sha256": _sha256(tmp / f / name)} for f in ["ir"] + fmts for name in files[f]],
            "approximations": list(conversion.approximations) if conversion else [],
            "refusals": list(conversion.refusals) if conversion else [],
            "notes": notes,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        out_dir.mkdir(parents=True, exist_ok=True)
        for f in ["ir"] + fmts:
            (out_dir / f).mkdir(exist_ok=True)
            for name in files[f]:
                dst = out_dir / f / name
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / f / name, dst)
        os.replace(tmp / "manifest.json", out_dir / "manifest.json")
        return manifest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
