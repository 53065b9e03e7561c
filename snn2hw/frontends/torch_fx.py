"""torch.nn.Module -> snn2hw Graph, by torch.fx tracing with neuron modules as leaves.

Two layouts, told apart by the model's neurons (docs/INGEST.md):

* **time-major** (``snn2hw.models``, SpikingJelly ``step_mode='m'``): the model maps
  ``[T, B, *input_shape]`` to ``[T, B, classes]``. Stateless layers run inside
  ``snn2hw.nn.TimeDistributed`` or a SpikingJelly ``layer.*`` wrapper / ``SeqToANNContainer``
  in multi-step mode (on ``[T*B, ...]``), or directly on ``[T, B, F]`` (``nn.Linear``,
  ``nn.Flatten(start_dim=2)``). Neuron modules are leaves that take the whole sequence.
* **per-step** (snnTorch neurons, SpikingJelly ``step_mode='s'``): the neurons keep their state
  between calls and every call is one time step on ``[B, ...]``. ``forward`` is one step, or loops
  over time itself (snnTorch's tutorials: ``for step in range(num_steps): spk, mem = self.lif(
  self.fc(x), mem)``, on the same ``x`` every step or on ``x[step]``). The loop is unrolled by
  the trace (the input's sizes are concrete, so ``range(x.size(0))`` works) and *recognised*:
  the first call of every module defines the per-step graph, every later call must repeat it
  (same inputs, the neuron's own state carried), and the number of calls becomes the graph's
  ``timesteps``. The first tensor the model returns is the output (spikes or currents; stacked
  per-step records are one value).

A model that returns currents (a readout Linear) gets a non-spiking readout neuron, whose
membrane summed over time is ``T`` times the time-averaged logits. Peer neurons map by
:mod:`snn2hw.frontends.peers` (exactly, or refused naming the module, its class and why).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import torch
import torch.fx as fx
from torch import nn

from snn2hw.errors import UnsupportedModuleError
from snn2hw.frontends import peers
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.nn.layers import TimeDistributed, ZeroPadShortcut
from snn2hw.nn.neurons import SpikingNeuron
from snn2hw.nn.quant import QUANT_LAYERS

SUPPORTED = ("snn2hw.nn IF/LIF/CubaLIF/ATLIF", "snnTorch Leaky/Synaptic",
             "SpikingJelly IFNode/LIFNode/ParametricLIFNode (single- or multi-step)",
             "TimeDistributed(...) or SpikingJelly layer.*/SeqToANNContainer of Conv2d, BatchNorm1d/2d, AvgPool2d, "
             "AdaptiveAvgPool2d(1), Linear, Flatten(1), ZeroPadShortcut, Identity, Dropout",
             "Linear and Flatten(start_dim=2) on [T, B, ...]", "residual + (operator.add / torch.add)",
             "x.flatten(2) / torch.flatten(x, 2) (per-step models: flatten(1), x.view(x.size(0), -1))")
_PASSTHROUGH = (nn.Identity, nn.Dropout)
TRACE_T, TRACE_B = 3, 2  # the sizes a traced input reports (x.size(0), len(x)); only the first step is kept


def _np(t) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy().copy()


def _mask(m: nn.Module):
    """A pruning mask buffer ``weight_mask`` (snn2hw.compress or torch.nn.utils.prune) as a bool array."""
    mk = getattr(m, "weight_mask", None)  # all-ones: no mask
    return None if not isinstance(mk, torch.Tensor) or bool((mk != 0).all()) else _np(mk) != 0


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
    def trace(self, sizes) -> fx.GraphModule:
        try:
            return fx.GraphModule(self.model, _Tracer(sizes).trace(self.model))
        except UnsupportedModuleError:
            raise
        except Exception as e:  # tracing failures are caused by the user's model code
            msg = str(e).splitlines()[0][:300] if str(e) else ""
            raise UnsupportedModuleError(
                f"torch.fx could not trace the model's forward ({type(e).__name__}: {msg}). Supported: a forward "
                f"without data-dependent control flow (if/while on tensor values); loops over time with a "
                f"fixed count or range(x.size(0)) are fine. See docs/INGEST.md") from None

    def build(self) -> Graph:
        self.layout = _layout(self.model)
        if self.layout == "step":
            gm = self.trace((TRACE_B,) + self.input_shape)
            if _time_indexed(gm):  # the forward loops over x[t]: its input is [T, B, ...]
                gm = self.trace((TRACE_T, TRACE_B) + self.input_shape)
        else:
            gm = self.trace((TRACE_T, TRACE_B) + self.input_shape)
        self.modules = dict(gm.named_modules())
        self.first, self.calls, self.memo = {}, {}, {}
        self.indexed = False
        env = {}
        result = None
        for node in gm.graph.nodes:
            if node.op == "placeholder":
                if env:
                    raise UnsupportedModuleError("the model's forward must take exactly one input tensor")
                env[node.name] = self.g.add("input", N.Input(shape=self.input_shape))
                self.input_name = node.name
            elif node.op == "get_attr":
                env[node.name] = self.constant(gm, node.target)
            elif node.op == "call_module":
                env[node.name] = self.call_module(node, env)
            elif node.op == "output":
                result = self.output_value(node.args[0], env)
            else:
                env[node.name] = self.call_function(node, env)
        if isinstance(self.g.nodes[result], N.Neuron):
            last = result
        else:
            last = self.add("readout", N.Neuron(model="if", beta=1.0, threshold=float("inf"), readout=True), result)
        self.g.add("output", N.Output(), [last])
        if self.layout == "step":
            steps = max(self.calls.values(), default=1)
            self.g.metadata["ingest"] = {"layout": "per-step", "loop_steps": steps,
                                         "input": "x[t]" if self.indexed else "x every step"}
            if steps > 1:
                self.g.metadata["timesteps"] = int(steps)
        self.g.validate()
        return self.g

    # ------------------------------------------------------------ values
    def constant(self, gm, target: str):
        val = gm
        for part in target.split("."):
            val = getattr(val, part)
        if isinstance(val, torch.Tensor) and (val.numel() == 0 or not bool(val.detach().any())):
            return _ZERO  # e.g. snnTorch's init_leaky() / reset_mem(): a zero initial state
        raise _unsupported(target, "a constant tensor created in forward (weights and states must live in modules; "
                                   "an initial state must be zero)")

    def src(self, arg, env, what: str) -> str:
        """The IR node name of a tensor flowing into ``what``; refuses states and constants."""
        v = env[arg.name] if isinstance(arg, fx.Node) else arg
        if isinstance(v, _Seq):
            v = v.single(what)
        if isinstance(v, str):
            return v
        if isinstance(v, _State):
            raise UnsupportedModuleError(f"'{what}' takes the state (membrane/synaptic current) of '{v.neuron}' as "
                                         f"its input; only spikes (or currents) can flow between layers")
        raise _unsupported(what, f"an input of type {type(v).__name__} (expected a tensor computed from the model's "
                                 f"input)")

    def output_value(self, out, env) -> str:
        while isinstance(out, (tuple, list)):  # (spk_rec, mem_rec): the first is the network's output
            if not out:
                raise UnsupportedModuleError("the model returns an empty tuple")
            out = out[0]
        if not isinstance(out, fx.Node):
            raise UnsupportedModuleError("the model must return a tensor (or a tuple whose first item is one)")
        v = env[out.name]
        if isinstance(v, _Tuple):
            v = v.items[0]
        return self.src(v, env, "the model's output")

    # ------------------------------------------------------------ modules
    def call_module(self, node, env):
        path = node.target
        m = self.modules[path]
        src = self.src(node.args[0], env, path)
        if self.layout == "step":  # one per-step graph: later calls repeat the first one
            states = [env[a.name] if isinstance(a, fx.Node) else a for a in list(node.args[1:]) +
                      list(node.kwargs.values())]
            if path in self.first:
                fsrc, res = self.first[path]
                if fsrc != src:
                    raise peers.refuse(path, m, "it is called on different inputs within one time step or across "
                                                "time steps; snn2hw needs one call per module per step, the same "
                                                "every step")
                if peers.is_neuron(m) and any(s is _ZERO for s in states):
                    raise peers.refuse(path, m, "its state is reset to zero at a later step (init_leaky()/reset_mem() "
                                                "inside the time loop); the state must carry over between steps")
                self.calls[path] += 1
                return res
            if any(s is not None and s is not _ZERO for s in states):
                raise peers.refuse(path, m, "its first call gets a state that is not zero (use init_leaky() / "
                                            "reset_mem() or no state argument)")
            res = self.module(path, m, src, node)
            self.first[path], self.calls[path] = (src, res), 1
            return res
        if len(node.args) > 1 or node.kwargs:
            raise _unsupported(path, f"a call with {len(node.args)} arguments (time-major modules take one tensor)")
        return self.module(path, m, src, node)

    def module(self, path: str, m: nn.Module, src: str, node):
        if isinstance(m, SpikingNeuron):
            if self.layout == "step":
                raise UnsupportedModuleError(f"'{path}' is a snn2hw neuron (time-major) in a model whose other "
                                             f"neurons run one step per call; use one convention")
            return self.add(path, neuron_from_module(m), src)
        if peers.is_neuron(m):
            name = self.add(path, peers.peer_neuron(path, m, self.shape_of(src)), src)
            k = peers.returns_state(m)
            return name if k == 0 else _Tuple((name,) + (_State(path),) * k)
        if isinstance(m, TimeDistributed):
            cur = src
            for i, inner in enumerate(m.inner):
                cur = self.layer(f"{path}.{i}", inner, cur, merged=True)
            return cur
        if peers.is_sj_container(m):
            if type(m).__name__ != "SeqToANNContainer" and type(m).__name__ != "StepModeContainer":
                raise peers.refuse(path, m, "MultiStepContainer is not supported; use functional.set_step_mode("
                                            "net, 'm') on the modules instead")
            cur = src
            for name, inner in m.named_children():
                if peers.is_neuron(inner) or isinstance(inner, SpikingNeuron):
                    raise peers.refuse(f"{path}.{name}", inner, "a neuron inside SeqToANNContainer (stateless "
                                                                "layers only)")
                cur = self.layer(f"{path}.{name}", inner, cur, merged=True)
            return cur
        merged = self.layout == "step" or (peers.is_sj_step_module(m) and peers.step_mode(m) == "m")
        if peers.is_sj_step_module(m) and not isinstance(m, (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d,
                                                                nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten,
                                                                *_PASSTHROUGH)):
            raise peers.refuse(path, m, "SpikingJelly layer without an IR equivalent; supported: layer.Linear, "
                                        "Conv2d, BatchNorm1d/2d, AvgPool2d, AdaptiveAvgPool2d(1), Flatten, Dropout, "
                                        "SeqToANNContainer")
        return self.layer(path, m, src, merged)

    # ------------------------------------------------------------ functions
    def call_function(self, node, env):
        t = node.target
        if node.op == "call_function" and t is operator.getitem:
            base, idx = node.args
            if isinstance(base, fx.Node) and base.op == "placeholder" and isinstance(idx, int) \
                    and self.layout == "step":
                self.indexed = True
                return env[base.name]  # x[step]: the input frame of this step
            v = env[base.name] if isinstance(base, fx.Node) else None
            if isinstance(v, _Tuple) and isinstance(idx, int):
                return v.items[idx]
            raise _unsupported(node.name, f"indexing {getattr(base, 'name', base)}[{idx!r}] (only x[step] on the "
                                          f"input of a per-step model and a neuron's (spk, mem) results)")
        if node.op == "call_function" and t in (torch.stack, torch.cat):
            items = node.args[0]
            if not isinstance(items, (list, tuple)):
                raise _unsupported(node.name, f"{t.__name__} of a single tensor")
            return _Seq([env[a.name] if isinstance(a, fx.Node) else a for a in items])
        if node.op == "call_function" and t in (torch.zeros, torch.zeros_like):
            return _ZERO
        if node.op == "call_function" and t in (operator.add, torch.add, operator.iadd):
            a, b = node.args[0], node.args[1]
            if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)) or len(node.args) > 2 or node.kwargs:
                raise _unsupported(node.name, "add with a constant or alpha (only tensor + tensor)")
            srcs = (self.src(a, env, node.name), self.src(b, env, node.name))
            return self.memoized(("add",) + srcs, lambda: self.g.add(self.name(node.name), N.Add(), list(srcs)))
        if node.op in ("call_function", "call_method") and t in (torch.flatten, "flatten"):
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
            end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
            want = 1 if self.layout == "step" else 2
            if start != want or end != -1:
                raise _unsupported(node.name, f"flatten(start_dim={start}, end_dim={end}) on "
                                              f"{'[B, ...]' if want == 1 else '[T, B, ...]'}; expected "
                                              f"start_dim={want}")
            return self.flatten(node, env)
        if node.op == "call_method" and t in ("view", "reshape") and self.layout == "step":
            shape = node.args[1:] if not (len(node.args) == 2 and isinstance(node.args[1], (tuple, list))) \
                else tuple(node.args[1])
            if tuple(shape) in ((TRACE_B, -1), (-1,)) and tuple(shape) != (-1,):
                return self.flatten(node, env)
            raise _unsupported(node.name, f"{t}{tuple(shape)} (only x.{t}(x.size(0), -1), a flatten)")
        what = t if isinstance(t, str) else getattr(t, "__name__", t)
        raise _unsupported(node.name, f"{node.op} {what}")

    def flatten(self, node, env) -> str:
        src = self.src(node.args[0], env, node.name)
        return self.memoized(("flatten", src), lambda: self.add(node.name, N.Flatten(), src))

    def memoized(self, key, make) -> str:
        """Per-step models repeat each function once per unrolled step: build it once."""
        if self.layout != "step":
            return make()
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]


@dataclass(frozen=True)
class _State:
    """A neuron's returned state (snnTorch ``mem``/``syn``): carried to its next call, never a layer input."""
    neuron: str


