"""Every artifact-writing command, run twice with the same inputs, options and seed, writes the same bytes.

Each command runs twice as a user would run it: in two separate processes started
at the same time, one with ``PYTHONHASHSEED=1`` and one with ``PYTHONHASHSEED=2``
(so set and dict-of-set iteration orders differ), each reading its own copy of
the input files from a different temporary folder and writing into a different
output folder. Then every file of the two outputs is compared byte for byte.

The only field allowed to differ is the wall-clock creation time, and it lives in
exactly one documented place per file (``TIMESTAMP_FIELDS``): ``created`` in
``report.json`` and ``manifest.json`` and the ``created ...`` words of the report
header in ``report.md`` / ``report.html``. The test removes exactly that one
occurrence (it must be there exactly once) and compares the rest byte for byte;
every other file (checkpoints, .s2h, NIR, Lava, ONNX) must be identical as is.
With ``SOURCE_DATE_EPOCH`` set, nothing may differ, ``created`` included: ``test_source_date_epoch.py``.

Byte equality of two runs can hide a timestamp that happens to fall in the same
second, so the HDF5 files are also checked directly: no object in them may carry
a creation/modification/access/change time. And no artifact may contain the
temporary folders' names (the inputs' or outputs' folder), the home folder, or,
in its text files, the host name.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import torch

from snn2hw.frontends.checkpoint import save_checkpoint
from snn2hw.models import build_model

REPO = Path(__file__).resolve().parents[2]
CKPT = REPO / "examples" / "digits_lif.pt"

#: file name -> the one pattern that may differ between two runs (must match exactly once)
TIMESTAMP_FIELDS = {
    "report.json": rb'"created": "[^"]*"',
    "manifest.json": rb'"created": "[^"]*"',
    "report.md": rb"created \d{4}-\d\d-\d\dT[0-9:+.-]+",
    "report.html": rb"created \d{4}-\d\d-\d\dT[0-9:+.-]+",
}
HDF5_SUFFIXES = (".s2h", ".nir", ".net")


def _run_twice(tmp_path, name, args, inputs, envs=({}, {})):
    """Run ``snn2hw *args`` in two processes at once; return the two output folders.

    ``inputs``: files copied into each run's own ``in`` folder; in ``args`` the
    strings ``{in}`` and ``{out}`` stand for that run's input and output folders
    and ``{tag}`` for a name that differs between the runs (``first`` and ``second_run``);
    ``envs``: extra environment variables of the first and the second run.
    """
    procs, outs = [], []
    for seed, extra, tag in zip(("1", "2"), envs, ("first", "second_run")):
        root = tmp_path / f"{name}_hash{seed}"
        (root / "in").mkdir(parents=True)
        for f in inputs:
            shutil.copy(f, root / "in" / Path(f).name)
        out = root / "out"
        out.mkdir()
        argv = [str(a).replace("{in}", str(root / "in")).replace("{out}", str(out)).replace("{tag}", tag)
                for a in args]
        env = dict(os.environ, PYTHONHASHSEED=seed, **extra)
        procs.append(subprocess.Popen([sys.executable, "-m", "snn2hw", *argv], env=env, cwd=root,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs.append(out)
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, (args, stdout, stderr)
    return outs


def _hdf5_times(path):
    """``[(object, (atime, mtime, ctime, btime))]`` for every object of ``path`` that records a time."""
    found = []
    with h5py.File(path, "r") as f:
        names = ["/"]
        f.visit(names.append)
        for n in names:
            i = h5py.h5o.get_info(f[n].id)
            times = (i.atime, i.mtime, i.ctime, i.btime)
            if any(times):
                found.append((n, times))
    return found


def assert_same_outputs(a: Path, b: Path, expect=(), exact=False):
    """Every file under ``a`` and ``b`` is byte-identical but for its one documented timestamp
    (``exact``: that too, as with ``SOURCE_DATE_EPOCH``)."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for e in expect:
        assert Path(e) in files_a, (e, files_a)
    leaks = [str(a.parent), str(b.parent), str(a.parent.parent), os.path.expanduser("~")]
    host = socket.gethostname()
    for rel in files_a:
        x, y = (a / rel).read_bytes(), (b / rel).read_bytes()
        pattern = TIMESTAMP_FIELDS.get(rel.name)
        if pattern is not None and not exact:
            assert len(re.findall(pattern, x)) == 1 and len(re.findall(pattern, y)) == 1, rel
            x, y = re.sub(pattern, b"", x), re.sub(pattern, b"", y)
        assert x == y, f"{rel} differs between the two runs"
        for leak in leaks:
            assert leak.encode() not in x, f"{rel} contains the path {leak}"
        if rel.suffix in (".json", ".md", ".html") and len(host) >= 4:
            assert host.encode() not in x, f"{rel} contains the host name"
        if rel.suffix in HDF5_SUFFIXES:
            assert _hdf5_times(a / rel) == [], f"{rel}: HDF5 objects record times"
    return files_a


