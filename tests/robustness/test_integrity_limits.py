"""Issue 13, points 3 and 4: corrupted tensor payloads are detected, declared sizes are refused before allocation.

* bit flips inside the tensor records of a checkpoint (zip CRC, checked before ``torch.load``), tensor bytes
  changed in a re-zipped checkpoint with valid CRCs (the bundle's per-tensor sha256), and data changed in place
  in an ``.s2h`` with h5py (the per-dataset sha256 attribute): exit 2 naming the file, never exit 0;
* declared-size bombs (checkpoint ``timesteps`` 10**9, npz labels 9e12, an ``.s2h`` / ``.npz`` array of 1.5e9
  float64 under the element limit but above ``SNN2HW_MAX_BYTES``, ``simulate -T 10**6``): run in a child
  process whose peak memory (< 1.5 GB) and time (< 30 s) are measured.

``STATS`` collects per family: cases, clean errors, silently accepted, worst peak MB and seconds (printed by
``test_zz_summary`` with ``-s``).
"""
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from harness import REPO, check_outcome, flip_bits, run_cli, snapshot

STATS: dict = {}
PEAK_LIMIT_MB = 1500
TIME_LIMIT_S = 30


def _record(family, clean, peak_mb=0.0, secs=0.0):
    s = STATS.setdefault(family, {"cases": 0, "clean": 0, "silent": 0, "peak_mb": 0.0, "secs": 0.0})
    s["cases"] += 1
    s["clean"] += int(clean)
    s["silent"] += int(not clean)
    s["peak_mb"] = max(s["peak_mb"], peak_mb)
    s["secs"] = max(s["secs"], secs)


def _data_records(path):
    """``(name, offset of the data, size)`` of every tensor record (``*/data/<n>``) of a torch zip."""
    out = []
    with zipfile.ZipFile(path) as z:
        raw = Path(path).read_bytes()
        for info in z.infolist():
            if "/data/" in info.filename and info.file_size:
                h = info.header_offset
                n, m = int.from_bytes(raw[h + 26:h + 28], "little"), int.from_bytes(raw[h + 28:h + 30], "little")
                out.append((info.filename, h + 30 + n + m, info.file_size))
    return out


@pytest.fixture(scope="module")
def bundle_with_sums(seeds, tmp_path_factory):
    """The shipped model re-saved by this snn2hw (so it carries the per-tensor sha256 table)."""
    return resave_with_sums(seeds / "model.pt", tmp_path_factory.mktemp("bundle"))


def resave_with_sums(src: Path, d: Path) -> Path:
    """``src`` loaded and saved again as ``d/model.pt`` by ``save_checkpoint`` (with its sha256 table)."""
    from snn2hw.frontends.checkpoint import load_checkpoint, save_checkpoint
    ck = load_checkpoint(src)
    meta = {k: v for k, v in ck.info.items() if k not in ("format", "version", "snn2hw_version", "arch",
                                                          "arch_kwargs", "input_shape", "num_classes")}
    return save_checkpoint(d / "model.pt", ck.model, **meta)


FLIP_CASES = [(r, k) for r in range(6) for k in range(4)]  # record index x bit position


@pytest.mark.parametrize("rec,k", FLIP_CASES)
@pytest.mark.parametrize("which", ["shipped", "resaved"])
def test_bit_flip_in_checkpoint_tensor_data_is_detected(seeds, bundle_with_sums, tmp_path, rec, k, which):
    src = seeds / "model.pt" if which == "shipped" else bundle_with_sums
    recs = _data_records(src)
    name, off, size = recs[rec % len(recs)]
    bit = (off * 8) + (k * 977 + rec * 131) % (size * 8)
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(flip_bits(src.read_bytes(), [bit]))
    before = snapshot(tmp_path)
    res = run_cli(["inspect", bad])
    _record("checkpoint bit flip in tensor data", res.code == 2)
    check_outcome(res, tmp_path, before, names=["flipped.pt"])
    assert "corrupt" in res.err, res.err


@pytest.mark.parametrize("k", range(6))
def test_rezipped_tensor_change_caught_by_sha256(bundle_with_sums, tmp_path, k):
    """Tensor bytes changed and the zip rewritten with correct CRCs: only the bundle's sha256 can tell."""
    bad = tmp_path / "rezipped.pt"
    with zipfile.ZipFile(bundle_with_sums) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_STORED) as zout:
        recs = [i for i in zin.infolist() if "/data/" in i.filename and i.file_size]
        target = recs[k % len(recs)].filename
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == target:
                data = flip_bits(data, [k * 37 + 5])
            zout.writestr(info, data)
    before = snapshot(tmp_path)
    res = run_cli(["inspect", bad])
    _record("checkpoint re-zipped tensor change (sha256)", res.code == 2)
    check_outcome(res, tmp_path, before, names=["rezipped.pt"])
    assert "sha256" in res.err, res.err


