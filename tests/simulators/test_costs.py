"""Cost conventions: QP-SNN model sizes and energies reproduced; NeuroBench metrics on hand cases."""
import numpy as np
import pytest
import torch

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.simulators import costs
from snn2hw.simulators.event import sequential_placement, simulate_events


# ----------------------------------------------------------------------------- QP-SNN model sizes (ALGORITHMS §5.3)
@pytest.mark.parametrize("ra, rb, classes, params_m, sizes", [
    (0.45, 0.51, 10, 4.25, (4.28, 2.16, 1.10)),
    (0.49, 0.80, 10, 1.42, (1.45, 0.74, 0.39)),
    (0.45, 0.70, 100, 2.31, (2.48, 1.35, 0.79)),
    (0.45, 0.78, 100, 1.68, (1.85, 1.04, 0.63)),
])
def test_qp_snn_vgg16_model_size(ra, rb, classes, params_m, sizes):
    for bits, mb in zip((8, 4, 2), sizes):
        size = costs.layers_model_size(costs.vgg16_qp_layers(ra, rb, bits=bits, classes=classes))
        assert abs(size["params"] / 1e6 - params_m) < 0.007  # the paper rounds 4.246 up, truncates 6.226
        assert round(size["MB"], 2) == mb, (bits, size)
        assert size["MiB"] == pytest.approx(size["MB"] * 1e6 / 2**20)


@pytest.mark.parametrize("rate, classes, params_m, sizes", [
    ([0.1] + [0.3] * 3 + [0.6] * 16, 10, 6.22, (6.27, 3.16, 1.61)),
    ([0.1] + [0.35] * 3 + [0.75] * 16, 10, 3.88, (3.92, 1.98, 1.02)),
    ([0.1] + [0.3] * 3 + [0.6] * 16, 100, 6.27, (6.45, 3.35, 1.79)),
    ([0.1] + [0.35] * 3 + [0.75] * 16, 100, 3.92, (4.10, 2.17, 1.20)),
])
def test_qp_snn_resnet20_model_size(rate, classes, params_m, sizes):
    for bits, mb in zip((8, 4, 2), sizes):
        size = costs.layers_model_size(costs.resnet20_qp_layers(rate, bits=bits, classes=classes))
        assert abs(size["params"] / 1e6 - params_m) < 0.007  # the paper rounds 4.246 up, truncates 6.226
        assert round(size["MB"], 2) == mb, (bits, size)


def test_full_precision_vgg16_size():
    size = costs.layers_model_size(costs.vgg16_qp_layers(bits=32))
    assert round(size["params"] / 1e6, 2) == 14.72
    assert round(size["MB"], 1) == 58.9 and round(size["MiB"], 2) == 56.17


def test_qp_snn_vgg16_energy():
    # full precision: 54.6 M SOPs per step x T = 4, first conv 3 -> 64 @ 32x32 as MACs (once)
    mac = costs.conv_flops(32, 32, 3, 64, 3)
    assert round(mac / 1e6, 3) == 1.769
    e = costs.literature_energy(54.6e6 * 4, mac)
    assert round(e["energy_mj_per_sample"], 4) == 0.2047
    # QP (1.42 M params, 0.74 MB at 4 bit): ratio A 0.49 keeps int(64 x 0.51) = 32 first-conv channels
    keep = costs.vgg16_qp_layers(0.49, 0.8, bits=4)[0]
    assert keep[1] == 3 * 9 * 32 + 32
    mac_qp = costs.conv_flops(32, 32, 3, 32, 3)
    assert round(mac_qp / 1e6, 3) == 0.885
    assert round(costs.literature_energy(11.63e6 * 4, mac_qp)["energy_mj_per_sample"], 4) == 0.0459


