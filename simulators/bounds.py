"""Static worst-case bounds of every integer quantity that can wrap or saturate.

``analyze(graph, timesteps)`` takes an integer (converted) graph and proves, by
interval arithmetic, which of the wraps and saturations of the execution model
(``fixed_point.py``, LAVA.md §1) can never happen for *any* input in the declared
range, during the first ``timesteps`` steps of a sample (the simulators and Lava's
``LIFReset`` start every sample from ``u = v = 0``). Everything is computed per
element (per neuron), so a verdict can say how many neurons are at risk.

Intervals. Every value ``x`` gets an interval ``[lo, hi]`` per element, valid at every
step: the Input sends ``clip(round(x / step))`` in ``Input.int_range()``; a spiking
population sends 0/1 (a readout sends 0). Sum pools add the intervals of their window
(padding contributes exactly 0); Flatten reshapes; Add adds. A synapse with integer
weights ``W`` (mask already applied) gives, with ``W+ = max(W, 0)``, ``W- = min(W, 0)``::

    hi = W+ (*) hi_in + W- (*) lo_in        lo = W+ (*) lo_in + W- (*) hi_in

(exact for Dense and for Conv2d with zero padding), then the weight exponent
``shift(., e)``, which is monotone. Where an interval leaves the range of a wrap, the
wrapped value can be anything in that range, so the interval becomes the whole range
(sound, and the quantity is reported "may wrap").

Quantities checked (``Bound.kind``, same names as the runtime tally of ``overflow.py``):

* ``sum_wrap`` (synapse): ``shift(W x, e)`` vs int32 (Dense) or 24 bits (Conv2d, Lava wraps
  its output there);
* ``add_wrap`` (Add): the sum of the incoming currents vs int32;
* ``input_wrap`` (Neuron): the summed input ``a`` vs int32 (can only fire after a sum pool);
* ``a_wrap`` (Neuron): ``a << 6`` vs int32;
* ``u_wrap`` (Neuron): the exact ``decay(u) + (a << 6)`` vs ``(-2^23, 2^23]`` (outside, the
  int32 wrap or the conditional +-2^24 wrap changes ``u``);
* ``v_saturate`` (Neuron): the exact ``decay(v) + u + bias`` vs ``[-(2^23 - 1), 2^23 - 1]``;
* ``onnx_int64`` (network): the largest intermediate of the int64 ONNX model
  (``exporters/onnx_int.py``): a synapse's exact ``|W| |x|`` times ``2^max(e, 0)`` plus the
  half range its wrap adds, vs ``2^62`` (the exporter's own limit; int64 holds 2^63). The
  neuron arithmetic there is bounded by construction: ``|u| < 2^31 + 2^24`` (u is wrapped into
  int32 before the conditional wrap), ``|v| <= 2^23``, so ``u * 4096 < 2^44``.

Neuron dynamics, derived from the fixed_pt step. With ``d_f(x) = trunc0(x f / 4096)``
(monotone in ``x`` for ``f >= 0``; ``f_u = 4095 - du``, ``f_v = 4096 - dv``) and ``A`` the
interval of ``a << 6`` (after its wrap), by induction over the steps, from ``U_0 = V_0 = [0, 0]``::

    Usum_t = [d_fu(U_{t-1}.lo) + A.lo,  d_fu(U_{t-1}.hi) + A.hi]          (quantity u_wrap)
    U_t    = wrap32, then the conditional +-2^24 wrap, applied to the interval (hull of the pieces)
    Vsum_t = [d_fv(V_{t-1}.lo) + U_t.lo + b,  d_fv(V_{t-1}.hi) + U_t.hi + b]   (quantity v_saturate)
    Vc_t   = clip(wrap32(Vsum_t), +-(2^23 - 1))
    V_t    = hull of the non-firing part [Vc.lo, min(Vc.hi, th)] and the firing part
             ({0} for reset to zero, [max(Vc.lo, th + 1) - vth64, Vc.hi - vth64] for subtract)

where ``th = vth << 6`` (``'gt'``) or ``(vth << 6) - 1`` (``'ge'``), i.e. a neuron fires iff
``v > th``. Every map is monotone or taken as the hull of its image, so the true state lies in
the interval at every step (soundness, tested against the simulator on random graphs). What
this means in closed form:

* ``u`` with a current decay (``du >= 0``) is bounded for any number of steps:
  ``|Usum| <= |A| * 4096 / (du + 1)`` (the fixed point of ``m = m (4095 - du) / 4096 + |A|``);
  with ``du = -1`` (no decay) it grows like ``t |A|``.
* ``v`` is bounded above by the threshold between steps (reset to zero), so the largest sum is
  ``th + max U + b``; below, nothing resets it: with a leak ``dv > 0`` it is bounded by
  ``(|min U| + |b|) * 4096 / dv``, without a leak (IF, ``dv = 0``, and every readout) it grows
  like ``t (min U + b)`` and only the horizon ``timesteps`` bounds it. Subtractive reset with a
  drive above twice the threshold can grow upwards too.

The iteration stops early when the intervals reach a fixed point (then they hold for any
horizon). Arrays are int64 except the synapse sums, computed in float64 and exact because
their ``sum |W| |x|`` is checked below 2^53 (beyond that the bound is marked inexact, and it is
far above every hardware limit anyway).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from snn2hw.errors import GraphError
from snn2hw.ir import nodes as N
from snn2hw.ir.checks import quantization_problems
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import ANY, walk
from snn2hw.simulators import fixed_point as fp

INT32 = (-(2**31), 2**31 - 1)
INT24 = (-(2**23), 2**23 - 1)
U_RANGE = (-(fp.U_HI - 1), fp.U_HI)          # u_sum outside this wraps
V_RANGE = (-fp.V_MAX, fp.V_MAX)
ONNX_LIMIT = 2**62
EXACT = 2.0**53
#: neuron quantities in the order they happen within a step
NEURON_KINDS = ("input_wrap", "a_wrap", "u_wrap", "v_saturate")

PLACES = {
    "sum_wrap": "synaptic sum shift(W x, e), wrapped into {bits} bits",
    "add_wrap": "sum of the currents into an Add, wrapped into int32",
    "input_wrap": "summed input a of the neuron, wrapped into int32",
    "a_wrap": "a << 6, wrapped into int32",
    "u_wrap": "exact decay(u) + (a << 6), wrapped once by +-2^24 outside (-2^23, 2^23]",
    "v_saturate": "exact decay(v) + u + bias, saturated at +-(2^23 - 1)",
    "onnx_int64": "largest int64 intermediate of the integer ONNX model (limit: the exporter's 2^62)",
}


@dataclass
class Bound:
    """Worst case of one quantity at one node: ``[lo, hi]`` over all elements and steps vs its limits."""

    node: str
    layer: str            # the neuron population the quantity belongs to or drives ('' for network-wide)
    kind: str
    lo: float
    hi: float
    limit_lo: int
    limit_hi: int
    elements: int
    at_risk: int          # elements whose interval leaves the limits
    exact: bool = True    # False: the bound is a float64 estimate (only when it is beyond 2^53)
    place: str = ""

    @property
    def proven_safe(self) -> bool:
        return self.at_risk == 0

    @property
    def bound(self) -> float:
        return max(abs(self.lo), abs(self.hi))

    def to_dict(self) -> dict:
        num = (lambda x: int(x)) if self.exact else float  # noqa: E731
        return {"node": self.node, "layer": self.layer, "quantity": self.kind, "place": self.place,
                "proven_safe": self.proven_safe, "lo": num(self.lo), "hi": num(self.hi),
                "limit_lo": int(self.limit_lo), "limit_hi": int(self.limit_hi), "elements": int(self.elements),
                "elements_at_risk": int(self.at_risk), "exact": bool(self.exact)}


@dataclass
class BoundsResult:
    """``bounds``: every :class:`Bound` in graph order (then ``onnx_int64``). ``states``: neuron ->
    ``{"a": (lo, hi), "u": (lo, hi), "v": (lo, hi)}`` per-element int64 arrays of the input after its
    wrap, and of ``u`` and ``v`` after each step (hull over the steps), for tests and tools."""

    timesteps: int
    bounds: list = field(default_factory=list)
    states: dict = field(default_factory=dict)
    converged: dict = field(default_factory=dict)   # neuron -> step at which its intervals stopped changing

    @property
    def proven_safe(self) -> bool:
        return all(b.proven_safe for b in self.bounds)

    def of(self, node: str, kind: str) -> Bound:
        return next(b for b in self.bounds if b.node == node and b.kind == kind)

    def unsafe(self) -> list:
        return [b for b in self.bounds if not b.proven_safe]


# ----------------------------------------------------------------------------- interval helpers
def _check_range(node: str, layer: str, kind: str, lo, hi, limits, exact=True, bits=None) -> Bound:
    lo_a, hi_a = np.asarray(lo), np.asarray(hi)
    risk = int(np.sum((lo_a < limits[0]) | (hi_a > limits[1])))
    place = PLACES[kind].format(bits=bits)
    return Bound(node, layer, kind, lo_a.min().item() if lo_a.size else 0, hi_a.max().item() if hi_a.size else 0,
                 limits[0], limits[1], int(lo_a.size), risk, exact, place)


def _wrap(lo, hi, limits) -> tuple:
    """Interval after a wrap into ``limits``: unchanged where inside, the whole range elsewhere (int64)."""
    out = (lo < limits[0]) | (hi > limits[1])
    lo = np.where(out, limits[0], lo)
    hi = np.where(out, limits[1], hi)
    return lo.astype(np.int64), hi.astype(np.int64)


def _dec(lo, hi, f: int) -> tuple:
    """Image of ``[lo, hi]`` under ``trunc0(x f / 4096)`` (monotone for ``f >= 0``)."""
    def t(x):
        return np.sign(x) * ((np.abs(x) * f) >> 12)
    return t(lo), t(hi)


def _cond_wrap(lo, hi) -> tuple:
    """Image of ``[lo, hi]`` under Lava's u wrap: ``-2^24`` above 2^23, ``+2^24`` at or below -2^23."""
    H, U = fp.U_HI, 1 << fp.STATE_BITS
    big = np.iinfo(np.int64).max
    new_lo = np.full(lo.shape, big, dtype=np.int64)
    new_hi = np.full(lo.shape, -big, dtype=np.int64)
    mid = (hi > -H) & (lo <= H)                    # part in (-2^23, 2^23]: unchanged
    new_lo = np.where(mid, np.maximum(lo, -H + 1), new_lo)
    new_hi = np.where(mid, np.minimum(hi, H), new_hi)
    top = hi > H                                   # part above 2^23: minus 2^24
    new_lo = np.where(top, np.minimum(new_lo, np.maximum(lo, H + 1) - U), new_lo)
    new_hi = np.where(top, np.maximum(new_hi, hi - U), new_hi)
    bot = lo <= -H                                 # part at or below -2^23: plus 2^24
    new_lo = np.where(bot, np.minimum(new_lo, lo + U), new_lo)
    new_hi = np.where(bot, np.maximum(new_hi, np.minimum(hi, -H) + U), new_hi)
    return new_lo, new_hi


