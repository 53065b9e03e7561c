"""Output targets that must never be replaced (issue 13, point 2).

Every command that writes is given, as its output, a fifo, a socket, a symbolic link to
``/dev/null``, to a fifo and to nothing, ``/dev/null`` itself, and a folder (file outputs)
or a regular file (folder outputs); folder outputs also get a fifo where a file inside them
goes. Each must exit 2 with ``error: ...`` naming the path before any work, leave the node as
it was (same kind, same link target; ``/dev/null`` still a character device) and leave no
file, temporary or not (``harness.check_outcome``). The API writers (``atomic_path``,
``commit_files``, ``export``, ``write_report``) refuse the same way; a symbolic link to a
regular file is followed (the file is replaced, the link stays).

Safety: were the check ever lost, these tests (often run as root) would rename a file onto
``/dev/null``. ``no_renames_in_dev`` makes every rename that touches ``/dev`` raise instead,
in this process and in the one real process started here, so a regression fails the test
and cannot replace the device.
"""
from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from harness import PYTHON, REPO, check_outcome, run_cli, snapshot, temp_leftovers

pytestmark = pytest.mark.timeout(120)

CKPT = REPO / "examples" / "digits_lif.pt"
DEV_NULL = "/dev/null"

#: command -> (argv before the output option, output option, kind of output); ``{report}`` is a report.json
FILE_COMMANDS = {
    "convert": (["convert", CKPT], "--out"),
    "train": (["train", "--arch", "mlp", "--epochs", "1"], "--out"),
    "compress": (["compress", CKPT, "--method", "magnitude", "--ratio", "0.5", "--data", "digits"], "--out"),
    "finetune": (["finetune", CKPT, "--epochs", "1"], "--out"),
    "init": (["init", "--arch", "mlp", "--input-shape", "64"], "--out"),
    "map": (["map", CKPT], "--json"),
    "report": (["report", "{report}", "--format", "md"], "--out"),
}
FOLDER_COMMANDS = {
    "export": (["export", CKPT], "--out"),
    "simulate": (["simulate", CKPT, "--samples", "4"], "--out"),
    "demo": (["demo"], "--out"),
}
#: a file each folder command writes inside its folder, made a fifo in the ``inner_fifo`` case
INNER = {"export": "manifest.json", "simulate": "report.json", "demo": "report/report.html"}


def _refuse_dev(real):
    def rename(src, dst, *args, **kwargs):
        for p in (src, dst):
            if os.path.realpath(p).startswith("/dev/"):
                raise AssertionError(f"a rename touching {p} was attempted (the output check is missing)")
        return real(src, dst, *args, **kwargs)
    return rename


@pytest.fixture(autouse=True)
def no_renames_in_dev(monkeypatch):
    monkeypatch.setattr(os, "replace", _refuse_dev(os.replace))
    monkeypatch.setattr(os, "rename", _refuse_dev(os.rename))


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _socket(p: Path) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(p))
    s.close()  # the node stays


def _link_null(p: Path) -> None:
    os.symlink(DEV_NULL, p)


def _link_fifo(p: Path) -> None:
    os.mkfifo(p.with_name(p.name + ".target"))
    os.symlink(p.name + ".target", p)


def _dangling(p: Path) -> None:
    os.symlink(p.name + ".nowhere", p)


def _folder(p: Path) -> None:
    p.mkdir()


def _regular(p: Path) -> None:
    p.write_bytes(b"not a folder\n")


COMMON = {"fifo": _fifo, "socket": _socket, "link_to_dev_null": _link_null, "link_to_fifo": _link_fifo,
          "dangling_link": _dangling}
FILE_TARGETS = {**COMMON, "folder": _folder}
FOLDER_TARGETS = {**COMMON, "regular_file": _regular}


def node(path) -> tuple:
    """What is at ``path``: its file type, its link target (links) and the type the link resolves to."""
    st = os.lstat(path)
    if not stat.S_ISLNK(st.st_mode):
        return (stat.S_IFMT(st.st_mode), None, None)
    try:
        to = stat.S_IFMT(os.stat(path).st_mode)
    except FileNotFoundError:
        to = None
    return (stat.S_IFLNK, os.readlink(path), to)


def _argv(cmd_table, cmd, target, report_file):
    head, opt = cmd_table[cmd]
    return [str(report_file) if a == "{report}" else a for a in head] + [opt, target]


@pytest.fixture(scope="module")
def report_file(seeds):
    return seeds / "sim" / "report.json"


def _refused(argv, work: Path, target, before_node) -> None:
    before = snapshot(work)
    res = run_cli(argv)
    check_outcome(res, work, before, names=[str(target)])
    assert node(target) == before_node, f"{target} changed from {before_node} to {node(target)}"
    assert "cannot write" in res.err


