"""``snn2hw.models.init``: seeded untrained checkpoints whose neurons fire, in the checkpoint format every
command reads."""
import math

import pytest
import torch

from snn2hw.frontends.checkpoint import load_checkpoint
from snn2hw.frontends.load import load
from snn2hw.models import build_model
from snn2hw.models.init import InitError, calibrate, init_checkpoint, init_model, parse_input_shape
from snn2hw.nn.neurons import SpikingNeuron


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path):
    a = init_checkpoint("digits_conv", (1, 8, 8), 10, 3, tmp_path / "a.pt").path
    b = init_checkpoint("digits_conv", (1, 8, 8), 10, 3, tmp_path / "b.pt").path
    c = init_checkpoint("digits_conv", (1, 8, 8), 10, 4, tmp_path / "c.pt").path
    assert a.read_bytes() == b.read_bytes()
    sa = torch.load(a, weights_only=True)["state_dict"]
    sc = torch.load(c, weights_only=True)["state_dict"]
    assert sa.keys() == sc.keys()
    assert not torch.equal(sa["conv0.inner.0.weight"], sc["conv0.inner.0.weight"])


def test_metadata_and_loading(tmp_path):
    res = init_checkpoint("mlp", (1, 4, 4), 3, 11, tmp_path / "m.pt", arch_kwargs={"hidden": [12]})
    ck = torch.load(res.path, weights_only=True)  # the reader's own way
    assert ck["format"] == "snn2hw-checkpoint" and ck["arch"] == "mlp" and ck["num_classes"] == 3
    assert ck["input_shape"] == [16] and ck["timesteps"] == 4 and ck["encoding"] == "direct"
    assert ck["input_step"] == pytest.approx(1 / 255)
    assert ck["training"]["untrained"] is True and ck["training"]["seed"] == 11 and ck["metrics"] == {}
    loaded = load_checkpoint(res.path)
    x = torch.rand(4, 2, 16)
    assert torch.equal(loaded.model(x), res.model(x))
    g = load(res.path)
    assert g.metadata["timesteps"] == 4 and g.nodes[g.inputs[0]].step == pytest.approx(1 / 255)


def _rates(model, x):
    rates = {}

    def hook(name):
        def record(mod, inp, out):
            rates[name] = float((out != 0).float().mean())
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if isinstance(m, SpikingNeuron)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return rates


@pytest.mark.parametrize("arch, shape, kw", [("digits_conv", (1, 8, 8), {}), ("mlp", (64,), {"hidden": [64, 64, 32]}),
                                             ("6conv2fc", (3, 16, 16), {"channels": [8, 16], "fc_hidden": 32}),
                                             ("resnet19", (3, 8, 8), {"widths": [8, 8, 16, 16], "blocks": [1, 1, 1],
                                                                      "fc_hidden": 16})])
@pytest.mark.parametrize("neuron", ["lif", "if", "cuba", "atlif"])
def test_neurons_fire_on_random_inputs(arch, shape, kw, neuron):
    """The default initialization is silent; after the calibration every spiking layer fires at a moderate
    rate on fresh random inputs (another seed than the calibration's)."""
    res = init_model(arch, shape, 10, 0, neuron=neuron, arch_kwargs=kw)
    assert res.firing_rates and all(0.05 < r < 0.5 for r in res.firing_rates.values()), res.firing_rates
    from snn2hw.data.random_data import random_inputs
    x = torch.as_tensor(random_inputs(res.model.input_shape, 16, 0.5, seed=99, step=1 / 255)).unsqueeze(0).repeat(
        4, *[1] * (1 + len(res.model.input_shape)))
    rates = _rates(res.model, x)
    assert all(0.03 < r < 0.6 for r in rates.values()), rates
    torch.manual_seed(0)
    plain = build_model(arch, num_classes=10, neuron=neuron,
                        **({"in_features": 64} if arch == "mlp" else {"in_channels": shape[0], "input_size": shape[1]}),
                        **kw).eval()
    deep = list(_rates(plain, x).values())[-1]
    assert deep < 0.01  # why the calibration exists: the default init is silent in the deepest layer