def _per_element(arr, shape) -> np.ndarray:
    """Per-channel (C,) or scalar parameter broadcast to a population of ``shape`` (C first)."""
    a = np.asarray(arr, dtype=np.int64)
    if a.ndim == 1 and a.size > 1:
        a = a.reshape((-1,) + (1,) * (len(shape) - 1))
    elif a.ndim >= 1:
        a = a.reshape(())
    return np.broadcast_to(a, shape).astype(np.int64)


def _apply(node, w: torch.Tensor, x: np.ndarray) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float64).unsqueeze(0)
    if isinstance(node, N.Dense):
        return F.linear(t, w)[0]
    return F.conv2d(t, w, None, node.stride, node.padding, node.dilation, node.groups)[0]


def _synapse(node, lo, hi) -> tuple:
    """Pre-wrap interval of ``shift(W x, e)`` (float64), ``sum |W| |x|`` per element, exactness."""
    w = np.asarray(node.weight_int, dtype=np.float64)
    wp, wn, wa = (torch.as_tensor(a) for a in (np.maximum(w, 0), np.minimum(w, 0), np.abs(w)))
    mag = _apply(node, wa, np.maximum(np.abs(lo), np.abs(hi))).numpy()
    out_hi = (_apply(node, wp, hi) + _apply(node, wn, lo)).numpy()
    out_lo = (_apply(node, wp, lo) + _apply(node, wn, hi)).numpy()
    e = int(node.weight_exp)
    scale = 2.0 ** max(e, 0)
    exact = bool(mag.size == 0 or mag.max() * scale < EXACT)
    if e >= 0:
        out_lo, out_hi = out_lo * scale, out_hi * scale
    else:
        out_lo, out_hi = np.floor(out_lo / 2.0 ** -e), np.floor(out_hi / 2.0 ** -e)
    return out_lo, out_hi, mag * scale, exact


