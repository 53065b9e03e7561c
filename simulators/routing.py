"""Static routing of the event simulator: which destination cores each source neuron reaches.

A source neuron (or input element) ``i`` of population ``p`` reaches core ``c`` when some
neuron placed on ``c`` receives a nonzero weight on a path from ``i``: through the glue
before a synapse (sum pools, flatten), the synapse itself (Dense, Conv2d; pruned and zero
weights carry nothing) and the glue after it (Add, sum pools, flatten). The result is the
set of distinct ``(source, core)`` pairs, one message per spike and pair (DESIGN.md,
event simulator).

Everything is computed from index arithmetic, never from a dense ``[sources, cores]``
matrix. The counts (:func:`_synapse_counts`) come from one compiled walk per synapse over
its composed paths, target neuron by target neuron and core by core: target <- synapse
output (the glue after the synapse, inverted), synapse output <- nonzero tap (a dense layer
is a 1x1 convolution of a 1x1 image; padding: no element), synapse input <- source (the glue
before it); per core, the distinct sources met and how many of its targets each meets
(where parallel paths can merge, a target counts when its summed path weight is nonzero).
Memory follows the sources and the distinct (source, core) pairs, not the composed
connections (VGG-16 32x32 on its 105,606-core Loihi mapping: 3.0·10^8 pairs against
2.9·10^10 sources × cores). :func:`composite_connections` lists the connections
themselves with their weights (the SANA-FE export), from unfolding an image of element
indices (``F.unfold`` with the layer's stride, padding and dilation; padding reads index
0 = "no element") and the nonzero pattern of dense weights, chunk by chunk.
"""
from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

from snn2hw.errors import Snn2hwError
from snn2hw.ir import nodes as N
from snn2hw.simulators.timing import njit

CHUNK_PAIRS = 1 << 22  # pairs expanded at once (~100 MB of int64 temporaries)


def _index_image(shape: tuple) -> torch.Tensor:
    """``[1, C, H, W]`` float64 image holding ``flat index + 1`` (exact below 2^53)."""
    n = int(np.prod(shape))
    return (torch.arange(n, dtype=torch.float64) + 1).reshape(1, *shape)


