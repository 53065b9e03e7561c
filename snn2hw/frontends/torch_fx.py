"""torch.nn.Module -> snn2hw Graph, by torch.fx tracing with neuron modules as leaves.

Conventions (those of ``snn2hw.models``): the model maps ``[T, B, *input_shape]``
to ``[T, B, classes]``. Stateless layers run either inside
``snn2hw.nn.TimeDistributed`` (on ``[T*B, ...]``) or directly on ``[T, B, F]``
(``nn.Linear``, ``nn.Flatten(start_dim=2)``). Neuron modules (``snn2hw.nn``
IF/LIF/CubaLIF/ATLIF) are leaves. A model that returns currents (a readout
Linear) gets a non-spiking readout neuron, whose membrane summed over time is
``T`` times the time-averaged logits.
"""
from __future__ import annotations

import operator

import numpy as np
import torch
import torch.fx as fx
from torch import nn

from snn2hw.errors import UnsupportedModuleError
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.nn.layers import TimeDistributed, ZeroPadShortcut
from snn2hw.nn.neurons import SpikingNeuron
from snn2hw.nn.quant import QUANT_LAYERS

SUPPORTED = ("snn2hw.nn IF/LIF/CubaLIF/ATLIF", "TimeDistributed(...) of Conv2d, BatchNorm1d/2d, AvgPool2d, "
             "AdaptiveAvgPool2d(1), Linear, Flatten(1), ZeroPadShortcut, Identity, Dropout",
             "Linear and Flatten(start_dim=2) on [T, B, ...]", "residual + (operator.add / torch.add)",
             "x.flatten(2) / torch.flatten(x, 2)")
_PASSTHROUGH = (nn.Identity, nn.Dropout)


def _np(t) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy().copy()


def _mask(m: nn.Module):
    """A pruning mask buffer ``weight_mask`` (snn2hw.compress or torch.nn.utils.prune) as a bool array."""
    mk = getattr(m, "weight_mask", None)  # all-ones: no mask
    return None if not isinstance(mk, torch.Tensor) or bool((mk != 0).all()) else _np(mk) != 0


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, (SpikingNeuron, TimeDistributed)):
            return True
        return super().is_leaf_module(m, qualname)


def _unsupported(path: str, what) -> UnsupportedModuleError:
    kind = what if isinstance(what, str) else f"{type(what).__module__}.{type(what).__name__}"
    return UnsupportedModuleError(f"cannot convert '{path}' ({kind}). Supported: " + "; ".join(SUPPORTED) + ".")


def neuron_from_module(m: SpikingNeuron) -> N.Neuron:
    kind = m.neuron_kind
    return N.Neuron(model=kind, beta=float(m.beta), alpha=float(getattr(m, "alpha", 0.0)) if kind == "cuba" else 0.0,
                    threshold=float(m.threshold), reset=m.reset, compare=m.compare,
                    output_scale=float(getattr(m, "output_scale", 1.0)),
                    input_gain=float(getattr(m, "input_gain", 1.0)))


