"""The layer table that ``snn2hw inspect`` prints."""
from __future__ import annotations

import numpy as np

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph


def _params(node) -> int:
    if isinstance(node, N.SYNAPSES):
        w = node.weight.size if node.mask is None else int(node.mask.sum())
        return int(w + (0 if node.bias is None else node.bias.size))
    if isinstance(node, N.BatchNorm):
        return int(2 * node.gamma.size)
    return 0


def _state(node) -> str:
    if isinstance(node, N.SYNAPSES):
        if node.weight_int is not None:
            return f"int w in [{int(node.weight_int.min())}, {int(node.weight_int.max())}] << {node.weight_exp}"
        return "float" + (" (masked)" if node.mask is not None else "")
    if isinstance(node, N.Neuron):
        if node.readout:
            base = "readout (membrane output)"
        else:
            th = np.asarray(node.threshold)
            base = f"theta {float(th):.4g}" if th.ndim == 0 else f"theta per-channel [{th.min():.3g}, {th.max():.3g}]"
        if node.output_scale != 1.0:
            base += f", out x{node.output_scale:.4g} (unfolded)"
        if node.vth is not None:
            base += f"; int vth {int(np.max(node.vth))} du {node.du} dv {node.dv}"
        return base
    if isinstance(node, N.Input):
        return "graded int, step %.4g" % node.step if node.step else "analog"
    if isinstance(node, (N.BatchNorm, N.AvgPool2d)):
        return "unfolded"
    return ""


def layer_rows(graph: Graph) -> list:
    graph.infer_shapes()
    rows = []
    for name in graph.topological_order():
        node = graph.nodes[name]
        model = node.model if isinstance(node, N.Neuron) else ""
        rows.append({"name": name, "type": type(node).__name__,
                     "in": "x".join(map(str, node.input_shape)) if node.input_shape else "-",
                     "out": "x".join(map(str, node.output_shape)) if node.output_shape else "-",
                     "params": _params(node), "neuron": model, "state": _state(node)})
    return rows


def format_table(rows: list, columns=None) -> str:
    if not rows:
        return "(empty)"
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))  # union of keys, first-seen order
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)
