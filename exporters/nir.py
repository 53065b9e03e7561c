"""Export a snn2hw graph as a NIR 1.0.8 file (``.nir``, HDF5).

NIR stores continuous-time ODEs and no time step. snn2hw writes the encoding of
``shared/reference/NIR.md`` §6, the one snnTorch and SpikingJelly read back
exactly (forward Euler at a fixed ``dt = 1e-4``, recorded in the graph metadata
as information only):

=====================  ==========================================================
snn2hw                 NIR
=====================  ==========================================================
Input (C,H,W) / (N,)   ``Input`` (shape without batch/time)
Dense                  ``Affine`` (``Linear`` when it has no bias); mask and
                       ReScaW channel scale multiplied into the weight
Conv2d                 ``Conv2d`` (bias of zeros when absent)
SumPool2d / AvgPool2d  ``SumPool2d`` / ``AvgPool2d``
Flatten                ``Flatten(start_dim=0, end_dim=-1)`` (batch-free dims)
BatchNorm              folded into the adjacent synapse (FoldBatchNormPass); one
                       the pass refuses becomes a diagonal 1x1 ``Conv2d`` (maps)
                       or a diagonal ``Affine`` (vectors) carrying ``a x + c``
Add                    no node: NIR sums all edges into a node, so the Add's
                       inputs are wired straight to its consumers
LIF (beta < 1)         ``LIF``: ``tau = dt/(1-beta)``, ``r = g tau/dt``,
                       ``v_leak = 0``, ``v_reset = 0``
IF (beta = 1)          ``IF``: ``r = g/dt``, ``v_reset = 0``
CUBA                   ``CubaLIF``: ``tau_syn = dt/(1-alpha)``, ``tau_mem = dt/(1-beta)``,
                       ``w_in = tau_syn/dt``, ``r = g tau_mem/dt``
readout neuron         ``LIF`` / ``CubaLIF`` with ``v_threshold`` = max float32 (never fires;
                       its membrane is the output; beta = 1 as ``tau = 2^60 dt``), or with
                       ``readout="integrator"`` NIR's ``I`` / ``LI`` / ``CubaLI``
output_scale != 1      a ``Scale`` node after the neuron
Output                 ``Output``
=====================  ==========================================================

``g`` is the neuron's ``input_gain`` (1 after folding). All neuron parameters are
float64 arrays of the population shape, uniform per layer (thresholds may vary
per channel).

Decisions (documented here and in the returned summary):

* **Gains are folded first.** ``FoldBatchNormPass`` and ``FoldThresholdsPass``
  (both exact) run before export, so AT-LIF output scales, input gains and
  ReScaW channel scales end up in the weights/thresholds. Whatever a pass
  refuses is still written exactly: an input gain in ``r``, an output scale as
  a ``Scale`` node, a BatchNorm as a diagonal synapse.
* **``>=`` neurons.** NIR fires on ``v > v_threshold``. A neuron that fires on
  ``v >= theta`` is written with ``v_threshold`` = the float32 just below the
  smallest float32 ``>= theta``: for float32 membranes (snnTorch, SpikingJelly's
  default) ``v > that`` is exactly ``v >= theta``, so ties (common: a residual
  edge adds exactly 1.0) fire in the peers as in snn2hw. The node metadata
  records ``compare="ge"`` and ``threshold`` so
  :func:`snn2hw.frontends.nir_import.load_nir` restores ``theta`` and ``>=``.
* **Subtractive reset** cannot be written in NIR >= 1.0.6 (only a reset value).
  ``subtract_reset="error"`` (default) refuses with :class:`NIRExportError`;
  ``"warn"`` writes reset-to-0 parameters, warns, and records
  ``metadata["reset"] = "subtract"`` on the node and the graph (our importer
  honours it; peers will reset to zero).
* **Readout** (``readout=``). ``"membrane"`` (default): a ``LIF`` / ``CubaLIF``
  with ``v_threshold`` = the largest float32, which never fires; its membrane
  is the output (snnTorch and SpikingJelly import it; read the membrane of
  that layer). An IF readout is a ``LIF`` with ``tau = 2^60 dt``, whose beta
  ``1 - 2^-60`` rounds to exactly 1. ``"integrator"``: NIR's ``I`` / ``LI`` /
  ``CubaLI`` (no spiking peer imports them). ``docs/NIR_PEERS.md`` has the
  measurements.
* **Peer targets** (``target=``). ``"snntorch"`` writes every IF population as
  such a beta-1 ``LIF`` (snnTorch 1.0.0 imports NIR ``IF`` as a leaky neuron).
  ``"norse"``: dt = 1e-3 (``norse.torch.from_nir``'s default), LIF with ``r = 1``
  and IF (readout included) with ``r = 1/dt``, the neuron's gain (``g/(1-beta)``,
  ``g``) multiplied into the synapses feeding it (Norse ignores ``r``), average
  pools as sum pools (Norse maps no ``AvgPool2d``); the file keeps its meaning for
  any forward-Euler reader. ``"sinabs"`` / ``"sinabs3"``: dt = 1 and the exact
  discretisation (``tau = -1/ln beta``, ``inf`` for beta = 1, ``r = 1/(1-beta)``;
  Sinabs reads ``tau`` in steps and ignores ``r``), every population a ``LIF``,
  ``v_threshold`` the smallest float32 ``>= theta`` (``> theta`` for ``gt``) for
  Sinabs' ``v >= theta``, ``Affine`` for bias-free dense layers, sum pools; CUBA
  refused (Sinabs imports no ``CubaLIF``); ``"sinabs3"`` also drops the all-zero
  ``v_reset`` datasets (nir 1.0.4 rejects them). Sinabs' neurons still differ
  (several spikes per step, subtract reset): ``docs/NIR_PEERS.md``.
* **Residual identity shortcuts** (weight exactly 1, float file) are plain
  edges into the sum; other grouped convolutions (and identity synapses in the
  integer file, whose weight is ``W_int 2^e``) are written as the equivalent
  ungrouped conv with ``metadata["groups"]`` (NIR's type check and SpikingJelly
  refuse grouped convs; snn2hw's importer re-groups them).
* **Type check.** The file is built with NIR's type inference and check; a
  graph that fails it raises :class:`NIRExportError` and nothing is written.

``integer=True`` exports the quantized graph (``snn2hw.passes.convert``) in
integer units: each synapse weight is ``W_int * 2^e``, each neuron's bias
``bias_mant * 2^(bias_exp - 6)`` becomes the bias of the synapse feeding it
(divided by the window of any sum pool in between), thresholds are ``vth``
(``vth - 1/64`` for an integer ``>=``), and the membrane is Lava's ``v / 64``.
The integer semantics are recorded in metadata (graph: ``integer``, ``input_step``,
``input_bits``, ``input_signed``, ``state_scale``, ``int_semantics``, ``profile``; synapses:
``int_weight_exp``; neurons: ``int_du``, ``int_dv``, ``int_vth``, ``int_bias_mant``,
``int_bias_exp``, ``int_reset``, ``int_compare``), so ``snn2hw.load`` restores the exact
integer graph (and refuses an integer file without them).
The input must be fed as integers ``x_int = clip(round(x / step))``
(``metadata["input_step"]``); a readout's NIR state times ``state_scale = 64``
is the integer simulator's output; ``metadata["unit"]`` on each neuron gives
the float value of one integer unit. The float behaviour of that file equals
the integer network exactly for IF neurons (``dv = 0``, ``du = 4095``) with
``weight_exp >= 0`` as long as no 24-bit wrap or saturation happens (the integer
simulator counts those). Leaky (``dv > 0``) and CUBA neurons are written with
``beta = 1 - dv/4096``, ``alpha = (4095 - du)/4096`` and are not exact (Loihi
truncates the decay toward zero; a CUBA bias enters v on the chip, the current here).
"""
from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np

