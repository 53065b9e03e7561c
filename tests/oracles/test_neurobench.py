"""NeuroBench 2.3.0 as a test oracle: the report's NeuroBench-named figures are NeuroBench's own.

``snn2hw simulate`` writes a ``neurobench`` block per profile. Here NeuroBench itself (its
``Benchmark`` and metric classes) runs on

* the torch model rebuilt from the checkpoint (``TorchModel`` with snn2hw's neuron class added as an
  activation module, the digits test samples direct-encoded with T = 4 as snn2hw does, the same
  batches as the report): ``footprint_bytes``, ``parameter_count``, ``connection_sparsity``,
  ``activation_sparsity`` and the ``float_*`` synaptic operations must equal its Footprint,
  ParameterCount, ConnectionSparsity, ActivationSparsity and SynapticOperations;
* a replay of the integer model (each synapse an nn.Linear/Conv2d holding ``weight_int``, called once
  per timestep and batch with the integer values the chip receives, computed by snn2hw's reference
  simulator): ``effective_acs_per_sample`` / ``effective_macs_per_sample`` / ``dense_sops_per_sample``
  must equal its SynapticOperations.

Equal means equal after the report's JSON rounding (12 significant digits, ``report/build.py``).
Models: the shipped ``examples/digits_lif.pt`` and a small ``digits_conv`` trained one epoch, with a
pruning mask (so that connection sparsity, masks and non-persistent buffers are exercised).
NeuroBench is a dev dependency only: without it these tests FAIL, they are not skipped.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from snn2hw.data import direct, load_dataset
from snn2hw.frontends.checkpoint import load_checkpoint, save_checkpoint
from snn2hw.frontends.load import load
from snn2hw.hw_profiles import load_profile
from snn2hw.ir import nodes as N
from snn2hw.nn.neurons import SpikingNeuron
from snn2hw.passes.pipeline import convert
from snn2hw.report.build import _clean
from snn2hw.simulators.reference import _linear, simulate

REPO = Path(__file__).resolve().parents[2]
SAMPLES, BATCH, T, PROFILE = 100, 50, 4, "loihi"
INSTALL = ("NeuroBench 2.3.0 is the test oracle of the report's NeuroBench metrics and is not installed: "
           "run `make venv` or `.venv/bin/pip install -c constraints.txt -e '.[dev]'` "
           "(or `.venv/bin/pip install -c constraints.txt neurobench==2.3.0`)")


@pytest.fixture(scope="session")
def neurobench():
    try:
        import neurobench as nbm
        from neurobench.benchmarks import Benchmark
        from neurobench.metrics import static, workload
        from neurobench.models import TorchModel
        from neurobench.models.neurobench_model import NeuroBenchModel
    except ImportError as e:
        pytest.fail(f"{INSTALL} ({e})", pytrace=False)
    from importlib.metadata import version
    if version("neurobench") != "2.3.0":
        pytest.fail(f"neurobench {version('neurobench')} is installed; the oracle is pinned to 2.3.0. {INSTALL}",
                    pytrace=False)
    return dict(module=nbm, Benchmark=Benchmark, static=static, workload=workload, TorchModel=TorchModel,
                NeuroBenchModel=NeuroBenchModel)


@pytest.fixture(scope="module")
def trained_conv(tmp_path_factory):
    """digits_conv (8, 16 channels) trained 1 epoch, 60% of conv1's weights masked off (smallest |w|)."""
    from snn2hw.compress.masks import add_masks, set_mask
    from snn2hw.models import build_model
    from snn2hw.train import train
    data = load_dataset("digits")
    torch.manual_seed(0)
    m = build_model("digits_conv", widths=(8, 16))
    train(m, data, epochs=1, T=T, lr=1e-2, batch_size=64, seed=0, progress=False)
    conv1 = m.conv1.inner[0]
    add_masks(m, ["conv1.inner.0"])
    w = conv1.weight.detach().abs()
    set_mask(conv1, w > w.flatten().kthvalue(int(0.6 * w.numel())).values)
    return save_checkpoint(tmp_path_factory.mktemp("nb") / "conv1ep.pt", m, input_step=data.input_step,
                           timesteps=T, encoding="direct", dataset="digits")


def _loader(data):
    from torch.utils.data import DataLoader, TensorDataset
    return DataLoader(TensorDataset(torch.as_tensor(data.x_test[:SAMPLES]), torch.as_tensor(data.y_test[:SAMPLES])),
                      batch_size=BATCH, shuffle=False)


def _report(ckpt, tmp_path) -> dict:
    from snn2hw.cli import cli
    out = tmp_path / "rep"
    cli.main(args=["simulate", str(ckpt), "--profile", PROFILE, "--data", "digits", "--samples", str(SAMPLES),
                   "--batch-size", str(BATCH), "--out", str(out)], prog_name="snn2hw", standalone_mode=False)
    rep = json.loads((out / "report.json").read_text())
    assert rep["inputs"]["timesteps"] == T and rep["inputs"]["samples"] == SAMPLES
    return rep["runs"][0]["neurobench"]


