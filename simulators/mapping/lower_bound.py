"""Lower bounds on the cores a mapping needs, per layer and for the network.

Every mapping of :mod:`snn2hw.simulators.mapping` puts one population on a core, so the
network's bound is the sum of its layers' bounds. A layer's bound is the largest of:

* ``neurons``: ``ceil(neurons / neurons_per_core)``;
* ``synapse_memory``: ``ceil(synapses x b / memory bits per core)``, where ``synapses`` is
  what must be stored at least once: the layer's synapses (nonzero composed weights, one
  per connection) under the expanded model, the nonzero weights of its composed kernels
  under the shared model (a weight set is stored once per core, so each weight at least
  once), and ``b`` the fewest bits any stored synapse can take (the best bits-per-synapse
  of an axon's run over every run length:
  :func:`~snn2hw.simulators.mapping.partition.min_bits_per_synapse`);
* ``tile_memory``: the largest over the layer's discretely stored paths of the cores its neurons' least shares
  of a core (:func:`tile_shares`) fill as items of a bin packing (:func:`bin_packing_floor`: Martello and Toth's
  L2 and Fekete and Schepers' dual feasible functions, at least their sum): a core of ``n`` neurons stores a path dense (every axon ``axon_bits(n)``
  bits, with at least as many axons as any of its neurons has synapses, and more than that when ``n`` exceeds a
  position's channels) or sparse (``w`` + index bits per synapse at least); the 64-bit word a short run takes
  is what ``synapse_memory`` does not see.
* ``output_axons``: every (source neuron, destination core) pair takes one output-axon
  entry on the source's core (every (source pixel, destination core) pair 2 entries, for a
  population axon under the shared model), and each destination core of a consumer listens
  to at least as many of this layer's neurons (pixels) as the consumer neuron that needs
  the fewest; so the layer needs at least ``sum over consumers (consumer's bound x that
  fewest x entries) / fan-out limit`` cores (consumers are bounded first: layers are
  visited last first).

* ``destination_cores``: per source neuron, the fewest destination cores its targets can sit on (discrete
  axons: one output-axon entry each): per consumer, the largest of its targets' count over the neurons per core,
  their synapse bits (synapses x ``b``) over the consumer's memory per core, and the targets that must sit alone
  plus the rest over the neurons per core. A neuron needing more entries than the fan-out limit sits alone (the
  partitioner gives it a core of its own); the others share cores at most ``fan-out limit`` entries each, a
  bin packing (:func:`bin_packing_floor`: two neurons of more than half the limit never share a core). Shared
  conv weights (population axons) are left to ``output_axons``. The consumer's per-neuron shares of a core
  (``tile_memory``'s, and its own destination cores over the fan-out limit) bound its cores per source neuron
  too, packed as bins (L2 with ``a = 0``): its targets of more than half a core one core each, the others filling at
  most the room those leave, and at least the sum of its targets' shares and of their images under each dual
  feasible function (:func:`dff`: at most ``k`` targets above ``1 / (k + 1)`` of a core share one).
* ``core_unions``: the sources the cores of the consumers listen to, summed over the cores (each (source, core)
  pair an output-axon entry), priced per consumer neuron (:func:`core_unions`) over the fan-out limit: what the
  per-source counts miss where a core's neurons do not share all their sources (scattered zero weights).
* ``alone``: the neurons that must sit alone (by fan-in, below, or by ``destination_cores``), one core each, plus
  the rest over the neurons per core; these neurons are what the layer's own sources see as lonely targets.

* ``fan_in``: a neuron that can share a core with no other neuron (the union of its input
  axons with any other neuron's exceeds the fan-in limit) takes a core alone: ``lonely +
  ceil((neurons - lonely) / neurons_per_core)``. The union with a partner at the same
  position is exact (an intersection count per channel pair, one matrix product per
  position class); with a partner elsewhere it is bounded below by the neuron's axons plus
  the fewest any neuron there has minus those of its taps that the partner's window can
  cover (:func:`partner_union_floor`). Expanded synapses only (a population axon per source pixel
  leaves no such wall).

A layer whose single worst neuron exceeds the fan-in or memory limit has no legal core;
it is mapped and bounded as if the limit were lifted to what that neuron needs (fan-in:
not limited), the same relaxation the partitioner applies, and the bound says so
(``relaxed``). The bound is never above a mapping found under the same limits (tested on
random networks)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerBound:
    """``cores``: the bound; ``terms``: each term's value; ``binding``: the term that sets it; ``destinations``: per
    neuron, the fewest destination cores (output-axon entries) its targets can sit on, the ``destination_cores``
    term's items (``None``: no consumer through discrete axons, or no fan-out limit)."""

    layer: str
    cores: int
    terms: dict = field(default_factory=dict)
    binding: str = ""
    relaxed: list = field(default_factory=list)
    shares: list = field(default_factory=list, repr=False)   # per neuron shares of a core (tile_shares, fan-out)
    destinations: np.ndarray | None = field(default=None, repr=False)   # per neuron, the fewest destination cores

    def to_dict(self) -> dict:
        return {"layer": self.layer, "cores": self.cores, "terms": dict(self.terms), "binding": self.binding,
                "relaxed": list(self.relaxed)}


