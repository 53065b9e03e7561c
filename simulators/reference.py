"""Reference simulator: the golden functional model of a snn2hw graph (batched torch).

``simulate(graph, x, mode="float")`` runs the float network with the training
semantics of :class:`snn2hw.ir.Neuron`. ``mode="int"`` runs the quantized
network with the integer execution model of ``simulators/fixed_point.py``
(Lava fixed_pt, bit for bit).

Time. The input ``x`` is ``[T, B, *input_shape]``. Both modes are computed in
the *aligned* frame: every population's step ``k`` is the one driven by input
frame ``k``. In the integer network each synapse stage adds one timestep of
delay, so a population at synaptic depth ``d`` (``snn2hw.ir.topology.depths``)
emits its step ``k`` at device step ``k + d`` (Lava: ``k + 1 + d``); with the
per-layer state reset at the step its first input arrives (Lava ``LIFReset``
with offset ``d + 1``) this shift is exact, biases included. Integer synapses are evaluated in float32/float64 only where the
integer result is provably exact (|sum| below 2^24 / 2^53), else refused. Every wrap and saturation
of the integer run is tallied per node (``simulators/overflow.py``) into ``SimResult.wraps``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from snn2hw.errors import Snn2hwError
from snn2hw.ir import nodes as N
from snn2hw.ir.checks import quantization_problems
from snn2hw.ir.graph import Graph
from snn2hw.simulators import fixed_point as fp
from snn2hw.simulators.overflow import OverflowTally

RECORDABLE = ("spikes", "u", "v")


@dataclass
class SimResult:
    """What a run returns. Tensors are on the CPU.

    ``output``: ``[B, classes]``: spike counts over T, or for a readout neuron its
    final membrane (float: in current units; int: Lava's x64 units).
    ``layer_spikes``: name -> ``[B]`` total spikes per sample of every spiking population.
    ``record``: quantity -> name -> ``[T, B, ...]`` (only what was asked for).
    ``overflow``: int mode, neuron name -> counts of ``a_wrap``, ``u_wrap``, ``v_saturate`` events.
    ``wraps``: int mode, node -> kind -> ``{"events", "neurons", "samples"}`` for every wrap site
    (synapses, Adds, neurons; see ``simulators/overflow.py``).
    """

    mode: str
    timesteps: int
    output: torch.Tensor
    output_kind: str
    layer_spikes: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)
    overflow: dict = field(default_factory=dict)
    neurons_per_layer: dict = field(default_factory=dict)
    wraps: dict = field(default_factory=dict)

    def predictions(self) -> torch.Tensor:
        return self.output.argmax(dim=1)

    def accuracy(self, labels) -> float:
        labels = torch.as_tensor(np.asarray(labels))
        return float((self.predictions() == labels).double().mean())

    def firing_rates(self) -> dict:
        """Mean spikes per neuron per timestep, per layer (over the whole batch)."""
        out = {}
        for name, s in self.layer_spikes.items():
            n = self.neurons_per_layer[name] * self.timesteps * s.shape[0]
            out[name] = float(s.sum()) / max(n, 1)
        return out


def _chan(arr, ndim: int, dtype) -> torch.Tensor:
    """Per-channel array (C,) to a tensor broadcastable over ``[B, C, ...]`` of ``ndim`` dims."""
    t = torch.as_tensor(np.asarray(arr), dtype=dtype)
    if t.ndim == 0:
        return t
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def _linear(node: N.Node, xs: list, weight: Optional[torch.Tensor], bias: Optional[torch.Tensor]):
    """Apply a non-neuron node to ``[T*B, ...]`` tensors (float arithmetic)."""
    x = xs[0]
    if isinstance(node, N.Dense):
        return F.linear(x, weight, bias)
    if isinstance(node, N.Conv2d):
        return F.conv2d(x, weight, bias, node.stride, node.padding, node.dilation, node.groups)
    if isinstance(node, N.SumPool2d):
        return F.avg_pool2d(x, node.kernel_size, node.stride, node.padding, count_include_pad=True,
                            divisor_override=1)
    if isinstance(node, N.AvgPool2d):
        return F.avg_pool2d(x, node.kernel_size, node.stride, node.padding, count_include_pad=True)
    if isinstance(node, N.BatchNorm):
        a, c = node.scale_shift()
        return x * _chan(a, x.ndim, x.dtype) + _chan(c, x.ndim, x.dtype)
    if isinstance(node, N.Flatten):
        return x.flatten(1)
    if isinstance(node, N.Add):
        out = xs[0]
        for other in xs[1:]:
            out = out + other
        return out
    if isinstance(node, N.Output):
        return x
    raise Snn2hwError(f"the reference simulator cannot run node type {type(node).__name__}")


class _Runner:
    def __init__(self, graph: Graph, mode: str, record: Iterable, dtype):
        if mode not in ("float", "int"):
            raise ValueError(f"mode must be 'float' or 'int', got {mode!r}")
        graph.validate()
        self.graph, self.mode, self.dtype = graph, mode, dtype
        self.record = set(record)
        bad = self.record - set(RECORDABLE)
        if bad:
            raise ValueError(f"record must be among {RECORDABLE}, got {sorted(bad)}")
        self.order = graph.topological_order()
        self.tally = None
        if mode == "int":
            self._check_quantized()
            graph.infer_shapes()
            self.tally = OverflowTally(graph)
        self._params = {}
        for name in self.order:
            node = graph.nodes[name]
            if isinstance(node, N.SYNAPSES):
                if mode == "float":
                    w = torch.as_tensor(node.effective_weight(), dtype=dtype)
                    b = None if node.bias is None else torch.as_tensor(node.bias, dtype=dtype)
                    self._params[name] = (w, b)
                else:
                    w = torch.as_tensor(node.weight_int, dtype=torch.float64)
                    rows = w.abs().reshape(w.shape[0], -1).sum(1).max().item()
                    self._params[name] = (w, rows)

    def _check_quantized(self):
        problems = quantization_problems(self.graph)
        if problems:
            raise Snn2hwError("the graph is not quantized; run snn2hw convert first:\n"
                              + "\n".join(f"  - {p}" for p in problems))

    # ------------------------------------------------------------------ float
    def _neuron_float(self, name, node: N.Neuron, I: torch.Tensor, res: dict):
        T = I.shape[0]
        th = _chan(node.threshold, I.ndim - 1, I.dtype)
        i = torch.zeros_like(I[0])
        v = torch.zeros_like(I[0])
        out = torch.empty_like(I)
        rec = {k: [] for k in self.record}
        total = torch.zeros(I.shape[1], dtype=torch.float64)
        for t in range(T):
            cur = node.input_gain * I[t]
            i = node.alpha * i + cur if node.model == "cuba" else cur
            v = node.beta * v + i
            if node.readout:
                s = torch.zeros_like(v)
            else:
                s = (v >= th) if node.compare == "ge" else (v > th)
                s = s.to(v.dtype)
            if "u" in rec:
                rec["u"].append(i.clone())
            if "v" in rec:
                rec["v"].append(v.clone())
            if "spikes" in rec:
                rec["spikes"].append(s.clone())
            total += s.reshape(s.shape[0], -1).sum(1).double()
            if not node.readout:
                v = v * (1 - s) if node.reset == "zero" else v - th * s
            out[t] = s * node.output_scale
        self._finish_neuron(name, node, total, rec, res)
        return out, v

    # ------------------------------------------------------------------ int
    def _synapse_int(self, name, node, x: torch.Tensor):
        w, row_abs = self._params[name]
        max_in = float(x.abs().max()) if x.numel() else 0.0
        bound = row_abs * max_in
        if bound >= 2.0**53:
            raise Snn2hwError(f"synapse '{name}': integer sums may reach {bound:.3g}, beyond exact float64; "
                              "the weights or inputs are out of any hardware range")
        dt = torch.float32 if bound < 2.0**24 else torch.float64
        y = _linear(node, [x.to(dt)], w.to(dt), None)
        y = torch.round(y).to(torch.int64)
        y = fp.shift(y, node.weight_exp)
        # Lava: Dense sends int32, Conv wraps its output into 24 bits.
        return self.tally.wrap(name, "sum_wrap", y, 24 if isinstance(node, N.Conv2d) else 32)

    def _neuron_int(self, name, node: N.Neuron, a: torch.Tensor, res: dict):
        T = a.shape[0]
        nd = a.ndim - 1
        vth64 = _chan(node.vth, nd, torch.int64) << fp.SCALE_SHIFT
        bias = fp.bias_value(_chan(node.bias_mant if node.bias_mant is not None else 0, nd, torch.int64),
                             node.bias_exp)
        u = torch.zeros_like(a[0])
        v = torch.zeros_like(a[0])
        out = torch.empty_like(a)
        counters = {"a_wrap": 0, "u_wrap": 0, "v_saturate": 0}
        rec = {k: [] for k in self.record}
        total = torch.zeros(a.shape[1], dtype=torch.float64)
        for t in range(T):
            u, v, s = fp.cuba_step(u, v, a[t], node.du, node.dv, bias, vth64, node.int_compare, node.int_reset,
                                   counters, self.tally.recorder(name))
            if node.readout:
                s = torch.zeros_like(s)
            if "u" in rec:
                rec["u"].append(u.clone())
            if "v" in rec:
                rec["v"].append(v.clone())
            if "spikes" in rec:
                rec["spikes"].append(s.clone())
            total += s.reshape(s.shape[0], -1).sum(1).double()
            out[t] = s
        prev = res["overflow"].get(name)
        res["overflow"][name] = counters if prev is None else {k: prev[k] + counters[k] for k in counters}
        self._finish_neuron(name, node, total, rec, res)
        return out, v

    def _finish_neuron(self, name, node, total, rec, res):
        if not node.readout:
            res["layer_spikes"][name] = total
        for k, lst in rec.items():
            res["record"].setdefault(k, {})[name] = torch.stack(lst)

    # ------------------------------------------------------------------ run
    def run(self, x: torch.Tensor) -> dict:
        T, B = x.shape[0], x.shape[1]
        res = {"layer_spikes": {}, "record": {}, "overflow": {}}
        if self.tally is not None:
            self.tally.begin_chunk(B)
        vals = {}
        final_v = {}
        for name in self.order:
            node = self.graph.nodes[name]
            if isinstance(node, N.Input):
                if tuple(x.shape[2:]) != node.shape:
                    raise Snn2hwError(f"input has per-sample shape {tuple(x.shape[2:])}, "
                                      f"but the graph input '{name}' expects {node.shape}")
                if self.mode == "float":
                    vals[name] = x.to(self.dtype)
                else:
                    lo, hi = node.int_range()
                    xi = torch.round(x.to(torch.float64) / node.step)
                    vals[name] = torch.clamp(xi, lo, hi).to(torch.int64)
                continue
            ins = [vals[p] for p in self.graph.predecessors(name)]
            if isinstance(node, N.Neuron):
                if self.mode == "float":
                    vals[name], final_v[name] = self._neuron_float(name, node, ins[0], res)
                else:
                    a = self.tally.wrap(name, "input_wrap", ins[0], 32)
                    vals[name], final_v[name] = self._neuron_int(name, node, a, res)
                continue
            flat = [t.reshape((T * B,) + tuple(t.shape[2:])) for t in ins]
            if self.mode == "float":
                w, b = self._params.get(name, (None, None))
                y = _linear(node, flat, w, b)
            elif isinstance(node, N.SYNAPSES):
                y = self._synapse_int(name, node, flat[0])
            else:
                y = _linear(node, flat, None, None)
                if isinstance(node, N.Add):
                    y = self.tally.wrap(name, "add_wrap", y, 32)  # Lava sums InPort messages as int32
            vals[name] = y.reshape((T, B) + tuple(y.shape[1:]))
        res["output"], res["output_kind"] = network_output(self.graph, vals, final_v, T, B)
        if self.tally is not None:
            self.tally.end_chunk()
        return res


def network_output(graph: Graph, vals: dict, final_v: dict, T: int, B: int) -> tuple:
    """``(output [B, classes], kind)``: the readout's final membrane, or the output population's spike counts."""
    src = graph.predecessors(graph.outputs[0])[0]
    if graph.nodes[src].readout:
        return final_v[src].reshape(B, -1).to(torch.float64), "membrane"
    return vals[src].reshape(T, B, -1).sum(0).to(torch.float64), "spike_count"


def simulate(graph: Graph, x, mode: str = "float", record: Iterable = (), batch_size: Optional[int] = None,
             dtype=torch.float64, progress: "bool | str" = False) -> SimResult:
    """Run ``graph`` on ``x`` (``[T, B, *input_shape]``, float) and return a :class:`SimResult`.

    ``mode``: ``"float"`` or ``"int"``. ``record``: any of ``"spikes"``, ``"u"``
    (float: the current i; int: Lava's u), ``"v"``; recorded tensors are ``[T, B, ...]``
    per neuron node. ``batch_size`` streams the samples in chunks.
    """
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if x.ndim < 3:
        raise Snn2hwError(f"input must be [T, B, *shape], got shape {tuple(x.shape)}")
    runner = _Runner(graph, mode, record, dtype)
    T, B = x.shape[0], x.shape[1]
    bs = B if not batch_size else int(batch_size)
    chunks = range(0, B, bs)
    if progress:
        from tqdm import tqdm
        chunks = tqdm(chunks, desc=progress if isinstance(progress, str) else f"simulate ({mode})", unit="batch")
    parts = [runner.run(x[:, i:i + bs]) for i in chunks]
    merged = parts[0]
    if len(parts) > 1:
        merged["output"] = torch.cat([p["output"] for p in parts])
        merged["layer_spikes"] = {k: torch.cat([p["layer_spikes"][k] for p in parts]) for k in merged["layer_spikes"]}
        merged["record"] = {q: {k: torch.cat([p["record"][q][k] for p in parts], dim=1) for k in merged["record"][q]}
                            for q in merged["record"]}
        merged["overflow"] = {k: {c: sum(p["overflow"][k][c] for p in parts) for c in merged["overflow"][k]}
                              for k in merged["overflow"]}
    sizes = {n: int(np.prod(graph.nodes[n].output_shape)) for n in merged["layer_spikes"]}
    return SimResult(mode=mode, timesteps=T, output=merged["output"], output_kind=merged["output_kind"],
                     layer_spikes=merged["layer_spikes"], record=merged["record"], overflow=merged["overflow"],
                     neurons_per_layer=sizes, wraps=runner.tally.as_dict() if runner.tally is not None else {})

