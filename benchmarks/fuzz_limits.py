"""Issue 13's must-hold over the fuzz suite, measured: one ``python -m snn2hw`` process per bad input.

For a representative generated set of bad inputs per category (the generators of ``tests/robustness/``,
imported, not copied) each case runs as its own ``python -m snn2hw ...`` process, started by a tiny wrapper
process whose ``RUSAGE_CHILDREN`` ``ru_maxrss`` is then the peak RSS of that one CLI process (and of any
process it waited for, e.g. the HDF5 probe: the largest single process, not a sum). Per category it prints:

* cases; clean errors (exit 2, stderr starting ``error:``, or click's ``Usage: ... Error: ...`` for an option
  value, no ``Traceback``); tracebacks (``Traceback``
  anywhere in the output); accepted (exit 0); other exits (neither 0 nor 2, or killed at the time limit);
* corrupt accepted: cases whose tensor *data* was changed (bit flips inside the bytes of a tensor record or
  dataset, or flips anywhere in an HDF5 file after which h5py reads a different value or attribute) that
  exited 0 (a flip in unused bytes changes nothing and may be accepted);
* max peak RSS (MB) of the CLI process and max wall seconds;
* replaced: special output targets (``/dev/null``, a fifo, a dangling symlink, ...) not exactly as before
  (file type, inode, device number, link target); half written: temporary files left (``.*.tmp``), an input
  changed, or any new file after a failed command.

It exits 1 when a must-hold is broken (a traceback, corrupt accepted, > 1.5 GB, > 30 s, replaced, half
written). ``SNN2HW_MAX_BYTES`` is set to 1e9 only for the cases marked "(limit 1e9)"; the others run with
the product's defaults (half of MemAvailable, so on a large machine a file declaring, say, 8 GB is within the
limit by design and would be read unless it stores less than 1/1100 of what it declares; the bombs here declare
12 GB with the limit at 1e9, 8 TB without, or 2 GB stored nowhere without).

    .venv/bin/python benchmarks/fuzz_limits.py [--quick] [--keep DIR]

About 4 minutes on 2 cores (``--quick``: one case per generator kind, about 1 minute).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
ROBUST = REPO / "tests" / "robustness"
sys.path.insert(0, str(ROBUST))

from harness import flip_bits, snapshot, temp_leftovers  # noqa: E402
from conftest import make_seeds  # noqa: E402
import test_integrity_limits as integrity  # noqa: E402  (_data_records, _bombs, resave_with_sums)
import test_option_edges as edges  # noqa: E402  (EDGES, _fill)
import test_output_targets as targets  # noqa: E402  (FILE/FOLDER_COMMANDS, node, _refuse_dev, target makers)
from test_fuzz_npz_report import _leaf_paths  # noqa: E402
from test_fuzz_profile_yaml import _alias_bomb  # noqa: E402

PEAK_LIMIT_MB = 1500
TIME_LIMIT_S = 30
CASE_TIMEOUT_S = 120
LIMIT_1E9 = {"SNN2HW_MAX_BYTES": "1e9"}
DEV_NULL = "/dev/null"

#: runs one command and reports its exit code, output, peak RSS (KiB, Linux) and wall time as JSON
WRAPPER = ("import json, resource, subprocess, sys, time\n"
           "t = time.monotonic()\n"
           "try:\n"
           "    p = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=float(sys.argv[1]))\n"
           "    rc, out, err = p.returncode, p.stdout, p.stderr\n"
           "except subprocess.TimeoutExpired as e:\n"
           "    rc, out, err = 'timeout', str(e.stdout or ''), str(e.stderr or '')\n"
           "print(json.dumps([rc, out, err, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
           "time.monotonic() - t]))\n")
#: ``python -m snn2hw`` with renames touching /dev refused (the test suite's safety net, for /dev targets)
GUARDED = ("import os, sys, runpy; sys.path.insert(0, sys.argv.pop(1)); import test_output_targets as t; "
           "os.replace, os.rename = t._refuse_dev(os.replace), t._refuse_dev(os.rename); "
           "sys.argv[0] = 'snn2hw'; runpy.run_module('snn2hw', run_name='__main__')")


@dataclass
class Case:
    category: str
    label: str
    argv: list
    work: Path
    env: dict = field(default_factory=dict)
    tensor: bool = False  # tensor data changed: exit 0 is a silently accepted corrupt payload
    special: list = field(default_factory=list)  # nodes that must stay as they were
    guarded: bool = False


def node_state(path) -> tuple:
    st = os.lstat(path)
    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return (stat.S_IFMT(st.st_mode), st.st_ino, st.st_rdev, link, targets.node(path))


def run_case(c: Case) -> dict:
    before = snapshot(c.work)
    nodes = {p: node_state(p) for p in c.special}
    cmd = ([sys.executable, "-c", GUARDED, str(ROBUST)] if c.guarded else [sys.executable, "-m", "snn2hw"])
    p = subprocess.run([sys.executable, "-c", WRAPPER, str(CASE_TIMEOUT_S - 10), *cmd, *map(str, c.argv)],
                       capture_output=True, text=True, cwd=REPO, env=dict(os.environ, **c.env),
                       timeout=CASE_TIMEOUT_S)
    rc, out, err, kb, secs = json.loads(p.stdout.strip().splitlines()[-1])
    after = snapshot(c.work)
    changed = [k for k in before if after.get(k) != before[k]]
    new = sorted(set(after) - set(before))
    half = bool(temp_leftovers(c.work)) or bool(changed) or (rc != 0 and bool(new))
    replaced = [str(p) for p, s in nodes.items() if not os.path.lexists(p) or node_state(p) != s]
    text = out + err
    return {"case": c, "rc": rc, "traceback": "Traceback" in text,
            "clean": rc == 2 and (err.startswith("error:") or (err.startswith("Usage:") and "Error:" in err)),
            "peak_mb": kb / 1024, "secs": secs, "half": half, "replaced": replaced, "err": err,
            "detail": {"changed": changed, "new": new, "leftovers": temp_leftovers(c.work)}}


# ----------------------------------------------------------------------------------------------- generators
def _case_dir(root: Path, name: str) -> Path:
    d = root / name
    d.mkdir(parents=True)
    return d


def _put(root, name, data: bytes, fname) -> Path:
    d = _case_dir(root, name)
    (d / fname).write_bytes(data)
    return d / fname


def checkpoint_cases(seeds: Path, root: Path, quick: bool) -> list:
    out = []
    resaved = integrity.resave_with_sums(seeds / "model.pt", _case_dir(root, "resaved_src"))
    for which, src in (("shipped", seeds / "model.pt"), ("resaved with sha256", resaved)):
        recs = integrity._data_records(src)
        for r in range(2 if quick else 4):
            name, off, size = recs[r % len(recs)]
            bit = off * 8 + (r * 977 + 131) % (size * 8)  # as test_bit_flip_in_checkpoint_tensor_data_is_detected
            f = _put(root, f"ck_flip_{which[:7]}_{r}", flip_bits(src.read_bytes(), [bit]), "flipped.pt")
            out.append(Case("checkpoint: bit flip inside tensor data", f"{which} record {name}", ["inspect", f],
                            f.parent, tensor=True))
    for k in range(1 if quick else 3):  # tensor bytes changed, zip rewritten with valid CRCs: only the sha256
        d = _case_dir(root, f"ck_rezip_{k}")
        bad = d / "rezipped.pt"
        with zipfile.ZipFile(resaved) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_STORED) as zout:
            recs = [i for i in zin.infolist() if "/data/" in i.filename and i.file_size]
            target = recs[k % len(recs)].filename
            for info in zin.infolist():
                data = zin.read(info)
                zout.writestr(info, flip_bits(data, [k * 37 + 5]) if info.filename == target else data)
        out.append(Case("checkpoint: bit flip inside tensor data", f"re-zipped, valid CRCs, {target}",
                        ["convert", bad, "--out", d / "o.s2h"], d, tensor=True))
    raw = (seeds / "model.pt").read_bytes()
    for frac in ((0.5,) if quick else (0.0, 0.1, 0.33, 0.5, 0.9, 0.999)):
        f = _put(root, f"ck_trunc_{frac}", raw[:int(frac * len(raw))], "truncated.pt")
        out.append(Case("checkpoint: truncated", f"{frac:.3f} of the bytes", ["export", f, "--out", f.parent / "e"],
                        f.parent))
    return out


def _h5_tensor_flips(src: Path, n: int) -> list:
    """``(dataset name, bit position)``: one bit inside the stored bytes of ``n`` numeric datasets of ``src``
    (contiguous data or the first chunk of a chunked, possibly compressed, dataset)."""
    found = []
    with h5py.File(src, "r") as h:
        def visit(name, o):
            if isinstance(o, h5py.Dataset) and o.size > 4 and o.dtype.kind in "fiu":
                off = o.id.get_offset()
                if off is not None:
                    found.append((name, off, o.id.get_storage_size()))
                elif o.chunks and o.id.get_num_chunks():
                    info = o.id.get_chunk_info(0)
                    found.append((name, info.byte_offset, info.size))
        h.visititems(visit)
    step = max(1, len(found) // n)
    return [(name, off * 8 + (i * 7919 + 13) % (size * 8)) for i, (name, off, size) in enumerate(found[::step][:n])]


def _h5_values(path) -> dict | None:
    """Every dataset's values and every object's attributes of an HDF5 file (None if h5py cannot read it)."""
    out = {}

    def visit(name, o):
        if isinstance(o, h5py.Dataset):
            x = np.asarray(o[()])
            out[name] = repr(x.tolist()) if x.dtype == object else (str(x.dtype), x.shape, x.tobytes())
        out[name + "@attrs"] = repr(sorted((k, repr(v)) for k, v in o.attrs.items()))
    try:
        with h5py.File(path, "r") as h:
            h.visititems(visit)
    except Exception:  # noqa: BLE001 - unreadable: the CLI must refuse it, nothing to compare
        return None
    return out


def _huge_h5(src: Path, dst: Path, keys=("weight_int", "weight")):
    """A copy of ``src`` whose first weight dataset declares ``(10**6, 10**6)`` float64 (8 TB; never written)."""
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as f:
        found = []
        f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and n.split("/")[-1] in keys
                     else None)
        del f[found[0]]
        f.create_dataset(found[0], shape=(10**6, 10**6), dtype="f8", chunks=(64, 1024), fillvalue=0.0)


def hdf5_cases(seeds: Path, root: Path, quick: bool, bomb_dir: Path) -> list:
    out = []
    for cat, src, fname in (("NIR", seeds / "export" / "nir" / "model_float.nir", "mutant.nir"),
                            (".s2h", seeds / "model_int.s2h", "mutant.s2h")):
        raw = src.read_bytes()
        ext = fname.split(".")[1]
        ref = _h5_values(src)
        for name, bit in _h5_tensor_flips(src, 2 if quick else 4):
            f = _put(root, f"{ext}_dflip_{bit}", flip_bits(raw, [bit]), fname)
            out.append(Case(f"{cat}: bit flip", f"inside the data of {name}", ["inspect", f], f.parent, tensor=True))
        for k in range(1 if quick else 4):  # anywhere in the file (structure, attributes, data)
            bits = [(k * 104729 + j * 7907) % (len(raw) * 8) for j in range(k + 1)]
            f = _put(root, f"{ext}_flip_{k}", flip_bits(raw, bits), fname)
            got = _h5_values(f)  # a flip that changes a value or attribute h5py reads counts as corrupt data
            changed = got is not None and got != ref
            out.append(Case(f"{cat}: bit flip", f"{k + 1} bit(s) anywhere" + (" (values changed)" if changed else ""),
                            ["convert", f, "--out", f.parent / "o.s2h"], f.parent, tensor=changed))
        for frac in ((0.5,) if quick else (0.05, 0.5, 0.95)):
            f = _put(root, f"{ext}_trunc_{frac}", raw[:int(frac * len(raw))], fname)
            out.append(Case(f"{cat}: truncated", f"{frac:.2f} of the bytes", ["inspect", f], f.parent))
        d = _case_dir(root, f"{ext}_huge")
        _huge_h5(src, d / f"huge.{ext}")
        out.append(Case(f"{cat}: declared-size bomb", "weight of 10^6 x 10^6 float64 (8 TB), default limit",
                        ["inspect", d / f"huge.{ext}"], d))
        d = _case_dir(root, f"{ext}_bomb")
        shutil.copy(bomb_dir / f"bytes_bomb.{ext}", d / f"bytes_bomb.{ext}")
        out.append(Case(f"{cat}: declared-size bomb", "1.5e9 float64 (12 GB) (limit 1e9)",
                        ["inspect", d / f"bytes_bomb.{ext}"], d, env=LIMIT_1E9))
        d = _case_dir(root, f"{ext}_fill")
        shutil.copy(bomb_dir / f"fill_bomb.{ext}", d / f"fill_bomb.{ext}")
        out.append(Case(f"{cat}: declared-size bomb", "2.5e8 float64 (2 GB) never written, default limit",
                        ["inspect", d / f"fill_bomb.{ext}"], d))
    return out


def npz_cases(seeds: Path, root: Path, quick: bool, bomb_dir: Path) -> list:
    out = []
    d = _case_dir(root, "npz_label")
    shutil.copy(bomb_dir / "label_bomb.npz", d / "label_bomb.npz")
    out.append(Case("npz: label / size bombs", "label 9e12",
                    ["simulate", seeds / "model.pt", "--data", d / "label_bomb.npz", "--samples", "4", "--out",
                     d / "o"], d))
    d = _case_dir(root, "npz_bytes")
    shutil.copy(bomb_dir / "bytes_bomb.npz", d / "bytes_bomb.npz")
    out.append(Case("npz: label / size bombs", "x header 1.5e9 x 1 float64 (12 GB) (limit 1e9)",
                    ["convert", seeds / "model.pt", "--data", d / "bytes_bomb.npz", "--out", d / "o.s2h"], d,
                    env=LIMIT_1E9))
    d = _case_dir(root, "npz_huge")
    with zipfile.ZipFile(d / "huge.npz", "w") as z:
        for key, shape in (("x", (10**12, 64)), ("y", (10**12,))):
            with z.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array_header_1_0(fh, {"descr": "<f8" if key == "x" else "<i8",
                                                          "fortran_order": False, "shape": shape})
                fh.write(b"\0" * 64)
    out.append(Case("npz: label / size bombs", "x header 10^12 x 64 float64, default limit",
                    ["simulate", seeds / "model.pt", "--data", d / "huge.npz", "--out", d / "o"], d))
    if not quick:
        data = dict(np.load(seeds / "data.npz"))
        for label, edit in (("negative label", lambda a: a["y_test"].__setitem__(0, -5)),
                            ("labels of 10^6 samples, x of 32", lambda a: a.__setitem__("y_test", np.zeros(10**6,
                                                                                                        np.int64)))):
            d = _case_dir(root, f"npz_{len(out)}")
            a = {k: v.copy() for k, v in data.items()}
            edit(a)
            np.savez(d / "bad.npz", **a)
            out.append(Case("npz: label / size bombs", label,
                            ["simulate", seeds / "model.pt", "--data", d / "bad.npz", "--samples", "4", "--out",
                             d / "o"], d))
    return out


def checkpoint_semantic_bombs(seeds: Path, root: Path, bomb_dir: Path) -> list:
    d = _case_dir(root, "ck_tbomb")
    shutil.copy(bomb_dir / "t_bomb.pt", d / "t_bomb.pt")
    out = [Case("checkpoint / simulate: size bombs", "checkpoint timesteps 10^9", ["inspect", d / "t_bomb.pt"], d)]
    d = _case_dir(root, "sim_T6")
    out.append(Case("checkpoint / simulate: size bombs", "simulate -T 10^6 --samples 500",
                    ["simulate", seeds / "model.pt", "-T", "1000000", "--samples", "500", "--out", d / "o"], d))
    d = _case_dir(root, "sim_T5")
    out.append(Case("checkpoint / simulate: size bombs", "simulate -T 10^5 --samples 1 (limit 1e9)",
                    ["simulate", seeds / "model.pt", "-T", "100000", "--samples", "1", "--out", d / "o"], d,
                    env=LIMIT_1E9))
    return out


def report_cases(seeds: Path, root: Path, quick: bool) -> list:
    raw = (seeds / "sim" / "report.json").read_bytes()
    muts = [("truncated to half", raw[:len(raw) // 2]), ("3 bits flipped", flip_bits(raw, [8 * 100, 8 * 2000 + 3,
                                                                                          8 * 5000 + 6])),
            ("nested 200000 deep", b"[" * 200000), ("random bytes", bytes(range(256)) * 4)]
    rep = json.loads(raw)
    paths = list(_leaf_paths(rep))
    for i, value in ((0, "x"), (len(paths) // 2, {}), (len(paths) - 1, [])) if not quick else ((1, {}),):
        r = json.loads(raw)
        cur = r
        for k in paths[i][:-1]:
            cur = cur[k]
        cur[paths[i][-1]] = value
        muts.append((f"field {'/'.join(map(str, paths[i]))[:40]} = {value!r}", json.dumps(r).encode()))
    if not quick:
        muts.append(("flipped bits 2", flip_bits(raw, [8 * 40 + 1, 8 * 333])))
    out = []
    for k, (label, data) in enumerate(muts):
        f = _put(root, f"report_{k}", data, "report.json")
        out.append(Case("report.json", label, ["report", f, "--format", "html" if k % 2 else "md", "--out",
                                               f.parent / "r.out"], f.parent))
    return out


def yaml_cases(seeds: Path, root: Path, quick: bool) -> list:
    muts = [("alias bomb 9^9 as name", _alias_bomb(8, "name")),
            ("alias bomb 9^12 as capacity", _alias_bomb(11, "capacity")),
            ("list nested 20000 deep", "a: " + "[" * 20000 + "]" * 20000 + "\n"),
            ("mapping nested 20000 deep", "{a: " * 20000 + "1" + "}" * 20000 + "\n")]
    if not quick:
        base = (seeds / "profile.yaml").read_text()
        muts += [("alias bomb inside a valid profile", base + _alias_bomb(10, "extra")),
                 ("cores 1e15", base.replace("cores: {value: 128", "cores: {value: 1e15"))]
    out = []
    for k, (label, text) in enumerate(muts):
        f = _put(root, f"yaml_{k}", text.encode(), "prof.yaml")
        argv = (["profiles", "show", f] if k % 2 == 0 else
                ["convert", seeds / "model.pt", "--profile", f, "--out", f.parent / "o.s2h"])
        out.append(Case("profile YAML", label, argv, f.parent))
    return out


def output_target_cases(root: Path, quick: bool) -> list:
    out = []
    makers = {"fifo": targets._fifo, "dangling symlink": targets._dangling, "symlink to /dev/null": targets._link_null}
    cmds = [("convert", targets.FILE_COMMANDS), ("export", targets.FOLDER_COMMANDS),
            ("simulate", targets.FOLDER_COMMANDS)]
    for cmd, table in cmds[:1] if quick else cmds:
        d = _case_dir(root, f"out_null_{cmd}")
        out.append(Case("output targets", f"{cmd} --out /dev/null", targets._argv(table, cmd, DEV_NULL, None), d,
                        special=[DEV_NULL], guarded=True))
        for label, make in makers.items():
            d = _case_dir(root, f"out_{cmd}_{label.replace(' ', '_').replace('/', '_')}")
            t = d / "target"
            make(t)
            specials = [t] + ([t.with_name(t.name + ".target")] if os.path.lexists(t.with_name(t.name + ".target"))
                              else [])
            out.append(Case("output targets", f"{cmd} --out <{label}>", targets._argv(table, cmd, t, None), d,
                            special=specials + ([DEV_NULL] if "dev/null" in label else []), guarded="dev" in label))
    return out


def option_cases(root: Path, quick: bool) -> list:
    out = []
    for i, (base, opt, values) in enumerate(edges.EDGES[::4] if quick else edges.EDGES[::2]):
        v = values[i % len(values)]
        d = _case_dir(root, f"opt_{i}")
        out.append(Case("option edges", f"{base[0]} {opt} {v}", [base[0], opt, v, *edges._fill(base[1:], d)], d))
    return out


# ---------------------------------------------------------------------------------------------------- main
def build_cases(root: Path, quick: bool) -> list:
    seeds = make_seeds(_case_dir(root, "seeds"))
    bomb_dir = _case_dir(root, "bombs")
    integrity._bombs(seeds, bomb_dir)
    return (checkpoint_cases(seeds, root, quick) + checkpoint_semantic_bombs(seeds, root, bomb_dir)
            + hdf5_cases(seeds, root, quick, bomb_dir) + npz_cases(seeds, root, quick, bomb_dir)
            + report_cases(seeds, root, quick) + yaml_cases(seeds, root, quick) + output_target_cases(root, quick)
            + option_cases(root, quick))


def table(results: list) -> str:
    cats = list(dict.fromkeys(r["case"].category for r in results))
    head = ["category", "cases", "clean errors", "tracebacks", "accepted (exit 0)", "other exits",
            "corrupt accepted", "max peak RSS MB", "max wall s", "replaced", "half written"]
    rows = []
    for cat in cats + ["all"]:
        rs = [r for r in results if cat == "all" or r["case"].category == cat]
        rows.append([cat, len(rs), sum(r["clean"] and not r["traceback"] for r in rs), sum(r["traceback"] for r in rs),
                     sum(r["rc"] == 0 for r in rs), sum(r["rc"] not in (0, 2) for r in rs),
                     sum(r["rc"] == 0 and r["case"].tensor for r in rs),
                     f"{max(r['peak_mb'] for r in rs):.0f}", f"{max(r['secs'] for r in rs):.1f}",
                     sum(bool(r["replaced"]) for r in rs), sum(r["half"] for r in rs)])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def broken(r: dict) -> list:
    why = []
    if r["traceback"]:
        why.append("traceback")
    if r["rc"] not in (0, 2):
        why.append(f"exit {r['rc']}")
    if r["rc"] == 0 and r["case"].tensor:
        why.append("corrupt tensor accepted")
    if r["peak_mb"] > PEAK_LIMIT_MB:
        why.append(f"peak {r['peak_mb']:.0f} MB")
    if r["secs"] > TIME_LIMIT_S:
        why.append(f"{r['secs']:.1f} s")
    if r["replaced"]:
        why.append(f"replaced {r['replaced']}")
    if r["half"]:
        why.append(f"half written {r['detail']}")
    return why


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one case per generator kind (about a minute)")
    ap.add_argument("--keep", default=None, help="build the cases in this folder and keep it")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every case as it runs")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="fuzz_limits."))
    root.mkdir(parents=True, exist_ok=True)
    try:
        cases = build_cases(root, a.quick)
        t_setup = time.monotonic() - t0
        results = []
        for c in cases:
            r = run_case(c)
            results.append(r)
            if a.verbose or broken(r):
                print(f"  [{c.category}] {c.label}: exit {r['rc']}, {r['peak_mb']:.0f} MB, {r['secs']:.1f} s"
                      + (f"  BROKEN: {', '.join(broken(r))}\n    {r['err'][-600:]}" if broken(r) else ""), flush=True)
        print(table(results))
        bad = [r for r in results if broken(r)]
        print(f"\n{len(results)} cases, {len(bad)} breaking a must-hold (traceback, corrupt accepted, > "
              f"{PEAK_LIMIT_MB} MB, > {TIME_LIMIT_S} s, replaced, half written); setup {t_setup:.0f} s, total "
              f"{time.monotonic() - t0:.0f} s; python {sys.version.split()[0]}, torch {torch.__version__}, "
              f"{os.cpu_count()} CPUs")
        return 1 if bad else 0
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
