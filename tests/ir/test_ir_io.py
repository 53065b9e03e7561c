"""The .s2h file: lossless round trips, refusal of newer/foreign files, atomic saves."""
import math
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snn2hw.errors import FileFormatError, GraphError
from snn2hw.ir import FORMAT_VERSION, Dense, Graph, Input, Neuron, Output, load_graph, save_graph
from snn2hw.ir import io as ir_io
from snn2hw.passes import convert
from snn2hw.simulators.reference import simulate

from tests.helpers.random_graphs import random_graph, random_input


def assert_same_value(a, b, where):
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), (where, type(b))
        assert a.dtype == b.dtype and a.shape == b.shape, (where, a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert type(a) is type(b) and a == b, (where, a, b)


def assert_same_graph(g, h):
    assert list(g.nodes) == list(h.nodes)
    assert g.edges == h.edges
    assert g.metadata == h.metadata
    for name, node in g.nodes.items():
        other = h.nodes[name]
        assert type(node) is type(other), name
        p, q = node.params(), other.params()
        assert p.keys() == q.keys()
        for key, val in p.items():
            assert_same_value(val, q[key], f"{name}.{key}")
        assert node.output_shape == other.output_shape, name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["mlp", "conv", "residual"]), quantized=st.booleans())
def test_round_trip_keeps_params_and_behaviour(seed, kind, quantized):
    rng = np.random.default_rng(seed)
    g = random_graph(rng, kind, resets=("zero",) if quantized else ("zero", "subtract"), step=1 / 16)
    g.nodes[g.outputs[0]].metadata["note"] = {"k": [1, 2], "s": "x"}
    if quantized:
        g = convert(g, "loihi").graph
    x = torch.as_tensor(random_input(rng, g, timesteps=6, batch=2))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "g.s2h"
        assert save_graph(g, path) == path
        h = load_graph(path)
        assert os.listdir(d) == ["g.s2h"]  # no temporary file left beside it
    assert_same_graph(g, h)
    modes = ["float", "int"] if quantized else ["float"]
    for mode in modes:
        a = simulate(g, x, mode=mode, record=["spikes", "v"])
        b = simulate(h, x, mode=mode, record=["spikes", "v"])
        assert torch.equal(a.output, b.output)
        for q in a.record:
            for name, t in a.record[q].items():
                assert torch.equal(t, b.record[q][name]), (mode, q, name)


def test_special_values_round_trip(tmp_path):
    """Infinite readout threshold, per-channel thresholds, bool masks, int64 integer fields, None fields."""
    g = Graph.sequential([
        ("in", Input(shape=(3,), step=0.25, bits=6, signed=True)),
        ("fc", Dense(weight=[[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]], mask=[[1, 0, 1], [1, 1, 0]],
                     channel_scale=[-1.5, 2.0], weight_int=[[4, -8, 2], [0, 4, 4]], weight_exp=-2)),
        ("n", Neuron(model="cuba", beta=0.5, alpha=0.25, threshold=[0.5, 2.0], vth=[3, 7], bias_mant=[-1, 2],
                     du=3071, dv=2048, bias_exp=5, int_compare="ge")),
        ("fc2", Dense(weight=np.eye(2), bias=None)),
        ("ro", Neuron(model="if", readout=True, threshold=float("inf"))),
        ("out", Output()),
    ], metadata={"source": "test", "nested": {"a": [1.5, "b"]}})
    assert g.validate() == []
    save_graph(g, tmp_path / "s.s2h")
    h = load_graph(tmp_path / "s.s2h")
    assert_same_graph(g, h)
    assert h.nodes["ro"].threshold == float("inf")
    assert h.nodes["fc"].mask.dtype == bool and h.nodes["n"].vth.dtype == np.int64
    assert h.nodes["fc2"].bias is None and h.nodes["n"].input_shape == (2,)


def _saved(tmp_path) -> Path:
    g = random_graph(np.random.default_rng(3), "mlp")
    return save_graph(g, tmp_path / "m.s2h")


def test_newer_format_version_is_refused_with_upgrade_hint(tmp_path):
    path = _saved(tmp_path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(FileFormatError) as ei:
        load_graph(path)
    msg = str(ei.value)
    assert "Upgrade" in msg and str(path) in msg and str(FORMAT_VERSION + 1) in msg


def test_non_hdf5_file_is_refused_with_the_path(tmp_path):
    path = tmp_path / "notes.s2h"
    path.write_text("this is not an HDF5 file\n")
    with pytest.raises(FileFormatError) as ei:
        load_graph(path)
    assert str(path) in str(ei.value)


def test_hdf5_without_format_attribute_is_refused_with_the_path(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("weights", data=np.ones(3))
    with pytest.raises(FileFormatError) as ei:
        load_graph(path)
    assert str(path) in str(ei.value) and "not a snn2hw graph" in str(ei.value)


def test_missing_file_and_corrupt_contents(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        load_graph(tmp_path / "absent.s2h")
    path = _saved(tmp_path)
    with h5py.File(path, "r+") as f:
        f["nodes"]["1"].attrs["type"] = "Teleporter"
    with pytest.raises(FileFormatError, match="unknown node type 'Teleporter'"):
        load_graph(path)


def test_invalid_graph_in_file_is_reported_with_the_path(tmp_path):
    g = random_graph(np.random.default_rng(4), "mlp", bn=False)
    fc = next(n for n, node in g.nodes.items() if isinstance(node, Dense))
    g.nodes[fc].weight[0, 0] = np.nan
    path = save_graph(g, tmp_path / "nan.s2h")
    with pytest.raises(GraphError) as ei:
        load_graph(path)
    assert str(path) in str(ei.value) and any("NaN" in p for p in ei.value.problems)
    assert np.isnan(load_graph(path, validate=False).nodes[fc].weight[0, 0])


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    g = random_graph(np.random.default_rng(5), "conv")

    def boom(self):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Neuron, "params", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_graph(g, tmp_path / "new.s2h")
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    old = random_graph(np.random.default_rng(6), "mlp")
    path = save_graph(old, tmp_path / "model.s2h")
    before = path.read_bytes()
    new = random_graph(np.random.default_rng(7), "conv")

    def boom(*a, **k):
        raise OSError("quota exceeded")

    monkeypatch.setattr(ir_io.h5py.Group, "create_dataset", boom)
    with pytest.raises(OSError, match="quota exceeded"):
        save_graph(new, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.s2h"]
    assert path.read_bytes() == before
    assert_same_graph(old, load_graph(path))
