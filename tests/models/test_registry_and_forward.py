import pytest
import torch
from torch import nn

from snn2hw.models import UnknownModelError, build_model, list_models
from snn2hw.nn import ATLIF, IF, LIF, CubaLIF, SpikingNeuron, TimeDistributed, ZeroPadShortcut

ALL = ["6conv2fc", "digits_conv", "dvs_conv", "mlp", "resnet19", "resnet20", "vgg16"]
ALLOWED_INNER = (nn.Conv2d, nn.BatchNorm2d, nn.AvgPool2d, nn.Linear, nn.Flatten, ZeroPadShortcut)


def test_list_models():
    assert list_models() == ALL


def test_unknown_model_error_names_arch_and_valid():
    with pytest.raises(UnknownModelError) as e:
        build_model("alexnet")
    msg = str(e.value)
    assert "alexnet" in msg and all(n in msg for n in ALL)
    assert isinstance(e.value, ValueError) and isinstance(e.value, KeyError)


def test_unknown_kwarg_is_rejected_with_valid_list():
    with pytest.raises(ValueError, match="hidden"):
        build_model("mlp", hiden=(3,))


@pytest.mark.parametrize("name", ALL)
def test_forward_shape_and_attributes(name):
    torch.manual_seed(0)
    m = build_model(name, num_classes=7)
    assert m.arch == name and m.arch_kwargs == {"num_classes": 7} and m.num_classes == 7
    m.eval()
    x = torch.rand(2, 2, *m.input_shape)
    with torch.no_grad():
        y = m(x)
    assert y.shape == (2, 2, 7)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", ALL)
def test_only_hardware_expressible_building_blocks(name):
    m = build_model(name)
    for mod in m.modules():
        if isinstance(mod, TimeDistributed):
            assert all(isinstance(c, ALLOWED_INNER) for c in mod.inner), mod
        assert not isinstance(mod, (nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.ReLU))
    # last synaptic layer is a readout: no neuron after it
    names = [n for n, mod in m.named_modules() if isinstance(mod, (SpikingNeuron, nn.Linear))]
    last = dict(m.named_modules())[names[-1]]
    assert isinstance(last, nn.Linear)


@pytest.mark.parametrize("neuron,cls", [("lif", LIF), ("if", IF), ("cuba", CubaLIF), ("atlif", ATLIF)])
def test_neuron_choice(neuron, cls):
    m = build_model("digits_conv", neuron=neuron, threshold=0.8)
    ns = [mod for mod in m.modules() if isinstance(mod, SpikingNeuron)]
    assert len(ns) == 2 and all(type(n) is cls for n in ns)
    assert all(n.threshold == pytest.approx(0.8) for n in ns)
    expected_beta = {"lif": 0.5, "if": 1.0, "cuba": 0.5, "atlif": 1.0}[neuron]
    assert all(n.beta == expected_beta for n in ns)
    y = m(torch.rand(2, 3, 1, 8, 8))
    y.mean(0).sum().backward()   # trains end to end
    assert m.conv0.inner[0].weight.grad is not None


def test_neuron_kwargs_validation():
    with pytest.raises(ValueError, match="if"):
        build_model("mlp", neuron="if", beta=0.5)
    with pytest.raises(ValueError, match="lif"):
        build_model("mlp", neuron="relu")
    m = build_model("mlp", beta=0.25, surrogate="arctan", reset="subtract", compare="gt")
    n = m.sn0
    assert (n.beta, n.surrogate_name, n.reset, n.compare) == (0.25, "arctan", "subtract", "gt")


def test_digits_conv_is_small():
    m = build_model("digits_conv")
    assert sum(p.numel() for p in m.parameters()) < 50_000
    assert m.input_shape == (1, 8, 8)


def test_resnet_shortcut_options():
    a = build_model("resnet20", widths=(8, 16, 32, 64), blocks=(1, 1, 1))
    b = build_model("resnet20", widths=(8, 16, 32, 64), blocks=(1, 1, 1), shortcut="B")
    assert isinstance(a.layer2[0].shortcut.inner[0], ZeroPadShortcut)
    assert a.layer2[0].shortcut.inner[0].stride == 2
    assert isinstance(b.layer2[0].shortcut.inner[0], nn.Conv2d)
    assert build_model("resnet19").layer2[0].shortcut.inner[0].kernel_size == (1, 1)
    with pytest.raises(ValueError):
        build_model("resnet20", shortcut="C")
    x = torch.rand(2, 2, 3, 32, 32)
    assert a(x).shape == b(x).shape == (2, 2, 10)


def test_resnet_residual_add_before_neuron():
    """Block output = sn2(main + shortcut): with the main path's BN zeroed, the
    block's second neuron sees exactly the shortcut (zero-padded input spikes)."""
    m = build_model("resnet20", widths=(4, 8, 8, 8), blocks=(1, 1, 1), neuron="if")
    blk = m.layer1[0]
    blk.eval()
    bn2 = blk.conv2.inner[1]
    nn.init.zeros_(bn2.weight)
    nn.init.zeros_(bn2.bias)
    blk.sn2.record = True
    x = (torch.rand(3, 2, 4, 6, 6) > 0.5).float()
    blk(x)
    # option A, 4 -> 8 channels, stride 1: input channels land at 2..5, zeros elsewhere
    expected = torch.nn.functional.pad(x, (0, 0, 0, 0, 2, 2))
    # IF with θ = 1 and 0/1 input: every 1 fires and resets to 0, so v[t] = input[t]
    torch.testing.assert_close(blk.sn2.last_v, expected)