def test_hdf5_time_check_sees_tracked_times(tmp_path):
    """The HDF5 check above can fail: a dataset written with track_times=True is caught."""
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f.create_dataset("d", data=[1, 2, 3], track_times=True)
        f.create_dataset("e", data=[1, 2, 3])
    assert [n for n, _ in _hdf5_times(tmp_path / "t.h5")] == ["d"]


@pytest.fixture(scope="module")
def resnet_ckpt(tmp_path_factory):
    """A tiny residual net (Add nodes, the Lava residual sidecar) as a snn2hw checkpoint."""
    torch.manual_seed(0)
    m = build_model("resnet20", input_size=8, widths=(4, 4, 8, 8), blocks=(1, 1, 1))
    return save_checkpoint(tmp_path_factory.mktemp("res") / "res.pt", m, input_step=1 / 16, timesteps=4)


def test_convert_is_deterministic(tmp_path):
    a, b = _run_twice(tmp_path, "convert", ["convert", "{in}/digits_lif.pt", "--out", "{out}/m.s2h"], [CKPT])
    assert_same_outputs(a, b, expect=["m.s2h"])


def test_export_all_is_deterministic(tmp_path, resnet_ckpt):
    a, b = _run_twice(tmp_path, "export", ["export", "{in}/digits_lif.pt", "--format", "all", "--out", "{out}/e"],
                      [CKPT])
    files = assert_same_outputs(a, b, expect=["e/manifest.json", "e/ir/model.s2h", "e/lava/model.net",
                                              "e/lava/model.lava.json", "e/onnx/model_int.onnx",
                                              "e/onnx/model_float.onnx", "e/nir/model_int.nir"])
    assert len(files) >= 7
    a, b = _run_twice(tmp_path, "export_res", ["export", "{in}/res.pt", "--format", "all", "--out", "{out}/e"],
                      [resnet_ckpt])
    assert_same_outputs(a, b, expect=["e/manifest.json", "e/lava/model.net"])


def test_simulate_is_deterministic(tmp_path):
    a, b = _run_twice(tmp_path, "simulate", ["simulate", "{in}/digits_lif.pt", "--samples", "12", "--batch-size", "5",
                                             "--out", "{out}/r"], [CKPT])
    assert_same_outputs(a, b, expect=["r/report.json", "r/report.md", "r/report.html"])


@pytest.mark.slow
def test_train_and_compress_are_deterministic(tmp_path):
    """train (1 epoch, seed 0) and compress (magnitude, 1 fine-tune epoch): identical checkpoints."""
    a, b = _run_twice(tmp_path, "train", ["train", "--arch", "mlp", "--arch-kw", "hidden=[32,32]", "--epochs", "1",
                                          "--seed", "3", "--out", "{out}/m.pt"], [])
    assert_same_outputs(a, b, expect=["m.pt"])
    ck = torch.load(a / "m.pt", weights_only=True)
    assert ck["training"]["seed"] == 3 and "train_seconds" not in ck["metrics"]
    a, b = _run_twice(tmp_path, "compress", ["compress", "{in}/m.pt", "--method", "magnitude", "--ratio", "0.5",
                                             "--data", "digits", "--finetune-epochs", "1", "--samples", "8",
                                             "--out", "{out}/c.pt"], [a / "m.pt"])
    assert_same_outputs(a, b, expect=["c.pt"])
