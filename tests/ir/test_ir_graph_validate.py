"""Graph.validate() reports every problem at once; cycles are reported, not looped over."""
import numpy as np
import pytest

from snn2hw.errors import GraphError
from snn2hw.ir import Add, Conv2d, Dense, Flatten, Graph, Input, Neuron, Output

from tests.helpers.random_graphs import random_graph

INF = float("inf")


def readout():
    return Neuron(model="if", readout=True, threshold=INF)


def small_mlp() -> Graph:
    return Graph.sequential([("in", Input(shape=(4,))), ("fc1", Dense(weight=np.ones((3, 4)))),
                             ("n1", Neuron(threshold=1.0)), ("fc2", Dense(weight=np.ones((2, 3)))),
                             ("ro", readout()), ("out", Output())])


def test_valid_graphs_have_no_problems():
    assert small_mlp().validate() == []
    for seed in range(6):
        g = random_graph(np.random.default_rng(seed))
        assert g.validate() == []


def test_five_independent_problems_are_all_reported():
    g = Graph()
    g.add("in", Input(shape=(4,)))
    g.add("fc1", Dense(weight=np.ones((3, 5))), ["in"])                        # shape: expects 5, gets 4
    g.add("n1", Neuron(threshold=1.0), ["fc1", "ghost"])                       # unknown endpoint, 2 inputs
    g.add("fc2", Dense(weight=np.array([[np.nan, 1.0, 1.0], [1.0, 1.0, 1.0]])), ["n1"])  # NaN weight
    g.add("ro", readout(), ["fc2"])
    g.add("out", Output(), ["ro"])
    g.add("dead", Neuron(threshold=1.0), ["n1"])                               # feeds nothing
    with pytest.raises(GraphError) as ei:
        g.validate()
    problems = ei.value.problems
    expected = [
        "edge (ghost -> n1) names the unknown node 'ghost'",
        "node 'n1' (Neuron) needs 1 input(s), has 2",
        "node 'fc1' (Dense): weight expects 5 inputs, got 4",
        "node 'dead' (Neuron) feeds nothing (dead end)",
        "node 'fc2' (Dense): weight contains 1 NaN/Inf value(s)",
    ]
    for e in expected:
        assert e in problems, (e, problems)
    assert len(problems) == len(expected), problems
    # the message lists them all, and the non-raising form returns the same list
    assert f"({len(expected)} problem(s))" in str(ei.value)
    assert g.validate(raise_on_error=False) == problems


def test_structural_problems():
    g = Graph()
    g.add("in", Input(shape=(2, 4, 4)))
    g.add("c", Conv2d(weight=np.ones((2, 2, 1, 1))), ["in"])
    g.add("n", Neuron(threshold=1.0), ["c"])
    g.add("add", Add(), ["n"])                     # an Add with one input
    g.add("flat", Flatten(), ["add"])
    g.add("out", Output(), ["flat"])              # Output after a non-neuron
    g.add("after", Neuron(threshold=1.0), ["out"])  # an Output feeding a node
    g.edges.append(("in", "c"))                   # duplicate edge
    problems = g.validate(raise_on_error=False)
    for e in ["the graph has duplicate edges",
              "node 'add' (Add) needs at least 2 inputs, has 1",
              "output node 'out' must not feed other nodes",
              "output node 'out' must follow a Neuron (spikes or readout), got Flatten 'flat'"]:
        assert e in problems, (e, problems)
    empty = Graph().validate(raise_on_error=False)
    assert "the graph has no Input node" in empty and "the graph has no Output node" in empty


def test_shape_problems_downstream_of_a_bad_node_are_not_repeated():
    g = small_mlp()
    g.nodes["fc1"] = Dense(weight=np.ones((3, 7)))
    problems = g.validate(raise_on_error=False)
    assert problems == ["node 'fc1' (Dense): weight expects 7 inputs, got 4"]
    assert g.nodes["n1"].output_shape is None and g.nodes["in"].output_shape == (4,)


@pytest.mark.timeout(20)
def test_cycles_are_reported_not_looped():
    g = Graph()
    g.add("in", Input(shape=(3,)))
    g.add("a", Add(), ["in", "n"])
    g.add("fc", Dense(weight=np.eye(3)), ["a"])
    g.add("n", Neuron(threshold=1.0), ["fc"])
    g.add("fc2", Dense(weight=np.ones((2, 3))), ["n"])
    g.add("ro", readout(), ["fc2"])
    g.add("out", Output(), ["ro"])
    problems = g.validate(raise_on_error=False)
    cyc = [p for p in problems if "cycle" in p]
    assert len(cyc) == 1, problems
    for name in ("'a'", "'fc'", "'n'"):
        assert name in cyc[0]
    assert "'in'" not in cyc[0]
    with pytest.raises(GraphError, match="cycle"):
        g.topological_order()
    # a self-loop is a cycle too
    h = small_mlp()
    h.edges.append(("n1", "n1"))
    assert any("cycle" in p and "'n1'" in p for p in h.validate(raise_on_error=False))


def test_infer_shapes_sets_every_shape():
    g = small_mlp()
    assert g.infer_shapes() == []
    shapes = {n: (node.input_shape, node.output_shape) for n, node in g.nodes.items()}
    assert shapes == {"in": (None, (4,)), "fc1": ((4,), (3,)), "n1": ((3,), (3,)), "fc2": ((3,), (2,)),
                      "ro": ((2,), (2,)), "out": ((2,), (2,))}