@pytest.mark.parametrize("k", range(6))
def test_s2h_tensor_edited_in_place_is_detected(seeds, tmp_path, k):
    """A weight changed in place with h5py: the file-wide block no longer matches, the dataset's sha256 catches it."""
    bad = tmp_path / "edited.s2h"
    bad.write_bytes((seeds / "model_int.s2h").read_bytes())
    with h5py.File(bad, "r+") as f:
        found = []
        f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and o.size and
                     "sha256" in o.attrs else None)
        ds = f[found[k % len(found)]]
        flat = ds[()].reshape(-1)
        flat[(k * 7) % flat.size] += 1
        ds[...] = flat.reshape(ds.shape)
    before = snapshot(tmp_path)
    res = run_cli(["inspect", bad])
    _record(".s2h tensor edited in place (sha256)", res.code == 2)
    check_outcome(res, tmp_path, before, names=["edited.s2h"])
    assert "sha256" in res.err, res.err


def _child(argv, env=None):
    """Run the CLI in a grandchild; ``(exit code, stderr, peak MB of the CLI and its children, seconds)``."""
    code = ("import resource, subprocess, sys, json, time; t = time.time(); p = subprocess.run(sys.argv[1:], "
            "capture_output=True, text=True); print(json.dumps([p.returncode, p.stderr, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t]))")
    import os
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "snn2hw", *map(str, argv)],
                         capture_output=True, text=True, cwd=REPO, timeout=120, env=dict(os.environ, **(env or {})))
    rc, err, kb, secs = json.loads(out.stdout.strip().splitlines()[-1])
    return rc, err, kb / 1024, secs


