"""A full disk: real write failures, not injected ones.

* ``RLIMIT_FSIZE`` (set in the child before it runs; SIGXFSZ ignored so a write past
  the limit fails with EFBIG 'File too large' instead of killing it) for the CLI's
  export, simulate and convert, and in-process for checkpoint saving (torch.save,
  used by train / compress / finetune) and graph saving.
* A real 600 KiB tmpfs (``unshare -m`` + ``mount``) that an export overflows with
  ENOSPC 'No space left on device'; skipped loudly where mounting is not permitted.

Each must give one ``error: cannot write <output>: <reason>`` line (exit 2, no
traceback), leave the previous artifacts byte-identical and no temporary file.
"""
from __future__ import annotations

import contextlib
import resource
import shutil
import signal
import subprocess
import sys

import pytest

import snn2hw
from faultkit import CKPT, EXPORT_FILES, REPORT_FILES, cli_env, plant_prior, run_cli, snapshot, temp_leftovers
from snn2hw.errors import OutputError


def _limit_file_size(nbytes):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, resource.RLIM_INFINITY))
    return apply


@contextlib.contextmanager
def file_size_limit(nbytes):
    """The same limit in this process, restored afterwards (only the soft limit changes)."""
    old_lim, old_handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.getsignal(signal.SIGXFSZ)
    _limit_file_size(nbytes)()
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_lim)
        signal.signal(signal.SIGXFSZ, old_handler)


def assert_disk_error(res, out, reason):
    """Exit 2 and, after any progress bars, one ``error: cannot write <out>...: <reason>`` line."""
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot write {out}") and reason in last, res.stderr


def test_export_past_file_size_limit(tmp_path, int_graph_file):
    # 200 kB: ir/model.s2h (~120 kB) and both NIR files (~170, ~140 kB) fit, lava/model.net (~220 kB) does not
    out = tmp_path / "work" / "exp"
    prior = plant_prior(out, EXPORT_FILES)
    res = run_cli("export", int_graph_file, "--format", "all", "--out", out, preexec_fn=_limit_file_size(200_000))
    assert_disk_error(res, out, "File too large")
    assert snapshot(out) == prior
    assert temp_leftovers(out.parent) == []


def test_simulate_past_file_size_limit(tmp_path):
    # 12 kB: report.md (~7 kB) fits, report.json or report.html (>12 kB) does not
    out = tmp_path / "work" / "rep"
    prior = plant_prior(out, REPORT_FILES)
    res = run_cli("simulate", CKPT, "--data", "digits", "--samples", "2", "--out", out,
                  preexec_fn=_limit_file_size(12_000))
    assert_disk_error(res, out / "report.", "File too large")
    assert snapshot(out) == prior
    assert temp_leftovers(out.parent) == []


def test_convert_past_file_size_limit(tmp_path):
    out = tmp_path / "work" / "m.s2h"
    out.parent.mkdir()
    out.write_bytes(b"previous graph")
    res = run_cli("convert", CKPT, "--out", out, preexec_fn=_limit_file_size(50_000))
    assert_disk_error(res, out, "File too large")
    assert out.read_bytes() == b"previous graph"
    assert [p.name for p in out.parent.iterdir()] == ["m.s2h"]


@pytest.mark.parametrize("kind", ["checkpoint", "graph"])
def test_save_past_file_size_limit_in_process(tmp_path, int_graph_file, kind):
    from snn2hw.models import build_model
    g = snn2hw.load_graph(int_graph_file)
    model = build_model("digits_conv")  # ~100 kB of weights
    out = tmp_path / ("m.pt" if kind == "checkpoint" else "m.s2h")
    out.write_bytes(b"previous")
    with file_size_limit(20_000), pytest.raises(OutputError, match="File too large") as e:
        if kind == "checkpoint":
            snn2hw.save_checkpoint(out, model, input_step=0.0625)
        else:
            snn2hw.save_graph(g, out)
    assert e.value.path == out
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def _mount_works(tmp_path) -> str:
    """'' if this process may mount a tmpfs in a private mount namespace, else why not."""
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    probe = tmp_path / "probe"
    probe.mkdir()
    r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs '{probe}'"],
                       capture_output=True, text=True)
    probe.rmdir()
    return "" if r.returncode == 0 else f"unshare -m + mount tmpfs failed: {r.stderr.strip()}"


def test_export_onto_a_full_tmpfs(tmp_path, int_graph_file):
    why = _mount_works(tmp_path)
    if why:
        pytest.skip(f"TINY-TMPFS FULL-DISK CASE NOT TESTED ({why}); the RLIMIT_FSIZE cases still ran")
    mnt, prior_dir, result = tmp_path / "mnt", tmp_path / "prior", tmp_path / "result"
    for d in (mnt, result):
        d.mkdir()
    prior = plant_prior(prior_dir / "exp", EXPORT_FILES)
    # inside a private mount namespace: a 600 KiB tmpfs holding the previous export; the new export
    # (~800 kB) cannot fit; afterwards everything on the tmpfs, hidden files too, is copied out
    script = ('mount -t tmpfs -o size=600k tmpfs "$1" && cp -a "$2"/. "$1"/ || exit 99\n'
              '"$4" -m snn2hw export "$5" --format all --out "$1/exp" 2>"$3/stderr.txt"; rc=$?\n'
              'cp -a "$1"/. "$3"/; exit $rc\n')
    res = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(mnt), str(prior_dir), str(result),
                          sys.executable, str(int_graph_file)], capture_output=True, text=True, env=cli_env(),
                         timeout=120)
    err = (result / "stderr.txt").read_text()
    (result / "stderr.txt").unlink()
    res.stderr = err
    assert_disk_error(res, mnt / "exp", "No space left on device")
    assert snapshot(result / "exp") == prior
    assert temp_leftovers(result) == []
