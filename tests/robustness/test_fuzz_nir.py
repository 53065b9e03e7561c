"""Corrupt NIR files (snn2hw's own exports as seeds): truncation, bit flips, random bytes, HDF5 edits.

Every .nir is read once in a child process first (snn2hw.util.h5probe), so a file that
makes libhdf5 loop or crash is refused by name instead of hanging or killing the CLI.
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
SEEDS = ("model_float.nir", "model_int.nir")


def _try(data: bytes, cmd: str, allow_success: bool):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        f = work / "mutant.nir"
        f.write_bytes(data)
        before = snapshot(work)
        argv, outputs = (["inspect", f], ()) if cmd == "inspect" else (["convert", f, "--out", work / "o.s2h"],
                                                                        ("o.s2h",))
        check_outcome(run_cli(argv), work, before, names=["mutant.nir"], allow_success=allow_success,
                      outputs=outputs)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), frac=st.floats(0, 1, exclude_max=True),
       cmd=st.sampled_from(("inspect", "convert")))
def test_truncated_nir(seeds, seed, frac, cmd):
    data = (seeds / "export" / "nir" / seed).read_bytes()
    _try(data[:int(frac * len(data))], cmd, allow_success=False)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), bits=st.lists(st.integers(0, 10**9), min_size=1, max_size=24),
       cmd=st.sampled_from(("inspect", "convert")))
def test_bit_flipped_nir(seeds, seed, bits, cmd):
    _try(flip_bits((seeds / "export" / "nir" / seed).read_bytes(), bits), cmd, allow_success=True)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048))
def test_random_bytes_nir(seeds, data):
    _try(data, "inspect", allow_success=False)


def _weight_ds(f):
    found = []
    f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and n.endswith("/weight") else None)
    return found[0]


EDITS = {
    "no_node_group": lambda f: f.__delitem__("node"),
    "weight_deleted": lambda f: f.__delitem__(_weight_ds(f)),
    "weight_as_text": lambda f: (lambda n: (f.__delitem__(n), f.create_dataset(n, data=np.array([b"xx"]))))(
        _weight_ds(f)),
    "weight_wrong_shape": lambda f: (lambda n: (f.__delitem__(n), f.create_dataset(n, data=np.ones((2, 3, 5)))))(
        _weight_ds(f)),
    "edge_to_nowhere": lambda f: (lambda e: (f["node"].__delitem__("edges"), f["node"].create_dataset(
        "edges", data=np.concatenate([e, np.array([[b"input", b"ghost"]], dtype=e.dtype)]))))(
        f["node"]["edges"][()]),
    "type_unknown": lambda f: (lambda g: (g.__delitem__("type"), g.create_dataset("type", data=b"Teleporter")))(
        f["node"]["nodes"][list(f["node"]["nodes"])[0]]),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_nir(seeds, tmp_path, edit):
    f = tmp_path / "edited.nir"
    shutil.copy(seeds / "export" / "nir" / "model_float.nir", f)
    with h5py.File(f, "r+") as h:
        EDITS[edit](h)
    before = snapshot(tmp_path)
    check_outcome(run_cli(["inspect", f]), tmp_path, before, names=["edited.nir"])
