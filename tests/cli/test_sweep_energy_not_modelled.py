"""A sweep on a profile with no energy model (speck): energy is null ("not modelled") in pareto.json, "n/a" in
pareto.html, and never the best energy (issue 16)."""
from snn2hw.report.pareto_html import pareto_html
from snn2hw.sweep import dominates, front, modelled_energy, summarise

SPECK = {"synapse": None, "neuron": None, "spike": None, "network": None, "interchip": 0.0, "static": None,
         "total": 0.0}  # what the report gives a profile without per-event energies
LOIHI = {"synapse": 6.0, "neuron": 1.0, "spike": 0.5, "network": 0.5, "interchip": 0.0, "static": None, "total": 8.0}


def _run(profile, energy):
    return {"profile": profile, "energy_pj_per_sample": energy, "latency_ns": {"per_input_step": None},
            "cores_used": 3, "chips": None, "fits": True, "violations": []}


def test_summary_energy_is_null_when_no_class_is_modelled():
    rep = {"accuracy": {"float": 0.9, "int (speck)": 0.9, "int (loihi)": 0.9},
           "runs": [_run("speck", SPECK), _run("loihi", LOIHI)]}
    s = summarise(rep)["profiles"]
    assert s["speck"]["energy_pj_per_sample"] is None and s["loihi"]["energy_pj_per_sample"] == 8.0
    assert modelled_energy({"energy_pj_per_sample": {**SPECK, "static": 2.0, "total": 2.0}}) == 2.0


def test_null_energy_never_dominates():
    # trial 1 is better in accuracy; trial 2's energy 0.0 would have made it incomparable (a front of 2)
    assert dominates([0.9, None, 10.0, 3], [0.8, None, 10.0, 3])
    assert not dominates([0.8, None, 10.0, 3], [0.9, None, 10.0, 3])
    recs = [{"number": n, "fits": True, "objectives": {"int_accuracy": a, "energy_pj_per_sample": None,
                                                      "latency_ns_per_input_step": 10.0, "cores": 3}}
            for n, a in ((1, 0.9), (2, 0.8))]
    assert front(recs) == [1]


def test_pareto_html_shows_n_a_for_energy_not_modelled():
    prof = {"int_accuracy": 0.9, "energy_pj_per_sample": None, "latency_ns_per_input_step": None, "cores": 3,
            "fits": True}
    trial = {"number": 0, "effective": {"method": "l1", "ratio": 0.5, "bits": 8, "epochs": 1, "timesteps": 4},
             "result": {"float_accuracy": 0.9, "checkpoint": "t0.pt", "profiles": {"speck": prof}}}
    doc = {"config": {"checkpoint": "m.pt", "profiles": ["speck"], "data": "digits", "trials": 1, "seed": 0,
                      "methods": ["l1"]},
           "trials": [trial], "front": [0], "baseline": {"float_accuracy": 0.9, "profiles": {"speck": prof}}}
    html = pareto_html(doc)
    assert "<td>90.00</td><td>n/a</td><td>n/a</td><td>3</td>" in html  # the front's row and the baseline's
    assert "speck: accuracy vs energy: no values" in html  # no point drawn at a fake 0 pJ