@dataclass(frozen=True)
class _Tuple:
    items: tuple


class _Zero:
    def __repr__(self):
        return "zero state"


_ZERO = _Zero()


@dataclass
class _Seq:
    """``torch.stack``/``torch.cat`` of per-step values (a record over time): one value per step, all the same."""
    items: list

    def single(self, what: str):
        vals = [it.items[0] if isinstance(it, _Tuple) else it for it in self.items]
        if not vals or any(v != vals[0] for v in vals):
            raise UnsupportedModuleError(f"'{what}' stacks values that differ between time steps; expected the "
                                         f"record of one layer over time")
        return vals[0]


class _InputProxy(fx.Proxy):
    """The traced input, with concrete sizes: ``x.size(0)``, ``x.shape``, ``len(x)`` and ``for xt in x`` work."""

    def __init__(self, node, tracer, sizes):
        super().__init__(node, tracer)
        self._sizes = torch.Size(sizes)

    @property
    def shape(self):
        return self._sizes

    @property
    def ndim(self):
        return len(self._sizes)

    def size(self, dim=None):
        return self._sizes if dim is None else self._sizes[dim]

    def dim(self):
        return len(self._sizes)

    def __len__(self):
        return self._sizes[0]

    def __iter__(self):
        return (self[i] for i in range(self._sizes[0]))


