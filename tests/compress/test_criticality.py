"""Criticality scores (ALGORITHMS §2.2): surrogate shape, aggregation, synapse ranking."""
import math
from collections import OrderedDict

import pytest
import torch
from torch import nn

import snn2hw
from snn2hw.compress import (CriticalityMeter, aggregate, channel_criticality, collect, rank_desc,
                             synapse_owners, synapse_scores)
from snn2hw.ir import nodes as N
from snn2hw.models import build_model
from snn2hw.nn import LIF, TimeDistributed


def arctan_hp(x, alpha=2.0):
    return (alpha / 2) / (1 + (math.pi / 2 * alpha * x) ** 2)


def passthrough_lif(threshold=1.0):
    """LIF with β = 0: the pre-reset membrane at step t is exactly the input I[t]."""
    return LIF(beta=0.0, threshold=threshold, surrogate="arctan")


@pytest.mark.parametrize("alpha", [2.0, 0.7])
def test_scores_follow_the_arctan_surrogate_and_peak_at_threshold(alpha):
    th = 0.8
    model = nn.Sequential(passthrough_lif(th))
    u = torch.linspace(-1.0, 3.0, 41, dtype=torch.float64)        # one neuron per membrane value
    I = u.reshape(1, 1, -1).repeat(3, 2, 1).float()                # T = 3, B = 2, same u everywhere
    with CriticalityMeter(model, alpha=alpha) as meter:
        model(I)
        c = meter.neuron_scores()["0"].double()
    expect = torch.tensor([arctan_hp(float(v) - th, alpha) for v in u.float()], dtype=torch.float64)
    torch.testing.assert_close(c, expect, rtol=1e-5, atol=1e-7)
    assert int(c.argmax()) == int((u - th).abs().argmin())          # peak at u = V_th
    assert c.max().item() == pytest.approx(alpha / 2, rel=1e-6)    # h'(0) = α/2 (= 1 for α = 2)


def test_average_over_time_and_samples():
    model = nn.Sequential(passthrough_lif(1.0))
    # T = 2, B = 2, 1 neuron: membranes 1.0, 1.5 (sample 0), 0.0, 2.0 (sample 1)
    I = torch.tensor([[[1.0], [0.0]], [[1.5], [2.0]]])
    with CriticalityMeter(model) as meter:
        model(I)
        got = float(meter.neuron_scores()["0"][0])
    want = (arctan_hp(0.0) + arctan_hp(0.5) + arctan_hp(-1.0) + arctan_hp(1.0)) / 4
    assert got == pytest.approx(want, rel=1e-6)


def test_mode_last_keeps_the_last_batch_and_sum_accumulates():
    model = nn.Sequential(passthrough_lif(1.0))
    a = torch.full((2, 3, 1), 1.0)        # h' = 1
    b = torch.full((2, 1, 1), 2.0)        # h' = 1/(1+π²)
    last = CriticalityMeter(model, mode="last")
    model(a)
    model(b)
    assert float(last.neuron_scores()["0"][0]) == pytest.approx(arctan_hp(1.0), rel=1e-6)
    assert last.num_samples == {"0": 1}
    last.remove()
    run = CriticalityMeter(model, mode="sum")
    model(a)
    model(b)
    assert float(run.neuron_scores()["0"][0]) == pytest.approx((3 * 1.0 + arctan_hp(1.0)) / 4, rel=1e-6)
    with run.paused():
        model(a)
    assert run.num_samples == {"0": 4}
    run.remove()
    assert model[0].record is False and model[0].last_v is None


def test_channel_score_is_max_over_positions_of_the_per_position_average():
    model = nn.Sequential(passthrough_lif(1.0))
    # [T=1, B=2, C=2, H=1, W=2]. Channel 0: sample 0 sits at threshold at position 0, sample 1
    # at position 1 -> per-position averages are both (1 + h'(2))/2, NOT 1 (max-then-mean).
    I = torch.tensor([[[[[1.0, 3.0]], [[0.0, 1.5]]],
                       [[[3.0, 1.0]], [[0.0, 1.5]]]]])
    with CriticalityMeter(model) as meter:
        model(I)
        per_neuron = meter.neuron_scores()["0"]
        per_channel = meter.channel_scores()["0"]
    assert per_neuron.shape == (2, 1, 2)
    assert float(per_channel[0]) == pytest.approx((1 + arctan_hp(2.0)) / 2, rel=1e-6)
    assert float(per_channel[1]) == pytest.approx(arctan_hp(0.5), rel=1e-6)
    # the aggregation on a hand-made map
    m = torch.tensor([[[0.1, 0.7], [0.3, 0.2]], [[0.05, 0.05], [0.4, 0.0]]])
    assert aggregate(m).tolist() == pytest.approx([0.7, 0.4])
    assert aggregate(m, "mean").tolist() == pytest.approx([0.325, 0.125])
    assert aggregate(torch.tensor([0.3, 0.1])).tolist() == pytest.approx([0.3, 0.1])   # FC: identity


