"""SVS scores (ALGORITHMS §3.4): numerical rank of each channel's T-averaged H×W spike map, mean over samples."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from snn2hw.frontends.torch_fx import from_module
from snn2hw.models import build_model
from snn2hw.nn import IF, TimeDistributed
from snn2hw.passes.svs import spike_map_ranks, svs_from_spikes, svs_scores

N = 6


def _maps():
    """Channel -> (spikes [T, H, W] with T = 2, known rank of the time average)."""
    eye = torch.eye(N)
    row = torch.tensor([1.0, 0, 1, 1, 0, 1])
    equal_rows = row.expand(N, N).clone()
    two = torch.zeros(N, N)
    two[:3, :2] = 1
    two[3:, 2:5] = 1  # two disjoint blocks of ones: rank 2
    e1, e2 = torch.zeros(N, N), torch.zeros(N, N)
    e1[0, 1] = 1
    e2[3, 4] = 1  # rank 1 at each step, rank 2 on average
    checker = (torch.arange(N)[:, None] + torch.arange(N)[None, :]) % 2  # rank 2 (two distinct rows)
    return [
        (torch.stack([eye, eye]), N),
        (torch.stack([eye, torch.zeros(N, N)]), N),  # averaged to eye / 2
        (torch.stack([equal_rows, equal_rows]), 1),
        (torch.zeros(2, N, N), 0),
        (torch.stack([two, two]), 2),
        (torch.stack([e1, e2]), 2),
        (torch.stack([checker.float(), checker.float()]), 2),
    ]


def test_hand_made_maps_have_their_known_ranks():
    maps = _maps()
    spikes = torch.stack([m for m, _ in maps], dim=1).unsqueeze(1)  # [T, B=1, C, H, W]
    ranks = spike_map_ranks(spikes)
    assert ranks.tolist() == [[r for _, r in maps]]
    # score = mean over samples: a second sample with the channels rolled by one
    spikes2 = torch.cat([spikes, spikes.roll(1, dims=2)], dim=1)
    want = [(a + b) / 2 for a, b in zip([r for _, r in maps], np.roll([r for _, r in maps], 1))]
    np.testing.assert_array_equal(svs_from_spikes(spikes2), want)


def test_eps_counts_singular_values_strictly_above():
    s = torch.zeros(1, 1, 1, 3, 3)
    s[0, 0, 0] = torch.diag(torch.tensor([1.0, 1e-3, 1e-9]))
    assert spike_map_ranks(s, eps=1e-6).item() == 2
    assert spike_map_ranks(s, eps=1e-2).item() == 1
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\]"):
        spike_map_ranks(torch.zeros(2, 3, 4))


def _relay(C):
    """Identity 1x1 conv then IF(threshold 0.5): the spikes reproduce a binary input exactly."""
    conv = nn.Conv2d(C, C, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(C).reshape(C, C, 1, 1))
    m = nn.Sequential(OrderedDict(conv=TimeDistributed(conv), sn=IF(threshold=0.5),
                                  pool=TimeDistributed(nn.AvgPool2d(2), nn.Flatten()),
                                  fc=TimeDistributed(nn.Linear(C * (N // 2) ** 2, 2))))
    m.input_shape = (C, N, N)
    return m


def test_model_and_graph_scores_through_a_relay_network():
    maps = _maps()
    C = len(maps)
    x1 = torch.stack([m for m, _ in maps], dim=1)  # [T, C, H, W]
    x = torch.stack([x1, x1.roll(1, dims=1)], dim=1)  # [T, B=2, C, H, W]
    known = np.array([r for _, r in maps], dtype=float)
    want = (known + np.roll(known, 1)) / 2
    model = _relay(C)
    s_model = svs_scores(model, x, T=2, batch_size=1)
    assert set(s_model) == {"sn"}  # hooked on the neuron output, before the pool
    np.testing.assert_array_equal(s_model["sn"], want)
    s_graph = svs_scores(from_module(model), x, T=2)
    np.testing.assert_array_equal(s_graph["sn"], want)


def test_static_calibration_images_are_repeated_over_T_and_keys_match_graph_names():
    torch.manual_seed(0)
    model = build_model("digits_conv", neuron="if", threshold=0.5).double()
    x = torch.rand(5, 1, 8, 8, dtype=torch.float64)
    s = svs_scores(model, x, T=3, batch_size=2)
    assert set(s) == {"sn0", "sn1"} and s["sn0"].shape == (16,) and s["sn1"].shape == (32,)
    assert np.all(s["sn0"] <= 8) and np.all(s["sn1"] <= 4) and s["sn0"].max() > 0
    g = from_module(model)
    sg = svs_scores(g, x, T=3)
    for k in s:
        np.testing.assert_array_equal(s[k], sg[k])
    with pytest.raises(ValueError, match="time steps"):
        svs_scores(model, torch.rand(2, 5, 1, 8, 8), T=3)


def test_event_frames_sample_major_are_read_with_their_time_axis():
    """Event data as a Dataset holds it, ``[B, T, C, H, W]`` (``x_train[:n]``), is transposed to time-major:
    each sample's own T frames are averaged (known ranks), not frames of different samples."""
    maps = _maps()
    C = len(maps)
    known = np.array([r for _, r in maps], dtype=float)
    x1 = torch.stack([m for m, _ in maps], dim=1)  # one sample: [T=2, C, H, W]
    model = _relay(C)
    # B = 3 != T = 2: 'auto' finds the time axis in dimension 1
    x3 = torch.stack([x1, x1.roll(1, dims=1), x1], dim=0)  # [B=3, T=2, C, H, W]
    want3 = (2 * known + np.roll(known, 1)) / 3
    np.testing.assert_array_equal(svs_scores(model, x3, T=2)["sn"], want3)
    np.testing.assert_array_equal(svs_scores(from_module(model), x3, T=2)["sn"], want3)
    # B = T = 2 is ambiguous: 'sample_major' says so; read time-major instead, the scores are wrong
    x2 = torch.stack([x1, x1.roll(1, dims=1)], dim=0)  # [B=2, T=2, C, H, W]
    want2 = (known + np.roll(known, 1)) / 2
    np.testing.assert_array_equal(svs_scores(model, x2, T=2, layout="sample_major")["sn"], want2)
    np.testing.assert_array_equal(svs_scores(from_module(model), x2, T=2, layout="sample_major")["sn"], want2)
    assert not np.array_equal(svs_scores(model, x2, T=2, layout="time_major")["sn"], want2)
    with pytest.raises(ValueError, match="time steps in dimension 1"):
        svs_scores(model, x3, T=3, layout="sample_major")
    with pytest.raises(ValueError, match="layout"):
        svs_scores(model, x3, T=2, layout="bt")
