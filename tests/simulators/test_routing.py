"""Event-simulator routing (simulators/routing.py) equals a dense autograd reference.

The reference finds, for every destination core, the source elements with a nonzero
gradient of the sum of that core's neurons' inputs (weights binarised, so no cancellation):
exactly "a path of nonzero weights reaches a neuron on the core". It holds a dense
[sources, cores] matrix, fine for these small graphs. Random conv/residual/MLP graphs
cover pools before the synapse (sum and lowered avg, padded), pools between the synapse
and its neuron, flatten, residual adds, stride/padding/dilation/groups and pruned taps.
"""
import numpy as np
import pytest
import torch

import snn2hw
from snn2hw.hw_profiles import load_profile
from snn2hw.ir import nodes as N
from snn2hw.ir.topology import synapses_from
from snn2hw.simulators.event import _EventRunner, _glue_apply, _syn_apply, sequential_placement
from tests.helpers.random_graphs import random_graph


def dense_reach(run: _EventRunner, p: str) -> torch.Tensor:
    g = run.g
    node = g.nodes[p]
    R = torch.zeros(int(np.prod(node.output_shape)), run.C, dtype=torch.float64)
    for s in synapses_from(g, p)[0]:
        info = run.syn_info[s]
        x = torch.zeros((1,) + tuple(node.output_shape), dtype=torch.float64, requires_grad=True)
        y = x
        for u in info["chain_up"]:
            y = _glue_apply(g.nodes[u], y)
        y = _syn_apply(g.nodes[s], y, run.wb[s].double())
        for d in info["chain_down"]:
            y = _glue_apply(g.nodes[d], y)
        y = y.reshape(-1)
        co = run.core_of[info["target"]]
        for ci in torch.unique(co).tolist():
            (gr,) = torch.autograd.grad(y, x, (co == ci).double(), retain_graph=True)
            R[:, ci] = torch.maximum(R[:, ci], (gr.reshape(-1) > 0).double())
    return R


@pytest.mark.parametrize("seed", range(18))
def test_sparse_routing_equals_dense_reference(seed):
    rng = np.random.default_rng(100 + seed)
    g = random_graph(rng, ("conv", "residual", "mlp")[seed % 3], step=1 / 16, resets=("zero",))
    gi = snn2hw.convert(g, "loihi").graph
    gi.infer_shapes()
    pl = sequential_placement(gi, neurons_per_core=int(rng.integers(3, 40)), mesh_width=3, cores_per_tile=2)
    run = _EventRunner(gi, pl, load_profile("loihi"), [])
    checked = 0
    for p, r in run.route.items():
        R = dense_reach(run, p)
        assert torch.equal(r["Rt"].to_dense().t().double(), R), p
        assert torch.equal(r["deg"], R.sum(1)), p
        if r["src_core"] is None:
            xy = np.array(pl.xy_of_tile(pl.input_tile)).reshape(1, 2).repeat(R.shape[0], 0)
        else:
            xy = run.core_xy[r["src_core"].numpy()].reshape(-1, 2)
        ew = torch.as_tensor(np.abs(xy[:, :1] - run.core_xy[None, :, 0]), dtype=torch.float64)
        ns = torch.as_tensor(np.abs(xy[:, 1:2] - run.core_xy[None, :, 1]), dtype=torch.float64)
        assert torch.allclose(r["ew"], (R * ew).sum(1), rtol=0, atol=1e-9), p
        assert torch.allclose(r["ns"], (R * ns).sum(1), rtol=0, atol=1e-9), p
        c = run.costs
        lat = ew * c.hop_ew_latency_ns.value + ns * c.hop_ns_latency_ns.value
        assert torch.allclose(r["maxlat"], (R * lat).amax(1), rtol=1e-12, atol=1e-9), p
        checked += int(R.sum())
    assert checked > 0


def test_pruned_tap_and_padding_hand_case():
    """1x3x3 input, one 3x3 conv (padding 1) with only the centre and right taps, 3x3 outputs on 3 cores
    (one per output row): input pixel (i, j) feeds outputs (i, j) [centre] and (i, j-1) [right tap], so
    it reaches only the core of its own row."""
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 1, 1] = 1.0
    w[0, 0, 1, 2] = 1.0
    g = snn2hw.ir.graph.Graph()
    g.add("in", N.Input(shape=(1, 3, 3), step=1 / 16))
    g.add("conv", N.Conv2d(weight=w, bias=None, stride=(1, 1), padding=(1, 1)), ["in"])
    g.add("sn", N.Neuron(model="if", threshold=1.0, readout=True), ["conv"])
    g.add("out", N.Output(), ["sn"])
    gi = snn2hw.convert(g, "loihi").graph
    gi.infer_shapes()
    run = _EventRunner(gi, sequential_placement(gi, neurons_per_core=3), load_profile("loihi"), [])
    R = run.route["in"]["Rt"].to_dense().t().double()
    assert torch.equal(R, torch.tensor([[1, 0, 0]] * 3 + [[0, 1, 0]] * 3 + [[0, 0, 1]] * 3, dtype=torch.float64))
