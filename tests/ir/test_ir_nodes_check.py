"""Node.check(): every node type reports its own bad parameters (and only those)."""
import math

import numpy as np
import pytest

from snn2hw.ir import nodes as N

NAN = float("nan")
INF = float("inf")


def dense(**kw):
    base = dict(weight=np.ones((3, 4)), bias=np.zeros(3))
    base.update(kw)
    return N.Dense(**base)


def conv(**kw):
    base = dict(weight=np.ones((4, 2, 3, 3)), bias=np.zeros(4))
    base.update(kw)
    return N.Conv2d(**base)


def bn(**kw):
    base = dict(gamma=np.ones(3), beta=np.zeros(3), mean=np.zeros(3), var=np.ones(3))
    base.update(kw)
    return N.BatchNorm(**base)


VALID = [
    N.Input(shape=(3, 8, 8), step=1 / 16),
    N.Input(shape=(5,)),
    dense(),
    dense(mask=np.ones((3, 4)), channel_scale=[-1.0, 0.5, 2.0], weight_int=np.zeros((3, 4))),
    conv(),
    conv(weight=np.ones((4, 1, 3, 3)), groups=2, stride=2, padding=1, dilation=2),
    N.SumPool2d(kernel_size=2),
    N.AvgPool2d(kernel_size=3, stride=1, padding=1),
    bn(gamma=np.array([-1.0, 0.5, 2.0])),
    N.Flatten(),
    N.Add(),
    N.Neuron(model="lif", beta=0.9, threshold=0.5),
    N.Neuron(model="cuba", beta=0.9, alpha=0.5, threshold=[0.5, 1.0, 2.0], reset="subtract", compare="gt"),
    N.Neuron(model="atlif", output_scale=1.7, input_gain=0.3),
    N.Neuron(model="if", readout=True, threshold=INF),
    N.Output(),
]


@pytest.mark.parametrize("node", VALID, ids=lambda n: type(n).__name__)
def test_valid_nodes_have_no_problems(node):
    assert node.check() == []


BAD = [
    # (node, substring that must appear in one of the problems)
    (N.Input(shape=()), "non-empty"),
    (N.Input(shape=(3, 0)), "positive sizes"),
    (N.Input(shape=(3,), step=-0.5), "step"),
    (N.Input(shape=(3,), step=NAN), "step"),
    (dense(weight=np.array([[1.0, NAN], [INF, 0.0], [0.0, 0.0]]), bias=np.zeros(3)), "weight contains 2 NaN/Inf"),
    (dense(weight=np.ones(4), bias=None), "weight has 1 dimensions, expected 2"),
    (dense(weight=np.ones((0, 4)), bias=None), "empty"),
    (dense(bias=np.zeros(4)), "bias has shape (4,), expected (3,)"),
    (dense(bias=np.array([0.0, NAN, 0.0])), "bias contains 1 NaN/Inf"),
    (dense(mask=np.ones((4, 3))), "mask has shape (4, 3), expected the weight shape (3, 4)"),
    (dense(channel_scale=np.ones(2)), "channel_scale has shape (2,), expected (3,)"),
    (dense(channel_scale=np.array([1.0, INF, 1.0])), "channel_scale contains 1 NaN/Inf"),
    (dense(weight_int=np.zeros((3, 3))), "weight_int has shape"),
    (conv(weight=np.ones((4, 2, 3))), "weight has 3 dimensions, expected 4"),
    (conv(weight=np.full((4, 2, 3, 3), NAN)), "weight contains 72 NaN/Inf"),
    (conv(bias=np.zeros((4, 1))), "bias has shape (4, 1), expected (4,)"),
    (conv(mask=np.ones((4, 2, 3))), "mask has shape"),
    (conv(stride=0), "stride (0, 0)"),
    (conv(stride=(1, -1)), "stride (1, -1)"),
    (conv(dilation=0), "dilation (0, 0) must be positive"),
    (conv(padding=-1), "padding (-1, -1) must be non-negative"),
    (conv(groups=3), "groups 3 must be positive and divide C_out"),
    (conv(groups=0), "groups 0"),
    (N.SumPool2d(kernel_size=0), "kernel_size (0, 0)"),
    (N.AvgPool2d(kernel_size=2, stride=0), "stride (0, 0)"),
    (N.SumPool2d(kernel_size=2, padding=-1), "padding (-1, -1) must be non-negative"),
    (N.AvgPool2d(kernel_size=2, padding=2), "at most half"),
    (bn(beta=np.zeros(2)), "beta has shape (2,), expected (3,)"),
    (bn(var=np.ones(4)), "var has shape (4,)"),
    (bn(mean=np.array([0.0, NAN, 0.0])), "mean contains 1 NaN/Inf"),
    (bn(var=np.array([1.0, -1.0, 1.0])), "var + eps must be positive"),
    (N.Neuron(threshold=-1.0), "threshold must be positive"),
    (N.Neuron(threshold=0.0), "threshold must be positive"),
    (N.Neuron(threshold=NAN), "threshold must be positive"),
    (N.Neuron(threshold=[1.0, -0.5, 2.0]), "threshold must be positive, got min -0.5"),
    (N.Neuron(threshold=INF), "threshold must be finite"),
    (N.Neuron(model="izhikevich"), "model 'izhikevich'"),
    (N.Neuron(reset="soft"), "reset 'soft'"),
    (N.Neuron(int_reset="none"), "'none' must be 'zero' or 'subtract'"),
    (N.Neuron(compare="lt"), "compare 'lt'"),
    (N.Neuron(beta=1.5), "beta 1.5"),
    (N.Neuron(alpha=-0.1), "alpha -0.1"),
    (N.Neuron(output_scale=0.0), "output_scale must be positive"),
    (N.Neuron(output_scale=-2.0), "output_scale must be positive"),
    (N.Neuron(output_scale=NAN), "output_scale must be finite"),
    (N.Neuron(input_gain=INF), "input_gain must be finite"),
]


