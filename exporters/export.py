"""``snn2hw.export(graph, out_dir, formats)``: every artifact plus a manifest, all or nothing.

Artifacts are first written into a temporary folder beside ``out_dir``; only
when every requested format succeeded are they moved into ``out_dir`` by
:func:`~snn2hw.util.atomic.commit_files` (one ``os.replace`` per file,
``manifest.json`` last, signals held meanwhile, rolled back on an error). A
failure or interrupt leaves ``out_dir`` as it was and removes the temporary
folder; an ``OSError`` (disk full) becomes :class:`~snn2hw.errors.OutputError`. The manifest lists formats, files with sha256 and size, the snn2hw
version, ``created`` (``SOURCE_DATE_EPOCH`` when set: :mod:`snn2hw.util.timestamp`), the profile, and what was approximated or refused and why. ``ir/model.s2h``
(the integer graph) is always written, so ``snn2hw run-lava`` can compare with the
reference simulator.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from snn2hw import __version__
from snn2hw.errors import OutputError, Snn2hwError
from snn2hw.ir.checks import quantization_problems
from snn2hw.ir.graph import Graph
from snn2hw.util.atomic import check_output_folder, commit_files
from snn2hw.util.faults import deferred_interrupts, fault_point
from snn2hw.util.timestamp import created_timestamp

FORMATS = ("nir", "lava", "onnx", "sanafe")
#: what ``all`` means (sanafe needs input samples and writes a simulator's network, not a model)
ALL = ("nir", "lava", "onnx")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_export_dir(out_dir, formats, label: str | None = "--out") -> Path:
    """Refuse, before any work, an export folder (or ``manifest.json`` / a format folder in it) that is a device,
    fifo, socket, file or bad symbolic link (:func:`~snn2hw.util.atomic.check_output_target`); return the
    folder to write."""
    return check_output_folder(out_dir, files=("manifest.json",), folders=("ir", *formats), label=label)


def is_quantized(graph: Graph) -> bool:
    return not quantization_problems(graph)


def parse_formats(formats) -> list:
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",")]
    out = []
    for f in formats:
        if f == "all":
            out += list(ALL)
        elif f in FORMATS:
            out.append(f)
        else:
            raise Snn2hwError(f"unknown export format '{f}'; choose from {', '.join(FORMATS)} or 'all'")
    return list(dict.fromkeys(out))


def _write_format(fmt: str, graph: Graph, tmp: Path, profile=None, inputs=None, nir_options=None,
                  lava_options=None) -> tuple:
    """Write one format into ``tmp``; return (files, notes)."""
    notes = []
    if fmt == "sanafe":
        from snn2hw.exporters.sanafe import export_sanafe
        if inputs is None:
            raise Snn2hwError("the sanafe format carries input spikes: give the samples (snn2hw export --data D "
                              "--samples N, or inputs= in Python)")
        r = export_sanafe(graph, inputs, tmp, profile or graph.metadata.get("profile") or "loihi")
        return r["files"], r["notes"]
    if fmt == "onnx":
        from snn2hw.exporters.onnx import export_onnx_float, export_onnx_int
        a = export_onnx_int(graph, tmp / "model_int.onnx")
        export_onnx_float(graph, tmp / "model_float.onnx")
        notes.append(f"onnx: opset {a.get('opset')}, IR version {a.get('ir_version')}; model_int.onnx takes the "
                     f"integer input round(x / step) as int [T, B, ...]")
        return ["model_int.onnx", "model_float.onnx"], notes
    if fmt == "nir":
        from snn2hw.exporters.nir import export_nir
        opts = dict(nir_options or {})
        ra = export_nir(graph, tmp / "model_float.nir", integer=False, **opts)
        rb = export_nir(graph, tmp / "model_int.nir", integer=True, **opts)
        for r in (ra, rb):
            notes += [f"nir: {n}" for n in (r or {}).get("notes", [])]
        return ["model_float.nir", "model_int.nir"], notes
    if fmt == "lava":
        from snn2hw.exporters.lava import export_lava
        r = export_lava(graph, tmp, **(lava_options or {})) or {}
        notes += [f"lava: {n}" for n in r.get("notes", [])]
        notes += [f"lava refused: {n}" for n in r.get("refusals", [])]
        return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()), notes
    raise Snn2hwError(f"unknown export format '{fmt}'")


def export(graph: Graph, out_dir, formats="all", conversion=None, profile=None, inputs=None,
           nir_readout: str = "membrane", nir_target: str = "generic",
           allow_netx_incompatible: bool = False) -> dict:
    """Export an integer graph (quantized by ``snn2hw.convert``) to ``out_dir``; return the manifest.

    ``conversion``: the :class:`~snn2hw.passes.pipeline.ConvertResult` that made the graph, whose
    approximations and refusals go into the manifest. ``profile`` and ``inputs`` (``[T, N, ...]``
    float samples) are what the ``sanafe`` format needs (the profile's mapping and costs, the input
    spikes); the profile defaults to the one the graph was quantized for. ``nir_readout`` / ``nir_target``:
    the NIR readout encoding and peer convention (:func:`snn2hw.exporters.nir.export_nir`'s ``readout`` and
    ``target``; ``docs/NIR_PEERS.md``). ``allow_netx_incompatible``: write a Lava chain that lava-dl netx
    would mis-run instead of refusing it (:func:`snn2hw.exporters.lava.export_lava`).
    """
    fmts = parse_formats(formats)
    created = created_timestamp()  # SOURCE_DATE_EPOCH checked before any work
    if not is_quantized(graph):
        raise Snn2hwError("export needs an integer graph: convert the model first (snn2hw convert, or give "
                          "snn2hw export a checkpoint and --profile)")
    from snn2hw.ir.checks import integer_problems
    bad = integer_problems(graph)
    if bad:
        raise Snn2hwError("the integer graph cannot be exported (corrupt or hand-edited):\n  " + "\n  ".join(bad))
    out_dir = check_export_dir(out_dir, fmts, label=None)
    tmp, done = None, False
    made = [p for p in out_dir.parents if not p.exists()]  # removed again if the export fails
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with deferred_interrupts():  # no signal between creating the temporary folder and knowing its name
            tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
        from snn2hw.ir.io import save_graph
        files, notes = {"ir": ["model.s2h"]}, []
        (tmp / "ir").mkdir()
        save_graph(graph, tmp / "ir" / "model.s2h")  # the integer graph itself, for run-lava and re-export
        for fmt in fmts:
            fault_point(f"export:{fmt}")
            sub = tmp / fmt
            sub.mkdir()
            written, n = _write_format(fmt, graph, sub, profile, inputs,
                                       nir_options={"readout": nir_readout, "target": nir_target},
                                       lava_options={"allow_netx_incompatible": allow_netx_incompatible})
            files[fmt] = written
            notes += n
        fault_point("export:manifest")
        manifest = {
            "snn2hw_version": __version__,
            "created": created,
            "profile": graph.metadata.get("profile"),
            "formats": fmts,
            "files": [{"format": f, "path": f"{f}/{name}", "bytes": (tmp / f / name).stat().st_size,
                       "sha256": _sha256(tmp / f / name)} for f in ["ir"] + fmts for name in files[f]],
            "approximations": list(conversion.approximations) if conversion else [],
            "refusals": list(conversion.refusals) if conversion else [],
            "notes": notes,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        moves = [(tmp / f / name, out_dir / f / name) for f in ["ir"] + fmts for name in files[f]]
        commit_files(moves + [(tmp / "manifest.json", out_dir / "manifest.json")], tmp / ".replaced", "export")
        done = True
        return manifest
    except OutputError as e:  # a file in the temporary folder: name the output folder instead
        raise OutputError(out_dir, e.__cause__) from e
    except OSError as e:
        raise OutputError(out_dir, e) from e
    finally:
        with deferred_interrupts():
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            for p in made if not done else []:  # deepest first
                with contextlib.suppress(OSError):
                    p.rmdir()
