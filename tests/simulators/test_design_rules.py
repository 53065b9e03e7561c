"""Each design rule on a hand-made case where it must fire and one where it must not; all reported at once."""

from snn2hw.simulators.design_rules import (DESIGN_RULES, CoreUsage, LayerNeeds, Needs, Violation,
                                            check_design_rules, check_destination_cores, check_fan_in,
                                            check_fan_out, check_kernel_size, check_neurons_per_core,
                                            check_synapse_memory, check_total_cores, check_weight_bits)
from tests.simulators.test_mapping import profile

P = profile(cores=4, npc=100, mem=10_000, fan_in=50, fan_out=60, dest=2, kernel=16)


def needs(**kw):
    ln = LayerNeeds(layer="L", neurons=10, weight_bits=8, one_fan_in=10, one_synapses=10, one_synapse_bits=640,
                    bits_per_axon_one=64, bits_per_axon_one_by_wbits={b: 64 for b in range(1, 9)}, kernel=(3, 3))
    core = CoreUsage(core=0, layer="L", start=0, stop=10, synapse_bits=640, fan_in=10, fan_out=10, destination_cores=1)
    for k, v in kw.items():
        setattr(ln if hasattr(ln, k) and k not in ("fan_in", "fan_out") else core, k, v)
    return Needs(layers={"L": ln}, cores=[core], cores_needed=1)


def fire(rule, n):
    out = rule(None, P, n)
    assert all(isinstance(v, Violation) and v.suggestion and str(v) for v in out)
    return out


def test_all_rules_pass_on_a_fitting_case():
    assert check_design_rules(None, P, needs()) == []


def test_neurons_per_core():
    assert fire(check_neurons_per_core, needs(stop=100)) == []
    (v,) = fire(check_neurons_per_core, needs(stop=250))
    assert (v.needed, v.available) == (250, 100) and "3 cores" in v.suggestion


def test_fan_in_single_neuron_with_channel_suggestion():
    assert fire(check_fan_in, needs(one_fan_in=50, fan_in=50)) == []
    (v,) = fire(check_fan_in, needs(one_fan_in=72, one_channels=8, one_positions=9, fan_in=72))
    assert (v.needed, v.available) == (72, 50)
    assert "<= 5 of 8 input channels" in v.suggestion and "r >= 0.375" in v.suggestion   # 50 // 9 = 5
    (v,) = fire(check_fan_in, needs(one_fan_in=80, fan_in=80))                          # dense input
    assert "<= 50 of 80" in v.suggestion and "0.375" in v.suggestion
    (v,) = fire(check_fan_in, needs(fan_in=51))                                          # a core, not a neuron
    assert v.needed == 51


def test_synapse_memory_suggests_bits_or_pruning():
    assert fire(check_synapse_memory, needs(synapse_bits=10_000)) == []
    by_bits = {b: (16 if b <= 4 else 64) for b in range(1, 9)}   # pretend <= 4-bit weights pack 4 per word
    (v,) = fire(check_synapse_memory, needs(one_synapses=200, one_synapse_bits=12_800,
                                            bits_per_axon_one_by_wbits=by_bits))
    assert v.needed == 12_800 and "use <= 4-bit weights" in v.suggestion and "<= 156 of 200" in v.suggestion
    (v,) = fire(check_synapse_memory, needs(synapse_bits=10_001))
    assert v.needed == 10_001


def test_fan_out():
    assert fire(check_fan_out, needs(one_fan_out=60, fan_out=60)) == []
    (v,) = fire(check_fan_out, needs(one_fan_out=90, fan_out=90))
    assert (v.needed, v.available) == (90, 60)
    (v,) = fire(check_fan_out, needs(fan_out=61))
    assert v.needed == 61


def test_destination_cores():
    assert fire(check_destination_cores, needs(destination_cores=2)) == []
    (v,) = fire(check_destination_cores, needs(destination_cores=3))
    assert (v.needed, v.available) == (3, 2) and "by 1" in v.suggestion


def test_total_cores():
    n = needs()
    n.cores_needed = 4
    assert fire(check_total_cores, n) == []
    n.cores_needed = 10
    (v,) = fire(check_total_cores, n)
    assert (v.needed, v.available) == (10, 4) and "split across 3 chips" in v.suggestion and "0.600" in v.suggestion


