"""Spatial partitioning: cut each population's output volume into ``(channel, y, x)`` tiles, one tile per core.

A population of shape ``(C, H, W)`` is cut into a grid of spatial boxes of ``ty x tx``
output positions (the last row and column of boxes may be smaller), and each box's
channels into contiguous chunks; a chunk of a box is a :class:`Tile` and takes one
core. A population of shape ``(F,)`` (after a Dense synapse) is cut into contiguous
feature ranges (tiles with ``H = W = 1``). This is the partitioning NxTF uses for
Loihi (Rueckauer et al., ACM JETC 2022, arXiv 2101.04261, section 4): a core receives
the compact receptive field of its tile, not a whole input map.

What a tile needs (:func:`tile_needs`) is exact: for each synapse path into the
population (:class:`~snn2hw.simulators.mapping.paths.Path`: pools composed into the
synapse, padding and pruned taps excluded), the number of the tile's neurons that
each source neuron reaches; from those counts its fan-in (source neurons reaching
it, one axon each, a source reaching it through two synapses counted once), its
synapse memory under the profile's memory model, and the source neurons it listens
to (for the source's fan-out).

Choosing the tiles (:func:`partition_layer`): for every spatial grid ``ty x tx``
from the small set of distinct box sizes ``ceil(H / k) x ceil(W / k)``, the boxes fall
into a few *classes* with the same needs (same size, same clipping at the borders,
same valid pattern: a conv's weights are the same at every position, so boxes of one
class need the same for the same channels); each class's channels are packed greedily
(the longest chunk that fits, found by binary search on its length, every need being
monotone in it; greedy filling is optimal among contiguous chunkings); the grid with the
fewest cores wins. The chosen tiles are then evaluated one by one (every limit checked
on every tile) and tiles whose fan-out exceeds the limit are split along their
channels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from snn2hw.simulators.shared_synapses import (POP_AXON_ENTRIES, shared_tile_stats, shared_tiles_destinations,
                                               shared_tiles_pixel_fan_out, shared_tiles_stats)
from snn2hw.simulators.timing import njit


@dataclass(frozen=True)
class Tile:
    """Output channels ``[c0, c1)``, rows ``[y0, y1)`` and columns ``[x0, x1)`` of a population (a ``(F,)``
    population: features ``[c0, c1)``, ``y``/``x`` ranges ``[0, 1)``)."""

    c0: int
    c1: int
    y0: int = 0
    y1: int = 1
    x0: int = 0
    x1: int = 1

    @property
    def neurons(self) -> int:
        return (self.c1 - self.c0) * (self.y1 - self.y0) * (self.x1 - self.x0)

    def flat(self, shape) -> np.ndarray:
        """The tile's neurons as C-major flat indices of a population of ``shape``."""
        if len(shape) != 3:
            return np.arange(self.c0, self.c1, dtype=np.int64)
        _, H, W = shape
        c = np.arange(self.c0, self.c1)[:, None, None]
        y = np.arange(self.y0, self.y1)[None, :, None]
        x = np.arange(self.x0, self.x1)[None, None, :]
        return ((c * H + y) * W + x).reshape(-1).astype(np.int64)

    def as_tuple(self) -> tuple:
        return (self.c0, self.c1, self.y0, self.y1, self.x0, self.x1)


