"""2x32x32 event input (issue 17 point 3): the small event net maps on Loihi and Speck without violations; the
CIFAR-sized architectures build for it (costing)."""
import pytest
import torch
from torch import nn

from snn2hw.frontends.torch_fx import from_module
from snn2hw.hw_profiles import load_profile
from snn2hw.models import build_model
from snn2hw.models.init import init_model
from snn2hw.passes.pipeline import convert
from snn2hw.simulators.mapping import map_graph


@pytest.mark.parametrize("name", ["dvs_conv", "6conv2fc", "vgg16", "resnet19"])
def test_event_shaped_input_forward(name):
    torch.manual_seed(0)
    m = build_model(name, **({} if name == "dvs_conv" else {"in_channels": 2}), num_classes=12).eval()
    assert m.input_shape == (2, 32, 32)
    x = (torch.rand(2, 1, 2, 32, 32) < 0.03).float()  # sparse binary frames, as shapes_dvs
    with torch.no_grad():
        y = m(x)
    assert y.shape == (2, 1, 12) and torch.isfinite(y).all()


def test_dvs_conv_readout_fan_in_is_below_loihi_axons():
    m = build_model("dvs_conv")
    fc = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
    assert len(fc) == 1 and fc[0].in_features == 32 * 4 * 4
    limit = load_profile("loihi").capacity.fan_in_axons_per_core.value
    assert fc[0].in_features <= limit


@pytest.mark.parametrize("profile", ["loihi", "speck"])
def test_dvs_conv_maps_without_violations(profile):
    r = init_model("dvs_conv", (2, 32, 32), 12, 0, neuron="if")
    g = from_module(r.model)
    g.nodes[g.inputs[0]].step = 1.0  # binary event frames
    res = convert(g, profile=profile)
    assert not res.refusals
    m = map_graph(res.graph, load_profile(profile))
    assert m.fits and not m.violations, [v.to_dict() for v in m.violations]