def test_calibrate_normalizes_linear_feeders():
    torch.manual_seed(0)
    m = build_model("mlp", in_features=10, hidden=[7], num_classes=2)
    x = torch.rand(4, 64, 10)
    calibrate(m, x)
    with torch.no_grad():
        cur = m.fc0(x)
    assert cur.mean(dim=(0, 1)).abs().max() < 1e-4
    assert torch.allclose(cur.std(dim=(0, 1)), torch.ones(7), atol=1e-3)


#: VGG-16's depth (13 conv layers, 5 pools at 32x32) at a quarter of its widths, so that convert stays fast;
#: the full widths give the same picture (0.15-0.23 per layer after convert; snn2hw/models/init.py)
NARROW_VGG16 = [16, 16, "M", 32, 32, "M", 64, 64, 64, "M", 128, 128, 128, "M", 128, 128, 128]


def test_vgg16_fires_in_deep_layers_after_convert():
    """VGG-16 at 3x32x32: every spiking layer of the integer (Loihi) network fires, none near 1."""
    from snn2hw.simulators.reference import simulate

    from snn2hw.data import load_dataset, model_inputs
    from snn2hw.frontends.torch_fx import from_module
    from snn2hw.passes.pipeline import convert
    res = init_model("vgg16", (3, 32, 32), 10, 0, arch_kwargs={"cfg": NARROW_VGG16})
    g = from_module(res.model, res.model.input_shape)
    for n in g.inputs:
        g.nodes[n].step = res.meta["input_step"]
    gi = convert(g, "loihi").graph
    gi.infer_shapes()
    x, _, T = model_inputs(gi, load_dataset("random:seed=5"), 4, timesteps=4)
    r = simulate(gi, x, mode="int", record=["spikes"])
    rates = {k: float(v.double().mean()) / (T * math.prod(gi.nodes[k].output_shape))
             for k, v in r.layer_spikes.items()}  # layer_spikes: spikes per sample
    assert len(rates) == 13
    assert all(0.05 < v < 0.5 for v in rates.values()), rates


@pytest.mark.parametrize("kwargs, needle", [
    ({"arch": "vgg17"}, "valid: "),
    ({"classes": 0}, "classes"),
    ({"seed": -1}, "seed"),
    ({"input_shape": (3, 32, 16)}, "input shape"),
    ({"input_shape": (3, 30, 30)}, "divisible"),
    ({"input_shape": (3, 32)}, "input shape"),
    ({"timesteps": 0}, "timesteps"),
    ({"input_step": 0.0}, "input step"),
    ({"arch_kwargs": {"num_classes": 3}}, "arch_kwargs"),
    ({"arch_kwargs": {"widths": "x"}}, "cannot be built"),
    ({"neuron": "hh"}, "neuron"),
])
def test_errors_name_the_field(kwargs, needle):
    args = {"arch": "digits_conv", "input_shape": (1, 8, 8), "classes": 10, "seed": 0, **kwargs}
    if args["arch"] == "digits_conv" and args["input_shape"] == (3, 30, 30):
        args["arch"] = "vgg16"
    with pytest.raises(InitError, match=needle):
        init_model(args.pop("arch"), args.pop("input_shape"), args.pop("classes"), args.pop("seed"), **args)


def test_unknown_arch_lists_the_valid_ones():
    with pytest.raises(InitError) as e:
        init_model("vgg17", (3, 32, 32))
    assert "vgg16" in str(e.value) and "resnet19" in str(e.value) and "mlp" in str(e.value)


@pytest.mark.parametrize("text, shape", [("3,32,32", (3, 32, 32)), (" 64 ", (64,)), ("1, 8, 8", (1, 8, 8))])
def test_parse_input_shape(text, shape):
    assert parse_input_shape(text) == shape


@pytest.mark.parametrize("text", ["", "3,,32", "3,32,-1", "a,b", "0", "1,2,3,4,5", "3.5,2,2"])
def test_parse_input_shape_rejects(text):
    with pytest.raises(InitError, match="--input-shape"):
        parse_input_shape(text, name="--input-shape")


def test_failed_init_writes_nothing(tmp_path):
    out = tmp_path / "x.pt"
    with pytest.raises(InitError):
        init_checkpoint("vgg16", (3, 30, 30), 10, 0, out)
    assert list(tmp_path.iterdir()) == []
