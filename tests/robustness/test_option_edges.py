"""Option-value edges (issue 13, points 5 and 8): every numeric option of every command refuses a value
out of its range (NaN, infinities, 1e308, negatives, zero, too large) as a click usage error, exit 2,
before any work and without a traceback; special files given as inputs are "not a regular file";
deeply nested JSON/YAML and a lone surrogate in a YAML name are clean errors.

Each case stops at option parsing or at the first check, so the module runs in seconds.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from harness import REPO, run_cli, snapshot, check_outcome

CKPT = REPO / "examples" / "digits_lif.pt"

# (command and its required arguments with {ckpt}/{out}/{dir} placeholders, the bad option, its values)
EDGES = [
    (["train", "--arch", "mlp", "--out", "{out}.pt"], "--lr", ["-1", "nan", "inf", "-inf", "0", "1e308", "abc"]),
    (["train", "--arch", "mlp", "--out", "{out}.pt"], "--epochs", ["0", "-3", "1.5"]),
    (["train", "--arch", "mlp", "--out", "{out}.pt"], "--batch-size", ["0"]),
    (["train", "--arch", "mlp", "--out", "{out}.pt"], "-T", ["0"]),
    (["train", "--arch", "mlp", "--out", "{out}.pt"], "--seed", ["-1", str(2 ** 70)]),
    (["finetune", "{ckpt}", "--out", "{out}.pt"], "--lr", ["1e308", "nan", "-1", "0", "inf"]),
    (["finetune", "{ckpt}", "--out", "{out}.pt"], "--weight-decay", ["nan", "-1", "inf"]),
    (["finetune", "{ckpt}", "--out", "{out}.pt"], "--bn-l1", ["inf", "-0.5"]),
    (["finetune", "{ckpt}", "--out", "{out}.pt"], "--epochs", ["0"]),
    (["compress", "{ckpt}", "--method", "magnitude", "--out", "{out}.pt"], "--lr", ["nan", "1e308", "-1"]),
    (["compress", "{ckpt}", "--method", "magnitude", "--out", "{out}.pt"], "--ratio", ["nan", "inf"]),
    (["compress", "{ckpt}", "--method", "magnitude", "--out", "{out}.pt"], "--regen-ratio", ["nan"]),
    (["compress", "{ckpt}", "--method", "atlif", "--out", "{out}.pt"], "--lam", ["nan", "-1", "inf"]),
    (["compress", "{ckpt}", "--method", "qp-snn", "--out", "{out}.pt"], "--bits", ["0", "17", "-4"]),
    (["compress", "{ckpt}", "--method", "magnitude", "--out", "{out}.pt"], "--n-prune", ["-1"]),
    (["compress", "{ckpt}", "--method", "magnitude", "--out", "{out}.pt"], "--finetune-epochs", ["-1"]),
    (["compress", "{ckpt}", "--method", "magnitude", "--out", "{out}.pt"], "--samples", ["0"]),
    (["export", "{ckpt}", "--out", "{out}"], "--input-step", ["nan", "inf", "0", "-1", "1e999"]),
    (["export", "{ckpt}", "--out", "{out}"], "--samples", ["0"]),
    (["export", "{ckpt}", "--out", "{out}"], "-T", ["0", "-1"]),
    (["convert", "{ckpt}", "--out", "{out}.s2h"], "--input-step", ["nan", "-inf", "0"]),
    (["map", "{ckpt}"], "--input-step", ["inf", "nan"]),
    (["init", "--arch", "mlp", "--input-shape", "64", "--out", "{out}.pt"], "--input-step", ["nan", "0", "inf"]),
    (["simulate", "{ckpt}", "--out", "{out}"], "--samples", ["0", "-5"]),
    (["simulate", "{ckpt}", "--out", "{out}"], "-T", ["0"]),
    (["simulate", "{ckpt}", "--out", "{out}"], "--batch-size", ["0"]),
    (["simulate", "{ckpt}", "--out", "{out}"], "--max-accuracy-drop", ["nan", "inf", "-1"]),
    (["convert", "{ckpt}", "--out", "{out}.s2h"], "--max-accuracy-drop", ["nan", "-inf"]),
    (["export", "{ckpt}", "--out", "{out}"], "--max-accuracy-drop", ["inf"]),
    (["run-lava", "{dir}"], "--timeout", ["nan", "inf", "0"]),
    (["run-lava", "{dir}"], "--samples", ["0"]),
    (["run-lava", "{dir}"], "-T", ["0"]),
]
CASES = [(base, opt, v) for base, opt, values in EDGES for v in values]


def _fill(argv, work: Path):
    return [a.format(ckpt=CKPT, out=work / "out", dir=work) for a in argv]


def assert_usage_error(res, option):
    text = res.out + res.err
    assert "Traceback" not in text, text[-3000:]
    assert res.code == 2, (res.code, text[-2000:])
    assert "Usage:" in res.err and "Error: Invalid value" in res.err, res.err[-1000:]
    assert option in res.err, res.err[-1000:]


@pytest.mark.parametrize("base,opt,value", CASES, ids=[f"{b[0]} {o} {v}" for b, o, v in CASES])
def test_numeric_option_edge_is_a_usage_error(tmp_path, base, opt, value):
    before = snapshot(tmp_path)
    # the bad option first: click checks options in the order given, so this stops before anything else
    res = run_cli([base[0], opt, value, *_fill(base[1:], tmp_path)])  # click takes "-1" as the option's value
    assert_usage_error(res, opt)
    assert snapshot(tmp_path) == before  # nothing written


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs fifos")
@pytest.mark.parametrize("suffix", [".pt", ".s2h", ".nir"])
@pytest.mark.parametrize("command", ["inspect", "convert"])
def test_fifo_input_is_not_a_regular_file(tmp_path, command, suffix):
    work = tmp_path / "w"
    work.mkdir()
    src = _fifo(tmp_path / f"model{suffix}")
    before = snapshot(work)
    argv = [command, src] + (["--out", work / "m.s2h"] if command == "convert" else [])
    res = run_cli(argv)
    check_outcome(res, work, before, names=[str(src)])
    assert "not a regular file" in res.err and "no such file" not in res.err, res.err
    assert stat.S_ISFIFO(os.stat(src).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/urandom"), reason="needs /dev/urandom")
def test_dev_urandom_input_is_not_a_regular_file(tmp_path):
    before = snapshot(tmp_path)
    res = run_cli(["inspect", "/dev/urandom"])
    check_outcome(res, tmp_path, before, names=["/dev/urandom"])
    assert "not a regular file" in res.err, res.err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs fifos")
def test_fifo_as_npz_data_is_not_a_regular_file(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    src = _fifo(tmp_path / "data.npz")
    before = snapshot(work)
    res = run_cli(["convert", CKPT, "--data", src, "--out", work / "m.s2h"])
    check_outcome(res, work, before, names=[str(src)])
    assert "not a regular file" in res.err, res.err


def test_deeply_nested_report_json_is_a_clean_error(tmp_path):
    src = tmp_path / "report.json"
    src.write_text("[" * 200_000 + "]" * 200_000)
    work = tmp_path / "w"
    work.mkdir()
    before = snapshot(work)
    res = run_cli(["report", src])
    text = res.out + res.err
    assert "Traceback" not in text, text[-3000:]
    assert res.code == 2 and res.err.startswith("error:"), (res.code, res.err[-1000:])
    assert snapshot(work) == before


def test_deeply_nested_profile_yaml_is_a_clean_error(tmp_path):
    src = tmp_path / "deep.yaml"
    src.write_text("name: " + "[" * 20_000 + "]" * 20_000 + "\n")
    res = run_cli(["profiles", "show", src])
    text = res.out + res.err
    assert "Traceback" not in text, text[-3000:]
    assert res.code == 2 and res.err.startswith("error:"), (res.code, res.err[-1000:])


def test_surrogate_in_yaml_name_is_a_clean_error(tmp_path):
    src = tmp_path / "p.yaml"
    shutil.copy(REPO / "hw_profiles" / "loihi.yaml", src)
    text = src.read_text()
    src.write_text('name: "bad\\udcff"\n' + "\n".join(ln for ln in text.splitlines() if not ln.startswith("name:")))
    work = tmp_path / "w"
    work.mkdir()
    before = snapshot(work)
    for argv in (["profiles", "show", src], ["convert", CKPT, "--profile", src, "--out", work / "m.s2h"],
                 ["simulate", CKPT, "--profile", src, "--samples", "1", "--out", work / "sim"]):
        res = run_cli(argv)
        check_outcome(res, work, before, names=[str(src)])
        assert "not valid Unicode" in res.err, res.err


def test_deeply_nested_arch_kw_json_is_a_clean_error(tmp_path):
    before = snapshot(tmp_path)
    res = run_cli(["train", "--arch", "mlp", "--epochs", "1", "--arch-kw", "hidden=" + "[" * 100_000 + "]" * 100_000,
                   "--out", tmp_path / "m.pt"])
    check_outcome(res, tmp_path, before)
