"""The fidelity gate's library functions (snn2hw/report/fidelity.py) on hand-computable cases."""
from types import SimpleNamespace

from snn2hw.hw_profiles import load_profile
from snn2hw.ir.nodes import Neuron
from snn2hw.report import fidelity


def test_accuracy_drops_threshold_is_strict_and_in_points():
    drops = fidelity.accuracy_drops(0.90, {"a": 0.88, "b": 0.87, "c": 0.50, "d": 0.95, "e": None}, max_drop=2.0)
    # a: exactly 2 points (allowed), b: 3 points, c: 40 points, d: better than float, e: no accuracy
    assert [(d.profile, round(d.drop_points, 6)) for d in drops] == [("b", 3.0), ("c", 40.0)]
    assert fidelity.accuracy_drops(0.90, {"c": 0.50}, max_drop=40.0) == []
    assert fidelity.accuracy_drops(None, {"c": 0.0}) == []  # no float accuracy (an integer graph): nothing to gate
    assert "drop 3.0 points" in drops[0].describe() and "0.8700" in drops[0].describe()


def test_report_accuracies_reads_the_report_block():
    rep = {"accuracy": {"labels": "digits (10 samples)", "float": 0.9, "int (loihi)": 0.9, "int (speck)": 0.7}}
    assert fidelity.report_accuracies(rep) == (0.9, {"loihi": 0.9, "speck": 0.7})
    assert fidelity.report_accuracies({"accuracy": None}) == (None, {})


def _graph(**neurons):
    return SimpleNamespace(nodes=neurons)


def test_leaky_neurons_are_unrealisable_on_truenorth_and_speck_only():
    g = _graph(sn_if=Neuron(model="if", beta=1.0, threshold=1.0), sn_lif=Neuron(model="lif", beta=0.5, threshold=1.0),
               sn_cuba=Neuron(model="cuba", beta=1.0, alpha=0.25, threshold=1.0))
    tn = fidelity.unrealisable_neurons(g, load_profile("truenorth"))
    assert [(u.layer, u.model) for u in tn] == [("sn_lif", "lif"), ("sn_cuba", "cuba")]
    text = tn[0].describe()
    assert "layer 'sn_lif'" in text and "truenorth" in text and "closest realisable model: if" in text
    assert [u.layer for u in fidelity.unrealisable_neurons(g, load_profile("speck"))] == ["sn_lif", "sn_cuba"]
    assert fidelity.unrealisable_neurons(g, load_profile("loihi")) == []  # Loihi's CUBA realises all three


def test_gate_message():
    drops = fidelity.accuracy_drops(0.9, {"truenorth": 0.1})
    unreal = fidelity.unrealisable_neurons(_graph(sn0=Neuron(model="lif", beta=0.5, threshold=1.0)),
                                           load_profile("truenorth"))
    assert fidelity.gate_message([], [], 2.0, False) is None
    assert fidelity.gate_message([], unreal, 2.0, True) is None  # approximation accepted
    msg = fidelity.gate_message(drops, unreal, 2.0, True)
    assert "FIDELITY GATE FAILED" in msg and "80.0 points" in msg and "sn0" not in msg
    msg = fidelity.gate_message([], unreal, 2.0, False)
    assert "layer 'sn0'" in msg and "--allow-approximation" in msg


def test_gate_message_states_the_resolution_of_few_samples():
    drops = fidelity.accuracy_drops(1.0, {"loihi": 0.75})
    assert "one sample is 25.0 points; use at least 50 samples" in fidelity.gate_message(drops, [], 2.0, False, 4)
    assert "one sample is" not in fidelity.gate_message(drops, [], 2.0, False, 100)


def test_verdict_is_the_gate_decision_per_profile():
    unreal = fidelity.unrealisable_neurons(_graph(sn0=Neuron(model="lif", beta=0.5, threshold=1.0)),
                                           load_profile("truenorth"))
    v = fidelity.verdict("loihi", 0.9, 0.5, unreal)  # the truenorth finding is not loihi's
    assert v == {"float_accuracy": 0.9, "int_accuracy": 0.5, "drop_points": v["drop_points"], "max_drop_points": 2.0,
                 "accuracy_checked": True, "unrealisable_neurons": [], "approximation_allowed": False,
                 "passed": False}
    assert round(v["drop_points"], 6) == 40.0
    assert fidelity.verdict("loihi", 0.9, 0.89, [])["passed"] is True
    tn = fidelity.verdict("truenorth", 0.9, 0.9, unreal)
    assert tn["passed"] is False and tn["unrealisable_neurons"][0]["layer"] == "sn0"
    assert tn["unrealisable_neurons"][0]["model"] == "lif" and tn["unrealisable_neurons"][0]["closest"].startswith("if")
    assert fidelity.verdict("truenorth", 0.9, 0.9, unreal, allow_approximation=True)["passed"] is True
    none = fidelity.verdict("truenorth", None, None, unreal)  # no labels: only the neuron models are checked
    assert none["accuracy_checked"] is False and none["drop_points"] is None and none["passed"] is False


def test_fidelity_text_renders_the_verdict():
    from snn2hw.report.render import comparison_rows, fidelity_text
    v = fidelity.verdict("loihi", 0.9, 0.5, [])
    assert fidelity_text({"fidelity": v}).startswith("Fidelity gate FAILED: float accuracy 0.9, integer accuracy 0.5, "
                                                     "drop 40.0 points (limit 2)")
    assert fidelity_text({}) == ""  # reports written before the field
    rows = comparison_rows({"accuracy": None, "runs": [{"profile": "loihi", "fidelity": v}]})
    assert rows[0]["fidelity gate"] == "FAILED"
