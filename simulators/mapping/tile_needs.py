"""What one tile needs on its core, exactly: fan-in, synapse bits, storage format, the source units it listens
to (neurons; pixels under the shared model), and the output-axon entries it costs its sources."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shared_synapses import (POP_AXON_ENTRIES, shared_tile_stats, shared_tiles_destinations, shared_tiles_pixel_fan_out,
                              shared_tiles_stats)
from .tile_counts import (_run, axon_bit_table, conv_tile_stats, conv_tiles_destinations, conv_tiles_fan_out,
                          conv_tiles_stats, conv_window_counts, count_stats)


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