def _run(nb, model, metrics, capsys, preprocessors=()) -> dict:
    bench = nb["Benchmark"](model, _loader(load_dataset("digits")), list(preprocessors), [], metrics)
    capsys.readouterr()
    res = bench.run(quiet=False)  # not quiet: NeuroBench prints (and swallows) a failing metric's error
    printed = capsys.readouterr().out
    assert "Error running" not in printed, printed
    return res


def _integer_replay(nb, gi):
    """A NeuroBenchModel whose layers receive, at every timestep, the integer values of the chip."""
    class IntegerReplay(nb["NeuroBenchModel"]):
        def __init__(self):
            super().__init__()
            self.order = gi.topological_order()
            layers = {}
            for name in self.order:
                node = gi.nodes[name]
                if isinstance(node, N.SYNAPSES) and not node.metadata.get("identity", False):
                    w = torch.as_tensor(node.weight_int, dtype=torch.float32)
                    if isinstance(node, N.Dense):
                        layer = nn.Linear(w.shape[1], w.shape[0], bias=False)
                    else:
                        layer = nn.Conv2d(w.shape[1] * node.groups, w.shape[0], tuple(w.shape[2:]), node.stride,
                                          node.padding, node.dilation, node.groups, bias=False)
                    layer.weight.data = w
                    layers[name] = layer
            self.layers = layers
            self.net = nn.ModuleList(layers.values())

        def __net__(self):
            return self.net

        def __call__(self, x):
            X = direct(x.double(), T)
            res = simulate(gi, X, mode="int", record=["spikes"])
            for t in range(T):
                vals = {}
                for name in self.order:
                    node, preds = gi.nodes[name], gi.predecessors(name)
                    if isinstance(node, N.Input):
                        lo, hi = node.int_range()
                        vals[name] = torch.clamp(torch.round(X[t] / node.step), lo, hi)
                    elif isinstance(node, N.Neuron):
                        vals[name] = res.record["spikes"][name][t].double()
                    elif isinstance(node, N.SYNAPSES):
                        if name in self.layers:
                            self.layers[name](vals[preds[0]].float())
                    elif not isinstance(node, N.Output):
                        vals[name] = _linear(node, [vals[p] for p in preds], None, None)  # sum pool, flatten, add
            return res.output
    return IntegerReplay()


def _check(nb, ckpt, tmp_path, capsys) -> dict:
    got = _report(ckpt, tmp_path)
    st, wl = nb["static"], nb["workload"]
    torch_model = nb["TorchModel"](load_checkpoint(ckpt).model)
    torch_model.add_activation_module(SpikingNeuron)
    f = _run(nb, torch_model, [[st.Footprint, st.ConnectionSparsity, st.ParameterCount],
                               [wl.ActivationSparsity, wl.SynapticOperations]], capsys,
             preprocessors=[lambda d: (direct(d[0], T), d[1])])
    gi = convert(load(ckpt), profile=load_profile(PROFILE)).graph
    i = _run(nb, _integer_replay(nb, gi), [[], [wl.SynapticOperations]], capsys)
    want = {"footprint_bytes": f["Footprint"], "parameter_count": f["ParameterCount"],
            "connection_sparsity": f["ConnectionSparsity"], "activation_sparsity": f["ActivationSparsity"],
            "float_effective_acs_per_sample": f["SynapticOperations"]["Effective_ACs"],
            "float_effective_macs_per_sample": f["SynapticOperations"]["Effective_MACs"],
            "float_dense_sops_per_sample": f["SynapticOperations"]["Dense"],
            "effective_acs_per_sample": i["SynapticOperations"]["Effective_ACs"],
            "effective_macs_per_sample": i["SynapticOperations"]["Effective_MACs"],
            "dense_sops_per_sample": i["SynapticOperations"]["Dense"]}
    assert {k: got[k] for k in want} == _clean(want)
    assert got["dense_sops_per_sample"] == got["float_dense_sops_per_sample"]  # dense depends on shapes only
    return got


def test_shipped_digits_lif_matches_neurobench(neurobench, tmp_path, capsys):
    got = _check(neurobench, REPO / "examples" / "digits_lif.pt", tmp_path, capsys)
    # the integer graph's own figures differ from the torch model's and keep their own names
    assert got["int_connection_sparsity"] > got["connection_sparsity"] == 0.0  # quantization zeros
    assert got["int_footprint_bytes"] < got["footprint_bytes"]


def test_trained_pruned_digits_conv_matches_neurobench(neurobench, trained_conv, tmp_path, capsys):
    got = _check(neurobench, trained_conv, tmp_path, capsys)
    assert got["connection_sparsity"] > 0.3  # the mask is seen by both


def test_package_does_not_import_neurobench():
    """NeuroBench is a dev/test oracle: no module of the installed package imports it."""
    pat = re.compile(r"^\s*(import|from)\s+neurobench\b", re.M)
    offenders = [str(p.relative_to(REPO)) for d in ("snn2hw", "simulators", "exporters", "hw_profiles")
                 for p in (REPO / d).rglob("*.py") if pat.search(p.read_text())]
    assert not offenders