from snn2hw.errors import Snn2hwError
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import GLUE, sum_pools_between, synapses_into
from snn2hw.util.atomic import write_bytes

DT = 1e-4
#: Lava keeps synaptic input, bias and threshold at x64 (``simulators/fixed_point.py``)
STATE_SCALE = 64
#: readout encodings: ``membrane`` = a LIF / CubaLIF that never fires (its membrane is the output; the
#: peers import it), ``integrator`` = NIR's own ``I`` / ``LI`` / ``CubaLI`` (no spiking peer imports them)
READOUTS = ("membrane", "integrator")
#: per-peer conventions: ``snntorch`` writes IF populations as LIF with beta = 1 (snnTorch 1.0.0 imports NIR
#: ``IF`` as a leaky neuron with beta 0.9 and asserts r == 1); ``norse``: Norse's dt and its LIF that ignores ``r``
#: (see :data:`NORSE_DT`, ``_Writer._norse_scales``)
TARGETS = ("generic", "snntorch", "norse", "sinabs", "sinabs3")
#: Sinabs (2.x and 3.x) reads ``tau`` in time steps with ``alpha = exp(-1/tau)`` and ignores ``r``: its targets write
#: dt = 1 and the exact (exponential) discretisation, ``tau = -1/ln(beta)`` (``inf`` for beta = 1), every
#: population as a LIF (Sinabs' IAF clamps v at -theta), ``v_threshold`` for Sinabs' ``v >= theta``; ``sinabs3``
#: also omits ``v_reset`` (nir <= 1.0.4, which Sinabs 3 pins, rejects it)
SINABS = ("sinabs", "sinabs3")
#: the dt of ``--nir-target norse`` files: Norse's default (``norse.torch.from_nir(graph, dt=0.001)``), so
#: ``from_nir(graph)`` reads them without arguments
NORSE_DT = 1e-3
#: the threshold of a population that never fires: the largest float32, so ``v > th`` (snnTorch) and
#: ``v >= th`` (SpikingJelly) are false for every finite float32 membrane
NEVER = float(np.finfo(np.float32).max)
#: tau / dt of a LIF that is an IF (beta = 1): 1 - 2^-60 rounds to exactly 1.0 in float32 and float64, so
#: snnTorch (``beta = 1 - dt/tau``) and SpikingJelly (``v + (0 - v)/tau + x``) integrate without leak
IF_TAU_STEPS = 2.0 ** 60
#: graph metadata of an integer file: the semantics its numbers have (see ``docs/EXECUTION_MODEL.md``)
INT_SEMANTICS = "loihi-cuba-fixed-point-v1"


