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
    assert rules == {r.__name__ for r in DESIGN_RULES} - {"check_fan_out"}


def test_no_limit_no_rule():
    p = profile(mem=None, fan_in=None, fan_out=None)
    assert check_design_rules(None, p, needs(one_fan_in=10**6, fan_in=10**6, one_synapse_bits=10**9,
                                             synapse_bits=10**9, fan_out=10**6)) == []
