"""snn2hw map: the per-layer table and JSON of a mapping, both synapse models, clear errors."""
import json
import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, "-m", "snn2hw", "map", *args], capture_output=True, text=True)


def test_map_digits_table_and_json(tmp_path):
    out = tmp_path / "m.json"
    r = _run("examples/digits_lif.pt", "--profile", "loihi", "--json", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert {"cores", "chips", "lower_bound_cores", "layers", "violations"} <= set(doc)
    # loihi's default is the shared model: one core per layer; expanded needs 6 (shown because they differ)
    assert doc["synapse_model"] == "shared" and doc["cores"] == 3 and doc["chips"] == 1 and doc["fits"]
    assert doc["other_synapse_model"] == {"synapse_model": "expanded", "cores": 6, "lower_bound_cores": 4,
                                          "fits": True, "violations": 0}
    assert [lay["layer"] for lay in doc["layers"]] == ["sn0", "sn1", "readout"]
    assert sum(lay["cores"] for lay in doc["layers"]) == doc["cores"]
    assert all(lay["lower_bound_cores"] <= lay["cores"] for lay in doc["layers"])
    assert doc["layers"][0]["utilisation"]["neurons_per_core"] == 1.0      # 16 x 8 x 8 = 1024 neurons on one core
    assert "with expanded synapses: 6 cores" in r.stdout and "lower bound 3 cores" in r.stdout


def test_map_refuses_a_model_the_profile_lacks(tmp_path):
    out = tmp_path / "m.json"
    r = _run("examples/digits_lif.pt", "--profile", "loihi2", "--synapse-model", "shared", "--json", str(out))
    assert r.returncode == 2 and "loihi2" in r.stderr and "'shared'" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_map_on_a_shared_kernel_chip():
    r = _run("examples/digits_lif.pt", "--profile", "speck")
    assert r.returncode == 0, r.stderr
    assert "speck" in r.stdout and "3 cores" in r.stdout


def test_map_effort_choices_are_the_mappers(tmp_path):
    """`--effort` offers what the mapper accepts, and the JSON says which one ran (the digits model maps the same
    either way: 6 expanded cores), or null where merging does not apply (shared synapses: 3 cores)."""
    from snn2hw.cli import simulate
    from snn2hw.cli_map import map_cmd
    from snn2hw.simulators.mapping.partition import EFFORTS
    for cmd in (map_cmd, simulate):   # both commands' choices (literals: the CLI imports no mapper at start-up)
        opt = next(o for o in cmd.params if o.name == "effort")
        assert tuple(opt.type.choices) == EFFORTS and opt.default == "normal"
    out = tmp_path / "m.json"
    r = _run("examples/digits_lif.pt", "--synapse-model", "expanded", "--effort", "fast", "--json", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["effort"] == "fast" and doc["cores"] == 6
    r = _run("examples/digits_lif.pt", "--effort", "fast", "--json", str(out))   # shared synapses: nothing merges
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["effort"] is None and doc["cores"] == 3
    r = _run("examples/digits_lif.pt", "--effort", "max")
    assert r.returncode == 2 and "'max'" in r.stderr and "Traceback" not in r.stderr


def test_simulate_records_the_mapping_effort(tmp_path):
    """`snn2hw simulate --effort fast` maps with it and the report says so (runs[].mapping_effort)."""
    r = subprocess.run([sys.executable, "-m", "snn2hw", "simulate", "examples/digits_lif.pt", "--profile", "loihi",
                        "--synapse-model", "expanded", "--effort", "fast", "--data", "digits", "--samples", "2",
                        "--out", str(tmp_path / "rep")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    run = json.loads((tmp_path / "rep" / "report.json").read_text())["runs"][0]
    assert run["mapping_effort"] == "fast" and run["synapse_model"] == "expanded" and run["cores_used"] == 6
