"""Lava (Loihi 2) export: a netx-format HDF5 file plus a runner for the real lava-nc.

``export_lava(graph, out_dir)`` writes, for an integer graph (``snn2hw.convert``):

* ``model.net``: the network in lava-dl netx's HDF5 format
  (``shared/reference/LAVA.md`` §3): group ``layer`` with ``"0"``, ``"1"``, ...;
  an ``input`` layer (``shape`` (C, H, W); a vector input is written (N, 1, 1));
  ``conv`` (``weight`` (C_out, C_in/g, kH, kW) as torch cross-correlation,
  ``stride``/``padding``/``dilation`` in (H, W) order, ``groups``), ``flatten``
  and ``dense`` (``weight`` (out, in)) layers, each synapse with a ``neuron``
  group (``type`` b'CUBA', ``iDecay = du + 1``, ``vDecay = dv``,
  ``vThMant = vth``; per-channel (conv) or per-neuron (dense) ``bias`` with
  netx's fixed bias_exp 6). ``type`` datasets are bytes of shape (1,), as
  slayer writes them.
* ``model.lava.json``: the manifest: graph names of every layer, synaptic
  depths, the output kind, the netx verdict and the exporter's notes. The
  runner reads it next to ``model.net``.

Exactness. The file means exactly the integer model that
``simulate(graph, x, mode='int')`` runs:

* A weight exponent ``e >= 0`` is folded into the weights (``W << e``): Lava's
  Conv ignores ``weight_exp`` (lava#803) and netx re-derives it for Dense.
* Sum pooling before a synapse is folded into it. Before a Conv, a
  ``SumPool2d(k, stride k, padding 0)`` on an input whose size is divisible by
  ``k`` followed by ``Conv2d(K, stride s, padding p, dilation d)`` is one Conv
  with kernel ``k*d*(K-1) + k`` (``w'[k*d*i + a] = w[i]``, zeros elsewhere),
  stride ``k*s`` and padding ``k*p`` on the unpooled input. Before a Dense
  (through Flatten) any sum pooling is linear, so the Dense gets the pooling's
  adjoint applied to its rows (weights repeated over each window, torch
  flatten order).
* Thresholds: netx/Lava LIF have one ``vth`` per layer; a per-channel
  threshold whose values differ is **refused** (no exact rescaling exists
  under Lava's truncating leak). A readout (never fires in the IR) is written
  with ``vThMant >= 2^17`` so ``v > vth << 6`` can never hold (|v| <= 2^23 - 1).
* Lava's LIF fires on ``v > vth << 6`` and resets to 0: ``int_compare='ge'`` or
  ``int_reset='subtract'`` layers are refused.
* Dense layers are checked against netx's weight handling (LAVA.md §3, "safe
  rule"): integers in [-256, 254] with both signs present, or all in
  [0, 255] (not all zero), or all strictly negative in [-255, -1] with a
  minimum that is not minus a power of two. Anything else loads into netx
  inexactly (netx's ``optimize_weight_bits`` truncates) or not at all.

lava-dl netx. A chain ``model.net`` runs in lava-dl 0.6.0's own loader exactly as
``simulate(mode='int')`` with ``hdf5.Network(net_config='model.net', input_message_bits=8,
reset_interval=T + L, reset_offset=1)`` (``lava_netx_runner.py`` says why each argument;
``snn2hw run-lava --runtime netx`` runs it so). Dense weights are what netx re-derives with its
``optimize_weight_bits``: ``snn2hw export --format lava`` quantizes with ``netx=True`` (exponents
capped so ``W_int << e`` stays in netx's exact range, ``snn2hw.ir.netx``), and
``export_lava`` refuses (strict, nothing written) a chain graph netx would mis-run unless
``allow_netx_incompatible=True`` (``--allow-netx-incompatible``).

Refusals vs. netx-incompatibility. What Lava itself cannot run exactly (the
threshold/compare/reset cases, non-foldable pooling, a negative weight
exponent, a delayed conv whose sums could reach 2^23, an extra delay above 63,
anything but ``Add`` between a synapse and its neuron, a spike path into a
neuron without a synapse) raises :class:`~snn2hw.errors.Snn2hwError` naming every
offending layer and why, and nothing is written. What only netx would get wrong, while our runner (which
builds lava-nc processes itself) is exact, is refused unless ``allow_netx_incompatible``; then ``model.net`` is
written with the true integer weights, the manifest and the returned dict say
``netx: "netx-incompatible: <reasons>"`` and the HDF5 root attribute
``snn2hw_netx_compatible`` is 0 (reasons in ``snn2hw_netx_reasons``). Our extension
keys, which netx never reads: ``neuron/snn2hwBiasExp`` (a bias whose value is not a
multiple of 64 is written as mantissa plus this exponent instead of netx's 6),
``snn2hwName`` (the graph's neuron name) and ``snn2hwDepth`` per layer.

Residual graphs (``Add``) and branching: the residual form ``snn2hw-residual/2``.
A neuron may sum the currents of several synapses through ``Add`` nodes (a
ResNet block: conv2 plus an identity depthwise 1x1 conv or a 1x1-conv shortcut,
see ``insert_identity_synapses``), and a population may feed several synapses.
netx reads ``layer/`` as a chain and has no Add, branching or per-path delay, so such
a graph is written (root attribute ``snn2hw_format = "snn2hw-residual/2"``, always
netx-incompatible with that reason) in a form netx refuses to load:

* ``layer/0``: the ``input`` layer as above; ``layer/1``: a ``concat`` layer (netx's
  loader raises ``NotImplementedError: concat is not implemented.``, so a user who
  tries the file in netx stops at load time instead of running a wrong chain), with an
  ``snn2hwNote`` saying so. Nothing else is under ``layer/``.
* ``snn2hw_synapses/1 .. snn2hw_synapses/K``: ONE GROUP PER SYNAPSE, neurons in topological order and
  each neuron's input synapses in graph order, with the netx keys of a ``conv`` /
  ``dense`` layer (no ``flatten`` groups: a dense reading a (C, H, W) population
  uses torch flatten order) plus ``delay`` (the extra delay, see below),
  ``snn2hwSynapse``, ``snn2hwSource`` (the Input or Neuron it reads),
  ``snn2hwInShape`` (that population's shape), ``snn2hwName`` (the neuron it
  drives) and ``snn2hwDepth`` (that neuron's depth). Only the neuron's first
  synapse carries ``bias`` and the ``neuron`` group. (``snn2hw-residual/1`` files, from
  earlier versions, held these groups under ``layer/`` and are still read by the runner.)
* ``graph/json``: one UTF-8 JSON string ``{"format": "snn2hw-residual/2",
  "input": name, "output": neuron name, "num_synapse_layers": L, "neurons":
  [{"name", "depth", "shape", "readout", "layer": "<group with its neuron
  parameters>", "inputs": [{"layer", "synapse", "kind", "source", "delay"}]}]}``.

Delays. In the aligned frame all inputs of an Add arrive at the same step; on
the chip each synapse stage delays by one step, so a synapse from a source
population at depth ``d_src`` into a neuron at depth ``d`` (``depths()``) gets
``delay = d - d_src - 1`` extra steps (0 on the longest path; 1 for the shortcut
of a two-conv ResNet block). The runner realises it with Lava's ``DelayDense``
(``delay d`` adds d steps, LAVA.md §1) for dense synapses (same exact
``2*W0, weight_exp k-1`` recipe and base-128 digit split) and, since Lava's Conv
has no delay, by unrolling a delayed conv into its exact sparse matrix in a
``DelaySparse`` (nnz = outputs x kernel taps, fine for any map size). The Conv
wraps its sums at 24 bits, the DelaySparse at 32, so a delayed conv whose sums
could reach 2^23 (row |w| sum x max input) is refused. Every neuron is a
``LIFReset`` with ``reset_offset = depth + 1`` and ``reset_interval = T + L``,
L the maximum depth, as for chains.

``run_lava(out_dir, x_int)`` runs ``lava_runner.py`` in ``.venv-lava`` (lava-nc
0.10.0, ``Loihi2SimCfg(select_tag='fixed_pt')``) in its own process group under
a timeout and returns outputs aligned with ``simulate(..., mode='int')``.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from snn2hw.errors import Snn2hwError
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.netx import NETX_DENSE_EXACT, netx_dense_verdict  # noqa: F401 (re-exported)
from snn2hw.ir.topology import POPULATIONS, depths, walk
from snn2hw.util.atomic import check_output_folder, write_bytes, write_text

MODEL_FILE = "model.net"
MANIFEST_FILE = "model.lava.json"
RUNNER = Path(__file__).resolve().parent / "lava_runner.py"
#: loads model.net with lava-dl 0.6.0's own netx.hdf5.Network (see that file for the arguments)
NETX_RUNNER = Path(__file__).resolve().parent / "lava_netx_runner.py"
RUNTIMES = ("ours", "netx")
#: vth << 6 with vth >= 2^17 exceeds v's saturation 2^23 - 1: never fires
NEVER_FIRE_VTH = 2 ** 17
NETX_BIAS_EXP = 6
#: largest |W| the runner's exact Dense recipe (weights 2*W, weight_exp -1) accepts
DENSE_MANT_MAX = 127
#: Lava's DelayDense / DelaySparse accept delays 0..63 (6 bits)
MAX_DELAY = 63
RESIDUAL_FORMAT = "snn2hw-residual/2"
#: the residual form's synapse groups (netx never reads this group)
RESIDUAL_SYNAPSES = "snn2hw_synapses"
RESIDUAL_NETX_NOTE = ("snn2hw residual/branching graph: lava-dl netx cannot run it (no Add, branching or per-path "
                      "delays); run it with `snn2hw run-lava --runtime ours`")


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def lava_python() -> Path:
    """The Lava interpreter (``<repo>/.venv-lava/bin/python``, or ``$SNN2HW_LAVA_PYTHON``)."""
    env = os.environ.get("SNN2HW_LAVA_PYTHON")
    return Path(env) if env else _repo_root() / ".venv-lava" / "bin" / "python"


@dataclass
class LavaLayer:
    """One synapse + neuron stage as written to ``model.net``."""

    kind: str                      # 'conv' | 'dense'
    synapse: str                   # graph names
    neuron: str
    weight: np.ndarray             # conv (Cout, Cin/g, kH, kW); dense (out, in); int64, exponent folded
    in_shape: tuple                # (C, H, W) or (N,)
    out_shape: tuple
    depth: int
    du: int = 0
    dv: int = 0
    vth: int = 0
    bias: Optional[np.ndarray] = None   # per channel (conv) / per neuron (dense), mantissa
    bias_exp: int = NETX_BIAS_EXP
    readout: bool = False
    flatten_before: bool = False
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1
    source: str = ""               # the population the synapse reads (Input or Neuron name)
    delay: int = 0                 # extra delay in steps (DelayDense / DelaySparse in the runner)
    primary: bool = True           # the neuron's first input synapse: carries the neuron parameters
    notes: list = field(default_factory=list)


# ----------------------------------------------------------------------------- folding helpers
def _fold_pool_into_conv(w: np.ndarray, stride, padding, dilation, pool: N.SumPool2d, in_hw) -> tuple:
    """``SumPool2d(k, stride k, pad 0)`` then Conv == one Conv on the unpooled input (see module doc).

    Returns ``(w', stride', padding')`` (dilation becomes 1) or raises ValueError with the reason.
    """
    k = pool.kernel_size
    if tuple(pool.stride) != tuple(k) or any(pool.padding):
        raise ValueError(f"sum pooling '{{pool}}' has stride {pool.stride} / padding {pool.padding}; only "
                         f"non-overlapping unpadded pooling (stride = kernel {k}) folds into a following Conv")
    if in_hw[0] % k[0] or in_hw[1] % k[1]:
        raise ValueError(f"sum pooling '{{pool}}' kernel {k} does not divide its input size {tuple(in_hw)}")
    cout, cin, kh, kw = w.shape
    nh = k[0] * dilation[0] * (kh - 1) + k[0]
    nw = k[1] * dilation[1] * (kw - 1) + k[1]
    out = np.zeros((cout, cin, nh, nw), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = k[0] * dilation[0] * i, k[1] * dilation[1] * j
            out[:, :, y0:y0 + k[0], x0:x0 + k[1]] = w[:, :, i:i + 1, j:j + 1]
    return (out, (k[0] * stride[0], k[1] * stride[1]), (k[0] * padding[0], k[1] * padding[1]))


def _glue_adjoint(w: np.ndarray, glue: list, in_shape: tuple) -> np.ndarray:
    """Dense rows ``w`` (out, prod(glue output)) pulled back through ``glue`` (SumPool2d / Flatten) to ``in_shape``."""
    import torch
    import torch.nn.functional as F

    x = torch.zeros((w.shape[0],) + tuple(in_shape), dtype=torch.float64, requires_grad=True)
    y = x
    for node in glue:
        if isinstance(node, N.SumPool2d):
            y = F.avg_pool2d(y, node.kernel_size, node.stride, node.padding, count_include_pad=True,
                             divisor_override=1)
        elif isinstance(node, N.Flatten):
            y = y.flatten(1)
    y = y.reshape(w.shape[0], -1)
    (y * torch.as_tensor(w, dtype=torch.float64)).sum().backward()
    g = x.grad.reshape(w.shape[0], -1).numpy()
    return np.rint(g).astype(np.int64)


def dense_mantissa(w: np.ndarray) -> Optional[tuple]:
    """``(W0, k)`` with ``W = W0 << k`` and ``|W0| <= 127`` (the runner's exact Dense recipe), or None."""
    w = np.asarray(w, dtype=np.int64)
    for k in range(0, 31):
        if np.any(w % (1 << k)):
            break
        w0 = w >> k
        if np.abs(w0).max(initial=0) <= DENSE_MANT_MAX:
            return w0, k
    return None


# ----------------------------------------------------------------------------- planning
def _input_synapses(graph: Graph, neuron: str) -> tuple:
    """``(synapses, problems)``: the synapses whose currents a neuron sums (through ``Add`` nodes only)."""
    syns, probs = [], []
    for end in walk(graph, neuron, "up", through=(N.Add,), stop_at=N.SYNAPSES):
        n, node = end.node, graph.nodes[end.node]
        if end.kind == "stop":
            syns.append(n)
        elif isinstance(node, POPULATIONS):
            probs.append(f"population '{n}' reaches neuron '{neuron}' without a synapse (run snn2hw convert: "
                         f"it inserts identity synapses)")
        else:
            probs.append(f"node '{n}' ({type(node).__name__}) between a synapse and neuron '{neuron}' is not "
                         f"supported by the Lava exporter (only Add may sum synaptic currents)")
    order = list(graph.nodes)
    return sorted(syns, key=order.index), probs


def _glue_chain(graph: Graph, synapse: str) -> tuple:
    """``(source population, [glue nodes from the population to the synapse], problem or None)``."""
    (end,) = walk(graph, synapse, "up", through=(N.SumPool2d, N.Flatten), stop_at=POPULATIONS, fork="end")
    n, glue = end.node, list(end.path)
    if end.kind == "fork":
        return None, glue, f"node '{n}' has {len(graph.predecessors(n))} inputs on the way to synapse '{synapse}'"
    if end.kind == "other":
        return None, glue, (f"node '{n}' ({type(graph.nodes[n]).__name__}) before synapse '{synapse}' is not "
                            f"supported by the Lava exporter")
    return n, glue[::-1], None


def _plan_synapse(graph: Graph, syn_name: str, neu_name: str, src: str, glue: list, probs: list,
                  netx_reasons: list, depth: int) -> LavaLayer:
    syn, neu = graph.nodes[syn_name], graph.nodes[neu_name]
    src_shape = tuple(graph.nodes[src].output_shape)
    where = f"layer '{syn_name}' -> '{neu_name}'"
    e = int(syn.weight_exp)
    if e < 0:
        probs.append(f"negative weight exponent {e} (a floor shift of the sum) has no exact Lava equivalent "
                     f"for this exporter")
        e = 0
    w = np.asarray(syn.weight_int, dtype=np.int64) << e
    L = LavaLayer(kind="conv" if isinstance(syn, N.Conv2d) else "dense", synapse=syn_name, neuron=neu_name,
                  weight=w, in_shape=src_shape, out_shape=tuple(neu.output_shape), depth=depth, source=src)
    if isinstance(syn, N.Conv2d):
        stride, padding, dilation = tuple(syn.stride), tuple(syn.padding), tuple(syn.dilation)
        for gname in reversed(glue):
            gnode = graph.nodes[gname]
            if isinstance(gnode, N.Flatten):
                probs.append(f"Flatten '{gname}' before conv '{syn_name}'")
                break
            try:
                w, stride, padding = _fold_pool_into_conv(w, stride, padding, dilation, gnode,
                                                          gnode.input_shape[1:])
                dilation = (1, 1)
                L.notes.append(f"sum pooling '{gname}' folded into conv '{syn_name}'")
            except ValueError as exc:
                probs.append(str(exc).replace("{pool}", gname))
                break
        L.weight, L.stride, L.padding, L.dilation, L.groups = w, stride, padding, dilation, syn.groups
    else:
        if glue:
            w = _glue_adjoint(w, [graph.nodes[g] for g in glue], src_shape)
            pools = [g for g in glue if isinstance(graph.nodes[g], N.SumPool2d)]
            if pools:
                L.notes.append(f"sum pooling {pools} folded into dense '{syn_name}' (weights expanded)")
        L.weight = w
        L.flatten_before = len(src_shape) == 3
        if dense_mantissa(w) is None:
            L.notes.append(f"dense '{syn_name}': weights in [{w.min()}, {w.max()}] exceed one Lava Dense "
                           f"(8-bit mantissa << exponent); the runner splits them into base-128 digits, "
                           f"one Dense each")
        if np.abs(w).max(initial=0) >= 2 ** 31:
            probs.append(f"weights up to {np.abs(w).max()} do not fit int32")
        reason = netx_dense_verdict(w)
        if reason is not None:
            netx_reasons.append(f"{where}: {reason}")
    return L


def _plan_neuron(graph: Graph, neu_name: str, L: LavaLayer, probs: list, netx_reasons: list, where: str):
    """Fill ``L``'s neuron fields (vth, decays, bias) from the graph's neuron ``neu_name``."""
    neu = graph.nodes[neu_name]
    C = L.out_shape[0]
    vth = np.asarray(neu.vth, dtype=np.int64).reshape(-1)
    if neu.readout:
        L.vth, L.readout = max(int(vth.max()), NEVER_FIRE_VTH), True
    elif np.unique(vth).size > 1:
        probs.append(f"per-channel thresholds ({np.unique(vth).size} distinct values in [{vth.min()}, "
                     f"{vth.max()}]): Lava/netx LIF has one vth per layer (use the per-layer threshold "
                     f"granularity)")
    else:
        L.vth = int(vth[0])
    if not neu.readout and neu.int_compare != "gt":
        probs.append(f"comparison '{neu.int_compare}': Lava's LIF fires only on v > vth << 6")
    if not neu.readout and neu.int_reset != "zero":
        probs.append(f"reset '{neu.int_reset}': Lava's LIF only resets v to 0")
    L.du, L.dv = int(neu.du), int(neu.dv)
    if not (-1 <= L.du <= 4095 and 0 <= L.dv <= 4096):
        probs.append(f"decays du={L.du}, dv={L.dv} outside Lava's 12-bit range")
    nb = C if (L.kind == "conv" and len(L.out_shape) == 3) else int(np.prod(L.out_shape))
    bm = np.zeros(1, np.int64) if neu.bias_mant is None else np.asarray(neu.bias_mant, np.int64).reshape(-1)
    if bm.size not in (1, nb):
        probs.append(f"bias has {bm.size} values, expected 1 or {nb}")
        return
    bm = np.broadcast_to(bm, (nb,)).copy()
    be = int(neu.bias_exp)
    val = bm << be if be >= 0 else bm >> -be
    if np.all(val % 64 == 0):
        L.bias, L.bias_exp = val >> 6, NETX_BIAS_EXP
    else:
        L.bias, L.bias_exp = bm, be
        netx_reasons.append(f"{where}: bias {bm.tolist()[:4]}... << {be} is not a multiple of 64 "
                            f"(netx fixes bias_exp at 6); written with the extension key "
                            f"neuron/snn2hwBiasExp")


def plan_lava(graph: Graph) -> tuple:
    """``(layers, refusals, netx_reasons)`` for a quantized graph (no file written).

    ``layers``: one :class:`LavaLayer` per synapse, neurons in topological order and each neuron's
    input synapses in graph order; the first synapse of a neuron (``primary``) carries its neuron
    parameters. ``delay`` is the synapse's extra delay (``depth(neuron) - depth(source) - 1``).
    """
    graph.validate()
    refusals, netx_reasons = [], []
    for name, node in graph.nodes.items():
        if isinstance(node, (N.AvgPool2d, N.BatchNorm)):
            refusals.append(f"node '{name}' ({type(node).__name__}) must be folded first (run snn2hw convert)")
        if isinstance(node, N.SYNAPSES) and node.weight_int is None:
            refusals.append(f"synapse '{name}' has no integer weights (run snn2hw convert)")
        if isinstance(node, N.Neuron) and (node.vth is None or node.du is None or node.dv is None):
            refusals.append(f"neuron '{name}' has no integer parameters (run snn2hw convert)")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        refusals.append(f"the Lava exporter needs exactly one Input and one Output "
                        f"(got {len(graph.inputs)} and {len(graph.outputs)})")
    else:
        opred = graph.predecessors(graph.outputs[0])
        if len(opred) != 1 or not isinstance(graph.nodes[opred[0]], N.Neuron):
            refusals.append(f"the Output '{graph.outputs[0]}' must be fed by one Neuron (got {opred})")
    if refusals:
        return [], refusals, []

    dep = depths(graph)
    inp = graph.nodes[graph.inputs[0]]
    in_max = max(abs(v) for v in inp.int_range())
    layers = []
    for neu_name in graph.topological_order():
        if not isinstance(graph.nodes[neu_name], N.Neuron):
            continue
        syns, probs = _input_synapses(graph, neu_name)
        if not syns and not probs:
            probs.append(f"neuron '{neu_name}' has no input synapse")
        if probs:
            refusals += probs
            continue
        for j, syn_name in enumerate(syns):
            where = f"layer '{syn_name}' -> '{neu_name}'"
            src, glue, prob = _glue_chain(graph, syn_name)
            if prob:
                refusals.append(f"{where}: {prob}")
                continue
            probs = []
            L = _plan_synapse(graph, syn_name, neu_name, src, glue, probs, netx_reasons, dep[neu_name])
            L.delay = dep[neu_name] - dep[src] - 1
            L.primary = j == 0
            if L.delay > MAX_DELAY:
                probs.append(f"extra delay {L.delay} exceeds Lava's DelayDense/DelaySparse maximum {MAX_DELAY}")
            if L.delay > 0 and L.kind == "conv":
                # the runner unrolls a delayed conv into a DelaySparse matrix: int32 sums instead of Conv's
                # 24-bit wrap, identical only while no sum can reach 2^23
                bound = int(np.abs(L.weight).reshape(L.weight.shape[0], -1).sum(1).max(initial=0))
                bound *= 1 if src != graph.inputs[0] else in_max
                if bound >= 2 ** 23:
                    probs.append(f"delayed conv sums may reach {bound} >= 2^23 (Lava's Conv wraps at 24 bits, the "
                                 f"DelaySparse that delays it does not)")
                L.notes.append(f"conv '{syn_name}' delayed by {L.delay} extra step(s): the runner unrolls it "
                               f"into an exact DelaySparse matrix")
            elif L.delay > 0:
                L.notes.append(f"dense '{syn_name}' delayed by {L.delay} extra step(s) (DelayDense)")
            if L.primary:
                _plan_neuron(graph, neu_name, L, probs, netx_reasons, where)
            else:
                p = next(x for x in reversed(layers) if x.neuron == neu_name and x.primary)
                L.du, L.dv, L.vth, L.bias, L.bias_exp, L.readout = p.du, p.dv, p.vth, p.bias, p.bias_exp, p.readout
            refusals += [f"{where}: {p}" for p in probs]
            layers.append(L)
    return layers, refusals, netx_reasons


def is_sequential(graph: Graph, layers: list) -> bool:
    """True if the planned layers form a chain netx can express (one synapse per neuron, no delays)."""
    prev = graph.inputs[0]
    for L in layers:
        if not L.primary or L.delay or L.source != prev:
            return False
        prev = L.neuron
    return bool(layers) and prev == graph.predecessors(graph.outputs[0])[0]


# ----------------------------------------------------------------------------- writing
def _bytes(h, name, s: str):
    h.create_dataset(name, data=np.array([s.encode("ascii")], dtype="S10"))


def _write_neuron(g, L: LavaLayer):
    n = g.create_group("neuron")
    _bytes(n, "type", "CUBA")
    n.create_dataset("iDecay", data=np.int64(L.du + 1))
    n.create_dataset("vDecay", data=np.int64(L.dv))
    n.create_dataset("vThMant", data=np.int64(L.vth))
    n.create_dataset("refDelay", data=np.int64(1))
    n.create_dataset("gradedSpike", data=np.bool_(False))
    if L.bias_exp != NETX_BIAS_EXP:
        n.create_dataset("snn2hwBiasExp", data=np.int64(L.bias_exp))


def _write_synapse(g, L: LavaLayer, residual: bool):
    _bytes(g, "type", L.kind)
    g.create_dataset("shape", data=np.array(L.out_shape, dtype=np.int64))
    g.create_dataset("weight", data=L.weight.astype(np.int64))
    if L.primary:
        g.create_dataset("bias", data=L.bias.astype(np.int64))
    if L.kind == "conv":
        g.create_dataset("stride", data=np.array(L.stride, dtype=np.int64))
        g.create_dataset("padding", data=np.array(L.padding, dtype=np.int64))
        g.create_dataset("dilation", data=np.array(L.dilation, dtype=np.int64))
        g.create_dataset("groups", data=np.int64(L.groups))
        g.create_dataset("inChannels", data=np.int64(L.in_shape[0]))
        g.create_dataset("outChannels", data=np.int64(L.out_shape[0]))
    else:
        g.create_dataset("inFeatures", data=np.int64(L.weight.shape[1]))
        g.create_dataset("outFeatures", data=np.int64(L.weight.shape[0]))
    g.create_dataset("snn2hwName", data=np.array([L.neuron.encode("utf-8")]))
    g.create_dataset("snn2hwDepth", data=np.int64(L.depth))
    if residual:
        g.create_dataset("delay", data=np.int64(L.delay))
        g.create_dataset("snn2hwSynapse", data=np.array([L.synapse.encode("utf-8")]))
        g.create_dataset("snn2hwSource", data=np.array([L.source.encode("utf-8")]))
        g.create_dataset("snn2hwInShape", data=np.array(L.in_shape, dtype=np.int64))
    if L.primary:
        _write_neuron(g, L)


def residual_graph(graph: Graph, layers: list) -> dict:
    """The ``graph`` description of the residual form (see the module doc); layer k is ``layer/<k+1>``."""
    neurons = []
    for k, L in enumerate(layers):
        if L.primary:
            neurons.append({"name": L.neuron, "depth": L.depth, "shape": list(L.out_shape), "readout": L.readout,
                            "layer": str(k + 1), "inputs": []})
        nd = next(n for n in neurons if n["name"] == L.neuron)
        nd["inputs"].append({"layer": str(k + 1), "synapse": L.synapse, "kind": L.kind, "source": L.source,
                             "delay": L.delay})
    return {"format": RESIDUAL_FORMAT, "input": graph.inputs[0],
            "output": graph.predecessors(graph.outputs[0])[0],
            "num_synapse_layers": max(L.depth for L in layers), "neurons": neurons}


def netx_snippet(num_synapse_layers) -> str:
    """The exact lava-dl netx loading call that runs a chain ``model.net`` as ``simulate(mode='int')`` does."""
    return (f"from lava.lib.dl.netx import hdf5\n"
            f"net = hdf5.Network(net_config='{MODEL_FILE}', input_message_bits=8,\n"
            f"                   reset_interval=T + {num_synapse_layers}, reset_offset=1)   # T: timesteps per sample")


def export_lava(graph: Graph, out_dir, allow_netx_incompatible: bool = False) -> dict:
    """Write ``model.net`` (+ ``model.lava.json``) for the integer ``graph``; see the module doc.

    Returns the manifest dict: ``files``, ``layers``, ``neurons``, ``residual``, ``netx``
    ("netx-compatible" or "netx-incompatible: <reasons>"), ``netx_compatible``, ``netx_loading``
    (the netx call and its arguments), ``notes``, ``refusals`` (always empty). Raises
    :class:`Snn2hwError` listing every layer Lava cannot run exactly, and (strict by default) every
    reason lava-dl netx would mis-run a chain graph unless ``allow_netx_incompatible``; nothing is
    written then. A residual graph is written in a form netx refuses to load (module doc).
    """
    import h5py

    layers, refusals, netx_reasons = plan_lava(graph)
    if refusals:
        raise Snn2hwError("the Lava exporter refuses this graph (nothing written):\n"
                          + "\n".join(f"  - {r}" for r in refusals))
    residual = not is_sequential(graph, layers)
    if netx_reasons and not residual and not allow_netx_incompatible:
        raise Snn2hwError("the Lava exporter refuses this graph: lava-dl netx would load model.net and run it "
                          "wrongly, without an error (nothing written):\n"
                          + "\n".join(f"  - {r}" for r in netx_reasons)
                          + "\nQuantize for netx (snn2hw export --format lava does it when it converts a "
                            "checkpoint; in Python snn2hw.convert(graph, profile, netx=True)), or pass "
                            "--allow-netx-incompatible (allow_netx_incompatible=True) to write it anyway: then "
                            "only `snn2hw run-lava --runtime ours` runs it correctly")
    out = check_output_folder(out_dir, files=(MODEL_FILE, MANIFEST_FILE))
    out.mkdir(parents=True, exist_ok=True)
    inp = graph.nodes[graph.inputs[0]]
    in_shape = tuple(inp.shape) if len(inp.shape) == 3 else (int(np.prod(inp.shape)), 1, 1)
    gdesc = residual_graph(graph, layers)
    if residual:
        netx_reasons = [f"residual/branching graph ({RESIDUAL_FORMAT}: one group per synapse under "
                        f"'{RESIDUAL_SYNAPSES}' plus a 'graph' group; netx reads layers as a chain and cannot "
                        f"express Add, branching or per-path delays, so the file's layer chain stops netx at "
                        f"load time: NotImplementedError 'concat is not implemented.')"] + netx_reasons
    netx_ok = not netx_reasons
    verdict = "netx-compatible" if netx_ok else "netx-incompatible: " + "; ".join(netx_reasons)
    path = out / MODEL_FILE
    image = io.BytesIO()  # built in memory, then written atomically (see snn2hw.util.atomic.write_bytes)
    with h5py.File(image, "w") as h:
        h.attrs["snn2hw_netx_compatible"] = int(netx_ok)
        h.attrs["snn2hw_netx_reasons"] = "; ".join(netx_reasons)
        h.attrs["snn2hw_format"] = RESIDUAL_FORMAT if residual else "netx"
        lay = h.create_group("layer")
        idx = 0
        g = lay.create_group(str(idx))
        _bytes(g, "type", "input")
        g.create_dataset("shape", data=np.array(in_shape, dtype=np.int64))
        if residual:
            # netx reads layer/ as a chain: a 'concat' layer (NotImplementedError in netx's loader) makes it stop
            # at load time instead of wiring the synapses in a row and running something else
            g = lay.create_group("1")
            _bytes(g, "type", "concat")
            g.create_dataset("snn2hwNote", data=np.array([RESIDUAL_NETX_NOTE.encode("utf-8")]))
            lay = h.create_group(RESIDUAL_SYNAPSES)
        for L in layers:
            if L.flatten_before and not residual:
                idx += 1
                g = lay.create_group(str(idx))
                _bytes(g, "type", "flatten")
                g.create_dataset("shape", data=np.array([int(np.prod(L.in_shape))], dtype=np.int64))
            idx += 1
            _write_synapse(lay.create_group(str(idx)), L, residual)
        if residual:
            gg = h.create_group("graph")
            gg.create_dataset("json", data=np.array([json.dumps(gdesc).encode("utf-8")]))
    write_bytes(path, image.getvalue())
    manifest = {
        "format": "snn2hw-lava/1",
        "files": [MODEL_FILE, MANIFEST_FILE],
        "input": {"name": graph.inputs[0], "shape": list(inp.shape), "step": inp.step, "bits": inp.bits,
                  "signed": bool(inp.signed)},
        "residual": residual,
        "layers": [{"kind": L.kind, "synapse": L.synapse, "neuron": L.neuron, "depth": L.depth,
                    "source": L.source, "delay": L.delay, "primary": L.primary,
                    "in_shape": list(L.in_shape), "out_shape": list(L.out_shape), "readout": L.readout,
                    "flatten_before": L.flatten_before, "notes": L.notes} for L in layers],
        "neurons": [{k: n[k] for k in ("name", "depth", "shape", "readout")} for n in gdesc["neurons"]],
        "num_synapse_layers": gdesc["num_synapse_layers"],
        "output": {"neuron": gdesc["output"],
                   "kind": "membrane" if next(n for n in gdesc["neurons"]
                                              if n["name"] == gdesc["output"])["readout"] else "spike_count"},
        "netx": verdict,
        "netx_compatible": netx_ok,
        "netx_loading": None if residual else {
            "call": netx_snippet(gdesc["num_synapse_layers"]), "input_message_bits": 8,
            "reset_interval": f"T + {gdesc['num_synapse_layers']}", "reset_offset": 1},
        "notes": [n for L in layers for n in L.notes] + [f"{MODEL_FILE} is {verdict}"] + (
            [f"WARNING: lava-dl netx would load {MODEL_FILE} and run it wrongly (exported with "
             f"--allow-netx-incompatible); only `snn2hw run-lava --runtime ours` runs it correctly"]
            if netx_reasons and not residual else
            [f"{MODEL_FILE} is a residual graph: lava-dl netx refuses to load it; run it with "
             f"`snn2hw run-lava --runtime ours`"] if residual else
            [f"load it in lava-dl netx with hdf5.Network(net_config='{MODEL_FILE}', input_message_bits=8, "
             f"reset_interval=T + {gdesc['num_synapse_layers']}, reset_offset=1) (docs/LAVA.md)"]),
        # what Lava cannot run exactly raises Snn2hwError instead (nothing is written); kept for callers
        "refusals": [],
    }
    write_text(out / MANIFEST_FILE, json.dumps(manifest, indent=1))
    return manifest


# ----------------------------------------------------------------------------- running
def run_lava(out_dir, x_int, record=False, timeout: float = 600, runtime: str = "ours") -> dict:
    """Run an exported model in the real Lava on integer input ``x_int`` ``[T, B, *input_shape]``.

    All B samples go back to back through one Lava run of ``B * (T + L)`` steps
    (``LIFReset`` clears every layer between samples). Returns a dict:
    ``output`` ``[B, classes]`` int64 aligned with ``simulate(..., mode='int').output``
    (spike counts over the sample's T aligned steps, or the readout membrane at
    its last aligned step), ``output_kind``, ``lava_steps``, ``lava_run_s`` (the
    Lava run itself), ``wall_s`` (subprocess), and with ``record=True`` ``record``:
    ``{"spikes"|"u"|"v": {neuron name: [T, B, *shape]}}`` in the aligned frame
    (``record="spikes"``: spikes only, which is cheap; u and v need Lava Monitors,
    which make the run about 10x slower). A missing ``.venv-lava``, a timeout after
    ``timeout`` seconds, a runner that fails or dies from a signal raise
    :class:`Snn2hwError`; in every case (KeyboardInterrupt too) the runner's whole
    process group is killed and its temporary files removed.

    ``runtime="ours"`` runs ``lava_runner.py`` (lava-nc processes built from the file by snn2hw);
    ``runtime="netx"`` runs ``lava_netx_runner.py``, which loads ``model.net`` with lava-dl 0.6.0's
    ``netx.hdf5.Network(input_message_bits=8, reset_interval=T + L, reset_offset=1)``, as a
    Loihi 2 user does (it needs lava-dl's netx in ``.venv-lava``: ``make lava-venv``).
    """
    return run_lava_many([(out_dir, x_int)], record=record, timeout=timeout, runtime=runtime)[0]


def run_lava_many(jobs, record=False, timeout: float = 600, runtime: str = "ours") -> list:
    """:func:`run_lava` for several ``(out_dir, x_int)`` jobs in ONE Lava interpreter (one after the
    other, each its own Lava run): the interpreter's start-up and imports are paid once. Returns one
    result dict per job; ``wall_s`` is the whole subprocess's."""
    if runtime not in RUNTIMES:
        raise Snn2hwError(f"unknown Lava runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    py = lava_python()
    if not (py.exists() and os.access(py, os.X_OK)):
        raise Snn2hwError(f"the Lava environment is missing ({py}); run `make lava-venv` in {_repo_root()} "
                          f"(it needs Python 3.10)")
    xs = []
    for out_dir, x_int in jobs:
        out_dir = Path(out_dir)
        if not (out_dir / MODEL_FILE).exists() or not (out_dir / MANIFEST_FILE).exists():
            raise Snn2hwError(f"{out_dir} holds no exported Lava model ({MODEL_FILE}, {MANIFEST_FILE}); "
                              f"run export_lava first")
        x = np.asarray(x_int)
        if not np.issubdtype(x.dtype, np.integer):
            if not np.all(x == np.rint(x)):
                raise Snn2hwError("x_int must hold integers (the quantized input, round(x / step))")
        xs.append((out_dir, x.astype(np.int64)))
    t0 = time.perf_counter()
    raw = []
    with tempfile.TemporaryDirectory(prefix="snn2hw_lava_") as tmp:
        flag = [] if not record else ["--record=spikes"] if record == "spikes" else ["--record"]
        runner = NETX_RUNNER if runtime == "netx" else RUNNER
        args = [str(py), str(runner)]
        outs = []
        for j, (out_dir, x) in enumerate(xs):
            pin, pout = Path(tmp) / f"in{j}.npz", Path(tmp) / f"out{j}.npz"
            np.savez(pin, x_int=x)
            args += [str(out_dir), str(pin), str(pout)]
            outs.append(pout)
        se = _run_group(args + flag, Path(tmp) / "stderr.txt", timeout)
        for pout in outs:
            if not pout.exists():
                raise Snn2hwError(f"the Lava run exited without writing its output{_stderr_note(se)}")
            with np.load(pout) as d:
                raw.append({k: d[k] for k in d.files})
    wall = time.perf_counter() - t0
    results = []
    for (out_dir, _), res in zip(xs, raw):
        manifest = json.loads((out_dir / MANIFEST_FILE).read_text())
        result = {"output": res["output"], "output_kind": manifest["output"]["kind"], "runtime": runtime,
                  "lava_steps": int(res["lava_steps"]), "lava_run_s": float(res["lava_run_s"]), "wall_s": wall}
        if record:
            rec = {"spikes": {}} if record == "spikes" else {"spikes": {}, "u": {}, "v": {}}
            names = [n["name"] for n in manifest.get("neurons")
                     or [{"name": L["neuron"]} for L in manifest["layers"]]]
            for i, name in enumerate(names):
                for q, key in (("spikes", "s"), ("u", "u"), ("v", "v")):
                    if q in rec:
                        rec[q][name] = res[f"{key}{i}"]
            result["record"] = rec
        results.append(result)
    return results


def _run_group(args, stderr_file: Path, timeout: float) -> str:
    """Run ``args`` in a new process group; return its stderr. Raise :class:`Snn2hwError` on failure.

    Output goes to a file, not a pipe: Lava's worker processes inherit the descriptors, so a
    pipe would stay open (and the parent wait) after the runner itself died. Whatever happens
    (exit, crash, SIGKILL, timeout, KeyboardInterrupt / SIGTERM in this process) the whole
    group is killed afterwards, so no Lava worker outlives the run.
    """
    with open(stderr_file, "w+b") as err:
        # the runner's own temporary files (and multiprocessing's) go into our temporary folder, removed
        # even if it is killed - where that path is short enough for multiprocessing's Unix sockets
        # (108 bytes with ~40 of its own); else they stay in the user's temporary folder
        scratch = str(stderr_file.parent)
        env = dict(os.environ, **({"TMPDIR": scratch} if len(scratch.encode()) <= 64 else {}))
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True, env=env)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            _kill_group(proc.pid)  # the runner's pid is its group id (start_new_session)
            proc.wait()
        err.seek(0)
        se = err.read().decode(errors="replace")
    if rc is None:
        raise Snn2hwError(f"the Lava run timed out after {timeout:g} s and was stopped (its process group "
                          f"was killed); raise the limit with --timeout (run_lava(timeout=...))")
    if rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.valid_signals() else "?"
        raise Snn2hwError(f"the Lava process died with signal {-rc} ({name}); no output was produced"
                          + _stderr_note(se))
    if rc != 0:
        raise Snn2hwError(f"the Lava run failed (exit code {rc}){_stderr_note(se)}")
    return se


def _stderr_note(se: str) -> str:
    """Lava's stderr (its traceback) goes to a log file; the message gets its last line and the file's path."""
    if not se.strip():
        return ""
    from snn2hw.util.crashlog import write_log
    last = next((ln.strip() for ln in reversed(se.splitlines()) if ln.strip()), "")[:300]
    path = write_log("lava", se)
    where = f"; Lava's full output (traceback) is in {path}" if path else ""
    return f": {last}{where}"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
