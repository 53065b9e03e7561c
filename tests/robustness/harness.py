"""Run the snn2hw CLI on a hostile input and check the outcome every robustness test demands.

``run_cli(argv)`` calls :func:`snn2hw.cli.main` in this process (fast: hundreds of
cases per test file) with stdout/stderr captured; an exception escaping ``main``
is recorded as exit code 1 with its traceback, so the checks below fail on it.
``run_cli_subprocess(argv)`` runs ``python -m snn2hw`` for a representative subset.

``check_outcome`` asserts, for a user mistake: exit code 2, stderr starting with
``error:`` and naming the file, no ``Traceback`` anywhere, the inputs byte for
byte unchanged, and no new, changed or temporary file in the working folder.
With ``allow_success=True`` (a bit flip can leave a file readable) exit 0 is also
accepted, and then only the declared outputs may appear; an exit 2 then may name
the layer instead of the file (the file was read; its model was refused, e.g. a
weight of 1e30 that no integer format can hold).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(argv) -> Result:
    from snn2hw.cli import main
    out, err = io.StringIO(), io.StringIO()
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:  # noqa: BLE001 - exactly what the checks look for
            err.write(traceback.format_exc())
            code = 1
    return Result(code, out.getvalue(), err.getvalue())


def run_cli_subprocess(argv, env=None, timeout=300) -> Result:
    e = dict(os.environ, **(env or {}))
    p = subprocess.run([PYTHON, "-m", "snn2hw", *map(str, argv)], capture_output=True, text=True, env=e,
                       cwd=REPO, timeout=timeout)
    return Result(p.returncode, p.stdout, p.stderr)


def snapshot(folder) -> dict:
    """``{relative path: sha256}`` of every file under ``folder`` (hidden ones included)."""
    folder = Path(folder)
    snap = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            snap[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return snap


def temp_leftovers(folder) -> list:
    """Files or folders named like snn2hw's temporaries (``.<name>.*.tmp``) anywhere under ``folder``."""
    return [str(p) for p in Path(folder).rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


def check_outcome(res: Result, work, before: dict, names=(), allow_success=False, outputs=()) -> None:
    """The robustness contract (see the module docstring). ``before``: ``snapshot(work)`` taken before the
    command; ``names``: strings of which at least one must appear in the error (the file's name);
    ``outputs``: paths relative to ``work`` (files or folders) a successful run may create."""
    text = res.out + res.err
    assert "Traceback" not in text, text[-3000:]
    assert res.code in ((0, 2) if allow_success else (2,)), (res.code, text[-2000:])
    after = snapshot(work)
    assert not temp_leftovers(work), temp_leftovers(work)
    changed = [k for k in before if after.get(k) != before[k]]
    assert not changed, f"inputs or existing files changed or removed: {changed}"
    new = set(after) - set(before)
    if res.code == 2:
        assert res.err.startswith("error:"), res.err[:500]
        assert len(res.err.strip()) > len("error:") + 10, res.err
        if names and not allow_success:
            assert any(str(n) in res.err for n in names), (names, res.err[:800])
        assert not new, f"a failed command left files behind: {sorted(new)}"
    else:
        allowed = tuple(str(o) for o in outputs)
        stray = [k for k in new if not any(k == o or k.startswith(o.rstrip("/") + "/") for o in allowed)]
        assert not stray, f"unexpected files after success: {stray}"


def flip_bits(data: bytes, positions) -> bytes:
    """Flip each distinct bit once (positions modulo the size), so a non-empty list always changes the data."""
    b = bytearray(data)
    for p in {p % (len(b) * 8) for p in positions}:
        b[p // 8] ^= 1 << (p % 8)
    return bytes(b)