def test_kernel_size():
    assert fire(check_kernel_size, needs(kernel=(16, 16))) == []
    (v,) = fire(check_kernel_size, needs(kernel=(7, 34)))
    assert v.needed == 34 and "3x" in v.suggestion


def test_weight_bits():
    assert fire(check_weight_bits, needs(weight_bits=8)) == []
    (v,) = fire(check_weight_bits, needs(weight_bits=9))
    assert (v.needed, v.available) == (9, 8) and "[-128, 127]" in v.suggestion
    (v,) = fire(check_weight_bits, needs(quantized=False))
    assert "convert" in v.suggestion


def test_every_violation_at_once():
    n = needs(weight_bits=9, kernel=(20, 20), stop=150, one_fan_in=99, fan_in=99, one_synapse_bits=20_000,
              one_synapses=300, destination_cores=5)
    n.cores_needed = 9
    rules = {v.rule for v in check_design_rules(None, P, n)}
    shared_only = {"check_core_memory", "check_core_assignment", "check_layer_geometry"}
    assert rules == {r.__name__ for r in DESIGN_RULES} - {"check_fan_out"} - shared_only


def test_no_limit_no_rule():
    p = profile(mem=None, fan_in=None, fan_out=None)
    assert check_design_rules(None, p, needs(one_fan_in=10**6, fan_in=10**6, one_synapse_bits=10**9,
                                             synapse_bits=10**9, fan_out=10**6)) == []


# ---------------------------------------------------------------- shared-kernel model (Speck, HW_PROFILES §2.5)
from snn2hw.hw_profiles import load_profile  # noqa: E402
from snn2hw.simulators.design_rules import (assign_cores, check_core_assignment, check_core_memory,  # noqa: E402
                                            check_layer_geometry, core_tables, kernel_entries, neuron_entries)

SPECK = load_profile("speck")


def sk(name="L", c_in=16, kernel=(3, 3), c_out=32, hw=(4, 4), **kw):
    ln = LayerNeeds(layer=name, neurons=c_out * hw[0] * hw[1], channels=c_out, c_in=c_in, kernel=kernel,
                    out_hw=hw, sources=["prev"], **kw)
    ln.kernel_entries, ln.neuron_entries, ln.bias_entries = (kernel_entries(c_in, kernel, c_out),
                                                             neuron_entries(c_out, hw), c_out)
    return ln


def sk_needs(*lns):
    return Needs(layers={ln.layer: ln for ln in lns}, cores_needed=len(lns), memory_model="shared_kernel")


def test_speck_entry_formulas_round_to_powers_of_two():
    assert kernel_entries(16, (3, 3), 32) == 16 * 2 ** (4 + 5)          # 9 taps -> 16, 32 -> 32
    assert kernel_entries(32, (2, 2), 10) == 32 * 2 ** (2 + 4)          # 10 -> 16
    assert kernel_entries(1, (1, 1), 1) == 1
    assert neuron_entries(16, (8, 8)) == 1024 and neuron_entries(10, (1, 1)) == 10
    assert neuron_entries(3, (5, 7)) == 3 * 2 ** (3 + 3)
    K, N_, B = core_tables(SPECK)
    assert K == [16384] * 3 + [32768] * 2 + [65536] * 2 + [16384] * 2
    assert N_ == [65536] * 3 + [32768] * 2 + [16384] * 4 and B == [1024] * 9


