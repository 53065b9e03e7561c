"""The shipped hardware profiles: each validates, cites a source for every figure, flags its estimates,
states its assumptions, agrees with shared/reference/HW_PROFILES.md, and can drive the quantizer."""
import math
from pathlib import Path

import numpy as np
import pytest

from snn2hw.hw_profiles import HERE, iter_figures, list_profiles, load_profile
from snn2hw.ir import SYNAPSES, Neuron
from snn2hw.passes import convert

from tests.helpers.random_graphs import random_graph

SHIPPED = ["cmos45", "loihi", "loihi2", "loihi_davies", "speck", "spinnaker2", "truenorth"]


def test_the_expected_profiles_ship():
    assert set(SHIPPED) <= set(list_profiles())


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_validates_and_is_named_by_its_file(name):
    p = load_profile(name)
    assert p.name == name == Path(HERE / f"{name}.yaml").stem
    assert load_profile(HERE / f"{name}.yaml") == p  # by path too
    assert p.description.strip() and p.notes, "a profile states its assumptions in notes"
    assert {"formats", "semantics"} <= set(p.sources)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_figure_has_a_source(name):
    p = load_profile(name)
    figs = list(iter_figures(p))
    assert figs or name == "cmos45"
    for path, f in figs:
        assert f.source.strip() and len(f.source.strip()) >= 3, path
        assert math.isfinite(f.value) and f.value >= 0, path
    if p.capacity is not None and p.capacity.mesh is not None:
        assert p.capacity.mesh.source.strip()
    for section, src in p.sources.items():
        assert src.strip(), section


# ----------------------------------------------------------------------------- numbers vs HW_PROFILES.md
SPOT = {
    # loihi: SANA-FE arch/loihi.yaml (HW_PROFILES §1.3)
    ("loihi", "costs.synop_energy_pj"): 35.5,
    ("loihi", "costs.neuron_active_energy_pj"): 51.2 + 21.6,
    ("loihi", "costs.message_out_energy_pj"): 111.0,
    ("loihi", "capacity.neurons_per_core"): 1024,
    # loihi_davies: Davies 2018 Table 2 (§2.1)
    ("loihi_davies", "costs.synop_energy_pj"): 23.6,
    ("loihi_davies", "costs.synop_latency_ns"): 3.5,
    ("loihi_davies", "costs.neuron_active_energy_pj"): 81.0,
    ("loihi_davies", "costs.neuron_inactive_energy_pj"): 52.0,
    ("loihi_davies", "costs.neuron_active_latency_ns"): 8.4,
    ("loihi_davies", "costs.neuron_inactive_latency_ns"): 5.3,
    ("loihi_davies", "costs.message_out_energy_pj"): 1.7,
    ("loihi_davies", "costs.message_out_latency_ns"): 2.1,
    ("loihi_davies", "costs.hop_ew_energy_pj"): 3.0,
    ("loihi_davies", "costs.hop_ns_energy_pj"): 4.0,
    ("loihi_davies", "costs.hop_ew_latency_ns"): 4.1,
    ("loihi_davies", "costs.hop_ns_latency_ns"): 6.5,
    ("loihi_davies", "costs.barrier_latency_ns.1"): 113,
    ("loihi_davies", "costs.barrier_latency_ns.32"): 465,
    # loihi2 (§2.2): capacity and Loihi 1 x 0.5
    ("loihi2", "capacity.cores"): 128,
    ("loihi2", "capacity.neurons_per_core"): 1048576 / 128,
    ("loihi2", "costs.synop_energy_pj"): 35.5 * 0.5,
    # truenorth (§2.3)
    ("truenorth", "capacity.cores"): 4096,
    ("truenorth", "capacity.neurons_per_core"): 256,
    ("truenorth", "capacity.fan_in_axons_per_core"): 256,
    ("truenorth", "capacity.synapse_memory_bits_per_core"): 256 * 256,
    ("truenorth", "costs.synop_energy_pj"): 26.0,
    # speck (§2.5)
    ("speck", "capacity.cores"): 9,
    ("speck", "capacity.neurons_per_core"): 16 * 1024,
    ("speck", "capacity.max_destination_cores"): 2,
    ("speck", "capacity.max_kernel_size"): 16,
    ("speck", "costs.static_power_mw"): 0.42,
    # spinnaker2 (§2.4)
    ("spinnaker2", "capacity.cores"): 152,
    # cmos45 (§2.8)
    ("cmos45", "costs.synop_energy_pj"): 0.9,
    ("cmos45", "costs.ac_energy_pj"): 0.9,
    ("cmos45", "costs.mac_energy_pj"): 4.6,
}


@pytest.mark.parametrize("name,path", sorted(SPOT))
def test_key_numbers_match_the_fact_sheet(name, path):
    figs = dict(iter_figures(load_profile(name)))
    assert figs[path].value == pytest.approx(SPOT[name, path], rel=1e-9)


