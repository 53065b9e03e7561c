"""A user's own profile YAML: every problem is reported as a ProfileError naming its field path."""
import pytest

from snn2hw.errors import ProfileError
from snn2hw.hw_profiles import HERE, load_profile

LOIHI = (HERE / "loihi.yaml").read_text()
SYNOP = 'synop_energy_pj: {value: 35.5, source: "SANA-FE arch/loihi.yaml, dense synapse unit (calibrated against measured Loihi)"}'


def write(tmp_path, text, name="chip.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def error_of(path) -> str:
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    return str(e.value)


def test_a_copy_of_a_shipped_profile_loads(tmp_path):
    p = load_profile(write(tmp_path, LOIHI.replace("name: loihi", "name: mychip")))
    assert p.name == "mychip" and p.costs.synop_energy_pj.value == 35.5


def test_wrong_type_names_the_nested_field(tmp_path):
    msg = error_of(write(tmp_path, LOIHI.replace("value: 35.5", "value: lots")))
    assert "costs.synop_energy_pj.value: Input should be a valid number" in msg
    assert "'lots'" in msg


def test_missing_field_is_named(tmp_path):
    msg = error_of(write(tmp_path, LOIHI.replace("  weight_bits: 8\n", "")))
    assert "formats.weight_bits: Field required" in msg


def test_typo_key_is_named_with_a_suggestion(tmp_path):
    msg = error_of(write(tmp_path, LOIHI.replace("synop_latency_ns:", "synop_latncy_ns:")))
    assert "costs.synop_latncy_ns: unknown key" in msg and "did you mean 'synop_latency_ns'" in msg


def test_all_problems_of_one_file_are_reported_together(tmp_path):
    text = (LOIHI.replace("value: 35.5", "value: lots").replace("  weight_bits: 8\n", "")
            .replace("neurons_per_core:", "neurons_per_cor:").replace("source: \"nengo-loihi: runs", "sorce: \"x"))
    msg = error_of(write(tmp_path, text))
    for needle in ("costs.synop_energy_pj.value:", "formats.weight_bits: Field required",
                   "capacity.neurons_per_cor: unknown key", "capacity.neurons_per_core: Field required",
                   "capacity.synapse_word_bits.sorce: unknown key", "capacity.synapse_word_bits.source: Field required"):
        assert needle in msg, needle
    assert str(tmp_path / "chip.yaml") in msg


def test_other_bad_figures(tmp_path):
    msg = error_of(write(tmp_path, LOIHI.replace(SYNOP, "synop_energy_pj: 35.5")))
    assert "costs.synop_energy_pj:" in msg and "{value:" in msg  # says how a figure is written
    msg = error_of(write(tmp_path, LOIHI.replace("1: {value: 600", "1: {value: x")))
    assert "costs.barrier_latency_ns.1.value:" in msg
    msg = error_of(write(tmp_path, LOIHI.replace("value: 35.5", "value: -35.5")))
    assert "costs.synop_energy_pj.value: must be a finite number >= 0" in msg
    msg = error_of(write(tmp_path, LOIHI.replace("value: 35.5", "value: .nan")))
    assert "costs.synop_energy_pj.value: must be a finite number" in msg
    msg = error_of(write(tmp_path, LOIHI.replace("  reset: zero", "  reset: sometimes")))
    assert "semantics.reset:" in msg and "'sometimes'" in msg
    msg = error_of(write(tmp_path, LOIHI + "\ncolour: blue\n"))
    assert "colour: unknown key" in msg and "notes" in msg  # lists the valid top-level keys


def test_unreadable_files_and_names(tmp_path):
    assert "is empty" in error_of(write(tmp_path, ""))
    assert "mapping" in error_of(write(tmp_path, "- a\n- b\n"))
    assert "not valid YAML" in error_of(write(tmp_path, "name: [unclosed\n"))
    assert "does not exist" in error_of(tmp_path / "missing.yaml")
    msg = error_of("loihi9")
    assert "unknown hardware profile 'loihi9'" in msg and "loihi_davies" in msg
