"""snn2hw sweep (issue 16): clear errors with nothing written; a sweep killed mid-trial (SIGKILL) and resumed
ends with the same trials as an uninterrupted one; pareto.json / pareto.html / trials/ are written."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("optuna")

from snn2hw.cli import cli  # noqa: E402
from snn2hw.errors import Snn2hwError  # noqa: E402

CKPT = "examples/digits_lif.pt"
SPACE = ["--profile", "loihi", "--data", "digits", "--methods", "magnitude,l1,qp-snn,atlif", "--max-epochs", "1",
         "--samples", "20", "--seed", "3",
         "--population", "2"]  # 4 trials: generation 0 (random), then generation 1 bred by NSGA-II from it


def _sweep(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "snn2hw", "sweep", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, **kw)


@pytest.mark.parametrize("extra, words", [
    (["--profile", "loihi", "--methods", "magnitude,nosuch"], ["unknown method", "nosuch"]),
    (["--profile", "loihi,nosuchchip", "--methods", "l1"], ["nosuchchip"]),
    (["--profile", "loihi", "--methods", "l1", "--storage", "nosuchdialect://x/y"], ["--storage", "cannot open"]),
    (["--profile", "loihi", "--methods", "l1", "--ray", "127.0.0.1:1"], ["--ray"]),
    (["--profile", "loihi", "--methods", "l1", "--ray", "nosuchhost"], ["--ray nosuchhost", "cannot connect"]),
    (["--profile", "loihi", "--methods", "l1", "--storage", "postgresql://nobody@127.0.0.1:1/sweep"],
     ["--storage", "cannot open"]),
    (["--profile", "loihi", "--methods", "l1", "--storage", "sqlite:////nonexistent-dir-s2h/x/sweep.db"],
     ["--storage", "cannot open"]),
])
def test_sweep_refuses_bad_input_and_writes_nothing(tmp_path, extra, words):
    out = tmp_path / "sw"
    with pytest.raises(Snn2hwError) as e:  # main() turns an Snn2hwError into 'error: ...' and exit 2
        cli.main(args=["sweep", CKPT, "--data", "digits", "--trials", "2", "--out", str(out), *extra],
                 standalone_mode=False)
    assert all(w in str(e.value) for w in words), str(e.value)
    assert not out.exists()


def test_sweep_exit_status_2():
    r = subprocess.run([sys.executable, "-m", "snn2hw", "sweep", CKPT, "--profile", "loihi", "--data", "digits",
                        "--trials", "1", "--out", "unused-sweep-dir", "--methods", "zap"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "unknown method" in r.stderr and "Traceback" not in r.stderr
    assert not os.path.exists("unused-sweep-dir")


def _trials(d):
    doc = json.loads((d / "pareto.json").read_text())
    return [(t["params"], t["objectives"], t["state"], (t["result"] or {}).get("weights_sha256")) for t in doc["trials"]], doc


def test_sweep_killed_mid_trial_resumes_to_the_same_trials(tmp_path):
    from snn2hw.sweep import SweepConfig, run_sweep
    a, b = tmp_path / "a", tmp_path / "b"
    # the interrupted one: a subprocess paused inside its second trial (after compress, before the checkpoint) ,
    # killed with SIGKILL
    p = _sweep(CKPT, *SPACE, "--trials", "4", "--out", str(b),
               env={"SNN2HW_TEST_FAULT_AT": "sweep:trial1", "SNN2HW_TEST_PAUSE_S": "120"})
    try:
        deadline = time.monotonic() + 240
        err = ""
        while time.monotonic() < deadline:
            line = p.stderr.readline()
            err += line
            if "SNN2HW_PAUSED sweep:trial1" in line or (not line and p.poll() is not None):
                break
        assert "SNN2HW_PAUSED sweep:trial1" in err, err
        # the progress bar: trial count, the front's size and an ETA (a time, not '?', once a trial is done)
        assert re.search(r"0/4 \[[^\]]*front=0\]", err), err
        assert re.search(r"1/4 \[\d+:\d+<\d+:\d+, [^\]]*front=1\]", err), err
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
    before, _ = _trials(b)
    assert len(before) == 1  # the finished trial survived, nothing of the second
    assert sorted(x.name for x in (b / "trials").iterdir()) == ["trial_0000.pt"]
    # the uninterrupted one, in this process
    cfg = SweepConfig(checkpoint=CKPT, profiles=["loihi"], data="digits", trials=4, seed=3,
                      methods=["magnitude", "l1", "qp-snn", "atlif"], max_epochs=1, samples=20, population=2)
    run_sweep(cfg, a, progress=False, log=lambda s: None)
    logs = []
    run_sweep(None, b, resume=True, progress=False, log=logs.append)
    assert any("interrupted" in s for s in logs)
    ta, doc_a = _trials(a)
    tb, doc_b = _trials(b)
    assert len(ta) == 4 and ta == tb
    pos = lambda doc: sorted([t["number"] for t in doc["trials"]].index(n) for n in doc["front"])  # noqa: E731
    assert pos(doc_a) == pos(doc_b) and doc_a["baseline"] == doc_b["baseline"]
    assert len({json.dumps(t[0], sort_keys=True) for t in ta}) > 1  # the sampler does explore
    # the same sweep with --workers 2 (each generation's trials in two local processes): the same trials
    c = tmp_path / "c"
    run_sweep(SweepConfig(**{**cfg.to_dict(), "population": 2}), c, progress=False, log=lambda s: None, workers=2)
    tc, doc_c = _trials(c)
    assert tc == ta and pos(doc_c) == pos(doc_a)
    # and on a local Ray cluster (extra snn2hw[ray], also in [dev] so this runs in CI; a missing ray fails here)
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        r = tmp_path / "r"
        run_sweep(SweepConfig(**{**cfg.to_dict(), "population": 2}), r, progress=False, log=lambda s: None,
                  ray="auto")
    finally:
        ray.shutdown()
    tr, doc_r = _trials(r)
    assert tr == ta and pos(doc_r) == pos(doc_a)
    import optuna
    gens = [t.system_attrs.get("NSGAIISampler:generation")
            for t in optuna.load_study(study_name="snn2hw-sweep", storage=f"sqlite:///{b / 'sweep.db'}").trials
            if t.state.name == "COMPLETE"]
    assert gens == [0, 0, 1, 1]  # the last two were bred by NSGA-II (crossover/mutation), not drawn at random
    from snn2hw.sweep import layer_ratio
    for t in doc_b["trials"]:  # each prunable layer's effective ratio is recorded: global ratio x its multiplier
        e, p = t["effective"], t["params"]
        assert {k for k in p if k.startswith("scale:")} == {"scale:sn0", "scale:sn1"}
        if e["method"] in ("l1", "qp-snn"):
            assert e["layer_ratios"] == {n: layer_ratio(p["ratio"], p[f"scale:{n}"]) for n in ("sn0", "sn1")}
        else:
            assert "layer_ratios" not in e
    html = (b / "pareto.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script" not in html
    for t in doc_b["trials"]:
        assert (b / "trials" / t["result"]["checkpoint"]).is_file()
    # a front point's numbers, re-measured by a separate 'snn2hw simulate' of its saved checkpoint: identical
    from snn2hw.sweep import summarise
    t = next(t for t in doc_b["trials"] if t["number"] == doc_b["front"][0])
    subprocess.run([sys.executable, "-m", "snn2hw", "simulate", str(b / "trials" / t["result"]["checkpoint"]),
                    "--profile", "loihi", "--data", "digits", "--samples", "20", "--out", str(tmp_path / "sim")],
                   capture_output=True, text=True)  # exit 2 is the fidelity gate: the report is written anyway
    again = summarise(json.loads((tmp_path / "sim" / "report.json").read_text()))
    assert again["profiles"] == t["result"]["profiles"] and again["float_accuracy"] == t["result"]["float_accuracy"]


def test_sweep_trial_prunes_each_layer_by_its_own_ratio(tmp_path):
    """A trial's per-layer multipliers reach the compression: the saved checkpoint's layers keep
    int(C (1 - ratio x multiplier)) channels, and the checkpoint records the per-layer ratios."""
    import optuna
    from snn2hw.cli_compress import _load
    from snn2hw.frontends.checkpoint import load_checkpoint
    from snn2hw.sweep import SweepConfig, effective, run_trial, suggest
    cfg = SweepConfig(checkpoint=CKPT, profiles=["loihi"], data="digits", trials=1, methods=["l1"], samples=8)
    trial = optuna.trial.FixedTrial({"method": "l1", "ratio": 0.5, "bits": 4, "epochs": 0,
                                     "scale:sn0": 0.5, "scale:sn1": 1.5})
    eff = effective(suggest(trial, cfg, 4, ["sn0", "sn1"]))
    assert eff["layer_ratios"] == {"sn0": 0.25, "sn1": 0.75}
    ck, data = _load(CKPT, "digits")
    rec = run_trial(ck, data, "digits", eff, cfg, tmp_path / "t.pt")
    m = load_checkpoint(tmp_path / "t.pt")
    assert m.model.conv0.inner[0].weight.shape[0] == 12 and m.model.conv1.inner[0].weight.shape[:2] == (8, 12)
    assert m.info["compression"]["layer_ratios"] == {"sn0": 0.25, "sn1": 0.75}
    assert rec["profiles"]["loihi"]["fits"] is True
    from snn2hw.report.pareto_html import _ratio_text
    assert _ratio_text(eff) == "0.5 (sn0 0.25, sn1 0.75)"  # pareto.html's front table and tooltips
    # without per-layer multipliers in the space: no scale parameter, the global ratio everywhere
    eff_g = effective(suggest(optuna.trial.FixedTrial({"method": "l1", "ratio": 0.5, "bits": 4, "epochs": 0}),
                              SweepConfig(**{**cfg.to_dict(), "per_layer": False}), 4, ["sn0", "sn1"]))
    assert "layer_ratios" not in eff_g and eff_g["ratio"] == 0.5
