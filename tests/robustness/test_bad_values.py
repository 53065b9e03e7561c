"""Readable files with bad values: NaN/Inf or float32-overflowing weights and BatchNorm statistics,
thresholds <= 0, shapes that do not chain, cycles, wrongly typed checkpoint fields.

Each must be refused with exit 2 and a message naming the layer and the field (or the
checkpoint field), on every reader: checkpoint (.pt), .s2h graph.
"""
import copy

import numpy as np
import pytest
import torch

from harness import check_outcome, run_cli, snapshot
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.io import save_graph

W0 = "conv0.inner.0.weight"
VAR = "conv0.inner.1.running_var"

CKPT_CASES = {
    "weight_nan": (lambda c: c["state_dict"][W0].view(-1).__setitem__(3, float("nan")), "conv0.0", "NaN/Inf"),
    "weight_inf": (lambda c: c["state_dict"][W0].view(-1).__setitem__(0, float("-inf")), "conv0.0", "NaN/Inf"),
    "bn_var_nan": (lambda c: c["state_dict"][VAR].view(-1).__setitem__(0, float("nan")), "conv0.1", "var"),
    "bn_var_negative": (lambda c: c["state_dict"][VAR].fill_(-2.0), "conv0.1", "var"),
    "bn_mean_inf": (lambda c: c["state_dict"]["conv0.inner.1.running_mean"].fill_(float("inf")), "conv0.1", "mean"),
    "threshold_zero": (lambda c: c["arch_kwargs"].update(threshold=0.0), "threshold", "> 0"),
    "threshold_negative": (lambda c: c["arch_kwargs"].update(threshold=-1.0), "threshold", "> 0"),
    "input_shape_text": (lambda c: c.update(input_shape="8x8"), "input_shape", "positive integers"),
    "input_step_nan": (lambda c: c.update(input_step=float("nan")), "input_step", "positive finite"),
    "timesteps_zero": (lambda c: c.update(timesteps=0), "timesteps", "positive integer"),
    "state_dict_list": (lambda c: c.update(state_dict=[1, 2]), "state_dict", "dict of tensors"),
    "tensor_complex": (lambda c: c["state_dict"].update({W0: c["state_dict"][W0].to(torch.complex64)}), W0,
                       "complex"),
    "shape_mismatch": (lambda c: c["state_dict"].update({W0: torch.zeros(3, 3)}), W0, "shape mismatch"),
}


@pytest.mark.parametrize("case", sorted(CKPT_CASES))
def test_bad_checkpoint_values(seeds, tmp_path, case):
    edit, layer, field = CKPT_CASES[case]
    ck = copy.deepcopy(torch.load(seeds / "model.pt", weights_only=True))
    edit(ck)
    f = tmp_path / "bad.pt"
    torch.save(ck, f)
    before = snapshot(tmp_path)
    for argv in (["inspect", f], ["convert", f, "--out", tmp_path / "o.s2h"]):
        res = run_cli(argv)
        check_outcome(res, tmp_path, before, names=["bad.pt"])
        assert layer in res.err and field in res.err, res.err


def _chain(**over):
    nodes = {"in": N.Input(shape=(4,)), "fc": N.Dense(weight=np.ones((3, 4))),
             "sn": N.Neuron(model="lif", beta=0.5, threshold=1.0), "out": N.Output()}
    nodes.update(over)
    return Graph.sequential(list(nodes.items()))


GRAPH_CASES = {
    "weight_nan": (lambda: _chain(fc=N.Dense(weight=np.array([[np.nan, 1, 1, 1]] * 3))), "fc", "NaN/Inf"),
    "weight_overflow": (lambda: _chain(fc=N.Dense(weight=np.full((3, 4), 1e300))), "fc", "float32 range"),
    "bias_inf": (lambda: _chain(fc=N.Dense(weight=np.ones((3, 4)), bias=np.array([0, np.inf, 0]))), "fc", "bias"),
    "threshold_zero": (lambda: _chain(sn=N.Neuron(model="lif", beta=0.5, threshold=0.0)), "sn", "threshold"),
    "threshold_negative": (lambda: _chain(sn=N.Neuron(model="if", threshold=np.array([1.0, -1.0, 1.0]))), "sn",
                           "threshold"),
    "threshold_nan": (lambda: _chain(sn=N.Neuron(model="if", threshold=np.array([1.0, np.nan, 1.0]))), "sn",
                      "threshold"),
    "shapes_do_not_chain": (lambda: _chain(fc=N.Dense(weight=np.ones((3, 5)))), "fc", "5"),
    "bn_var_nan": (lambda: _chain(bn=N.BatchNorm(gamma=np.ones(3), beta=np.zeros(3), mean=np.zeros(3),
                                                 var=np.array([1, np.nan, 1]))), "bn", "var"),
    "timesteps_text": (lambda: Graph(nodes=_chain().nodes, edges=_chain().edges, metadata={"timesteps": "four"}),
                       "timesteps", "positive integer"),
    "cycle": (lambda: (lambda g: (g.edges.append(("sn", "fc")), g)[1])(_chain()), "cycle", "fc"),
}


@pytest.mark.parametrize("case", sorted(GRAPH_CASES))
def test_bad_graph_values(tmp_path, case):
    make, layer, field = GRAPH_CASES[case]
    f = save_graph(make(), tmp_path / "bad.s2h")
    before = snapshot(tmp_path)
    for argv in (["inspect", f], ["export", f, "--format", "onnx", "--out", tmp_path / "exp"]):
        res = run_cli(argv)
        check_outcome(res, tmp_path, before, names=["bad.s2h"])
        assert layer in res.err and field in res.err, res.err
