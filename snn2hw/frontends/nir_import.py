"""Import a NIR file (``.nir``) as a snn2hw float Graph.

``load_nir(path, dt=None)`` reads a NIR 1.0.x HDF5 file and maps it onto the IR
with the discrete-time convention snnTorch and SpikingJelly use for import
(forward Euler at ``dt``; ``dt`` defaults to the file's ``metadata["dt"]`` when it
is a positive number, else 1e-4):

* ``LIF``: ``beta = 1 - dt/tau``, input gain ``g = r dt/tau`` (1 in the usual
  encoding ``r = tau/dt``); ``v_leak`` and ``v_reset`` must be 0.
* ``IF``: ``beta = 1``, ``g = r dt``.
* ``CubaLIF``: ``alpha = 1 - dt/tau_syn``, ``beta = 1 - dt/tau_mem``,
  ``g = (w_in dt/tau_syn)(r dt/tau_mem)`` (the current is rescaled, exact).
* ``I`` / ``LI`` / ``CubaLI``: a readout neuron (non-firing integrator); it must
  feed an ``Output`` directly.
* Neurons fire on ``v > v_threshold`` and reset in the same step. NIR (>= 1.0.6)
  stores a reset *value*, not a mode, so a subtract reset cannot be told from a
  reset to zero. Files written by snn2hw record ``compare="ge"`` / ``reset="subtract"``
  in node metadata (see ``exporters/nir.py``); those are honoured. For any other
  writer's file (snnTorch's ``export_to_nir`` writes ``v_reset = 0`` even for its
  default subtract reset) the reset is ``reset=`` (``--nir-reset zero|subtract``);
  without it, reset to zero and a :class:`NIRResetWarning` naming the nodes.
  ``subtract`` is exact for IF neurons (beta = 1) and for SpikingJelly's soft reset;
  snnTorch's leaky ``subtract`` (threshold subtracted after the decay) is not
  expressible and is approximated (warned).
* ``LIF`` with ``tau = r = inf`` (snnTorch's export of beta = 1) is an IF with gain 1.
* ``Affine``/``Linear`` -> Dense, ``Conv2d`` -> Conv2d (``'same'``/``'valid'``
  padding resolved), ``SumPool2d``/``AvgPool2d``, ``Flatten`` (any ``start_dim`` <= 1
  with ``end_dim = -1`` is read as a full flatten, since writers disagree on whether
  the batch dimension counts), ``Scale`` -> a per-channel BatchNorm-form affine
  (exact), ``Input``/``Output``.
* A node with several incoming edges sums them (NIR's rule): an ``Add`` is inserted.
* An ``Output`` fed by anything but a neuron gets a readout integrator in front
  (the output becomes the time-sum of that value; noted in ``metadata``).

Neuron time constants must be uniform per layer; thresholds may vary per
channel. Unsupported nodes, cycles (recurrence), dangling edges and files that
are not NIR raise :class:`NIRImportError` naming the file and the node.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from snn2hw.errors import FileFormatError, GraphError
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph

DEFAULT_DT = 1e-4
#: a v_threshold at or above the largest float32 never fires: snn2hw writes its readout that way
NEVER = float(np.finfo(np.float32).max)
SUPPORTED = ("Input", "Output", "Affine", "Linear", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Scale",
             "IF", "LIF", "CubaLIF", "I", "LI", "CubaLI")


class NIRResetWarning(UserWarning):
    """A NIR file from another writer: the reset mode of its spiking neurons is not recorded (assumed zero)."""


class NIRImportError(FileFormatError):
    """A NIR file cannot be read or mapped onto the snn2hw IR; the message names the file and node."""


def _err(path, msg) -> NIRImportError:
    return NIRImportError(f"{path}: {msg}")


def _uniform(path, name, node, field, allow_inf=False) -> float:
    a = np.asarray(getattr(node, field), dtype=np.float64)
    if a.size == 0:
        raise _err(path, f"node '{name}' ({type(node).__name__}): '{field}' is empty")
    if np.any(np.isnan(a)) or (not allow_inf and np.any(np.isinf(a))) or (allow_inf and np.any(a == -np.inf)):
        raise _err(path, f"node '{name}' ({type(node).__name__}): '{field}' has NaN/Inf values")
    if np.all(a == np.inf):
        return float("inf")
    if np.ptp(a) > 1e-12 * max(1.0, float(np.max(np.abs(a)))):
        raise _err(path, f"node '{name}' ({type(node).__name__}): '{field}' varies across the layer "
                         f"({a.min():g}..{a.max():g}); snn2hw neurons share one value per layer")
    return float(a.reshape(-1)[0])


def _channels(path, name, node, field, allow_inf=False):
    """A per-element parameter as a scalar or a per-channel (C,) array (uniform within each channel)."""
    a = np.asarray(getattr(node, field), dtype=np.float64)
    if a.size == 0:
        raise _err(path, f"node '{name}' ({type(node).__name__}): '{field}' is empty")
    if np.any(np.isnan(a)) or (not allow_inf and np.any(np.isinf(a))):
        raise _err(path, f"node '{name}' ({type(node).__name__}): '{field}' has NaN/Inf values")
    flat = a.reshape(-1)
    if np.all(flat == flat[0]):
        return float(flat[0])
    rows = a.reshape(a.shape[0], -1) if a.ndim >= 1 else a.reshape(1, -1)
    if a.ndim >= 1 and np.all(rows == rows[:, :1]):
        return rows[:, 0].copy()
    raise _err(path, f"node '{name}' ({type(node).__name__}): '{field}' varies within a channel; "
                     f"snn2hw supports per-layer or per-channel values")


def _zero(path, name, node, field):
    v = getattr(node, field, None)
    if v is None:
        return
    a = np.asarray(v, dtype=np.float64)
    if np.any(a != 0):
        raise _err(path, f"node '{name}' ({type(node).__name__}): {field} = {a.reshape(-1)[0]:g} (non-zero "
                         f"{field} is not supported; snn2hw neurons rest at and reset to 0)")


def _meta(node) -> dict:
    m = getattr(node, "metadata", None)
    return m if isinstance(m, dict) else {}


def _mstr(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _mstr(v[()])
    return str(v)


def _pair(v) -> tuple:
    a = np.asarray(v).reshape(-1)
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def _regroup_count(path, name, w, g) -> int:
    try:
        g = int(np.asarray(g).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise _err(path, f"node '{name}' (Conv2d): metadata 'groups' is not an integer") from None
    cout, cin = w.shape[:2]
    if g < 1 or cout % g or cin % g:
        raise _err(path, f"node '{name}' (Conv2d): metadata groups={g} does not divide its {cout} x {cin} weight")
    per, cg = cout // g, cin // g
    for k in range(g):  # only the block-diagonal part may be non-zero
        blk = w[k * per:(k + 1) * per].copy()
        blk[:, k * cg:(k + 1) * cg] = 0
        if np.any(blk):
            raise _err(path, f"node '{name}' (Conv2d): metadata says groups={g} but the weight is not block-diagonal")
    return g


def _regroup(w, g):
    per, cg = w.shape[0] // g, w.shape[1] // g
    return np.concatenate([w[k * per:(k + 1) * per, k * cg:(k + 1) * cg] for k in range(g)], axis=0)


class _Reader:
    def __init__(self, path, ng, dt, reset=None, own=False, no_v_reset=()):
        self.path, self.ng, self.dt = path, ng, dt
        self.reset, self.own, self.no_v_reset = reset, own, set(no_v_reset)
        meta = _meta(ng)
        self.exponential = own and _mstr(meta.get("discretization", "")) == "exponential"
        self.notes = []
        self.assumed = []      # (name, kind): foreign spiking neurons whose reset the file does not say
        self.leaky_subtract = []  # foreign leaky neurons read as subtract (exact only for beta = 1)

    def reset_of(self, name, kind, meta, beta) -> str:
        """The reset of a spiking neuron. NIR (>= 1.0.6) stores only a reset *value*, no mode: snn2hw's own
        files record a subtract reset in node metadata (absent = zero); for any other writer's file the mode is
        ``self.reset`` if given (``--nir-reset``), else zero, and the node is listed for the warning."""
        if self.own:
            return "subtract" if _mstr(meta.get("reset", "")) == "subtract" else "zero"
        if _mstr(meta.get("reset", "")) in ("zero", "subtract"):  # a writer that says so
            return _mstr(meta["reset"])
        if self.reset is None:
            self.assumed.append((name, kind))
            return "zero"
        if self.reset == "subtract" and beta < 1.0:
            self.leaky_subtract.append(name)
        return self.reset

    def reset_warnings(self) -> list:
        out = []
        if self.assumed:
            names = ", ".join(f"'{n}' ({k})" for n, k in self.assumed)
            old = sorted(n for n, _ in self.assumed if n in self.no_v_reset)
            out.append(
                f"{self.path}: NIR does not record how a neuron resets (only a reset value), and the file does not "
                f"say: snn2hw assumes reset to zero for {names}. If the model was trained with subtract reset "
                f"(snnTorch's default, SpikingJelly's v_reset=None), the import is wrong; choose with --nir-reset "
                f"zero|subtract (Python: snn2hw.load(path, nir_reset=...)). Subtract is exact for beta = 1 (IF) "
                f"neurons; for leaky ones snn2hw subtracts the threshold before the decay (as SpikingJelly), "
                f"snnTorch after it, so a snnTorch subtract-reset LIF with beta < 1 is only approximated"
                + (f". Nodes {old} have no v_reset: files of NIR <= 1.0.5 meant subtractive reset" if old else ""))
        if self.leaky_subtract:
            out.append(
                f"{self.path}: leaky neurons {self.leaky_subtract} read with subtract reset: snn2hw subtracts the "
                f"threshold before the decay (v = beta (v - theta) + I, SpikingJelly's soft reset); snnTorch's "
                f"'subtract' is after it (v = beta v + I - theta), which snn2hw cannot express: not exact for "
                f"snnTorch files with beta < 1")
        return out

    def neuron(self, name, node) -> N.Node:
        import nir
        p, dt = self.path, self.dt
        meta = _meta(node)
        kind = type(node).__name__
        if isinstance(node, (nir.LIF, nir.LI)):
            tau, r = _uniform(p, name, node, "tau", allow_inf=True), _uniform(p, name, node, "r", allow_inf=True)
            _zero(p, name, node, "v_leak")
            if tau < dt and not self.exponential:
                raise _err(p, f"node '{name}' ({kind}): tau {tau:g} is below dt {dt:g} (beta would be negative)")
            if math.isinf(tau):  # no leak (snnTorch writes beta = 1 as tau = r = inf: the limit of r = tau/dt)
                if math.isinf(r):
                    gain = 1.0
                else:
                    raise _err(p, f"node '{name}' ({kind}): tau is infinite but r = {r:g} is finite (no input "
                                  f"would reach the membrane); expected r = tau/dt = inf")
                model, beta, alpha = "lif", 1.0, 0.0
            elif math.isinf(r):
                raise _err(p, f"node '{name}' ({kind}): r is infinite but tau = {tau:g} is finite")
            elif self.exponential:  # snn2hw's Sinabs targets: beta = exp(-dt/tau), unit gain r = 1/(1 - beta)
                beta = math.exp(-dt / tau)
                model, alpha, gain = "lif", 0.0, r * (1.0 - beta)
            else:
                model, beta, alpha, gain = "lif", 1.0 - dt / tau, 0.0, r * dt / tau
        elif isinstance(node, (nir.IF, nir.I)):
            r = _uniform(p, name, node, "r")
            model, beta, alpha, gain = "if", 1.0, 0.0, r * dt
        else:  # CubaLIF / CubaLI
            ts, tm = _uniform(p, name, node, "tau_syn"), _uniform(p, name, node, "tau_mem")
            r, w_in = _uniform(p, name, node, "r"), _uniform(p, name, node, "w_in")
            _zero(p, name, node, "v_leak")
            if ts < dt or tm < dt:
                raise _err(p, f"node '{name}' ({kind}): time constants {ts:g}, {tm:g} are below dt {dt:g}")
            model, alpha, beta = "cuba", 1.0 - dt / ts, 1.0 - dt / tm
            gain = (w_in * dt / ts) * (r * dt / tm)
        if model == "lif" and beta == 1.0:
            model = "if"
        if abs(gain - 1.0) < 1e-12:
            gain = 1.0
        never = False
        if not isinstance(node, (nir.I, nir.LI, nir.CubaLI)):
            vt = np.asarray(node.v_threshold, dtype=np.float64)
            never = vt.size > 0 and bool(np.all(vt >= NEVER))
        if isinstance(node, (nir.I, nir.LI, nir.CubaLI)) or never or _mstr(meta.get("snn2hw", "")) == "readout":
            # NIR's integrators, or (snn2hw's default encoding) a population that never fires: its membrane
            # is the output
            return N.Neuron(model=model, beta=beta, alpha=alpha, input_gain=gain, readout=True,
                            threshold=float("inf"), metadata={"nir_type": kind})
        _zero(p, name, node, "v_reset")
        th = _channels(p, name, node, "v_threshold")
        compare = "gt"
        if self.own and _mstr(meta.get("compare", "")) == "gt" and "threshold" in meta:  # Sinabs targets
            a = np.asarray(meta["threshold"], dtype=np.float64)
            if a.shape != np.shape(node.v_threshold) or not np.all(np.isfinite(a)):
                raise _err(p, f"node '{name}' ({kind}): metadata 'threshold' does not match v_threshold")
            th = _channels(p, name, SimpleNamespace(v_threshold=a), "v_threshold")
        elif _mstr(meta.get("compare", "")) == "ge":  # written by snn2hw: theta in metadata, v_threshold below it
            compare = "ge"
            if "threshold" in meta:
                a = np.asarray(meta["threshold"], dtype=np.float64)
                if a.shape != np.shape(node.v_threshold) or not np.all(np.isfinite(a)):
                    raise _err(p, f"node '{name}' ({kind}): metadata 'threshold' does not match v_threshold")
                th = _channels(p, name, SimpleNamespace(v_threshold=a), "v_threshold")
            else:  # older snn2hw files: v_threshold = nextafter(theta, -inf) in float64
                th = np.nextafter(th, np.inf) if isinstance(th, np.ndarray) else float(np.nextafter(th, np.inf))
        reset = self.reset_of(name, kind, meta, beta)
        return N.Neuron(model=model, beta=beta, alpha=alpha, input_gain=gain, threshold=th, compare=compare,
                        reset=reset, metadata={"nir_type": kind})

    def node(self, name, node, in_shape):
        import nir
        p = self.path
        kind = type(node).__name__
        if isinstance(node, nir.Input):
            shape = tuple(int(s) for s in np.asarray(node.input_type["input"]).reshape(-1))
            return N.Input(shape=shape)
        if isinstance(node, nir.Output):
            return N.Output()
        if isinstance(node, nir.Affine):
            return N.Dense(weight=np.asarray(node.weight, dtype=np.float64),
                           bias=np.asarray(node.bias, dtype=np.float64).reshape(-1))
        if isinstance(node, nir.Linear):
            return N.Dense(weight=np.asarray(node.weight, dtype=np.float64))
        if isinstance(node, nir.Conv2d):
            w = np.asarray(node.weight, dtype=np.float64)
            stride, dil = _pair(node.stride), _pair(node.dilation)
            pad = node.padding
            if isinstance(pad, (str, bytes)):
                pad = _mstr(pad)
                if pad == "valid":
                    pad = (0, 0)
                elif pad == "same":
                    eff = [d * (k - 1) for d, k in zip(dil, w.shape[2:])]
                    if any(e % 2 for e in eff) or stride != (1, 1):
                        raise _err(p, f"node '{name}' (Conv2d): padding 'same' with an even kernel or a stride "
                                      f"is asymmetric; snn2hw supports symmetric padding only")
                    pad = (eff[0] // 2, eff[1] // 2)
                else:
                    raise _err(p, f"node '{name}' (Conv2d): unknown padding {pad!r}")
            bias = None if node.bias is None else np.asarray(node.bias, dtype=np.float64).reshape(-1)
            if bias is not None and bias.size == 1 and w.shape[0] > 1:
                bias = np.full(w.shape[0], float(bias[0]))
            groups = int(np.asarray(node.groups).reshape(-1)[0])
            meta = _meta(node)
            if groups == 1 and "groups" in meta:  # snn2hw wrote a grouped conv as its block-diagonal equivalent
                groups = _regroup_count(p, name, w, meta["groups"])
                if groups > 1:
                    w = _regroup(w, groups)
            return N.Conv2d(weight=w, bias=bias, stride=stride, padding=_pair(pad), dilation=dil, groups=groups)
        if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            cls = N.SumPool2d if isinstance(node, nir.SumPool2d) else N.AvgPool2d
            return cls(kernel_size=_pair(node.kernel_size), stride=_pair(node.stride), padding=_pair(node.padding))
        if isinstance(node, nir.Flatten):
            sd, ed = int(node.start_dim), int(node.end_dim)
            if ed != -1 or sd > 1:
                raise _err(p, f"node '{name}' (Flatten): start_dim={sd}, end_dim={ed} is a partial flatten; "
                              f"snn2hw supports flattening all feature dimensions only")
            return N.Flatten()
        if isinstance(node, nir.Scale):
            s = _channels(p, name, node, "scale")
            C = (in_shape or (np.size(s),))[0]
            gamma = np.broadcast_to(np.asarray(s, dtype=np.float64), (C,)).copy()
            return N.BatchNorm(gamma=gamma, beta=np.zeros(C), mean=np.zeros(C), var=np.ones(C), eps=0.0,
                               metadata={"nir_type": "Scale"})
        if isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF, nir.I, nir.LI, nir.CubaLI)):
            return self.neuron(name, node)
        raise _err(p, f"node '{name}' has the unsupported NIR type {kind}"
                      + (" (nested subgraphs, e.g. recurrent layers, are not supported)" if kind == "NIRGraph" else "")
                      + f"; supported types: {', '.join(SUPPORTED)}")

    def graph(self) -> Graph:
        p, ng = self.path, self.ng
        names = list(ng.nodes)
        for s, d in ng.edges:
            for end in (s, d):
                if end not in ng.nodes:
                    raise _err(p, f"edge ({s} -> {d}) names the node '{end}', which is not in the graph "
                                  f"(dangling edge; nodes: {names})")
        edges = list(dict.fromkeys((str(s), str(d)) for s, d in ng.edges))
        preds = {n: [s for s, d in edges if d == n] for n in names}
        # topological order (a cycle = recurrence, which snn2hw does not support)
        indeg = {n: len(preds[n]) for n in names}
        order, ready = [], [n for n in names if indeg[n] == 0]
        while ready:
            n = ready.pop(0)
            order.append(n)
            for s, d in edges:
                if s == n:
                    indeg[d] -= 1
                    if indeg[d] == 0:
                        ready.append(d)
        if len(order) != len(names):
            cyc = sorted(n for n in names if n not in order)
            raise _err(p, f"the NIR graph has a cycle through nodes {cyc} (recurrent connections are not "
                          f"supported by snn2hw)")
        g = Graph()
        shapes = {}
        for n in order:
            src = preds[n]
            in_shape = shapes.get(src[0]) if src else None
            node = self.node(n, ng.nodes[n], in_shape)
            inputs = src
            if len(src) > 1:
                add = g.unique_name(f"{n}.sum")
                g.add(add, N.Add(), src)
                inputs = [add]
            if isinstance(node, N.Output) and len(inputs) == 1 and not isinstance(g.nodes[inputs[0]], N.Neuron):
                ro = g.unique_name(f"{n}.readout")
                g.add(ro, N.Neuron(model="if", readout=True, threshold=float("inf")), inputs)
                inputs = [ro]
                self.notes.append(f"output '{n}' follows a {type(g.nodes[src[0]]).__name__}: a readout integrator "
                                  f"'{ro}' was inserted (the output is the time-sum)")
            g.add(n, node, inputs)
            probs = g.infer_shapes()
            if probs:
                raise GraphError(probs, context=f"NIR graph in {p}")
            shapes[n] = g.nodes[n].output_shape
        return g


def _scalar(v, default=None):
    try:
        a = np.asarray(v).reshape(-1)
        x = a[0].item() if a.size == 1 else default
    except (TypeError, ValueError):
        return default
    return x.decode("utf8", "replace") if isinstance(x, bytes) else x


INT_NEURON_KEYS = ("int_du", "int_dv", "int_vth", "int_bias_exp", "int_reset", "int_compare")


def _restore_integer(path, ng, meta, g: Graph) -> None:
    """An integer file (``metadata["integer"] = 1``, written by ``export_nir(integer=True)``): give ``g`` back its
    integer network (input step and width, integer weights and exponents, Loihi neuron parameters), so the
    reference simulator's integer mode runs exactly the network the file was exported from.

    The float fields stay the file's float reading (integer units), with the first synapses divided by the
    input step so that float inputs give the same currents as the integer inputs ``round(x / step)``.
    """
    from snn2hw.ir.topology import GLUE
    how = ("re-export it with snn2hw export --format nir (snn2hw >= this version records them), or load the "
           "ir/model.s2h beside it")
    missing = [k for k in ("input_step", "state_scale", "int_semantics") if k not in meta]
    if missing:
        raise _err(path, f"an integer NIR file (metadata integer=1) without the integer semantics: missing graph "
                         f"metadata {missing}. Without them its numbers cannot be read as the integer network "
                         f"(the input step and integer weights/thresholds would be lost); {how}")
    sem, scale = _scalar(meta["int_semantics"], ""), _scalar(meta["state_scale"], None)
    if sem != "loihi-cuba-fixed-point-v1" or scale != 64:
        raise _err(path, f"integer semantics {sem!r} with state scale {scale!r} are not the ones this snn2hw "
                         f"implements ('loihi-cuba-fixed-point-v1', 64)")
    step = _scalar(meta["input_step"], None)
    if not isinstance(step, (int, float)) or not (math.isfinite(step) and step > 0):
        raise _err(path, f"metadata input_step = {meta['input_step']!r} is not a positive number")
    bits, signed = _scalar(meta.get("input_bits", 8), 8), bool(_scalar(meta.get("input_signed", 0), 0))
    problems = []
    for name in g.inputs:
        g.nodes[name].step, g.nodes[name].bits, g.nodes[name].signed = float(step), int(bits), signed
    for name, node in g.nodes.items():
        src = ng.nodes.get(name)
        m = _meta(src) if src is not None else {}
        if isinstance(node, N.SYNAPSES):
            if "int_weight_exp" not in m:
                problems.append(f"synapse '{name}' has no int_weight_exp")
                continue
            e = int(_scalar(m["int_weight_exp"], 0))
            q = node.weight / 2.0 ** e
            if not np.array_equal(q, np.round(q)):
                problems.append(f"synapse '{name}': weight / 2^{e} is not an integer")
                continue
            node.weight_int, node.weight_exp = np.round(q).astype(np.int64), e
            pre = g.predecessors(name)
            while pre and isinstance(g.nodes[pre[0]], GLUE) and g.predecessors(pre[0]):
                pre = g.predecessors(pre[0])
            if pre and isinstance(g.nodes[pre[0]], N.Input):  # float view: x instead of round(x / step)
                node.weight = node.weight / float(step)
        elif isinstance(node, N.Neuron):
            lack = [k for k in INT_NEURON_KEYS if k not in m]
            if lack:
                problems.append(f"neuron '{name}' lacks {lack}")
                continue
            node.du, node.dv = int(_scalar(m["int_du"])), int(_scalar(m["int_dv"]))
            node.vth = np.asarray(m["int_vth"], dtype=np.int64).reshape(-1)
            node.bias_exp = int(_scalar(m["int_bias_exp"]))
            node.bias_mant = (np.asarray(m["int_bias_mant"], dtype=np.int64).reshape(-1)
                              if "int_bias_mant" in m else None)
            node.int_reset, node.int_compare = _mstr(m["int_reset"]), _mstr(m["int_compare"])
    if problems:
        raise _err(path, "an integer NIR file whose integer semantics are incomplete:\n  " + "\n  ".join(problems)
                   + f"\n{how}")
    for k in ("profile",):
        if k in meta:
            g.metadata[k] = _mstr(meta[k])
    g.metadata["quantized"] = {"profile": g.metadata.get("profile"), "source": "nir"}


RESETS = ("zero", "subtract")


def _without_v_reset(f) -> list:
    """Spiking nodes of the top graph stored without ``v_reset`` (NIR <= 1.0.5 files: subtractive reset)."""
    import h5py
    try:
        nodes = f.get("node/nodes")
        if not isinstance(nodes, h5py.Group):
            return []
        return [k for k, v in nodes.items() if isinstance(v, h5py.Group) and isinstance(v.get("type"), h5py.Dataset)
                and _mstr(v["type"][()]) in ("IF", "LIF", "CubaLIF") and "v_reset" not in v]
    except Exception:  # noqa: BLE001 - a malformed file is reported by nir.read below
        return []


def load_nir(path, dt: float | None = None, as_integer: bool = True, reset: str | None = None) -> Graph:
    """Read a NIR file as a snn2hw Graph (see the module docstring for the conventions).

    ``reset`` (CLI ``--nir-reset``): how spiking neurons of a file not written by snn2hw reset, since NIR does
    not record it: ``"zero"`` or ``"subtract"``. ``None`` (default) reads them as reset to zero and warns
    (:class:`NIRResetWarning`, naming the nodes). snn2hw's own files record the reset and ignore this.

    An integer file (written by ``export_nir(integer=True)``, ``metadata["integer"] = 1``) becomes the quantized
    integer graph it was written from (refused if its integer metadata is missing). ``as_integer=False`` reads
    it as its plain NIR (float) meaning instead, in integer units: inputs ``round(x / step)``, readout x 64.
    """
    path = Path(path)
    if not path.is_file():
        raise NIRImportError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    try:
        import h5py
        import nir
    except ImportError as e:  # pragma: no cover
        raise NIRImportError(f"{path}: reading NIR needs the 'nir' package (pip install nir==1.0.8): {e}") from None
    from snn2hw.util.h5probe import probe_hdf5
    probe_hdf5(path, "a NIR graph (.nir)", error=NIRImportError)  # libhdf5 may loop or crash on a corrupt file: not in this process
    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
            version = _mstr(f["version"][()]) if "version" in f and isinstance(f["version"], h5py.Dataset) else "?"
            no_v_reset = _without_v_reset(f)
    except (OSError, ValueError) as e:
        raise NIRImportError(f"{path} is not a readable HDF5 file ({e}); expected a NIR graph (.nir)") from None
    if "node" not in keys:
        raise NIRImportError(f"{path} is an HDF5 file but not a NIR graph (no 'node' group; top-level keys "
                             f"{sorted(keys)})")
    try:
        ng = nir.read(path, type_check=False)
    except Exception as e:  # nir/h5py raise KeyError, ValueError, TypeError, ... on malformed content
        raise NIRImportError(f"{path}: the NIR content cannot be read (NIR version {version}): "
                             f"{type(e).__name__}: {e}") from None
    if not isinstance(ng, nir.NIRGraph):
        raise NIRImportError(f"{path}: the top-level NIR node is a {type(ng).__name__}, not a NIRGraph")
    meta = _meta(ng)
    if dt is None:
        try:
            dt = float(np.asarray(meta.get("dt", DEFAULT_DT)).reshape(-1)[0])
        except (TypeError, ValueError):
            dt = DEFAULT_DT
        if not (math.isfinite(dt) and dt > 0):
            dt = DEFAULT_DT
    is_int = bool(_scalar(meta.get("integer", 0), 0))
    integer = is_int and as_integer
    if reset is not None and reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS} or None, got {reset!r}")
    own = _mstr(meta.get("writer", "")) == "snn2hw"
    reader = _Reader(path, ng, float(dt), reset=reset, own=own, no_v_reset=no_v_reset)
    g = reader.graph()
    for msg in reader.reset_warnings():
        warnings.warn(msg, NIRResetWarning, stacklevel=3)
        reader.notes.append(msg)
    if integer:
        _restore_integer(path, ng, meta, g)
    g.metadata.update({"source": "nir", "nir_file": Path(path).name, "nir_version": version, "dt": float(dt)})
    for k in ("timesteps", "encoding", "dataset", "input_step"):
        if k in meta:
            v = np.asarray(meta[k])
            v = v.item() if v.shape == () else None
            if isinstance(v, bytes):
                v = v.decode("utf8", "replace")
            if v is not None:
                g.metadata[k] = v
    if reader.notes:
        g.metadata["nir_import_notes"] = reader.notes
    step = g.metadata.get("input_step")
    if isinstance(step, (int, float)) and step > 0 and not is_int:
        for name in g.inputs:
            g.nodes[name].step = float(step)
    try:
        g.validate()
    except GraphError as e:
        raise GraphError(e.problems, context=f"NIR graph in {path}") from None
    return g
