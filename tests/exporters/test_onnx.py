"""ONNX exporters run in onnxruntime against the reference simulator.

Integer models must equal ``simulate(..., mode='int').output`` exactly; float64 models must match
``simulate(..., mode='float')`` and the torch module's time-summed readout within 1e-5.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

import snn2hw
from snn2hw.data import direct, load_dataset
from snn2hw.errors import Snn2hwError
from snn2hw.exporters.onnx import (IR_VERSION, OPSET, export_onnx_float, export_onnx_int, quantize_input,
                                   run_onnx)
from snn2hw.frontends import load_checkpoint
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.models import build_model

ort = pytest.importorskip("onnxruntime")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "examples", "digits_lif.pt")


@pytest.fixture(scope="module")
def digits():
    g = snn2hw.load(DIGITS)
    gi = snn2hw.convert(g, "loihi").graph
    ds = load_dataset("digits")
    x = direct(ds.x_test, 4).double()
    return g, gi, x


def _meta(path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


# ---------------------------------------------------------------------------------------------- digits
def test_digits_int_exact_whole_test_split(digits, tmp_path):
    _, gi, x = digits
    assert x.shape[1] == 360
    path = tmp_path / "digits_int.onnx"
    info = export_onnx_int(gi, path)
    assert info["opset"] == OPSET and info["ir_version"] == IR_VERSION
    assert info["output_kind"] == "membrane" and info["profile"] == "loihi"
    ref = snn2hw.simulate(gi, x, mode="int")
    out = run_onnx(path, quantize_input(gi, x))
    assert out.dtype == np.int64 and out.shape == (360, 10)
    assert np.array_equal(out, ref.output.numpy().astype(np.int64))
    assert (out.argmax(1) == ref.output.numpy().argmax(1)).all()
    # the in-model quantization variant (float64 x) gives the same integers
    path_f = tmp_path / "digits_int_floatin.onnx"
    info_f = export_onnx_int(gi, path_f, float_input=True)
    assert info_f["input_name"] == "x" and info_f["input_dtype"] == "float64"
    assert np.array_equal(run_onnx(path_f, x), out)


def test_digits_metadata_checker_and_atomic_write(digits, tmp_path):
    g, gi, _ = digits
    path = tmp_path / "m.onnx"
    export_onnx_int(gi, path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == OPSET and model.ir_version == IR_VERSION
    meta = _meta(path)
    assert meta["snn2hw_version"] == snn2hw.__version__
    assert meta["profile"] == "loihi" and meta["output_kind"] == "membrane"
    assert float(meta["input_step"]) == 0.0625 and meta["input"] == "x_int"
    assert {i.name for i in model.graph.input} == {"x_int"}
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.INT32
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.INT64
    assert any(n.op_type == "Scan" for n in model.graph.node)
    assert os.listdir(tmp_path) == ["m.onnx"]  # no temporary file left behind
    fpath = tmp_path / "f.onnx"
    info = export_onnx_float(g, fpath)
    assert info["opset"] == OPSET and info["ir_version"] == IR_VERSION
    assert _meta(fpath)["output_kind"] == "membrane"


def test_integer_model_has_no_float_arithmetic(digits, tmp_path):
    _, gi, _ = digits
    path = tmp_path / "m.onnx"
    export_onnx_int(gi, path)
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    scan = next(n for n in model.graph.node if n.op_type == "Scan")
    body = scan.attribute[0].g
    assert all(n.op_type not in ("Conv", "Round", "Floor", "Ceil") for n in body.node)
    assert all(init.data_type in (TensorProto.INT64,) for init in body.initializer)


def test_digits_float_matches_torch(digits, tmp_path):
    g, _, x = digits
    model = load_checkpoint(DIGITS).model.double().eval()
    with torch.no_grad():
        want = model(x).sum(0).numpy()
    path = tmp_path / "digits_float.onnx"
    info = export_onnx_float(g, path)
    assert info["input_dtype"] == "float64"
    out = run_onnx(path, x)
    assert out.dtype == np.float64 and out.shape == (360, 10)
    assert np.abs(out - want).max() <= 1e-5
    assert np.abs(out - snn2hw.simulate(g, x, mode="float").output.numpy()).max() <= 1e-9


def test_int_export_refuses_unquantized_graph(digits, tmp_path):
    g, _, _ = digits
    with pytest.raises(Snn2hwError, match=r"conv0\.0") as e:
        export_onnx_int(g, tmp_path / "x.onnx")
    assert "convert" in str(e.value) and "sn0" in str(e.value)
    assert not (tmp_path / "x.onnx").exists()


def test_run_onnx_refuses_non_integer_data_for_int_model(digits, tmp_path):
    _, gi, x = digits
    path = tmp_path / "m.onnx"
    export_onnx_int(gi, path)
    with pytest.raises(Snn2hwError, match="quantize"):
        run_onnx(path, x[:, :2] + 0.5)


# ---------------------------------------------------------------------------------------------- random graphs
def _float_graph(rng, spiking_output: bool, cuba: bool) -> Graph:
    """Input -> strided/padded conv -> dilated grouped conv -> (conv + 1x1 shortcut) Add -> sum pool ->
    flatten -> dense -> readout (or a spiking output population)."""
    def neuron(model="lif", **kw):
        return N.Neuron(model=model, beta=0.9, alpha=0.5 if model == "cuba" else 0.0, threshold=1.0, **kw)

    def conv(cin, cout, k, **kw):
        g = kw.get("groups", 1)
        return N.Conv2d(weight=rng.normal(0, 0.6, (cout, cin // g, k, k)), **kw)

    g = Graph()
    g.add("in", N.Input(shape=(2, 9, 9), step=1 / 16, bits=8, signed=True))
    g.add("c1", conv(2, 4, 3, stride=2, padding=1), ["in"])
    g.add("n1", neuron("cuba" if cuba else "lif"), ["c1"])
    g.add("c2", conv(4, 4, 3, padding=2, dilation=2, groups=2), ["n1"])
    g.add("n2", neuron(), ["c2"])
    g.add("c3", conv(4, 4, 3, padding=1, groups=4), ["n2"])
    g.add("sc", conv(4, 4, 1), ["n1"])
    g.add("add", N.Add(), ["c3", "sc"])
    g.add("n3", neuron(), ["add"])
    g.add("pool", N.SumPool2d(kernel_size=2, stride=2, padding=1), ["n3"])
    g.add("flat", N.Flatten(), ["pool"])
    g.add("fc", N.Dense(weight=rng.normal(0, 0.5, (5, 36))), ["flat"])
    g.add("out_n", N.Neuron(model="lif", beta=1.0, threshold=1.0, readout=not spiking_output), ["fc"])
    g.add("out", N.Output(), ["out_n"])
    g.validate()
    return g


def _randomize_int(gi: Graph, rng, big: bool) -> None:
    """Hand-set integer parameters: leaks, currents, per-channel thresholds, biases, exponents, knobs."""
    for name, node in gi.nodes.items():
        if isinstance(node, N.SYNAPSES):
            hi = 2**22 if big else 127
            node.weight_int = rng.integers(-hi, hi + 1, size=node.weight.shape).astype(np.int64)
            node.weight_exp = int(rng.integers(-3, 4))
        elif isinstance(node, N.Neuron):
            c = node.output_shape[0]
            node.dv = int(rng.integers(0, 4096))
            node.du = int(rng.integers(0, 4095)) if rng.random() < 0.6 else 4095
            if not node.readout:
                node.vth = rng.integers(1, 2**16 if big else 300, size=c if rng.random() < 0.5 else 1)
                node.int_reset = str(rng.choice(["zero", "subtract"]))
                node.int_compare = str(rng.choice(["gt", "ge"]))
            node.bias_mant = rng.integers(-500, 500, size=c)
            node.bias_exp = int(rng.integers(-2, 7))


@pytest.mark.parametrize("seed,spiking_output,big", [(0, False, False), (1, True, False), (2, False, True),
                                                     (3, True, True), (4, True, False)])
def test_random_int_graphs_exact(seed, spiking_output, big, tmp_path):
    rng = np.random.default_rng(seed)
    g = _float_graph(rng, spiking_output, cuba=seed % 2 == 0)
    gi = snn2hw.convert(g, "loihi").graph
    if seed > 0:
        _randomize_int(gi, rng, big)
    T, B = 6, 16
    x = torch.as_tensor(rng.integers(-140, 140, size=(T, B, 2, 9, 9)) / 16.0)  # some values clip at +-128
    ref = snn2hw.simulate(gi, x, mode="int")
    path = tmp_path / "g.onnx"
    info = export_onnx_int(gi, path)
    assert info["output_kind"] == ("spike_count" if spiking_output else "membrane")
    out = run_onnx(path, quantize_input(gi, x))
    assert np.array_equal(out, ref.output.numpy().astype(np.int64)), np.abs(out - ref.output.numpy()).max()
    assert np.array_equal(run_onnx(export_onnx_int(gi, tmp_path / "f.onnx", float_input=True)["path"], x), out)
    assert sum(float(s.sum()) for s in ref.layer_spikes.values()) > 0, "no spikes: a weak test"
    if big:  # the case must exercise the wraps and the saturation
        ov = {k: sum(c[k] for c in ref.overflow.values()) for k in ("a_wrap", "u_wrap", "v_saturate")}
        assert ov["u_wrap"] > 0 and ov["v_saturate"] > 0, ov
        assert seed != 2 or ov["a_wrap"] > 0, ov


def test_float_graph_variants_match_simulator(tmp_path):
    """cuba current, subtract reset, '>' comparison, output scale, per-channel thresholds, BatchNorm, AvgPool."""
    rng = np.random.default_rng(7)
    g = _float_graph(rng, spiking_output=True, cuba=True)
    g.nodes["n2"].reset, g.nodes["n2"].compare, g.nodes["n2"].output_scale = "subtract", "gt", 0.75
    g.nodes["n3"].threshold = np.array([0.5, 1.0, 1.5, 0.8])
    g.nodes["n1"].input_gain = 1.3
    g.insert_after("c2", "bn", N.BatchNorm(gamma=rng.uniform(0.5, 2, 4), beta=rng.normal(0, 0.3, 4),
                                           mean=rng.normal(0, 0.2, 4), var=rng.uniform(0.5, 1.5, 4)))
    g.nodes["pool"] = N.AvgPool2d(kernel_size=2, stride=2, padding=1)
    g.nodes["out_n"].output_scale = 2.0
    g.validate()
    x = torch.as_tensor(rng.uniform(-1, 3, size=(5, 8, 2, 9, 9)))
    ref = snn2hw.simulate(g, x, mode="float")
    assert float(ref.output.sum()) > 0
    path = tmp_path / "f.onnx"
    assert export_onnx_float(g, path)["output_kind"] == "spike_count"
    assert np.abs(run_onnx(path, x) - ref.output.numpy()).max() <= 1e-9


# ---------------------------------------------------------------------------------------------- tiny resnet
@pytest.fixture(scope="module")
def tiny_resnet():
    torch.manual_seed(0)
    m = build_model("resnet20", input_size=8, widths=(4, 4, 8, 8), blocks=(1, 1, 1)).double().eval()
    with torch.no_grad():  # an untrained net is silent: make every layer fire
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.fill_(2.0)
                mod.bias.fill_(0.4)
    x = torch.as_tensor(np.random.default_rng(0).integers(0, 32, size=(4, 12, 3, 8, 8)) / 16.0)
    return m, x


def test_tiny_resnet_float_matches_torch(tiny_resnet, tmp_path):
    m, x = tiny_resnet
    with torch.no_grad():
        want = m(x).sum(0).numpy()
    g = snn2hw.from_module(m, (3, 8, 8))
    assert snn2hw.simulate(g, x, mode="float").layer_spikes["sn1"].sum() > 0
    path = tmp_path / "r.onnx"
    export_onnx_float(g, path)
    assert np.abs(run_onnx(path, x) - want).max() <= 1e-5


def test_tiny_resnet_int_exact(tiny_resnet, tmp_path):
    m, x = tiny_resnet
    g = snn2hw.from_module(m, (3, 8, 8))
    g.nodes[g.inputs[0]].step = 1 / 16
    gi = snn2hw.convert(g, "loihi").graph
    assert any(isinstance(n, N.Add) for n in gi.nodes.values())
    ref = snn2hw.simulate(gi, x, mode="int")
    assert sum(float(s.sum()) for s in ref.layer_spikes.values()) > 0
    path = tmp_path / "ri.onnx"
    export_onnx_int(gi, path)
    assert np.array_equal(run_onnx(path, quantize_input(gi, x)), ref.output.numpy().astype(np.int64))


# ---------------------------------------------------------------------------------------------- runtime facts
def test_onnxruntime_integer_div_truncates_toward_zero():
    """Documents onnxruntime's int64 Div (C semantics: toward zero). The exporter does not rely on it:
    it divides |p| by 4096 and restores the sign, and floor shifts use Mod(fmod=0) first."""
    node = helper.make_node("Div", ["a", "b"], ["y"])
    gr = helper.make_graph([node], "div", [helper.make_tensor_value_info("a", TensorProto.INT64, [4]),
                                           helper.make_tensor_value_info("b", TensorProto.INT64, [4])],
                           [helper.make_tensor_value_info("y", TensorProto.INT64, [4])])
    model = helper.make_model(gr, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    a = np.array([-7, 7, -4097, -1], dtype=np.int64)
    b = np.array([2, -2, 4096, 4096], dtype=np.int64)
    assert sess.run(None, {"a": a, "b": b})[0].tolist() == [-3, -3, -1, 0]


@pytest.mark.parametrize("what", ["wrap32", "wrap24", "shl3", "shr1", "shr5", "trunc1", "trunc2048", "trunc4095"])
def test_integer_primitives_match_fixed_point(what):
    """The exporter's int64 building blocks against simulators/fixed_point.py over a wide range."""
    from snn2hw.exporters.onnx_int import _IntStep
    from snn2hw.simulators import fixed_point as fp

    st = _IntStep(None, False)
    kind, arg = what.rstrip("0123456789"), int(what.lstrip("wrapshltunc"))
    y = {"wrap": lambda: st.wrap("x", arg, "w"), "shl": lambda: st.shift("x", arg, "s"),
         "shr": lambda: st.shift("x", -arg, "s"), "trunc": lambda: st.trunc_mul("x", arg, "t")}[kind]()
    gr = helper.make_graph(st.b.nodes, "p", [helper.make_tensor_value_info("x", TensorProto.INT64, [None])],
                           [helper.make_tensor_value_info(y, TensorProto.INT64, [None])], initializer=st.b.inits)
    model = helper.make_model(gr, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(-2**40, 2**40, 20000), rng.integers(-2**25, 2**25, 20000),
                        np.arange(-70000, 70000)]).astype(np.int64)
    t = torch.as_tensor(x)
    want = {"wrap": lambda: fp.wrap_bits(t, arg), "shl": lambda: fp.shift(t, arg), "shr": lambda: fp.shift(t, -arg),
            "trunc": lambda: fp.trunc_mul_shift(t, arg)}[kind]().numpy()
    assert np.array_equal(sess.run(None, {"x": x})[0], want)


