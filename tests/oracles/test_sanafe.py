"""SANA-FE 2.2.9 as the test oracle of the cost model.

``snn2hw export --format sanafe`` writes the mapped integer network with its input spikes
(``exporters/sanafe.py``); SANA-FE itself (its own ``sanafe.load_loihi()`` architecture, run by
``sanafe_run.py`` in ``.venv-sanafe``: GPL-3, never imported here) simulates it under both of its
timing models. Required, per network:

* SANA-FE's counters equal ``expected.json``'s exactly (synaptic events, messages, neurons fired,
  neurons updated): the same dynamics, spike for spike;
* energy per class (synapse, soma, network) within 2 %, total within 1 %, simulated time within 2 %
  (simple model) and 10 % (detailed model) of ``expected.json``, snn2hw's prediction of that run;
* for the digits models, ``snn2hw simulate``'s report on the same samples equals ``expected.json``'s
  chip run, and the report plus the itemised reset overhead agrees with SANA-FE within the same
  tolerances.

Networks: the shipped ``examples/digits_lif.pt``, a ``digits_conv`` trained for one epoch, and
seeded random networks (dense, conv with padding and stride, sum pools before convs and before
dense layers, residual adds, 1-30 cores, sparse and dense storage, binary and graded inputs,
firing from sparse to dense). All exports run in one SANA-FE process. The worst case of every
quantity is printed at the end of the test session (``conftest.py``).

Without ``.venv-sanafe`` these tests FAIL (never skip): run ``make sanafe-venv``.
"""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

import snn2hw
from snn2hw.data import load_dataset
from snn2hw.exporters.sanafe import export_sanafe
from tests.helpers.oracle_table import WORST
from tests.helpers.random_graphs import random_resnet
from tests.helpers.sanafe_oracle import (REPO, SEEDS, TOL, TOL_OF, counter_problems, deviations, random_case, rel,
                                         require_sanafe, run_sanafe)


def compare(label: str, exp: dict, sf: dict) -> list:
    """Problems of one network (empty: it agrees); records the deviations for the worst-case table."""
    probs = counter_problems(exp, sf)
    for q, r in deviations(exp, sf).items():
        WORST.record(q, r, TOL_OF[q], label)
        if r > TOL_OF[q]:
            probs.append(f"{q}: {r:.2%} off SANA-FE (tolerance {TOL_OF[q]:.0%})")
    return probs


@pytest.fixture(scope="module")
def random_runs(tmp_path_factory):
    require_sanafe()
    root = tmp_path_factory.mktemp("sanafe_random")
    cases = {}
    for seed in SEEDS:
        gi, pl, x, info = random_case(seed)
        d = root / f"seed{seed}"
        r = export_sanafe(gi, x, d, "loihi", placement=pl)
        cases[seed] = (r["expected"], info, d)
    res = run_sanafe([c[2] for c in cases.values()], root)
    return {seed: (exp, info, res[str(d)]) for seed, (exp, info, d) in cases.items()}


@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_agrees_with_sanafe(random_runs, seed):
    exp, info, sf = random_runs[seed]
    probs = compare(f"random seed {seed} ({info['kind']}, {info['cores']} cores, {info['inputs']} inputs)", exp, sf)
    assert not probs, f"seed {seed} {info}:\n" + "\n".join(probs)


def test_random_networks_cover_the_issue_s_cases(random_runs):
    """The seeds span what the oracle must see: 1 to 30 cores, every kind and input encoding, both synapse units,
    and firing from sparse to dense."""
    infos = [v[1] for v in random_runs.values()]
    cores = [i["cores"] for i in infos]
    assert min(cores) == 1 and max(cores) == 30 and any(i["shared"] for i in infos)
    assert {i["kind"] for i in infos} == {"mlp", "conv", "residual"}
    assert {i["inputs"] for i in infos} == {"direct", "frames", "binary"}
    rates = [v[0]["counts"]["spikes_out_per_sample"] / max(1.0, v[0]["counts"]["neuron_updates_active_per_sample"]
                                                           + v[0]["counts"]["neuron_updates_inactive_per_sample"])
             for v in random_runs.values()]
    print("spikes per neuron and device step:", sorted(round(r, 3) for r in rates))
    assert min(rates) < 0.05 and max(rates) > 0.3  # spikes per neuron-step over the run


# ----------------------------------------------------------------------------- the digits models
@pytest.fixture(scope="module")
def digits_conv_one_epoch(tmp_path_factory):
    from snn2hw.frontends.checkpoint import save_checkpoint
    from snn2hw.models import build_model
    from snn2hw.train import train
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = build_model("digits_conv", num_classes=10, neuron="lif")
    train(model, data, epochs=1, T=4, lr=5e-3, batch_size=64, seed=0)
    path = tmp_path_factory.mktemp("digits_conv") / "digits_conv_1ep.pt"
    save_checkpoint(path, model, input_step=data.input_step, timesteps=4, encoding="direct", dataset="digits")
    return path