def test_module_surrogate_option_uses_the_neurons_own_derivative():
    model = nn.Sequential(LIF(beta=0.0, threshold=1.0, surrogate="triangle"))
    I = torch.tensor([[[1.0, 1.5, 3.0]]])
    with CriticalityMeter(model, surrogate="module") as meter:
        model(I)
        assert meter.neuron_scores()["0"].tolist() == pytest.approx([1.0, 0.5, 0.0])


def small_fc():
    return nn.Sequential(OrderedDict([
        ("fc0", TimeDistributed(nn.Linear(3, 4))), ("sn0", passthrough_lif()),
        ("fc1", TimeDistributed(nn.Linear(4, 2)))]))


def test_synapse_score_is_the_post_synaptic_unit_with_abs_w_tie_break():
    model = small_fc()
    owners = synapse_owners(model)
    assert owners == {"fc0.inner.0": "sn0", "fc1.inner.0": None}
    crit = {"sn0": torch.tensor([0.5, 0.9, 0.5, 0.1])}
    s = synapse_scores(model, crit, ["fc0.inner.0", "fc1.inner.0"], owners)
    assert s["fc0.inner.0"][:, 0].tolist() == pytest.approx([0.5, 0.9, 0.5, 0.1])
    assert (s["fc0.inner.0"] == s["fc0.inner.0"][:, :1]).all()
    assert torch.isinf(s["fc1.inner.0"]).all()              # no neuron after the classifier
    w = torch.tensor([[0.1, -0.7, 0.3],
                      [0.2, 0.0, -0.05],
                      [-0.8, 0.25, 0.6],
                      [9.0, 8.0, 7.0]])
    order = rank_desc(s["fc0.inner.0"], w.abs()).tolist()
    # row 1 (crit .9) by |w|, then rows 0 and 2 (crit .5) merged by |w|, then row 3
    assert order == [3, 5, 4, 6, 1, 8, 2, 7, 0, 9, 10, 11]


def test_rank_desc_ties_on_both_keys_fall_back_to_index():
    assert rank_desc(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([0.5, 0.5, 0.0])).tolist() == [2, 0, 1]


def test_resnet_owners_follow_the_graph_through_bn_and_add():
    model = build_model("resnet19", widths=(4, 4, 8, 8), blocks=(1, 1, 1), fc_hidden=8, input_size=8)
    owners = synapse_owners(model)
    assert owners["layer2.0.conv2.inner.0"] == "layer2.0.sn2"
    assert owners["layer2.0.shortcut.inner.0"] == "layer2.0.sn2"
    assert owners["layer2.0.conv1.inner.0"] == "layer2.0.sn1"
    assert owners["fc1.inner.0"] == "sn_fc1" and owners["fc.inner.0"] is None


@pytest.mark.parametrize("arch,kw", [("digits_conv", {}),
                                     ("resnet19", dict(widths=(4, 4, 8, 8), blocks=(1, 1, 1), fc_hidden=8,
                                                       input_size=8, in_channels=1))])
def test_channel_criticality_is_keyed_by_ir_neuron_names(arch, kw):
    torch.manual_seed(0)
    model = build_model(arch, surrogate="arctan", **kw)
    model.train()
    x = torch.rand(10, 1, 8, 8)
    scores = channel_criticality(model, x, T=3, batch_size=4)
    g = snn2hw.from_module(model)
    ir_neurons = {n for n in g.nodes if isinstance(g.nodes[n], N.Neuron) and not g.nodes[n].readout}
    assert set(scores) == ir_neurons
    for name, s in scores.items():
        assert s.shape == (g.nodes[name].output_shape[0],)
        assert ((s > 0) & (s <= 1.0 + 1e-6)).all()
    assert model.training                                  # mode restored
    assert all(not m.record for m in model.modules() if hasattr(m, "record"))


def test_collect_equals_one_big_batch_and_uses_eval_mode():
    torch.manual_seed(1)
    model = build_model("digits_conv")
    x = torch.rand(9, 1, 8, 8)
    a = collect(model, x, T=2, batch_size=4)
    b = collect(model, x, T=2, batch_size=100)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)   # BN in eval: batching-invariant