class _Csr:
    """Pairs ``(a, b)`` grouped by ``a``: ``expand(x)`` lists the ``b`` of every element of ``x``."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, na: int):
        order = torch.argsort(a, stable=True)
        self.b = b[order]
        self.counts = torch.bincount(a, minlength=na)
        self.ptr = torch.cumsum(self.counts, 0) - self.counts

    def expand(self, x: torch.Tensor) -> tuple:
        """``(rep, b)``: for every pair ``(x[rep[k]], b[k])``."""
        cnt = self.counts[x]
        rep = torch.repeat_interleave(torch.arange(len(x)), cnt)
        first = torch.repeat_interleave(torch.cumsum(cnt, 0) - cnt, cnt)
        offs = torch.arange(len(rep)) - first
        return rep, self.b[self.ptr[x][rep] + offs]


def _pool_pairs(node: N.SumPool2d, in_shape: tuple) -> tuple:
    """``(out, in)`` flat index pairs of a sum pool (depthwise window, zero padding)."""
    c = in_shape[0]
    img = _index_image(in_shape).reshape(c, 1, *in_shape[1:])
    u = F.unfold(img, node.kernel_size, 1, node.padding, node.stride)  # [C, k*k, L]
    L = u.shape[-1]
    out = (torch.arange(c).reshape(c, 1, 1) * L + torch.arange(L).reshape(1, 1, L)).expand_as(u)
    keep = u > 0
    return out[keep].long(), (u[keep] - 1).long()


def _glue_pairs(node):
    """``(out, in)`` pairs of a glue node, or ``None`` for an index-preserving one."""
    if isinstance(node, (N.Flatten, N.Add)):
        return None
    if isinstance(node, N.SumPool2d):
        return _pool_pairs(node, tuple(node.input_shape))
    raise Snn2hwError(f"the event simulator cannot route through {type(node).__name__} nodes")


def _chain_pairs(graph, chain: list, forward: bool):
    """Compose the glue ``chain`` into ``(synapse side, population side)`` flat index pairs, one per path.

    ``forward=False`` (glue before the synapse): synapse input element -> source elements.
    ``forward=True`` (glue after the synapse): synapse output element -> target elements.
    ``None`` when every glue node preserves indices.
    """
    pairs = None  # (synapse side, far side) pairs composed so far
    for name in (chain if forward else chain[::-1]):
        node = graph.nodes[name]
        p = _glue_pairs(node)
        if p is None:
            continue
        out, inp = p
        near, far = (inp, out) if forward else (out, inp)
        if pairs is None:
            pairs = (near, far)
        else:  # the far side so far is this node's near side: follow it through the node
            n_side = int(np.prod(node.input_shape if forward else node.output_shape))
            rep, far2 = _Csr(near, far, n_side).expand(pairs[1])
            pairs = (pairs[0][rep], far2)
    return pairs


def _chain_map(graph, chain: list, forward: bool, n_near: int):
    """:func:`_chain_pairs` as a ``_Csr`` keyed by the synapse side (``n_near`` elements); ``None`` when
    every glue node preserves indices."""
    pairs = _chain_pairs(graph, chain, forward)
    return None if pairs is None else _Csr(pairs[0], pairs[1], n_near)


def _synapse_pair_chunks(node, wnz: torch.Tensor, weights: torch.Tensor | None = None):
    """Yield ``(out, in)`` flat index pairs of a synapse's nonzero weights, chunk by chunk (with
    ``weights``, the same node's weight tensor: ``(out, in, weight)``)."""
    if isinstance(node, N.Dense):
        rows_per = max(1, CHUNK_PAIRS // max(1, wnz.shape[1]))
        for r0 in range(0, wnz.shape[0], rows_per):
            o, i = torch.nonzero(wnz[r0:r0 + rows_per], as_tuple=True)
            if weights is None:
                yield o + r0, i
            else:
                yield o + r0, i, weights[o + r0, i]
        return
    c_out, cg, kh, kw = wnz.shape
    u = F.unfold(_index_image(tuple(node.input_shape)), (kh, kw), node.dilation, node.padding, node.stride)[0]
    L = u.shape[-1]
    per_group = c_out // node.groups
    taps = wnz.reshape(c_out, cg * kh * kw)
    wflat = None if weights is None else weights.reshape(c_out, cg * kh * kw)
    co_per = max(1, CHUNK_PAIRS // max(1, cg * kh * kw * L))
    for c0 in range(0, c_out, co_per):
        outs, ins, ws = [], [], []
        for co in range(c0, min(c_out, c0 + co_per)):
            gi = co // per_group
            nz = torch.nonzero(taps[co], as_tuple=True)[0]
            src = u[nz + gi * cg * kh * kw]                      # [nz, L]
            keep = src > 0
            tgt = (co * L + torch.arange(L)).expand_as(src)
            outs.append(tgt[keep])
            ins.append((src[keep] - 1).long())
            if wflat is not None:
                ws.append(wflat[co, nz].reshape(-1, 1).expand_as(src)[keep])
        if outs:
            if weights is None:
                yield torch.cat(outs).long(), torch.cat(ins)
            else:
                yield torch.cat(outs).long(), torch.cat(ins), torch.cat(ws)


def _merges(graph, info: dict) -> bool:
    """Whether parallel paths can join one (target, source) pair: only through an overlapping pool before the
    synapse or a pool after it (several outputs into one target); otherwise every pair is met once and its
    weight is a tap's."""
    return any(isinstance(graph.nodes[u], N.SumPool2d) and any(k > st for k, st in zip(
        graph.nodes[u].kernel_size, graph.nodes[u].stride)) for u in info["chain_up"]) or any(
        isinstance(graph.nodes[d], N.SumPool2d) for d in info["chain_down"])


def composite_connections(graph, synapse: str, syn_info: dict):
    """Yield ``(target, source, weight)`` chunks of one synapse node's composed connections: the
    neurons of its target population each source element reaches through the glue before it
    (sum pools: weight 1 per window), its nonzero ``weight_int`` and the glue after it (pools,
    flatten, adds), with the weights of parallel paths summed; pairs whose weights cancel are
    dropped. Integer weights before the node's exponent. Chunks hold whole output channels/rows."""
    info, node = syn_info[synapse], graph.nodes[synapse]
    up = _chain_map(graph, info["chain_up"], False, int(np.prod(node.input_shape)))
    down = _chain_map(graph, info["chain_down"], True, int(np.prod(node.output_shape)))
    n_src = int(np.prod(graph.nodes[info["source"]].output_shape))
    w = torch.as_tensor(np.asarray(node.weight_int), dtype=torch.int64)
    merges = _merges(graph, info)
    for out, inp, wt in _synapse_pair_chunks(node, w != 0, w):
        if up is not None:
            rep, inp = up.expand(inp)
            out, wt = out[rep], wt[rep]
        if down is not None:
            rep, out = down.expand(out)
            inp, wt = inp[rep], wt[rep]
        if not merges:
            yield out, inp, wt
            continue
        keys, inv = torch.unique(out * n_src + inp, return_inverse=True)
        ws = torch.zeros(len(keys), dtype=torch.int64).index_add_(0, inv, wt)
        keep = ws != 0
        yield keys[keep] // n_src, keys[keep] % n_src, ws[keep]


@njit(cache=True, nogil=True)
def _count_kernel(order, tcore, n_src, has_down, down_ptr, down_idx, hw_out, w_out, tap_ptr, tap_ci, tap_ky, tap_kx,
                  tap_w, h_in, w_in, sy, sx, py, px, dy, dx, has_up, up_ptr, up_idx, merges):
    """Walk every composed path target <- synapse output <- tap <- synapse input <- source, target by target in
    ``order`` (grouped by core); returns the sorted keys ``core * n_src + source`` and the number of distinct
    targets on the core each source reaches (with ``merges``: targets whose summed path weight is nonzero)."""
    n = len(order)
    cap = max(1024, 2 * n)
    keys = np.empty(cap, np.int64)
    cnts = np.empty(cap, np.int64)
    m = 0
    cnt = np.zeros(n_src, np.int64)        # targets on the current core per source
    seen = np.empty(n_src, np.int64)       # sources met on the current core
    stamp = np.full(n_src, -1, np.int64)   # merges: the last target that met the source
    wsum = np.zeros(n_src, np.int64)       # merges: the summed weight of the current target's paths
    touched = np.empty(n_src, np.int64)    # merges: the sources the current target meets
    k = 0
    while k < n:
        c = tcore[order[k]]
        n_seen = 0
        while k < n and tcore[order[k]] == c:
            o = order[k]
            n_touched = 0
            lo, hi = (down_ptr[o], down_ptr[o + 1]) if has_down else (o, o + 1)
            for q in range(lo, hi):
                op = down_idx[q] if has_down else q
                co = op // hw_out
                r = op - co * hw_out
                yo = r // w_out
                xo = r - yo * w_out
                for t in range(tap_ptr[co], tap_ptr[co + 1]):
                    yi = yo * sy - py + tap_ky[t] * dy
                    xi = xo * sx - px + tap_kx[t] * dx
                    if yi < 0 or yi >= h_in or xi < 0 or xi >= w_in:
                        continue  # padding: no element
                    e = (tap_ci[t] * h_in + yi) * w_in + xi
                    ulo, uhi = (up_ptr[e], up_ptr[e + 1]) if has_up else (e, e + 1)
                    for j in range(ulo, uhi):
                        src = up_idx[j] if has_up else j
                        if merges:
                            if stamp[src] != o:
                                stamp[src] = o
                                wsum[src] = 0
                                touched[n_touched] = src
                                n_touched += 1
                            wsum[src] += tap_w[t]
                        else:
                            if cnt[src] == 0:
                                seen[n_seen] = src
                                n_seen += 1
                            cnt[src] += 1
            for j in range(n_touched):
                src = touched[j]
                if wsum[src] != 0:
                    if cnt[src] == 0:
                        seen[n_seen] = src
                        n_seen += 1
                    cnt[src] += 1
            k += 1
        if m + n_seen > cap:
            cap = max(2 * cap, m + n_seen)
            k2, c2 = np.empty(cap, np.int64), np.empty(cap, np.int64)
            k2[:m], c2[:m] = keys[:m], cnts[:m]
            keys, cnts = k2, c2
        met = np.sort(seen[:n_seen])
        for j in range(n_seen):
            src = met[j]
            keys[m] = c * n_src + src
            cnts[m] = cnt[src]
            cnt[src] = 0
            m += 1
    return keys[:m].copy(), cnts[:m].copy()


@njit(cache=True)
def _nonzero_taps(w, c_out, cg, kh, kw, per_group):
    """The nonzero taps of a ``[c_out, cg, kh, kw]`` weight (flat, C order): per output channel its range ``ptr``,
    and each tap's input channel (``per_group`` output channels per group of ``cg`` inputs), ky, kx and value."""
    per_out = cg * kh * kw
    ptr = np.zeros(c_out + 1, np.int64)
    for o in range(c_out):
        k = 0
        for t in range(per_out):
            if w[o * per_out + t] != 0:
                k += 1
        ptr[o + 1] = ptr[o] + k
    m = ptr[c_out]
    ci, ky, kx, val = np.empty(m, np.int64), np.empty(m, np.int64), np.empty(m, np.int64), np.empty(m, np.int64)
    m = 0
    for o in range(c_out):
        base = (o // per_group) * cg
        for t in range(per_out):
            x = w[o * per_out + t]
            if x != 0:
                c, r = t // (kh * kw), t % (kh * kw)
                ci[m] = base + c
                ky[m] = r // kw
                kx[m] = r % kw
                val[m] = x
                m += 1
    return ptr, ci, ky, kx, val


def _taps(node, w: np.ndarray) -> tuple:
    """A synapse as a convolution's nonzero taps: ``(ptr [c_out + 1], input channel, ky, kx, weight)`` per output
    channel, its geometry ``(h_in, w_in, h_out, w_out, sy, sx, py, px, dy, dx)``. A dense layer is a 1x1
    convolution of a 1x1 image with one channel per input element."""
    flat = np.ascontiguousarray(w).reshape(-1)
    if isinstance(node, N.Dense):
        return _nonzero_taps(flat, w.shape[0], w.shape[1], 1, 1, w.shape[0]), (1, 1, 1, 1, 1, 1, 0, 0, 1, 1)
    c_out, cg, kh, kw = w.shape
    _, h_in, w_in = node.input_shape
    _, h_out, w_out = node.output_shape
    return (_nonzero_taps(flat, c_out, cg, kh, kw, c_out // node.groups),
            (h_in, w_in, h_out, w_out) + tuple(node.stride) + tuple(node.padding) + tuple(node.dilation))


def _synapse_counts(graph, synapse: str, syn_info: dict, core_of: dict, n_src: int) -> tuple:
    """``(keys, counts)`` of one synapse node: sorted unique core-major keys ``core * n_src + source`` and how
    many distinct target neurons on that core the source reaches through this synapse (the connections of
    :func:`composite_connections`: the composed pool o synapse o glue connections with a nonzero summed weight),
    counted by one compiled walk over the composed paths, target by target, core by core."""
    info, node = syn_info[synapse], graph.nodes[synapse]
    cores = core_of[info["target"]].numpy().astype(np.int64)
    w = np.asarray(node.weight_int)
    (tap_ptr, tap_ci, tap_ky, tap_kx, tap_w), (h_in, w_in, h_out, w_out, sy, sx, py, px, dy, dx) = _taps(node, w)
    empty = np.zeros(1, dtype=np.int64)
    up = _chain_map(graph, info["chain_up"], False, int(np.prod(node.input_shape)))
    up_ptr, up_idx = ((np.r_[up.ptr.numpy(), int(up.counts.sum())].astype(np.int64), up.b.numpy().astype(np.int64))
                      if up is not None else (empty, empty))
    down = _chain_pairs(graph, info["chain_down"], True)
    if down is not None:  # keyed by the target: the synapse outputs feeding it, one per path
        inv = _Csr(down[1], down[0], len(cores))
        down_ptr = np.r_[inv.ptr.numpy(), int(inv.counts.sum())].astype(np.int64)
        down_idx = inv.b.numpy().astype(np.int64)
    else:
        down_ptr = down_idx = empty
    order = np.argsort(cores, kind="stable")
    merges = _merges(graph, info)

    def count(part):
        return _count_kernel(part, cores, int(n_src), down is not None, down_ptr, down_idx, h_out * w_out, w_out,
                             tap_ptr, tap_ci, tap_ky, tap_kx, tap_w, h_in, w_in, sy, sx, py, px, dy, dx,
                             up is not None, up_ptr, up_idx, merges)
    # the cores are independent: split the targets into runs of whole cores, one per thread (the kernel runs
    # without the GIL), and keep the runs' results in core order
    cuts = np.flatnonzero(np.diff(cores[order])) + 1
    threads = min(_threads(), len(cuts) + 1)
    if threads > 1 and len(order) * len(tap_ci) > THREADED_WORK:
        at = cuts[np.searchsorted(cuts, np.arange(1, threads) * len(order) // threads)[:threads - 1].clip(
            max=len(cuts) - 1)]
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(count, np.split(order, np.unique(at))))
        keys, counts = np.concatenate([k for k, _ in parts]), np.concatenate([c for _, c in parts])
    else:
        keys, counts = count(order)
    return torch.from_numpy(keys), torch.from_numpy(counts)


#: a synapse's targets x taps above which its counting is split over threads
THREADED_WORK = 1 << 22


def _threads() -> int:
    try:
        import numba
        return int(numba.get_num_threads())
    except ImportError:  # pragma: no cover - numba is a dependency
        return 1


def _merge(chunks: list) -> tuple:
    """``(keys, counts)`` of a list of chunks: sorted unique keys, counts summed over the chunks."""
    chunks = [c for c in chunks if len(c[0])]
    if not chunks:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    chunks.sort(key=lambda c: int(c[0][0]))
    if all(int(a[0][-1]) < int(b[0][0]) for a, b in zip(chunks, chunks[1:])):  # disjoint key ranges: concatenate
        return torch.cat([c[0] for c in chunks]), torch.cat([c[1] for c in chunks])
    keys, inv = torch.unique(torch.cat([c[0] for c in chunks]), return_inverse=True)
    counts = torch.zeros(len(keys), dtype=torch.long).index_add_(0, inv, torch.cat([c[1] for c in chunks]))
    return keys, counts


def _csr(keys: torch.Tensor, values: torch.Tensor, n_cores: int, n_src: int, source: str):
    """A CSR ``[cores, sources]`` (int32 indices, float32 values) from sorted core-major keys."""
    core, src = keys // n_src, keys % n_src
    if len(keys) >= 2 ** 31:
        raise Snn2hwError(f"population '{source}' reaches {len(keys)} (source, core) pairs, more than the "
                          f"routing table's int32 indices hold")
    crow = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(torch.bincount(core, minlength=n_cores), 0)])
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the one op used here (CSR @ dense) is tested
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow.to(torch.int32), src.to(torch.int32), values.to(torch.float32),
                                       size=(n_cores, n_src), check_invariants=False)


