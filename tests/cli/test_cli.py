"""The CLI end to end, as a user runs it: results on good input, one-paragraph errors on bad input.

Every bad input must exit with status 2, print ``error: ...`` naming the thing and
what was expected, print no traceback and leave no output file behind.
"""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from snn2hw.frontends.checkpoint import save_checkpoint
from snn2hw.ir.io import load_graph
from snn2hw.models import build_model

HERE = Path(__file__).resolve().parent


def run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(HERE / "fixtures") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "snn2hw", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    torch.manual_seed(0)
    m = build_model("digits_conv")
    return save_checkpoint(d / "m.pt", m, input_step=1 / 16, timesteps=4, dataset="digits")


def assert_user_error(res, *needles, out=None):
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr
    assert res.stderr.startswith("error:"), res.stderr
    for n in needles:
        assert n in res.stderr, (n, res.stderr)
    if out is not None:
        assert not Path(out).exists()
        leftovers = [p for p in Path(out).parent.iterdir() if p.name.startswith("." + Path(out).name)]
        assert not leftovers, leftovers


def test_convert_and_inspect(ckpt, tmp_path):
    out = tmp_path / "m.s2h"
    res = run("convert", ckpt, "--profile", "loihi", "--out", out)
    assert res.returncode == 0, res.stderr
    g = load_graph(out)
    assert g.metadata["profile"] == "loihi"
    assert all(n.weight_int is not None for n in g.nodes.values() if hasattr(n, "weight_int"))
    res = run("inspect", out)
    assert res.returncode == 0, res.stderr
    assert "quantized for loihi" in res.stdout and "Conv2d" in res.stdout and "int vth" in res.stdout
    res = run("inspect", ckpt)
    assert "BatchNorm" in res.stdout and "float" in res.stdout


def test_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    out = tmp_path / "o.s2h"
    assert_user_error(run("convert", bad, "--out", out), str(bad), "not a readable PyTorch checkpoint", out=out)


def test_not_a_checkpoint(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello\n")
    out = tmp_path / "o.s2h"
    assert_user_error(run("convert", txt, "--out", out), "notes.txt", out=out)
    assert_user_error(run("inspect", tmp_path / "missing.pt"), "no such")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > " + str(Path(os.environ.get("TMPDIR", "/tmp")) / "snn2hw_pwned"),))


def test_pickle_that_needs_code_execution_is_refused(tmp_path):
    marker = Path(os.environ.get("TMPDIR", "/tmp")) / "snn2hw_pwned"
    marker.unlink(missing_ok=True)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "snn2hw-checkpoint", "payload": _Evil()}, evil)
    out = tmp_path / "o.s2h"
    assert_user_error(run("convert", evil, "--out", out), "evil.pt", "code execution", out=out)
    assert not marker.exists(), "the pickle was executed"


def test_unknown_arch(tmp_path):
    p = tmp_path / "u.pt"
    torch.save({"format": "snn2hw-checkpoint", "version": 1, "arch": "resnet9000", "arch_kwargs": {},
                "state_dict": {}}, p)
    out = tmp_path / "o.s2h"
    assert_user_error(run("convert", p, "--out", out), "resnet9000", "digits_conv", out=out)
    assert_user_error(run("train", "--arch", "nope", "--epochs", "1", "--out", tmp_path / "t.pt"), "nope",
                      "digits_conv", out=tmp_path / "t.pt")


def test_unsupported_layer(tmp_path):
    p = tmp_path / "sd.pt"
    from user_models import with_maxpool  # noqa: E402  (fixtures on sys.path via conftest)
    torch.save(with_maxpool().state_dict(), p)
    out = tmp_path / "o.s2h"
    assert_user_error(run("convert", p, "--model", "user_models:with_maxpool", "--out", out),
                      "features.1", "MaxPool2d", "Supported", out=out)


def test_plain_state_dict_needs_model_factory(tmp_path):
    from user_models import small
    p = tmp_path / "sd.pt"
    torch.save(small().state_dict(), p)
    out = tmp_path / "o.s2h"
    assert_user_error(run("convert", p, "--out", out), "plain state_dict", "--model", out=out)
    # with the factory it converts (calibration-free: the input step is unknown, so quantize asks for it)
    res = run("convert", p, "--model", "user_models:small", "--out", out)
    assert_user_error(res, "input", "step", out=out)
    res = run("convert", p, "--model", "user_models:small", "--data", "digits", "--out", out)
    assert res.returncode == 0, res.stderr
    assert load_graph(out).nodes["input"].step == 1 / 16


def test_unknown_profile(ckpt, tmp_path):
    out = tmp_path / "o.s2h"
    assert_user_error(run("convert", ckpt, "--profile", "loihi9", "--out", out), "loihi9", "loihi", out=out)


def test_bad_profile_yaml_names_field(ckpt, tmp_path):
    y = tmp_path / "chip.yaml"
    y.write_text((Path(__file__).resolve().parents[2] / "hw_profiles" / "loihi.yaml").read_text()
                 .replace("weight_bits: 8", "weight_bits: eight"))
    out = tmp_path / "o.s2h"
    assert_user_error(run("convert", ckpt, "--profile", y, "--out", out), "formats.weight_bits", out=out)


def test_existing_output_survives_a_failed_convert(ckpt, tmp_path):
    out = tmp_path / "keep.s2h"
    out.write_bytes(b"previous artifact")
    assert_user_error(run("convert", ckpt, "--profile", "nope", "--out", out), "nope")
    assert out.read_bytes() == b"previous artifact"
