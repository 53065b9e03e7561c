"""torch.fx front end: the converted float graph computes what the torch model computes."""
import numpy as np
import pytest
import torch
from torch import nn

from snn2hw.errors import UnsupportedModuleError
from snn2hw.frontends.torch_fx import from_module
from snn2hw.models import build_model
from snn2hw.nn import LIF, TimeDistributed
from snn2hw.simulators.reference import simulate

SMALL = {
    "mlp": {},
    "digits_conv": {},
    "digits_conv_atlif": dict(arch="digits_conv", neuron="atlif", threshold=0.7),
    "digits_conv_cuba": dict(arch="digits_conv", neuron="cuba", alpha=0.3, beta=0.8),
    "digits_conv_if_gt_subtract": dict(arch="digits_conv", neuron="if", compare="gt", reset="subtract"),
    "6conv2fc": dict(input_size=8, channels=(4, 4, 8), fc_hidden=16),
    "resnet20": dict(input_size=8, widths=(4, 4, 8, 8), blocks=(1, 1, 1)),
    "resnet20_B": dict(arch="resnet20", input_size=8, widths=(4, 4, 8, 8), blocks=(1, 1, 1), shortcut="B"),
    "resnet19": dict(input_size=8, widths=(4, 4, 8, 8), blocks=(1, 1, 1), fc_hidden=8),
}


def _randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.weight.data = torch.empty(c).uniform_(0.5, 2.0, generator=gen).double() * \
                torch.where(torch.rand(c, generator=gen) < 0.2, -1.0, 1.0).double()
            m.bias.data = torch.randn(c, generator=gen).double() * 0.3
            m.running_mean = torch.randn(c, generator=gen).double() * 0.3
            m.running_var = torch.empty(c).uniform_(0.5, 2.0, generator=gen).double()


def _build(key):
    kw = dict(SMALL[key])
    arch = kw.pop("arch", key)
    return build_model(arch, **kw)


@pytest.mark.parametrize("key", sorted(SMALL))
def test_graph_equals_torch_forward(key):
    gen = torch.Generator().manual_seed(0)
    model = _build(key).double().eval()
    _randomize_bn(model, gen)
    g = from_module(model)
    x = torch.rand((6, 5) + tuple(model.input_shape), generator=gen, dtype=torch.float64) * 3
    with torch.no_grad():
        ref = model(x).sum(0)  # readout currents summed over time = readout membrane
    r = simulate(g, x, record=["spikes"])
    assert r.output_kind == "membrane"
    assert torch.allclose(r.output, ref, atol=1e-9, rtol=0), float((r.output - ref).abs().max())
    rates = r.firing_rates()
    assert rates and max(rates.values()) > 0.01, rates  # neurons actually fire: the comparison means something


def test_unsupported_module_names_path_and_type():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = TimeDistributed(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2))
            self.sn = LIF()
            self.input_shape = (1, 8, 8)

        def forward(self, x):
            return self.sn(self.block(x))

    with pytest.raises(UnsupportedModuleError) as e:
        from_module(Bad())
    msg = str(e.value)
    assert "block.1" in msg and "MaxPool2d" in msg and "Supported" in msg


def test_unsupported_function_is_named():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.sn = LIF()
            self.fc = TimeDistributed(nn.Linear(4, 3))
            self.input_shape = (4,)

        def forward(self, x):
            return self.fc(torch.relu(self.sn(x)))

    with pytest.raises(UnsupportedModuleError, match="relu"):
        from_module(Bad())


def test_model_without_input_shape_needs_it():
    m = nn.Sequential(TimeDistributed(nn.Linear(4, 3)), LIF())
    with pytest.raises(UnsupportedModuleError, match="input_shape"):
        from_module(m)
    g = from_module(m, input_shape=(4,))
    assert g.nodes["output"] is not None
    # a model that ends in a spiking neuron outputs spike counts, no readout is added
    r = simulate(g, torch.rand(3, 2, 4) * 4)
    assert r.output_kind == "spike_count"