def relaxed_limits(needs, limits: dict) -> tuple:
    """``(fan_in, synapse_bits, relaxed names)``: the per-core limits a layer is tiled and bounded under (a limit
    its single worst neuron exceeds is lifted: fan-in to none, memory to that neuron's bits)."""
    inf = float("inf")
    fin, mem, names = limits["fan_in"], limits["synapse_bits"], []
    if needs.one_fan_in > fin:
        fin = inf
        names.append("fan_in_axons_per_core")
    if needs.one_synapse_bits > mem:
        mem = needs.one_synapse_bits
        names.append("synapse_memory_bits_per_core")
    return fin, mem, names


#: the dual feasible functions :func:`dff` applies (Fekete and Schepers' ``u^(k)``, k = 2..)
DFF_KS = (2, 3, 4)


def dff(x: np.ndarray, k: int) -> np.ndarray:
    """Fekete and Schepers' dual feasible function ``u^(k)`` ("New classes of fast lower bounds for bin packing
    problems", Math. Programming 91, 2001; surveyed by Clautiaux, Alves and Valerio de Carvalho, Annals of Operations
    Research 179, 2010): ``x`` where ``(k + 1) x`` is an integer, else
    ``floor((k + 1) x) / k``. Items that fit one bin keep fitting after ``u^(k)`` (their images add up to at most
    1), so ``sum u^(k)(s)`` bounds the bins below: at most ``k`` items above ``1 / (k + 1)`` share a bin, and an item
    that leaves room for fewer of them counts for more (``k = 2``: an item above 2/3 counts 1, one in (1/3, 2/3)
    counts 1/2). Sizes within rounding of a multiple of ``1 / (k + 1)`` keep their own value, the smaller one."""
    x = np.minimum(np.asarray(x, dtype=np.float64), 1.0)
    y = (k + 1) * x
    near = np.abs(y - np.round(y)) < 1e-7
    return np.where(near, x, np.floor(y) / k)


def bin_packing_floor(sizes) -> int:
    """A lower bound on the unit bins (cores) that hold items of ``sizes`` (each a neuron's least share of a core;
    one above 1 takes a bin of its own): Martello and Toth's L2 (Knapsack Problems, Wiley 1990, section 8.3.1).
    For every ``0 <= a <= 1/2``: an item above ``1 - a`` shares its bin with no item of ``a`` or more, two items
    above 1/2 never share one, and the items in ``[a, 1/2]`` fill at most the room the bins of the items in
    ``(1/2, 1 - a]`` leave before they need bins of their own. Never below ``ceil(sum)``, and above it where
    items are large: three neurons of 0.6 of a core each take 3 cores, not 2. And never below the sum of the items'
    images under each dual feasible function :func:`dff` (``k`` in :data:`DFF_KS`): seven neurons of 0.26 of a core
    take 3 cores (three to a core at most), where the sum and L2 say 2."""
    s = np.sort(np.round(np.asarray(sizes, dtype=np.float64).reshape(-1), 9))
    s = s[s > 0]
    if s.size == 0:
        return 0
    pre = np.concatenate([[0.0], np.cumsum(s)])
    n = s.size
    alphas = np.concatenate([[0.0], np.unique(s[s <= 0.5])])
    tol = 1e-7   # "above" by more than the rounding: a pair that just fills a bin is never split
    i1 = np.searchsorted(s, 1.0 - alphas + tol, side="right")     # items above 1 - a: [i1, n)
    lo = np.searchsorted(s, 0.5 + tol, side="right")                # items above 1/2: [lo, n)
    hi = np.maximum(i1, lo)
    count2 = hi - lo
    sum2 = pre[hi] - pre[lo]
    a = np.searchsorted(s, alphas, side="left")
    sum3 = pre[lo] - pre[np.minimum(a, lo)]
    fill = np.ceil(np.round(sum3 - (count2 - sum2), 6))
    l2 = int(((n - hi) + count2 + np.maximum(0.0, fill)).max())
    return max([l2] + [int(np.ceil(round(float(dff(s, k).sum()), 6))) for k in DFF_KS])


