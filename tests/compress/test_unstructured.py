"""Unstructured pruning-regeneration (ALGORITHMS §2.3–2.4) and masks."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import snn2hw
from snn2hw.compress import (MaskKeeper, add_masks, add_masks_from_state_dict, apply_masks,
                             cubic_sparsity, get_masks, magnitude_prune, make_schedule,
                             prunable_layers, prune_during_training, prune_step, sparsity)
from snn2hw.compress.unstructured import global_magnitude_masks
from snn2hw.data import load_digits
from snn2hw.models import build_model
from snn2hw.nn import LIF, TimeDistributed


def small_cnn(seed=0):
    torch.manual_seed(seed)
    return build_model("6conv2fc", in_channels=1, input_size=8, channels=(4, 8), convs_per_stage=2,
                       fc_hidden=16, surrogate="arctan")


# ---------------------------------------------------------------- schedule
def test_cubic_schedule_values():
    assert [cubic_sparsity(k, 4, 0.9) for k in range(5)] == pytest.approx(
        [0.0, 0.9 - 0.9 * 0.421875, 0.9 - 0.9 * 0.125, 0.9 - 0.9 / 64, 0.9])
    assert cubic_sparsity(1, 2, 0.8, 0.2) == pytest.approx(0.8 - 0.6 / 8)
    assert cubic_sparsity(7, 4, 0.9) == pytest.approx(0.9)


def test_make_schedule_defaults_and_paper_form():
    s = make_schedule(100, 0.9)                 # 75 % of 100 steps, 11 points
    assert (s.t0, s.dt, s.n) == (6, 6, 10)
    assert s.steps == list(range(6, 67, 6)) and s.last_step <= 75
    assert s.point(6) == 0 and s.point(66) == 10 and s.point(7) is None and s.point(72) is None
    assert s.sparsity(10) == pytest.approx(0.9)
    p = make_schedule(78200, 0.95, dt=2000)     # CIFAR: 200 × 391 steps, Δt = 2000 → n ≈ 29
    assert (p.t0, p.dt, p.n) == (2000, 2000, 28)
    with pytest.raises(ValueError):
        make_schedule(10, 0.9, n=5, dt=3)


# ---------------------------------------------------------------- global magnitude pruning
def test_prunable_layers_skip_first_conv_and_classifier():
    model = small_cnn()
    names = list(prunable_layers(model))
    assert names == ["conv1.inner.0", "conv2.inner.0", "conv3.inner.0", "fc1.inner.1"]
    assert list(prunable_layers(model, include=["conv0.inner.0"])) == ["conv0.inner.0"]
    assert "conv2.inner.0" not in prunable_layers(model, exclude=["conv2.inner.0"])


@pytest.mark.parametrize("s", [0.3, 0.77, 0.9])
def test_global_magnitude_prunes_exactly_the_fraction(s):
    model = small_cnn()
    first = model.conv0.inner[0].weight.detach().clone()
    last = model.fc2.inner[0].weight.detach().clone()
    layers = prunable_layers(model)
    dense = {p: m.weight.detach().clone() for p, m in layers.items()}
    info = magnitude_prune(model, s)
    N = sum(w.numel() for w in dense.values())
    assert info["removed"] == round(s * N) and info["total"] == N
    assert sparsity(model) == pytest.approx(round(s * N) / N)
    masks = get_masks(model)
    assert set(masks) == set(layers)
    kept = torch.cat([dense[p][masks[p]].abs() for p in masks])
    gone = torch.cat([dense[p][~masks[p]].abs() for p in masks])
    assert kept.min() >= gone.max()                              # ranked globally
    for p, m in layers.items():
        assert (m.weight[~masks[p]] == 0).all()
        torch.testing.assert_close(m.weight[masks[p]], dense[p][masks[p]])
    torch.testing.assert_close(model.conv0.inner[0].weight, first)   # untouched
    torch.testing.assert_close(model.fc2.inner[0].weight, last)
    assert not hasattr(model.conv0.inner[0], "weight_mask")
    assert not hasattr(model.fc2.inner[0], "weight_mask")


def test_global_magnitude_masks_ties_keep_the_earlier_index():
    m = global_magnitude_masks({"a": torch.tensor([1.0, 1.0, 1.0]), "b": torch.tensor([[2.0, 1.0]])}, 0.4)
    assert m["a"].tolist() == [True, True, False] and m["b"].tolist() == [[True, False]]


# ---------------------------------------------------------------- regeneration
def hand_net():
    """fc0 (first) -> sn0 -> fc1 -> sn1 -> fc2 -> sn2 -> fc3 (classifier); fc1/fc2 prunable."""
    lif = lambda: LIF(beta=0.0, surrogate="arctan")  # noqa: E731
    model = nn.Sequential(OrderedDict([
        ("fc0", TimeDistributed(nn.Linear(2, 3))), ("sn0", lif()),
        ("fc1", TimeDistributed(nn.Linear(3, 3))), ("sn1", lif()),
        ("fc2", TimeDistributed(nn.Linear(3, 3))), ("sn2", lif()),
        ("fc3", TimeDistributed(nn.Linear(3, 2)))]))
    w1 = torch.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0], [7.0, 8.0, 9.0]])
    w2 = torch.tensor([[10.0, 11.0, -12.0], [13.0, 14.0, 15.0], [16.0, 17.0, 18.0]]) / 10
    with torch.no_grad():
        model.fc1.inner[0].weight.copy_(w1 / 10)       # |w|: fc1 0.1..0.9, fc2 1.0..1.8
        model.fc2.inner[0].weight.copy_(w2)
    return model


def test_regeneration_regrows_exactly_the_top_k_by_criticality_and_restores_values():
    model = hand_net()
    layers = add_masks(model)
    assert list(layers) == ["fc1.inner.0", "fc2.inner.0"]
    dense = {p: m.weight.detach().clone() for p, m in layers.items()}
    # earlier pruning point: plain magnitude to 2/18 -> fc1 weights 0.1, 0.2 removed (values stashed)
    prune_step(model, layers, 2 / 18, 0.0, "none")
    assert get_masks(model)["fc1.inner.0"].reshape(-1).tolist() == [False, False] + [True] * 7
    # now s = 0.5 (9 of 18), r = 1/3 -> s~ = 2/3: over-prune 12 (all of fc1, 1.0..1.2 of fc2), K = 3
    crit = {"sn0": torch.tensor([5.0, 5.0, 5.0]),            # fc0's owner: not prunable, ignored
            "sn1": torch.tensor([0.2, 0.9, 0.5]),            # fc1 rows
            "sn2": torch.tensor([0.9, 0.1, 0.1])}            # fc2 rows
    info = prune_step(model, layers, 0.5, 1 / 3, "criticality", channel_scores=crit)
    assert (info["K"], info["removed"], info["total"]) == (3, 9, 18)
    assert info["s_tilde"] == pytest.approx(2 / 3)
    masks = get_masks(model)
    # candidates = the 12 masked; crit 0.9 ties between fc1 row 1 (|w| .4 .5 .6) and fc2 row 0
    # (|w| 1.0 1.1 1.2) -> by |w|: the three of fc2 row 0 win
    assert masks["fc1.inner.0"].sum() == 0
    assert masks["fc2.inner.0"].tolist() == [[True] * 3] * 3
    # a different score: fc1 row 0 (holding the two weights pruned earlier) is the most critical
    crit["sn1"] = torch.tensor([0.95, 0.9, 0.5])
    info = prune_step(model, layers, 0.5, 1 / 3, "criticality", channel_scores=crit)
    masks = get_masks(model)
    assert masks["fc1.inner.0"].tolist() == [[True] * 3, [False] * 3, [False] * 3]
    assert masks["fc2.inner.0"].tolist() == [[False] * 3, [True] * 3, [True] * 3]
    assert sparsity(model) == pytest.approx(0.5)
    w1 = model.fc1.inner[0].weight
    torch.testing.assert_close(w1[0], dense["fc1.inner.0"][0])   # 0.1, 0.2 restored from the stash


@pytest.mark.parametrize("regen", ["criticality", "random", "gradient", "none"])
@pytest.mark.parametrize("s,r", [(0.5, 0.2), (0.83, 0.1)])
def test_regeneration_leaves_exactly_the_target_sparsity(regen, s, r):
    from snn2hw.compress import CriticalityMeter
    model = small_cnn()
    layers = add_masks(model)
    x = torch.rand(6, 1, 8, 8)
    meter = CriticalityMeter(model)
    out = model(x.unsqueeze(0).repeat(3, 1, 1, 1, 1)).mean(0)
    F.cross_entropy(out, torch.arange(6) % 10).backward()
    meter.remove()
    N = sum(m.weight.numel() for m in layers.values())
    info = prune_step(model, layers, 0.2, r, regen, meter.channel_scores(), generator=torch.Generator())
    info = prune_step(model, layers, s, r, regen, meter.channel_scores(), generator=torch.Generator())
    assert info["removed"] == round(s * N)
    assert sum(int((m.weight_mask == 0).sum()) for m in layers.values()) == round(s * N)
    assert all(int((m.weight[m.weight_mask == 0] != 0).sum()) == 0 for m in layers.values())
    expect_k = 0 if regen == "none" else round((s + r * (1 - s)) * N) - round(s * N)
    assert info["K"] == expect_k


# ---------------------------------------------------------------- masks
@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_masks_survive_optimizer_steps(opt_name):
    model = small_cnn()
    magnitude_prune(model, 0.6)
    masks = get_masks(model)
    params = model.parameters()
    opt = (torch.optim.SGD(params, lr=0.5, momentum=0.9, weight_decay=1e-3) if opt_name == "sgd"
           else torch.optim.AdamW(params, lr=0.1))
    keeper = MaskKeeper(model, opt)
    x = torch.rand(4, 3, 1, 8, 8)
    for _ in range(3):
        opt.zero_grad()
        loss = model(x).mean(0).pow(2).sum()
        loss.backward()
        assert any(float(m.weight.grad[~masks[p]].abs().sum()) > 0
                   for p, m in prunable_layers(model).items())     # dense grads reach masked weights
        opt.step()
        for p, m in prunable_layers(model).items():
            assert (m.weight[~masks[p]] == 0).all()
            for v in opt.state[m.weight].values():
                if isinstance(v, torch.Tensor) and v.shape == m.weight.shape:
                    assert (v[~masks[p]] == 0).all()
    keeper.remove()
    opt.step()                                      # without the keeper the weights move
    apply_masks(model, opt)
    assert all((m.weight[~masks[p]] == 0).all() for p, m in prunable_layers(model).items())


def test_state_dict_carries_masks_and_loads_into_a_fresh_model():
    model = small_cnn()
    magnitude_prune(model, 0.5)
    state = model.state_dict()
    assert "conv1.inner.0.weight_mask" in state and "conv1.inner.0.weight_stash" not in state
    fresh = small_cnn(seed=1)
    assert add_masks_from_state_dict(fresh, state) == list(prunable_layers(fresh))
    fresh.load_state_dict(state)
    assert all(torch.equal(get_masks(fresh)[p], m) for p, m in get_masks(model).items())


# ---------------------------------------------------------------- IR
def test_ir_graph_carries_the_masks_and_integer_weights_are_zero_where_masked():
    model = small_cnn()
    magnitude_prune(model, 0.5)          # (0.8 at init empties conv3: global ranking, fan-in 72)
    model.eval()
    g = snn2hw.from_module(model)
    masks = get_masks(model)
    ir = {"conv1.inner.0": "conv1.0", "conv2.inner.0": "conv2.0", "conv3.inner.0": "conv3.0",
          "fc1.inner.1": "fc1.1"}
    for path, name in ir.items():
        np.testing.assert_array_equal(g.nodes[name].mask, masks[path].numpy())
    assert g.nodes["conv0.0"].mask is None and g.nodes["fc2.0"].mask is None
    g.nodes["input"].step = 1 / 16                   # digits-like input lattice
    q = snn2hw.convert(g, profile="loihi").graph
    for name in ir.values():
        node = q.nodes[name]
        assert node.weight_int is not None
        assert (node.weight_int[~node.mask] == 0).all()
        assert (node.weight_int[node.mask] != 0).mean() > 0.5


def test_torch_prune_mask_reaches_the_ir():
    import torch.nn.utils.prune as tprune
    model = small_cnn()
    tprune.l1_unstructured(model.conv2.inner[0], "weight", amount=0.5)
    g = snn2hw.from_module(model)
    np.testing.assert_array_equal(g.nodes["conv2.0"].mask, model.conv2.inner[0].weight_mask.numpy() != 0)
    assert g.nodes["conv2.0"].mask.mean() == pytest.approx(0.5, abs=0.01)


# ---------------------------------------------------------------- the training driver
def test_prune_during_training_on_digits():
    data = load_digits()
    torch.manual_seed(0)
    model = build_model("digits_conv", widths=(8, 16), surrogate="arctan")
    h = prune_during_training(model, data, epochs=4, final_sparsity=0.8, r=0.2, regen="criticality",
                              T=2, batch_size=64, progress=False)
    layers = prunable_layers(model)
    assert list(layers) == ["conv1.inner.0"]
    N = layers["conv1.inner.0"].weight.numel()
    assert len(h.events) == 11 and h.schedule["n"] == 10
    assert h.events[-1]["step"] <= 0.75 * h.schedule["total_steps"]
    assert [e["sparsity"] for e in h.events] == pytest.approx([cubic_sparsity(k, 10, 0.8) for k in range(11)])
    assert all(e["removed"] == round(e["sparsity"] * N) for e in h.events)
    assert h.sparsity[-1] == pytest.approx(round(0.8 * N) / N)
    assert (layers["conv1.inner.0"].weight[get_masks(model)["conv1.inner.0"] == 0] == 0).all()
    assert h.test_acc[-1] > 0.8
    assert all(not m.record for m in model.modules() if hasattr(m, "record"))
