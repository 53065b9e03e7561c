"""Truncated, bit-flipped and random-bytes checkpoints (.pt) through every command that reads one.

Property: exit 2 with an ``error:`` naming the file, or (a flip that leaves the file
valid) exit 0 with the declared output only; never a traceback, never exit 1, never a
half-written output, the input never modified. A flip that makes a weight NaN/Inf or
absurdly large must be refused (graph validation); the outcome check covers that,
since such a file cannot convert cleanly.
"""
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from harness import check_outcome, flip_bits, run_cli, run_cli_subprocess, snapshot

CASES = 40
COMMANDS = ("inspect", "convert", "export")


def _argv(cmd, f, work):
    if cmd == "inspect":
        return ["inspect", f], ()
    if cmd == "convert":
        return ["convert", f, "--out", work / "o.s2h"], ("o.s2h",)
    return ["export", f, "--format", "nir", "--out", work / "exp"], ("exp",)


def _try(seeds, data: bytes, cmd: str, allow_success: bool):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        f = work / "mutant.pt"
        f.write_bytes(data)
        before = snapshot(work)
        argv, outputs = _argv(cmd, f, work)
        res = run_cli(argv)
        check_outcome(res, work, before, names=["mutant.pt"], allow_success=allow_success, outputs=outputs)
        return res


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frac=st.floats(0, 1, exclude_max=True), cmd=st.sampled_from(COMMANDS))
def test_truncated_checkpoint(seeds, frac, cmd):
    data = (seeds / "model.pt").read_bytes()
    _try(seeds, data[:int(frac * len(data))], cmd, allow_success=False)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bits=st.lists(st.integers(0, 10**9), min_size=1, max_size=16), cmd=st.sampled_from(COMMANDS))
def test_bit_flipped_checkpoint(seeds, bits, cmd):
    _try(seeds, flip_bits((seeds / "model.pt").read_bytes(), bits), cmd, allow_success=True)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=4096), cmd=st.sampled_from(COMMANDS))
def test_random_bytes_checkpoint(seeds, data, cmd):
    _try(seeds, data, cmd, allow_success=False)


def test_truncated_checkpoint_as_a_user_runs_it(seeds, tmp_path):
    """The same contract through ``python -m snn2hw`` (the real process, exit status and stderr)."""
    data = (seeds / "model.pt").read_bytes()
    f = tmp_path / "cut.pt"
    f.write_bytes(data[: len(data) // 3])
    before = snapshot(tmp_path)
    res = run_cli_subprocess(["convert", f, "--out", tmp_path / "o.s2h"])
    check_outcome(res, tmp_path, before, names=["cut.pt"])
    assert "not a readable PyTorch checkpoint" in res.err


def test_compress_and_finetune_refuse_a_corrupt_checkpoint(seeds, tmp_path):
    data = (seeds / "model.pt").read_bytes()
    f = tmp_path / "cut.pt"
    f.write_bytes(data[:1000])
    before = snapshot(tmp_path)
    for argv in (["compress", f, "--method", "magnitude", "--ratio", "0.5", "--data", seeds / "data.npz",
                  "--out", tmp_path / "c.pt"],
                 ["finetune", f, "--data", seeds / "data.npz", "--epochs", "1", "--out", tmp_path / "f.pt"]):
        check_outcome(run_cli(argv), tmp_path, before, names=["cut.pt"])