def test_core_memory_suggests_the_smallest_width_that_fits_the_largest_core():
    assert check_core_memory(None, SPECK, sk_needs(sk())) == []
    # 128 -> 256, 3x3: 128 * 2^(4 + 8) = 512K kernel entries > 64K; C_out <= 32 gives 128 * 16 * 32 = 64K
    (v,) = check_core_memory(None, SPECK, sk_needs(sk(c_in=128, c_out=256)))
    assert (v.resource, v.needed, v.available) == ("kernel memory entries", 524288, 65536)
    assert v.suggested["channels"] == {"L": 32} and v.suggested["prune_ratio"] == 0.875
    assert v.suggested["core"] in (5, 6) and "from 256 to <= 32" in v.suggestion
    assert v.suggested["alternative"]["channels"] == {"prev": 16}    # or C_in 128 -> 16 (same ratio 0.875)
    # C_out = 200 rounds up to 256: the rounding decides, C_out 256 -> 128 is not enough at C_in 64
    (v,) = check_core_memory(None, SPECK, sk_needs(sk(c_in=64, c_out=200)))
    assert v.needed == 64 * 16 * 256 and v.suggested["channels"] == {"L": 64}
    # neuron memory: 32 x 64x64 map = 128K > 64K -> C_out <= 16
    (v,) = check_core_memory(None, SPECK, sk_needs(sk(c_in=2, c_out=32, hw=(64, 64))))
    assert v.resource == "neuron memory entries" and (v.needed, v.available) == (131072, 65536)
    assert v.suggested["channels"] == {"L": 16} and v.suggested["core"] in (0, 1, 2)
    # an output layer keeps its width (classes): the source is pruned instead
    (v,) = check_core_memory(None, SPECK, sk_needs(sk(c_in=2048, kernel=(2, 2), c_out=10, hw=(1, 1),
                                                     is_output=True)))
    assert v.suggested["channels"] == {"prev": 1024}     # 1024 * 2^(2 + 4) = 64K
    # bias memory 1K: 2000 channels
    vs = check_core_memory(None, SPECK, sk_needs(sk(c_in=1, kernel=(1, 1), c_out=2000, hw=(1, 1))))
    assert {v.resource for v in vs} == {"bias memory entries"} and vs[0].suggested["channels"] == {"L": 1024}


def test_core_memory_when_no_core_holds_both():
    # kernel 64 * 16 * 64 = 64K (cores 5, 6 only) and neuron 64 * 2^(5+5) = 64K (cores 0-2 only)
    (v,) = check_core_memory(None, SPECK, sk_needs(sk(c_in=64, c_out=64, hw=(32, 32))))
    assert "on a core with" in v.resource and v.suggested["prune_ratio"] > 0
    ln = sk(c_in=64, c_out=v.suggested["channels"].get("L", 64), hw=(32, 32))
    if "prev" in v.suggested["channels"]:
        ln = sk(c_in=v.suggested["channels"]["prev"], c_out=64, hw=(32, 32))
    assert check_core_memory(None, SPECK, sk_needs(ln)) == []


def test_matching_and_its_repair():
    assert assign_cores(["a", "b", "c"], {"a": [0, 1], "b": [0], "c": [1, 2]}, 3) == {"a": 1, "b": 0, "c": 2}
    assert len(assign_cores(["a", "b"], {"a": [0], "b": [0]}, 3)) == 1
    # four layers that each need 64K kernel entries: only cores 5 and 6 hold them
    lns = [sk(f"L{i}", c_in=128, c_out=32) for i in range(4)]
    assert check_core_memory(None, SPECK, sk_needs(*lns)) == []
    (v,) = check_core_assignment(None, SPECK, sk_needs(*lns))
    assert v.resource.startswith("cores") and (v.needed, v.available) == (4, 2)
    assert len(v.suggested["channels"]) == 2 and set(v.suggested["channels"].values()) == {16}   # 128*16*16 = 32K
    assert check_core_assignment(None, SPECK, sk_needs(*lns[:2])) == []


def test_layer_geometry():
    assert check_layer_geometry(None, SPECK, sk_needs(sk(stride=(2, 2), pool=(4, 4)))) == []
    vs = check_layer_geometry(None, SPECK, sk_needs(sk(kernel=(3, 5), stride=(3, 3), pool=(3, 3), n_synapses=2)))
    assert {v.resource for v in vs} == {"convolutions per core", "kernel shape (square only)", "stride",
                                        "sum-pool size"}
    assert next(v for v in vs if v.resource == "stride").suggested == {"stride": 4}
    assert check_layer_geometry(None, P, sk_needs(sk(kernel=(3, 5)))) == []     # not a shared-kernel profile


def test_synapse_list_rules_do_not_apply_to_shared_kernel():
    n = needs(stop=10**6, one_fan_in=10**6, fan_in=10**6, one_synapse_bits=10**9, synapse_bits=10**9)
    for rule in (check_neurons_per_core, check_fan_in, check_synapse_memory, check_fan_out):
        assert rule(None, SPECK, n) == []
