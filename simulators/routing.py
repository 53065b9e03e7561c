"""Static routing of the event simulator: which destination cores each source neuron reaches.

A source neuron (or input element) ``i`` of population ``p`` reaches core ``c`` when some
neuron placed on ``c`` receives a nonzero weight on a path from ``i``: through the glue
before a synapse (sum pools, flatten), the synapse itself (Dense, Conv2d; pruned and zero
weights carry nothing) and the glue after it (Add, sum pools, flatten). The result is the
set of distinct ``(source, core)`` pairs, one message per spike and pair (DESIGN.md,
event simulator).

Everything is computed from index arithmetic, never from a dense ``[sources, cores]``
matrix: convolutions and pools by unfolding an image of element indices (``F.unfold`` with
the layer's stride, padding and dilation; padding reads index 0 = "no element"), dense
layers by the nonzero pattern of the weights. Pairs are produced per chunk of output
channels or rows and reduced to unique ``core * n_sources + source`` keys chunk by chunk (a
CSR table ``[cores, sources]`` with int32 indices is built from them), so memory
follows the number of distinct pairs, not sources times cores (VGG-16 32×32 on its
105,606-core Loihi mapping: 3.0·10^8 pairs, 12 bytes each, against 2.9·10^10 sources × cores).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from snn2hw.errors import Snn2hwError
from snn2hw.ir import nodes as N

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


def _chain_map(graph, chain: list, forward: bool, n_near: int):
    """Compose the glue ``chain`` into a ``_Csr`` from the synapse side to the population side.

    ``forward=False`` (glue before the synapse): synapse input element -> source elements.
    ``forward=True`` (glue after the synapse): synapse output element -> target elements.
    ``n_near``: elements on the synapse side. ``None`` when every glue node preserves indices.
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
    # parallel paths exist only through an overlapping pool before the synapse or a pool after it (several
    # outputs into one target); otherwise every (target, source) pair is met once and its weight is a tap's
    merges = any(isinstance(graph.nodes[u], N.SumPool2d) and any(k > st for k, st in zip(
        graph.nodes[u].kernel_size, graph.nodes[u].stride)) for u in info["chain_up"]) or any(
        isinstance(graph.nodes[d], N.SumPool2d) for d in info["chain_down"])
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


#: (target core, source) count tables up to this many entries are counted densely (bincount), larger ones sorted
DENSE_COUNT_LIMIT = 1 << 25


def _synapse_counts(graph, synapse: str, syn_info: dict, core_of: dict, n_src: int) -> tuple:
    """``(keys, counts)`` of one synapse node: sorted unique core-major keys ``core * n_src + source`` and how
    many distinct target neurons on that core the source reaches through this synapse
    (:func:`composite_connections`: the composed pool o synapse o glue connections with a nonzero summed weight)."""
    cores = core_of[syn_info[synapse]["target"]]
    used = torch.unique(cores)
    local = torch.searchsorted(used, cores)
    if len(used) * n_src <= DENSE_COUNT_LIMIT:  # count on a dense [target cores, sources] table
        table = torch.zeros(len(used) * n_src, dtype=torch.int32)
        for tgt, src, _ in composite_connections(graph, synapse, syn_info):
            table += torch.bincount(local[tgt] * n_src + src, minlength=len(table)).to(torch.int32)
        nz = torch.nonzero(table, as_tuple=True)[0]
        return used[nz // n_src] * n_src + nz % n_src, table[nz].long()
    chunks = []
    for tgt, src, _ in composite_connections(graph, synapse, syn_info):
        keys, counts = torch.unique(cores[tgt] * n_src + src, return_counts=True)
        chunks.append((keys, counts))
    return _merge(chunks)


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


def build_route(graph, source: str, synapses: list, syn_info: dict, core_of: dict,
                n_cores: int, n_src: int, src_xy: np.ndarray, core_xy: np.ndarray) -> dict:
    """The routing of population ``source``: which cores each of its ``n_src`` elements reaches, and
    over how many synapses.

    ``src_xy`` ``[n_src, 2]`` and ``core_xy`` ``[n_cores, 2]``: mesh coordinates. Returns

    * ``Rt``: CSR ``[cores, sources]`` of ones: messages received per core = ``Rt @ s`` (exact in
      float32 while a core receives fewer than 2^24 per step);
    * ``Rc``: the same pattern holding the synapse counts over all of ``synapses``: synaptic events
      per core = ``Rc @ s``; ``Rc_syn``: synapse node -> its own count CSR (``Rc`` itself when the
      population feeds one synapse);
    * ``pairs``: ``(keys, counts)``, the sorted core-major keys ``core * n_src + source`` with their
      synapse counts (for message lists);
    * per source element ``deg`` (destination cores), ``ew``/``ns`` (hops summed over its
      destinations); ``n_pairs``: the number of (source, core) pairs.
    """
    per_syn = {s: _synapse_counts(graph, s, syn_info, core_of, n_src) for s in synapses}
    keys, counts = _merge(list(per_syn.values())) if len(per_syn) != 1 else next(iter(per_syn.values()))
    core, src = keys // n_src, keys % n_src
    z = torch.zeros(n_src, dtype=torch.float64)
    deg = z.clone().index_add_(0, src, torch.ones(len(src), dtype=torch.float64))
    ew = z.clone().index_add_(0, src, torch.as_tensor(
        np.abs(src_xy[src.numpy(), 0] - core_xy[core.numpy(), 0]), dtype=torch.float64))
    ns = z.clone().index_add_(0, src, torch.as_tensor(
        np.abs(src_xy[src.numpy(), 1] - core_xy[core.numpy(), 1]), dtype=torch.float64))
    rt = _csr(keys, torch.ones(len(keys)), n_cores, n_src, source)
    rc = _csr(keys, counts, n_cores, n_src, source)
    rc_syn = ({s: rc for s in per_syn} if len(per_syn) == 1 else
              {s: _csr(k, c, n_cores, n_src, source) for s, (k, c) in per_syn.items()})
    return {"Rt": rt, "Rc": rc, "Rc_syn": rc_syn, "pairs": (keys, counts), "deg": deg, "ew": ew, "ns": ns,
            "n_pairs": int(len(keys))}
