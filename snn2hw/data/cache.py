"""The user's cache folder for generated data, and a deterministic, atomic ``.npz`` writer.

``cache_dir()`` is ``$SNN2HW_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/snn2hw`` (``~/.cache/snn2hw``
when ``XDG_CACHE_HOME`` is unset) — the folder the crash logs use (``snn2hw/util/crashlog.py``).

``write_npz_atomic`` writes the same bytes for the same arrays (every zip entry has a fixed
timestamp, unlike ``np.savez``, whose entries carry the current time) into a temporary file in the
target folder, then renames it over the target, so a reader never sees a half-written file.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

_EPOCH = (1980, 1, 1, 0, 0, 0)


def cache_dir() -> Path:
    env = os.environ.get("SNN2HW_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "snn2hw"


def write_npz_atomic(path, arrays: dict, compress: bool = True) -> Path:
    """``np.savez(_compressed)``-compatible archive of ``arrays`` (no object arrays), byte-deterministic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with zipfile.ZipFile(tmp, "w", compression=method) as zf:
            for key in sorted(arrays):
                info = zipfile.ZipInfo(key + ".npy", date_time=_EPOCH)
                info.compress_type = method
                info.external_attr = 0o644 << 16
                a = np.asarray(arrays[key])       # (np.ascontiguousarray would make a 0-d array 1-d)
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, a if a.flags.c_contiguous else a.copy(order="C"),
                                              allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
