"""Every built-in model traces with torch.fx when neurons and TimeDistributed are leaves,
and the traced graph holds only module calls, tensor adds and the output."""
import operator

import pytest
import torch
import torch.fx as fx

from snn2hw.models import build_model, list_models
from snn2hw.nn import SpikingNeuron, TimeDistributed


class LeafTracer(fx.Tracer):
    def is_leaf_module(self, m, qualname):
        return isinstance(m, (SpikingNeuron, TimeDistributed)) or super().is_leaf_module(m, qualname)


SMALL = {  # same structure, fewer channels (keeps the test fast)
    "resnet20": {"widths": (8, 8, 16, 32)},
    "resnet19": {"widths": (8, 8, 16, 32)},
    "vgg16": {"cfg": (8, 8, "M", 8, 8, "M", 8, 8, 8, "M", 8, 8, 8, "M", 8, 8, 8)},
    "6conv2fc": {"channels": (8, 8, 8), "fc_hidden": 16},
}


@pytest.mark.parametrize("name", list_models())
def test_traces_to_modules_and_adds(name):
    m = build_model(name, neuron="atlif", **SMALL.get(name, {}))
    g = LeafTracer().trace(m)
    ops = {(n.op, n.target if n.op not in ("call_module", "placeholder") else "-") for n in g.nodes}
    allowed = {("placeholder", "-"), ("call_module", "-"), ("output", "output"),
               ("call_function", operator.add)}
    assert ops <= allowed, ops - allowed
    gm = fx.GraphModule(m, g)
    m.eval()
    x = torch.rand(2, 1, *m.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(gm(x), m(x))
    n_add = sum(1 for n in g.nodes if n.op == "call_function")
    assert n_add == {"resnet20": 9, "resnet19": 8}.get(name, 0)
