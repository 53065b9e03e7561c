"""NeuroBench 2.3.0 as an oracle: what NeuroBench itself computes for a checkpoint.

Shared by ``tests/oracles/test_neurobench.py`` and ``benchmarks/cost_agreement.py``. NeuroBench runs on
the torch model rebuilt from the checkpoint (snn2hw's neuron class added as an activation module, the
digits test samples direct-encoded as snn2hw does, the report's batches) and on a replay of the integer
model (each synapse an nn.Linear/Conv2d holding ``weight_int``, called once per timestep and batch with
the integer values the chip receives). Never imported by the package.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import nn

from snn2hw.data import direct, load_dataset
from snn2hw.frontends.checkpoint import load_checkpoint
from snn2hw.frontends.load import load
from snn2hw.hw_profiles import load_profile
from snn2hw.ir import nodes as N
from snn2hw.nn.neurons import SpikingNeuron
from snn2hw.passes.pipeline import convert
from snn2hw.simulators.reference import _linear, simulate

REPO = Path(__file__).resolve().parents[2]
SAMPLES, BATCH, T, PROFILE = 100, 50, 4, "loihi"
INSTALL = ("NeuroBench 2.3.0 is the test oracle of the report's NeuroBench metrics and is not installed: "
           "run `make venv` or `.venv/bin/pip install -c constraints.txt -e '.[dev]'` "
           "(or `.venv/bin/pip install -c constraints.txt neurobench==2.3.0`)")


def load_neurobench() -> dict:
    """NeuroBench's classes; raises ImportError (with the install hint) when it is missing or not 2.3.0."""
    try:
        import neurobench as nbm
        from neurobench.benchmarks import Benchmark
        from neurobench.metrics import static, workload
        from neurobench.models import TorchModel
        from neurobench.models.neurobench_model import NeuroBenchModel
    except ImportError as e:
        raise ImportError(f"{INSTALL} ({e})") from e
    from importlib.metadata import version
    if version("neurobench") != "2.3.0":
        raise ImportError(f"neurobench {version('neurobench')} is installed; the oracle is pinned to 2.3.0. {INSTALL}")
    return dict(module=nbm, Benchmark=Benchmark, static=static, workload=workload, TorchModel=TorchModel,
                NeuroBenchModel=NeuroBenchModel)


def _loader(data):
    from torch.utils.data import DataLoader, TensorDataset
    return DataLoader(TensorDataset(torch.as_tensor(data.x_test[:SAMPLES]), torch.as_tensor(data.y_test[:SAMPLES])),
                      batch_size=BATCH, shuffle=False)


def _run(nb, model, metrics, preprocessors=()) -> dict:
    bench = nb["Benchmark"](model, _loader(load_dataset("digits")), list(preprocessors), [], metrics)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        res = bench.run(quiet=False)  # not quiet: NeuroBench prints (and swallows) a failing metric's error
    if "Error running" in buf.getvalue():
        raise RuntimeError(f"NeuroBench failed a metric:\n{buf.getvalue()}")
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


def neurobench_figures(nb, ckpt) -> dict:
    """NeuroBench's own figures for a checkpoint, under the report's field names."""
    st, wl = nb["static"], nb["workload"]
    torch_model = nb["TorchModel"](load_checkpoint(ckpt).model)
    torch_model.add_activation_module(SpikingNeuron)
    f = _run(nb, torch_model, [[st.Footprint, st.ConnectionSparsity, st.ParameterCount],
                               [wl.ActivationSparsity, wl.SynapticOperations]],
             preprocessors=[lambda d: (direct(d[0], T), d[1])])
    gi = convert(load(ckpt), profile=load_profile(PROFILE)).graph
    i = _run(nb, _integer_replay(nb, gi), [[], [wl.SynapticOperations]])
    return {"footprint_bytes": f["Footprint"], "parameter_count": f["ParameterCount"],
            "connection_sparsity": f["ConnectionSparsity"], "activation_sparsity": f["ActivationSparsity"],
            "float_effective_acs_per_sample": f["SynapticOperations"]["Effective_ACs"],
            "float_effective_macs_per_sample": f["SynapticOperations"]["Effective_MACs"],
            "float_dense_sops_per_sample": f["SynapticOperations"]["Dense"],
            "effective_acs_per_sample": i["SynapticOperations"]["Effective_ACs"],
            "effective_macs_per_sample": i["SynapticOperations"]["Effective_MACs"],
            "dense_sops_per_sample": i["SynapticOperations"]["Dense"]}
