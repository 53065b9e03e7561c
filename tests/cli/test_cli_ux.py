"""CLI UX (issue 13, points 5 and 7): help on every option, ``snn2hw models``, ``inspect`` naming the
formats it reads, ``demo`` leaving nothing behind, duplicate profiles run once, labelled progress bars,
factory errors named, and no raw traceback on the console for anything (the top-level handler)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import click
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "robustness"))
from harness import REPO, run_cli, snapshot  # noqa: E402

CKPT = REPO / "examples" / "digits_lif.pt"


def _walk(cmd, path):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _walk(sub, path + [name])


def _no_traceback(res):
    text = res.out + res.err
    assert "Traceback" not in text, text[-3000:]


def test_every_command_and_option_has_help():
    from snn2hw.cli import cli
    missing = []
    n = 0
    for path, cmd in _walk(cli, ["snn2hw"]):
        if not (cmd.help or "").strip():
            missing.append(" ".join(path) + " (command)")
        for p in cmd.params:
            if isinstance(p, click.Option):
                n += 1
                if not (p.help or "").strip():
                    missing.append(f"{' '.join(path)} {'/'.join(p.opts)}")
    assert n > 50
    assert not missing, "options without help text: " + ", ".join(missing)


def test_models_lists_every_architecture_with_its_kwargs():
    from snn2hw.models import describe_models, list_models
    rows = describe_models()
    assert [r["name"] for r in rows] == list_models()
    mlp = next(r for r in rows if r["name"] == "mlp")
    assert {"in_features", "hidden", "num_classes"} <= {k["name"] for k in mlp["kwargs"]}
    assert "beta" in {k["name"] for k in mlp["neuron_kwargs"]}
    res = run_cli(["models"])
    assert res.code == 0, res.err
    for name in list_models():
        assert re.search(rf"^{re.escape(name)}$", res.out, re.M), res.out
    assert "hidden=(128,)" in res.out and "--arch-kw" in res.out
    res = run_cli(["models", "--json"])
    assert res.code == 0 and '"mlp"' in res.out


def test_unknown_train_arch_points_at_the_list(tmp_path):
    res = run_cli(["train", "--arch", "nosuch", "--out", tmp_path / "m.pt"])
    _no_traceback(res)
    assert res.code == 2 and res.err.startswith("error:") and "mlp" in res.err


def test_inspect_help_names_the_formats_it_reads():
    res = run_cli(["inspect", "--help"])
    assert res.code == 0
    for fmt in (".pt", ".nir", ".s2h"):
        assert fmt in res.out, res.out


def test_demo_with_a_bad_checkpoint_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all" * 10)
    work = tmp_path / "w"
    work.mkdir()
    before = snapshot(work)
    res = run_cli(["demo", "--checkpoint", bad, "--out", work / "demo"])
    _no_traceback(res)
    assert res.code == 2 and res.err.startswith("error:") and "bad.pt" in res.err, res.err
    assert not (work / "demo").exists()
    assert snapshot(work) == before


def test_demo_with_a_missing_checkpoint_does_not_train(tmp_path):
    res = run_cli(["demo", "--checkpoint", tmp_path / "nope.pt", "--out", tmp_path / "demo"])
    _no_traceback(res)
    assert res.code == 2 and "no such checkpoint file" in res.err, res.err
    assert not (tmp_path / "demo").exists()


def test_duplicate_profiles_run_once(tmp_path, monkeypatch):
    import snn2hw.hw_profiles as hp
    import snn2hw.report.build as build
    from snn2hw.errors import Snn2hwError
    seen, loads = {}, []
    real_load = hp.load_profile

    def counting_load(p):
        loads.append(p)
        return real_load(p)

    def stop(graph, x, profiles, **kw):
        seen["profiles"] = list(profiles)
        raise Snn2hwError("stopped by the test")

    monkeypatch.setattr(hp, "load_profile", counting_load)
    monkeypatch.setattr(build, "build_report", stop)
    res = run_cli(["simulate", CKPT, "--profile", ",".join(["loihi"] * 200 + ["speck", " loihi"]),
                   "--samples", "1", "--out", tmp_path / "sim"])
    _no_traceback(res)
    assert "stopped by the test" in res.err, res.err
    assert seen["profiles"] == ["loihi", "speck"]
    assert len(loads) <= 4, loads  # each distinct profile checked once (not 201 times)


def test_event_progress_bar_is_labelled_with_profile_and_stage(capsys):
    import torch
    from snn2hw.frontends.load import load
    from snn2hw.report.build import profile_run
    g = load(CKPT)
    x = torch.rand(2, 2, *g.nodes[g.inputs[0]].shape)
    profile_run(g, x, None, "loihi", progress=True)
    err = capsys.readouterr().err
    assert "loihi: event simulation" in err, err[-500:]


def test_factory_that_raises_is_named(tmp_path, monkeypatch):
    (tmp_path / "boom_factory.py").write_text("def make():\n    raise RuntimeError('cannot build: no GPU here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sd = tmp_path / "sd.pt"
    import torch
    torch.save({"w": torch.zeros(2)}, sd)
    res = run_cli(["inspect", sd, "--model", "boom_factory:make"])
    _no_traceback(res)
    assert res.code == 2 and res.err.startswith("error:"), res.err
    assert "boom_factory:make" in res.err and "RuntimeError" in res.err and "no GPU here" in res.err, res.err


def test_unexpected_error_is_an_internal_error_with_a_log(tmp_path, monkeypatch):
    import snn2hw.models as models
    monkeypatch.setenv("SNN2HW_LOG_DIR", str(tmp_path / "logs"))

    def boom():
        raise ZeroDivisionError("a bug\nover two lines")

    monkeypatch.setattr(models, "describe_models", boom)
    res = run_cli(["models"])
    _no_traceback(res)
    assert res.code == 1, (res.code, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("internal error, please report: ZeroDivisionError: a bug over two lines; details in ")
    log = Path(lines[0].rsplit("details in ", 1)[1])
    assert log.parent == tmp_path / "logs" and log.is_file()
    text = log.read_text()
    assert "Traceback" in text and "ZeroDivisionError" in text and "def boom" not in res.err


def test_interrupt_and_user_errors_keep_their_handling(monkeypatch):
    import snn2hw.models as models

    def interrupt():
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "describe_models", interrupt)
    res = run_cli(["models"])
    assert res.code == 130 and "interrupted" in res.err, (res.code, res.err)


def test_lava_stderr_goes_to_a_log(tmp_path, monkeypatch):
    from snn2hw.exporters.lava import _stderr_note
    monkeypatch.setenv("SNN2HW_LOG_DIR", str(tmp_path))
    se = "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: lava says no\n"
    note = _stderr_note(se)
    assert "Traceback" not in note and "ValueError: lava says no" in note
    path = Path(note.rsplit(" is in ", 1)[1])
    assert path.read_text() == se
    assert _stderr_note("  \n") == ""