# ---------------------------------------------------------------- compiled counting
@njit(cache=True)
def axon_bits_one(n, bits_per_synapse, header_bits, word_bits, run):
    """:func:`~snn2hw.simulators.mapping.needs.axon_bits` of one axon with ``n`` synapses (compiled)."""
    if n <= 0:
        return 0
    full = n // run
    rem = n - full * run
    per_full = -(-(run * bits_per_synapse + header_bits) // word_bits) * word_bits
    last = 0
    if rem > 0:
        last = -(-(rem * bits_per_synapse + header_bits) // word_bits) * word_bits
    return full * per_full + last


@njit(cache=True)
def conv_window_counts(cum, c0, c1, y0, y1, x0, x1, sy, sx, py, px, H, W, valid, all_valid):
    """For output channels ``[c0, c1)`` x rows ``[y0, y1)`` x cols ``[x0, x1)`` of a conv path (composed binary
    kernel prefix-summed over output channels: ``cum [Cout + 1, Cin, KH, KW]``, stride ``(sy, sx)``, padding
    ``(py, px)``, source map ``H x W`` with its ``valid`` positions): how many of those neurons each source
    neuron reaches, over the clipped window of source rows ``[ry0, ..)`` and cols ``[rx0, ..)``.

    Returns ``(counts [Cin, rows, cols], ry0, rx0)``."""
    cin, KH, KW = cum.shape[1], cum.shape[2], cum.shape[3]
    ry0 = max(0, sy * y0 - py)
    ry1 = min(H, sy * (y1 - 1) - py + KH)
    rx0 = max(0, sx * x0 - px)
    rx1 = min(W, sx * (x1 - 1) - px + KW)
    out = np.zeros((cin, max(0, ry1 - ry0), max(0, rx1 - rx0)), np.int64)
    for ci in range(cin):
        for i in range(KH):
            for j in range(KW):
                k = cum[c1, ci, i, j] - cum[c0, ci, i, j]
                if k == 0:
                    continue
                for yo in range(y0, y1):
                    y = sy * yo + i - py
                    if y < 0 or y >= H:
                        continue
                    for xo in range(x0, x1):
                        x = sx * xo + j - px
                        if x < 0 or x >= W:
                            continue
                        if all_valid or valid[y, x]:
                            out[ci, y - ry0, x - rx0] += k
    return out, ry0, rx0


@njit(cache=True)
def count_stats(counts, n, sparse_bps, dense_bps, header_bits, word_bits, run):
    """``(axons, sparse bits, dense bits)`` of one path's counts on a tile of ``n`` neurons."""
    axons = 0
    sparse = 0
    flat = counts.ravel()
    for k in range(flat.size):
        c = flat[k]
        if c > 0:
            axons += 1
            sparse += axon_bits_one(c, sparse_bps, header_bits, word_bits, run)
    dense = axons * axon_bits_one(n, dense_bps, header_bits, word_bits, run)
    return axons, sparse, dense


@njit(cache=True)
def _tile_neurons(t):
    return (t[1] - t[0]) * (t[3] - t[2]) * (t[5] - t[4])


@njit(cache=True)
def conv_tile_stats(cum, c0, c1, y0, y1, x0, x1, sy, sx, py, px, H, W, valid, all_valid, sparse_table, dense_table):
    """(axons, sparse bits, dense bits) of a conv path on one tile. ``sparse_table[k]`` / ``dense_table[k]``: the
    bits of an axon with ``k`` synapses in each format (:func:`axon_bit_table`). A one-position tile reaches
    each source neuron through one tap at most, so its counts are read off the kernel sums directly."""
    n = (c1 - c0) * (y1 - y0) * (x1 - x0)
    axons = 0
    sparse = 0
    if (y1 - y0) * (x1 - x0) == 1:
        cin, KH, KW = cum.shape[1], cum.shape[2], cum.shape[3]
        for ci in range(cin):
            for i in range(KH):
                y = sy * y0 + i - py
                if y < 0 or y >= H:
                    continue
                for j in range(KW):
                    x = sx * x0 + j - px
                    if x < 0 or x >= W or not (all_valid or valid[y, x]):
                        continue
                    k = cum[c1, ci, i, j] - cum[c0, ci, i, j]
                    if k > 0:
                        axons += 1
                        sparse += sparse_table[k]
        return axons, sparse, axons * dense_table[n]
    counts, _, _ = conv_window_counts(cum, c0, c1, y0, y1, x0, x1, sy, sx, py, px, H, W, valid, all_valid)
    flat = counts.ravel()
    for k in range(flat.size):
        c = flat[k]
        if c > 0:
            axons += 1
            sparse += sparse_table[c]
    return axons, sparse, axons * dense_table[n]


@njit(cache=True)
def conv_tiles_stats(cum, tiles, sy, sx, py, px, H, W, valid, all_valid, sparse_table, dense_table):
    """:func:`conv_tile_stats` of every tile of ``tiles [n, 6]`` (rows ``c0 c1 y0 y1 x0 x1``), as ``[n, 3]``."""
    out = np.zeros((tiles.shape[0], 3), np.int64)
    for t in range(tiles.shape[0]):
        tt = tiles[t]
        a, s, d = conv_tile_stats(cum, tt[0], tt[1], tt[2], tt[3], tt[4], tt[5], sy, sx, py, px, H, W, valid,
                                  all_valid, sparse_table, dense_table)
        out[t, 0], out[t, 1], out[t, 2] = a, s, d
    return out


def axon_bit_table(n: int, bits_per_synapse: int, mem) -> np.ndarray:
    """``table[k]``: :func:`axon_bits_one` of an axon with ``k`` synapses, ``k = 0..n`` (``n`` rounded up to whole
    runs, so that a longer list is whole copies of the last entry plus an entry: ``shared_synapses._table``)."""
    run = _run(mem)
    n = -(-max(int(n), 1) // run) * run
    return np.array([axon_bits_one(k, bits_per_synapse, mem.header_bits, mem.word_bits, run) for k in range(n + 1)],
                    dtype=np.int64)


@njit(cache=True)
def conv_tiles_fan_out(cum, tiles, sy, sx, py, px, H, W, valid, all_valid, fan_out):
    """Add one to ``fan_out`` (per source neuron, C-major) for every tile each source neuron reaches."""
    for t in range(tiles.shape[0]):
        tt = tiles[t]
        counts, ry0, rx0 = conv_window_counts(cum, tt[0], tt[1], tt[2], tt[3], tt[4], tt[5], sy, sx, py, px, H, W,
                                              valid, all_valid)
        for ci in range(counts.shape[0]):
            for r in range(counts.shape[1]):
                for c in range(counts.shape[2]):
                    if counts[ci, r, c] > 0:
                        fan_out[(ci * H + r + ry0) * W + c + rx0] += 1


@njit(cache=True)
def conv_tiles_destinations(cum, tiles, sy, sx, py, px, H, W, valid, all_valid, tile_of, n_source_tiles):
    """Per source tile (``tile_of``: the source tile of each source neuron), how many of ``tiles`` it reaches."""
    dest = np.zeros(n_source_tiles, np.int64)
    stamp = np.full(n_source_tiles, -1, np.int64)
    for t in range(tiles.shape[0]):
        tt = tiles[t]
        counts, ry0, rx0 = conv_window_counts(cum, tt[0], tt[1], tt[2], tt[3], tt[4], tt[5], sy, sx, py, px, H, W,
                                              valid, all_valid)
        for ci in range(counts.shape[0]):
            for r in range(counts.shape[1]):
                for c in range(counts.shape[2]):
                    if counts[ci, r, c] > 0:
                        st = tile_of[(ci * H + r + ry0) * W + c + rx0]
                        if stamp[st] != t:
                            stamp[st] = t
                            dest[st] += 1
    return dest


def distinct_sizes(n: int) -> list:
    """The distinct box sizes ``ceil(n / k)``, ``k = 1..n``, largest first."""
    return sorted({-(-n // k) for k in range(1, n + 1)}, reverse=True)


def grid(H: int, W: int, ty: int, tx: int) -> list:
    """The ``ty x tx`` grid of boxes over ``H x W`` in raster order, as ``(y0, y1, x0, x1)``."""
    return [(y, min(H, y + ty), x, min(W, x + tx)) for y in range(0, H, ty) for x in range(0, W, tx)]


# ---------------------------------------------------------------- one tile's needs
@dataclass
class TileNeeds:
    """What one tile needs on its core: fan-in axons, synapse memory bits, the storage format per synapse node,
    and (when asked) the source neurons it listens to, per source population (flat indices)."""

    fan_in: int
    synapse_bits: int
    storage: dict
    sources: dict | None = None


def path_counts(path, tile: Tile):
    """How many of ``tile``'s neurons each source neuron of ``path`` reaches: ``(counts, flat source index of
    counts' first element or None, window)``; for a conv path ``counts`` is the clipped source window
    ``[Cin, rows, cols]`` starting at ``(ry0, rx0)``, for a dense path one count per source neuron."""
    if path.kind == "conv":
        H, W = path.src_shape[1:]
        counts, ry0, rx0 = conv_window_counts(path.cum_int, tile.c0, tile.c1, tile.y0, tile.y1, tile.x0, tile.x1,
                                              path.stride[0], path.stride[1], path.padding[0], path.padding[1],
                                              H, W, path.valid_np, path.all_valid)
        return counts, (ry0, rx0)
    return path.nz_rows(tile.c0, tile.c1), None


def _flat_sources(path, counts, window) -> tuple:
    """``(flat source indices, counts)`` of the nonzero counts."""
    if window is None:
        idx = np.flatnonzero(counts)
        return idx.astype(np.int64), counts[idx]
    H, W = path.src_shape[1:]
    ci, r, c = np.nonzero(counts)
    idx = (ci * H + r + window[0]) * W + c + window[1]
    return idx.astype(np.int64), counts[ci, r, c]


def _geometry(p) -> tuple:
    """A conv path's arguments for the compiled kernels: stride, padding, source map and its valid positions."""
    H, W = p.src_shape[1:]
    return (p.stride[0], p.stride[1], p.padding[0], p.padding[1], H, W, p.valid_np, p.all_valid)


def _run(mem) -> int:
    return int(getattr(mem, "run", 64))


def shared_model(mem) -> bool:
    """Conv paths under the shared synapse model (population axons, weight sets stored once)?"""
    return getattr(mem, "synapse_model", "expanded") == "shared"


def _tables(p, mem, wbits: int, n: int) -> tuple:
    """The (sparse, dense) axon-bit tables of path ``p`` covering axons of up to ``n`` synapses (cached)."""
    wb = p.weight_bits or wbits
    key = (wb, mem.index_bits, mem.header_bits, mem.word_bits, _run(mem))
    tab = p.__dict__.setdefault("_bit_tables", {})
    if key not in tab or tab[key][0].size <= n:
        m = max(n, 1024)
        tab[key] = (axon_bit_table(m, wb + mem.index_bits, mem), axon_bit_table(m, wb, mem))
    return tab[key]


def needs_function(layer, mem, wbits: int, max_neurons: int):
    """``f(c0, c1, y0, y1, x0, x1) -> (fan_in, synapse_bits)`` of a tile of ``layer`` with at most ``max_neurons``
    neurons: :func:`tile_needs` without building objects (the packer calls it many times)."""
    if layer.shared_sources:
        def slow(c0, c1, y0, y1, x0, x1):
            t = tile_needs(layer, Tile(c0, c1, y0, y1, x0, x1), mem, wbits)
            return t.fan_in, t.synapse_bits
        return slow
    shared = shared_model(mem)
    parts = []
    for p in layer.paths:
        if p.kind == "conv":
            parts.append((shared_tile_stats if shared else conv_tile_stats,
                          (*_geometry(p), *_tables(p, mem, wbits, max_neurons)), p.cum_int))
        else:
            wb = p.weight_bits or wbits
            parts.append((None, (wb + mem.index_bits, wb, mem.header_bits, mem.word_bits, _run(mem)), p))

    def f(c0, c1, y0, y1, x0, x1):
        fan_in = bits = 0
        for kern, args, data in parts:
            if kern is None:
                a, sp, de = count_stats(data.nz_rows(c0, c1), c1 - c0, *args)
            else:
                a, sp, de = kern(data, c0, c1, y0, y1, x0, x1, *args)
            fan_in += a
            bits += min(sp, de)
        return fan_in, bits
    return f


def path_stats(p, tiles: np.ndarray, mem, wbits: int) -> np.ndarray:
    """``[n, 3]`` (axons, sparse bits, dense bits) of one path on each tile (rows ``c0 c1 y0 y1 x0 x1``)."""
    wb = p.weight_bits or wbits
    args = (wb + mem.index_bits, wb, mem.header_bits, mem.word_bits, _run(mem))
    if p.kind == "conv":
        n = int(((tiles[:, 1] - tiles[:, 0]) * (tiles[:, 3] - tiles[:, 2]) * (tiles[:, 5] - tiles[:, 4])).max(initial=1))
        tab = _tables(p, mem, wbits, n)
        if shared_model(mem):
            return shared_tiles_stats(p.cum_int, tiles, *_geometry(p), *tab)
        return conv_tiles_stats(p.cum_int, tiles, *_geometry(p), *tab)
    out = np.zeros((len(tiles), 3), dtype=np.int64)
    for t, row in enumerate(tiles):
        out[t] = count_stats(p.nz_rows(int(row[0]), int(row[1])), int(row[1] - row[0]), *args)
    return out


def tiles_needs(layer, tiles: np.ndarray, mem, wbits: int) -> tuple:
    """``(fan_in [n], synapse_bits [n], storage [n] dicts)`` of every tile of ``layer`` (exact; see
    :func:`tile_needs`)."""
    if layer.shared_sources:
        needs = [tile_needs(layer, Tile(*map(int, row)), mem, wbits) for row in tiles]
        return (np.array([t.fan_in for t in needs], dtype=np.int64),
                np.array([t.synapse_bits for t in needs], dtype=np.int64), [t.storage for t in needs])
    fan_in = np.zeros(len(tiles), dtype=np.int64)
    bits = np.zeros(len(tiles), dtype=np.int64)
    dense = {}
    for p in layer.paths:
        st = path_stats(p, tiles, mem, wbits)
        fan_in += st[:, 0]
        bits += np.minimum(st[:, 1], st[:, 2])
        dense[p.synapse] = st[:, 2] < st[:, 1]
    storage = [{k: ("dense" if v[t] else "sparse") for k, v in dense.items()} for t in range(len(tiles))]
    return fan_in, bits, storage


def tile_needs(layer, tile: Tile, mem, wbits: int, sources: bool = False) -> TileNeeds:
    """Exact needs of ``tile`` of ``layer`` (a mapping layer with its synapse ``paths``) under ``mem``
    (index, header and word bits; runs of ``mem.run`` synapses; ``mem.synapse_model``). A source population
    reaching the tile through several paths takes one axon per source neuron (per source pixel under the shared
    model) for them all. ``sources``: also list them (flat neuron or pixel indices per source)."""
    arr = np.array([tile.as_tuple()], dtype=np.int64)
    if not (sources or layer.shared_sources):
        fan_in, bits, storage = tiles_needs(layer, arr, mem, wbits)
        return TileNeeds(fan_in=int(fan_in[0]), synapse_bits=int(bits[0]), storage=storage[0])
    bits, storage, by_src = 0, {}, {}
    for p in layer.paths:
        st = path_stats(p, arr, mem, wbits)[0]
        storage[p.synapse] = "dense" if st[2] < st[1] else "sparse"
        bits += int(min(st[1], st[2]))
        idx = tile_sources(p, tile, mem)
        by_src[p.source] = idx if p.source not in by_src else np.union1d(by_src[p.source], idx)
    fan_in = int(sum(v.size for v in by_src.values()))
    return TileNeeds(fan_in=fan_in, synapse_bits=int(bits), storage=storage, sources=by_src if sources else None)


def tile_sources(p, tile: Tile, mem) -> np.ndarray:
    """The source units of ``p`` reaching ``tile``: flat source neurons, or source pixels ``y * W + x`` for a conv
    path under the shared model."""
    counts, window = path_counts(p, tile)
    if window is not None and shared_model(mem):
        H, W = p.src_shape[1:]
        r, c = np.nonzero(counts.sum(0))
        return ((r + window[0]) * W + c + window[1]).astype(np.int64)
    return _flat_sources(p, counts, window)[0]


@dataclass
class FanOut:
    """The output-axon entries a layer's neurons need, counted as its consumers are tiled: ``neuron`` per neuron
    (a discrete axon per destination core) and ``pixel`` per pixel ``y * W + x`` (a population axon per
    destination core, whatever the channels; :data:`POP_AXON_ENTRIES` entries each)."""

    neuron: np.ndarray
    pixel: np.ndarray

    @classmethod
    def zeros(cls, layer) -> "FanOut":
        H, W = layer.hw
        return cls(np.zeros(layer.neurons, dtype=np.int64), np.zeros(H * W, dtype=np.int64))

    def of_box(self, layer, box) -> tuple:
        """``(per channel entries [C], entries shared by the box's channels)`` for the neurons of ``box``."""
        C, (H, W) = layer.channels, layer.hw
        y0, y1, x0, x1 = box
        per_c = self.neuron.reshape(C, H, W)[:, y0:y1, x0:x1].sum((1, 2))
        return per_c, POP_AXON_ENTRIES * int(self.pixel.reshape(H, W)[y0:y1, x0:x1].sum())

    def of_tiles(self, layer, tiles: list) -> np.ndarray:
        """Entries per tile."""
        C, (H, W) = layer.channels, layer.hw
        nv, pv = self.neuron.reshape(C, H, W), self.pixel.reshape(H, W)
        return np.array([int(nv[t.c0:t.c1, t.y0:t.y1, t.x0:t.x1].sum())
                         + POP_AXON_ENTRIES * int(pv[t.y0:t.y1, t.x0:t.x1].sum()) for t in tiles], dtype=np.int64)

    def per_neuron(self, layer) -> np.ndarray:
        """Entries per neuron, a pixel's population axons charged to each of its neurons (the worst case)."""
        C, (H, W) = layer.channels, layer.hw
        return (self.neuron.reshape(C, H, W) + POP_AXON_ENTRIES * self.pixel.reshape(1, H, W)).reshape(-1)


def add_fan_out(layer, tiles: np.ndarray, fan_out: dict, mem) -> None:
    """For each of ``layer``'s tiles, add one to the fan-out of every source neuron (source pixel, for a shared
    conv path) reaching it (``fan_out``: source population -> :class:`FanOut`; other sources are skipped)."""
    if layer.shared_sources:
        for row in tiles:
            t = Tile(*map(int, row))
            by_src = {}
            for p in layer.paths:
                kind = "pixel" if (p.kind == "conv" and shared_model(mem)) else "neuron"
                idx = tile_sources(p, t, mem)
                key = (p.source, kind)
                by_src[key] = idx if key not in by_src else np.union1d(by_src[key], idx)
            for (src, kind), idx in by_src.items():
                if src in fan_out:
                    getattr(fan_out[src], kind)[idx] += 1
        return
    for p in layer.paths:
        if p.source not in fan_out:
            continue
        if p.kind == "conv" and shared_model(mem):
            shared_tiles_pixel_fan_out(p.cum_int, tiles, *_geometry(p), fan_out[p.source].pixel)
        elif p.kind == "conv":
            conv_tiles_fan_out(p.cum_int, tiles, *_geometry(p), fan_out[p.source].neuron)
        else:
            for row in tiles:
                fan_out[p.source].neuron[np.flatnonzero(p.nz_rows(int(row[0]), int(row[1])))] += 1


def destinations(layer, tiles: np.ndarray, source, mem, n_source_tiles: int) -> np.ndarray:
    """Per tile of ``source`` (a :class:`TiledLayer`-like object with ``tile_of`` per neuron and ``pix_lo`` /
    ``pix_hi`` per pixel), how many of ``layer``'s tiles it reaches."""
    paths = [p for p in layer.paths if p.source == source.name]
    if len(paths) > 1:
        dest = np.zeros(n_source_tiles, dtype=np.int64)
        for row in tiles:
            t = Tile(*map(int, row))
            hit = set()
            for p in paths:
                idx = tile_sources(p, t, mem)
                if p.kind == "conv" and shared_model(mem):
                    for q in idx.tolist():
                        hit.update(range(source.pix_lo[q], source.pix_hi[q]))
                else:
                    hit.update(np.unique(source.tile_of[idx]).tolist())
            dest[list(hit)] += 1
        return dest
    (p,) = paths
    if p.kind == "conv" and shared_model(mem):
        return shared_tiles_destinations(p.cum_int, tiles, *_geometry(p), source.pix_lo, source.pix_hi, n_source_tiles)
    if p.kind == "conv":
        return conv_tiles_destinations(p.cum_int, tiles, *_geometry(p), source.tile_of, n_source_tiles)
    dest = np.zeros(n_source_tiles, dtype=np.int64)
    for row in tiles:
        dest[np.unique(source.tile_of[np.flatnonzero(p.nz_rows(int(row[0]), int(row[1])))])] += 1
    return dest


@dataclass
class _NoMem:
    index_bits: int = 0
    header_bits: int = 0
    word_bits: int = 1


_NO_MEM = _NoMem()   # for walks that only need the source neurons, not the memory


# ---------------------------------------------------------------- choosing the tiles of a layer
def box_key(layer, box) -> tuple:
    """Boxes with the same key need the same for the same channels: size, and per conv path the clipping of
    its source window at the borders (and the valid pattern inside it where a padded pool made some
    positions invalid)."""
    y0, y1, x0, x1 = box
    key = [y1 - y0, x1 - x0]
    for p in layer.paths:
        if p.kind != "conv":
            continue
        H, W = p.src_shape[1:]
        KH, KW = p.cum_int.shape[2:]
        sy, sx = p.stride
        py, px = p.padding
        top, left = sy * y0 - py, sx * x0 - px
        bottom, right = sy * (y1 - 1) - py + KH, sx * (x1 - 1) - px + KW
        key += [max(0, -top), max(0, bottom - H), max(0, -left), max(0, right - W)]
        if not p.all_valid:
            key.append(p.valid_np[max(0, top):min(H, bottom), max(0, left):min(W, right)].tobytes())
    return tuple(key)


@dataclass
class Limits:
    """Per-core limits the packing respects (``inf`` where the profile sets none)."""

    neurons: int
    fan_in: float
    synapse_bits: float
    fan_out: float = float("inf")


@dataclass
class Packing:
    """A box's channel chunks, each chunk's fan-in, and whether the fan-out limit ever stopped a chunk."""

    chunks: list
    fan_in: list
    fan_out_bound: bool = False


def pack_channels(layer, box, limits: Limits, mem, wbits: int, box_fan_out=None, budget=None):
    """The box's channels in chunks, each the longest that fits (binary search on its length, every need
    growing with it), as a :class:`Packing`; ``None`` when one channel of a box of several positions does not
    fit (the box is too big) or more than ``budget`` chunks would be needed. In a one-position box a channel
    that alone exceeds a core gets a core of its own (the design rules report it).
    ``box_fan_out``: ``(per channel, shared)`` output-axon entries of the box's neurons
    (:meth:`FanOut.of_box`), checked against ``limits.fan_out``."""
    y0, y1, x0, x1 = box
    area = (y1 - y0) * (x1 - x0)
    C = layer.channels
    npc = int(limits.neurons) // area
    if npc == 0:
        return None
    fo, fo_shared = None, 0
    if box_fan_out is not None and np.isfinite(limits.fan_out):
        fo = np.concatenate([[0], np.cumsum(box_fan_out[0])])
        fo_shared = box_fan_out[1]
    seen = {}
    out = Packing([], [])
    needs = needs_function(layer, mem, wbits, npc * area)

    def ok(c0, c1):
        if fo is not None and fo[c1] - fo[c0] + fo_shared > limits.fan_out:
            out.fan_out_bound = True
            return False
        fi, bits = needs(c0, c1, y0, y1, x0, x1)
        seen[c1 - c0] = fi
        return fi <= limits.fan_in and bits <= limits.synapse_bits

    def longest(c, hi, hint):
        """The largest m <= hi with ok(c, c + m), 0 if none; ``hint``: the previous chunk's length."""
        lo, up = 0, hi + 1                     # ok(c, c + lo) holds, ok(c, c + up) fails
        if hint and hint < hi:
            if ok(c, c + hint):
                if not ok(c, c + hint + 1):
                    return hint
                lo = hint + 1
            else:
                up = hint
        elif ok(c, c + hi):
            return hi
        else:
            up = hi
        while up - lo > 1:
            mid = (lo + up) // 2
            if ok(c, c + mid):
                lo = mid
            else:
                up = mid
        return lo

    c, prev = 0, None
    while c < C:
        seen.clear()
        m = longest(c, min(C - c, npc), prev)
        if m == 0:
            if area > 1:
                return None
            m = 1   # one neuron alone exceeds a core: a core of its own (a violation the rules report)
        if m not in seen:
            seen[m] = needs(c, c + m, y0, y1, x0, x1)[0]
        out.chunks.append((c, c + m))
        out.fan_in.append(seen[m])
        if budget is not None and len(out.chunks) > budget:
            return None
        prev = m
        c += m
    return out


def min_bits_per_synapse(weight_bits: int, mem) -> float:
    """The fewest memory bits any stored synapse can take under ``mem``: the best ratio of an axon's bits to its
    synapses over every run length (dense format, no index bits; a sparse synapse only adds index bits)."""
    run = _run(mem)
    return min(axon_bits_one(n, weight_bits, mem.header_bits, mem.word_bits, run) / n for n in range(1, 2 * run + 1))


def grid_floor(layer, limits: Limits, mem, wbits: int):
    """``floor(ty, tx)``: a lower bound on the cores of a ``ty x tx`` grid: per box, its neurons over the
    neurons per core and its synapses at :func:`min_bits_per_synapse` over the memory per core."""
    C, H, W = layer.shape
    per = sum(p.per_neuron_synapses().astype(np.int64) for p in layer.paths).reshape(C, H, W).sum(0)
    cum = np.zeros((H + 1, W + 1), dtype=np.int64)
    cum[1:, 1:] = per.cumsum(0).cumsum(1)
    mb = min(min_bits_per_synapse(p.weight_bits or wbits, mem) for p in layer.paths)
    mlim = limits.synapse_bits

    def floor(ty, tx):
        total = 0
        for y0, y1, x0, x1 in grid(H, W, ty, tx):
            syn = cum[y1, x1] - cum[y0, x1] - cum[y1, x0] + cum[y0, x0]
            total += max(ceil_div((y1 - y0) * (x1 - x0) * C, limits.neurons),
                         math.ceil(syn * mb / mlim) if np.isfinite(mlim) else 0)
        return total
    return floor


def ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))


@dataclass
class LayerTiling:
    """The tiles chosen for a layer and the grid of boxes they came from (``(1, 1)`` for a ``(F,)`` layer)."""

    tiles: list
    grid: tuple
    grids_tried: int


def partition_layer(layer, limits: Limits, mem, wbits: int, fan_out=None, axon_cost: float = 0.0) -> LayerTiling:
    """The tiling of ``layer`` with the lowest cost over every spatial grid (see the module docstring).

    Cost = cores + ``axon_cost`` x the tiles' summed fan-in: every input axon of a tile is an output-axon
    entry of a source core, so ``axon_cost = 1 / fan-out limit`` counts the source cores those entries take
    (NxTF's cost weighs axons against cores the same way). ``fan_out``: destination cores per neuron (known
    once the consumers are tiled); a class of boxes is packed for the largest fan-out of its members."""
    fo_on = fan_out is not None and np.isfinite(limits.fan_out)
    if len(layer.shape) != 3:   # a (F,) population: contiguous feature ranges
        pk = pack_channels(layer, (0, 1, 0, 1), limits, mem, wbits, fan_out.of_box(layer, (0, 1, 0, 1)) if fo_on else None)
        return LayerTiling([Tile(a, b) for a, b in pk.chunks], (1, 1), 1)
    C, H, W = layer.shape
    floor = grid_floor(layer, limits, mem, wbits)
    grids = sorted((floor(ty, tx), ty, tx) for ty in distinct_sizes(H) for tx in distinct_sizes(W)
                   if ty * tx <= limits.neurons)
    grids.sort(key=lambda g: (g[1], g[2]) != (1, 1))   # one position per box first: a strong first incumbent
    best, best_cost, tried = None, None, 0
    for lb, ty, tx in grids:
        if best_cost is not None and lb >= best_cost:
            break   # grids come in order of their floor: none left can win
        tried += 1
        classes = {}
        for b in grid(H, W, ty, tx):
            classes.setdefault(box_key(layer, b), []).append(b)
        cost, packed = 0.0, {}
        for key, members in sorted(classes.items(), key=lambda kv: -len(kv[1])):
            budget = None if best_cost is None else int((best_cost - cost) // len(members))
            pcf = None
            if fo_on:
                parts = [fan_out.of_box(layer, b) for b in members]
                pcf = (np.max([q[0] for q in parts], 0), max(q[1] for q in parts))
            pk = pack_channels(layer, members[0], limits, mem, wbits, pcf, budget)
            if pk is None:
                cost = None
                break
            packed[key] = pk
            cost += len(members) * (len(pk.chunks) + axon_cost * sum(pk.fan_in))
            if best_cost is not None and cost >= best_cost:
                cost = None
                break
        if cost is not None:
            best_cost, best = cost, (ty, tx, packed)
    if best is None:   # every grid failed (fan-out): one position per box, each packed with its own fan-out
        tiles = []
        for y in range(H):
            for x in range(W):
                one = (y, y + 1, x, x + 1)
                pcf = fan_out.of_box(layer, one) if fo_on else None
                tiles += [Tile(a, e, *one) for a, e in pack_channels(layer, one, limits, mem, wbits, pcf).chunks]
        return LayerTiling(tiles, (1, 1), tried)
    ty, tx, packed = best
    tiles = []
    for b in grid(H, W, ty, tx):
        pk = packed[box_key(layer, b)]
        if fo_on and pk.fan_out_bound:   # packed for its class's largest fan-out: pack again with its own
            pk = pack_channels(layer, b, limits, mem, wbits, fan_out.of_box(layer, b)) or pk
        tiles += [Tile(a, e, *b) for a, e in pk.chunks]
    return LayerTiling(tiles, (ty, tx), tried)


# ---------------------------------------------------------------- the whole network
@dataclass
class TiledLayer:
    """A layer's tiles and each tile's exact needs: fan-in, synapse bits, storage format per synapse node,
    output-axon entries (``fan_out``) and distinct destination cores; the tile of each neuron, and per pixel the
    range of tiles holding it (``pix_lo`` .. ``pix_hi``: a box's channel chunks are consecutive tiles)."""

    name: str
    tiles: list
    fan_in: np.ndarray
    synapse_bits: np.ndarray
    storage: list
    grid: tuple
    grids_tried: int
    fan_out: np.ndarray
    destination_cores: np.ndarray
    tile_of: np.ndarray
    pix_lo: np.ndarray
    pix_hi: np.ndarray
    one_fan_out: int = 0          # output-axon entries of the layer's worst neuron


def prepare_layer(layer, shape) -> None:
    """Attach what the partitioner reads to a mapping layer and its paths (shape, channels, prefix sums)."""
    layer.shape = tuple(int(d) for d in shape)
    layer.hw = layer.shape[1:] if len(layer.shape) == 3 else (1, 1)
    layer.channels = layer.shape[0]
    layer.shared_sources = len({p.source for p in layer.paths}) < len(layer.paths)
    for p in layer.paths:
        if p.kind == "conv" and getattr(p, "cum_int", None) is None:
            p.cum_int = np.ascontiguousarray(p.cum.numpy().round().astype(np.int64))
            p.valid_np = np.ascontiguousarray(p.valid.numpy() > 0)
        elif p.kind == "dense" and getattr(p, "nz_rows", None) is None:
            nz = p.nz
            p.nz_rows = lambda a, b, nz=nz: nz[a:b].sum(0, dtype=np.int64)


def _tile_index(layer, tiles: list) -> tuple:
    """``(tile_of [neurons], pix_lo [pixels], pix_hi [pixels])``."""
    C, (H, W) = layer.channels, layer.hw
    tile_of = np.empty(layer.neurons, dtype=np.int64)
    view = tile_of.reshape(C, H, W)
    lo = np.full(H * W, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.zeros(H * W, dtype=np.int64)
    lv, hv = lo.reshape(H, W), hi.reshape(H, W)
    for i, t in enumerate(tiles):
        view[t.c0:t.c1, t.y0:t.y1, t.x0:t.x1] = i
        lv[t.y0:t.y1, t.x0:t.x1] = np.minimum(lv[t.y0:t.y1, t.x0:t.x1], i)
        hv[t.y0:t.y1, t.x0:t.x1] = np.maximum(hv[t.y0:t.y1, t.x0:t.x1], i + 1)
    return tile_of, lo, hi


def partition_network(layers: dict, limits: dict, mem, wbits: int, progress=None) -> dict:
    """Tile every layer, last layer first, so that each layer's fan-out (output-axon entries) is known when it
    is tiled; returns ``{name: TiledLayer}`` in ``layers``' (topological) order.

    ``limits``: ``neurons_per_core``, ``fan_in``, ``synapse_bits``, ``fan_out`` (``inf``: none). A layer whose
    single worst neuron already exceeds the fan-in or memory limit is tiled under the relaxed limits of
    :func:`~snn2hw.simulators.lower_bound.relaxed_limits`, so its core count stays meaningful; the design
    rules report the violation."""
    from snn2hw.simulators.lower_bound import relaxed_limits
    fan_out = {n: FanOut.zeros(l) for n, l in layers.items()}
    consumers = {n: [] for n in layers}      # source -> [(consumer layer, its tiles)]
    fo_lim = limits["fan_out"]
    out = {}
    for name in reversed(list(layers)):
        layer = layers[name]
        fin, mlim, _ = relaxed_limits(layer.needs, limits)
        lim = Limits(neurons=int(limits["neurons_per_core"]), fan_in=fin, synapse_bits=mlim, fan_out=fo_lim)
        fo = fan_out[name] if np.isfinite(fo_lim) else None
        feeds_neurons = any(p.source in layers for p in layer.paths)   # its sources have a fan-out limit
        if layer.paths:
            tl = partition_layer(layer, lim, mem, wbits, fo,
                                 axon_cost=1.0 / fo_lim if feeds_neurons and np.isfinite(fo_lim) else 0.0)
        else:   # fed by nothing (cannot happen after convert): one range per neurons_per_core
            tl = LayerTiling([Tile(a, min(layer.channels, a + lim.neurons))
                              for a in range(0, layer.channels, lim.neurons)], (1, 1), 0)
        arr = np.array([t.as_tuple() for t in tl.tiles], dtype=np.int64).reshape(-1, 6)
        fan_in, bits, storage = tiles_needs(layer, arr, mem, wbits)
        add_fan_out(layer, arr, fan_out, mem)
        for src in {p.source for p in layer.paths if p.source in layers}:
            consumers[src].append((layer, arr))
        tile_of, pix_lo, pix_hi = _tile_index(layer, tl.tiles)
        tl_out = TiledLayer(name, tl.tiles, fan_in, bits, storage, tl.grid, tl.grids_tried,
                            fan_out[name].of_tiles(layer, tl.tiles), np.zeros(len(tl.tiles), dtype=np.int64),
                            tile_of, pix_lo, pix_hi, int(fan_out[name].per_neuron(layer).max(initial=0)))
        for cons, carr in consumers.pop(name):
            tl_out.destination_cores += destinations(cons, carr, tl_out, mem, len(tl.tiles))
        out[name] = tl_out
        if progress is not None:
            progress(name, len(tl.tiles))
    return {n: out[n] for n in layers}
