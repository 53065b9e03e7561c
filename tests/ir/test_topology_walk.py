"""The one graph walk (:func:`snn2hw.ir.topology.walk`) and the helpers built on it, on a hand-built graph.

The residual graph (shapes in brackets)::

    in[2,8,8] -> c1 -> bn1 -> n1[4,8,8] -> p1 (sum pool) -> c2 -> bn2 -> add -> n2 -> ap (avg pool) -> fl
                              n1 -> c3 (1x1, stride 2) ----------------> add         fl -> fc -> ro -> out
                                    p1 (identity shortcut, no synapse) -> add
"""
import numpy as np
import pytest

from snn2hw.exporters.lava import _glue_chain, _input_synapses
from snn2hw.ir import Add, AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, Graph, Input, Neuron, Output, SumPool2d
from snn2hw.ir.topology import (ANY, End, chain_down, chain_up, population_of, source_of, synapse_paths,
                                synapses_from, synapses_into, walk)
from snn2hw.simulators.mapping import MappingError, layer_needs


def _bn(c):
    return BatchNorm(gamma=np.ones(c), beta=np.zeros(c), mean=np.zeros(c), var=np.ones(c))


def residual() -> Graph:
    g = Graph()
    g.add("in", Input(shape=(2, 8, 8)))
    g.add("c1", Conv2d(weight=np.ones((4, 2, 3, 3)), padding=(1, 1)), ["in"])
    g.add("bn1", _bn(4), ["c1"])
    g.add("n1", Neuron(threshold=1.0), ["bn1"])
    g.add("p1", SumPool2d(kernel_size=(2, 2)), ["n1"])
    g.add("c2", Conv2d(weight=np.ones((4, 4, 3, 3)), padding=(1, 1)), ["p1"])
    g.add("bn2", _bn(4), ["c2"])
    g.add("c3", Conv2d(weight=np.ones((4, 4, 1, 1)), stride=(2, 2)), ["n1"])
    g.add("add", Add(), ["bn2", "c3", "p1"])
    g.add("n2", Neuron(threshold=1.0), ["add"])
    g.add("ap", AvgPool2d(kernel_size=(2, 2)), ["n2"])
    g.add("fl", Flatten(), ["ap"])
    g.add("fc", Dense(weight=np.ones((3, 16))), ["fl"])
    g.add("ro", Neuron(model="if", readout=True, threshold=float("inf")), ["fc"])
    g.add("out", Output(), ["ro"])
    assert g.validate() == []
    return g


def test_walk_up_follows_every_input_depth_first():
    g = residual()
    # last input first: p1 (through to n1), then c3, then bn2 (through to c2); each node once
    assert walk(g, "n2", "up", through=ANY, stop_at=(Dense, Conv2d, Input, Neuron)) == [
        End("n1", ("add", "p1"), "stop"), End("c3", ("add",), "stop"), End("c2", ("add", "bn2"), "stop")]
    assert walk(g, "n2", "up") == [  # through glue to a population: synapses end their branch as "other"
        End("n1", ("add", "p1"), "stop"), End("c3", ("add",), "other"), End("c2", ("add", "bn2"), "other")]
    assert walk(g, "n2", "up", through=(Add,), stop_at=(Dense, Conv2d)) == [
        End("p1", ("add",), "other"), End("c3", ("add",), "stop"), End("bn2", ("add",), "other")]
    assert walk(g, "in", "up") == []


def test_walk_down_follows_every_output():
    g = residual()
    assert walk(g, "n1", "down", through=(SumPool2d, AvgPool2d, Flatten), stop_at=(Dense, Conv2d)) == [
        End("c3", (), "stop"), End("add", ("p1",), "other"), End("c2", ("p1",), "stop")]
    assert walk(g, "n1", "down", through=ANY, stop_at=(Neuron,)) == [End("n2", ("c3", "add"), "stop")]
    assert walk(g, "c2", "down", stop_at="n2") == [End("n2", ("bn2", "add"), "stop")]
    assert walk(g, "out", "down") == []


def test_walk_as_a_chain_ends_at_forks():
    g = residual()
    assert walk(g, "fc", "up", fork="end") == [End("n2", ("fl", "ap"), "stop")]
    assert walk(g, "c1", "down", fork="end") == [End("n1", ("bn1",), "stop")]
    assert walk(g, "c2", "down", through=(BatchNorm,), stop_at=(Neuron,), fork="end") == [
        End("add", ("bn2",), "other")]
    assert walk(g, "n2", "up", fork="end") == [End("add", (), "fork")]        # three inputs
    assert walk(g, "c2", "up", through=ANY, stop_at="in", fork="end") == [   # a stop by name
        End("in", ("p1", "n1", "bn1", "c1"), "stop")]
    assert walk(g, "n1", "down", fork="end") == [End("n1", (), "fork")]        # two outputs
    assert walk(g, "in", "up", fork="end") == [End("in", (), "fork")]          # no input


