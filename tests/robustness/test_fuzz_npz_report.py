"""``--data FILE.npz`` (convert, compress, finetune, run-lava) and ``snn2hw report report.json``
on truncated, bit-flipped, random and structurally wrong files."""
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness import check_outcome, flip_bits, run_cli, snapshot

CASES = 30


def _npz_argv(cmd, f, work, seeds):
    return {"convert": (["convert", seeds / "model.pt", "--data", f, "--out", work / "o.s2h"], ("o.s2h",)),
            "compress": (["compress", seeds / "model.pt", "--method", "magnitude", "--ratio", "0.5",
                          "--finetune-epochs", "0", "--samples", "8", "--data", f, "--out", work / "c.pt"], ("c.pt",)),
            "run-lava": (["run-lava", seeds / "export", "--data", f, "--samples", "2"], ())}[cmd]


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.sampled_from(("truncate", "random")), frac=st.floats(0, 1, exclude_max=True),
       junk=st.binary(max_size=1024), cmd=st.sampled_from(("convert", "compress", "run-lava")))
def test_broken_npz(seeds, how, frac, junk, cmd):
    data = (seeds / "data.npz").read_bytes()
    data = data[:int(frac * len(data))] if how == "truncate" else junk
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        f = work / "bad.npz"
        f.write_bytes(data)
        before = snapshot(work)
        argv, _ = _npz_argv(cmd, f, work, seeds)
        check_outcome(run_cli(argv), work, before, names=["bad.npz"])


NPZ_CASES = {
    "no_y": dict(x=np.zeros((4, 1, 8, 8))),
    "labels_float": dict(x=np.zeros((4, 1, 8, 8)), y=np.zeros(4)),
    "x_nan": dict(x=np.full((4, 1, 8, 8), np.nan), y=np.zeros(4, int)),
    "length_mismatch": dict(x=np.zeros((4, 1, 8, 8)), y=np.zeros(3, int)),
    "x_text": dict(x=np.array([["a"] * 4] * 4), y=np.zeros(4, int)),
    "step_negative": dict(x=np.zeros((4, 1, 8, 8)), y=np.zeros(4, int), input_step=np.float64(-1)),
}


@pytest.mark.parametrize("case", sorted(NPZ_CASES))
def test_wrong_npz_content(seeds, tmp_path, case):
    f = tmp_path / "bad.npz"
    np.savez(f, **NPZ_CASES[case])
    before = snapshot(tmp_path)
    for cmd in ("convert", "compress", "run-lava"):
        argv, _ = _npz_argv(cmd, f, tmp_path, seeds)
        check_outcome(run_cli(argv), tmp_path, before, names=["bad.npz"])
    argv = ["finetune", seeds / "model.pt", "--data", f, "--out", tmp_path / "f.pt"]
    check_outcome(run_cli(argv), tmp_path, before, names=["bad.npz"])


def _report_try(data: bytes, fmt: str, allow_success: bool):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        f = work / "report.json"
        f.write_bytes(data)
        before = snapshot(work)
        res = run_cli(["report", f, "--format", fmt, "--out", work / f"r.{fmt}"])
        check_outcome(res, work, before, names=["report.json"], allow_success=allow_success,
                      outputs=(f"r.{fmt}",))


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.sampled_from(("truncate", "flip", "random")), frac=st.floats(0, 1, exclude_max=True),
       bits=st.lists(st.integers(0, 10**9), min_size=1, max_size=8), junk=st.binary(max_size=512),
       fmt=st.sampled_from(("md", "html")))
def test_mutated_report_bytes(seeds, how, frac, bits, junk, fmt):
    data = (seeds / "sim" / "report.json").read_bytes()
    data = {"truncate": data[:int(frac * len(data))], "flip": flip_bits(data, bits), "random": junk}[how]
    _report_try(data, fmt, allow_success=how == "flip")


def _leaf_paths(o, path=()):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _leaf_paths(v, path + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from _leaf_paths(v, path + (i,))
    if path:
        yield path


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, 10**6), value=st.sampled_from([None, "x", -1, 1e308, [], {}, True]),
       delete=st.booleans(), fmt=st.sampled_from(("md", "html")))
def test_report_field_of_wrong_type(seeds, pick, value, delete, fmt):
    """Valid JSON, one field replaced or removed: rendered (exit 0) or refused naming the file (exit 2)."""
    rep = json.loads((seeds / "sim" / "report.json").read_text())
    paths = list(_leaf_paths(rep))
    path = paths[pick % len(paths)]
    cur = rep
    for k in path[:-1]:
        cur = cur[k]
    if delete and isinstance(cur, dict):
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        f = work / "report.json"
        f.write_text(json.dumps(rep))
        before = snapshot(work)
        res = run_cli(["report", f, "--format", fmt, "--out", work / "r.out"])
        check_outcome(res, work, before, allow_success=True, outputs=("r.out",))
        if res.code == 2:
            assert "report.json" in res.err
