"""Fixtures for tests that run networks in the real Lava (lava-nc 0.10.0, Python 3.10 venv).

The Lava interpreter lives in ``<repo>/.venv-lava`` (``make lava-venv``; the
Makefile's ``test`` target builds it, and CI always has it). If it is missing,
these tests FAIL loudly, unless ``SNN2HW_ALLOW_NO_LAVA=1`` is set, in which
case they are skipped with a loud reason.
"""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAVA_PYTHON = REPO_ROOT / ".venv-lava" / "bin" / "python"
DENSE_RUNNER = Path(__file__).resolve().parent / "lava_dense_runner.py"
LAVA_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def lava_python() -> Path:
    """Path of the Lava interpreter; fails (or skips with SNN2HW_ALLOW_NO_LAVA=1) if it is missing."""
    if LAVA_PYTHON.exists() and os.access(LAVA_PYTHON, os.X_OK):
        return LAVA_PYTHON
    msg = (f"\n{'!' * 78}\n"
           f"!!! The Lava environment is missing: {LAVA_PYTHON} does not exist.\n"
           f"!!! Run `make lava-venv` in {REPO_ROOT} (needs Python 3.10; `make test` builds it).\n"
           f"!!! The bit-exactness tests against Lava cannot run without it.\n"
           f"{'!' * 78}")
    if os.environ.get("SNN2HW_ALLOW_NO_LAVA") == "1":
        pytest.skip("LAVA NOT TESTED (SNN2HW_ALLOW_NO_LAVA=1): " + msg)
    pytest.fail(msg + "\n(set SNN2HW_ALLOW_NO_LAVA=1 to skip these tests instead)", pytrace=False)


def run_lava_script(lava_python: Path, args: list, timeout: float = LAVA_TIMEOUT_S,
                    cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """Run ``lava_python args...`` in its own process group; on timeout kill the whole group
    (Lava forks one worker per process and can hang on errors) and fail."""
    proc = subprocess.Popen([str(lava_python), *map(str, args)], cwd=str(cwd), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        pytest.fail(f"Lava run timed out after {timeout} s (process group killed)\n"
                    f"stdout:\n{out[-4000:]}\nstderr:\n{err[-4000:]}", pytrace=False)
    finally:
        # Leave no orphan Lava workers behind, whatever happened.
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    if proc.returncode != 0:
        pytest.fail(f"Lava run failed with exit code {proc.returncode}\n"
                    f"stdout:\n{out[-4000:]}\nstderr:\n{err[-8000:]}", pytrace=False)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="session")
def run_lava_dense(lava_python, tmp_path_factory):
    """``run(nets) -> list of dicts``: run feed-forward dense networks with ``lava_dense_runner.py``.

    Each net is a dict of the runner's input arrays (see its docstring); each
    result holds ``u{i}``, ``v{i}``, ``s{i}`` as ``[steps, n_i]`` int64 arrays
    (row ``t - 1`` = after Lava step ``t``). All nets go through one interpreter.
    """
    counter = [0]

    def run(nets: list, timeout: float = LAVA_TIMEOUT_S) -> list:
        counter[0] += 1
        work = tmp_path_factory.mktemp(f"lava_dense_{counter[0]}")
        args = [DENSE_RUNNER]
        outs = []
        for j, net in enumerate(nets):
            pin, pout = work / f"net{j}_in.npz", work / f"net{j}_out.npz"
            np.savez(pin, **net)
            args += [pin, pout]
            outs.append(pout)
        run_lava_script(lava_python, args, timeout=timeout)
        results = []
        for p in outs:
            with np.load(p) as d:
                results.append({k: d[k] for k in d.files})
        return results

    return run