def _bombs(seeds, d: Path):
    ck = torch.load(seeds / "model.pt", weights_only=True)
    ck["timesteps"] = 10**9
    torch.save(ck, d / "t_bomb.pt")
    data = dict(np.load(seeds / "data.npz"))
    data["y_test"] = data["y_test"].astype(np.int64)
    data["y_test"][0] = 9 * 10**12
    np.savez(d / "label_bomb.npz", **data)
    for name, numel in (("bytes_bomb", 1_500_000_000), ("fill_bomb", 250_000_000)):
        s2h = d / f"{name}.s2h"
        s2h.write_bytes((seeds / "model_int.s2h").read_bytes())
        with h5py.File(s2h, "r+") as f:
            for k in f["nodes"]:
                if "weight_int" in f["nodes"][k] or "weight" in f["nodes"][k]:
                    key = "weight_int" if "weight_int" in f["nodes"][k] else "weight"
                    del f["nodes"][k][key]
                    f["nodes"][k].create_dataset(key, shape=(numel,), dtype="f8", chunks=(1 << 16,),
                                                 fillvalue=0.0)
                    break
        nir = d / f"{name}.nir"
        nir.write_bytes((seeds / "export" / "nir" / "model_float.nir").read_bytes())
        with h5py.File(nir, "r+") as f:
            found = []
            f.visititems(lambda n, o: found.append(n) if n.endswith("/weight") else None)
            del f[found[0]]
            f.create_dataset(found[0], shape=(numel // 10**6, 10**6), dtype="f8", chunks=(64, 1024), fillvalue=0.0)
    with zipfile.ZipFile(d / "bytes_bomb.npz", "w") as z:
        with z.open("x.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (1_500_000_000, 1)})
            fh.write(b"\0" * 64)
        with z.open("y.npy", "w") as fh:
            np.save(fh, np.zeros(4, np.int64))


BOMBS = {
    "checkpoint timesteps 10**9": (lambda s, d: ["inspect", d / "t_bomb.pt"], ["t_bomb.pt", "timesteps"], {}),
    "npz label 9e12": (lambda s, d: ["simulate", s / "model.pt", "--data", d / "label_bomb.npz", "--samples", "4",
                                     "--out", d / "o"], ["label_bomb.npz", "label"], {}),
    ".s2h 1.5e9 float64 (12 GB) dataset": (lambda s, d: ["inspect", d / "bytes_bomb.s2h"],
                                          ["bytes_bomb.s2h", "SNN2HW_MAX_BYTES"], {"SNN2HW_MAX_BYTES": "1e9"}),
    ".nir 1.5e9 float64 (12 GB) weight": (lambda s, d: ["inspect", d / "bytes_bomb.nir"],
                                          ["bytes_bomb.nir", "SNN2HW_MAX_BYTES"], {"SNN2HW_MAX_BYTES": "1e9"}),
    ".npz 1.5e9 x 1 float64 header": (lambda s, d: ["convert", s / "model.pt", "--data", d / "bytes_bomb.npz",
                                                    "--out", d / "o.s2h"], ["bytes_bomb.npz", "archive holds only 192 bytes"],
                                      {"SNN2HW_MAX_BYTES": "1e9"}),
    # 2 GB declared, stored nowhere (fill value): below the default limit (half the available memory), refused
    # because no compression expands 1100:1, so peak memory stays small whatever SNN2HW_MAX_BYTES says
    ".s2h 2.5e8 float64 (2 GB) unallocated, default limit": (lambda s, d: ["inspect", d / "fill_bomb.s2h"],
                                                             ["fill_bomb.s2h", "the data is not in the file"],
                                                             {"SNN2HW_MAX_BYTES": ""}),
    ".nir 2.5e8 float64 (2 GB) unallocated, default limit": (lambda s, d: ["inspect", d / "fill_bomb.nir"],
                                                             ["fill_bomb.nir", "the data is not in the file"],
                                                             {"SNN2HW_MAX_BYTES": ""}),
    "simulate -T 10**6 x 500 samples": (lambda s, d: ["simulate", s / "model.pt", "-T", "1000000", "--samples",
                                                      "500", "--out", d / "o"], ["GB", "-T"], {}),
    "simulate -T 10**5 x 1 sample (estimate 8 GB)": (lambda s, d: ["simulate", s / "model.pt", "-T", "100000",
                                                                   "--samples", "1", "--out", d / "o"],
                                                    ["would need about", "--batch-size"], {"SNN2HW_MAX_BYTES": "1e9"}),
}


@pytest.mark.parametrize("case", sorted(BOMBS))
def test_declared_size_bomb_refused_before_allocation(seeds, tmp_path, case):
    d = tmp_path / "in"
    d.mkdir()
    _bombs(seeds, d)
    argv_of, needles, env = BOMBS[case]
    before = snapshot(tmp_path)
    rc, err, peak_mb, secs = _child(argv_of(seeds, d), env)
    _record("size bomb: " + case, rc == 2 and "Traceback" not in err, peak_mb, secs)
    assert rc == 2, err[-2000:]
    assert err.startswith("error:") and "Traceback" not in err, err[-2000:]
    for n in needles:
        assert n in err, err
    assert peak_mb < PEAK_LIMIT_MB, f"peak {peak_mb:.0f} MB"
    assert secs < TIME_LIMIT_S, f"{secs:.1f} s"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_deep_nesting_is_a_clear_error(tmp_path, kind):
    f = tmp_path / ("deep.json" if kind == "json" else "deep.yaml")
    f.write_text("[" * 100000)
    before = snapshot(tmp_path)
    res = run_cli(["report", f] if kind == "json" else ["profiles", "show", f])
    _record("deeply nested JSON/YAML", res.code == 2)
    check_outcome(res, tmp_path, before, names=[f.name])
    assert "nested too deeply" in res.err


def test_integer_graph_checks_report_all_at_once(seeds):
    from snn2hw.ir.checks import integer_problems
    from snn2hw.ir import nodes as N
    from snn2hw.ir.io import load_graph
    g = load_graph(seeds / "model_int.s2h")
    assert integer_problems(g) == []
    neurons = [n for n in g.nodes.values() if isinstance(n, N.Neuron)]
    syn = [n for n in g.nodes.values() if isinstance(n, N.SYNAPSES)]
    neurons[0].vth = np.zeros_like(neurons[0].vth)
    syn[0].weight_exp = 99
    p = integer_problems(g)
    assert any("threshold" in m for m in p) and any("exponent 99" in m for m in p), p


def test_zz_summary():
    for fam, s in sorted(STATS.items()):
        print(f"{fam}: cases {s['cases']}, clean {s['clean']}, silent {s['silent']}, peak {s['peak_mb']:.0f} MB, "
              f"{s['secs']:.1f} s")
