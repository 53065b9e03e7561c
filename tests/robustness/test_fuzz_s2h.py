"""Corrupt ``.s2h`` graphs: truncation, bit flips, random bytes, deleted keys, wrong dtypes and shapes.

A corrupted .s2h no longer matches its sha256 user block, so it is read first in a
child process (snn2hw.util.h5probe): a flip that makes libhdf5 loop (seen: a corrupt
global heap, where the JSON attributes live) costs a time-out there, never a hang here.
"""
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness import check_outcome, flip_bits, run_cli, snapshot

CASES = 15
COMMANDS = ("inspect", "convert", "export")
SEEDS = ("model_int.s2h", "model_float.s2h")


def _try(data: bytes, cmd: str, allow_success: bool, name="mutant.s2h"):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        f = work / name
        f.write_bytes(data)
        before = snapshot(work)
        argv, outputs = {"inspect": (["inspect", f], ()),
                         "convert": (["convert", f, "--out", work / "o.s2h"], ("o.s2h",)),
                         "export": (["export", f, "--format", "onnx", "--out", work / "exp"], ("exp",))}[cmd]
        res = run_cli(argv)
        check_outcome(res, work, before, names=[name], allow_success=allow_success, outputs=outputs)
        return res


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), frac=st.floats(0, 1, exclude_max=True), cmd=st.sampled_from(COMMANDS))
def test_truncated_s2h(seeds, seed, frac, cmd):
    data = (seeds / seed).read_bytes()
    _try(data[:int(frac * len(data))], cmd, allow_success=False)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), bits=st.lists(st.integers(0, 10**9), min_size=1, max_size=24),
       cmd=st.sampled_from(COMMANDS))
def test_bit_flipped_s2h(seeds, seed, bits, cmd):
    _try(flip_bits((seeds / seed).read_bytes(), bits), cmd, allow_success=True)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048), cmd=st.sampled_from(COMMANDS))
def test_random_bytes_s2h(seeds, data, cmd):
    _try(data, cmd, allow_success=False)


def test_checksum_block_is_written_and_checked(seeds, tmp_path):
    """The user block holds sha256 of the rest; a flip anywhere after it makes the block disagree."""
    import hashlib
    data = (seeds / "model_int.s2h").read_bytes()
    assert data.startswith(b"snn2hw-s2h sha256 ")
    assert data[18:82].decode() == hashlib.sha256(data[512:]).hexdigest()


# ------------------------------------------------------------------------ structured edits with h5py
def _first_node_with(f, key):
    for k in f["nodes"]:
        if key in f["nodes"][k]:
            return f["nodes"][k]
    raise AssertionError(key)


EDITS = {
    "no_nodes_group": (lambda f: f.__delitem__("nodes"), "no 'nodes' group"),
    "no_edges_attr": (lambda f: f.attrs.__delitem__("edges"), "edge list"),
    "edges_not_json": (lambda f: f.attrs.__setitem__("edges", "[[1,"), "edge list"),
    "format_attr": (lambda f: f.attrs.__setitem__("format", "other"), "not a snn2hw graph"),
    "format_version_text": (lambda f: f.attrs.__setitem__("format_version", "one"), "format_version"),
    "newer_version": (lambda f: f.attrs.__setitem__("format_version", 99), "Upgrade snn2hw"),
    "node_type_unknown": (lambda f: f["nodes"]["1"].attrs.__setitem__("type", "Teleporter"), "Teleporter"),
    "node_scalars_missing": (lambda f: f["nodes"]["1"].attrs.__delitem__("scalars"), "scalars"),
    "weight_deleted": (lambda f: _first_node_with(f, "weight").__delitem__("weight"), "weight"),
    "weight_as_text": (lambda f: (_first_node_with(f, "weight").__delitem__("weight"),
                                  _first_node_with(f, "bias").create_dataset("weight", data=np.array([b"ab"]))),
                       "dtype"),
    "weight_wrong_shape": (lambda f: (lambda g: (g.__delitem__("weight"), g.create_dataset(
        "weight", data=np.ones((3, 5)))))(_first_node_with(f, "weight")), "weight"),
    "weight_is_group": (lambda f: (lambda g: (g.__delitem__("weight"), g.create_group("weight")))(
        _first_node_with(f, "weight")), "weight"),
    "unknown_field": (lambda f: f["nodes"]["1"].create_dataset("colour", data=np.ones(2)), "colour"),
    "duplicate_name": (lambda f: f["nodes"]["2"].attrs.__setitem__("name", f["nodes"]["1"].attrs["name"]),
                       "appears twice"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_s2h(seeds, tmp_path, edit):
    f = tmp_path / "edited.s2h"
    shutil.copy(seeds / "model_int.s2h", f)
    fn, needle = EDITS[edit]
    with h5py.File(f, "r+") as h:
        fn(h)
    before = snapshot(tmp_path)
    for argv in (["inspect", f], ["export", f, "--format", "onnx", "--out", tmp_path / "exp"]):
        res = run_cli(argv)
        check_outcome(res, tmp_path, before, names=["edited.s2h"])
        assert needle in res.err, res.err