@pytest.mark.parametrize("node,expected", BAD, ids=[f"{type(n).__name__}-{e[:25]}" for n, e in BAD])
def test_bad_parameters_are_reported(node, expected):
    problems = node.check()
    assert any(expected in p for p in problems), problems


def test_all_problems_of_one_node_are_reported_together():
    d = dense(weight=np.array([[NAN, 1.0], [1.0, 1.0]]), bias=np.zeros(3), mask=np.ones((1, 2)),
              channel_scale=np.ones(5))
    problems = d.check()
    assert len(problems) == 4, problems
    for s in ("weight contains", "bias has shape", "mask has shape", "channel_scale has shape"):
        assert any(s in p for p in problems), (s, problems)
    n = N.Neuron(model="x", reset="y", compare="z", beta=2.0, threshold=-1.0, output_scale=0.0)
    assert len(n.check()) == 6, n.check()


def test_readout_accepts_infinite_threshold_only_as_readout():
    assert N.Neuron(readout=True, threshold=INF).check() == []
    assert N.Neuron(readout=False, threshold=INF).check() != []


def test_constructors_normalise_types():
    d = N.Dense(weight=[[1, 2]], bias=[3], mask=[[1, 0]], channel_scale=[2], weight_int=[[1.0, 2.0]])
    assert d.weight.dtype == np.float64 and d.bias.dtype == np.float64 and d.channel_scale.dtype == np.float64
    assert d.mask.dtype == bool and d.weight_int.dtype == np.int64
    np.testing.assert_array_equal(d.effective_weight(), [[2.0, 0.0]])
    c = N.Conv2d(weight=np.ones((2, 1, 1, 1)), stride=2, padding=[1, 0], dilation=(2,))
    assert c.stride == (2, 2) and c.padding == (1, 0) and c.dilation == (2, 2)
    p = N.AvgPool2d(kernel_size=3)
    assert p.stride == (3, 3) and p.padding == (0, 0)
    n = N.Neuron(threshold=[1, 2], vth=[3.0], bias_mant=[1.0, 2.0])
    assert n.threshold.dtype == np.float64 and n.vth.dtype == np.int64 and n.bias_mant.dtype == np.int64
    assert isinstance(N.Neuron(threshold=2).threshold, float)
    a, c0 = N.BatchNorm(gamma=[2.0], beta=[1.0], mean=[3.0], var=[3.0], eps=1.0).scale_shift()
    assert a == pytest.approx([1.0]) and c0 == pytest.approx([-2.0])  # y = 2 (x - 3) / 2 + 1 = x - 2
    assert math.isclose(N.Neuron(threshold=[1.0, 3.0]).threshold_array(2)[1], 3.0)
    np.testing.assert_array_equal(N.Neuron(threshold=0.5).threshold_array(3), [0.5] * 3)
