"""Shared machinery of the ONNX exporters: a small graph builder, the time loop, saving, running.

Both exporters write ONE model whose time loop is an ONNX ``Scan`` over the first input
axis: the Scan body is one timestep of the whole network (every population in the
aligned frame of the reference simulator: at step t each layer consumes its source's
step-t output), its loop-carried state is the neuron state plus the output
accumulator. Convolutions are lowered to ``Pad`` + strided ``Slice`` (im2col) + one
batched ``MatMul`` per layer, and sum pooling to ``Pad`` + a sum of strided slices, so
the same lowering works for int64 (exact integer arithmetic, no float anywhere) and
for float64.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from snn2hw.errors import Snn2hwError
from snn2hw.util.atomic import atomic_path

OPSET = 18
IR_VERSION = 9

DTYPES = {np.dtype(np.int64): TensorProto.INT64, np.dtype(np.int32): TensorProto.INT32,
          np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(np.float32): TensorProto.FLOAT,
          np.dtype(bool): TensorProto.BOOL}


class Builder:
    """Accumulates the nodes and initializers of one ONNX graph with unique names."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.nodes: list = []
        self.inits: list = []
        self._n = 0
        self._consts: dict = {}

    def _name(self, hint: str) -> str:
        self._n += 1
        safe = "".join(c if c.isalnum() or c in "._" else "_" for c in hint)
        return f"{self.prefix}{safe}_{self._n}"

    def const(self, arr, dtype, hint: str = "c") -> str:
        a = np.ascontiguousarray(np.asarray(arr, dtype=dtype))
        key = (a.dtype.str, a.shape, a.tobytes()) if a.size <= 16 else None
        if key is not None and key in self._consts:
            return self._consts[key]
        name = self._name(hint)
        self.inits.append(numpy_helper.from_array(a, name))
        if key is not None:
            self._consts[key] = name
        return name

    def op(self, op_type: str, inputs: list, hint: str = "", **attrs) -> str:
        out = self._name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out + "_op", **attrs))
        return out

    # ------------------------------------------------------------------ shared lowerings
    def i64(self, arr, hint="c") -> str:
        return self.const(arr, np.int64, hint)

    def pad_hw(self, x: str, padding: tuple, dtype, hint: str) -> str:
        ph, pw = padding
        if ph == 0 and pw == 0:
            return x
        pads = self.i64([0, 0, ph, pw, 0, 0, ph, pw], "pads")
        return self.op("Pad", [x, pads, self.const(0, dtype, "zero")], hint + "_pad", mode="constant")

    def window(self, xp: str, i0: int, j0: int, out_hw: tuple, stride: tuple, hint: str) -> str:
        """``xp[:, :, i0 : i0 + s*(Ho-1) + 1 : s, j0 : ... : s]`` of a padded (B, C, H, W) tensor."""
        ho, wo = out_hw
        sy, sx = stride
        starts = self.i64([i0, j0])
        ends = self.i64([i0 + sy * (ho - 1) + 1, j0 + sx * (wo - 1) + 1])
        return self.op("Slice", [xp, starts, ends, self.i64([2, 3]), self.i64([sy, sx])], hint + "_win")

    def conv(self, x: str, w: np.ndarray, in_shape: tuple, out_shape: tuple, stride, padding, dilation,
             groups: int, dtype, hint: str) -> str:
        """Cross-correlation (torch semantics) as im2col + one batched MatMul, in ``dtype``.

        ``x`` is (B, C, H, W). The columns are ordered (group, channel, ki, kj), the
        weight is reshaped to (G, C_out/G, C_in/G * kH * kW); MatMul broadcasts over B.
        """
        cin, _, _ = in_shape
        cout, ho, wo = out_shape
        kh, kw = w.shape[2:]
        g = int(groups)
        cg = cin // g
        xp = self.pad_hw(x, padding, dtype, hint)
        cols = []
        for i in range(kh):
            for j in range(kw):
                win = self.window(xp, i * dilation[0], j * dilation[1], (ho, wo), stride, hint)
                cols.append(self.op("Unsqueeze", [win, self.i64([2])], hint + "_col"))
        col = cols[0] if len(cols) == 1 else self.op("Concat", cols, hint + "_cols", axis=2)
        col = self.op("Reshape", [col, self.i64([-1, g, cg * kh * kw, ho * wo])], hint + "_im2col")
        wm = self.const(np.asarray(w).reshape(g, cout // g, cg * kh * kw), dtype, hint + "_W")
        y = self.op("MatMul", [wm, col], hint + "_mm")
        return self.op("Reshape", [y, self.i64([-1, cout, ho, wo])], hint + "_y")

    def sum_pool(self, x: str, in_shape: tuple, out_shape: tuple, kernel, stride, padding, dtype,
                 hint: str) -> str:
        """Sum over each window (zero padding): exact for integers, sequential adds for floats."""
        _, ho, wo = out_shape
        xp = self.pad_hw(x, padding, dtype, hint)
        acc = None
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                win = self.window(xp, i, j, (ho, wo), stride, hint)
                acc = win if acc is None else self.op("Add", [acc, win], hint + "_sum")
        return acc

    def chan(self, arr, shape: tuple, dtype, hint: str) -> str:
        """A per-channel (C,) or scalar parameter as a constant broadcastable over (B, *shape)."""
        a = np.asarray(arr)
        if a.ndim == 0 or a.size == 1:
            return self.const(a.reshape(()), dtype, hint)
        return self.const(a.reshape((-1,) + (1,) * (len(shape) - 1)), dtype, hint)


def single_io(graph) -> tuple:
    """The graph's single Input and Output names (refuses several)."""
    ins, outs = graph.inputs, graph.outputs
    if len(ins) != 1 or len(outs) != 1:
        raise Snn2hwError(f"the ONNX exporter supports exactly one Input and one Output node, "
                          f"got inputs {ins} and outputs {outs}")
    return ins[0], outs[0]


def assemble(graph, body: Builder, state: list, x_in: tuple, step_in: str, elem, output: tuple,
             name: str, metadata: dict) -> onnx.ModelProto:
    """Wrap one timestep (``body``) in a Scan over time.

    ``state``: ``[(body_in, body_out, shape, elem)]`` loop-carried tensors of shape
    ``(B, *shape)``, all starting at zero; ``x_in``: (name, elem, per-sample shape) of the
    model input ``[T, B, *shape]``; ``step_in``: the body's name for one input frame;
    ``output``: (index into ``state`` whose final value is the output, output elem).
    """
    x_name, x_elem, x_shape = x_in
    b_inputs = [helper.make_tensor_value_info(bi, el, None) for bi, _, _, el in state]
    b_inputs.append(helper.make_tensor_value_info(step_in, x_elem, None))
    b_outputs = [helper.make_tensor_value_info(bo, el, None) for _, bo, _, el in state]
    body_graph = helper.make_graph(body.nodes, f"{name}_step", b_inputs, b_outputs, initializer=body.inits)

    main = Builder("m_")
    shp = main.op("Shape", [x_name], "xshape")
    bdim = main.op("Slice", [shp, main.i64([1]), main.i64([2])], "batch")
    inits = []
    for k, (_, _, shape, el) in enumerate(state):
        full = main.op("Concat", [bdim, main.i64(list(shape))], f"s{k}_shape", axis=0)
        zero = helper.make_tensor("value", el, [1], [0])
        inits.append(main.op("ConstantOfShape", [full], f"s{k}_init", value=zero))
    finals = [f"final_{k}" for k in range(len(state))]
    main.nodes.append(helper.make_node("Scan", inits + [x_name], finals, name="time_loop", body=body_graph,
                                       num_scan_inputs=1))
    idx, out_elem = output
    main.nodes.append(helper.make_node("Reshape", [finals[idx], main.i64([0, -1])], ["y"], name="y_op"))
    g = helper.make_graph(main.nodes, name,
                          [helper.make_tensor_value_info(x_name, x_elem, ["T", "B"] + list(x_shape))],
                          [helper.make_tensor_value_info("y", out_elem, ["B", "classes"])],
                          initializer=main.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="snn2hw",
                              ir_version=IR_VERSION)
    helper.set_model_props(model, {k: str(v) for k, v in metadata.items()})
    return model


def check_and_save(model: onnx.ModelProto, path) -> dict:
    """Full onnx.checker check, then an atomic write. Returns the recorded versions."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:  # a bug of the exporter, not of the user's graph
        raise RuntimeError(f"the exported ONNX model does not pass onnx.checker: {e}") from e
    with atomic_path(path) as tmp:
        onnx.save_model(model, str(tmp))
    return {"path": str(Path(path)), "opset": OPSET, "ir_version": int(model.ir_version)}


def run_onnx(path, x) -> np.ndarray:
    """Run an exported model with onnxruntime (CPU) on ``x`` (``[T, B, ...]``) and return ``[B, classes]``.

    ``x`` is converted to the model's input type: an integer model (input ``x_int``,
    int32) accepts only integer-valued data (use :func:`quantize_input` for analog data).
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    x = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    want = {"tensor(int32)": np.int32, "tensor(double)": np.float64, "tensor(float)": np.float32}[inp.type]
    if np.dtype(want).kind == "i" and x.dtype.kind == "f":
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise Snn2hwError(f"the integer ONNX model '{path}' takes integer inputs (x_int = round(x / step)); "
                              "got non-integer values: quantize them first (quantize_input)")
    if np.dtype(want).kind == "i" and np.abs(x).max(initial=0) > 2**31 - 1:
        raise Snn2hwError("integer inputs do not fit int32")
    return sess.run(None, {inp.name: x.astype(want)})[0]
