"""The float network as one float64 ONNX model looping over time (training semantics).

One timestep of the Scan body is ``simulators/reference.py`` in mode ``'float'``: Dense
(``MatMul`` + bias), Conv2d (im2col + ``MatMul`` + bias), SumPool2d / AvgPool2d (sum of strided
slices, divided by kH*kW for the average, padding counted), BatchNorm (per-channel affine),
Flatten, Add and the float neuron of :class:`snn2hw.ir.Neuron` (cuba current, leak, ``>=`` or
``>``, reset to zero or subtract, ``output_scale``). Everything is float64.

Input ``x``: float64 ``[T, B, *input_shape]``. Output ``y``: float64 ``[B, classes]``, the final
membrane of a readout or the time-summed (scaled) spikes of the output population, i.e.
``simulate(graph, x, mode='float').output``.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

import snn2hw
from snn2hw.errors import Snn2hwError
from snn2hw.ir import nodes as N

from .onnx_common import Builder, assemble, check_and_save, single_io

F64 = np.float64
ELEM = TensorProto.DOUBLE


class _FloatStep:
    def __init__(self, graph):
        self.g = graph
        self.b = Builder("b_")
        self.state: list = []

    def state_var(self, name: str, kind: str, shape: tuple) -> tuple:
        bi, bo = f"{name}.{kind}_in", f"{name}.{kind}_out"
        self.state.append((bi, bo, shape, ELEM))
        return bi, bo

    def out(self, op_type, inputs, out_name):
        from onnx import helper
        self.b.nodes.append(helper.make_node(op_type, inputs, [out_name], name=out_name + "_op"))

    def neuron(self, name, node: N.Neuron, cur: str, is_output: bool) -> str:
        b, shape = self.b, node.output_shape
        if node.input_gain != 1.0:
            cur = b.op("Mul", [b.const(node.input_gain, F64, "gain"), cur], name + "_cur")
        if node.model == "cuba":
            i_in, i_out = self.state_var(name, "i", shape)
            i = b.op("Add", [b.op("Mul", [b.const(node.alpha, F64, "alpha"), i_in], name + "_ai"), cur], name + "_i")
            self.out("Identity", [i], i_out)
        else:
            i = cur
        v_in, v_out = self.state_var(name, "v", shape)
        v = b.op("Add", [b.op("Mul", [b.const(node.beta, F64, "beta"), v_in], name + "_bv"), i], name + "_v")
        if node.readout:
            self.out("Identity", [v], v_out)
            return b.op("Mul", [v, b.const(0.0, F64, "zero")], name + "_silent")
        th = b.chan(node.threshold_array(shape[0]) if np.ndim(node.threshold) else node.threshold, shape, F64,
                    name + "_th")
        fire = b.op("GreaterOrEqual" if node.compare == "ge" else "Greater", [v, th], name + "_fire")
        s = b.op("Cast", [fire], name + "_s", to=ELEM)
        if node.reset == "zero":
            self.out("Where", [fire, b.const(0.0, F64, "zero"), v], v_out)
        else:
            self.out("Sub", [v, b.op("Mul", [th, s], name + "_ths")], v_out)
        o = s if node.output_scale == 1.0 else b.op("Mul", [s, b.const(node.output_scale, F64, "scale")], name + "_o")
        if is_output:
            c_in, c_out = self.state_var(name, "count", shape)
            self.out("Add", [c_in, o], c_out)
        return o

    def add_bias(self, y, node, shape, name):
        if node.bias is None:
            return y
        return self.b.op("Add", [y, self.b.chan(node.bias, shape, F64, name + "_b")], name + "_yb")

    def build(self, frame: str) -> tuple:
        g, b = self.g, self.b
        out_name = single_io(g)[1]
        out_src = g.predecessors(out_name)[0]
        vals = {}
        for name in g.topological_order():
            node, preds = g.nodes[name], g.predecessors(name)
            ins = [vals[p] for p in preds]
            if isinstance(node, N.Input):
                vals[name] = frame
            elif isinstance(node, N.Dense):
                y = b.op("MatMul", [ins[0], b.const(node.effective_weight().T, F64, name + "_WT")], name + "_mm")
                vals[name] = self.add_bias(y, node, node.output_shape, name)
            elif isinstance(node, N.Conv2d):
                y = b.conv(ins[0], node.effective_weight(), node.input_shape, node.output_shape, node.stride,
                           node.padding, node.dilation, node.groups, F64, name)
                vals[name] = self.add_bias(y, node, node.output_shape, name)
            elif isinstance(node, (N.SumPool2d, N.AvgPool2d)):
                y = b.sum_pool(ins[0], node.input_shape, node.output_shape, node.kernel_size, node.stride,
                               node.padding, F64, name)
                if isinstance(node, N.AvgPool2d):
                    k = node.kernel_size[0] * node.kernel_size[1]
                    y = b.op("Div", [y, b.const(float(k), F64, "k")], name + "_avg")
                vals[name] = y
            elif isinstance(node, N.BatchNorm):
                a, c = node.scale_shift()
                sh = node.output_shape
                y = b.op("Mul", [ins[0], b.chan(a, sh, F64, name + "_a")], name + "_bn")
                vals[name] = b.op("Add", [y, b.chan(c, sh, F64, name + "_c")], name + "_bnc")
            elif isinstance(node, N.Flatten):
                vals[name] = b.op("Flatten", ins, name, axis=1)
            elif isinstance(node, N.Add):
                acc = ins[0]
                for other in ins[1:]:
                    acc = b.op("Add", [acc, other], name)
                vals[name] = acc
            elif isinstance(node, N.Neuron):
                vals[name] = self.neuron(name, node, ins[0], name == out_src)
            elif isinstance(node, N.Output):
                vals[name] = ins[0]
            else:
                raise Snn2hwError(f"node '{name}' ({type(node).__name__}) cannot be exported as a float ONNX model")
        src = g.nodes[out_src]
        kind = "membrane" if src.readout else "spike_count"
        suffix = ".v_out" if src.readout else ".count_out"
        idx = [s[1] for s in self.state].index(out_src + suffix)
        return idx, kind


def export_onnx_float(graph, path) -> dict:
    """Write the float ``graph`` as one float64 ONNX model looping over time; see the module doc."""
    graph = graph.copy()
    graph.validate()
    in_name, _ = single_io(graph)
    inp = graph.nodes[in_name]
    step = _FloatStep(graph)
    idx, kind = step.build("x_t")
    meta = {"snn2hw_version": snn2hw.__version__, "profile": graph.metadata.get("profile", "") or "float",
            "arithmetic": "float64", "input": "x", "input_step": repr(inp.step) if inp.step else "none (analog)",
            "output_kind": kind, "time": "aligned frame (no synaptic delay), Scan over axis 0"}
    model = assemble(graph, step.b, step.state, ("x", ELEM, inp.shape), "x_t", ELEM, (idx, ELEM), "snn2hw_float",
                     meta)
    info = check_and_save(model, path)
    info.update({"input_name": "x", "input_dtype": "float64", "input_shape": ["T", "B", *inp.shape],
                 "output_kind": kind, "output_dtype": "float64", "profile": meta["profile"]})
    return info
