"""Shape inference against torch (conv, pools) and the flatten order."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snn2hw.ir import Add, AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, Graph, Input, Neuron, Output, SumPool2d
from snn2hw.simulators.reference import simulate


def test_conv_output_shapes_match_torch():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        groups = int(rng.choice([1, 2, 3]))
        c_in = groups * int(rng.integers(1, 4))
        c_out = groups * int(rng.integers(1, 4))
        kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
        stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
        padding = tuple(int(p) for p in rng.integers(0, 3, size=2))
        dilation = tuple(int(d) for d in rng.integers(1, 4, size=2))
        h, w = (int(s) for s in rng.integers(1, 13, size=2))
        node = Conv2d(weight=np.zeros((c_out, c_in // groups, kh, kw)), stride=stride, padding=padding,
                      dilation=dilation, groups=groups)
        try:
            ref = F.conv2d(torch.zeros(1, c_in, h, w), torch.zeros(c_out, c_in // groups, kh, kw), None, stride,
                           padding, dilation, groups).shape[1:]
        except RuntimeError:
            ref = None  # torch refuses: the output would be empty
        if ref is None or min(ref) <= 0:
            with pytest.raises(ValueError, match="not positive"):
                node.infer([(c_in, h, w)])
        else:
            assert node.infer([(c_in, h, w)]) == tuple(ref), (c_in, h, w, node)
            checked += 1
    assert checked > 150


@pytest.mark.parametrize("cls", [SumPool2d, AvgPool2d])
def test_pool_output_shapes_match_torch(cls):
    rng = np.random.default_rng(1)
    for _ in range(200):
        k = tuple(int(v) for v in rng.integers(1, 5, size=2))
        s = tuple(int(v) for v in rng.integers(1, 4, size=2))
        p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
        c, h, w = 2, int(rng.integers(1, 11)), int(rng.integers(1, 11))
        node = cls(kernel_size=k, stride=s, padding=p)
        assert node.check() == []
        try:
            ref = F.avg_pool2d(torch.zeros(1, c, h, w), k, s, p).shape[1:]
        except RuntimeError:
            ref = None
        if ref is None or min(ref) <= 0:
            with pytest.raises(ValueError):
                node.infer([(c, h, w)])
        else:
            assert node.infer([(c, h, w)]) == tuple(ref)


def test_flatten_shape_and_torch_order():
    """Flatten is C-major: element (c, y, x) of a (C, H, W) map lands at c*H*W + y*W + x."""
    C, H, W = 2, 3, 4
    assert Flatten().infer([(C, H, W)]) == (C * H * W,)
    picks = [(0, 0, 0), (1, 2, 3), (0, 2, 1), (1, 0, 3)]
    w = np.zeros((len(picks), C * H * W))
    for i, (c, y, x) in enumerate(picks):
        w[i, c * H * W + y * W + x] = 1.0
    g = Graph.sequential([("in", Input(shape=(C, H, W))), ("flat", Flatten()), ("fc", Dense(weight=w)),
                          ("ro", Neuron(model="if", readout=True, threshold=float("inf"))), ("out", Output())])
    x = np.random.default_rng(2).uniform(size=(1, 3, C, H, W))
    out = simulate(g, x).output.numpy()
    expected = np.stack([x[0, :, c, y, xx] for c, y, xx in picks], axis=1)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


def test_shape_errors_say_why():
    cases = [
        (Dense(weight=np.ones((2, 3))), [(3, 2, 2)], "insert a Flatten"),
        (Dense(weight=np.ones((2, 3))), [(4,)], "weight expects 3 inputs, got 4"),
        (Conv2d(weight=np.ones((4, 2, 3, 3)), groups=2), [(3, 5, 5)], "weight expects 4 input channels, got 3"),
        (Conv2d(weight=np.ones((4, 2, 3, 3))), [(2, 2, 2)], "not positive"),
        (Conv2d(weight=np.ones((4, 2, 3, 3))), [(8,)], "expects a (C, H, W) input"),
        (SumPool2d(kernel_size=4), [(1, 3, 3)], "not positive"),
        (BatchNorm(gamma=np.ones(3), beta=np.zeros(3), mean=np.zeros(3), var=np.ones(3)), [(4, 2, 2)],
         "has 3 channels, input has 4"),
        (Add(), [(2, 3, 3), (2, 3, 4)], "input shapes differ"),
        (Add(), [(2,)], "needs at least 2 inputs"),
        (Neuron(threshold=np.ones(3)), [(4, 2, 2)], "per-channel threshold has 3 entries, input has 4"),
    ]
    for node, shapes, msg in cases:
        with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            node.infer(shapes)


def test_graph_infer_shapes_through_residual_and_pools():
    g = Graph()
    g.add("in", Input(shape=(2, 9, 7)))
    g.add("c1", Conv2d(weight=np.ones((4, 2, 3, 3)), stride=2, padding=1, dilation=1), ["in"])  # (4, 5, 4)
    g.add("n1", Neuron(threshold=1.0), ["c1"])
    g.add("c2", Conv2d(weight=np.ones((4, 2, 3, 3)), padding=1, groups=2), ["n1"])               # (4, 5, 4)
    g.add("c3", Conv2d(weight=np.ones((4, 4, 1, 1))), ["n1"])                                   # (4, 5, 4)
    g.add("add", Add(), ["c2", "c3"])
    g.add("n2", Neuron(threshold=np.ones(4)), ["add"])
    g.add("pool", AvgPool2d(kernel_size=2, stride=1, padding=1), ["n2"])                          # (4, 6, 5)
    g.add("sp", SumPool2d(kernel_size=3, stride=2), ["pool"])                                    # (4, 2, 2)
    g.add("flat", Flatten(), ["sp"])
    g.add("fc", Dense(weight=np.ones((3, 16))), ["flat"])
    g.add("ro", Neuron(readout=True, threshold=float("inf")), ["fc"])
    g.add("out", Output(), ["ro"])
    assert g.validate() == []
    got = {n: node.output_shape for n, node in g.nodes.items()}
    assert got == {"in": (2, 9, 7), "c1": (4, 5, 4), "n1": (4, 5, 4), "c2": (4, 5, 4), "c3": (4, 5, 4),
                   "add": (4, 5, 4), "n2": (4, 5, 4), "pool": (4, 6, 5), "sp": (4, 2, 2), "flat": (16,),
                   "fc": (3,), "ro": (3,), "out": (3,)}
    assert g.nodes["add"].input_shape is None  # several inputs: no single input shape
