"""ONNX export of snn2hw graphs (one model each, looping over time with ``Scan``).

* :func:`export_onnx_int` — the quantized network, int64 arithmetic only, bit-exact with
  ``simulate(graph, x, mode='int')`` (input ``x_int`` int32 ``[T, B, ...]``; :func:`quantize_input`
  makes it from analog data, or pass ``float_input=True`` to quantize inside the model);
* :func:`export_onnx_float` — the float network in float64, equal to
  ``simulate(graph, x, mode='float')`` up to float summation order;
* :func:`run_onnx` — run either with onnxruntime on the CPU.

Both record the opset and IR version in the returned dict and the snn2hw version, profile,
input step and output kind in ``model.metadata_props``; files are written atomically.
"""
from .onnx_common import IR_VERSION, OPSET, run_onnx
from .onnx_float import export_onnx_float
from .onnx_int import export_onnx_int, quantize_input

__all__ = ["export_onnx_int", "export_onnx_float", "run_onnx", "quantize_input", "OPSET", "IR_VERSION"]