@pytest.mark.parametrize("which", ["shipped digits_lif", "digits_conv one epoch"])
def test_digits_models_export_run_in_sanafe_and_agree(which, digits_conv_one_epoch, tmp_path):
    """`snn2hw export --format sanafe` (the CLI) + SANA-FE, against expected.json and `snn2hw simulate`'s report."""
    require_sanafe()
    ckpt = REPO / "examples" / "digits_lif.pt" if which.startswith("shipped") else digits_conv_one_epoch
    n = 8
    out = subprocess.run([str(REPO / ".venv" / "bin" / "snn2hw"), "export", str(ckpt), "--format", "sanafe",
                          "--samples", str(n), "--out", str(tmp_path / "exp")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    d = tmp_path / "exp" / "sanafe"
    exp = json.loads((d / "expected.json").read_text())
    man = json.loads((tmp_path / "exp" / "manifest.json").read_text())
    assert {f["path"] for f in man["files"]} == {"ir/model.s2h", "sanafe/net.yaml", "sanafe/expected.json"}
    sf = run_sanafe([d], tmp_path)[str(d)]
    probs = compare(which, exp, sf)
    assert not probs, "\n".join(probs)
    # the report of `snn2hw simulate` on the same samples is the chip run of expected.json ...
    rep_dir = tmp_path / "rep"
    out = subprocess.run([str(REPO / ".venv" / "bin" / "snn2hw"), "simulate", str(ckpt), "--samples", str(n),
                          "--out", str(rep_dir)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    run = json.loads((rep_dir / "report.json").read_text())["runs"][0]
    chip = exp["chip_run"]
    e = run["energy_pj_per_sample"]
    mine = {"synapse": e["synapse"], "soma": e["neuron"] + e["spike"], "network": e["network"], "total": e["total"]}
    for k, v in mine.items():
        assert v * n * 1e-12 == pytest.approx(chip["energy_j"][k], rel=1e-9), k
    for m in ("simple", "detailed"):
        assert run["latency_ns"][f"{m}_per_sample"] * n * 1e-9 == pytest.approx(chip["sim_time_s"][m], rel=1e-9), m
    # ... and with the itemised reset overhead (reset neurons and the warm-up step SANA-FE needs) added, it agrees
    # with SANA-FE itself
    over = exp["reset_overhead"]
    ef = sf["models"]["detailed"]["energy"]
    for k, v in mine.items():
        r = rel(v * n * 1e-12 + over["energy_j"][k], ef[k])
        WORST.record(f"report energy {k}", r, TOL[k], which)
        assert r <= TOL[k], (k, r)
    for m in ("simple", "detailed"):
        r = rel(run["latency_ns"][f"{m}_per_sample"] * n * 1e-9 + over["sim_time_s"][m], sf["models"][m]["sim_time"])
        WORST.record(f"report time {m}", r, TOL[m], which)
        assert r <= TOL[m], (m, r)
    WORST.note(which, f"reset overhead: energy {over['energy_j']['total'] / chip['energy_j']['total']:+.2%}, "
                      f"detailed time {over['sim_time_s']['detailed'] / chip['sim_time_s']['detailed']:+.2%} of the "
                      f"chip run")


def test_other_profile_writes_an_architecture_sanafe_runs(tmp_path):
    """A profile other than loihi (loihi_davies: Davies et al. 2018's own per-event figures) exports arch.yaml;
    SANA-FE loads it and its run agrees with expected.json."""
    require_sanafe()
    out = subprocess.run([str(REPO / ".venv" / "bin" / "snn2hw"), "export", str(REPO / "examples" / "digits_lif.pt"),
                          "--format", "sanafe", "--profile", "loihi_davies", "--samples", "3",
                          "--out", str(tmp_path / "exp")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    d = tmp_path / "exp" / "sanafe"
    assert (d / "arch.yaml").is_file()
    exp = json.loads((d / "expected.json").read_text())
    assert exp["architecture"] == "arch.yaml" and exp["profile"] == "loihi_davies"
    sf = run_sanafe([d], tmp_path)[str(d)]
    probs = compare("digits_lif on loihi_davies (arch.yaml)", exp, sf)
    assert not probs, "\n".join(probs)


# ----------------------------------------------------------------------------- refusals
def test_unexpressible_profile_is_refused_cleanly(tmp_path):
    out = subprocess.run([str(REPO / ".venv" / "bin" / "snn2hw"), "export", str(REPO / "examples" / "digits_lif.pt"),
                          "--format", "sanafe", "--profile", "speck", "--samples", "2", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "shared_kernel" in out.stderr and "capacity.mesh" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x").exists() and not list(tmp_path.iterdir())


def test_delayed_shortcut_and_current_decay_are_refused():
    rng = np.random.default_rng(5)
    g = random_resnet(rng, variants=("identity",), models=("cuba",), resets=("zero",), step=1 / 16)
    gi = snn2hw.convert(g, "loihi").graph
    from snn2hw.exporters.sanafe import sanafe_problems
    from snn2hw.hw_profiles import load_profile
    probs = sanafe_problems(gi, load_profile("loihi"))
    assert any("extra step(s) of delay" in p for p in probs)
    assert any("current decay" in p for p in probs)


def test_missing_sanafe_environment_fails_loudly(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="make sanafe-venv"):
        require_sanafe(tmp_path / "no-such-venv" / "bin" / "python")
