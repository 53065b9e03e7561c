"""SANA-FE 2.2.9 as an oracle: its environment, its runs, and the random networks it checks.

Shared by ``tests/oracles/test_sanafe.py`` and ``benchmarks/cost_agreement.py``. SANA-FE (GPL-3) runs in
``.venv-sanafe`` as a subprocess (``tests/oracles/sanafe_run.py``); nothing here imports it.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import snn2hw
from snn2hw.data import direct
from snn2hw.simulators.placement import LayerPlacement, Placement
from tests.helpers.random_graphs import random_convnet, random_mlp, random_resnet

REPO = Path(__file__).resolve().parents[2]
SANAFE_PY = REPO / ".venv-sanafe" / "bin" / "python"
RUNNER = REPO / "tests" / "oracles" / "sanafe_run.py"
TOL = {"synapse": 0.02, "soma": 0.02, "network": 0.02, "total": 0.01, "simple": 0.02, "detailed": 0.10}
#: seeds of the random networks; a seed that once failed stays here as a regression test (16 and 20 once showed
#: that overlapping pools can cancel a composed weight: such a pair is no connection, in SANA-FE and in snn2hw)
SEEDS = list(range(22))
INSTALL = ("SANA-FE 2.2.9 is the test oracle of the cost model and its environment is missing: run "
           "`make sanafe-venv` (or `make test`, which builds it)")


def require_sanafe(python: Path = SANAFE_PY) -> Path:
    """The SANA-FE interpreter, or a loud test failure naming the fix."""
    if not python.exists():
        pytest.fail(f"{INSTALL} (no {python})", pytrace=False)
    out = subprocess.run([str(python), "-c", "from importlib.metadata import version; print(version('sanafe'))"],
                         capture_output=True, text=True)
    if out.returncode or out.stdout.strip() != "2.2.9":
        pytest.fail(f"{INSTALL} ({python}: sanafe {out.stdout.strip() or out.stderr.strip()[-200:]})", pytrace=False)
    return python


def run_sanafe(dirs, tmp: Path) -> dict:
    python = require_sanafe()
    dest = tmp / "sanafe_results.json"
    out = subprocess.run([str(python), str(RUNNER), str(dest)] + [str(d) for d in dirs], capture_output=True,
                         text=True, timeout=1800)
    assert out.returncode == 0, f"SANA-FE failed:\n{out.stderr[-4000:]}"
    return json.loads(dest.read_text())


def rel(a, b) -> float:
    return abs(a - b) / abs(b) if b else abs(a - b)


def counter_problems(exp: dict, sf: dict) -> list:
    """SANA-FE's counters that differ from ``expected.json``'s (they are integers: equal means same dynamics)."""
    probs = [f"{k}: SANA-FE {sf['models']['detailed'][k]}, expected {v}"
             for k, v in exp["sanafe_counters"].items() if sf["models"]["detailed"][k] != v]
    if sf["models"]["simple"]["energy"] != sf["models"]["detailed"]["energy"]:
        probs.append("SANA-FE's energy differs between its timing models")
    return probs


def deviations(exp: dict, sf: dict) -> dict:
    """Relative deviation of snn2hw's prediction from SANA-FE per quantity (energy classes, total, both times)."""
    e = sf["models"]["detailed"]["energy"]
    out = {f"energy {k}": rel(exp["energy_j"][k], e[k]) for k in ("synapse", "soma", "network", "total")}
    out.update({f"time {m}": rel(exp["sim_time_s"][m], sf["models"][m]["sim_time"]) for m in ("simple", "detailed")
                if m in exp["sim_time_s"]})
    return out


TOL_OF = {"energy synapse": TOL["synapse"], "energy soma": TOL["soma"], "energy network": TOL["network"],
          "energy total": TOL["total"], "time simple": TOL["simple"], "time detailed": TOL["detailed"]}


CORES = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 30)


def packed_placement(gi, cores: int, rng) -> Placement:
    """All layers' neurons in topological order cut into ``cores`` contiguous pieces (layers share cores), on
    distinct random cores of the Loihi mesh (8 x 4 tiles of 4 cores), each core's synapses stored dense or sparse."""
    pops = [n for n in gi.topological_order() if isinstance(gi.nodes[n], snn2hw.ir.nodes.Neuron)]
    sizes = {n: int(np.prod(gi.nodes[n].output_shape)) for n in pops}
    total = sum(sizes.values())
    cores = min(cores, total)
    assert -(-total // cores) <= 1024
    phys = rng.choice(100, size=cores, replace=False)  # cores 100-127 stay free for the input senders
    bounds = np.linspace(0, total, cores + 1).round().astype(int)  # exactly `cores` pieces
    pl = Placement(profile="loihi", mesh_width=8, cores_per_tile=4)
    offset = 0
    for n in pops:
        lp = LayerPlacement(n, sizes[n])
        for k in range(cores):
            a, b = max(bounds[k], offset) - offset, min(bounds[k + 1], offset + sizes[n]) - offset
            if b > a:
                lp.ranges.append((int(phys[k]), int(a), int(b)))
        offset += sizes[n]
        pl.layers[n] = lp
    pl.synapse_unit = {int(c): ("sparse" if rng.random() < 0.4 else "dense") for c in phys}
    return pl


def random_case(seed: int):
    """A random integer network, its placement and inputs. Neurons without a current decay (the export refuses
    one), shortcuts without extra delay (two-branch residual adds)."""
    rng = np.random.default_rng(1000 + seed)
    kind = ("mlp", "conv", "residual")[seed % 3]
    kw = dict(models=("if", "lif", "atlif"), resets=("zero",), compares=("ge", "gt"), step=1 / 16)
    if kind == "mlp":
        g = random_mlp(rng, **kw)
    elif kind == "conv":
        g = random_convnet(rng, **kw)
    else:
        g = random_resnet(rng, variants=("two_conv", "two_conv_bn_after"), **kw)
    gi = snn2hw.convert(g, "loihi").graph
    gi.infer_shapes()
    pl = packed_placement(gi, CORES[seed % len(CORES)], rng)
    (name,) = gi.inputs
    shape = gi.nodes[name].shape
    T, N = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    scale = float(rng.choice([0.02, 0.3, 1.0, 3.0]))  # firing from sparse to dense
    enc = ("direct", "frames", "binary")[seed % 3 if seed % 2 else (seed // 2) % 3]
    if enc == "binary":
        x = (rng.random((T, N) + tuple(shape)) < 0.3 * scale) * (1 / 16)
    elif enc == "frames":
        x = np.round(rng.uniform(0, scale, (T, N) + tuple(shape)) * 16) / 16
    else:
        x = direct(np.round(rng.uniform(0, scale, (N,) + tuple(shape)) * 16) / 16, T).numpy()
    return gi, pl, torch.as_tensor(x, dtype=torch.float64), {"kind": kind, "cores": len(pl.cores_used), "T": T,
                                                            "shared": any(len(pl.layers[a].cores) and set(
                                                                pl.layers[a].cores) & set(pl.layers[b].cores)
                                                                for a in pl.layers for b in pl.layers if a < b),
                                                            "N": N, "inputs": enc}


