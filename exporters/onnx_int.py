"""The integer network as one ONNX model with int64 arithmetic only (Loihi CUBA fixed point).

One timestep of the body reproduces ``simulators/reference.py`` (mode ``'int'``) and
``simulators/fixed_point.py::cuba_step`` bit for bit:

* input: ``x_int`` int32 ``[T, B, *shape]`` (the graded payload ``round(x / step)``),
  clipped to the Input's integer range inside the model (idempotent for in-range data);
  with ``float_input=True`` the model takes float64 ``x`` and does
  ``clip(Round(x / step))`` itself (ONNX ``Round`` is half-to-even, like ``torch.round``);
* Dense: int64 ``MatMul``; Conv2d: im2col (``Pad``/``Slice``) + int64 ``MatMul`` (exact, no
  float detour, so no 2^24 / 2^53 bound is needed; sums are proven below 2^62 at export);
  SumPool2d: sum of strided slices; Flatten; Add (int32 wrap of the sum);
* weight exponent: ``* 2^e`` for ``e >= 0``; for ``e < 0`` the floor shift
  ``(y - Mod(y, 2^-e)) / 2^-e`` (``Mod`` with ``fmod=0`` is the floor modulo, the division is exact);
* Dense outputs wrap to int32, Conv outputs to 24 bits (true modulo, ``Mod`` based);
* neurons: ``trunc0(x * f / 4096)`` as ``Abs(p) / 4096`` negated where ``p < 0``, so the result never
  depends on how a runtime rounds a negative integer division (and not via ``Sign``: onnxruntime
  1.31's int64 ``Sign`` is wrong above 2^31); the single conditional +-2^24 wrap of u;
  v saturation at +-(2^23 - 1); ``v > vth << 6`` (or ``>=``), reset to 0 (or subtract).

Output ``y``: int64 ``[B, classes]``: the spike counts over T of the output population, or the
final membrane v of a readout (x64 units), i.e. ``simulate(graph, x, mode='int').output``.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

import snn2hw
from snn2hw.errors import Snn2hwError
from snn2hw.ir import nodes as N
from snn2hw.ir.checks import quantization_problems
from snn2hw.simulators import fixed_point as fp

from .onnx_common import Builder, assemble, check_and_save, single_io

I64 = np.int64
SUM_LIMIT = 2.0**62


def check_quantized(graph) -> None:
    """Every problem that makes ``graph`` inexpressible as an integer network, at once."""
    problems = quantization_problems(graph)
    if problems:
        raise Snn2hwError("cannot export an unquantized graph as an integer ONNX model; run snn2hw convert "
                          "first:\n" + "\n".join(f"  - {p}" for p in problems))


class _IntStep:
    def __init__(self, graph, float_input: bool):
        self.g, self.float_input = graph, float_input
        self.b = Builder("b_")
        self.state: list = []      # (body_in, body_out, shape, elem)
        self.bound: dict = {}      # name -> max |value| (static proof of int64 exactness)

    def wrap(self, x: str, bits: int, hint: str) -> str:
        half = 1 << (bits - 1)
        b = self.b
        m = b.op("Mod", [b.op("Add", [x, b.i64(half)], hint), b.i64(1 << bits)], hint + "_mod", fmod=0)
        return b.op("Sub", [m, b.i64(half)], hint + f"_w{bits}")

    def shift(self, x: str, e: int, hint: str) -> str:
        b = self.b
        if e == 0:
            return x
        if e > 0:
            return b.op("Mul", [x, b.i64(1 << e)], hint + "_shl")
        d = b.i64(1 << (-e))
        r = b.op("Mod", [x, d], hint + "_rem", fmod=0)
        return b.op("Div", [b.op("Sub", [x, r], hint), d], hint + "_shr")

    def trunc_mul(self, x: str, factor: int, hint: str) -> str:
        """``trunc0(x * factor / 4096)``, factor in [0, 4096]."""
        b = self.b
        p = b.op("Mul", [x, b.i64(factor)], hint + "_p")
        q = b.op("Div", [b.op("Abs", [p], hint + "_abs"), b.i64(fp.DECAY_ONE)], hint + "_q")
        # not Sign(p) * q: onnxruntime 1.31's int64 Sign looks at the low 32 bits only
        neg = b.op("Less", [p, b.i64(0)], hint + "_neg")
        return b.op("Where", [neg, b.op("Neg", [q], hint + "_nq"), q], hint + "_trunc")

    def state_var(self, name: str, kind: str, shape: tuple) -> tuple:
        bi, bo = f"{name}.{kind}_in", f"{name}.{kind}_out"
        self.state.append((bi, bo, shape, TensorProto.INT64))
        return bi, bo

    # ------------------------------------------------------------------ nodes
    def input(self, name, node: N.Input, frame: str) -> str:
        b = self.b
        lo, hi = node.int_range()
        if self.float_input:
            q = b.op("Round", [b.op("Div", [frame, b.const(node.step, np.float64, "step")], "xs")], "xr")
            q = b.op("Min", [b.op("Max", [q, b.const(lo, np.float64, "lo")], "xlo"),
                             b.const(hi, np.float64, "hi")], "xclip")
            x = b.op("Cast", [q], "x64", to=TensorProto.INT64)
        else:
            x = b.op("Cast", [frame], "x64", to=TensorProto.INT64)
            x = b.op("Min", [b.op("Max", [x, b.i64(lo)], "xlo"), b.i64(hi)], "xclip")
        self.bound[name] = float(max(abs(lo), abs(hi)))
        return x

    def synapse(self, name, node, x: str, src: str) -> str:
        w = np.asarray(node.weight_int, dtype=I64)
        rows = float(np.abs(w).reshape(w.shape[0], -1).sum(1).max())
        worst = rows * self.bound[src] * 2.0 ** max(node.weight_exp, 0)
        if worst >= SUM_LIMIT:
            raise Snn2hwError(f"synapse '{name}': integer sums may reach {worst:.3g}, beyond exact int64 "
                              "arithmetic; the weights or inputs are out of any hardware range")
        if isinstance(node, N.Dense):
            y = self.b.op("MatMul", [x, self.b.i64(w.T, name + "_WT")], name + "_mm")
            bits = 32
        else:
            y = self.b.conv(x, w, node.input_shape, node.output_shape, node.stride, node.padding, node.dilation,
                            node.groups, I64, name)
            bits = 24  # Lava's Conv wraps its output into 24 bits
        y = self.shift(y, node.weight_exp, name)
        self.bound[name] = float(2 ** (bits - 1))
        return self.wrap(y, bits, name)

    def neuron(self, name, node: N.Neuron, a: str, is_output: bool) -> str:
        b, shape = self.b, node.output_shape
        u_in, u_out = self.state_var(name, "u", shape)
        v_in, v_out = self.state_var(name, "v", shape)
        a = self.wrap(a, 32, name + "_a")
        a64 = self.wrap(b.op("Mul", [a, b.i64(1 << fp.SCALE_SHIFT)], name + "_a64"), 32, name + "_a64")
        u_sum = a64 if node.du == fp.DECAY_ONE - 1 else \
            b.op("Add", [self.trunc_mul(u_in, 4095 - node.du, name + "_du"), a64], name + "_usum")
        u2 = self.wrap(u_sum, 32, name + "_u")
        U = 1 << fp.STATE_BITS
        lo_w = b.op("Where", [b.op("LessOrEqual", [u2, b.i64(-fp.U_HI)], name + "_ulo"),
                              b.op("Add", [u2, b.i64(U)], name + "_uup"), u2], name + "_uw1")
        u_new = b.op("Where", [b.op("Greater", [u2, b.i64(fp.U_HI)], name + "_uhi"),
                               b.op("Sub", [u2, b.i64(U)], name + "_udn"), lo_w], name + "_unew")
        b.nodes.append(_identity(u_new, u_out))
        v1 = v_in if node.dv == 0 else self.trunc_mul(v_in, fp.DECAY_ONE - node.dv, name + "_dv")
        bias = fp.bias_value(_torch_i64(node.bias_mant if node.bias_mant is not None else 0), node.bias_exp)
        v2 = b.op("Add", [b.op("Add", [v1, u_new], name + "_vu"), b.chan(bias.numpy(), shape, I64, name + "_bias")],
                  name + "_vb")
        v2 = self.wrap(v2, 32, name + "_v")
        vnew = b.op("Min", [b.op("Max", [v2, b.i64(-fp.V_MAX)], name + "_vmx"), b.i64(fp.V_MAX)], name + "_vsat")
        vth64 = np.asarray(node.vth, dtype=I64) << fp.SCALE_SHIFT
        th = b.chan(vth64, shape, I64, name + "_vth64")
        fire = b.op("GreaterOrEqual" if node.int_compare == "ge" else "Greater", [vnew, th], name + "_fire")
        s = b.op("Cast", [fire], name + "_s", to=TensorProto.INT64)
        if node.int_reset == "subtract":
            b.nodes.append(_op("Sub", [vnew, b.op("Mul", [th, s], name + "_sub")], v_out))
        else:
            b.nodes.append(_op("Where", [fire, b.i64(0), vnew], v_out))
        if node.readout:
            s = b.op("Mul", [s, b.i64(0)], name + "_silent")
        elif is_output:
            c_in, c_out = self.state_var(name, "count", shape)
            b.nodes.append(_op("Add", [c_in, s], c_out))
        self.bound[name] = 1.0
        return s

    def build(self, frame: str) -> tuple:
        g = self.g
        out_name = single_io(g)[1]
        out_src = g.predecessors(out_name)[0]
        vals = {}
        for name in g.topological_order():
            node, preds = g.nodes[name], g.predecessors(name)
            ins = [vals[p] for p in preds]
            if isinstance(node, N.Input):
                vals[name] = self.input(name, node, frame)
            elif isinstance(node, N.SYNAPSES):
                vals[name] = self.synapse(name, node, ins[0], preds[0])
            elif isinstance(node, N.Neuron):
                vals[name] = self.neuron(name, node, ins[0], name == out_src)
            elif isinstance(node, N.SumPool2d):
                k = node.kernel_size[0] * node.kernel_size[1]
                vals[name] = self.b.sum_pool(ins[0], node.input_shape, node.output_shape, node.kernel_size,
                                             node.stride, node.padding, I64, name)
                self.bound[name] = k * self.bound[preds[0]]
            elif isinstance(node, N.Flatten):
                vals[name] = self.b.op("Flatten", ins, name, axis=1)
                self.bound[name] = self.bound[preds[0]]
            elif isinstance(node, N.Add):
                acc = ins[0]
                for other in ins[1:]:
                    acc = self.b.op("Add", [acc, other], name)
                vals[name] = self.wrap(acc, 32, name)  # Lava sums InPort messages as int32
                self.bound[name] = float(2**31)
            elif isinstance(node, N.Output):
                vals[name] = ins[0]
            else:
                raise Snn2hwError(f"node '{name}' ({type(node).__name__}) cannot be exported as an integer "
                                  "ONNX model")
        src = g.nodes[out_src]
        kind = "membrane" if src.readout else "spike_count"
        suffix = ".v_out" if src.readout else ".count_out"
        idx = [s[1] for s in self.state].index(out_src + suffix)
        return idx, kind


def _op(op_type, inputs, out):
    from onnx import helper
    return helper.make_node(op_type, inputs, [out], name=out + "_op")


def _identity(src, out):
    return _op("Identity", [src], out)


def _torch_i64(arr):
    import torch
    return torch.as_tensor(np.asarray(arr, dtype=I64))


def export_onnx_int(graph, path, float_input: bool = False) -> dict:
    """Write the quantized ``graph`` as one integer ONNX model looping over time; see the module doc.

    Input ``x_int``: int32 ``[T, B, *input_shape]``, the graded integers ``round(x / step)``
    clipped to the Input's range (see :func:`quantize_input`); with ``float_input=True`` the
    input is ``x``, float64 analog data, quantized inside the model. Output ``y``: int64
    ``[B, classes]``. Raises :class:`Snn2hwError` for a graph that is not quantized (naming
    every offending layer) or whose sums cannot be proven exact in int64.
    """
    graph = graph.copy()
    graph.validate()
    check_quantized(graph)
    in_name, _ = single_io(graph)
    inp = graph.nodes[in_name]
    step = _IntStep(graph, float_input)
    idx, kind = step.build("x_t")
    lo, hi = inp.int_range()
    x_name = "x" if float_input else "x_int"
    meta = {"snn2hw_version": snn2hw.__version__, "profile": graph.metadata.get("profile", ""),
            "arithmetic": "int64", "input": x_name, "input_step": repr(float(inp.step)),
            "input_range": f"[{lo}, {hi}]", "output_kind": kind,
            "time": "aligned frame (no synaptic delay), Scan over axis 0"}
    model = assemble(graph, step.b, step.state, (x_name, TensorProto.DOUBLE if float_input else TensorProto.INT32,
                                                 inp.shape), "x_t", TensorProto.INT64, (idx, TensorProto.INT64),
                     "snn2hw_int", meta)
    info = check_and_save(model, path)
    info.update({"input_name": x_name, "input_dtype": "float64" if float_input else "int32",
                 "input_shape": ["T", "B", *inp.shape], "input_step": float(inp.step), "input_range": (lo, hi),
                 "output_kind": kind, "output_dtype": "int64", "profile": meta["profile"]})
    return info


def quantize_input(graph, x) -> np.ndarray:
    """``clip(round(x / step), lo, hi)`` as int32 (round half to even, as the reference simulator)."""
    in_name, _ = single_io(graph)
    node = graph.nodes[in_name]
    if node.step is None:
        raise Snn2hwError(f"input '{in_name}' has no integer step; run snn2hw convert first")
    x = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    lo, hi = node.int_range()
    return np.clip(np.round(x / node.step), lo, hi).astype(np.int32)
