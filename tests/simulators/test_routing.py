"""Event-simulator routing (simulators/routing.py) equals a dense autograd reference.

The reference takes, per synapse, the Jacobian of its composed map (glue before it, the
integer weights, glue after it) from source elements to target neurons: a nonzero entry is a
connection (parallel paths through an overlapping pool whose weights cancel are none). A source reaches a core when it connects to a neuron there;
the synapse count of (source, core) is the number of connected neurons on the core, summed
over the source's synapses. It holds dense matrices, fine for these small graphs. Random conv/residual/MLP graphs
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


def dense_reach(run: _EventRunner, p: str) -> tuple:
    """``(reach [sources, cores] 0/1, synapse counts [sources, cores])``."""
    g = run.g
    node = g.nodes[p]
    n = int(np.prod(node.output_shape))
    R = torch.zeros(n, run.C, dtype=torch.float64)
    K = torch.zeros(n, run.C, dtype=torch.float64)
    for s in synapses_from(g, p)[0]:
        info = run.syn_info[s]

        def composed(x, info=info, s=s):
            y = x.reshape((1,) + tuple(node.output_shape))
            for u in info["chain_up"]:
                y = _glue_apply(g.nodes[u], y)
            y = _syn_apply(g.nodes[s], y, torch.as_tensor(g.nodes[s].weight_int, dtype=torch.float64))
            for d in info["chain_down"]:
                y = _glue_apply(g.nodes[d], y)
            return y.reshape(-1)
        J = torch.autograd.functional.jacobian(composed, torch.zeros(n, dtype=torch.float64)) != 0  # [tgt, src]
        onehot = torch.nn.functional.one_hot(run.core_of[info["target"]], run.C).double()  # [tgt, C]
        K += J.double().t() @ onehot
    R = (K > 0).double()
    return R, K


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
        R, K = dense_reach(run, p)
        assert torch.equal(r["Rt"].to_dense().t().double(), R), p
        assert torch.equal(r["Rc"].to_dense().t().double(), K), p
        assert torch.equal(r["deg"], R.sum(1)), p
        xy = run.core_xy[run.core_of[p].numpy()].reshape(-1, 2)
        ew = torch.as_tensor(np.abs(xy[:, :1] - run.core_xy[None, :, 0]), dtype=torch.float64)
        ns = torch.as_tensor(np.abs(xy[:, 1:2] - run.core_xy[None, :, 1]), dtype=torch.float64)
        assert torch.allclose(r["ew"], (R * ew).sum(1), rtol=0, atol=1e-9), p
        assert torch.allclose(r["ns"], (R * ns).sum(1), rtol=0, atol=1e-9), p
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
