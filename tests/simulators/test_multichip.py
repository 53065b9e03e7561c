"""Multi-chip systems: a profile's ``system`` (chips on a chip mesh, inter-chip link energy and latency), chips
made explicit in the placement, inter-chip hops counted per message and priced in energy and latency, and the
report's chips and chip crossings. Hand counts on a network of one-core chips; the routing rule against a
brute-force walk of every route."""
import numpy as np
import pytest
import torch

from snn2hw.errors import ProfileError
from snn2hw.hw_profiles import load_profile
from snn2hw.hw_profiles.schema import Capacity, Figure, Mesh, Profile, System
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.report.build import profile_run
from snn2hw.simulators.event import simulate_events
from snn2hw.simulators.mapping import map_graph
from snn2hw.simulators.placement import Placement

LINK_PJ, LINK_NS = 1000.0, 50.0


def fig(v):
    return Figure(value=v, source="test profile")


def profile(mesh=(1, 1, 1), system=(8, 4, 2), link=(LINK_PJ, LINK_NS)):
    """The loihi profile with 4-neuron cores on a ``mesh`` (width, height, cores per tile) chip and, unless
    ``system`` is None, a system of ``system = (chips, chips_x, chips_y)`` chips whose links cost ``link``."""
    w, h, cpt = mesh
    cap = Capacity(cores=fig(w * h * cpt), neurons_per_core=fig(4),
                   mesh=Mesh(width=w, height=h, cores_per_tile=cpt, source="test", link_buffer_size=fig(16)),
                   synapse_memory_bits_per_core=fig(1 << 20), synapse_index_bits=fig(10), synapse_header_bits=fig(10),
                   synapse_word_bits=fig(64), fan_in_axons_per_core=fig(4096), fan_out_axons_per_core=fig(4096))
    sysm = None
    if system is not None:
        sysm = System(name="test board", chips=fig(system[0]), chips_x=system[1], chips_y=system[2], source="test",
                      interchip_energy_pj=fig(link[0]) if link else None,
                      interchip_latency_ns=fig(link[1]) if link else None)
    return load_profile("loihi").model_copy(update={"capacity": cap, "name": "test", "system": sysm})


def _relay(c):
    """IF neurons firing exactly when their input current is >= 1."""
    return N.Neuron(model="if", du=4095, dv=0, vth=np.zeros(c, dtype=np.int64), bias_mant=np.zeros(c, dtype=np.int64))


def _dense(w):
    w = np.asarray(w, dtype=np.int64)
    return N.Dense(weight=w.astype(float), weight_int=w)


def chain():
    """in (4) -> eye -> a (4 relays) -> dense ones -> b (8 relays) -> dense ones -> r (4 readouts)."""
    r = N.Neuron(model="if", readout=True, threshold=float("inf"), du=4095, dv=0, vth=np.full(4, 2**17),
                 bias_mant=np.zeros(4, dtype=np.int64))
    return Graph.sequential([("in", N.Input(shape=(4,), step=1.0, bits=8)), ("id", _dense(np.eye(4))),
                             ("a", _relay(4)), ("fc", _dense(np.ones((8, 4)))), ("b", _relay(8)),
                             ("fc2", _dense(np.ones((4, 8)))), ("r", r), ("out", N.Output())])


ONE_SPIKE = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])  # T = 1, one sample, one input spike