# ----------------------------------------------------------------------------- NeuroBench on a hand case
def _graph():
    w1 = np.array([[1, 0], [2, 1], [0, 0]], dtype=np.int64)  # first layer, graded input
    w2 = np.array([[1, 1, 0], [0, -1, 0]], dtype=np.int64)
    g = Graph.sequential([
        ("in", N.Input(shape=(2,), step=1.0, bits=8)),
        ("fc1", N.Dense(weight=w1.astype(float), weight_int=w1, bias=np.zeros(3))),
        ("a", N.Neuron(model="if", du=4095, dv=0, vth=np.zeros(3, dtype=np.int64),
                       bias_mant=np.zeros(3, dtype=np.int64))),
        ("fc2", N.Dense(weight=w2.astype(float), weight_int=w2)),
        ("r", N.Neuron(model="if", readout=True, threshold=float("inf"), du=4095, dv=0, vth=np.full(2, 2**17),
                       bias_mant=np.zeros(2, dtype=np.int64))),
        ("out", N.Output()),
    ])
    return g


def test_neurobench_metrics_by_hand():
    g = _graph()
    x = torch.tensor([[[2.0, 0.0]], [[1.0, 1.0]]])  # T=2, B=1: step 0 graded (MAC), step 1 binary (AC)
    ev = simulate_events(g, x, sequential_placement(g), "loihi")
    # step 0: input 0 (fan-out 2) -> 2 MACs; a = [2, 4, 0] -> a0, a1 fire -> fc2 fan-outs 1 and 2 -> 3 ACs
    # step 1: inputs 0, 1 (fan-outs 2, 1) -> 3 ACs; a = [1, 3, 0] -> a0, a1 fire -> 3 ACs
    m = costs.neurobench_metrics(ev, g, "loihi")
    assert m["effective_macs_per_sample"] == 2 and m["effective_acs_per_sample"] == 3 + 3 + 3
    assert m["dense_sops_per_sample"] == 2 * (2 * 3 + 3 * 2)
    # the integer network's own figures carry int_ (NeuroBench's names are kept for the torch model's)
    assert m["int_activation_sparsity"] == pytest.approx(1 - 4 / 6)
    assert m["int_activation_sparsity_per_layer"] == {"a": pytest.approx(1 - 4 / 6)}
    assert m["int_connection_sparsity"] == round(6 / 12, 4)
    assert m["int_parameter_count"] == 6 + 3 + 6
    assert m["int_footprint_bytes"] == costs.footprint_bytes(g, "loihi")["total_bytes"]
    assert not {"activation_sparsity", "connection_sparsity", "footprint_bytes", "parameter_count"} & set(m)
    assert costs.float32_footprint_bytes(g) == 4 * (6 + 3 + 6 + 1 + 1)  # weights, bias, threshold + beta of "a"
    # integer footprint: 12 weights x 8 bits + 2 exponents; vth 17 + bias 13 bits per channel; du/dv 12 bits;
    # u and v 24 bits per neuron (3 + 2 neurons)
    fb = costs.footprint_bytes(g, "loihi")
    assert fb["total_bytes"] == (12 * 8 + 2 * 8 + 5 * (17 + 13) + 2 * 2 * 12 + 5 * 2 * 24) / 8
    # membrane updates: all 5 at step 0; at step 1 a0, a1 fire and reset (v stays 0), a2 gets no input,
    # both readout membranes change -> 2
    assert m["int_membrane_updates_per_sample"] == 5 + 2
    lit = costs.literature_sops(ev)
    assert lit["first_layer_macs_per_sample"] == 6  # once, not x T
    assert lit["sops_per_sample"] == pytest.approx((4 / 6) * 2 * 6)
    assert lit["energy_pj_per_sample"] == pytest.approx(0.9 * lit["sops_per_sample"] + 4.6 * 6)


def test_graph_model_size_first_last_fp32():
    g = _graph()
    s = costs.graph_model_size(g, bits=4)
    # fc1 (first) and fc2 (last) fp32 with bias; 3 channels of "a" x (threshold, bias) at fp32
    assert s["bytes"] == ((6 + 3) * 32 + 6 * 32 + 2 * 3 * 32) / 8