def _pool(node, lo, hi) -> tuple:
    def p(x):
        t = torch.as_tensor(x, dtype=torch.float64).unsqueeze(0)
        return F.avg_pool2d(t, node.kernel_size, node.stride, node.padding, count_include_pad=True,
                            divisor_override=1)[0].numpy()
    return np.round(p(lo)).astype(np.int64), np.round(p(hi)).astype(np.int64)


def _layer_of(graph: Graph, name: str) -> str:
    """The neuron a synapse or Add drives (following a chain of single successors), or '' if none."""
    (end,) = walk(graph, name, "down", through=ANY, stop_at=(N.Neuron,), fork="end")
    return end.node if end.kind == "stop" else ""


# ----------------------------------------------------------------------------- neurons
def _neuron(name: str, node: N.Neuron, a_lo, a_hi, T: int, res: BoundsResult) -> tuple:
    shape = a_lo.shape
    res.bounds.append(_check_range(name, name, "input_wrap", a_lo, a_hi, INT32))
    a_lo, a_hi = _wrap(a_lo, a_hi, INT32)
    s_lo, s_hi = a_lo << fp.SCALE_SHIFT, a_hi << fp.SCALE_SHIFT
    res.bounds.append(_check_range(name, name, "a_wrap", s_lo, s_hi, INT32))
    A_lo, A_hi = _wrap(s_lo, s_hi, INT32)
    fu, fv = 4095 - int(node.du), fp.DECAY_ONE - int(node.dv)
    bias = _per_element(fp.bias_value(torch.as_tensor(np.asarray(
        node.bias_mant if node.bias_mant is not None else 0, dtype=np.int64)), node.bias_exp).numpy(), shape)
    vth64 = _per_element(node.vth, shape) << fp.SCALE_SHIFT
    th = vth64 - 1 if node.int_compare == "ge" else vth64      # fire iff v > th
    zero = np.zeros(shape, dtype=np.int64)
    u_lo, u_hi, v_lo, v_hi = zero, zero, zero, zero
    big = np.iinfo(np.int64).max
    hull = {k: [np.full(shape, big), np.full(shape, -big)] for k in ("usum", "vsum", "u", "v")}

    def widen(k, lo, hi):
        hull[k][0] = np.minimum(hull[k][0], lo)
        hull[k][1] = np.maximum(hull[k][1], hi)

    res.converged[name] = None
    for t in range(1, T + 1):
        d_lo, d_hi = _dec(u_lo, u_hi, fu)
        us_lo, us_hi = d_lo + A_lo, d_hi + A_hi
        widen("usum", us_lo, us_hi)
        n_ulo, n_uhi = _cond_wrap(*_wrap(us_lo, us_hi, INT32))
        e_lo, e_hi = _dec(v_lo, v_hi, fv)
        vs_lo, vs_hi = e_lo + n_ulo + bias, e_hi + n_uhi + bias
        widen("vsum", vs_lo, vs_hi)
        c_lo, c_hi = _wrap(vs_lo, vs_hi, INT32)
        c_lo, c_hi = np.clip(c_lo, -fp.V_MAX, fp.V_MAX), np.clip(c_hi, -fp.V_MAX, fp.V_MAX)
        quiet = c_lo <= th                            # some value does not fire
        fires = c_hi > th                             # some value fires
        q_lo, q_hi = c_lo, np.minimum(c_hi, th)
        if node.int_reset == "subtract":
            f_lo, f_hi = np.maximum(c_lo, th + 1) - vth64, c_hi - vth64
        else:
            f_lo, f_hi = zero, zero
        n_vlo = np.where(quiet & fires, np.minimum(q_lo, f_lo), np.where(quiet, q_lo, f_lo))
        n_vhi = np.where(quiet & fires, np.maximum(q_hi, f_hi), np.where(quiet, q_hi, f_hi))
        widen("u", n_ulo, n_uhi)
        widen("v", n_vlo, n_vhi)
        same = (np.array_equal(n_ulo, u_lo) and np.array_equal(n_uhi, u_hi) and np.array_equal(n_vlo, v_lo)
                and np.array_equal(n_vhi, v_hi))
        u_lo, u_hi, v_lo, v_hi = n_ulo, n_uhi, n_vlo, n_vhi
        if same:  # a fixed point: every later step gives the same intervals
            res.converged[name] = t
            break
    res.bounds.append(_check_range(name, name, "u_wrap", *hull["usum"], U_RANGE))
    res.bounds.append(_check_range(name, name, "v_saturate", *hull["vsum"], V_RANGE))
    res.states[name] = {"a": (a_lo, a_hi), "u": tuple(hull["u"]), "v": tuple(hull["v"])}
    spike_hi = zero if node.readout else np.ones(shape, dtype=np.int64)
    return zero, spike_hi