def test_dense_and_add_int32_wraps(tmp_path):
    """Dense sums beyond int32 (and their Add) wrap as in Lava; the readout integrates the wrapped current."""
    rng = np.random.default_rng(11)
    g = Graph()
    g.add("in", N.Input(shape=(8,), step=1.0, bits=8))
    g.add("d1", N.Dense(weight=rng.normal(size=(6, 8))), ["in"])
    g.add("d2", N.Dense(weight=rng.normal(size=(6, 8))), ["in"])
    g.add("add", N.Add(), ["d1", "d2"])
    g.add("n", N.Neuron(beta=1.0, threshold=1.0, readout=True), ["add"])
    g.add("out", N.Output(), ["n"])
    gi = snn2hw.convert(g, "loihi").graph
    for name in ("d1", "d2"):
        gi.nodes[name].weight_int = rng.integers(2**20, 2**21, size=(6, 8)) * rng.choice([-1, 1], size=(6, 8))
        gi.nodes[name].weight_exp = 2
    gi.nodes["n"].dv = 100
    x = torch.as_tensor(rng.integers(0, 256, size=(3, 10, 8)).astype(np.float64))
    raw = np.einsum("tbi,oi->tbo", x.numpy(), gi.nodes["d1"].weight_int * 4.0)
    assert np.abs(raw).max() > 2**31  # the Dense output really wraps
    ref = snn2hw.simulate(gi, x, mode="int")
    path = tmp_path / "w.onnx"
    export_onnx_int(gi, path)
    assert np.array_equal(run_onnx(path, quantize_input(gi, x)), ref.output.numpy().astype(np.int64))
