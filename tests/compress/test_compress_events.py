"""``compress`` on event data (a Dataset with ``timesteps``): every step reads the samples' own frames and T
(torch accuracy, the event simulator's input, criticality and SVS calibration, fine-tuning), the way
``snn2hw train`` and ``simulate`` read them. Before, ``measure`` fed ``[B, T, C, H, W]`` frames to the direct
encoding (a 6-d input) and criticality did the same."""
import numpy as np
import pytest
import torch

import snn2hw
from snn2hw.compress.pipeline import compress, measure
from snn2hw.data import load_dataset, model_inputs
from snn2hw.data.encoding import events
from snn2hw.models import build_model
from snn2hw.passes.pipeline import convert
from snn2hw.simulators.event import simulate_events
from snn2hw.train.loop import evaluate


@pytest.fixture(scope="module")
def small():
    ds = load_dataset("shapes_dvs:n_per_class=4")
    torch.manual_seed(0)
    return ds, build_model("dvs_conv", num_classes=ds.num_classes, neuron="if")


def test_measure_reads_event_frames_and_their_T(small):
    ds, model = small
    T = int(ds.timesteps)
    m = measure(model, ds, T=4, samples=6, spikes=True)   # T=4 asked: event data keeps its own T
    assert m["accuracy"] == evaluate(model, ds.x_test, ds.y_test, T, "events")
    # the simulator saw the frames as simulate feeds them: the same integer predictions
    g = snn2hw.from_module(model)
    for n in g.inputs:
        g.nodes[n].step = float(ds.input_step or 1.0)
    gi = convert(g, "loihi", calibration=ds.x_train).graph
    x, y, _ = model_inputs(gi, ds, 6)
    assert torch.equal(x.to(torch.float64), events(torch.as_tensor(np.asarray(ds.x_test[:6]), dtype=torch.float64), T))
    ev = simulate_events(gi, x, profile="loihi")
    assert m["int_accuracy"] == float((ev.predictions().numpy() == np.asarray(y)).mean())
    assert m["sim_samples"] == 6


@pytest.mark.parametrize("method,kw", [("criticality-structured", {"ratio": 0.25}),
                                       ("qp-snn", {"ratio": 0.25, "ranking": "bn", "bits": 4})])
def test_structured_methods_on_event_data(small, method, kw):
    """Criticality (calibration frames through the model) and BN-γ ranking run on event frames; the reported
    accuracy is the compressed model's on its frames, and channels were removed."""
    ds, model = small
    before = sum(p.numel() for p in model.parameters())
    res = compress(model, ds, method, finetune_epochs=0, measure_samples=4, calib_samples=16, progress=False,
                   measure_spikes=False,
                   batch_size=32, **kw)
    assert sum(p.numel() for p in res.model.parameters()) < before
    assert res.after["accuracy"] == evaluate(res.model, ds.x_test, ds.y_test, int(ds.timesteps), "events")