# ----------------------------------------------------------------------------- routing rule
def _walk(pl: Placement, a: int, b: int) -> tuple:
    """Brute force: step along the dimension-order route on the system mesh, link by link; a link whose two
    tiles are on different chips is a chip hop."""
    w, h = pl.mesh_width, pl.mesh_height
    (x, y), (xb, yb) = pl.xy_of_tile(pl.tile_of(a)), pl.xy_of_tile(pl.tile_of(b))
    ew = ns = chips = 0
    while (x, y) != (xb, yb):
        nx, ny = (x + np.sign(xb - x), y) if x != xb else (x, y + np.sign(yb - y))
        if (x // w, y // h) != (nx // w, ny // h):
            chips += 1
        elif nx != x:
            ew += 1
        else:
            ns += 1
        x, y = nx, ny
    return ew, ns, chips


def test_routes_cross_chips_at_their_edges():
    # chips of 3 x 2 tiles with 2 cores each, on a 3-wide chip mesh (serpentine rows), 7 chips: the 7th is below
    pl = Placement(profile="t", mesh_width=3, cores_per_tile=2, cores_per_chip=12, mesh_height=2, chips_x=3, chips_y=2)
    assert [pl.chip_xy(k) for k in range(7)] == [(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1), (0, 2)]
    assert pl.chip_of(11) == 0 and pl.chip_of(12) == 1 and pl.xy_of_tile(6) == (3, 0)  # chip 1's first tile
    for a in range(0, 84, 5):
        for b in range(84):
            assert (*pl.hops(a, b), pl.chip_hops(a, b)) == _walk(pl, a, b), (a, b)
    # the docstring's example: 8 x 4-tile chips side by side, tile (6, 1) of chip 0 -> tile (1, 2) of chip 1
    pl = Placement(profile="t", mesh_width=8, cores_per_tile=1, cores_per_chip=32, mesh_height=4, chips_x=2)
    assert pl.hops(14, 32 + 17) == (2, 1) and pl.chip_hops(14, 32 + 17) == 1
    # without chip geometry: one mesh, as before
    one = Placement(profile="t", mesh_width=4, cores_per_tile=1)
    assert one.hops(0, 13) == (1, 3) and one.chip_hops(0, 13) == 0


# ----------------------------------------------------------------------------- mapping, events, energy, latency
def test_network_over_several_chips_is_charged_its_chip_hops():
    prof = profile()
    m = map_graph(chain(), prof)
    pl = m.placement
    assert m.totals["chips_needed"] >= 2 and m.totals["chips_needed"] == 4
    assert (pl.cores_per_chip, pl.chips_x, pl.chips_y, pl.system) == (1, 4, 2, "test board")
    assert [pl.layers[n].cores for n in ("a", "b", "r")] == [[0], [1, 2], [3]]
    assert any("test board" in n and "4 chips" in n for n in pl.notes)
    ev = simulate_events(chain(), ONE_SPIKE, pl, prof, timing=("simple", "detailed"))
    (ci,) = ev.placement.inputs["in"].cores  # the input sender: the first core with room, on chip 4 = (3, 1)
    assert ci == 4 and pl.chip_xy(4) == (3, 1)
    # by hand: in -> a crosses 3 + 1 = 4 chip boundaries; a -> b: 1 (chip 1) and 2 (chip 2); b -> r: 2 from
    # chip 1, 1 from chip 2. One input spike: a0 fires once (2 messages), all 8 of b fire once (8 messages)
    assert [pl.chip_hops(0, 1), pl.chip_hops(0, 2), pl.chip_hops(1, 3), pl.chip_hops(2, 3), pl.chip_hops(4, 0)] \
        == [1, 2, 2, 1, 4]
    t = ev.totals
    assert (t["messages_out_per_sample"], t["spikes_out_per_sample"]) == (1 + 2 + 8, 1 + 8)
    assert t["chip_hops_per_sample"] == 4 + (1 + 2) + 4 * 2 + 4 * 1 == 19
    assert t["messages_crossing_chips_per_sample"] == 11 and t["chips"] == 5
    assert t["hops_ew_per_sample"] == t["hops_ns_per_sample"] == 0  # one-tile chips: every link is a chip link
    assert ev.layers["in"]["chip_hops_per_sample"] == 4 and ev.layers["b"]["chip_hops_per_sample"] == 12
    assert ev.cores[1]["chip_hops_per_sample"] == 8 and ev.cores[1]["chip"] == 1
    assert ev.energy["interchip_pj_per_sample"] == 19 * LINK_PJ
    parts = ("synapse", "neuron", "spike", "network", "interchip")  # (no static power on loihi)
    assert ev.energy["static_pj_per_sample"] is None
    assert ev.energy["total_pj_per_sample"] == pytest.approx(sum(ev.energy[f"{c}_pj_per_sample"] for c in parts))
    # latency: the simple model adds each step's farthest crossing (4, 2, 2 boundaries on the 3 sending steps)
    free = simulate_events(chain(), ONE_SPIKE, pl, profile(link=(LINK_PJ, 0.0)), timing=("simple", "detailed"))
    simple = ev.latency["models"]["simple"]["step_latency_ns"] - free.latency["models"]["simple"]["step_latency_ns"]
    np.testing.assert_allclose(simple, [4 * LINK_NS, 2 * LINK_NS, 2 * LINK_NS, 0])
    detailed = (ev.latency["models"]["detailed"]["step_latency_ns"]
                - free.latency["models"]["detailed"]["step_latency_ns"])
    assert (detailed >= 0).all() and detailed[0] == pytest.approx(4 * LINK_NS)  # the input's message arrives later


def test_total_cores_are_the_systems_chips_times_cores():
    """A network over 4 one-core chips fits a board of 8 such chips and is refused by a board of 3, with the
    system's core count (chips x cores), not one chip's, as what is available."""
    fits = map_graph(chain(), profile())
    assert fits.fits and not [v for v in fits.violations if v.rule == "check_total_cores"]
    small = map_graph(chain(), profile(system=(3, 4, 2)))
    (tot,) = [v for v in small.violations if v.rule == "check_total_cores"]
    assert (tot.needed, tot.available) == (4, 3) and "3 chips of 1 cores = 3" in tot.suggestion
    alone = map_graph(chain(), profile(system=None))   # one chip of 1 core: split across 4 chips
    (tot,) = [v for v in alone.violations if v.rule == "check_total_cores"]
    assert (tot.needed, tot.available) == (4, 1) and "split across 4 chips" in tot.suggestion


def test_report_gives_chips_crossings_and_interchip_energy_adding_up():
    run = profile_run(chain(), ONE_SPIKE, None, profile(), timing="simple")
    assert run["chips"] >= 2 and run["system"]["name"] == "test board" and run["system"]["chips_available"] == 8
    assert run["spikes_crossing_chips_per_sample"] == 11 and run["chip_hops_per_sample"] == 19
    assert run["energy_pj_per_sample"]["interchip"] == 19 * LINK_PJ
    assert (run["mesh"]["chips_x"], run["mesh"]["chips_y"]) == (4, 2)
    assert any(a.startswith("system.interchip_energy_pj = 1000") for a in run["assumptions"])
    for cls in ("synapse", "neuron", "spike", "network", "interchip"):
        total = run["energy_pj_per_sample"][cls]
        assert sum(L[f"energy_{cls}_pj_per_sample"] for L in run["layers"]) == pytest.approx(total, rel=1e-12), cls
        assert sum(c[f"energy_{cls}_pj_per_sample"] for c in run["cores"]) == pytest.approx(total, rel=1e-12), cls
    assert sorted({c["chip"] for c in run["cores"]}) == [0, 1, 2, 3, 4]


def test_one_chip_has_no_interchip_events_and_is_unchanged_by_a_system():
    g = chain()
    with_system, without = profile(mesh=(2, 3, 1)), profile(mesh=(2, 3, 1), system=None)
    m = map_graph(g, with_system)
    assert m.totals["chips_needed"] == 1
    a = simulate_events(g, ONE_SPIKE, m.placement, with_system, timing=("simple", "detailed"))
    b = simulate_events(g, ONE_SPIKE, map_graph(g, without).placement, without, timing=("simple", "detailed"))
    assert a.totals["chips"] == 1 and "chip_hops_per_sample" not in a.totals
    assert a.energy["interchip_pj_per_sample"] == 0.0 == b.energy["interchip_pj_per_sample"]
    assert a.energy == b.energy and a.totals == b.totals
    for model in ("simple", "detailed"):
        sa, sb = a.latency["models"][model]["step_latency_ns"], b.latency["models"][model]["step_latency_ns"]
        assert np.array_equal(sa, sb), model
    run = profile_run(g, ONE_SPIKE, None, with_system, timing="simple")
    assert run["chips"] == 1 and run["spikes_crossing_chips_per_sample"] == 0 and run["chip_hops_per_sample"] == 0


def test_without_a_system_chip_crossings_are_counted_but_not_priced():
    prof = profile(system=None)
    pl = map_graph(chain(), prof).placement
    assert pl.chips_x == 1 and not pl.system  # further chips stacked below the first
    assert any("not priced" in n for n in pl.notes)
    ev = simulate_events(chain(), ONE_SPIKE, pl, prof)
    # chips (0, k): in (chip 4) -> a: 4; a -> b: 1 + 2; b -> r: 4 x 2 + 4 x 1
    assert ev.totals["chip_hops_per_sample"] == 19 and ev.totals["messages_crossing_chips_per_sample"] == 11
    assert ev.energy["interchip_pj_per_sample"] is None and "interchip" in ev.energy["total_excludes"]
    assert any("not priced" in n for n in ev.notes) and any("inter-chip latency is not modelled" in n for n in ev.notes)


# ----------------------------------------------------------------------------- profiles
def test_system_section_is_validated_and_loihi_is_a_nahuku_board():
    with pytest.raises(ValueError, match="chips_x x chips_y"):
        System(name="x", chips=fig(9), chips_x=2, chips_y=4, source="test")
    base = load_profile("loihi").model_dump()
    base["capacity"]["mesh"] = None
    with pytest.raises(ValueError, match="system needs capacity.mesh"):
        Profile.model_validate(base)
    for name in ("loihi", "loihi_davies"):
        s = load_profile(name).system
        assert s.name == "Nahuku-32" and s.chips.value == 32 and s.chips_x * s.chips_y == 32
        assert s.estimate and s.interchip_energy_pj.estimate and s.interchip_latency_ns.estimate
        assert "estimate" in s.interchip_energy_pj.source and "Nahuku" in s.chips.source
    assert load_profile("loihi2").system is None


def test_profile_file_with_a_bad_system_is_refused(tmp_path):
    import yaml
    data = yaml.safe_load(load_profile("loihi").model_dump_json())
    data["system"]["chips"]["value"] = 33
    p = tmp_path / "big.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match="system"):
        load_profile(p)