def test_walk_rejects_unknown_direction_and_fork_rule():
    g = residual()
    with pytest.raises(ValueError, match="direction"):
        walk(g, "n2", "sideways")
    with pytest.raises(ValueError, match="fork"):
        walk(g, "n2", fork="first")


def test_helpers_on_the_residual_graph():
    g = residual()
    assert synapses_into(g, "n2") == (["c2", "c3"], ["n1"])
    assert synapses_into(g, "n1") == (["c1"], [])
    assert synapses_into(g, "ro") == (["fc"], [])
    assert synapses_from(g, "n1") == (["c2", "c3"], ["add"])
    assert synapses_from(g, "n2") == (["fc"], [])
    assert synapses_from(g, "ro") == ([], ["out"])
    assert [source_of(g, s) for s in ("c1", "c2", "c3", "fc")] == ["in", "n1", "n1", "n2"]
    assert [population_of(g, s) for s in ("c1", "c2", "c3", "fc")] == ["n1", "n2", "n2", "ro"]
    assert [chain_up(g, s) for s in ("c1", "c2", "c3", "fc")] == [[], ["p1"], [], ["ap", "fl"]]
    assert chain_down(g, "c1", "n1") == ["bn1"]
    assert chain_down(g, "c2", "n2") == ["bn2", "add"]
    assert chain_down(g, "fc", "ro") == []
    assert synapse_paths(g, "c2") == {"source": "n1", "target": "n2", "chain_up": ["p1"],
                                      "chain_down": ["bn2", "add"]}
    assert synapse_paths(g, "fc") == {"source": "n2", "target": "ro", "chain_up": ["ap", "fl"],
                                      "chain_down": []}


def ambiguous() -> Graph:
    """A synapse after an Add of two synapses (no single source), driving two neurons (no single target)."""
    g = Graph()
    g.add("in", Input(shape=(4,)))
    g.add("d1", Dense(weight=np.ones((3, 4))), ["in"])
    g.add("d2", Dense(weight=np.ones((3, 4))), ["in"])
    g.add("add", Add(), ["d1", "d2"])
    g.add("fc", Dense(weight=np.ones((2, 3))), ["add"])
    g.add("na", Neuron(threshold=1.0), ["fc"])
    g.add("nb", Neuron(threshold=1.0), ["fc"])
    return g


def test_ambiguous_cases_are_reported_as_callers_expect():
    g = ambiguous()
    assert source_of(g, "fc") is None and population_of(g, "fc") is None
    with pytest.raises(ValueError, match="node 'add' has 2 inputs"):
        chain_up(g, "fc")
    with pytest.raises(ValueError, match="node 'fc' has 2 outputs"):
        chain_down(g, "fc", "na")
    with pytest.raises(ValueError):
        synapse_paths(g, "fc")
    # a synapse with no input at all: a fork (0 inputs) at the synapse itself
    g.add("lonely", Dense(weight=np.ones((2, 3))))
    assert walk(g, "lonely", "up", fork="end") == [End("lonely", (), "fork")]
    assert source_of(g, "lonely") is None


def test_lava_walks_keep_their_messages():
    g = residual()
    syns, probs = _input_synapses(g, "n2")
    assert syns == ["c3"]
    assert probs == [f"node '{n}' ({kind}) between a synapse and neuron 'n2' is not supported by the Lava exporter "
                     f"(only Add may sum synaptic currents)" for n, kind in (("p1", "SumPool2d"), ("bn2", "BatchNorm"))]
    g.edges.remove(("p1", "add"))
    g.add("n3", Neuron(threshold=1.0), ["p1"])
    g.edges.append(("n3", "add"))
    assert _input_synapses(g, "n2")[1][0] == ("population 'n3' reaches neuron 'n2' without a synapse (run "
                                              "snn2hw convert: it inserts identity synapses)")
    assert _glue_chain(g, "c2") == ("n1", ["p1"], None)
    assert _glue_chain(g, "c1") == ("in", [], None)
    src, _, prob = _glue_chain(g, "fc")
    assert src is None and prob == "node 'ap' (AvgPool2d) before synapse 'fc' is not supported by the Lava exporter"
    g.add("lonely", Dense(weight=np.ones((2, 3))))
    assert _glue_chain(g, "lonely")[2] == "node 'lonely' has 0 inputs on the way to synapse 'lonely'"


def test_mapping_keeps_its_messages():
    g = ambiguous()
    g.edges.remove(("fc", "nb"))
    del g.nodes["nb"]
    with pytest.raises(MappingError, match="cannot map 'add' \\(Add\\) between a population and synapse 'fc'"):
        layer_needs(g, "loihi")
    g = Graph()   # a Flatten with two inputs: shapes still infer, the synapse has no single source
    g.add("in", Input(shape=(4,)))
    g.add("fl", Flatten(), ["in", "in"])
    g.add("fc", Dense(weight=np.ones((2, 4))), ["fl"])
    g.add("n", Neuron(threshold=1.0), ["fc"])
    with pytest.raises(MappingError, match="synapse 'fc' has no single source population \\(node 'fl' has 2 inputs\\)"):
        layer_needs(g, "loihi")
