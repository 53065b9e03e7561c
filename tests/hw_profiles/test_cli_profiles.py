"""``snn2hw profiles`` and ``snn2hw profiles show``: as a user runs them (subprocess) and in-process."""
import json
import subprocess
import sys

import pytest

from snn2hw.cli import main
from snn2hw.cli_profiles import first_sentence, unit_of
from snn2hw.hw_profiles import HERE, list_profiles


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "snn2hw", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def call(capsys, *args):
    """main(argv) in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


# ----------------------------------------------------------------------------- subprocess
def test_profiles_lists_every_profile():
    res = run("profiles")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "cores", "energy"]
    rows = {ln.split()[0]: ln for ln in lines[1:] if ln.strip() and ln.split()[0] in list_profiles()}
    assert set(rows) == set(list_profiles())
    assert rows["truenorth"].split()[1:3] == ["4096", "yes"]
    assert rows["speck"].split()[1:3] == ["9", "no"]
    assert rows["loihi2"].split()[1:3] == ["128", "estimated"]
    assert rows["cmos45"].split()[1:3] == ["-", "yes"]
    assert "Davies et al. 2018, Table 2" in rows["loihi_davies"]


def test_profiles_show_loihi():
    res = run("profiles", "show", "loihi")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "synop_energy_pj" in out and "35.5 pJ" in out and "3.8 ns" in out and "1024 neurons" in out
    assert "source: SANA-FE arch/loihi.yaml, dense synapse unit" in out
    assert "[estimate]" in out  # synapse_index_bits is an assumption
    assert "barrier_latency_ns[<= 29 tiles]" in out
    assert "not modelled: static_power_mw" in out


def test_profiles_show_bad_yaml_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((HERE / "loihi.yaml").read_text().replace("value: 35.5", "value: lots")
                   .replace("synop_latency_ns:", "synop_latncy_ns:"))
    res = run("profiles", "show", bad)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout
    assert res.stderr.startswith("error:")
    assert "costs.synop_energy_pj.value: Input should be a valid number" in res.stderr
    assert "costs.synop_latncy_ns: unknown key" in res.stderr


# ----------------------------------------------------------------------------- in-process
def test_show_a_user_file_and_json(capsys, tmp_path):
    y = tmp_path / "mine.yaml"
    y.write_text((HERE / "truenorth.yaml").read_text().replace("name: truenorth", "name: mine"))
    code, out, _ = call(capsys, "profiles", "show", y)
    assert code == 0 and out.startswith("mine") and "26 pJ" in out and "none" not in out.split("capacity:")[0]
    code, out, _ = call(capsys, "profiles", "show", "loihi2", "--json")
    d = json.loads(out)
    assert code == 0 and d["costs"]["synop_energy_pj"] == {"value": 17.75, "source": d["costs"]["synop_energy_pj"]
                                                           ["source"], "estimate": True}


@pytest.mark.parametrize("name", ["cmos45", "loihi2", "loihi_davies", "speck", "spinnaker2", "truenorth"])
def test_show_every_profile(capsys, name):
    code, out, err = call(capsys, "profiles", "show", name)
    assert code == 0, err
    assert out.count("source:") >= 1 and "notes:" in out
    if name == "cmos45":
        assert "none (no capacity limits)" in out and "4.6 pJ" in out
    if name == "loihi2":
        assert out.count("[estimate]") >= 20
    if name == "speck":
        assert "0.42 mW" in out and "energy modelled: no" in out


def test_show_unknown_name_and_list_alias(capsys):
    code, _, err = call(capsys, "profiles", "show", "nope")
    assert code == 2 and "unknown hardware profile 'nope'" in err
    code, out, _ = call(capsys, "profiles", "list")
    assert code == 0 and all(n in out for n in list_profiles())


def test_units_and_sentences():
    assert unit_of("synop_energy_pj") == "pJ" and unit_of("hop_ns_latency_ns") == "ns"
    assert unit_of("static_power_mw") == "mW" and unit_of("synapse_memory_bits_per_core") == "bits"
    assert unit_of("neurons_per_core") == "neurons" and unit_of("fan_in_axons_per_core") == "axons"
    assert unit_of("mac_energy_pj") == "pJ" and unit_of("cores") == "cores"
    assert first_sentence("IBM TrueNorth (28 nm, 2014): 4096 cores. Energy is 26 pJ.") == \
        "IBM TrueNorth (28 nm, 2014): 4096 cores."
    assert first_sentence("Davies et al. 2018 numbers. Next.") == "Davies et al. 2018 numbers."
