"""Cores that hold several boxes: underfull cores of a layer merged with their neighbours' (expanded synapses).

The partitioner's tiles are boxes, one per core, packed position class by position class; what is left over
at each position (the last chunk of a box's channels: 14 + 14 + 4 where 4096 output-axon entries hold 14
neurons) cannot share a core with its neighbour's leftover as a box. :func:`merge_cores` lets it: a core may
hold several boxes of one layer, when together they keep every per-core limit (neurons, output-axon entries,
fan-in axons, synapse memory, all exact: :func:`group_needs`). Merging only ever removes output-axon entries
from the layer's sources (a source neuron reaching two boxes of one core needs one entry for both). The shared
synapse model does not merge (its population axons are counted per box's pixels).

What a core of several boxes needs (:func:`group_needs`): its fan-in is the union of the boxes' source neurons
(per source population); per synapse path its memory is, as for a box, the cheaper of dense (every axon a run
of all the core's neurons) and sparse (every axon a run of the core's neurons it reaches, with index bits)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tile_needs import _flat_sources, _tables, path_counts

#: a box joins another core when it uses less than this share of every per-core limit
SMALL = 0.7


@dataclass
class GroupNeeds:
    fan_in: int
    synapse_bits: int
    storage: dict
    sources: dict          # source population -> its neurons reaching the core (flat, sorted)


def group_needs(layer, boxes: list, mem, wbits: int) -> GroupNeeds:
    """Exact needs of one core holding ``boxes`` (:class:`~.tile_needs.Tile`, disjoint) of ``layer`` under the
    expanded synapse model."""
    n = sum(b.neurons for b in boxes)
    bits, storage, by_src = 0, {}, {}
    for p in layer.paths:
        idx, cnt = [], []
        for b in boxes:
            i, c = _flat_sources(p, *path_counts(p, b))
            idx.append(i)
            cnt.append(c)
        idx, cnt = np.concatenate(idx), np.concatenate(cnt).astype(np.int64)
        src, inv = np.unique(idx, return_inverse=True)
        per_axon = np.bincount(inv, weights=cnt, minlength=src.size).round().astype(np.int64)
        sparse_tab, dense_tab = _tables(p, mem, wbits, n)
        sparse, dense = int(sparse_tab[per_axon].sum()), int(src.size) * int(dense_tab[n])
        storage[p.synapse] = "dense" if dense < sparse else "sparse"
        bits += min(sparse, dense)
        by_src[p.source] = src if p.source not in by_src else np.union1d(by_src[p.source], src)
    return GroupNeeds(int(sum(v.size for v in by_src.values())), int(bits), storage, by_src)


def merge_cores(layer, tiles: list, box_needs: tuple, box_fan_out: np.ndarray, limits, mem, wbits: int,
                tries: int = 4, give_up: int = 64) -> list:
    """Group ``tiles`` (one layer's boxes) into cores: ``[[box index, ...], ...]``, each group keeping every limit
    (``limits``: :class:`~.partition.Limits`). ``box_needs``: ``(fan_in, synapse_bits)`` per box;
    ``box_fan_out``: output-axon entries per box.

    Greedy, smallest first: a box using less than ``SMALL`` of every limit joins the fullest group of neighbouring
    boxes (touching it in space) that it still fits beside, trying at most ``tries`` groups by exact needs; after
    ``give_up`` exact checks in a row that fail (a layer whose memory or fan-in leaves no room) the layer stops
    trying. Groups only ever grow, and every group is checked exactly before it is formed."""
    n = len(tiles)
    if n < 2:
        return [[i] for i in range(n)]
    fan_in, bits = (np.asarray(v, dtype=np.float64) for v in box_needs)
    neurons = np.array([t.neurons for t in tiles], dtype=np.float64)
    fo = np.asarray(box_fan_out, dtype=np.float64)

    def frac(v, lim):
        return v / lim if np.isfinite(lim) else 0.0 * v
    use = np.max([frac(neurons, limits.neurons), frac(fan_in, limits.fan_in), frac(bits, limits.synapse_bits),
                  frac(fo, limits.fan_out)], axis=0)
    small = [int(i) for i in np.argsort(use, kind="stable") if use[i] < SMALL]
    if not small:
        return [[i] for i in range(n)]
    rows = np.array([t.as_tuple() for t in tiles], dtype=np.int64).reshape(-1, 6)
    group_of = np.arange(n)
    members = {i: [i] for i in range(n)}
    g_neurons, g_fo, g_use = neurons.copy(), fo.copy(), use.copy()
    # the boxes of one grid by cell; the boxes of the 8 cells around a box's cell touch it
    ys, yk = np.unique(rows[:, 2], return_inverse=True)
    xs, xk = np.unique(rows[:, 4], return_inverse=True)
    cell = yk * len(xs) + xk
    order = np.argsort(cell, kind="stable")
    starts = np.searchsorted(cell[order], np.arange(len(ys) * len(xs) + 1))

    def neighbours(i):
        a, b = int(yk[i]), int(xk[i])
        parts = [order[starts[c]:starts[c + 1]] for c in
                 ((a + dy) * len(xs) + b + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                  if 0 <= a + dy < len(ys) and 0 <= b + dx < len(xs))]
        g = group_of[np.concatenate(parts)]
        g = g[(g != group_of[i]) & (g_neurons[g] + neurons[i] <= limits.neurons) & (g_fo[g] + fo[i] <= limits.fan_out)]
        return np.unique(g)   # the groups with room beside box i

    failed = 0
    for i in small:
        if failed >= give_up:
            break
        if len(members[group_of[i]]) > 1:
            continue   # already holds another box: it stays where it is
        g = neighbours(i)
        for gid in g[np.argsort(-g_use[g], kind="stable")][:tries].tolist():
            boxes = [tiles[k] for k in members[gid]] + [tiles[i]]
            gn = group_needs(layer, boxes, mem, wbits)
            failed += 1
            if gn.fan_in <= limits.fan_in and gn.synapse_bits <= limits.synapse_bits:
                failed = 0
                old = int(group_of[i])
                members[gid].append(i)
                del members[old]
                group_of[i] = gid
                g_neurons[gid] += neurons[i]
                g_fo[gid] += fo[i]
                g_use[gid] = max(g_neurons[gid] / limits.neurons, frac(gn.fan_in, limits.fan_in),
                                 frac(gn.synapse_bits, limits.synapse_bits), frac(g_fo[gid], limits.fan_out))
                break
    return sorted(members.values(), key=lambda m: min(m))