class _Tracer(fx.Tracer):
    def __init__(self, sizes=None):
        super().__init__()
        self.sizes = sizes

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, (SpikingNeuron, TimeDistributed)) or peers.is_peer_leaf(m):
            return True
        return super().is_leaf_module(m, qualname)

    def proxy(self, node):
        if node.op == "placeholder" and self.sizes is not None:
            return _InputProxy(node, self, self.sizes)
        return super().proxy(node)


def _layout(model: nn.Module) -> str:
    """'step' when the model's neurons run one step per call (snnTorch, SpikingJelly 's'), else 'time'."""
    step, time = [], []
    for path, m in model.named_modules():
        if isinstance(m, SpikingNeuron):
            time.append(path)
        elif peers.is_neuron(m):
            (step if peers.step_mode(m) == "s" else time).append(path)
    if step and time:
        raise UnsupportedModuleError(f"the model mixes neurons that take one time step per call ({', '.join(step[:3])}) "
                                     f"with neurons that take the whole sequence ({', '.join(time[:3])}); use one "
                                     f"convention (SpikingJelly: functional.set_step_mode(net, 'm'))")
    return "step" if step else "time"


def _time_indexed(gm: fx.GraphModule) -> bool:
    return any(n.op == "call_function" and n.target is operator.getitem and isinstance(n.args[0], fx.Node)
               and n.args[0].op == "placeholder" and isinstance(n.args[1], int) for n in gm.graph.nodes)


def from_module(model: nn.Module, input_shape=None) -> Graph:
    """Convert a spiking ``nn.Module`` (see the module docstring) to a float Graph."""
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise UnsupportedModuleError(f"the input shape of {type(model).__name__} is unknown (the model has no "
                                     f"input_shape attribute): pass --input-shape C,H,W (or the feature count, "
                                     f"e.g. --input-shape 64); from Python, input_shape=(C, H, W)")
    was_training = model.training
    model.eval()
    try:
        return _Builder(model, shape).build()
    finally:
        model.train(was_training)
