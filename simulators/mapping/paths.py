"""Which source neurons reach which destination neurons through one synapse (pools composed in)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import POPULATIONS, walk

from .errors import MappingError
from .memory import signed_bits

#: a conv range with at most this many synapses is counted by enumerating them (else by a transposed conv)
DIRECT_LIMIT = 20000


def _fit(t: torch.Tensor, h: int, w: int, pad=(0, 0)) -> torch.Tensor:
    """Rows/cols ``[pad, pad + size)`` of the last two dims of ``t``, zero-padded at the bottom/right if short
    (a transposed conv computed without padding covers source rows ``-pad ..``)."""
    t = t[..., pad[0]:pad[0] + h, pad[1]:pad[1] + w]
    ph, pw = h - t.shape[-2], w - t.shape[-1]
    if ph > 0 or pw > 0:
        t = F.pad(t, (0, max(pw, 0), 0, max(ph, 0)))
    return t


def _pool_back(x: torch.Tensor, pool, in_shape) -> torch.Tensor:
    """Spread ``(..., Hp, Wp)`` nonnegative values back over the pool's input ``(H, W)``: the transpose of a sum pool."""
    lead = x.shape[:-2]
    kp, sp, pp = pool.kernel_size, pool.stride, pool.padding
    y = F.conv_transpose2d(x.reshape(-1, 1, *x.shape[-2:]), torch.ones(1, 1, *kp, dtype=x.dtype), stride=sp)
    return _fit(y, in_shape[-2], in_shape[-1], pp).reshape(*lead, in_shape[-2], in_shape[-1])