def _stored(p, shared: bool) -> int:
    """What a path must store at least once (see the module docstring)."""
    if shared and p.kind == "conv":
        return int(p.cum_int[-1].sum())
    return int(p.per_neuron_synapses().sum())


def _fewest_sources(p, shared: bool) -> tuple:
    """``(fewest source units any destination neuron listens to through p, output-axon entries per unit)``:
    neurons through a discrete axon each, or source pixels through a population axon each (shared conv)."""
    if shared and p.kind == "conv":
        import torch
        import torch.nn.functional as F
        from .shared_synapses import POP_AXON_ENTRIES
        taps = torch.from_numpy((p.cum_int[-1] > 0).any(0).astype(np.float64))[None, None]
        valid = torch.from_numpy(p.valid_np.astype(np.float64))[None, None]
        per = F.conv2d(valid, taps, stride=tuple(p.stride), padding=tuple(p.padding))
        return int(per.min().round()), POP_AXON_ENTRIES
    return int(p.per_neuron_synapses().min()), 1


def tile_shares(layer, mem, wbits: int, mlim: float, npc: int, shared: bool, unions: dict | None = None) -> list:
    """Per discretely stored path of ``layer``: each neuron's least share of a core, ``[neurons]``, such that the
    shares of the neurons on one core never add up to more than 1 (so the cores number at least their sum).

    On a core of ``n`` neurons a path's synapses are stored either dense, ``axons x axon_bits(n, w)``, with at
    least as many axons as any of its neurons has synapses ``s`` on the path (so ``n <= n_d(s)``, the largest
    ``n`` with ``s x axon_bits(n, w) <= memory``, and each neuron takes ``1 / n_d(s)`` of the core), or sparse,
    at least ``b_sp`` bits per synapse (``w`` + index bits, the best run length), a neuron taking
    ``s x b_sp / memory``. A neuron's share is the smaller of the two. The word a run of a few synapses takes
    is what this adds to ``synapse_memory``: a neuron of 9,180 synapses fits 6 to a core, not 13. A conv
    core of more neurons than a position has channels holds a neuron at another position too, so its axons are
    at least the neuron's union floor with a partner elsewhere (:func:`_cross_floor`). ``unions``: the conv
    paths' :func:`_conv_unions` by ``id(path)`` (computed here where missing)."""
    from .partition import min_bits_per_synapse
    from .tile_counts import axon_bit_table
    if not np.isfinite(mlim):
        return []
    out = []
    for p in layer.paths:
        if shared and p.kind == "conv":
            continue
        wb = p.weight_bits or wbits
        s = p.per_neuron_synapses().astype(np.float64)
        dense = axon_bit_table(npc, wb, mem)[1:npc + 1].astype(np.float64)   # dense[n - 1]: bits of an n-synapse axon
        eps = 1 + 1e-12
        n_d = np.searchsorted(dense, np.where(s > 0, mlim / np.maximum(s, 1) * eps, np.inf), side="right")
        if p.kind == "conv" and len(layer.shape) == 3:
            C = layer.shape[0]
            cu = (unions or {}).get(id(p)) or _conv_unions(p, same=False)
            cross = _cross_floor(cu, cu.n.min(0)).reshape(-1)
            n_x = np.searchsorted(dense, np.where(np.isfinite(cross), mlim / np.maximum(cross, 1) * eps, 0),
                                  side="right")
            n_d = np.maximum(np.minimum(n_d, C), np.where(n_x > C, n_x, 0))
        d = np.where(n_d > 0, 1.0 / np.maximum(n_d, 1), np.inf)
        sp = s * min_bits_per_synapse(wb + mem.index_bits, mem) / mlim
        out.append(np.where(s > 0, np.minimum(d, sp), 0.0))
    return out


