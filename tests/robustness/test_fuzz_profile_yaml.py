"""Hardware profile YAML files: random bytes, truncation, bit flips, YAML bombs and absurd numbers,
through ``snn2hw profiles show PATH`` and ``--profile PATH`` (convert)."""
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from harness import check_outcome, flip_bits, run_cli, snapshot

CASES = 40


def _try(seeds, text: bytes, cmd: str, allow_success: bool, name="prof.yaml"):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        f = work / name
        f.write_bytes(text)
        before = snapshot(work)
        argv, outputs = ((["profiles", "show", f], ()) if cmd == "show" else
                         (["convert", seeds / "model.pt", "--profile", f, "--out", work / "o.s2h"], ("o.s2h",)))
        res = run_cli(argv)
        check_outcome(res, work, before, names=[name], allow_success=allow_success, outputs=outputs)
        return res


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.sampled_from(("truncate", "flip", "random")), frac=st.floats(0, 1, exclude_max=True),
       bits=st.lists(st.integers(0, 10**9), min_size=1, max_size=12), junk=st.binary(max_size=600),
       cmd=st.sampled_from(("show", "convert")))
def test_mutated_profile(seeds, how, frac, bits, junk, cmd):
    data = (seeds / "profile.yaml").read_bytes()
    data = {"truncate": data[:int(frac * len(data))], "flip": flip_bits(data, bits), "random": junk}[how]
    _try(seeds, data, cmd, allow_success=how == "flip")


def _edited(seeds, edit) -> bytes:
    d = yaml.safe_load((seeds / "profile.yaml").read_text())
    edit(d)
    return yaml.safe_dump(d).encode()


ABSURD = {
    "cores_1e15": (lambda d: d["capacity"]["cores"].update(value=1e15), "capacity.cores.value"),
    "cores_0": (lambda d: d["capacity"]["cores"].update(value=0), "capacity.cores.value"),
    "cores_inf": (lambda d: d["capacity"]["cores"].update(value=float("inf")), "capacity.cores.value"),
    "cores_fraction": (lambda d: d["capacity"]["cores"].update(value=2.5), "capacity.cores.value"),
    "neurons_per_core_tiny": (lambda d: d["capacity"]["neurons_per_core"].update(value=1e-300),
                              "capacity.neurons_per_core.value"),
    "energy_nan": (lambda d: d["costs"]["synop_energy_pj"].update(value=float("nan")), "synop_energy_pj"),
    "energy_negative": (lambda d: d["costs"]["synop_energy_pj"].update(value=-1), "synop_energy_pj"),
    "weight_bits_1000": (lambda d: d["formats"].update(weight_bits=1000), "formats.weight_bits"),
    "empty_mapping": (lambda d: d.clear(), "name: Field required"),
}


@pytest.mark.parametrize("case", sorted(ABSURD))
def test_absurd_profile_numbers(seeds, case):
    edit, needle = ABSURD[case]
    for cmd in ("show", "convert"):
        res = _try(seeds, _edited(seeds, edit), cmd, allow_success=False)
        assert needle in res.err, res.err


def test_speck_table_with_infinite_cores(tmp_path):
    """A shared-kernel profile whose core count is infinite: was an OverflowError inside validation."""
    from harness import REPO
    d = yaml.safe_load((REPO / "hw_profiles" / "speck.yaml").read_text())
    d["capacity"]["cores"]["value"] = float("inf")
    f = tmp_path / "speck_inf.yaml"
    f.write_text(yaml.safe_dump(d))
    before = snapshot(tmp_path)
    res = run_cli(["profiles", "show", f])
    check_outcome(res, tmp_path, before, names=["speck_inf.yaml"])
    assert "capacity.cores.value" in res.err


def test_yaml_alias_bomb(seeds):
    """'Billion laughs' aliases: refused quickly (validation stops at the first wrong type)."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    bomb += "name: *i\n"
    res = _try(seeds, bomb.encode(), "show", allow_success=False)
    assert "name" in res.err


def _alias_bomb(levels: int, where: str) -> str:
    names = [f"l{i}" for i in range(levels + 1)]
    text = f"{names[0]}: &{names[0]} [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [" + ", ".join([f"*{p}"] * 9) + "]\n" for p, c in zip(names, names[1:]))
    return text + f"{where}: *{names[-1]}\n"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("levels,where,valid", [(8, "name", False), (11, "capacity", False), (10, "extra", True)])
def test_deep_alias_bomb_is_refused_in_seconds(seeds, levels, where, valid):
    """9^12 references in a few hundred bytes (benchmarks/fuzz_limits.py found it): the check for unencodable
    strings walked every alias (hours); each list or mapping is now visited once."""
    text = _alias_bomb(levels, where)
    if valid:
        text = (seeds / "profile.yaml").read_text() + text
    t0 = time.monotonic()
    res = _try(seeds, text.encode(), "show", allow_success=False)
    assert time.monotonic() - t0 < 20
    assert (where if where != "extra" else "unknown key") in res.err
