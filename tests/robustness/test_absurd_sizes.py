"""Files that declare absurd sizes in a few bytes are refused before anything is allocated.

Each case runs ``python -m snn2hw`` in a child process and reads the peak resident
memory of the finished children (``RUSAGE_CHILDREN``; it includes the HDF5 probe the CLI
starts): a 10^12-element float64 array is 8 TB, so a peak below 1 GiB (the CLI with
torch loaded needs ~0.4 GiB) means it was never allocated.
"""
import resource
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from harness import REPO, check_outcome, run_cli, snapshot

HUGE = 10**12
PEAK_LIMIT_KB = 1 << 20  # 1 GiB


def _child_peak_kb(argv):
    """Run the CLI in a fresh grandchild so that RUSAGE_CHILDREN holds only its peak."""
    code = ("import resource, subprocess, sys, json; p = subprocess.run(sys.argv[1:], capture_output=True, "
            "text=True); print(json.dumps([p.returncode, p.stderr, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))")
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "snn2hw", *map(str, argv)],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    import json
    return json.loads(out.stdout.strip().splitlines()[-1])


def _huge_dataset(group, name):
    group.create_dataset(name, shape=(HUGE,), dtype="f8", chunks=(1 << 16,), fillvalue=0.0)


@pytest.fixture
def huge_files(seeds, tmp_path):
    s2h = tmp_path / "huge.s2h"
    s2h.write_bytes((seeds / "model_int.s2h").read_bytes())
    with h5py.File(s2h, "r+") as f:
        for k in f["nodes"]:
            if "weight" in f["nodes"][k]:
                del f["nodes"][k]["weight"]
                _huge_dataset(f["nodes"][k], "weight")
                break
    nir = tmp_path / "huge.nir"
    nir.write_bytes((seeds / "export" / "nir" / "model_float.nir").read_bytes())
    with h5py.File(nir, "r+") as f:
        found = []
        f.visititems(lambda n, o: found.append(n) if n.endswith("/weight") else None)
        del f[found[0]]
        f.create_dataset(found[0], shape=(HUGE // 10**6, 10**6), dtype="f8", chunks=(64, 1024), fillvalue=0.0)
    npz = tmp_path / "huge.npz"
    import zipfile
    header = {"descr": "<f8", "fortran_order": False, "shape": (HUGE, 1)}
    with zipfile.ZipFile(npz, "w") as z:
        with z.open("x.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            fh.write(b"\0" * 64)
        with z.open("y.npy", "w") as fh:
            np.save(fh, np.zeros(4, np.int64))
    ck = tmp_path / "huge_arch.pt"
    torch.save({"format": "snn2hw-checkpoint", "version": 1, "arch": "mlp",
                "arch_kwargs": {"hidden": [10**6, 10**6]}, "input_shape": [64], "num_classes": 10,
                "state_dict": {}}, ck)
    return {"s2h": s2h, "nir": nir, "npz": npz, "ckpt": ck}


CASES = {
    "s2h_dataset": (lambda f, s, t: ["inspect", f["s2h"]], ["huge.s2h", "declares"]),
    "nir_dataset": (lambda f, s, t: ["inspect", f["nir"]], ["huge.nir", "declares"]),
    "npz_header": (lambda f, s, t: ["convert", s / "model.pt", "--data", f["npz"], "--out", t / "o.s2h"],
                   ["huge.npz", "elements"]),
    "checkpoint_arch_kwargs": (lambda f, s, t: ["inspect", f["ckpt"]], ["huge_arch.pt", "refusing to build"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_declared_huge_size_refused_without_allocating(seeds, tmp_path, huge_files, case):
    argv_of, needles = CASES[case]
    before = snapshot(tmp_path)
    code, err, peak_kb = _child_peak_kb(argv_of(huge_files, seeds, tmp_path))
    assert code == 2, err
    assert err.startswith("error:") and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    assert "SNN2HW_MAX_ELEMENTS" in err, err
    assert peak_kb < PEAK_LIMIT_KB, f"peak memory {peak_kb} kB"
    assert snapshot(tmp_path) == before


def test_huge_layer_shape_in_graph_refused(tmp_path):
    """An .s2h whose Input declares 10^12 neurons (weights of a 1x1 conv are tiny): refused by validation."""
    from snn2hw.ir import nodes as N
    from snn2hw.ir.graph import Graph
    from snn2hw.ir.io import save_graph
    g = Graph.sequential([("in", N.Input(shape=(1, 10**6, 10**6))),
                          ("c", N.Conv2d(weight=np.ones((1, 1, 1, 1)))), ("n", N.Neuron(model="if")),
                          ("out", N.Output())])
    f = save_graph(g, tmp_path / "wide.s2h")
    before = snapshot(tmp_path)
    res = run_cli(["inspect", f])
    check_outcome(res, tmp_path, before, names=["wide.s2h"])
    assert "1000000000000 elements" in res.err


def test_limit_is_configurable(seeds, tmp_path, monkeypatch):
    """With SNN2HW_MAX_ELEMENTS below the shipped model's 6042 parameters, its checkpoint is refused."""
    monkeypatch.setenv("SNN2HW_MAX_ELEMENTS", "1000")
    before = snapshot(tmp_path)
    res = run_cli(["convert", seeds / "model.pt", "--out", tmp_path / "o.s2h"])
    check_outcome(res, tmp_path, before, names=["model.pt"])
    assert "limit 1000 elements" in res.err
    monkeypatch.setenv("SNN2HW_MAX_ELEMENTS", "1000000")
    assert run_cli(["inspect", seeds / "model.pt"]).code == 0