class Path:
    """One synapse into a population, seen from its source population: which source neurons reach which
    destination neurons with a nonzero (unmasked) weight. Glue between them is composed in."""

    def __init__(self, graph: Graph, syn_name: str, dst_name: str):
        self.synapse, self.dst = syn_name, dst_name
        syn = graph.nodes[syn_name]
        n, chain = _chain_to_source(graph, syn_name)
        self.source = n
        self.src_shape = tuple(graph.nodes[n].output_shape)
        self.n_src = int(np.prod(self.src_shape))
        self.quantized = syn.weight_int is not None
        w = syn.weight_int if self.quantized else syn.effective_weight()
        nz = np.asarray(w) != 0
        if syn.mask is not None:
            nz &= syn.mask
        self.weight_bits = signed_bits(syn.weight_int) if self.quantized else None
        self.exact = True
        self.n_dst = int(np.prod(graph.nodes[dst_name].output_shape))
        self.kernel = None
        self._per_neuron = None   # per_neuron_synapses(), computed once
        if isinstance(syn, N.Dense):
            self.kind = "dense"
            x = torch.from_numpy(nz.astype(np.float64))
            for node in chain:  # walk back towards the source
                if isinstance(node, N.Flatten):
                    x = x.reshape(x.shape[0], *node.input_shape)
                    if len(node.input_shape) == 3:
                        self.kernel = tuple(int(s) for s in node.input_shape[1:])
                elif isinstance(node, (N.SumPool2d, N.AvgPool2d)):
                    x = _pool_back(x, node, node.input_shape)
                    self._pool_exact(node)
            self.nz = (x.reshape(x.shape[0], -1) > 0).numpy()
            if self.nz.shape != (self.n_dst, self.n_src):
                raise MappingError(f"synapse '{syn_name}' connects {self.nz.shape} but the populations are "
                                   f"{self.n_dst} x {self.n_src}")
            self.kernel = self.kernel or (1, 1)
        elif isinstance(syn, N.Conv2d):
            self.kind = "conv"
            cout, cin_g, kh, kw = nz.shape
            g = syn.groups
            cin = cin_g * g
            dy, dx = syn.dilation
            kh_e, kw_e = dy * (kh - 1) + 1, dx * (kw - 1) + 1
            self.kernel = (kh_e, kw_e)
            full = np.zeros((cout, cin, kh_e, kw_e), dtype=np.float64)
            per = cout // g
            for gi in range(g):
                full[gi * per:(gi + 1) * per, gi * cin_g:(gi + 1) * cin_g, ::dy, ::dx] = nz[gi * per:(gi + 1) * per]
            k = torch.from_numpy(full)
            stride, padding = tuple(syn.stride), tuple(syn.padding)
            valid = torch.ones(1, 1, *syn.input_shape[1:], dtype=torch.float64)
            for node in chain:
                if isinstance(node, N.BatchNorm):
                    continue
                kp, sp, pp = node.kernel_size, node.stride, node.padding
                co_, ci_ = k.shape[:2]
                k = F.conv_transpose2d(k.reshape(co_ * ci_, 1, *k.shape[2:]), torch.ones(1, 1, *kp, dtype=k.dtype),
                                       stride=sp)
                k = k.reshape(co_, ci_, *k.shape[2:])
                k = (k > 0).to(torch.float64)
                stride = (stride[0] * sp[0], stride[1] * sp[1])
                padding = (padding[0] * sp[0] + pp[0], padding[1] * sp[1] + pp[1])
                valid = (_pool_back(valid, node, node.input_shape) > 0).to(torch.float64)
                self._pool_exact(node)
            self.stride, self.padding = stride, padding
            self.valid = valid[0, 0]
            self.all_valid = bool(self.valid.min() > 0)
            self.dst_shape = tuple(syn.output_shape)
            self.src_c = self.src_shape[0]
            self.k = k
            self.cum = torch.cat([torch.zeros(1, *k.shape[1:], dtype=k.dtype), torch.cumsum(k, 0)])
            self.cin_used = (k.sum((2, 3)) > 0).sum(1).numpy()  # input channels used per output channel
            self._tap_cache = {}
            self._valid_flat = self.valid.reshape(-1).numpy() > 0
            self._syn_prefix = np.concatenate([[0], np.cumsum(self.per_neuron_synapses())])
        else:  # pragma: no cover - synapses_into only returns Dense/Conv2d
            raise MappingError(f"'{syn_name}' is not a synapse")

    def _pool_exact(self, pool):
        if tuple(pool.kernel_size) != tuple(pool.stride) or any(pool.padding):
            self.exact = False

    # -- sparse counts: the source neurons reached from [a, b) and how many of those destination neurons each reaches
    def sparse_counts(self, a: int, b: int) -> tuple:
        if self.kind == "conv" and self._syn_prefix[b] - self._syn_prefix[a] <= DIRECT_LIMIT:
            return self._direct(a, b)
        c = self.counts(a, b)
        idx = np.flatnonzero(c)
        return idx, c[idx]

    def _taps(self, f: int):
        t = self._tap_cache.get(f)
        if t is None:
            c, i, j = np.nonzero(self.k[f].numpy() > 0)
            t = self._tap_cache[f] = (c, i, j)
        return t

    def _direct(self, a: int, b: int) -> tuple:
        """Enumerate the synapses of [a, b) (cheap for short ranges): same result as :meth:`counts`."""
        co, ho, wo = self.dst_shape
        P = ho * wo
        H, W = self.src_shape[1:]
        flats = []
        n = a
        while n < b:
            f = n // P
            e = min(b, (f + 1) * P)
            pos = np.arange(n - f * P, e - f * P)
            yo, xo = pos // wo, pos % wo
            c, i, j = self._taps(f)
            y = self.stride[0] * yo[:, None] + i[None, :] - self.padding[0]
            x = self.stride[1] * xo[:, None] + j[None, :] - self.padding[1]
            ok = (y >= 0) & (y < H) & (x >= 0) & (x < W)
            flat = (np.broadcast_to(c, y.shape) * H + y) * W + x
            flat = flat[ok]
            if not self.all_valid:
                flat = flat[self._valid_flat[flat % (H * W)]]
            flats.append(flat)
            n = e
        idx, cnt = np.unique(np.concatenate(flats), return_counts=True)
        return idx, cnt.astype(np.int64)

    # -- counts: for each source neuron, how many destination neurons of [a, b) it reaches
    def counts(self, a: int, b: int) -> np.ndarray:
        if self.kind == "dense":
            return self.nz[a:b].sum(0, dtype=np.int64)
        co, ho, wo = self.dst_shape
        P = ho * wo
        f0, f1 = a // P, (b - 1) // P
        segs = []
        if f0 == f1:
            segs.append((f0, f0 + 1, a % P, (b - 1) % P + 1))
        else:
            segs.append((f0, f0 + 1, a % P, P))
            if f1 > f0 + 1:
                segs.append((f0 + 1, f1, 0, P))
            segs.append((f1, f1 + 1, 0, (b - 1) % P + 1))
        H, W = self.src_shape[1:]
        tot = torch.zeros(self.src_c, H, W, dtype=torch.float64)
        for lo, hi, p0, p1 in segs:
            mask = torch.zeros(P, dtype=torch.float64)
            mask[p0:p1] = 1
            ksum = (self.cum[hi] - self.cum[lo])[None]
            y = F.conv_transpose2d(mask.reshape(1, 1, ho, wo), ksum, stride=self.stride)
            tot += _fit(y, H, W, self.padding)[0]
        if not self.all_valid:
            tot *= self.valid
        return tot.round().to(torch.int64).reshape(-1).numpy()

    def reach(self, w: np.ndarray) -> np.ndarray:
        """Per source neuron: the sum of ``w`` (one value per destination neuron, C-major) over the destination
        neurons it reaches (``w`` = ones: how many it reaches). ``w`` of shape ``[k, destination neurons]``: the
        ``k`` sums at once, ``[k, source neurons]`` (one transposed convolution)."""
        w = np.asarray(w, dtype=np.float64)
        rows = w.reshape(-1, w.shape[-1])
        if self.kind == "dense":
            out = rows @ self.nz.astype(np.float64)
        else:
            co, ho, wo = self.dst_shape
            H, W = self.src_shape[1:]
            y = F.conv_transpose2d(torch.from_numpy(np.ascontiguousarray(rows)).reshape(-1, co, ho, wo), self.k,
                                   stride=self.stride)
            y = _fit(y, H, W, self.padding)
            if not self.all_valid:
                y = y * self.valid
            out = y.reshape(rows.shape[0], -1).numpy()
        return out if w.ndim == 2 else out[0]

    def per_neuron_synapses(self) -> np.ndarray:
        """Synapses (nonzero weights, composed) of each destination neuron (computed once; read-only)."""
        got = self._per_neuron
        if got is not None:
            return got
        if self.kind == "dense":
            got = self.nz.sum(1)
        else:
            ho, wo = self.dst_shape[1:]
            x = self.valid.expand(1, self.src_c, *self.valid.shape)
            y = F.conv2d(x, self.k, stride=self.stride, padding=self.padding)
            got = _fit(y, ho, wo).round().to(torch.int64).reshape(-1).numpy()
        got.setflags(write=False)
        self._per_neuron = got
        return got



def _chain_to_source(graph: Graph, syn_name: str) -> tuple:
    """``(source population or input, glue nodes from the synapse back to it)``."""
    (end,) = walk(graph, syn_name, "up", through=(N.SumPool2d, N.AvgPool2d, N.Flatten, N.BatchNorm),
                  stop_at=POPULATIONS, fork="end")
    if end.kind == "fork":
        raise MappingError(f"synapse '{syn_name}' has no single source population (node '{end.node}' has "
                           f"{len(graph.predecessors(end.node))} inputs)")
    if end.kind == "other":
        raise MappingError(f"cannot map '{end.node}' ({type(graph.nodes[end.node]).__name__}) between a "
                           f"population and synapse '{syn_name}'")
    return end.node, [graph.nodes[n] for n in end.path]

