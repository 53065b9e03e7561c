"""Direct ingest of snnTorch and SpikingJelly modules (issue 14, points 1, 2 and 5): the float simulation of
the ingested graph equals the peer's own forward. The peers are dev dependencies: a missing peer fails here
(ImportError), it is never skipped."""
from __future__ import annotations

import textwrap

import pytest
import snntorch as snn
import torch
from click.testing import CliRunner
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from snn2hw.cli import cli
from snn2hw.errors import Snn2hwError, UnsupportedModuleError
from snn2hw.frontends.load import load
from snn2hw.frontends.torch_fx import from_module
from snn2hw.simulators.reference import simulate

TUTORIAL_NET = textwrap.dedent('''
    import torch
    from torch import nn
    import snntorch as snn

    num_steps = 5


    class Net(nn.Module):
        """snnTorch tutorial style: the time loop inside forward, the same x every step."""

        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(64, 16)
            self.lif1 = snn.Leaky(beta=0.9, reset_mechanism="zero")
            self.fc2 = nn.Linear(16, 10)
            self.lif2 = snn.Leaky(beta=0.8, reset_mechanism="zero")

        def forward(self, x):
            mem1 = self.lif1.init_leaky()
            mem2 = self.lif2.init_leaky()
            spk2_rec, mem2_rec = [], []
            for step in range(num_steps):
                cur1 = self.fc1(x)
                spk1, mem1 = self.lif1(cur1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)
''')


