"""Check an HDF5 file from outside (``.nir``, an ``.s2h`` without checksum) in a child process.

libhdf5 is not hardened against corrupt files: a few flipped bits can make it loop
forever (e.g. in the global heap that holds variable-length strings) or crash the
process, and a file can declare a 10^12-element dataset in a few bytes or point at
other files (external links, external or virtual storage). :func:`probe_hdf5`
walks the whole file (every attribute, every dataset read) in a separate Python
process under a time limit and reports, before the file is opened in the user's
process:

* a declared dataset or attribute larger than :func:`snn2hw.util.limits.max_elements`;
* external links, external raw-data files, virtual datasets;
* libhdf5 errors, a crash (the child dies of a signal) or no answer within
  ``$SNN2HW_HDF5_PROBE_TIMEOUT`` seconds (default 60);

each as :class:`~snn2hw.errors.FileFormatError` naming the file. Files snn2hw
writes itself carry a checksum instead (see :mod:`snn2hw.ir.io`), which is much
cheaper than a child process.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from snn2hw.errors import FileFormatError
from snn2hw.util.limits import bytes_limit_text, limit_text, max_bytes, max_elements

CHILD = Path(__file__).with_name("_h5probe_child.py")
DEFAULT_TIMEOUT = 60.0


def probe_timeout() -> float:
    try:
        t = float(os.environ.get("SNN2HW_HDF5_PROBE_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return t if t > 0 else DEFAULT_TIMEOUT


def probe_hdf5(path, expected: str, error=FileFormatError) -> None:
    """Raise ``error`` (a FileFormatError class) unless ``path`` can be read safely by h5py in this process.

    ``expected`` names what the file should be (e.g. "a NIR graph (.nir)") for the messages.
    """
    path = Path(path)
    timeout = probe_timeout()
    proc = subprocess.Popen([sys.executable, "-I", str(CHILD), str(path), str(max_elements()), str(max_bytes())],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise error(f"{path}: the HDF5 library did not finish reading the file within {timeout:g} s "
                              f"(a corrupt file can make it loop); expected {expected}") from None
    finally:
        if proc.poll() is None:
            _kill(proc)
    if proc.returncode < 0:
        try:
            sig = signal.Signals(-proc.returncode).name
        except ValueError:
            sig = f"signal {-proc.returncode}"
        raise error(f"{path}: the HDF5 library crashed reading the file ({sig}); the file is corrupt; "
                              f"expected {expected}")
    try:
        res = json.loads(out)
    except (json.JSONDecodeError, TypeError):
        last = (err or "").strip().splitlines()[-1:] or ["no output"]
        raise error(f"{path}: the file cannot be read ({last[0][:200]}); expected {expected}") from None
    if "error" in res:
        raise error(f"{path} is not a readable HDF5 file ({res['error']}); expected {expected}")
    if res.get("problems"):
        probs = res["problems"]
        sized = any("declares" in p and "stores" not in p for p in probs)
        raise error(f"{path}: refusing to read it: {'; '.join(probs[:5])}"
                              + (f" ({limit_text()})" if sized else "")
                              + (f" ({bytes_limit_text()})" if any(" bytes (" in p for p in probs) else "")
                              + f"; expected {expected}")


def _kill(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