class _Builder:
    def __init__(self, model: nn.Module, input_shape: tuple):
        self.model = model
        self.g = Graph(metadata={"source": "torch", "arch": getattr(model, "arch", type(model).__name__)})
        self.input_shape = tuple(int(s) for s in input_shape)

    def name(self, base: str) -> str:
        return self.g.unique_name(base)

    def add(self, base: str, node: N.Node, src: str) -> str:
        return self.g.add(self.name(base), node, [src])

    def shape_of(self, name: str) -> tuple:
        self.g.infer_shapes()
        shp = self.g.nodes[name].output_shape
        if shp is None:
            raise UnsupportedModuleError(f"cannot infer the shape after '{name}'; check the model's layer sizes")
        return shp

    # ------------------------------------------------------------ stateless layers
    def layer(self, path: str, m: nn.Module, src: str, merged: bool) -> str:
        if isinstance(m, _PASSTHROUGH):
            return src
        if isinstance(m, QUANT_LAYERS):  # ReScaW: weight = odd integer codes w_odd, channel_scale = gamma / s
            plain, kappa = m.as_codes_module()
            name = self.layer(path, plain, src, merged)
            self.g.nodes[name].channel_scale = kappa
            return name
        if isinstance(m, nn.Linear):
            return self.add(path, N.Dense(weight=_np(m.weight), bias=None if m.bias is None else _np(m.bias),
                                          mask=_mask(m)), src)
        if isinstance(m, nn.Conv2d) and merged:
            pad = m.padding
            if isinstance(pad, str):
                if pad == "valid":
                    pad = (0, 0)
                else:
                    raise _unsupported(path, f"Conv2d with padding='{pad}' (give explicit padding)")
            if m.padding_mode != "zeros":
                raise _unsupported(path, f"Conv2d with padding_mode='{m.padding_mode}'")
            return self.add(path, N.Conv2d(weight=_np(m.weight), bias=None if m.bias is None else _np(m.bias),
                                           stride=m.stride, padding=pad, dilation=m.dilation, groups=m.groups,
                                           mask=_mask(m)), src)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and merged:
            c = m.num_features
            if m.running_mean is None:
                raise _unsupported(path, "BatchNorm without running statistics (track_running_stats=False)")
            gamma = _np(m.weight) if m.affine else np.ones(c)
            beta = _np(m.bias) if m.affine else np.zeros(c)
            return self.add(path, N.BatchNorm(gamma=gamma, beta=beta, mean=_np(m.running_mean),
                                              var=_np(m.running_var), eps=m.eps), src)
        if isinstance(m, nn.AvgPool2d) and merged:
            if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
                raise _unsupported(path, "AvgPool2d with ceil_mode, count_include_pad=False or divisor_override")
            return self.add(path, N.AvgPool2d(kernel_size=m.kernel_size, stride=m.stride, padding=m.padding), src)
        if isinstance(m, nn.AdaptiveAvgPool2d) and merged:
            out = m.output_size if isinstance(m.output_size, tuple) else (m.output_size, m.output_size)
            if tuple(out) != (1, 1):
                raise _unsupported(path, f"AdaptiveAvgPool2d to {out} (only global pooling, output 1)")
            _, h, w = self.shape_of(src)
            return self.add(path, N.AvgPool2d(kernel_size=(h, w)), src)
        if isinstance(m, nn.Flatten):
            want = 1 if merged else 2
            if m.start_dim != want or m.end_dim != -1:
                raise _unsupported(path, f"Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}); expected "
                                         f"start_dim={want} {'inside TimeDistributed' if merged else 'on [T, B, ...]'}")
            return self.add(path, N.Flatten(), src)
        if isinstance(m, ZeroPadShortcut) and merged:
            w = _np(m.conv_weight())
            return self.add(path, N.Conv2d(weight=w, stride=m.stride, metadata={"fixed": "zero-pad shortcut"}), src)
        raise _unsupported(path, m)

    # ------------------------------------------------------------ trace
    def build(self) -> Graph:
        try:
            gm = fx.GraphModule(self.model, _Tracer().trace(self.model))
        except Exception as e:  # tracing failures are caused by the user's model code
            raise UnsupportedModuleError(f"torch.fx could not trace the model ({type(e).__name__}: {e}); "
                                         "data-dependent control flow is not supported") from None
        modules = dict(gm.named_modules())
        env = {}
        result_src = None
        for node in gm.graph.nodes:
            if node.op == "placeholder":
                if env:
                    raise UnsupportedModuleError("the model's forward must take exactly one input tensor")
                env[node.name] = self.g.add("input", N.Input(shape=self.input_shape))
            elif node.op == "call_module":
                m = modules[node.target]
                src = env[node.args[0].name]
                if isinstance(m, SpikingNeuron):
                    env[node.name] = self.add(node.target, neuron_from_module(m), src)
                elif isinstance(m, TimeDistributed):
                    cur = src
                    for i, inner in enumerate(m.inner):
                        cur = self.layer(f"{node.target}.{i}", inner, cur, merged=True)
                    env[node.name] = cur
                else:
                    env[node.name] = self.layer(node.target, m, src, merged=False)
            elif node.op == "call_function" and node.target in (operator.add, torch.add, operator.iadd):
                a, b = node.args[0], node.args[1]
                if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)) or len(node.args) > 2 or node.kwargs:
                    raise _unsupported(node.name, "add with a constant or alpha (only tensor + tensor)")
                env[node.name] = self.g.add(self.name(node.name), N.Add(), [env[a.name], env[b.name]])
            elif node.op in ("call_function", "call_method") and node.target in (torch.flatten, "flatten"):
                start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
                end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
                if start != 2 or end != -1:
                    raise _unsupported(node.name, f"flatten(start_dim={start}, end_dim={end}) on [T, B, ...]; "
                                                  "expected start_dim=2")
                env[node.name] = self.add(node.name, N.Flatten(), env[node.args[0].name])
            elif node.op == "output":
                out = node.args[0]
                if not isinstance(out, fx.Node):
                    raise UnsupportedModuleError("the model must return a single tensor")
                result_src = env[out.name]
            else:
                what = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", node.target)
                raise _unsupported(node.name, f"{node.op} {what}")
        if isinstance(self.g.nodes[result_src], N.Neuron):
            last = result_src
        else:
            last = self.add("readout", N.Neuron(model="if", beta=1.0, threshold=float("inf"), readout=True),
                            result_src)
        self.g.add("output", N.Output(), [last])
        self.g.validate()
        return self.g


def from_module(model: nn.Module, input_shape=None) -> Graph:
    """Convert a spiking ``nn.Module`` (see the module docstring) to a float Graph."""
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise UnsupportedModuleError(f"{type(model).__name__} has no input_shape attribute; pass input_shape=(C, H, W)")
    was_training = model.training
    model.eval()
    try:
        return _Builder(model, shape).build()
    finally:
        model.train(was_training)
