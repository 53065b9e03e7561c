"""Helpers for the fault tests (imported by name; ``conftest.py`` holds the fixtures): run the CLI as a user would, stop it at a named stage, compare folders.

The stages are the ``fault_point`` hooks of ``snn2hw/util/faults.py``
(``SNN2HW_TEST_FAULT_AT`` / ``SNN2HW_TEST_FAULT``).
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CKPT = REPO / "examples" / "digits_lif.pt"
EXPORT_FILES = ["manifest.json", "ir/model.s2h", "nir/model_float.nir", "nir/model_int.nir", "lava/model.net",
                "lava/model.lava.json", "onnx/model_int.onnx", "onnx/model_float.onnx"]
REPORT_FILES = ["report.json", "report.md", "report.html"]
WAIT_S = 120  # generous upper bound for a loaded 2-core machine; never a timing assertion


def snapshot(root: Path) -> dict:
    """Every file under ``root`` (hidden ones too) -> its bytes; folders -> None."""
    root = Path(root)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def temp_leftovers(*folders) -> list:
    """Temporary files or folders (``.<name>.<random>.tmp``) anywhere under ``folders``."""
    out = []
    for f in folders:
        out += [str(p) for p in Path(f).rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    return out


def plant_prior(folder: Path, names) -> dict:
    """Write distinct placeholder bytes at ``folder/name`` for each name (the 'previous run'); return the snapshot."""
    for n in names:
        p = folder / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"prior artifact " + n.encode() + b"\n")
    (folder / "user_notes.txt").write_text("a file of the user's that no command may touch\n")
    return snapshot(folder)


def assert_complete_export(out: Path, prior: dict):
    """``out`` holds a full new export: every manifest entry with its sha256, no placeholder left, user file kept."""
    man = json.loads((out / "manifest.json").read_text())
    assert man["files"], man
    for f in man["files"]:
        data = (out / f["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"], f["path"]
        assert data != prior.get(f["path"]), f"{f['path']} is still the previous run's file"
    assert (out / "user_notes.txt").read_bytes() == prior["user_notes.txt"]


def cli_env(**extra) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for k in ("SNN2HW_TEST_FAULT_AT", "SNN2HW_TEST_FAULT", "SNN2HW_TEST_PAUSE_S"):
        env.pop(k, None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(*args, env=None, preexec_fn=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snn2hw", *map(str, args)], capture_output=True, text=True,
                          env=env or cli_env(), preexec_fn=preexec_fn, cwd=cwd, timeout=WAIT_S)


def wait_for(predicate, what: str, proc=None):
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def signal_at_stage(args, stage: str, sig: int, tmp_path: Path, extra_env=None):
    """Start ``snn2hw *args``, wait until it pauses at ``stage``, send ``sig``; return ``(exit code, stderr)``."""
    err = tmp_path / f"stderr_{stage.replace(':', '_')}_{sig}.txt"
    with open(err, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "snn2hw", *map(str, args)], stdout=subprocess.DEVNULL,
                                stderr=fh, env=cli_env(SNN2HW_TEST_FAULT_AT=stage, **(extra_env or {})))
        try:
            wait_for(lambda: f"SNN2HW_PAUSED {stage}" in err.read_text(), f"the stage {stage}", proc)
            proc.send_signal(sig)
            rc = proc.wait(timeout=WAIT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return rc, err.read_text()


def expected_exit(sig: int) -> tuple:
    """The CLI's documented exit status and message for a signal (docs/FAULTS.md)."""
    return {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}[sig]


def live_group_members(pgid: int) -> list:
    """Pids of processes in process group ``pgid`` that are not zombies (read from /proc).

    Zombies count as dead: an orphan's zombie waits for PID 1 to reap it, which in a container
    may never happen, but it runs no code and holds no files.
    """
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            out.append(int(d.name))
    return out


def processes_with(*needles) -> list:
    """Pids whose command line contains every one of ``needles``."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if all(n in cmd for n in needles):
                out.append(int(d.name))
    return out

