"""ReScaW conv + BatchNorm (QP-SNN's Conv -> BN -> LIF block, ALGORITHMS.md §3.6): the BN scale joins
kappa, so the integer weights are still +-w_odd and the integer spikes equal the float quantized model's."""
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from snn2hw.frontends.torch_fx import from_module
from snn2hw.nn import IF, TimeDistributed
from snn2hw.nn.quant import QuantConv2d
from snn2hw.passes import convert
from snn2hw.simulators.reference import simulate


def test_bn_after_rescaw_conv_folds_into_kappa_exactly():
    torch.manual_seed(3)
    m = nn.Sequential(OrderedDict(
        c0=TimeDistributed(QuantConv2d(2, 6, 3, padding=1, bias=False, bits=3), nn.BatchNorm2d(6)),
        sn0=IF(threshold=0.6, record=True),
        fc=TimeDistributed(nn.Flatten(), nn.Linear(6 * 64, 3))))
    m.input_shape = (2, 8, 8)
    bn = m.c0.inner[1]
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.5, -0.7, 0.9, 2.0, -1.2, 0.5]))
        bn.bias.zero_()  # a nonzero shift becomes an integer bias and rounds (expected by §3.6)
        bn.running_mean.zero_()
        bn.running_var.fill_(0.81)
    m = m.double().eval()
    x = torch.randint(0, 17, (6, 5, 2, 8, 8), generator=torch.Generator().manual_seed(0)).double() / 16
    m(x)
    g = from_module(m)
    g.nodes["input"].step = 1 / 16
    w_odd, _ = m.c0.inner[0].codes()
    conv = convert(g, "loihi", granularity="channel")
    sign = np.sign(bn.weight.detach().numpy())
    np.testing.assert_array_equal(conv.graph.nodes["c0.0"].weight_int, w_odd.numpy() * sign[:, None, None, None])
    ri = simulate(conv.graph, x, mode="int", record=["spikes"])
    assert torch.equal(ri.record["spikes"]["sn0"].double(), m.sn0.last_s)
    assert m.sn0.last_s.mean() > 0.01
