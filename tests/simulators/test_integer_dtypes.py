"""No silent float in the integer paths: int64 state, integer-only parameters, refusals instead of fallbacks."""
import h5py
import numpy as np
import onnx
import pytest
import torch

from snn2hw.errors import FileFormatError, PassError
from snn2hw.hw_profiles import load_profile
from snn2hw.ir import Dense, Graph, Input, Neuron, Output
from snn2hw.ir import nodes as N
from snn2hw.ir.checks import format_problems
from snn2hw.ir.io import load_graph, save_graph
from snn2hw.passes import convert
from snn2hw.simulators import fixed_point as fp
from snn2hw.simulators.event import sequential_placement, simulate_events
from snn2hw.simulators.reference import simulate

from tests.helpers.random_graphs import random_graph, random_input


@pytest.fixture(scope="module")
def graphs():
    rng = np.random.default_rng(11)
    return [convert(random_graph(rng, k, resets=("zero",), step=1 / 16), profile="loihi").graph
            for k in ("mlp", "conv", "residual")]


def test_integer_graph_parameters_are_int64(graphs):
    for g in graphs:
        for name, n in g.nodes.items():
            if isinstance(n, N.SYNAPSES):
                assert n.weight_int.dtype == np.int64 and isinstance(n.weight_exp, int), name
            if isinstance(n, N.Neuron):
                assert n.vth.dtype == np.int64 and n.bias_mant.dtype == np.int64, name
                assert all(isinstance(getattr(n, k), int) for k in ("du", "dv", "bias_exp")), name


def test_simulator_state_is_int64_throughout(graphs):
    rng = np.random.default_rng(0)
    for g in graphs:
        x = torch.as_tensor(random_input(rng, g, timesteps=3, batch=2, hi=2.0))
        r = simulate(g, x, mode="int", record=("u", "v", "spikes"))
        for q in ("u", "v", "spikes"):
            for name, t in r.record[q].items():
                assert t.dtype == torch.int64, (q, name, t.dtype)
        for site in r.wraps.values():
            assert all(isinstance(c, int) for kind in site.values() for c in kind.values())
        ev = simulate_events(g, x, placement=sequential_placement(g), profile="loihi", record_spikes=True)
        assert all(s.dtype == torch.int64 for s in ev.spikes.values())


def test_cuba_step_refuses_float_state():
    i = torch.zeros(2, dtype=torch.int64)
    with pytest.raises(TypeError, match="u must be an int64"):
        fp.cuba_step(i.double(), i, i, 4095, 0, 0, 640)
    with pytest.raises(TypeError, match="a must be an int64"):
        fp.cuba_step(i, i, i.float(), 4095, 0, 0, 640)


def test_non_integer_parameters_are_refused_not_truncated(tmp_path):
    with pytest.raises(ValueError, match="weight_int must hold integers"):
        Dense(weight=np.ones((1, 1)), weight_int=np.array([[1.5]]))
    with pytest.raises(ValueError, match="vth must hold integers"):
        Neuron(vth=np.array([np.nan]))
    d = Dense(weight=np.ones((1, 2)), weight_int=np.array([[3.0, -2.0]]))  # integer-valued floats are fine
    assert d.weight_int.dtype == np.int64 and d.weight_int.tolist() == [[3, -2]]
    g = Graph.sequential([("in", Input(shape=(2,), step=1.0)), ("fc", d),
                          ("n", Neuron(du=4095, dv=0, vth=np.array([1]), bias_mant=np.array([0]))), ("out", Output())])
    path = save_graph(g, tmp_path / "g.s2h")
    with h5py.File(path, "a") as f:
        grp = next(f["nodes"][k] for k in f["nodes"] if f["nodes"][k].attrs["name"] == "fc")
        del grp["weight_int"]
        grp["weight_int"] = np.array([[2.7, -1.0]])
    with pytest.raises(FileFormatError, match="weight_int must hold integers"):
        load_graph(path)


def test_convert_refuses_what_the_profile_cannot_hold():
    g = Graph.sequential([("in", Input(shape=(2,), step=1 / 16, bits=16)),
                          ("fc", Dense(weight=np.array([[0.5, -0.25]]))),
                          ("n", Neuron(model="if", threshold=1.0)), ("out", Output())])
    with pytest.raises(PassError, match="16-bit inputs, the profile sends 8 bits"):
        convert(g, profile="loihi")
    g.nodes["in"].bits = None
    gi = convert(g, profile="loihi").graph
    fm = load_profile("loihi").formats
    assert format_problems(gi, fm) == []
    gi.nodes["fc"].weight_int = np.array([[300, -2]], dtype=np.int64)
    gi.nodes["n"].du = 4096
    probs = format_problems(gi, fm)
    assert any("beyond signed 8-bit [-128, 127]" in p for p in probs) and any("du = 4096" in p for p in probs)


def test_integer_onnx_model_has_no_float_tensor(graphs, tmp_path):
    from snn2hw.exporters.onnx_int import export_onnx_int
    for i, g in enumerate(graphs):
        path = tmp_path / f"g{i}.onnx"
        export_onnx_int(g, path)
        m = onnx.load(str(path))
        floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16}

        def tensors(graph):
            for t in graph.initializer:
                yield t.name, t.data_type
            for node in graph.node:
                for a in node.attribute:
                    if a.type == onnx.AttributeProto.TENSOR:
                        yield node.name, a.t.data_type
                    if a.type == onnx.AttributeProto.GRAPH:
                        yield from tensors(a.g)
                    if node.op_type == "Cast" and a.name == "to":
                        yield node.name, a.i
        bad = [(n, t) for n, t in tensors(m.graph) if t in floats]
        assert not bad, bad
        assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT32  # the only int32: x_int
        assert m.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
