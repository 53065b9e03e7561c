"""benchmarks/compression.py: its verdict list covers every claim issue 17 point 4 names, a results file
missing a verdict is caught, and the --quick path runs end to end (digits, two sections, a few seconds)."""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_compression", ROOT / "benchmarks" / "compression.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# issue 17 point 4, written out independently of the script's CLAIMS.
ISSUE_CLAIMS = (
    [f"AT-LIF fewer SOPs than {b} at matched accuracy" for b in ("AR (λ_s)", "L1 rate", "Hoyer")]
    + [f"ReScaW ≥ vanilla at {b} bit" for b in (2, 4)]
    + [f"{x} ≥ {y} at ratio {r} ({ft})" for r in ("0.25", "0.5", "0.75")
       for ft in ("after fine-tune", "no fine-tune")
       for x, y in (("SVS", "L1"), ("L1", "random"), ("SVS", "BN-γ"))]
    + [f"QP > PQ at ratio {r}" for r in ("0.25", "0.5", "0.75")]
    + [f"regeneration ≥ none at {sp}" for sp in ("90%", "95%", "98%")]
    + [f"criticality ≥ {o} regeneration at 95 %" for o in ("random", "gradient")]
    + [f"structured criticality ≥ L1 filter pruning at ratio {r}" for r in ("0.25", "0.5", "0.75")]
)


def test_claim_list_covers_the_issue(bench):
    names = bench.claim_names()
    assert not [c for c in ISSUE_CLAIMS if c not in names]
    assert len(names) == len(set(names))
    assert bench.MODEL["shapes_dvs"] == "dvs_conv"


def test_missing_claims_detects_a_dropped_verdict(bench):
    lines = [f"- A. {c}: **holds** (x)" for c in bench.claim_names()]
    md = "# r\n\n## Verdicts (each paper's claim, in direction)\n\n" + "\n".join(lines) + "\n\n## A. x\n"
    assert bench.missing_claims(md) == []
    dropped = "\n".join(l for l in lines if "QP > PQ at ratio 0.5:" not in l)
    md2 = md.replace("\n".join(lines), dropped)
    assert bench.missing_claims(md2) == ["QP > PQ at ratio 0.5"]


def test_quick_path_runs_and_reports_its_claims(bench, tmp_path):
    out = tmp_path / "smoke.md"
    rc = bench.main(["--quick", "--data", "digits", "--sections", "BG", "--train-samples", "64",
                     "--test-samples", "32", "--cache", str(tmp_path / "cache"), "--out", str(out)])
    text = out.read_text()
    assert rc == 0
    assert "QUICK SMOKE RUN" in text and "(complete;" in text
    assert bench.missing_claims(text, sections="BG") == []
    assert "ReScaW ≥ vanilla at 2 bit" in text and "structured criticality ≥ L1 filter pruning at ratio 0.75" in text
    assert list((tmp_path / "cache").glob("digits-n64-digits_conv-none-0-s0-e1-T4.pt"))
