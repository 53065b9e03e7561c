"""`snn2hw export` and `snn2hw run-lava` as a user runs them, with bad inputs."""
import os
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from test_cli import assert_user_error, run  # noqa: E402  (tests/cli is on sys.path via conftest)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "digits"
    res = run("export", REPO / "examples" / "digits_lif.pt", "--format", "all", "--profile", "loihi", "--out", out)
    assert res.returncode == 0, res.stderr
    return out


def test_export_all_writes_every_format(exported):
    import json
    man = json.loads((exported / "manifest.json").read_text())
    paths = {f["path"] for f in man["files"]}
    assert {"ir/model.s2h", "onnx/model_int.onnx", "onnx/model_float.onnx", "nir/model_float.nir",
            "nir/model_int.nir", "lava/model.net"} <= paths
    assert man["profile"] == "loihi" and man["formats"] == ["nir", "lava", "onnx"]


def test_run_lava_matches_reference(exported):
    res = run("run-lava", exported, "--data", "digits", "--samples", "30")
    assert res.returncode == 0, res.stderr
    lava = float(re.search(r"Lava accuracy\s+([0-9.]+)", res.stdout).group(1))
    ref = float(re.search(r"reference int accuracy\s+([0-9.]+)", res.stdout).group(1))
    assert lava == ref
    assert "identical to the reference integer simulator: yes" in res.stdout


def test_missing_lava_environment(exported):
    env_res = run_env("run-lava", exported, "--samples", "2", extra={"SNN2HW_LAVA_PYTHON": "/nonexistent/python"})
    assert_user_error(env_res, "Lava environment is missing", "make lava-venv")


def run_env(*args, extra):
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        return run(*args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_corrupt_net_file(exported, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(exported, bad)
    (bad / "lava" / "model.net").write_bytes(np.random.default_rng(1).bytes(2000))
    assert_user_error(run("run-lava", bad, "--samples", "2"), "model.net", "sha256 differs")
    with h5py.File(bad / "lava" / "model.net", "w") as f:
        f.create_group("something")
    assert_user_error(run("run-lava", bad, "--samples", "2"), "model.net", "sha256 differs")
    (bad / "manifest.json").unlink()
    assert_user_error(run("run-lava", bad, "--samples", "2"), "manifest.json", "missing")


def test_truncated_and_random_model_files(exported, tmp_path):
    s2h = (exported / "ir" / "model.s2h").read_bytes()
    trunc = tmp_path / "t.s2h"
    trunc.write_bytes(s2h[: len(s2h) // 2])
    out = tmp_path / "o"
    assert_user_error(run("export", trunc, "--format", "onnx", "--out", out), "t.s2h")
    assert not out.exists()
    rnd = tmp_path / "r.nir"
    rnd.write_bytes(np.random.default_rng(2).bytes(3000))
    assert_user_error(run("export", rnd, "--format", "onnx", "--out", out), "r.nir")
    nir_bytes = (exported / "nir" / "model_float.nir").read_bytes()
    tn = tmp_path / "tn.nir"
    tn.write_bytes(nir_bytes[: len(nir_bytes) // 3])
    assert_user_error(run("inspect", tn), "tn.nir")
    assert not out.exists()


def test_export_bad_format(tmp_path):
    out = tmp_path / "o"
    assert_user_error(run("export", REPO / "examples" / "digits_lif.pt", "--format", "tflite", "--out", out),
                      "tflite", out=None)
    assert not out.exists()


# ----------------------------------------------------------------------------- issue 15: lava-dl netx
@pytest.mark.lava
def test_run_lava_netx_runtime_with_probe(exported, lava_env):
    """The exported digits model loaded by lava-dl's own netx.hdf5.Network: outputs and every layer's
    u, v and spikes identical to the reference integer simulator."""
    import json
    man = json.loads((exported / "lava" / "model.lava.json").read_text())
    assert man["netx_compatible"] and man["netx_loading"]["reset_offset"] == 1
    res = run("run-lava", exported, "--runtime", "netx", "--probe", "--samples", "10")
    assert res.returncode == 0, res.stderr
    assert "lava-dl 0.6.0 netx.hdf5.Network" in res.stdout
    assert "identical to the reference integer simulator: yes" in res.stdout
    rows = [ln.split() for ln in res.stdout.splitlines() if re.match(r"^(sn\d|readout)\s", ln)]
    assert len(rows) == 3 and all(a == b for r in rows for a, b in (c.split("/") for c in r[1:])), res.stdout


@pytest.mark.lava
def test_export_refuses_netx_incompatible_unless_allowed(tmp_path, lava_env):
    """An integer graph whose folded dense weights leave netx's range: export exits 2 naming the layer and
    the numbers, nothing written; --allow-netx-incompatible writes it with a loud warning, netx then
    mis-runs it (run-lava --runtime netx exits 1) while our runner is exact."""
    import snn2hw
    from snn2hw.ir.io import save_graph
    sys_path = str(REPO / "tests" / "exporters")
    import sys
    sys.path.insert(0, sys_path)
    try:
        from test_lava import _dense_net
    finally:
        sys.path.remove(sys_path)
    gi = snn2hw.convert(_dense_net(np.random.default_rng(1005))[0], "loihi").graph   # not quantized for netx
    save_graph(gi, tmp_path / "g.s2h")
    out = tmp_path / "strict"
    res = run("export", tmp_path / "g.s2h", "--format", "lava", "--out", out)
    assert_user_error(res, "netx would load model.net and run it wrongly", "'fc0'", "[-256, 254]",
                      "--allow-netx-incompatible", out=out)
    out = tmp_path / "loose"
    res = run("export", tmp_path / "g.s2h", "--format", "lava", "--out", out, "--allow-netx-incompatible")
    assert res.returncode == 0, res.stderr
    assert "WARNING" in res.stderr and "--runtime ours" in res.stderr
    res = run("run-lava", out, "--data", "random:density=0.5,seed=1", "--samples", "6", "--runtime", "netx")
    assert res.returncode == 1 and "identical to the reference integer simulator: NO" in res.stdout, res.stdout
    res = run("run-lava", out, "--data", "random:density=0.5,seed=1", "--samples", "6")
    assert res.returncode == 0 and "identical to the reference integer simulator: yes" in res.stdout, res.stderr
