"""The cost report: `snn2hw simulate` and `snn2hw report`, content, determinism and re-rendering."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from test_cli import assert_user_error, run  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "determinism"))
from test_artifacts import assert_same_outputs  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CKPT = REPO / "examples" / "digits_lif.pt"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep")
    outs = []
    for name, bs in (("a", ["--batch-size", "7"]), ("b", []), ("c", ["--batch-size", "1"])):  # b: the default
        res = run("simulate", CKPT, "--profile", "loihi,loihi_davies,cmos45", "--data", "digits", "--samples", "24",
                  *bs, "--out", d / name)
        assert res.returncode == 0, res.stderr
        outs.append(d / name)
    return outs


def test_report_content(reports):
    rep = json.loads((reports[0] / "report.json").read_text())
    assert rep["schema"] == "snn2hw-report" and rep["schema_version"] == 1
    assert rep["inputs"]["samples"] == 24 and rep["inputs"]["timesteps"] == 4
    assert [r["profile"] for r in rep["runs"]] == ["loihi", "loihi_davies", "cmos45"]
    loihi, davies, cmos = rep["runs"]
    assert loihi["fits"] is True and 1 <= loihi["cores_used"] <= 128
    e = loihi["energy_pj_per_sample"]
    parts = sum(v for k, v in e.items() if k != "total" and v is not None)
    assert e["total"] == pytest.approx(parts, rel=1e-9)
    # the same events priced by two Loihi profiles: Davies' synaptic energy is 23.6 pJ vs SANA-FE's 35.5 pJ
    assert davies["totals"]["synops_per_sample"] == loihi["totals"]["synops_per_sample"]
    syn = loihi["totals"]["synops_per_sample"]
    assert davies["energy_pj_per_sample"]["synapse"] == pytest.approx(23.6 * syn, rel=1e-9)
    # SANA-FE's Loihi prices each core at its storage's synapse unit: conv 24.0 pJ (shared conv weight sets, the
    # loihi default synapse model), sparse 33.6 pJ, dense 35.5 pJ
    assert loihi["synapse_model"] == "shared"
    assert 24.0 * syn - 1e-6 <= loihi["energy_pj_per_sample"]["synapse"] <= 35.5 * syn + 1e-6
    conv = [c for c in loihi["cores"] if c.get("synapse_unit") == "conv"]
    assert conv and all(c["energy_synapse_pj_per_sample"] == pytest.approx(24.0 * c["synops_per_sample"], rel=1e-9)
                        for c in conv)
    assert cmos["fits"] is None  # no capacity model: said, not invented
    assert rep["accuracy"]["float"] >= 0.9 and rep["accuracy"]["int (loihi)"] >= 0.9
    assert any("SANA-FE" in a for a in loihi["assumptions"])
    lit = loihi["literature"]
    assert lit["energy_pj_per_sample"] == pytest.approx(0.9 * lit["sops_per_sample"] + 4.6 *
                                                        lit["first_layer_macs_per_sample"], rel=1e-9)
    html = (reports[0] / "report.html").read_text()
    assert html.count("<svg") >= 4 and "Profile comparison" in html
    assert "http" not in html.split("<body>")[0]  # self-contained: no external stylesheet or script


def test_report_is_deterministic_across_runs_and_batch_sizes(reports):
    a, b, c = (json.loads((p / "report.json").read_text()) for p in reports)
    a.pop("created"), b.pop("created"), c.pop("created")
    assert a == b == c
    # and byte for byte, Markdown and HTML included, but for the one `created` field of each file
    for other in reports[1:]:
        assert assert_same_outputs(reports[0], other) == [Path(f) for f in ("report.html", "report.json", "report.md")]


def test_rerender(reports, tmp_path):
    out = tmp_path / "r.html"
    res = run("report", reports[0] / "report.json", "--format", "html", "--out", out)
    assert res.returncode == 0, res.stderr
    assert out.read_text() == (reports[0] / "report.html").read_text()
    res = run("report", reports[0] / "report.json", "--format", "md")
    assert res.returncode == 0 and res.stdout.rstrip("\n") == (reports[0] / "report.md").read_text().rstrip("\n")


def test_bad_report_and_profile(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    assert_user_error(run("report", bad), "x.json", "not a snn2hw report")
    out = tmp_path / "o"
    assert_user_error(run("simulate", CKPT, "--profile", "loihi,nochip", "--samples", "2", "--out", out), "nochip")
    assert not out.exists()


def test_energy_per_layer_and_per_core_adds_up_to_the_run(tmp_path):
    """Each event class's energy split by layer (a layer pays for the events it receives and the messages it
    sends) and by core adds up to the run's energy of that class."""
    import json
    from snn2hw.cli import cli
    cli.main(args=["simulate", "examples/digits_lif.pt", "--samples", "20", "--timing", "simple", "--out",
                   str(tmp_path)], prog_name="snn2hw", standalone_mode=False)
    run = json.loads((tmp_path / "report.json").read_text())["runs"][0]
    for cls in ("synapse", "neuron", "spike", "network"):
        total = run["energy_pj_per_sample"][cls]
        by_layer = sum(L[f"energy_{cls}_pj_per_sample"] for L in run["layers"])
        by_core = sum(c[f"energy_{cls}_pj_per_sample"] for c in run["cores"])
        assert by_layer == pytest.approx(total, rel=1e-9) and by_core == pytest.approx(total, rel=1e-9), cls
    assert all(c["synapse_unit"] in ("dense", "sparse", "conv") for c in run["cores"])
