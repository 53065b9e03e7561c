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


def _synapse_pair_chunks(node, wnz: torch.Tensor):
    """Yield ``(out, in)`` flat index pairs of a synapse's nonzero weights, chunk by chunk."""
    if isinstance(node, N.Dense):
        rows_per = max(1, CHUNK_PAIRS // max(1, wnz.shape[1]))
        for r0 in range(0, wnz.shape[0], rows_per):
            o, i = torch.nonzero(wnz[r0:r0 + rows_per], as_tuple=True)
            yield o + r0, i
        return
    c_out, cg, kh, kw = wnz.shape
    u = F.unfold(_index_image(tuple(node.input_shape)), (kh, kw), node.dilation, node.padding, node.stride)[0]
    L = u.shape[-1]
    per_group = c_out // node.groups
    taps = wnz.reshape(c_out, cg * kh * kw)
    co_per = max(1, CHUNK_PAIRS // max(1, cg * kh * kw * L))
    for c0 in range(0, c_out, co_per):
        outs, ins = [], []
        for co in range(c0, min(c_out, c0 + co_per)):
            gi = co // per_group
            rows = torch.nonzero(taps[co], as_tuple=True)[0] + gi * cg * kh * kw
            src = u[rows]                                        # [nz, L]
            keep = src > 0
            tgt = (co * L + torch.arange(L)).expand_as(src)
            outs.append(tgt[keep])
            ins.append((src[keep] - 1).long())
        if outs:
            yield torch.cat(outs).long(), torch.cat(ins)


def _key_chunks(graph, synapses: list, syn_info: dict, weight_nonzero: dict, core_of: dict, n_src: int):
    """Yield sorted unique core-major keys ``core * n_src + source`` per chunk of synapse pairs."""
    for s in synapses:
        info, node = syn_info[s], graph.nodes[s]
        up = _chain_map(graph, info["chain_up"], False, int(np.prod(node.input_shape)))
        down = _chain_map(graph, info["chain_down"], True, int(np.prod(node.output_shape)))
        cores = core_of[info["target"]]
        for out, inp in _synapse_pair_chunks(node, weight_nonzero[s].bool()):
            if up is not None:
                rep, inp = up.expand(inp)
                out = out[rep]
            if down is not None:
                rep, out = down.expand(out)
                inp = inp[rep]
            yield torch.unique(cores[out] * n_src + inp)


def _disjoint_sorted(chunks: list) -> list:
    """The chunks in order when their key ranges do not overlap (then their concatenation is
    sorted and unique without a global sort), else one globally unique chunk."""
    chunks = sorted((c for c in chunks if len(c)), key=lambda c: int(c[0]))
    if all(int(a[-1]) < int(b[0]) for a, b in zip(chunks, chunks[1:])):
        return chunks
    return [torch.unique(torch.cat(chunks))]


def build_route(graph, source: str, synapses: list, syn_info: dict, weight_nonzero: dict, core_of: dict,
                n_cores: int, n_src: int, src_xy: np.ndarray, core_xy: np.ndarray, hop_latency_ns=None) -> dict:
    """The routing of population ``source``: which cores each of its ``n_src`` elements reaches.

    ``src_xy`` ``[n_src, 2]`` and ``core_xy`` ``[n_cores, 2]``: mesh coordinates. Returns
    ``Rt`` (CSR ``[cores, sources]``, int32 indices, float32 ones: messages received per core
    = ``Rt @ s``, exact while a core receives fewer than 2^24 per step), and per source element
    ``deg`` (destination cores), ``ew``/``ns`` (hops summed over its destinations) and, with
    ``hop_latency_ns = (east-west, north-south)``, ``maxlat`` (its farthest destination, ns);
    ``pairs`` is the number of (source, core) pairs.
    """
    chunks = _disjoint_sorted(list(_key_chunks(graph, synapses, syn_info, weight_nonzero, core_of, n_src)))
    z = torch.zeros(n_src, dtype=torch.float64)
    deg, ew, ns, lat = z.clone(), z.clone(), z.clone(), z.clone()
    counts = torch.zeros(n_cores, dtype=torch.long)
    cols = []
    for k in chunks:
        core, src = k // n_src, k % n_src
        counts += torch.bincount(core, minlength=n_cores)
        cols.append(src.to(torch.int32))
        d_ew = torch.as_tensor(np.abs(src_xy[src.numpy(), 0] - core_xy[core.numpy(), 0]), dtype=torch.float64)
        d_ns = torch.as_tensor(np.abs(src_xy[src.numpy(), 1] - core_xy[core.numpy(), 1]), dtype=torch.float64)
        deg.index_add_(0, src, torch.ones(len(src), dtype=torch.float64))
        ew.index_add_(0, src, d_ew)
        ns.index_add_(0, src, d_ns)
        if hop_latency_ns is not None:
            lat.scatter_reduce_(0, src, d_ew * hop_latency_ns[0] + d_ns * hop_latency_ns[1], "amax")
    col = torch.cat(cols) if cols else torch.zeros(0, dtype=torch.int32)
    crow = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
    if len(col) >= 2 ** 31:
        raise Snn2hwError(f"population '{source}' reaches {len(col)} (source, core) pairs, more than the "
                          f"routing table's int32 indices hold")
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the one op used here (CSR @ dense) is tested
        warnings.simplefilter("ignore", UserWarning)
        rt = torch.sparse_csr_tensor(crow.to(torch.int32), col, torch.ones(len(col), dtype=torch.float32),
                                     size=(n_cores, n_src), check_invariants=False)
    return {"Rt": rt, "deg": deg, "ew": ew, "ns": ns, "maxlat": lat if hop_latency_ns is not None else None,
            "pairs": int(len(col))}