def _conv_connectivity(p) -> tuple:
    """``(k [Cout, Cin, KH, KW] bool, valid taps [Ho, Wo, KH, KW] bool)`` of a conv path (composed kernel)."""
    k = p.k.numpy() > 0
    KH, KW = k.shape[2:]
    Ho, Wo = p.dst_shape[1:]
    H, W = p.src_shape[1:]
    sy, sx = p.stride
    py, px = p.padding
    ys = sy * np.arange(Ho)[:, None] + np.arange(KH)[None, :] - py          # [Ho, KH] source rows
    xs = sx * np.arange(Wo)[:, None] + np.arange(KW)[None, :] - px          # [Wo, KW] source cols
    vy = (ys >= 0) & (ys < H)
    vx = (xs >= 0) & (xs < W)
    ok = vy[:, None, :, None] & vx[None, :, None, :]
    valid = p.valid_np[np.clip(ys, 0, H - 1)[:, None, :, None], np.clip(xs, 0, W - 1)[None, :, None, :]]
    return k, ok & valid


@dataclass
class _ConvUnions:
    """What the union floors of a conv path need: per neuron ``[C, Ho, Wo]`` its axons ``n`` and its exact
    smallest union with another channel at its position ``same``; per overlapping displacement ``(dy, dx)`` the
    neuron's taps that the displaced window covers ``ov``."""

    n: np.ndarray
    same: np.ndarray
    ovs: list


def _conv_unions(p, same: bool = True) -> _ConvUnions:
    """:class:`_ConvUnions` of a conv path; ``same=False`` leaves out the same-position unions (``same`` is
    ``None``: only :func:`_cross_floor` is needed, and the exact unions are most of the work)."""
    k, vt = _conv_connectivity(p)
    C, Cin, KH, KW = k.shape
    Ho, Wo = vt.shape[:2]
    kf = k.reshape(C, Cin, KH * KW).astype(np.float32)
    per_tap = kf.sum(1)                                       # [C, taps]: input channels per output channel and tap
    vflat = vt.reshape(Ho, Wo, KH * KW)
    n = np.einsum("ct,yxt->cyx", per_tap, vflat.astype(np.float32)).astype(np.float64)
    # same position, another channel: exact unions, one product per class of valid taps
    same_u = np.full((C, Ho, Wo), np.inf, dtype=np.float64) if same else None
    classes = {}
    for yo in range(Ho):
        for xo in range(Wo):
            classes.setdefault(vflat[yo, xo].tobytes(), []).append((yo, xo))
    for key, where in (classes.items() if same else ()):
        m = np.frombuffer(key, dtype=bool)
        Kv = kf[:, :, m].reshape(C, -1)
        nv = Kv.sum(1)
        U = nv[:, None] + nv[None, :] - Kv @ Kv.T
        if C > 1:
            np.fill_diagonal(U, np.inf)
            u = U.min(1)
        else:
            u = np.full(C, np.inf)
        for yo, xo in where:
            same_u[:, yo, xo] = u
    # another position: the partner's window covers the taps shifted by the displacement
    sy, sx = p.stride
    ovs = [(dy, dx, np.einsum("ct,yxt->cyx", per_tap, (vflat & cov).astype(np.float32)))
           for dy, dx, cov in _near_displacements(KH, KW, sy, sx)]
    return _ConvUnions(n, same_u, ovs)


def _cross_floor(cu: _ConvUnions, nmin: np.ndarray) -> np.ndarray:
    """``[C, Ho, Wo]``: per neuron, the smallest over the other positions ``q`` of ``its axons + nmin[q] - its
    taps the window at q covers`` (0 where the windows do not overlap): a floor on its union with a partner
    there that has at least ``nmin[q]`` axons."""
    n = cu.n
    Ho, Wo = nmin.shape
    flat = nmin.reshape(-1)
    others = np.full((Ho, Wo), np.inf)
    if flat.size > 1:   # the smallest nmin elsewhere: the two smallest cover every position
        order = np.argsort(flat, kind="stable")
        others = np.full(flat.size, flat[order[0]])
        others[order[0]] = flat[order[1]]
        others = others.reshape(Ho, Wo)
    worst = n + others[None]
    for dy, dx, ov in cu.ovs:
        if abs(dy) >= Ho or abs(dx) >= Wo:   # no position has a partner at this displacement
            continue
        ys, xs = slice(max(0, -dy), Ho - max(0, dy)), slice(max(0, -dx), Wo - max(0, dx))
        yb, xb = slice(max(0, dy), Ho - max(0, -dy)), slice(max(0, dx), Wo - max(0, -dx))
        worst[:, ys, xs] = np.minimum(worst[:, ys, xs], n[:, ys, xs] + nmin[None, yb, xb] - ov[:, ys, xs])
    return worst


