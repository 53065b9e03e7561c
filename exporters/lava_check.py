"""Validate an exported Lava folder before handing it to the Lava interpreter.

Lava reports bad files as tracebacks from worker processes (or hangs), so the
main process checks ``model.net`` and ``model.lava.json`` first and names the
file and the missing or malformed key.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py

from snn2hw.errors import FileFormatError
from snn2hw.exporters.lava import MANIFEST_FILE, MODEL_FILE
LAYER_TYPES = {"input", "dense", "conv", "flatten"}
#: a residual graph's layer chain: input, then a 'concat' that stops netx (exporters/lava.py)
RESIDUAL_CHAIN_TYPES = {"input", "concat"}


def check_lava_dir(folder) -> None:
    folder = Path(folder)
    net, man = folder / MODEL_FILE, folder / MANIFEST_FILE
    for p in (net, man):
        if not p.is_file():
            raise FileFormatError(f"{p}: missing; {folder} is not an exported Lava model (snn2hw export --format lava)")
    try:
        meta = json.loads(man.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{man} is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or "layers" not in meta or "output" not in meta:
        raise FileFormatError(f"{man} lacks the 'layers'/'output' entries the runner needs")
    try:
        f = h5py.File(net, "r")
    except (OSError, ValueError) as e:
        raise FileFormatError(f"{net} is not a readable HDF5 file ({e}); expected a netx-format network") from None
    with f:
        if "layer" not in f or not isinstance(f["layer"], h5py.Group):
            raise FileFormatError(f"{net} has no 'layer' group; expected the netx format (layer/0..N)")
        residual = "graph" in f
        if residual and "snn2hw_synapses" in f:
            syn = f["snn2hw_synapses"]
            for k in syn.keys():
                if "type" not in syn[k] or "weight" not in syn[k]:
                    raise FileFormatError(f"{net}: snn2hw_synapses/{k} has no 'type' or 'weight'")
        keys = list(f["layer"].keys())
        if not keys or sorted(keys, key=lambda k: int(k) if k.isdigit() else -1) != [str(i) for i in range(len(keys))]:
            raise FileFormatError(f"{net}: layer groups must be named 0..N, found {sorted(keys)[:8]}")
        for k in keys:
            g = f["layer"][k]
            if "type" not in g:
                raise FileFormatError(f"{net}: layer/{k} has no 'type'")
            t = g["type"][()]
            t = (t[0] if getattr(t, "shape", ()) else t)
            t = t.decode() if isinstance(t, bytes) else str(t)
            if t not in LAYER_TYPES and not (residual and t in RESIDUAL_CHAIN_TYPES):
                raise FileFormatError(f"{net}: layer/{k} has type '{t}', expected one of {sorted(LAYER_TYPES)}")
            if t in ("dense", "conv") and "weight" not in g:
                raise FileFormatError(f"{net}: layer/{k} ({t}) has no 'weight'")


def check_export_dir(root) -> None:
    """Check a ``snn2hw export`` folder before ``run-lava`` reads it: ``manifest.json`` must list
    ``ir/model.s2h`` and the Lava files, and each must have the size and sha256 recorded there.

    The Lava runner parses ``model.net`` with libhdf5 in another interpreter, where a corrupt file can
    hang or fail with a traceback, and a modified weight would make Lava and the reference simulator
    disagree for no fault of either; comparing bytes with the manifest refuses all of these up front,
    naming the file. Then :func:`check_lava_dir` checks the structure.
    """
    import hashlib
    root = Path(root)
    man = root / "manifest.json"
    if not man.is_file():
        raise FileFormatError(f"{man}: missing; {root} is not a snn2hw export folder (run snn2hw export "
                              f"--format lava)")
    try:
        meta = json.loads(man.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{man} is not valid JSON ({e})") from None
    files = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("path"), str)
                                              and isinstance(f.get("sha256"), str) for f in files):
        raise FileFormatError(f"{man}: 'files' must list {{path, bytes, sha256}} entries")
    listed = {f["path"]: f for f in files}
    for need in ("ir/model.s2h", f"lava/{MODEL_FILE}", f"lava/{MANIFEST_FILE}"):
        if need not in listed:
            raise FileFormatError(f"{man} does not list '{need}'; {root} holds no exported Lava model (run "
                                  f"snn2hw export --format lava)")
    for rel, entry in listed.items():
        if not rel.startswith(("ir/", "lava/")):
            continue
        parts = Path(rel).parts
        if ".." in parts or Path(rel).is_absolute():
            raise FileFormatError(f"{man}: file path '{rel}' leaves the export folder")
        p = root / rel
        if not p.is_file():
            raise FileFormatError(f"{p}: missing (listed in {man})")
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != entry["sha256"]:
            raise FileFormatError(f"{p}: its sha256 differs from the one in {man} (the file was modified, "
                                  f"truncated or corrupted after export); export the model again")
    check_lava_dir(root / "lava")
