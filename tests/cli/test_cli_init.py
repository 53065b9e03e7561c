"""``snn2hw init`` and ``--data random`` on the command line: an untrained checkpoint that converts, simulates
and exports like a trained one; bad options exit 2 naming the option, with nothing written."""
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from snn2hw.frontends.checkpoint import save_checkpoint
from snn2hw.ir.io import load_graph
from snn2hw.models import build_model


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "snn2hw", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env=dict(os.environ))


def run_here(capsys, *args):
    """The CLI in this process (``snn2hw.cli.main``, as the console script runs it): for the error cases,
    which need no fresh interpreter. An exception other than the CLI's exit fails the test."""
    from snn2hw.cli import main
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return SimpleNamespace(returncode=e.value.code, stdout=out.out, stderr=out.err)


def user_error(res, *needles, out=None):
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout, res.stderr
    assert res.stderr.startswith("error:"), res.stderr
    for n in needles:
        assert n in res.stderr, (n, res.stderr)
    if out is not None:
        out = Path(out)
        assert not out.exists()
        assert not [p for p in out.parent.iterdir() if p.name.startswith("." + out.name)]


INIT = ("init", "--arch", "digits_conv", "--input-shape", "2,8,8", "--classes", "4")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("init") / "dc.pt"
    res = run(*INIT, "--seed", "5", "--out", out)
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout and "firing rate" in res.stdout and "untrained" in res.stdout
    return out


def test_init_is_seeded(ckpt, tmp_path):
    again, other = tmp_path / "again.pt", tmp_path / "other.pt"
    assert run(*INIT, "--seed", "5", "--out", again).returncode == 0
    assert run(*INIT, "--seed", "6", "--out", other).returncode == 0
    assert again.read_bytes() == ckpt.read_bytes()
    a = torch.load(ckpt, weights_only=True)
    b = torch.load(other, weights_only=True)
    assert a["input_shape"] == [2, 8, 8] and a["num_classes"] == 4 and a["timesteps"] == 4
    assert a["training"]["untrained"] is True and a["training"]["seed"] == 5
    assert not torch.equal(a["state_dict"]["fc.inner.1.weight"], b["state_dict"]["fc.inner.1.weight"])


def test_init_converts_and_simulates_on_random_data(ckpt, tmp_path):
    s2h = tmp_path / "m.s2h"
    res = run("convert", ckpt, "--out", s2h)
    assert res.returncode == 0, res.stderr
    assert load_graph(s2h).nodes["input"].step == pytest.approx(1 / 255)
    rep = tmp_path / "rep"
    res = run("simulate", ckpt, "--data", "random:density=0.3,seed=2", "--samples", "6", "--out", rep)
    assert res.returncode == 0, res.stderr
    r = json.loads((rep / "report.json").read_text())
    assert r["inputs"]["data"] == "random(density=0.3, seed=2)" and r["inputs"]["samples"] == 6
    assert r["accuracy"] is None  # no labels: accuracy does not apply
    rates = [lay["firing_rate"] for lay in r["runs"][0]["layers"] if lay["layer"].startswith("sn")]
    assert len(rates) == 2 and all(0.02 < v < 0.6 for v in rates), rates
    assert "random(density=0.3, seed=2)" in (rep / "report.md").read_text()


def test_export_with_random_data(ckpt, tmp_path):
    out = tmp_path / "e"
    res = run("export", ckpt, "--format", "onnx,sanafe", "--data", "random:seed=1", "--samples", "2", "--out", out)
    assert res.returncode == 0, res.stderr
    assert (out / "sanafe" / "net.yaml").is_file() and (out / "onnx" / "model_int.onnx").is_file()


def test_convert_calibrates_a_missing_step_from_random_data(tmp_path):
    """A checkpoint without an input step: --data random gives the step of inputs in [0, 1] (8-bit: 1/255)."""
    torch.manual_seed(0)
    ck = save_checkpoint(tmp_path / "nostep.pt", build_model("mlp", in_features=12, hidden=[8]), timesteps=4)
    res = run("convert", ck, "--data", "random", "--out", tmp_path / "m.s2h")
    assert res.returncode == 0, res.stderr
    assert load_graph(tmp_path / "m.s2h").nodes["input"].step == pytest.approx(1 / 255)


@pytest.mark.parametrize("args, needles", [
    (("--arch", "vgg17", "--input-shape", "3,32,32"), ("unknown architecture 'vgg17'", "vgg16", "resnet19")),
    (("--arch", "vgg16", "--input-shape", "3,32"), ("input shape",)),
    (("--arch", "vgg16", "--input-shape", "3;32;32"), ("--input-shape",)),
    (("--arch", "vgg16", "--input-shape", "3,32,32", "--classes", "0"), ("classes",)),
    (("--arch", "vgg16", "--input-shape", "3,30,30"), ("input shape", "divisible")),
    (("--arch", "digits_conv", "--input-shape", "1,8,4"), ("input shape", "H = W")),
    (("--arch", "mlp", "--input-shape", "64", "--seed", "-3"), ("seed",)),
    (("--arch", "mlp", "--input-shape", "64", "--arch-kw", "in_features=3"), ("arch_kwargs",)),
])
def test_init_errors(tmp_path, capsys, args, needles):
    out = tmp_path / "x.pt"
    user_error(run_here(capsys, "init", *args, "--out", out), *needles, out=out)


def test_init_leaves_an_existing_file_alone_on_error(tmp_path, capsys):
    out = tmp_path / "x.pt"
    out.write_bytes(b"before")
    user_error(run_here(capsys, "init", "--arch", "vgg16", "--input-shape", "3,31,31", "--out", out), "input shape")
    assert out.read_bytes() == b"before"


@pytest.mark.parametrize("args, needles", [
    (("simulate", "{ck}", "--data", "random:dens=0.2", "--out", "{tmp}/r"), ("dens", "density, seed")),
    (("simulate", "{ck}", "--data", "random:density=2", "--out", "{tmp}/r"), ("density",)),
    (("train", "--arch", "mlp", "--data", "random", "--out", "{tmp}/t.pt"), ("without labels",)),
])
def test_random_data_errors(ckpt, tmp_path, capsys, args, needles):
    argv = [a.replace("{ck}", str(ckpt)).replace("{tmp}", str(tmp_path)) for a in args]
    user_error(run_here(capsys, *argv), *needles)
    assert not (tmp_path / "r").exists() and not (tmp_path / "t.pt").exists()


@pytest.mark.lava
def test_run_lava_on_random_data(ckpt, tmp_path, lava_env):
    out = tmp_path / "e"
    assert run("export", ckpt, "--format", "lava", "--out", out).returncode == 0
    res = run("run-lava", out, "--data", "random:density=0.3", "--samples", "3")
    assert res.returncode == 0, res.stderr
    assert "not applicable" in res.stdout and "identical to the reference integer simulator: yes" in res.stdout