def partner_union_floor(p, cu: _ConvUnions | None = None) -> np.ndarray:
    """Per destination neuron of path ``p`` (C-major): a lower bound on the input axons from ``p``'s source that it
    and any one other neuron of the layer need together (exact for partners at the same position; see the
    module docstring)."""
    if p.kind == "dense":
        K = p.nz.astype(np.float32)
        n = K.sum(1)
        if len(n) < 2:
            return np.full(len(n), np.inf)
        U = n[:, None] + n[None, :] - K @ K.T
        np.fill_diagonal(U, np.inf)
        return U.min(1)
    cu = _conv_unions(p) if cu is None else cu
    return np.minimum(cu.same, _cross_floor(cu, cu.n.min(0))).reshape(-1)


def _near_displacements(KH: int, KW: int, sy: int, sx: int):
    """Output displacements ``(dy, dx) != (0, 0)`` whose input windows overlap, with the mask ``[KH * KW]`` of a
    neuron's taps that the displaced neuron's window covers (``0 <= i - sy dy < KH``, ``0 <= j - sx dx < KW``)."""
    for dy in range(-(KH // max(sy, 1)) - 1, KH // max(sy, 1) + 2):
        for dx in range(-(KW // max(sx, 1)) - 1, KW // max(sx, 1) + 2):
            if (dy, dx) == (0, 0) or abs(sy * dy) >= KH or abs(sx * dx) >= KW:
                continue
            cov = np.zeros((KH, KW), dtype=bool)
            cov[max(0, sy * dy):KH + min(0, sy * dy), max(0, sx * dx):KW + min(0, sx * dx)] = True
            yield dy, dx, cov.reshape(-1)


def pairwise_incompatible(p, fin: float, rounds: int = 4, cu: _ConvUnions | None = None) -> np.ndarray:
    """C-major mask of destination neurons of conv path ``p`` no two of which can share a core: for every pair,
    the input axons they need from ``p`` together exceed ``fin``. So they take as many cores as there are of them
    (an independent set of the "may share a core" graph).

    Candidates are the neurons whose exact union with every other channel at their own position exceeds ``fin``;
    a candidate stays when, for every other position holding candidates, ``its axons + the fewest axons of a
    candidate there - its taps that the window there covers`` exceeds ``fin`` too (the floor of
    :func:`partner_union_floor`, over candidates only); repeated until no candidate drops."""
    cu = _conv_unions(p) if cu is None else cu
    if cu.n.size < 2:
        return np.zeros(cu.n.size, dtype=bool)
    cand = cu.same > fin
    for _ in range(rounds):
        if not cand.any():
            break
        keep = cand & (_cross_floor(cu, np.where(cand, cu.n, np.inf).min(0)) > fin)
        if (keep == cand).all():
            break
        cand = keep
    return cand.reshape(-1)


def core_unions(axons: np.ndarray, partner: np.ndarray | None, shares: list) -> float:
    """A floor on the source neurons the cores of a consumer listen to through one path, summed over its cores: the
    largest over the share vectors ``s`` (each summing to at most 1 on any core) of ``sum_t s_t v_t``, with
    ``v_t = min(partner_t, axons_t / s_t)``: ``axons_t`` the neuron's own sources, ``partner_t`` its least union
    with any other neuron (``None``: not known, ``axons_t`` stands in).

    Why: a core holding one neuron listens to its ``axons_t >= s_t v_t`` sources; a core holding several listens to
    at least ``partner_t >= v_t`` for each of them, so to at least ``max v_t >= sum s_t v_t``. Every (source, core)
    pair is an output-axon entry of the source, so the source layer needs this over its fan-out limit in cores.
    Stronger than counting each source's targets where a core's neurons rarely share all their sources (scattered
    zero weights: two channels at a position together listen to more sources than either)."""
    best = 0.0
    partner = axons if partner is None else np.maximum(partner, axons)
    for s in shares:
        s = np.minimum(np.asarray(s, dtype=np.float64), 1.0)
        v = np.where(s > 0, np.minimum(partner, axons / np.maximum(s, 1e-300)), 0.0)
        best = max(best, float((s * v).sum()))
    return best


def _target_cores(p, c: "_Consumer", npc: int) -> np.ndarray:
    """Per source neuron of path ``p`` into consumer ``c``: the fewest of ``c``'s cores that can hold the
    destination neurons it reaches (their count over the neurons per core; their synapse bits over the memory per
    core; the ones that must sit alone, one core each; their shares of a core packed as bins: those above 1/2 one
    core each, the others filling at most the room those leave, and the sum of their images under each dual
    feasible function :func:`dff`)."""
    n = c.alone.size
    ws = [np.ones(n)]
    if c.bits is not None and np.isfinite(c.mlim):
        ws.append(c.bits / c.mlim)
    if c.alone.any():
        ws.append(c.alone.astype(np.float64))
    if c.distinct is not None and c.distinct.any():
        ws.append(c.distinct.astype(np.float64))
    tol, split, n_dff = 1e-7, [], []
    for share in c.shares:   # per share: the targets above 1/2 (count, their sum) and the sum of the others
        share = np.minimum(share, 1.0)
        big = share > 0.5 + tol
        split.append(bool(big.any()))
        ws += [big.astype(np.float64), np.where(big, share, 0.0), np.where(big, 0.0, share)] if split[-1] else [share]
        images = [u for u in (dff(share, k) for k in DFF_KS) if u.any()]   # all zero: no item above 1 / (k + 1)
        n_dff.append(len(images))
        ws += images
    sums = iter(np.round(p.reach(np.stack(ws)), 6))   # every sum in one transposed convolution
    cnt = next(sums)
    need = np.ceil(cnt / npc)
    if c.bits is not None and np.isfinite(c.mlim):
        need = np.maximum(need, np.ceil(next(sums)))
    if c.alone.any():
        alone = np.round(next(sums))
        need = np.maximum(need, alone + np.ceil(np.round(cnt - alone, 6) / npc))
    if c.distinct is not None and c.distinct.any():   # pairwise incompatible targets: one core each
        need = np.maximum(need, np.round(next(sums)))
    for has_big, images in zip(split, n_dff):   # the targets' shares of a core, as a bin packing (bin_packing_floor):
        # L2 with a = 0 (two targets above 1/2 never share a core, the others fill at most the room those cores
        # leave), then the sum of each dual feasible function's images (dff: at most k targets above 1 / (k + 1))
        if not has_big:
            need = np.maximum(need, np.ceil(next(sums)))
        else:
            n_big, s_big, s_small = next(sums), next(sums), next(sums)
            need = np.maximum(need, n_big + np.maximum(0.0, np.ceil(np.round(s_small - (n_big - s_big), 6))))
        for _ in range(images):
            need = np.maximum(need, np.ceil(next(sums)))
    return need


@dataclass
class _Consumer:
    """What a layer's sources need to know of it: per neuron, the fewest synapse bits it stores (``None`` under
    shared conv weights, where a core's storage is not a per-neuron sum), its memory limit, and which neurons
    must sit alone on a core (fan-in or fan-out)."""

    bits: np.ndarray | None
    mlim: float
    alone: np.ndarray
    distinct: np.ndarray | None = None
    shares: list = field(default_factory=list)   # per path: each neuron's least share of a core (tile_shares)
    priced: dict = field(default_factory=dict)   # id(path) -> the least sources its cores listen to (core_unions)


def layer_bounds(layers: dict, limits: dict, mem, wbits: int) -> dict:
    """``{name: LayerBound}`` for the mapping layers (with their synapse ``paths`` and ``needs``, prepared by
    :func:`~snn2hw.simulators.mapping.partition.prepare_layer`), in order."""
    from .partition import min_bits_per_synapse
    from .tile_needs import shared_model
    shared = shared_model(mem)
    fo_lim = limits["fan_out"]
    npc = int(limits["neurons_per_core"])
    out, consumers = {}, {}
    for name in reversed(list(layers)):
        layer = layers[name]
        _, mlim, relaxed = relaxed_limits(layer.needs, limits)
        terms = {"neurons": math.ceil(layer.neurons / npc)}
        fin = limits["fan_in"]
        fan_in_term = bool(layer.paths and np.isfinite(fin) and "fan_in_axons_per_core" not in relaxed
                           and not layer.shared_sources and not (shared and any(p.kind == "conv" for p in layer.paths)))
        if layer.paths:
            syn = sum(_stored(p, shared) for p in layer.paths)
            b = min(min_bits_per_synapse(p.weight_bits or wbits, mem) for p in layer.paths)
            terms["synapse_memory"] = math.ceil(syn * b / mlim) if np.isfinite(mlim) else 0
            unions = {id(p): _conv_unions(p, same=fan_in_term) for p in layer.paths if p.kind == "conv" and not shared}
            shares = tile_shares(layer, mem, wbits, mlim, npc, shared, unions)
            if shares:
                terms["tile_memory"] = max(bin_packing_floor(v) for v in shares)
        else:
            shares, unions = [], {}
        alone = np.zeros(layer.neurons, dtype=bool)
        distinct = None
        per_neuron = None
        if np.isfinite(fo_lim):
            entries, listened = 0.0, 0.0
            per_neuron = np.zeros(layer.neurons)
            for cname, c in out.items():
                paths = [p for p in layers[cname].paths if p.source == name]
                if paths:
                    entries += c.cores * max(f * u for f, u in (_fewest_sources(p, shared) for p in paths))
                    listened += max([consumers[cname].priced.get(id(p), 0.0) for p in paths])
                    discrete = [p for p in paths if not (shared and p.kind == "conv")]
                    if discrete:   # several paths into one consumer may reach the same neurons: the largest
                        per_neuron += np.max([_target_cores(p, consumers[cname], npc) for p in discrete], axis=0)
            terms["output_axons"] = math.ceil(entries / fo_lim) if entries else 0
            if listened:
                terms["core_unions"] = math.ceil(round(listened / fo_lim, 6))
            if per_neuron.any():
                alone = per_neuron > fo_lim
                terms["destination_cores"] = bin_packing_floor(per_neuron / fo_lim)
                # a core's output-axon entries are at most the limit: each neuron takes per_neuron / limit of its
                # core (a neuron above the limit a core of its own), the share its sources' bound sees
                shares = shares + [np.where(alone, 1.0, per_neuron / fo_lim)]
        partner = {}                      # id(path) -> per neuron, its least union with a partner (exact where cheap)
        if fan_in_term:
            partner = {id(p): partner_union_floor(p, unions.get(id(p))) for p in layer.paths}
            # the union over distinct sources adds up; the sum of per-source minima bounds the minimum of sums
            lonely = sum(partner.values()) > fin
            if lonely.any():
                terms["fan_in"] = int(lonely.sum()) + math.ceil((layer.neurons - int(lonely.sum())) / npc)
                alone |= lonely
            convs = [p for p in layer.paths if p.kind == "conv"]
            if convs:   # the other paths only add axons: ignoring them keeps it a lower bound
                main = max(convs, key=lambda q: float(q.per_neuron_synapses().mean()))
                distinct = pairwise_incompatible(main, fin, cu=unions[id(main)])
        if alone.any():
            terms["alone"] = int(alone.sum()) + math.ceil((layer.neurons - int(alone.sum())) / npc)
        if distinct is not None:
            distinct = distinct | alone
            if distinct.sum() > 1:
                terms["independent"] = int(distinct.sum())
        binding = max(terms, key=terms.get)
        out[name] = LayerBound(name, max(1, terms[binding]), terms, binding, relaxed, shares, per_neuron)
        bits = None
        if layer.paths and not (shared and any(p.kind == "conv" for p in layer.paths)):
            bits = sum(p.per_neuron_synapses().astype(np.float64) * min_bits_per_synapse(p.weight_bits or wbits, mem)
                       for p in layer.paths)
        priced = {}
        if np.isfinite(fo_lim):
            for p in layer.paths:
                if (shared and p.kind == "conv") or sum(q.source == p.source for q in layer.paths) > 1:
                    continue
                priced[id(p)] = core_unions(p.per_neuron_synapses().astype(np.float64), partner.get(id(p)),
                                            shares + [np.full(layer.neurons, 1.0 / npc)])
        consumers[name] = _Consumer(bits, mlim, alone, distinct, shares, priced)
    return {n: out[n] for n in layers}
