"""The Lava subprocess under faults: a hung run, a runner killed by a signal, the parent interrupted.

``run_lava`` starts ``exporters/lava_runner.py`` under the Lava interpreter in its
own process group; Lava forks about ten worker processes into that group. Checked:

* a hung runner is stopped by ``timeout`` (``run_lava(timeout=...)``, ``snn2hw run-lava
  --timeout``) with an error naming the timeout; the whole group is gone afterwards;
* a runner killed by SIGKILL gives 'the Lava process died with signal 9 (SIGKILL)' at
  once - even though its workers still hold its stderr - and its workers are killed;
* SIGINT / SIGTERM to ``snn2hw run-lava`` kills the runner's group (exit 130 / 143);
* no temporary file is left in ``$TMPDIR`` (the runner's own go there too).

A fake Lava interpreter (a script that starts a stand-in worker sharing its stderr,
then hangs or kills itself) makes these fast and independent of lava-nc; two cases
repeat the kill and the interrupt with the real Lava (``.venv-lava``; they FAIL
without it unless ``SNN2HW_ALLOW_NO_LAVA=1``, like ``tests/exporters/test_lava.py``).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import snn2hw
from faultkit import WAIT_S, cli_env, live_group_members, processes_with, wait_for
from snn2hw.errors import Snn2hwError
from snn2hw.exporters import lava as lx

FAKE_LAVA = '''#!{python}
"""Stands in for the Lava interpreter: starts a 'worker' sharing its stderr, then hangs or dies."""
import os, signal, subprocess, sys, tempfile, time
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open(os.path.join(tempfile.gettempdir(), "runner_scratch.bin"), "wb") as f:
    f.write(b"scratch")
with open(os.environ["FAKE_LAVA_PIDS"] + ".part", "w") as f:
    f.write(f"{{os.getpid()}} {{worker.pid}}")
os.replace(os.environ["FAKE_LAVA_PIDS"] + ".part", os.environ["FAKE_LAVA_PIDS"])
if os.environ["FAKE_LAVA_MODE"] == "die":
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(300)
'''


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory, int_graph_file):
    d = tmp_path_factory.mktemp("lava") / "exp"
    snn2hw.export(snn2hw.load_graph(int_graph_file), d, formats="lava")
    return d


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Point SNN2HW_LAVA_PYTHON at the fake; return (pid file, private TMPDIR)."""
    script = tmp_path / "fake_lava_python"
    script.write_text(FAKE_LAVA.format(python=sys.executable))
    script.chmod(0o755)
    pids = tmp_path / "pids.txt"
    monkeypatch.setenv("SNN2HW_LAVA_PYTHON", str(script))
    monkeypatch.setenv("FAKE_LAVA_PIDS", str(pids))
    with short_tmpdir() as tmpdir:
        monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))  # run_lava's temporary folder goes here
        yield pids, tmpdir


