"""Mapping: place an integer network's neurons on a chip's cores within every capacity limit.

``map_graph(graph, profile) -> MappingResult`` works on a quantized graph
(``snn2hw.convert(...).graph``) and a profile (a name, a YAML path or a
:class:`~snn2hw.hw_profiles.schema.Profile`).

What a core needs (per population = ``Neuron`` node, per contiguous range of
its neurons in C-major order, see :mod:`snn2hw.simulators.placement`):

* **neurons**: the range length;
* **input axons (fan-in)**: the distinct source neurons that send at least one
  nonzero synapse to the range, counted per source population (a source
  reaching the core through two synapses takes one axon). For a Dense layer
  that is the nonzero columns of the range's rows; for a Conv2d it is the
  receptive-field union of the range, computed exactly from the geometry
  (stride, padding, dilation, groups; taps outside the input are padding and
  take no axon) and from which kernel taps are nonzero, so pruned channels
  take no axons. Sum pools between the source and the synapse are composed
  into it (a 2x2/2 pool before a 3x3 conv is a 6x6/2 conv on the source);
  that composition is exact for non-overlapping pools without padding and an
  upper bound otherwise (noted in the placement);
* **synapse memory** (nengo-loihi's model, the Capacity docstring): synapses
  live on the destination core, one stored synapse per nonzero weight of the
  range's rows. Each input axon stores runs of at most
  :data:`MAX_SYNAPSES_PER_RUN` synapses; a run costs
  ``n * (weight_bits + index_bits) + header_bits`` bits (sparse) rounded up to
  ``synapse_word_bits``. The dense format stores every neuron of the range for
  each axon, ``weight_bits`` each, no index. Each synapse node chooses the
  cheaper format per core (one synapse format per block, as nengo-loihi's
  ``SynapseConfig``). ``weight_bits`` is what the layer's integer weights need
  (signed), which is at most the profile's width after quantization;
* **output axons (fan-out)**: per neuron, the number of distinct destination
  cores it reaches, summed over the core's neurons; and the distinct
  destination cores of the core (Speck allows 2).

**Assumption: convolutions are expanded to explicit synapses per core**, as
nengo-loihi does on Loihi 1: a conv layer's shared kernel is stored again on
every core for the synapses that core's neurons receive; nothing is shared
between cores.

The heuristic (``place``):

1. Walk the populations in topological order. Each core holds neurons of one
   population only. Fill a core with the longest range that satisfies every
   per-core limit (neurons, fan-in, synapse memory), found by binary search
   on the range length (every need grows with the range, so the search is
   valid). Filling greedily from the front minimises the cores of a layer
   among contiguous partitions (a classic exchange argument). A neuron that
   alone exceeds a core is placed alone and reported.
2. Walk the populations in reverse order and split any core whose fan-out
   (destination cores of its neurons, now known) exceeds the limit. Splitting
   a source core never changes its destinations' needs.
3. Number the cores in that order and lay them on the mesh's tiles in
   serpentine order (row 0 left to right, row 1 right to left, ...), so
   consecutive layers sit on the same or neighbouring tiles and the NoC
   distance stays short. The input enters at tile 0, next to the first layer.
   A network needing more cores than the chip continues on virtual rows below
   the mesh (a second chip), so its core count is still reported.

Every limit then becomes a design rule (:mod:`snn2hw.simulators.design_rules`);
:func:`map_graph` runs them all and returns every violation at once.

**Shared-kernel profiles** (``profile.memory_model == 'shared_kernel'``, Speck /
DYNAP-CNN as the sinabs mapper models it; HW_PROFILES §2.5) are mapped
differently (:func:`shared_kernel_needs`, ``_map_shared_kernel``): nothing is
expanded to synapses. Each population takes one whole core (conv -> IAF ->
sum-pool: a pool after a population runs on its core), storing one shared
kernel: ``kernel = C_in * 2^(ceil(log2(kx*ky)) + ceil(log2 C_out))``,
``neuron = C_out * 2^(ceil(log2 H_out) + ceil(log2 W_out))``, ``bias = C_out``
entries, checked against the per-core tables
``capacity.kernel/neuron/bias_memory_entries_per_core``. A Dense layer is a
conv: its kernel is the flattened input map (``C_in`` = the map's channels) or
1x1 on a vector. Layers go to cores by a maximum bipartite matching
(:func:`~snn2hw.simulators.design_rules.assign_cores`); a layer left without a
core is placed on a virtual core beyond the chip and reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from snn2hw.errors import GraphError, Snn2hwError
from snn2hw.hw_profiles import load_profile
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.ir.topology import POPULATIONS, synapses_into, walk
from snn2hw.simulators.design_rules import (CoreUsage, LayerNeeds, Needs, assign_cores, check_design_rules,
                                            core_tables, feasible_cores, kernel_entries, neuron_entries)
from snn2hw.simulators.placement import LayerPlacement, Placement, place_inputs

#: nengo-loihi ``SynapseConfig.bits_per_axon``: a 6-bit synapse count per run, so at most 64 synapses per run
MAX_SYNAPSES_PER_RUN = 64
#: a conv range with at most this many synapses is counted by enumerating them (else by a transposed conv)
DIRECT_LIMIT = 20000


class MappingError(Snn2hwError):
    """The graph has a structure the mapper cannot place (the message says which node and why)."""


# ---------------------------------------------------------------- helpers
def signed_bits(w) -> int:
    """Bits of the smallest signed (two's complement) integer type holding every value of ``w`` (>= 1)."""
    w = np.asarray(w)
    if w.size == 0:
        return 1
    hi, lo = int(w.max()), int(w.min())
    return max(1, hi.bit_length() + 1 if hi > 0 else 1, (-lo - 1).bit_length() + 1 if lo < 0 else 1)


def _ceil_to(x, word):
    return -(-x // word) * word


def axon_bits(n, bits_per_synapse: int, header_bits: int, word_bits: int, run: int = MAX_SYNAPSES_PER_RUN):
    """Memory of an axon with ``n`` synapses (array or int): runs of <= ``run`` synapses, each with a header,
    each rounded up to ``word_bits`` (nengo-loihi ``bits_per_axon``)."""
    n = np.asarray(n, dtype=np.int64)
    full, rem = n // run, n % run
    per_full = _ceil_to(run * bits_per_synapse + header_bits, word_bits)
    last = np.where(rem > 0, _ceil_to(rem * bits_per_synapse + header_bits, word_bits), 0)
    return full * per_full + last


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


# ---------------------------------------------------------------- connectivity of one synapse path
class _Path:
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

    def per_neuron_synapses(self) -> np.ndarray:
        """Synapses (nonzero weights, composed) of each destination neuron."""
        if self.kind == "dense":
            return self.nz.sum(1)
        ho, wo = self.dst_shape[1:]
        x = self.valid.expand(1, self.src_c, *self.valid.shape)
        y = F.conv2d(x, self.k, stride=self.stride, padding=self.padding)
        return _fit(y, ho, wo).round().to(torch.int64).reshape(-1).numpy()


# ---------------------------------------------------------------- per-layer needs
@dataclass
class _Layer:
    name: str
    neurons: int
    paths: list
    needs: LayerNeeds
    ranges: list = field(default_factory=list)       # final (start, stop)
    binding: str = ""


@dataclass
class _Mem:
    index_bits: int
    header_bits: int
    word_bits: int


def _mem_model(profile) -> _Mem:
    cap = profile.capacity
    npc = int(cap.neurons_per_core.value)
    ib = int(cap.synapse_index_bits.value) if cap.synapse_index_bits else max(1, math.ceil(math.log2(max(2, npc))))
    hb = int(cap.synapse_header_bits.value) if cap.synapse_header_bits else 0
    wb = int(cap.synapse_word_bits.value) if cap.synapse_word_bits else 1
    return _Mem(ib, hb, wb)


def _core_needs(layer: _Layer, a: int, b: int, mem: _Mem, wbits: int):
    """``(fan_in, synapse_bits, storage, {source: indices of its neurons that take an axon})`` of ``[a, b)``."""
    by_src, bits, storage = {}, 0, {}
    n = b - a
    for p in layer.paths:
        idx, cu = p.sparse_counts(a, b)
        by_src[p.source] = idx if p.source not in by_src else np.union1d(by_src[p.source], idx)
        wb = p.weight_bits or wbits
        sparse = int(axon_bits(cu, wb + mem.index_bits, mem.header_bits, mem.word_bits).sum())
        dense = int(cu.size * axon_bits(n, wb, mem.header_bits, mem.word_bits))
        storage[p.synapse] = "dense" if dense < sparse else "sparse"
        bits += min(sparse, dense)
    fan_in = int(sum(u.size for u in by_src.values()))
    return fan_in, bits, storage, by_src


def layer_needs(graph: Graph, profile) -> dict:
    """Each population's needs (per-neuron worst case included), keyed by layer name, as :class:`_Layer`."""
    profile = load_profile(profile)
    if profile.capacity is None:
        raise MappingError(f"profile '{profile.name}' has no capacity section: nothing to map onto")
    problems = graph.infer_shapes()
    if problems:
        raise GraphError(problems)
    mem = _mem_model(profile)
    wbits = int(profile.formats.weight_bits)
    layers = {}
    for name in graph.topological_order():
        node = graph.nodes[name]
        if not isinstance(node, N.Neuron):
            continue
        syns, bare = synapses_into(graph, name)
        if bare:
            raise MappingError(f"population '{name}' receives spikes from {bare} without a synapse; run "
                               f"snn2hw.convert (it inserts identity synapses) before mapping")
        stack, seen = list(graph.predecessors(name)), set()
        while stack:  # only index-preserving glue (Add, Flatten, BatchNorm) may sit between synapse and neuron
            m = stack.pop()
            if m in seen or isinstance(graph.nodes[m], (N.Dense, N.Conv2d, N.Input, N.Neuron)):
                continue
            seen.add(m)
            if isinstance(graph.nodes[m], (N.SumPool2d, N.AvgPool2d)):
                raise MappingError(f"cannot map pooling '{m}' between a synapse and population '{name}': pool "
                                   f"the spikes of a population instead (between a neuron and the next synapse)")
            stack.extend(graph.predecessors(m))
        paths = [_Path(graph, s, name) for s in syns]
        n = int(np.prod(node.output_shape))
        ln = LayerNeeds(layer=name, neurons=n, synapses=list(syns),
                        sources=sorted({p.source for p in paths}, key=list(graph.nodes).index),
                        weight_bits=max([p.weight_bits or 0 for p in paths] + [0]),
                        quantized=all(p.quantized for p in paths))
        kernels = [p.kernel for p in paths if p.kernel]
        ln.kernel = max(kernels, key=max) if kernels else None
        layer = _Layer(name, n, paths, ln)
        if paths:
            per = sum(p.per_neuron_synapses() for p in paths)
            worst = int(np.argmax(per))
            ln.one_synapses = int(per[worst])
            ln.one_fan_in, ln.one_synapse_bits, _, _ = _core_needs(layer, worst, worst + 1, mem, wbits)
            conv = [p for p in paths if p.kind == "conv"]
            if len(paths) == 1 and conv:
                f = worst // int(np.prod(conv[0].dst_shape[1:]))
                ln.one_channels = int(conv[0].cin_used[f])
                ln.one_positions = math.ceil(ln.one_fan_in / max(1, ln.one_channels))
            wb_l = ln.weight_bits or wbits
            ln.bits_per_axon_one_by_wbits = {b: int(axon_bits(1, b, mem.header_bits, mem.word_bits))
                                             for b in range(1, max(wb_l, 1) + 1)}
            ln.bits_per_axon_one = ln.bits_per_axon_one_by_wbits[max(wb_l, 1)]
        ln.channels = int(node.output_shape[0]) if node.output_shape else 1
        ln.source_is_population = bool(ln.sources) and all(isinstance(graph.nodes[s], N.Neuron) for s in ln.sources)
        layers[name] = layer
    _mark_outputs({n: l.needs for n, l in layers.items()})
    return layers


def _mark_outputs(needs: dict):
    """``is_output``: no population takes this one as a source (its width is the number of classes)."""
    used = {s for ln in needs.values() for s in ln.sources}
    for name, ln in needs.items():
        ln.is_output = name not in used


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


# ---------------------------------------------------------------- shared-kernel model (Speck)
def shared_kernel_needs(graph: Graph, profile) -> dict:
    """Each population as one Speck core sees it (:class:`LayerNeeds` with the shared-kernel fields).

    A core runs conv -> IAF -> sum-pool: a sum pool between a population and the next synapse is the
    *source* core's output pool (``pool`` of the source), not part of the kernel. A Dense layer is a conv:
    after a Flatten of a ``(C, H, W)`` map its kernel is the whole ``H x W`` map with ``C_in = C`` on a 1x1
    output; on a vector it is a 1x1 kernel with ``C_in`` = the features. A grouped or dilated conv is stored as
    the equivalent dense kernel (``C_in`` = all input channels, the dilated extent)."""
    profile = load_profile(profile)
    if profile.capacity is None:
        raise MappingError(f"profile '{profile.name}' has no capacity section: nothing to map onto")
    problems = graph.infer_shapes()
    if problems:
        raise GraphError(problems)
    out = {}
    pools = {}
    for name in graph.topological_order():
        node = graph.nodes[name]
        if not isinstance(node, N.Neuron):
            continue
        syns, bare = synapses_into(graph, name)
        if bare:
            raise MappingError(f"population '{name}' receives spikes from {bare} without a synapse; run "
                               f"snn2hw.convert (it inserts identity synapses) before mapping")
        shape = tuple(int(d) for d in node.output_shape)
        ln = LayerNeeds(layer=name, neurons=int(np.prod(shape)), synapses=list(syns), n_synapses=len(syns))
        ln.channels = shape[0] if shape else 1
        ln.out_hw = tuple(shape[1:3]) if len(shape) == 3 else (1, 1)
        srcs, bits, quant, kern, c_in, stride = [], [], [], None, 0, (1, 1)
        for i, s_name in enumerate(syns):
            syn = graph.nodes[s_name]
            src, chain = _chain_to_source(graph, s_name)
            srcs.append(src)
            quant.append(syn.weight_int is not None)
            if syn.weight_int is not None:
                bits.append(signed_bits(syn.weight_int))
            pk = [1, 1]
            exact = True
            for g in chain:
                if isinstance(g, (N.SumPool2d, N.AvgPool2d)):
                    pk = [pk[0] * g.kernel_size[0], pk[1] * g.kernel_size[1]]
                    exact &= tuple(g.kernel_size) == tuple(g.stride) and not any(g.padding)
            if isinstance(graph.nodes[src], N.Neuron):
                pools.setdefault(src, set()).add(tuple(pk) if exact else (0, 0))
            if i:
                continue   # a core has one conv: the first synapse defines the kernel (more are reported)
            if isinstance(syn, N.Conv2d):
                cout, cin_g, kh, kw = np.asarray(syn.weight).shape
                dy, dx = syn.dilation
                kern = (dy * (kh - 1) + 1, dx * (kw - 1) + 1)
                c_in = int(cin_g * syn.groups)
                stride = tuple(int(v) for v in syn.stride)
            else:   # Dense as a conv
                flat = next((g for g in chain if isinstance(g, N.Flatten)), None)
                if flat is not None and len(flat.input_shape) == 3:
                    c_in, kern = int(flat.input_shape[0]), (int(flat.input_shape[1]), int(flat.input_shape[2]))
                else:
                    c_in, kern = int(np.asarray(syn.weight).shape[1]), (1, 1)
        ln.sources = sorted(set(srcs), key=list(graph.nodes).index)
        ln.source_is_population = len(ln.sources) == 1 and isinstance(graph.nodes[ln.sources[0]], N.Neuron)
        ln.quantized = all(quant)
        ln.weight_bits = max(bits + [0])
        ln.kernel, ln.c_in, ln.stride = kern, c_in, stride
        if kern is not None:
            ln.kernel_entries = kernel_entries(c_in, kern, ln.channels)
        ln.neuron_entries = neuron_entries(ln.channels, ln.out_hw)
        ln.bias_entries = ln.channels
        out[name] = ln
    for src, ps in pools.items():
        ps = sorted(ps)
        out[src].pool = ps[0] if len(ps) == 1 else (0, 0)   # (0, 0): not one plain sum-pool (reported)
    _mark_outputs(out)
    return out


def _map_shared_kernel(graph: Graph, profile) -> "MappingResult":
    """One population per core, cores by bipartite matching on the per-core kernel/neuron/bias memories."""
    needs_by_layer = shared_kernel_needs(graph, profile)
    tables = core_tables(profile)
    K, Nm, B = tables
    n_cores = len(K)
    order = list(needs_by_layer)
    feas = {l: feasible_cores(ln, tables) for l, ln in needs_by_layer.items()}
    match = assign_cores(order, feas, n_cores)
    core_of, extra = {}, n_cores
    for l in order:   # unmatched layers go on virtual cores beyond the chip (reported)
        if l in match:
            core_of[l] = match[l]
        else:
            core_of[l], extra = extra, extra + 1
    consumers = {}
    for l, ln in needs_by_layer.items():
        for s in ln.sources:
            consumers.setdefault(s, set()).add(l)
    wbits = int(profile.formats.weight_bits)
    usage = []
    for l, ln in needs_by_layer.items():
        c = core_of[l]
        inside = c < n_cores
        dest = {core_of[x] for x in consumers.get(l, ())}
        usage.append(CoreUsage(core=c, layer=l, start=0, stop=ln.neurons, synapse_bits=ln.kernel_entries * wbits,
                               fan_in=0, fan_out=ln.neurons * len(dest), destination_cores=len(dest),
                               kernel_entries=ln.kernel_entries, neuron_entries=ln.neuron_entries,
                               bias_entries=ln.bias_entries, kernel_limit=K[c] if inside else 0,
                               neuron_limit=Nm[c] if inside else 0, bias_limit=(B[c] if B else 0) if inside else 0))
    usage.sort(key=lambda u: u.core)
    needs = Needs(layers=needs_by_layer, cores=usage, cores_needed=len(order), memory_model="shared_kernel",
                  assignment=dict(match))
    violations = check_design_rules(graph, profile, needs)
    total = len(order)
    width = max(1, math.ceil(math.sqrt(max(total, n_cores))))
    placement = Placement(profile=profile.name, mesh_width=width, cores_per_tile=1, input_tile=0)
    for l, ln in needs_by_layer.items():
        placement.layers[l] = LayerPlacement(layer=l, neurons=ln.neurons, ranges=[(core_of[l], 0, ln.neurons)])
    placement.notes += [
        "shared-kernel placement (Speck / DYNAP-CNN, sinabs): one population per core, each core stores one "
        "shared conv kernel; kernel entries = C_in * 2^(ceil(log2(kx*ky)) + ceil(log2 C_out)), neuron entries = "
        "C_out * 2^(ceil(log2 H_out) + ceil(log2 W_out)), bias entries = C_out, checked against each core's "
        "memories; layers assigned to cores by maximum bipartite matching (augmenting paths)",
        "a sum-pool after a population runs on that population's core (conv -> IAF -> pool); a dense layer is a "
        "conv whose kernel covers its input map",
        f"per-core memories (entries): kernel {K}, neuron {Nm}" + (f", bias {B}" if B else ""),
    ]
    for u in usage:
        where = f"core {u.core}" if u.core < n_cores else f"no core (virtual {u.core})"
        placement.notes.append(
            f"{u.layer}: {where}: kernel {u.kernel_entries:,}/{u.kernel_limit:,}, neuron "
            f"{u.neuron_entries:,}/{u.neuron_limit:,}, bias {u.bias_entries:,}/{u.bias_limit:,} entries; "
            f"fits cores {feas[u.layer]}")
    limits = {"neurons_per_core": None, "synapse_memory_bits_per_core": None, "fan_in_axons_per_core": None,
              "fan_out_axons_per_core": None,
              "max_destination_cores": int(profile.capacity.max_destination_cores.value)
              if profile.capacity.max_destination_cores else None, "cores": n_cores,
              "kernel_memory_entries_per_core": K, "neuron_memory_entries_per_core": Nm,
              "bias_memory_entries_per_core": B}
    stored = 0
    for ln in needs_by_layer.values():
        for s_name in ln.synapses[:1]:
            w = graph.nodes[s_name].weight_int
            w = graph.nodes[s_name].weight if w is None else w
            stored += int(np.count_nonzero(np.asarray(w)))
    totals = {"profile": profile.name, "memory_model": "shared_kernel", "cores_used": total,
              "cores_available": n_cores, "chips_needed": math.ceil(total / n_cores),
              "tiles_used": len(placement.tiles_used), "neurons": sum(l.neurons for l in needs_by_layer.values()),
              "synapses": stored, "synapse_bits": sum(u.synapse_bits for u in usage),
              "kernel_entries": sum(u.kernel_entries for u in usage),
              "neuron_entries": sum(u.neuron_entries for u in usage),
              "cores_per_layer": {l: 1 for l in order}, "core_of_layer": dict(core_of)}
    return MappingResult(placement=placement, fits=not violations, violations=violations, usage=usage,
                         totals=totals, limits=limits, needs=needs)


# ---------------------------------------------------------------- placement
@dataclass
class MappingResult:
    """``fits``: no violation. ``usage``: one :class:`CoreUsage` per core used, in core order.
    ``limits``: the per-core limits (``None``: no limit). ``totals``: cores, chips, neurons, synapses, bits,
    the lower bound. ``bounds``: per layer :class:`~snn2hw.simulators.lower_bound.LayerBound`; ``tilings``:
    per layer its grid and the largest use of each limit (synapse-list profiles)."""

    placement: Placement
    fits: bool
    violations: list
    usage: list
    totals: dict
    limits: dict = field(default_factory=dict)
    needs: Optional[Needs] = None
    bounds: dict = field(default_factory=dict)
    tilings: dict = field(default_factory=dict)

    def table(self) -> str:
        """The per-core usage table as text (usage / limit)."""
        if self.needs is not None and self.needs.memory_model == "shared_kernel":
            rows = [f"{'core':>5} {'layer':<16} {'kernel entries':>17} {'neuron entries':>17} {'bias':>11} "
                    f"{'dest':>5}"]
            for u in self.usage:
                rows.append(f"{u.core:>5} {u.layer:<16} {u.kernel_entries:>8,}/{u.kernel_limit:<8,} "
                            f"{u.neuron_entries:>8,}/{u.neuron_limit:<8,} {u.bias_entries:>5,}/{u.bias_limit:<5,} "
                            f"{u.destination_cores:>5}")
            return "\n".join(rows)

        def lim(k):
            v = self.limits.get(k)
            return "-" if v is None else f"{v:,}"
        rows = [f"{'core':>5} {'layer':<16} {'neurons':>14} {'synapse bits':>24} {'fan-in':>14} {'fan-out':>14}"]
        for u in self.usage:
            rows.append(f"{u.core:>5} {u.layer:<16} {u.neurons:>6}/{lim('neurons_per_core'):>7} "
                        f"{u.synapse_bits:>11,}/{lim('synapse_memory_bits_per_core'):>12} "
                        f"{u.fan_in:>6}/{lim('fan_in_axons_per_core'):>7} {u.fan_out:>6}/{lim('fan_out_axons_per_core'):>7}")
        return "\n".join(rows)

    def summary(self) -> str:
        t = self.totals
        head = (f"{t['profile']}: {t['cores_used']} cores used of {t['cores_available']} "
                f"({'fits' if self.fits else 'does not fit'}), {t['neurons']:,} neurons, "
                f"{t['synapses']:,} stored synapses, {t['synapse_bits']:,} synapse bits")
        return "\n".join([head] + [f"  - {v}" for v in self.violations])

    def to_dict(self) -> dict:
        return {"fits": self.fits, "totals": dict(self.totals), "limits": dict(self.limits),
                "violations": [v.to_dict() for v in self.violations],
                "bounds": {k: b.to_dict() for k, b in self.bounds.items()},
                "tilings": {k: {"grid": list(v["grid"]), "utilisation": dict(v["utilisation"])}
                            for k, v in self.tilings.items()},
                "usage": [u.to_dict() for u in self.usage], "placement": self.placement.to_dict()}


def synapse_model_of(profile, synapse_model: Optional[str] = None) -> str:
    """The synapse model a mapping on ``profile`` uses: ``synapse_model`` if given (checked against the
    profile's ``synapse_models.available``), else the profile's default."""
    sm = profile.synapse_models
    model = synapse_model or sm.default
    if model not in sm.available:
        raise MappingError(f"profile '{profile.name}' has no '{model}' synapse model (available: "
                           f"{', '.join(sm.available)}; {sm.source})")
    return model


def map_graph(graph: Graph, profile="loihi", synapse_model: Optional[str] = None, progress=None) -> MappingResult:
    """Place ``graph``'s populations on ``profile``'s cores and check every design rule (all violations at once).

    ``synapse_model``: 'expanded' | 'shared' for a synapse-list profile (default: the profile's). ``progress``:
    called with ``(layer, cores)`` as each layer is tiled (last layer first)."""
    from snn2hw.simulators.map_tiles import map_tiles
    profile = load_profile(profile)
    if profile.memory_model == "shared_kernel":
        return _map_shared_kernel(graph, profile)
    model = synapse_model_of(profile, synapse_model)
    layers = layer_needs(graph, profile)
    cap = profile.capacity
    mem = _mem_model(profile)
    wbits = int(profile.formats.weight_bits)

    def lv(f):
        return None if f is None else int(f.value)

    limits = {"neurons_per_core": lv(cap.neurons_per_core), "synapse_memory_bits_per_core": lv(cap.synapse_memory_bits_per_core),
              "fan_in_axons_per_core": lv(cap.fan_in_axons_per_core), "fan_out_axons_per_core": lv(cap.fan_out_axons_per_core),
              "max_destination_cores": lv(cap.max_destination_cores), "cores": lv(cap.cores)}
    tm = map_tiles(graph, profile, layers, model, mem, wbits, progress)
    placement = tm.placement
    place_inputs(placement, {n: int(np.prod(graph.nodes[n].output_shape)) for n in graph.inputs},
                 limits["neurons_per_core"] or 1024)
    placement.notes += tm.notes
    total = tm.totals["cores_used"]
    needs = Needs(layers={n: l.needs for n, l in layers.items()}, cores=tm.usage, cores_needed=total)
    violations = check_design_rules(graph, profile, needs)
    stored = sum(int(p.per_neuron_synapses().sum()) for l in layers.values() for p in l.paths)
    totals = {"profile": profile.name, "synapse_model": model, "cores_used": total,
              "cores_available": limits["cores"], "chips_needed": tm.totals["chips_needed"],
              "tiles_used": len(placement.tiles_used), "neurons": sum(l.neurons for l in layers.values()),
              "synapses": stored, "synapse_bits": sum(u.synapse_bits for u in tm.usage),
              "lower_bound_cores": tm.totals["lower_bound_cores"], "bound_ratio": tm.totals["bound_ratio"],
              "cores_per_layer": {n: len(placement.layers[n].tiles) for n in layers}}
    return MappingResult(placement=placement, fits=not violations, violations=violations, usage=tm.usage,
                         totals=totals, limits=limits, needs=needs, bounds=tm.bounds, tilings=tm.tilings)