def test_loihi_davies_shares_loihi_capacity_and_formats():
    a, b = load_profile("loihi"), load_profile("loihi_davies")
    assert a.formats == b.formats and a.semantics == b.semantics

    def cap(p):
        return {k: f.value for k, f in iter_figures(p) if k.startswith("capacity.")}
    assert cap(a) == cap(b) and cap(a)
    ma, mb = a.capacity.mesh, b.capacity.mesh
    assert (ma.width, ma.height, ma.cores_per_tile) == (mb.width, mb.height, mb.cores_per_tile)


def test_loihi2_costs_are_all_estimates_scaled_from_loihi():
    l1, l2 = load_profile("loihi"), load_profile("loihi2")
    costs = [(p, f) for p, f in iter_figures(l2) if p.startswith("costs.")]
    assert costs and all(f.estimate for _, f in costs)
    one = dict(iter_figures(l1))
    for p, f in costs:
        if p.endswith("_energy_pj"):
            assert f.value == pytest.approx(0.5 * one[p].value), p
    assert any("0.5" in n for n in l2.notes)
    assert l2.formats.state_bits == 24 and l2.formats.weight_bits == 8
    assert any("graded" in n.lower() for n in l2.notes)
    assert l2.capacity.mesh.estimate


def test_estimates_are_flagged_where_values_are_derived():
    assert dict(iter_figures(load_profile("loihi_davies")))["costs.barrier_latency_ns.8"].estimate
    assert not dict(iter_figures(load_profile("loihi_davies")))["costs.synop_energy_pj"].estimate
    assert dict(iter_figures(load_profile("spinnaker2")))["capacity.neurons_per_core"].estimate


def test_truenorth_energy_is_all_in():
    p = load_profile("truenorth")
    assert p.models_energy and p.costs.static_power_mw is None  # 26 pJ already includes static power
    assert "static" in p.costs.synop_energy_pj.source
    assert p.formats.weight_bits == 2 and p.formats.input_bits == 1
    assert any("axon type" in n.lower() for n in p.notes)


def test_capacity_only_and_cost_model_profiles():
    speck, spin, cmos = load_profile("speck"), load_profile("spinnaker2"), load_profile("cmos45")
    assert not speck.models_energy and speck.costs.static_power_mw is not None
    assert [p for p, _ in iter_figures(speck) if p.startswith("costs.")] == ["costs.static_power_mw"]
    assert not spin.models_energy and not [p for p, _ in iter_figures(spin) if p.startswith("costs.")]
    assert any("capacity-only" in n.lower() for n in spin.notes)
    assert cmos.capacity is None and cmos.models_energy
    assert any("no capacity limits" in n.lower() for n in cmos.notes)
    assert speck.formats.weight_bits == 8 and speck.formats.state_bits == 16


# ----------------------------------------------------------------------------- usable by the quantizer
@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("seed", [0, 1])
def test_profile_drives_the_quantizer(name, seed):
    p = load_profile(name)
    fm = p.formats
    rng = np.random.default_rng(seed)
    g = random_graph(rng, "conv" if seed else "mlp", resets=(p.semantics.reset,), step=1 / 16)
    q = convert(g, name).graph
    assert q.metadata["profile"] == name
    qmax, vth_max, bias_max = 2 ** (fm.weight_bits - 1) - 1, 2 ** fm.threshold_mant_bits - 1, \
        2 ** (fm.bias_mant_bits - 1) - 1
    for n, node in q.nodes.items():
        if isinstance(node, SYNAPSES):
            assert np.abs(node.weight_int).max() <= qmax, n
            assert fm.weight_exp_min <= node.weight_exp <= fm.weight_exp_max, n
        if isinstance(node, Neuron):
            assert node.int_reset == p.semantics.reset and node.int_compare == p.semantics.compare
            assert np.abs(node.bias_mant).max() <= bias_max, n
            if not node.readout:
                assert np.all((0 <= node.vth) & (node.vth <= vth_max)), n


# ----------------------------------------------------------------------------- usable by the event simulator
@pytest.mark.parametrize("name", SHIPPED)
def test_profile_drives_the_event_simulator(name):
    import torch
    from snn2hw.simulators.event import sequential_placement, simulate_events
    from tests.helpers.random_graphs import random_input
    p = load_profile(name)
    rng = np.random.default_rng(0)
    q = convert(random_graph(rng, "mlp", resets=(p.semantics.reset,), step=1 / 16), name).graph
    x = torch.as_tensor(random_input(rng, q, timesteps=3, batch=2))
    r = simulate_events(q, x, placement=sequential_placement(q, profile=name), profile=name)
    e = r.energy
    if name in ("loihi", "loihi2", "loihi_davies"):  # complete per-event models: every class and a latency
        for cls in ("synapse", "neuron", "spike", "network"):
            assert e[f"{cls}_pj_per_sample"] is not None, (name, cls)
        assert r.latency["latency_ns_per_input_step"] is not None
    if p.models_energy:
        assert e["synapse_pj_per_sample"] == pytest.approx(
            r.totals["synops_per_sample"] * p.costs.synop_energy_pj.value)
    else:
        assert e["synapse_pj_per_sample"] is None