@contextlib.contextmanager
def short_tmpdir():
    """A private TMPDIR with a short path (run_lava hands the runner a TMPDIR only if short enough)."""
    d = Path(tempfile.mkdtemp(prefix="s2hf", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _fake_pids(pids_file) -> tuple:
    runner, worker = map(int, pids_file.read_text().split())
    return runner, worker


def _assert_all_gone(pgid, tmpdir):
    # SIGKILL is sent to the group before the parent returns; a worker may take a moment to be
    # scheduled and exit, so poll (bounded) rather than look once
    wait_for(lambda: live_group_members(pgid) == [], f"the processes of the Lava group {pgid} to end")
    assert list(Path(tmpdir).iterdir()) == [], "temporary files were left"


def _x(export_dir):
    g = snn2hw.load_graph(export_dir / "ir" / "model.s2h")
    return np.zeros((2, 2) + tuple(g.nodes[g.inputs[0]].shape), dtype=np.int64)


def test_hung_runner_is_stopped_by_the_timeout(export_dir, fake, monkeypatch):
    pids, tmpdir = fake
    monkeypatch.setenv("FAKE_LAVA_MODE", "hang")
    with pytest.raises(Snn2hwError, match=r"timed out after 1\.5 s and was stopped"):
        lx.run_lava(export_dir / "lava", _x(export_dir), timeout=1.5)
    runner, _ = _fake_pids(pids)
    _assert_all_gone(runner, tmpdir)


def test_runner_killed_by_a_signal_is_reported_and_its_workers_killed(export_dir, fake, monkeypatch):
    pids, tmpdir = fake
    monkeypatch.setenv("FAKE_LAVA_MODE", "die")
    # the timeout is far away: with the worker holding the runner's stderr open, waiting for
    # EOF on a pipe would only end there, so a prompt 'died' (not 'timed out') is the check
    with pytest.raises(Snn2hwError, match=r"Lava process died with signal 9 \(SIGKILL\)"):
        lx.run_lava(export_dir / "lava", _x(export_dir), timeout=WAIT_S)
    runner, _ = _fake_pids(pids)
    _assert_all_gone(runner, tmpdir)


def _start_run_lava(export_dir, tmp_path, *extra, env_extra, samples=2):
    err = tmp_path / "stderr.txt"
    fh = open(err, "w")
    proc = subprocess.Popen([sys.executable, "-m", "snn2hw", "run-lava", str(export_dir), "--samples", str(samples),
                             *extra], stdout=subprocess.DEVNULL, stderr=fh, env=cli_env(**env_extra))
    fh.close()
    return proc, err


def test_cli_timeout_option(export_dir, fake, tmp_path):
    pids, tmpdir = fake
    proc, err = _start_run_lava(export_dir, tmp_path, "--timeout", "1",
                                env_extra={"FAKE_LAVA_MODE": "hang", "TMPDIR": tmpdir})
    rc = proc.wait(timeout=WAIT_S)
    text = err.read_text()
    assert rc == 2 and "Traceback" not in text, text
    assert text.strip().splitlines()[-1].startswith("error: the Lava run timed out after 1 s"), text
    _assert_all_gone(_fake_pids(pids)[0], tmpdir)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_interrupted_while_lava_runs_kills_the_group(export_dir, fake, tmp_path, sig):
    pids, tmpdir = fake
    proc, err = _start_run_lava(export_dir, tmp_path, env_extra={"FAKE_LAVA_MODE": "hang", "TMPDIR": tmpdir})
    try:
        wait_for(pids.exists, "the fake Lava runner", proc)
        runner, worker = _fake_pids(pids)
        assert set(live_group_members(runner)) == {runner, worker}
        proc.send_signal(sig)
        rc = proc.wait(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    code, word = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}[sig]
    assert rc == code and word in err.read_text(), err.read_text()
    _assert_all_gone(runner, tmpdir)


# ----------------------------------------------------------------------------- the real Lava (fixture lava_env: tests/conftest.py)
def _real_lava_running(export_dir, tmp_path, proc) -> int:
    """Wait until the real runner has started Lava's workers; return the runner's pid (= its group)."""
    found = []

    def workers_up():
        found[:] = [p for p in processes_with("lava_runner.py", str(export_dir / "lava"))
                    if os.getpgid(p) == p]  # the runner leads its group; its workers share the command line
        return bool(found) and len(live_group_members(found[0])) >= 3

    wait_for(workers_up, "Lava's worker processes", proc)
    return found[0]


@pytest.mark.parametrize("fault", ["kill runner", "SIGINT parent"])
def test_real_lava_fault(export_dir, lava_env, tmp_path, fault):
    with short_tmpdir() as tmpdir:
        # 300 samples: a Lava run long enough to be caught while it runs
        proc, err = _start_run_lava(export_dir, tmp_path, env_extra={"TMPDIR": tmpdir}, samples=300)
        try:
            runner = _real_lava_running(export_dir, tmp_path, proc)
            if fault == "kill runner":
                os.kill(runner, signal.SIGKILL)
            else:
                proc.send_signal(signal.SIGINT)
            rc = proc.wait(timeout=WAIT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = err.read_text()
        if fault == "kill runner":
            # snn2hw's own output: no traceback before the error (the runner's stderr tail may follow it)
            assert rc == 2 and "error: the Lava process died with signal 9 (SIGKILL)" in text, text
            assert "Traceback" not in text.split("error: ")[0], text
        else:
            assert rc == 130 and "interrupted" in text, text
        _assert_all_gone(runner, tmpdir)