# ----------------------------------------------------------------------------- the analysis
def analyze(graph: Graph, timesteps: int) -> BoundsResult:
    """Worst-case bounds of ``graph`` (integer) for inputs in the declared range over ``timesteps`` steps.

    Raises :class:`GraphError` for a graph that is not quantized or whose decays are outside
    Lava's ranges (``du`` in [-1, 4095], ``dv`` in [0, 4096]).
    """
    problems = quantization_problems(graph)
    if problems:
        raise GraphError(problems, context="bounds need an integer graph (run snn2hw convert first); the graph")
    T = int(timesteps)
    if T < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    graph.infer_shapes()
    res = BoundsResult(timesteps=T)
    iv = {}
    onnx = None  # (bound, node, exact)
    for name in graph.topological_order():
        node = graph.nodes[name]
        preds = graph.predecessors(name)
        if isinstance(node, N.Input):
            lo, hi = node.int_range()
            iv[name] = (np.full(node.shape, lo, dtype=np.int64), np.full(node.shape, hi, dtype=np.int64))
        elif isinstance(node, N.SYNAPSES):
            lo, hi, mag, exact = _synapse(node, *iv[preds[0]])
            conv = isinstance(node, N.Conv2d)
            limits = INT24 if conv else INT32
            res.bounds.append(_check_range(name, _layer_of(graph, name), "sum_wrap", lo, hi, limits, exact,
                                           24 if conv else 32))
            iv[name] = _wrap(np.clip(lo, -2.0**62, 2.0**62), np.clip(hi, -2.0**62, 2.0**62), limits)
            worst = (float(mag.max()) if mag.size else 0.0) + 2.0 ** (23 if conv else 31)
            if onnx is None or worst > onnx[0]:
                onnx = (worst, name, exact)
        elif isinstance(node, N.SumPool2d):
            iv[name] = _pool(node, *iv[preds[0]])
        elif isinstance(node, N.Flatten):
            lo, hi = iv[preds[0]]
            iv[name] = (lo.reshape(-1), hi.reshape(-1))
        elif isinstance(node, N.Add):
            lo = sum(iv[p][0] for p in preds)
            hi = sum(iv[p][1] for p in preds)
            res.bounds.append(_check_range(name, _layer_of(graph, name), "add_wrap", lo, hi, INT32))
            iv[name] = _wrap(lo, hi, INT32)
        elif isinstance(node, N.Neuron):
            if not (-1 <= int(node.du) <= 4095 and 0 <= int(node.dv) <= 4096):
                raise GraphError([f"neuron '{name}': du = {node.du} / dv = {node.dv} are outside Lava's decay "
                                  "ranges [-1, 4095] / [0, 4096]"])
            iv[name] = _neuron(name, node, *iv[preds[0]], T, res)
        elif isinstance(node, N.Output):
            continue
        else:
            raise GraphError([f"node '{name}' ({type(node).__name__}) has no integer meaning"])
    if onnx is not None:
        w, n, exact = onnx
        risk = int(not (w < ONNX_LIMIT * (1 - 1e-9)))
        res.bounds.append(Bound(n, "", "onnx_int64", -w, w, -ONNX_LIMIT, ONNX_LIMIT, 1, risk,
                                exact and w < EXACT, PLACES["onnx_int64"]))
    return res