@pytest.mark.parametrize("target", list(FILE_TARGETS))
@pytest.mark.parametrize("cmd", list(FILE_COMMANDS))
def test_file_output_refused(cmd, target, tmp_path, report_file, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a command might write by default lands where check_outcome looks
    out = tmp_path / "out"
    FILE_TARGETS[target](out)
    _refused(_argv(FILE_COMMANDS, cmd, out, report_file), tmp_path, out, node(out))


@pytest.mark.parametrize("target", list(FOLDER_TARGETS) + ["inner_fifo"])
@pytest.mark.parametrize("cmd", list(FOLDER_COMMANDS))
def test_folder_output_refused(cmd, target, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    if target == "inner_fifo":
        inner = out / INNER[cmd]
        inner.parent.mkdir(parents=True)
        os.mkfifo(inner)
        _refused(_argv(FOLDER_COMMANDS, cmd, out, None), tmp_path, inner, node(inner))
    else:
        FOLDER_TARGETS[target](out)
        _refused(_argv(FOLDER_COMMANDS, cmd, out, None), tmp_path, out, node(out))


@pytest.mark.parametrize("cmd", list(FILE_COMMANDS) + list(FOLDER_COMMANDS))
def test_dev_null_refused(cmd, tmp_path, report_file, monkeypatch):
    """``/dev/null`` is refused (no discard mode); the check runs before anything touches it."""
    monkeypatch.chdir(tmp_path)
    table = FILE_COMMANDS if cmd in FILE_COMMANDS else FOLDER_COMMANDS
    before = node(DEV_NULL)
    assert before[0] == stat.S_IFCHR
    _refused(_argv(table, cmd, DEV_NULL, report_file), tmp_path, DEV_NULL, before)
    assert not list(Path("/dev").glob(".null.*")), "a temporary file was left in /dev"


def test_dash_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run_cli(["convert", CKPT, "--out", "-"])
    check_outcome(res, tmp_path, {}, names=["-"])
    assert "standard output" in res.err


def test_dev_null_refused_in_a_real_process():
    """The same in a process of its own (as the issue's report ran it), renames into /dev refused as above."""
    code = ("import os, sys; sys.path.insert(0, sys.argv[1]); import test_output_targets as t; "
            "os.replace, os.rename = t._refuse_dev(os.replace), t._refuse_dev(os.rename); "
            "from snn2hw.cli import main; main(sys.argv[2:])")
    p = subprocess.run([PYTHON, "-c", code, str(Path(__file__).parent), "convert", str(CKPT), "--out", DEV_NULL],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert p.returncode == 2 and p.stderr.startswith("error:") and DEV_NULL in p.stderr, p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    assert stat.S_ISCHR(os.stat(DEV_NULL).st_mode)


# ----------------------------------------------------------------------------- the API writers
def test_api_writers_refuse(tmp_path, int_graph, seeds):
    """``save_graph`` (atomic_path), ``write_report`` (commit_files) and ``export`` refuse a fifo in the way."""
    from snn2hw.errors import OutputTargetError
    from snn2hw.exporters.export import export
    from snn2hw.ir.io import save_graph
    from snn2hw.report.write import read_report, write_report
    from snn2hw.util.atomic import check_output_target
    fifo = tmp_path / "g.s2h"
    os.mkfifo(fifo)
    with pytest.raises(OutputTargetError, match="fifo"):
        save_graph(int_graph, fifo)
    rep_dir = tmp_path / "rep"
    rep_dir.mkdir()
    os.mkfifo(rep_dir / "report.md")
    with pytest.raises(OutputTargetError, match="report.md"):
        write_report(read_report(seeds / "sim" / "report.json"), rep_dir)
    exp = tmp_path / "exp"
    exp.mkdir()
    os.mkfifo(exp / "nir")
    with pytest.raises(OutputTargetError, match="nir: it is a fifo"):
        export(int_graph, exp, formats="nir")
    with pytest.raises(OutputTargetError, match="character device"):
        check_output_target(DEV_NULL)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and stat.S_ISFIFO(os.lstat(rep_dir / "report.md").st_mode)
    assert stat.S_ISFIFO(os.lstat(exp / "nir").st_mode)
    assert sorted(p.name for p in rep_dir.iterdir()) == ["report.md"] and not temp_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp", "g.s2h", "rep"]


def test_link_to_regular_file_is_followed(tmp_path, int_graph):
    """A symbolic link to a regular file: the file it points to is replaced, the link stays a link."""
    from snn2hw.ir.io import load_graph, save_graph
    real = tmp_path / "real.s2h"
    real.write_bytes(b"old")
    link = tmp_path / "link.s2h"
    os.symlink("real.s2h", link)
    save_graph(int_graph, link)
    assert os.path.islink(link) and os.readlink(link) == "real.s2h"
    assert load_graph(real).metadata.get("profile") == int_graph.metadata.get("profile")
    assert not temp_leftovers(tmp_path)


@pytest.fixture(scope="module")
def int_graph(seeds):
    from snn2hw.ir.io import load_graph
    return load_graph(seeds / "model_int.s2h")
