"""Peer-written NIR files: NIR records no reset mode. A foreign file's spiking neurons are read as reset to zero
with a warning naming them, or as told (``--nir-reset zero|subtract``); checked on files written by snnTorch's own
``export_to_nir`` against snnTorch's own forward (snnTorch must be installed: these tests fail, never skip)."""
from __future__ import annotations

import warnings

import pytest
import torch

import snn2hw
from snn2hw.frontends.nir_import import NIRResetWarning
from snn2hw.simulators.reference import simulate

T, B = 12, 8


def _net(mech, beta):
    import snntorch as snn

    def lif(n, th, out=False):  # full-shape parameters: snnTorch 1.0.0 cannot export scalar ones
        return snn.Leaky(beta=torch.full((n,), beta), threshold=torch.full((n,), th), init_hidden=True,
                         reset_mechanism=mech, output=out)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(12, 16), lif(16, 1.0), torch.nn.Linear(16, 5), lif(5, 0.6, out=True))
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(3.0)
                m.bias.add_(0.2)
    return net


def _snntorch_forward(net, x):
    import snntorch as snn
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron):
            m.reset_hidden()
    with torch.no_grad():
        return torch.stack([net(x[t].float())[0] for t in range(x.shape[0])]).double()


@pytest.fixture(scope="module")
def snntorch_files(tmp_path_factory):
    """``{(mechanism, beta): (nir path, snnTorch output spikes [T, B, 5], x)}``."""
    import nir
    from snntorch.export_nir import export_to_nir
    root = tmp_path_factory.mktemp("snntorch_reset")
    x = (torch.rand((T, B, 12), generator=torch.Generator().manual_seed(1)) < 0.4).double()
    out = {}
    for mech, beta in (("zero", 0.8), ("subtract", 1.0), ("subtract", 0.8)):
        net = _net(mech, beta)
        p = root / f"{mech}_{beta}.nir"
        nir.write(p, export_to_nir(net, torch.zeros(1, 12), ignore_dims=[0]))
        out[mech, beta] = (p, _snntorch_forward(net, x), x)
    return out


def _ours(g, x):
    return simulate(g, x, record=["spikes"]).record["spikes"]["3"].reshape(T, B, -1)


def test_foreign_reset_warns_naming_nodes(snntorch_files):
    p, theirs, x = snntorch_files["subtract", 1.0]
    with pytest.warns(NIRResetWarning, match=r"does not record how a neuron resets.*assumes reset to zero "
                                             r"for '1' \(LIF\), '3' \(LIF\).*--nir-reset"):
        g = snn2hw.load(p)
    assert {g.nodes[n].reset for n in ("1", "3")} == {"zero"}
    assert theirs.sum() > 50 and not torch.equal(_ours(g, x), theirs)  # the silent mistake the warning is about


@pytest.mark.parametrize("mech,beta", [("zero", 0.8), ("subtract", 1.0)])
def test_right_choice_is_exact(snntorch_files, mech, beta):
    p, theirs, x = snntorch_files[mech, beta]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # told: no warning
        g = snn2hw.load(p, nir_reset=mech)
    assert theirs.sum() > 50
    assert torch.equal(_ours(g, x), theirs)


def test_leaky_subtract_is_approximate_and_says_so(snntorch_files):
    p, theirs, x = snntorch_files["subtract", 0.8]
    with pytest.warns(NIRResetWarning, match=r"leaky neurons \['1', '3'\].*before the decay.*not exact"):
        g = snn2hw.load(p, nir_reset="subtract")
    assert g.nodes["1"].reset == "subtract"
    agree = float((_ours(g, x) == theirs).double().mean())
    assert 0.5 < agree < 1.0


def test_own_files_need_no_choice(tmp_path):
    from snn2hw.exporters.nir import export_nir
    g = snn2hw.load("examples/digits_lif.pt")
    p = tmp_path / "own.nir"
    export_nir(g, p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g2 = snn2hw.load(p, nir_reset="subtract")  # snn2hw's files record the reset: the option does not apply
    assert all(n.reset == "zero" for n in g2.nodes.values() if hasattr(n, "reset"))


def test_cli_nir_reset(snntorch_files, tmp_path):
    from click.testing import CliRunner
    from snn2hw.cli import cli
    p, _, _ = snntorch_files["subtract", 1.0]
    r = CliRunner().invoke(cli, ["inspect", str(p)])
    assert r.exit_code == 0 and "assumes reset to zero for '1' (LIF)" in r.output, r.output
    r = CliRunner().invoke(cli, ["inspect", str(p), "--nir-reset", "subtract"])
    assert r.exit_code == 0 and "assumes reset" not in r.output, r.output
    r = CliRunner().invoke(cli, ["map", str(p), "--nir-reset", "subtract", "--input-step", "1"])
    assert r.exit_code != 0 and "resets by 'subtract'" in r.output + str(r.exception)  # a zero-reset profile refuses
