"""Seed files for the robustness suite, made once per session from the shipped examples/digits_lif.pt.

``seeds`` is shared by all tests and never written after setup: a checkpoint, its float and integer ``.s2h`` graphs,
a full export folder (NIR, Lava, ONNX, manifest), a simulate report.json, a
digits ``.npz`` and a profile YAML. Tests copy what they mutate into their own
temporary folder. The HDF5 probe gets a short time limit so that a file that makes
libhdf5 loop fails a case in seconds.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("SNN2HW_HDF5_PROBE_TIMEOUT", "20")

from harness import REPO, run_cli  # noqa: E402


@pytest.fixture(scope="session")
def seeds(tmp_path_factory) -> Path:
    return make_seeds(tmp_path_factory.mktemp("seeds"))


def make_seeds(d: Path) -> Path:
    """Write the seed files into the (existing) folder ``d``; also used by ``benchmarks/fuzz_limits.py``."""
    shutil.copy(REPO / "examples" / "digits_lif.pt", d / "model.pt")
    for argv in (["convert", d / "model.pt", "--out", d / "model_int.s2h"],
                 ["export", d / "model.pt", "--out", d / "export"],
                 ["simulate", d / "model.pt", "--samples", "8", "--out", d / "sim"]):
        res = run_cli(argv)
        assert res.code == 0, res.err
    from snn2hw.frontends.load import load
    from snn2hw.ir.io import save_graph
    save_graph(load(d / "model.pt"), d / "model_float.s2h")
    from snn2hw.data import load_digits
    data = load_digits()
    np.savez(d / "data.npz", x=data.x_train[:64], y=data.y_train[:64], x_test=data.x_test[:32],
             y_test=data.y_test[:32], input_step=np.float64(data.input_step))
    shutil.copy(REPO / "hw_profiles" / "loihi.yaml", d / "profile.yaml")
    return d