def source_hops(src: torch.Tensor, core: torch.Tensor, n_src: int, src_xy: np.ndarray, core_xy: np.ndarray,
                src_chip=None, core_chip=None) -> dict:
    """Per source element, summed over its ``(src, core)`` pairs (one message each): ``ew``, ``ns`` (on-chip
    hops, :meth:`~snn2hw.simulators.placement.Placement.hops`); with chip coordinates (``src_chip`` ``[n_src, 2]``,
    ``core_chip`` ``[cores, 2]``) that differ somewhere, also ``chip`` (chip boundaries crossed), ``crossing``
    (messages to another chip) and ``chip_max`` (the most boundaries one of its messages crosses), else
    those three are None. ``src_xy`` ``[n_src, 2]``, ``core_xy`` ``[cores, 2]``: system mesh coordinates."""
    s, c = src.numpy(), core.numpy()
    z = torch.zeros(n_src, dtype=torch.float64)

    def per_source(v):
        return z.clone().index_add_(0, src, torch.as_tensor(v, dtype=torch.float64))
    dx, dy = np.abs(src_xy[s, 0] - core_xy[c, 0]), np.abs(src_xy[s, 1] - core_xy[c, 1])
    out = {"chip": None, "crossing": None, "chip_max": None}
    if src_chip is not None and core_chip is not None and len(np.unique(core_chip, axis=0)) > 1:
        cx, cy = np.abs(src_chip[s, 0] - core_chip[c, 0]), np.abs(src_chip[s, 1] - core_chip[c, 1])
        dx, dy, k = dx - cx, dy - cy, cx + cy
        most = np.zeros(n_src)
        np.maximum.at(most, s, k)
        out.update(chip=per_source(k), crossing=per_source(k > 0), chip_max=torch.from_numpy(most))
    out.update(ew=per_source(dx), ns=per_source(dy))
    return out


