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
class need the same for the same channels; and, where the profile limits output axons,
the same output-axon entries per channel, which the consumers' tiles set); each class's
channels are packed greedily (the longest chunk that fits, found by binary search on its
length, every need being monotone in it; greedy filling is optimal among contiguous
chunkings); the grid with the lowest cost wins. The chosen tiles are then evaluated one
by one (every limit checked on every tile).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import MappingError
from .tile_counts import _run, axon_bits_one
from .tile_needs import FanOut, Tile, add_fan_out, destinations, needs_function, shared_model, tiles_needs


def distinct_sizes(n: int) -> list:
    """The distinct box sizes ``ceil(n / k)``, ``k = 1..n``, largest first."""
    return sorted({-(-n // k) for k in range(1, n + 1)}, reverse=True)


def grid(H: int, W: int, ty: int, tx: int) -> list:
    """The ``ty x tx`` grid of boxes over ``H x W`` in raster order, as ``(y0, y1, x0, x1)``."""
    return [(y, min(H, y + ty), x, min(W, x + tx)) for y in range(0, H, ty) for x in range(0, W, tx)]




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


def class_key(layer, box, fan_out=None) -> tuple:
    """:func:`box_key`, and with ``fan_out`` (:class:`FanOut`) the output-axon entries of the box's neurons per
    channel: boxes with the same class key pack alike, fan-out limit included."""
    key = box_key(layer, box)
    if fan_out is None:
        return key
    per_c, shared = fan_out.of_box(layer, box)
    return key + (np.ascontiguousarray(per_c).tobytes(), int(shared))


@dataclass
class Limits:
    """Per-core limits the packing respects (``inf`` where the profile sets none)."""

    neurons: int
    fan_in: float
    synapse_bits: float
    fan_out: float = float("inf")


@dataclass
class Packing:
    """A box's channel chunks and each chunk's fan-in."""

    chunks: list
    fan_in: list


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
    once the consumers are tiled): boxes are classed by it too (:func:`class_key`)."""
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
            classes.setdefault(class_key(layer, b, fan_out if fo_on else None), []).append(b)
        cost, packed = 0.0, {}
        for key, members in sorted(classes.items(), key=lambda kv: -len(kv[1])):
            budget = None if best_cost is None else int((best_cost - cost) // len(members))
            pcf = fan_out.of_box(layer, members[0]) if fo_on else None
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
        pk = packed[class_key(layer, b, fan_out if fo_on else None)]
        tiles += [Tile(a, e, *b) for a, e in pk.chunks]
    return LayerTiling(tiles, (ty, tx), tried)


# ---------------------------------------------------------------- the whole network
@dataclass
class TiledLayer:
    """A layer's tiles (boxes) and its cores: ``core_of_box`` (a core holds one box, or several after
    :func:`~snn2hw.simulators.mapping.merge.merge_cores`; a core's boxes are consecutive), and per core its exact
    needs: fan-in, synapse bits, storage format per synapse node, output-axon entries (``fan_out``) and distinct
    destination cores; the core of each neuron (``tile_of``), and per pixel the range of cores holding it
    (``pix_lo`` .. ``pix_hi``: a box's channel chunks are consecutive; read under the shared model, which does
    not merge)."""

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
    core_of_box: np.ndarray = None
    split_parts: int = 0          # boxes that merge_cores split off others (their channel runs on other cores)

    @property
    def cores(self) -> int:
        return len(self.fan_in)

    def boxes(self, core: int) -> list:
        """The boxes core ``core`` (0-based within the layer) holds."""
        starts = self.__dict__.get("_starts")
        if starts is None:
            starts = self.__dict__["_starts"] = np.searchsorted(self.core_of_box, np.arange(self.cores + 1)).tolist()
        return self.tiles[starts[core]:starts[core + 1]]


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


def _tile_index(layer, tiles: list, core_of_box) -> tuple:
    """``(tile_of [neurons], pix_lo [pixels], pix_hi [pixels])``: the core of each neuron, per pixel the range
    of cores holding it."""
    C, (H, W) = layer.channels, layer.hw
    tile_of = np.empty(layer.neurons, dtype=np.int64)
    view = tile_of.reshape(C, H, W)
    lo = np.full(H * W, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.zeros(H * W, dtype=np.int64)
    lv, hv = lo.reshape(H, W), hi.reshape(H, W)
    for i, t in zip(core_of_box.tolist(), tiles):
        view[t.c0:t.c1, t.y0:t.y1, t.x0:t.x1] = i
        lv[t.y0:t.y1, t.x0:t.x1] = np.minimum(lv[t.y0:t.y1, t.x0:t.x1], i)
        hv[t.y0:t.y1, t.x0:t.x1] = np.maximum(hv[t.y0:t.y1, t.x0:t.x1], i + 1)
    return tile_of, lo, hi


#: how hard merging tries (``snn2hw map --effort``): ``normal`` (the default) gives a layer up after 32 boxes in a row
#: that the exact checks find no room for; ``fast`` counts the boxes passed over by the cheap pre-checks too, so a
#: layer whose first boxes cannot move stops early (fewer cores freed where those come first, in less time)
EFFORTS = ("fast", "normal")


def check_effort(effort: str) -> None:
    """Refuse a merging effort that is not one of :data:`EFFORTS`."""
    if effort not in EFFORTS:
        raise MappingError(f"mapping effort '{effort}': expected one of {', '.join(EFFORTS)}")


def partition_network(layers: dict, limits: dict, mem, wbits: int, progress=None, merge: bool = True,
                      effort: str = "normal") -> dict:
    """Tile every layer, last layer first, so that each layer's fan-out (output-axon entries) is known when it
    is tiled; returns ``{name: TiledLayer}`` in ``layers``' (topological) order.

    ``limits``: ``neurons_per_core``, ``fan_in``, ``synapse_bits``, ``fan_out`` (``inf``: none). A layer whose
    single worst neuron already exceeds the fan-in or memory limit is tiled under the relaxed limits of
    :func:`~snn2hw.simulators.mapping.lower_bound.relaxed_limits`, so its core count stays meaningful; the design
    rules report the violation. ``merge``: let underfull cores hold several boxes
    (:func:`~snn2hw.simulators.mapping.merge.merge_cores`; expanded synapses only), trying as hard as ``effort``
    (:data:`EFFORTS`)."""
    check_effort(effort)
    from .lower_bound import relaxed_limits
    from .merge import group_needs, merge_cores
    fan_out = {n: FanOut.zeros(l) for n, l in layers.items()}
    consumers = {n: [] for n in layers}      # source -> [(consumer, its one-box cores' boxes, its merged cores' sources)]
    fo_lim = limits["fan_out"]
    out = {}
    for name in reversed(list(layers)):
        layer = layers[name]
        fin, mlim, _ = relaxed_limits(layer.needs, limits)
        lim = Limits(neurons=int(limits["neurons_per_core"]), fan_in=fin, synapse_bits=mlim, fan_out=fo_lim)
        fo = fan_out[name] if np.isfinite(fo_lim) else None
        feeds_neurons = any(p.source in layers for p in layer.paths)   # its sources have a fan-out limit
        axon_cost = 1.0 / fo_lim if feeds_neurons and np.isfinite(fo_lim) else 0.0
        if layer.paths:
            tl = partition_layer(layer, lim, mem, wbits, fo, axon_cost=axon_cost)
        else:   # fed by nothing (cannot happen after convert): one range per neurons_per_core
            tl = LayerTiling([Tile(a, min(layer.channels, a + lim.neurons))
                              for a in range(0, layer.channels, lim.neurons)], (1, 1), 0)
        boxes = tl.tiles
        arr = np.array([t.as_tuple() for t in boxes], dtype=np.int64).reshape(-1, 6)
        fan_in, bits, storage = tiles_needs(layer, arr, mem, wbits)
        groups = [[i] for i in range(len(boxes))]
        sources = {}                      # (path, box) -> the box's source neurons, shared by merging and its cores
        if merge and layer.paths and not shared_model(mem) and not layer.shared_sources:
            per_channel = None
            if np.isfinite(fo_lim):
                by_box = {}                 # a box's entries per channel, for every chunk of its channels

                def per_channel(t, f=fan_out[name], lay=layer, by_box=by_box):
                    key = (t.y0, t.y1, t.x0, t.x1)
                    if key not in by_box:
                        by_box[key] = f.of_box(lay, key)[0]
                    return by_box[key][t.c0:t.c1]
            boxes, groups = merge_cores(layer, boxes, (fan_in, bits), per_channel, lim, mem, wbits,
                                        axon_cost=axon_cost, count_passed=effort == "fast", cache=sources)
        box_fo = fan_out[name].of_tiles(layer, boxes)
        order = [i for g in groups for i in g]
        tiles = [boxes[i] for i in order]
        core_of_box = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
        # a core of one box keeps that box as partitioned (merge_cores only changes boxes that move): its needs
        # are the ones computed above; a core of several boxes gets its own
        first = [g[0] if len(g) == 1 else 0 for g in groups]
        fan_in, bits, storage = fan_in[first], bits[first], [storage[i] for i in first]
        merged = {}                       # core -> its sources (a core of several boxes)
        for k, g in enumerate(groups):
            if len(g) > 1:
                gn = group_needs(layer, [boxes[i] for i in g], mem, wbits, sources)
                fan_in[k], bits[k], storage[k] = gn.fan_in, gn.synapse_bits, gn.storage
                merged[k] = gn.sources
        sources.clear()
        alone = np.array([len(g) == 1 for g in groups], dtype=bool)[core_of_box]
        arr = np.array([t.as_tuple() for t in tiles], dtype=np.int64).reshape(-1, 6)
        add_fan_out(layer, arr[alone], fan_out, mem)
        for srcs in merged.values():      # one entry per source neuron and core, however many boxes it reaches
            for src, idx in srcs.items():
                if src in fan_out:
                    fan_out[src].neuron[idx] += 1
        for src in {p.source for p in layer.paths if p.source in layers}:
            consumers[src].append((layer, arr[alone], merged))
        tile_of, pix_lo, pix_hi = _tile_index(layer, tiles, core_of_box)
        tl_out = TiledLayer(name, tiles, fan_in, bits, storage, tl.grid, tl.grids_tried,
                            np.bincount(core_of_box, weights=box_fo[order], minlength=len(groups)).round()
                            .astype(np.int64), np.zeros(len(groups), dtype=np.int64),
                            tile_of, pix_lo, pix_hi, int(fan_out[name].per_neuron(layer).max(initial=0)), core_of_box,
                            len(boxes) - len(tl.tiles))
        for cons, carr, cmerged in consumers.pop(name):
            tl_out.destination_cores += destinations(cons, carr, tl_out, mem, len(groups))
            for srcs in cmerged.values():   # a source core reaching a merged core: one destination, once
                if name in srcs:
                    tl_out.destination_cores += np.bincount(tile_of[srcs[name]], minlength=len(groups)) > 0
        out[name] = tl_out
        if progress is not None:
            progress(name, tl_out.cores)
    return {n: out[n] for n in layers}
