"""``snn2hw run-lava`` on a damaged export folder: model.net, model.lava.json (with its residual
graph description inside model.net), ir/model.s2h or manifest.json truncated, flipped or removed.

Every file is checked against the sha256 in manifest.json before anything parses it, so
each case is refused (exit 2, the file named) before the Lava interpreter starts; these
tests do not need .venv-lava.
"""
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness import check_outcome, flip_bits, run_cli, snapshot

CASES = 30
FILES = ("lava/model.net", "lava/model.lava.json", "ir/model.s2h")


def _run(seeds, mutate, names):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        d = work / "exp"
        shutil.copytree(seeds / "export", d)
        mutate(d)
        before = snapshot(work)
        res = run_cli(["run-lava", d, "--samples", "2"])
        check_outcome(res, work, before, names=names)
        return res


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rel=st.sampled_from(FILES), how=st.sampled_from(("truncate", "flip")), frac=st.floats(0, 1, exclude_max=True),
       bits=st.lists(st.integers(0, 10**9), min_size=1, max_size=8))
def test_damaged_export_file(seeds, rel, how, frac, bits):
    def mutate(d):
        p = d / rel
        data = p.read_bytes()
        p.write_bytes(data[:int(frac * len(data))] if how == "truncate" else flip_bits(data, bits))
    res = _run(seeds, mutate, names=[Path(rel).name])
    assert "sha256" in res.err


MANIFEST_EDITS = {
    "missing": lambda m: None,
    "not_json": lambda m: "{files: [",
    "no_files": lambda m: {k: v for k, v in m.items() if k != "files"},
    "files_not_list": lambda m: dict(m, files="all"),
    "net_not_listed": lambda m: dict(m, files=[f for f in m["files"] if f["path"] != "lava/model.net"]),
    "escaping_path": lambda m: dict(m, files=m["files"] + [{"path": "ir/../../x", "bytes": 1, "sha256": "0"}]),
    "wrong_hash": lambda m: dict(m, files=[dict(f, sha256="0" * 64) if f["path"] == "ir/model.s2h" else f
                                           for f in m["files"]]),
}


@pytest.mark.parametrize("edit", sorted(MANIFEST_EDITS))
def test_damaged_manifest(seeds, edit):
    def mutate(d):
        man = d / "manifest.json"
        new = MANIFEST_EDITS[edit](json.loads(man.read_text()))
        if new is None:
            man.unlink()
        else:
            man.write_text(new if isinstance(new, str) else json.dumps(new))
    _run(seeds, mutate, names=["manifest.json", "model.s2h"])


def test_missing_lava_file(seeds):
    _run(seeds, lambda d: (d / "lava" / "model.net").unlink(), names=["model.net"])