def build_route(graph, source: str, synapses: list, syn_info: dict, core_of: dict,
                n_cores: int, n_src: int, src_xy: np.ndarray, core_xy: np.ndarray, src_chip=None,
                core_chip=None) -> dict:
    """The routing of population ``source``: which cores each of its ``n_src`` elements reaches, and
    over how many synapses.

    ``src_xy`` ``[n_src, 2]`` and ``core_xy`` ``[n_cores, 2]``: mesh coordinates. Returns

    * ``Rt``: CSR ``[cores, sources]`` of ones: messages received per core = ``Rt @ s`` (exact in
      float32 while a core receives fewer than 2^24 per step);
    * ``Rc``: the same pattern holding the synapse counts over all of ``synapses``: synaptic events
      per core = ``Rc @ s``; ``syn_per_src``: synapse node -> its synapses per source element, over all cores
      (``[n_src]``; ``None`` when the population feeds one synapse, whose events are all of ``Rc``'s);
    * ``pairs``: ``(keys, counts)``, the sorted core-major keys ``core * n_src + source`` with their
      synapse counts (for message lists);
    * per source element ``deg`` (destination cores), ``ew``/``ns`` (on-chip hops summed over its
      destinations) and, when ``src_chip`` / ``core_chip`` (chip-mesh coordinates) put some cores on other
      chips, ``chip``, ``crossing``, ``chip_max`` (:func:`source_hops`; else None); ``n_pairs``: the number of
      (source, core) pairs.
    """
    per_syn = {s: _synapse_counts(graph, s, syn_info, core_of, n_src) for s in synapses}
    keys, counts = _merge(list(per_syn.values())) if len(per_syn) != 1 else next(iter(per_syn.values()))
    core, src = keys // n_src, keys % n_src
    deg = torch.zeros(n_src, dtype=torch.float64).index_add_(0, src, torch.ones(len(src), dtype=torch.float64))
    hops = source_hops(src, core, n_src, src_xy, core_xy, src_chip, core_chip)
    rt = _csr(keys, torch.ones(len(keys)), n_cores, n_src, source)
    rc = _csr(keys, counts, n_cores, n_src, source)
    syn_per_src = ({s: None for s in per_syn} if len(per_syn) == 1 else
                   {s: np.bincount((k % n_src).numpy(), weights=c.numpy().astype(np.float64), minlength=n_src)
                    for s, (k, c) in per_syn.items()})
    return {"Rt": rt, "Rc": rc, "syn_per_src": syn_per_src, "pairs": (keys, counts), "deg": deg, **hops,
            "n_pairs": int(len(keys))}