class NIRExportError(Snn2hwError):
    """The graph cannot be written as NIR (the message says which node and why)."""


def _import_nir():
    try:
        import nir
    except ImportError as e:  # pragma: no cover - nir is a dependency of the dev extra
        raise NIRExportError(f"NIR export needs the 'nir' package (pip install nir==1.0.8): {e}") from None
    return nir


def _full(value, shape) -> np.ndarray:
    """A float64 array of the population shape from a scalar or per-channel (C,) value."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 1 and len(shape) > 1:
        a = a.reshape((-1,) + (1,) * (len(shape) - 1))
    return np.broadcast_to(a, tuple(shape)).astype(np.float64).copy()


def _below_f32(theta: np.ndarray) -> np.ndarray:
    """The largest float32 below every float32 >= theta: for float32 membranes (snnTorch, SpikingJelly's
    default) ``v > that`` is exactly ``v >= theta``. In float64 it differs from ``v >= theta`` only for v in
    (that, theta), less than one float32 step below theta."""
    theta = np.asarray(theta, dtype=np.float64)
    f = theta.astype(np.float32)
    f = np.where(f.astype(np.float64) < theta, np.nextafter(f, np.float32(np.inf)), f)
    return np.nextafter(f, np.float32(-np.inf)).astype(np.float64)


def _ge_f32(theta: np.ndarray) -> np.ndarray:
    """The smallest float32 >= theta: for float32 membranes ``v >= that`` is exactly ``v >= theta``."""
    theta = np.asarray(theta, dtype=np.float64)
    f = theta.astype(np.float32)
    return np.where(f.astype(np.float64) < theta, np.nextafter(f, np.float32(np.inf)), f).astype(np.float64)


def _above_f32(theta: np.ndarray) -> np.ndarray:
    """The smallest float32 > theta: for float32 membranes ``v >= that`` is exactly ``v > theta``."""
    theta = np.asarray(theta, dtype=np.float64)
    f = theta.astype(np.float32)
    return np.where(f.astype(np.float64) <= theta, np.nextafter(f, np.float32(np.inf)), f).astype(np.float64)


def _nir_name(name: str) -> str:
    return name.replace("/", "_")


def _is_identity(node) -> bool:
    """A one-to-one synapse of weight exactly 1 without bias (``InsertIdentitySynapsesPass``'s shortcut)."""
    if not isinstance(node, N.SYNAPSES) or node.bias is not None:
        return False
    w = node.effective_weight()
    if isinstance(node, N.Dense):
        return w.shape[0] == w.shape[1] and np.array_equal(w, np.eye(w.shape[0]))
    C = w.shape[0]
    return (node.groups == C and w.shape[1:] == (1, 1, 1) and np.all(w == 1.0) and tuple(node.stride) == (1, 1)
            and tuple(node.padding) == (0, 0))


def _ungroup(w: np.ndarray, groups: int) -> np.ndarray:
    """A grouped conv weight [Cout, Cin/g, kH, kW] as the block-diagonal ungrouped one [Cout, Cin, kH, kW]."""
    cout, cin_g = w.shape[:2]
    out = np.zeros((cout, cin_g * groups) + w.shape[2:], dtype=np.float64)
    per = cout // groups
    for k in range(groups):
        out[k * per:(k + 1) * per, k * cin_g:(k + 1) * cin_g] = w[k * per:(k + 1) * per]
    return out


def _drop_v_reset(image: io.BytesIO) -> None:
    """Remove every ``v_reset`` dataset (all zero) from the in-memory file: nir <= 1.0.4 (Sinabs 3) rejects the field,
    nir >= 1.0.7 reads a missing one as 0."""
    import h5py
    with h5py.File(image, "r+") as f:
        def visit(group):
            for k in list(group):
                if isinstance(group[k], h5py.Group):
                    visit(group[k])
                elif k == "v_reset":
                    if np.any(group[k][()] != 0):
                        raise NIRExportError(f"{group.name}: a non-zero v_reset cannot be omitted for Sinabs 3")
                    del group[k]
        visit(f)


class _Writer:
    def __init__(self, graph: Graph, integer: bool, subtract_reset: str, dt: float, readout: str = "membrane",
                 target: str = "generic"):
        self.nir = _import_nir()
        self.g, self.integer, self.subtract_reset, self.dt = graph, integer, subtract_reset, float(dt)
        self.readout, self.target = readout, target
        # identity shortcuts become plain edges into the sum (float file only: the integer weight is W_int 2^e)
        self.dissolved = set() if integer or target == "norse" else \
            {n for n, v in graph.nodes.items() if _is_identity(v)}
        self.in_scale = self._norse_scales() if target in ("norse",) + SINABS else {}
        self.nodes: dict = {}
        self.rename: dict = {}   # our name -> NIR name (the node that produces our node's value)
        self.notes: list = []
        self.subtract = []
        self.bias_into: dict = {}  # integer: synapse name -> bias (per channel, already in weight units)

    def _norse_scales(self) -> dict:
        """Norse 1.1.0 ignores ``r`` on LIF (``v += dt/tau (v_leak - v + I)``) and IF (``v += I``): the gain
        ``r dt/tau`` the neuron needs (``g/(1-beta)`` on a leaky neuron, ``g`` on an IF) is multiplied into the
        weights and biases of every synapse feeding it, and the neuron is written with ``r = 1`` (LIF) or
        ``r = 1/dt`` (IF), so the file means the same in any forward-Euler reader. CUBA neurons are left as
        they are (Norse honours ``w_in`` and ``r`` of ``CubaLIF``)."""
        from snn2hw.ir.topology import synapses_into
        g, out = self.g, {}
        for name, node in g.nodes.items():
            if not isinstance(node, N.Neuron):
                continue
            if self.integer:  # as _int_neuron writes it
                cuba, beta, gain = (4095 - node.du) > 0, 1.0 - node.dv / 4096, 1.0
            else:
                cuba, beta, gain = node.model == "cuba" and node.alpha > 0.0, node.beta, node.input_gain
            if cuba:
                if self.target in SINABS:
                    raise NIRExportError(f"neuron '{name}' is CUBA: Sinabs (2.x, 3.x) imports no NIR CubaLIF; "
                                         f"use --nir-target generic (snnTorch, SpikingJelly, Norse import it)")
                continue
            k = gain / (1.0 - beta) if beta < 1.0 and self.target == "norse" else gain
            if k == 1.0:
                continue
            syns, bare = synapses_into(g, name)
            if bare:
                raise NIRExportError(f"neuron '{name}': --nir-target norse folds its input gain {k:g} into the "
                                     f"synapses feeding it, but spikes of {bare} reach it without a synapse")
            for s in syns:
                if s in out and out[s] != k:
                    raise NIRExportError(f"synapse '{s}' feeds neurons with different input gains; --nir-target "
                                         f"norse cannot fold them")
                out[s] = k
        return out

    # ------------------------------------------------------------------ neurons
    def _reset(self, name, node: N.Neuron) -> dict:
        reset = node.int_reset if self.integer else node.reset
        if node.readout or reset == "zero":
            return {}
        if self.subtract_reset == "warn":
            self.subtract.append(name)
            return {"reset": "subtract"}
        raise NIRExportError(
            f"neuron '{name}' resets by subtraction, which NIR >= 1.0.6 cannot express (it only stores a reset "
            f"value). Use export_nir(..., subtract_reset='warn') to write it anyway with "
            f"metadata['reset']='subtract' (peers will reset to zero), or train with reset to zero.")

    def _tau(self, beta: float) -> float:
        """Forward-Euler time constant of a decay beta (beta = 1: IF_TAU_STEPS steps, beta rounds to 1)."""
        return self.dt / (1.0 - beta) if beta < 1.0 else self.dt * IF_TAU_STEPS

    def _float_neuron(self, name, node: N.Neuron, shape) -> dict:
        nir, dt = self.nir, self.dt
        model = node.model
        beta, alpha, g = node.beta, (node.alpha if model == "cuba" else 0.0), node.input_gain
        meta = self._reset(name, node)
        out = {}
        if model == "cuba" and alpha > 0.0:
            if not (0.0 < alpha < 1.0) or not (0.0 <= beta <= 1.0):
                raise NIRExportError(f"CUBA neuron '{name}' has alpha {alpha:g}, beta {beta:g}: NIR's CubaLIF "
                                     f"needs finite time constants (0 < alpha < 1, 0 <= beta <= 1)")
            tau_syn, tau_mem = dt / (1.0 - alpha), self._tau(beta)
            p = dict(tau_syn=_full(tau_syn, shape), tau_mem=_full(tau_mem, shape), r=_full(g * tau_mem / dt, shape),
                     v_leak=_full(0.0, shape), w_in=_full(tau_syn / dt, shape))
            kind = "cuba"
        elif self.target in SINABS:  # exponential decay in time steps (dt = 1); the gain is in the weights
            tau = -dt / math.log(beta) if 0.0 < beta < 1.0 else (math.inf if beta >= 1.0 else dt * 1e-300)
            r = 1.0 / (1.0 - beta) if beta < 1.0 else math.inf  # unit gain of the exact solution (Sinabs ignores r)
            p = dict(tau=_full(tau, shape), r=_full(r, shape), v_leak=_full(0.0, shape))
            kind = "lif"
        elif self.target == "norse":  # the gain is in the weights (_norse_scales): r = 1 (LIF) or 1/dt (IF)
            if beta < 1.0:
                p = dict(tau=_full(self._tau(beta), shape), r=_full(1.0, shape), v_leak=_full(0.0, shape))
                kind = "lif"
            else:  # IF, also as the readout: Norse's IAF adds its input (v += I) and ignores r
                p = dict(r=_full(1.0 / dt, shape))
                kind = "if"
        elif beta < 1.0 or self.target == "snntorch" or (node.readout and self.readout == "membrane"):
            tau = self._tau(beta)  # an IF as a LIF whose beta rounds to 1 (snnTorch cannot import NIR IF)
            p = dict(tau=_full(tau, shape), r=_full(g * tau / dt, shape), v_leak=_full(0.0, shape))
            kind = "lif"
        else:
            p = dict(r=_full(g / dt, shape))
            kind = "if"
        if node.readout and self.readout == "integrator":
            cls = {"cuba": nir.CubaLI, "lif": nir.LI, "if": nir.I}[kind]
            out[name] = cls(**p, metadata={"snn2hw": "readout"})
        elif node.readout:  # membrane readout: a population that never fires, its membrane is the output
            cls = {"cuba": nir.CubaLIF, "lif": nir.LIF, "if": nir.IF}[kind]
            out[name] = cls(**p, v_threshold=_full(NEVER, shape), v_reset=_full(0.0, shape),
                            metadata={"snn2hw": "readout"})
        else:
            th = _full(node.threshold_array(shape[0]) if np.ndim(node.threshold) else node.threshold, shape)
            if self.target in SINABS:  # Sinabs fires on v >= v_threshold (float32)
                meta["compare"], meta["threshold"] = node.compare, th.copy()
                th = _ge_f32(th) if node.compare == "ge" else _above_f32(th)
            elif node.compare == "ge":
                meta["compare"], meta["threshold"] = "ge", th.copy()  # snn2hw's importer restores theta and >=
                th = _below_f32(th)
            cls = {"cuba": nir.CubaLIF, "lif": nir.LIF, "if": nir.IF}[kind]
            out[name] = cls(**p, v_threshold=th, v_reset=_full(0.0, shape), metadata=meta)
        if node.output_scale != 1.0:
            sname = f"{name}.output_scale"
            out[sname] = nir.Scale(scale=_full(node.output_scale, shape))
            self.notes.append(f"neuron '{name}': output scale {node.output_scale:g} written as Scale node '{sname}'")
        return out

    def _int_neuron(self, name, node: N.Neuron, shape) -> dict:
        nir, dt = self.nir, self.dt
        meta = self._reset(name, node)
        one = 4096
        alpha = (4095 - node.du) / one
        beta = 1.0 - node.dv / one
        if node.dv != 0 or node.du != 4095:
            self.notes.append(f"neuron '{name}': du {node.du}, dv {node.dv} written as alpha {alpha:g}, "
                              f"beta {beta:g}; not exact (Loihi truncates decays toward zero)")
        unit = self._units.get(name)
        if unit is not None:
            meta["unit"] = unit
        # the integer semantics, restored by snn2hw's importer (peers ignore metadata)
        meta.update(int_du=int(node.du), int_dv=int(node.dv), int_vth=np.asarray(node.vth, dtype=np.int64),
                    int_bias_exp=int(node.bias_exp), int_reset=str(node.int_reset),
                    int_compare=str(node.int_compare))
        if node.bias_mant is not None:
            meta["int_bias_mant"] = np.asarray(node.bias_mant, dtype=np.int64)
        if node.readout:
            fl = N.Neuron(model="cuba" if alpha > 0 else "lif", beta=beta, alpha=alpha, readout=True,
                          threshold=float("inf"))
            res = self._float_neuron(name, fl, shape)
            res[name].metadata = {"snn2hw": "readout", **meta}
            return res
        vth = np.asarray(node.vth, dtype=np.float64)
        th = vth if node.int_compare == "gt" else vth - 1.0 / STATE_SCALE
        fl = N.Neuron(model="cuba" if alpha > 0 else "lif", beta=beta, alpha=alpha, compare="gt",
                      threshold=float(th[0]) if th.size == 1 else th, reset="zero")
        res = self._float_neuron(name, fl, shape)
        res[name].metadata.update(meta)
        return res

    # ------------------------------------------------------------------ synapses
    def _weights(self, name, node):
        if not self.integer:
            return node.effective_weight(), node.bias
        w = node.weight_int.astype(np.float64) * 2.0 ** node.weight_exp
        if node.weight_exp < 0:
            self.notes.append(f"synapse '{name}': weight exponent {node.weight_exp} < 0 is a floor shift on the "
                              f"chip, written as the real factor 2^{node.weight_exp}; not exact")
        return w, self.bias_into.get(name)

    def _integer_biases(self):
        """Move each neuron's integer bias onto the synapse that feeds it; record each neuron's unit."""
        self._units = {}
        g = self.g
        for name, node in g.nodes.items():
            if not isinstance(node, N.Neuron):
                continue
            syns, _ = synapses_into(g, name)
            # the float value of one integer unit: least squares of W (x input step) ~ unit * W_int * 2^e
            num = den = 0.0
            for s in syns:
                sn = g.nodes[s]
                w = sn.effective_weight()
                pre = [p for p in g.predecessors(s)]
                src = pre[0] if pre else None
                while src is not None and isinstance(g.nodes[src], GLUE) and g.predecessors(src):
                    src = g.predecessors(src)[0]
                if src is not None and isinstance(g.nodes[src], N.Input) and g.nodes[src].step:
                    w = w * g.nodes[src].step
                q = sn.weight_int * 2.0 ** sn.weight_exp
                num += float(np.sum(w * q))
                den += float(np.sum(q * q))
            if den > 0:
                self._units[name] = num / den
            if node.bias_mant is None or not np.any(node.bias_mant) or not syns:
                continue
            bias = np.asarray(node.bias_mant, dtype=np.float64) * 2.0 ** (node.bias_exp - 6)
            s = syns[0]
            k = 1
            for n in sum_pools_between(g, s, name):
                k *= g.nodes[n].kernel_size[0] * g.nodes[n].kernel_size[1]
                if any(g.nodes[n].padding):
                    self.notes.append(f"neuron '{name}': its bias passes the padded sum pool '{n}', border "
                                      f"neurons get fewer bias terms; not exact")
            C = g.nodes[s].out_channels
            self.bias_into[s] = np.broadcast_to(bias, (C,)) / k
            if node.model == "cuba" or (node.du is not None and node.du != 4095):
                self.notes.append(f"neuron '{name}': the bias enters v on the chip but the synaptic current here")

    def _synapse(self, name, node):
        nir = self.nir
        w, b = self._weights(name, node)
        if name in self.in_scale:  # --nir-target norse: the input gain of the neuron it feeds
            k = self.in_scale[name]
            w, b = np.asarray(w, dtype=np.float64) * k, None if b is None else np.asarray(b, dtype=np.float64) * k
        meta = {"int_weight_exp": int(node.weight_exp)} if self.integer else {}
        if isinstance(node, N.Dense):
            if b is None and self.target in SINABS:  # Sinabs maps Affine only
                b = np.zeros(np.shape(w)[0])
            if b is None:
                return nir.Linear(weight=np.asarray(w, dtype=np.float64), metadata=meta)
            return nir.Affine(weight=np.asarray(w, dtype=np.float64), bias=np.asarray(b, dtype=np.float64),
                              metadata=meta)
        bias = np.zeros(node.out_channels) if b is None else np.asarray(b, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if node.groups > 1:  # NIR's type inference reads Cin from weight.shape[1]: write the block-diagonal conv
            w = _ungroup(w, int(node.groups))
            meta["groups"] = int(node.groups)
            self.notes.append(f"conv '{name}': groups={node.groups} written as the equivalent ungrouped conv "
                              f"(NIR's type check and SpikingJelly refuse grouped convs); snn2hw re-groups it")
        return nir.Conv2d(input_shape=np.array(node.input_shape[1:]), weight=w,
                          stride=np.array(node.stride), padding=np.array(node.padding),
                          dilation=np.array(node.dilation), groups=1, bias=bias, metadata=meta)

    def _batchnorm(self, name, node: N.BatchNorm):
        nir = self.nir
        a, c = node.scale_shift()
        self.notes.append(f"BatchNorm '{name}' could not be folded; written as a diagonal synapse")
        if len(node.input_shape) == 3:
            C = len(a)
            w = np.zeros((C, C, 1, 1))
            w[np.arange(C), np.arange(C), 0, 0] = a
            return nir.Conv2d(input_shape=np.array(node.input_shape[1:]), weight=w, stride=np.array([1, 1]),
                              padding=np.array([0, 0]), dilation=np.array([1, 1]), groups=1, bias=c.copy())
        return nir.Affine(weight=np.diag(a), bias=c.copy())

    # ------------------------------------------------------------------ graph
    def build(self):
        nir, g = self.nir, self.g
        if self.integer:
            self._integer_biases()
        adds = set(g.of_type(N.Add))
        for name in g.topological_order():
            node = g.nodes[name]
            shape = node.output_shape
            nn = _nir_name(name)
            if isinstance(node, N.Add) or name in self.dissolved:
                continue
            if isinstance(node, N.Input):
                self.nodes[nn] = nir.Input(input_type={"input": np.array(node.shape)})
            elif isinstance(node, N.Output):
                self.nodes[nn] = nir.Output(output_type={"output": np.array(node.input_shape)})
            elif isinstance(node, N.SYNAPSES):
                self.nodes[nn] = self._synapse(name, node)
            elif isinstance(node, N.SumPool2d):
                self.nodes[nn] = nir.SumPool2d(kernel_size=np.array(node.kernel_size), stride=np.array(node.stride),
                                               padding=np.array(node.padding))
            elif isinstance(node, N.AvgPool2d):
                self.nodes[nn] = nir.AvgPool2d(kernel_size=np.array(node.kernel_size), stride=np.array(node.stride),
                                               padding=np.array(node.padding))
            elif isinstance(node, N.Flatten):
                self.nodes[nn] = nir.Flatten(input_type={"input": np.array(node.input_shape)}, start_dim=0,
                                             end_dim=-1)
            elif isinstance(node, N.BatchNorm):
                self.nodes[nn] = self._batchnorm(name, node)
            elif isinstance(node, N.Neuron):
                made = self._int_neuron(name, node, shape) if self.integer else self._float_neuron(name, node, shape)
                self.nodes.update({_nir_name(k): v for k, v in made.items()})
                if len(made) == 2:
                    self.rename[name] = _nir_name(list(made)[1])
                    self._edges_extra = getattr(self, "_edges_extra", []) + [(nn, _nir_name(list(made)[1]))]
            else:
                raise NIRExportError(f"node '{name}' of type {type(node).__name__} has no NIR equivalent")

        passthrough = adds | self.dissolved
        for n in sorted(self.dissolved):
            self.notes.append(f"identity synapse '{n}' written as a plain edge into the sum")

        def sources(n):  # NIR nodes whose output reaches n (Adds and identity synapses dissolved: NIR sums
            out = []      # every incoming edge)
            for p in g.predecessors(n):
                if p in passthrough:
                    out += sources(p)
                else:
                    out.append(self.rename.get(p, _nir_name(p)))
            return out

        edges = list(getattr(self, "_edges_extra", []))
        for name in g.nodes:
            if name in passthrough:
                continue
            for s in sources(name):
                edges.append((s, _nir_name(name)))
        return edges


def export_nir(graph: Graph, path, integer: bool = False, subtract_reset: str = "error", dt: float | None = None,
               fold: bool = True, readout: str = "membrane", target: str = "generic") -> dict:
    """Write ``graph`` as a NIR 1.0.8 file at ``path`` (atomically) and return a summary dict.

    ``integer``: write the quantized graph in integer units (see the module docstring).
    ``subtract_reset``: ``"error"`` (default) or ``"warn"`` for neurons with subtractive reset.
    ``fold``: fold BatchNorm and neuron gains first (exact passes); unfolded ones are still written exactly.
    ``readout``: ``"membrane"`` (default: a never-firing LIF/CubaLIF, which snnTorch and SpikingJelly import)
    or ``"integrator"`` (NIR's ``I``/``LI``/``CubaLI``). ``target``: ``"generic"`` or ``"snntorch"`` (IF as LIF).
    The file must pass NIR's own type check, else :class:`NIRExportError` and nothing is written.
    The summary holds ``path``, ``nodes``, ``edges``, ``dt``, ``integer``, ``metadata`` and ``notes``.
    """
    nir = _import_nir()
    if subtract_reset not in ("error", "warn"):
        raise ValueError(f"subtract_reset must be 'error' or 'warn', got {subtract_reset!r}")
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if dt is None:
        dt = NORSE_DT if target == "norse" else 1.0 if target in SINABS else DT
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number, got {dt!r}")
    g = graph.copy()
    g.validate()
    notes = []
    if integer:
        problems = []
        for name, node in g.nodes.items():
            if isinstance(node, N.SYNAPSES) and node.weight_int is None:
                problems.append(f"synapse '{name}' has no integer weights")
            if isinstance(node, N.Neuron) and (node.vth is None or node.du is None or node.dv is None):
                problems.append(f"neuron '{name}' has no integer parameters")
            if isinstance(node, (N.AvgPool2d, N.BatchNorm)):
                problems.append(f"node '{name}' ({type(node).__name__}) is not folded")
        if problems:
            raise NIRExportError("integer NIR export needs a quantized graph (snn2hw.passes.convert):\n"
                                 + "\n".join(f"  - {p}" for p in problems))
    elif fold:
        from snn2hw.passes.base import run_passes
        from snn2hw.passes.fold_batchnorm import FoldBatchNormPass
        from snn2hw.passes.fold_thresholds import FoldThresholdsPass
        passes = [FoldBatchNormPass(), FoldThresholdsPass()]
        if target in ("norse",) + SINABS:  # Norse 1.1.0 / Sinabs map no AvgPool2d: a SumPool2d, 1/k^2 in a synapse
            from snn2hw.passes.lower_avgpool import LowerAvgPoolPass
            passes.append(LowerAvgPoolPass())
        g, results = run_passes(g, passes)
        for r in results:
            notes += [f"{r.name}: {c}" for c in r.changes] + [f"{r.name} refused: {c}" for c in r.refusals]
        g.validate()
        if target in ("norse",) + SINABS and g.of_type(N.AvgPool2d):
            raise NIRExportError(f"--nir-target {target}: the peer cannot import AvgPool2d and {g.of_type(N.AvgPool2d)} "
                                 f"could not be written as a SumPool2d (see the lower_avgpool notes: {notes})")
    w = _Writer(g, integer, subtract_reset, dt, readout=readout, target=target)
    edges = w.build()
    notes += w.notes
    meta = {"dt": float(dt), "discretization": "exponential" if target in SINABS else "forward-euler", "compare": "gt", "writer": "snn2hw",
            "reset": "subtract" if w.subtract else "zero", "integer": int(bool(integer)),
            "readout": readout, "target": target}
    if integer:
        inputs = [g.nodes[i] for i in g.inputs]
        if len(inputs) != 1 or not inputs[0].step:
            raise NIRExportError("integer NIR export needs exactly one input with an input step (the file records "
                                 "it so the integer network can be re-imported)")
        inp = inputs[0]
        meta.update(state_scale=STATE_SCALE, input_step=float(inp.step), input_bits=int(inp.bits or 8),
                    input_signed=int(bool(inp.signed)), int_semantics=INT_SEMANTICS)
        if isinstance(g.metadata.get("profile"), str):
            meta["profile"] = g.metadata["profile"]
    for k in ("timesteps", "encoding", "dataset", "input_step"):
        v = graph.metadata.get(k)
        if isinstance(v, (int, float, str)) and not isinstance(v, bool) and k not in meta:
            meta[k] = v
    if w.subtract:
        msg = (f"neurons {w.subtract} reset by subtraction; NIR cannot express it, the file says reset to 0 "
               f"and metadata['reset']='subtract' (peers ignore metadata)")
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)
    try:  # NIR's own type inference and check: a file that fails it is never written
        ng = nir.NIRGraph(nodes=w.nodes, edges=edges, metadata=meta, type_check=True)
        ng.check_types()  # every edge's shapes once more, after the inference
    except Exception as e:
        raise NIRExportError(f"the NIR graph fails NIR's type check ({type(e).__name__}: {e}); nothing was "
                             f"written to {path}. Please report this with the model.") from None
    path = Path(path)
    image = io.BytesIO()  # built in memory, then written atomically (see snn2hw.util.atomic.write_bytes)
    nir.write(image, ng)
    if target == "sinabs3":
        _drop_v_reset(image)
    write_bytes(path, image.getvalue())
    return {"path": str(path), "nodes": len(ng.nodes), "edges": len(edges), "dt": float(dt),
            "integer": bool(integer), "metadata": meta, "notes": notes}