def _cli(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 0, (res.output, res.exception)
    return res.output


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """``(file, state_dict path, net)``: the tutorial net with weights that make both layers fire."""
    d = tmp_path_factory.mktemp("snntorch")
    f = d / "tutorial_net.py"
    f.write_text(TUTORIAL_NET)
    ns = {}
    exec(compile(TUTORIAL_NET, str(f), "exec"), ns)
    torch.manual_seed(0)
    net = ns["Net"]()
    with torch.no_grad():
        net.fc1.weight.mul_(8.0)
        net.fc2.weight.mul_(3.0)
    torch.save(net.state_dict(), d / "sd.pt")
    return f, d / "sd.pt", net.eval()


def test_snntorch_tutorial_state_dict_cli_export_and_simulate(tutorial, tmp_path):
    f, sd, _ = tutorial
    out = _cli("export", sd, "--model", f"{f}:Net", "--input-shape", "64", "--format", "onnx", "--data", "digits",
               "--max-accuracy-drop", "100", "--out", tmp_path / "exp")
    assert (tmp_path / "exp" / "onnx" / "model_int.onnx").is_file(), out
    _cli("simulate", sd, "--model", f"{f}:Net", "--input-shape", "64", "--input-step", "0.0625", "--samples", "4",
         "--max-accuracy-drop", "100", "--out", tmp_path / "sim")
    assert (tmp_path / "sim" / "report.json").is_file()


def test_snntorch_tutorial_float_simulation_equals_snntorch(tutorial):
    """In float32, snnTorch's own precision (its spikes are float32 whatever the input's dtype)."""
    f, sd, net = tutorial
    g = load(sd, model=f"{f}:Net", input_shape=(64,))
    assert g.metadata["timesteps"] == 5 and g.metadata["ingest"]["input"] == "x every step"
    dtype = torch.float32
    x = torch.rand(16, 64, generator=torch.Generator().manual_seed(1), dtype=dtype)
    with torch.no_grad():
        spk, mem = net(x)
    r = simulate(g, x.expand(5, *x.shape), record=["spikes", "v"], dtype=dtype)
    assert torch.equal(r.record["spikes"]["lif2"], spk)
    assert torch.equal(r.record["v"]["lif2"], mem)  # snnTorch's mem is the pre-reset membrane (reset_delay=True)
    assert 0.05 < float(r.record["spikes"]["lif1"].mean()) < 0.95 and float(spk.mean()) > 0.05


def _sj_net():
    torch.manual_seed(0)
    net = nn.Sequential(layer.Conv2d(1, 4, 3, padding=1, bias=False), layer.BatchNorm2d(4), neuron.LIFNode(tau=2.0),
                        layer.AvgPool2d(2), layer.Flatten(),
                        layer.SeqToANNContainer(nn.Linear(64, 12)), neuron.ParametricLIFNode(init_tau=3.0, v_reset=None),
                        layer.Linear(12, 10),
                        neuron.LIFNode(tau=3.0, decay_input=False, v_reset=None, store_v_seq=True))
    functional.set_step_mode(net, "m")
    with torch.no_grad():
        net[0].weight.mul_(6.0)
        net[5][0].weight.mul_(6.0)
        net[7].weight.mul_(6.0)
        net[1].running_mean.uniform_(-0.2, 0.2)
        net[1].running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_spikingjelly_multistep_net_equals_spikingjelly(dtype, tol):
    net = _sj_net()
    g = from_module(net, (1, 8, 8))
    x = torch.rand(6, 8, 1, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(dtype) * 2
    functional.reset_net(net)
    net.to(dtype)
    with torch.no_grad():
        out = net(x)
    r = simulate(g, x, record=["spikes", "v"], dtype=dtype)
    for name, idx in (("2", 2), ("6", 6), ("8", 8)):
        assert 0.02 < float(r.record["spikes"][name].mean()) < 0.98, name  # every layer fires, not saturated
    assert torch.equal(r.record["spikes"]["8"], out)
    v_post = r.record["v"]["8"] - r.record["spikes"]["8"] * 1.0  # soft reset; SpikingJelly stores post-reset v
    assert float((v_post - net[8].v_seq).abs().max()) < tol  # same algebra, operations in another order


def _per_step_forward(net, x):
    """Run a one-step-per-call model over x[t] as its users do (state kept in the modules)."""
    outs = []
    with torch.no_grad():
        for xt in x:
            o = net(xt)
            outs.append(o[0] if isinstance(o, tuple) else o)
    return torch.stack(outs)


class _SJLoop(nn.Module):
    """SpikingJelly single-step neurons with the time loop in forward, over x[t] (a time-major input)."""

    def __init__(self):
        super().__init__()
        self.fc1, self.sn1 = nn.Linear(64, 16), neuron.IFNode(v_reset=None)
        self.fc2, self.sn2 = nn.Linear(16, 10), neuron.LIFNode(tau=2.0)

    def forward(self, x):
        return torch.stack([self.sn2(self.fc2(self.sn1(self.fc1(x[t])))) for t in range(x.size(0))])


def _snn_synaptic():
    return nn.Sequential(nn.Linear(64, 16), snn.Synaptic(alpha=0.7, beta=0.8, reset_mechanism="zero", reset_delay=False,
                                                         init_hidden=True),
                         nn.Linear(16, 10), snn.Leaky(beta=1.0, init_hidden=True))  # subtract with beta = 1


@pytest.mark.parametrize("kind", ["sj_loop", "snn_synaptic"])
def test_per_step_models_equal_peer(kind):
    torch.manual_seed(0)
    net = (_SJLoop() if kind == "sj_loop" else _snn_synaptic()).eval()  # float32: snnTorch's spikes are float32
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                m.weight.mul_(5.0)
    g = from_module(net, (64,))
    x = torch.rand(6, 8, 64, generator=torch.Generator().manual_seed(3))
    if kind == "sj_loop":
        functional.reset_net(net)
        with torch.no_grad():
            ref = net(x)
        assert g.metadata["ingest"]["input"] == "x[t]" and g.metadata["timesteps"] == 3  # the traced loop count
    else:
        from snntorch import utils
        utils.reset(net)
        ref = _per_step_forward(net, x)
    r = simulate(g, x, record=["spikes"], dtype=torch.float32)
    last = [n for n in g.nodes if n not in ("output",)][-1]
    assert torch.equal(r.record["spikes"][last], ref)
    assert all(float(s.mean()) > 0.02 for s in r.record["spikes"].values())


class _Wrap(nn.Module):
    def __init__(self, sn):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.sn = sn

    def forward(self, x):
        out = self.sn(self.fc(x))
        return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("sn,cls,reason", [
    (snn.RLeaky(beta=0.9, linear_features=3), "RLeaky", "recurrent"),
    (snn.Leaky(beta=0.9), "Leaky", "after the decay"),  # snnTorch's default: subtract reset, beta < 1
    (snn.Leaky(beta=0.9, reset_mechanism="none"), "Leaky", "never reset"),
    (snn.Synaptic(alpha=0.5, beta=0.9, reset_mechanism="zero"), "Synaptic", "reset_delay=False"),
    (snn.Alpha(alpha=0.9, beta=0.8), "Alpha", "no IR equivalent"),
    (neuron.LIFNode(v_reset=-0.5), "LIFNode", "v_reset=-0.5"),
    (neuron.IzhikevichNode() if hasattr(neuron, "IzhikevichNode") else neuron.QIFNode(), "Node", "no IR equivalent"),
])
def test_unsupported_peer_modules_are_named(sn, cls, reason):
    with pytest.raises(UnsupportedModuleError) as e:
        from_module(_Wrap(sn), (4,))
    msg = str(e.value)
    assert "'sn'" in msg and cls in msg and reason in msg, msg


def test_model_option_finds_modules_in_the_current_folder(tutorial, tmp_path, monkeypatch):
    f, sd, _ = tutorial
    (tmp_path / "mynet.py").write_text(f.read_text())
    monkeypatch.chdir(tmp_path)
    out = _cli("inspect", sd, "--model", "mynet:Net", "--input-shape", "64")
    assert "lif2" in out
    res = CliRunner().invoke(cli, ["inspect", str(sd), "--model", "mynet:Net"])  # main() prints it, exit 2
    assert isinstance(res.exception, Snn2hwError) and "--input-shape" in str(res.exception), res.exception
    with pytest.raises(Snn2hwError, match="no such file"):
        load(sd, model="./missing.py:Net", input_shape=(64,))


def test_subtract_reset_on_a_zero_reset_profile_is_refused_naming_the_neuron():
    from snn2hw.errors import PassError
    from snn2hw.passes.pipeline import convert
    net = nn.Sequential(layer.Linear(4, 3), neuron.IFNode(v_reset=None))
    functional.set_step_mode(net, "m")
    g = from_module(net, (4,))
    g.nodes["input"].step = 0.25
    with pytest.raises(PassError, match=r"neuron '1' \(spikingjelly.IFNode\) resets by 'subtract'.*refused"):
        convert(g, profile="loihi")
