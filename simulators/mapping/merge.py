"""Cores that hold several boxes: underfull cores of a layer merged with their neighbours' (expanded synapses).

The partitioner's tiles are boxes, one per core, packed position class by position class; what is left over
at each position (the last chunk of a box's channels: 14 + 14 + 4 where 4096 output-axon entries hold 14
neurons) cannot share a core with its neighbour's leftover as a box. :func:`merge_cores` lets it: a core may
hold several boxes of one layer, when together they keep every per-core limit (neurons, output-axon entries,
fan-in axons, synapse memory, all exact: :func:`group_needs`). A box leaves its core whole, or split by
channels over a few neighbouring cores (two leftovers of 20 `sn3` neurons of VGG-16 do not fit one core, 20 +
18 do, and the other 2 fit elsewhere), and only when all of it finds room, so each move frees a core. A source
neuron reaching two boxes of one core takes one output-axon entry for both; one reaching the parts of a split
box on several cores takes one on each (the layer's sources are tiled after it, with these counts). The shared
synapse model does not merge (its population axons are counted per box's pixels).

What a core of several boxes needs (:func:`group_needs`): its fan-in is the union of the boxes' source neurons
(per source population); per synapse path its memory is, as for a box, the cheaper of dense (every axon a run
of all the core's neurons) and sparse (every axon a run of the core's neurons it reaches, with index bits)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snn2hw.simulators.timing import njit

from .tile_counts import conv_tile_source_counts
from .tile_needs import Tile, _flat_sources, _geometry, _tables, path_counts

#: a box tries to leave its core when it uses less than this share of every per-core limit (above 1: every box)
SMALL = 1.01
#: a core using this share of a limit is tried last (it takes a box only where its dense words had room to spare)
FULL = 0.999


@dataclass
class GroupNeeds:
    fan_in: int
    synapse_bits: int
    storage: dict
    sources: dict          # source population -> its neurons reaching the core (flat, sorted)


def _box_sources(layer, k: int, box, cache: dict | None = None) -> tuple:
    """``(source neurons, sorted; synapses each)`` of ``box`` on ``layer``'s path ``k`` (kept in ``cache``, as 32-bit
    integers: a layer's boxes hold a few thousand sources each)."""
    got = None if cache is None else cache.get((k, box))
    if got is None:
        p = layer.paths[k]
        if p.kind == "conv":
            got = conv_tile_source_counts(p.cum_int, box.c0, box.c1, box.y0, box.y1, box.x0, box.x1, *_geometry(p))
        else:
            idx, cnt = _flat_sources(p, *path_counts(p, box))
            got = (idx.astype(np.int32), cnt.astype(np.int32))
        if cache is not None:
            cache[(k, box)] = got
    return got


def _union(lists: list) -> tuple:
    """The union of sorted ``(source neurons, synapses each)`` lists: each source once, its synapses added."""
    if len(lists) == 1:
        return lists[0]
    idx, cnt = np.concatenate([v[0] for v in lists]), np.concatenate([v[1] for v in lists])
    order = np.argsort(idx, kind="stable")           # each list is sorted: merging sorted runs
    idx, cnt = idx[order], cnt[order]
    if not idx.size:
        return idx, cnt
    first = np.concatenate([[True], idx[1:] != idx[:-1]])
    return idx[first], np.add.reduceat(cnt, np.flatnonzero(first))


def group_needs(layer, boxes: list, mem, wbits: int, cache: dict | None = None) -> GroupNeeds:
    """Exact needs of one core holding ``boxes`` (:class:`~.tile_needs.Tile`, disjoint) of ``layer`` under the
    expanded synapse model. ``cache``: a dict keeping each box's source neurons and counts per path between
    calls."""
    n = sum(b.neurons for b in boxes)
    bits, storage, by_src = 0, {}, {}
    for k, p in enumerate(layer.paths):
        src, per_axon = _union([_box_sources(layer, k, b, cache) for b in boxes])   # the axons, synapses each
        sparse_tab, dense_tab = _tables(p, mem, wbits, n)
        sparse, dense = int(sparse_tab[per_axon].sum()), int(src.size) * int(dense_tab[n])
        storage[p.synapse] = "dense" if dense < sparse else "sparse"
        bits += min(sparse, dense)
        by_src[p.source] = src if p.source not in by_src else np.union1d(by_src[p.source], src)
    return GroupNeeds(int(sum(v.size for v in by_src.values())), int(bits), storage, by_src)


@njit(cache=True)
def _add_sources(idx, cnt, b_idx, b_cnt, sparse_tab):
    """``(sources, synapses each, sparse bits added)``: a core's sorted source neurons ``idx`` (synapses each
    ``cnt``) with a box's (``b_idx``, ``b_cnt``) merged in (an axon both reach carries both's synapses in one run);
    ``sparse_tab[k]``: the sparse bits of an axon of ``k`` synapses."""
    n, m = idx.size, b_idx.size
    out_idx = np.empty(n + m, idx.dtype)
    out_cnt = np.empty(n + m, cnt.dtype)
    i = j = k = 0
    added = 0
    while i < n or j < m:
        if j >= m or (i < n and idx[i] < b_idx[j]):
            out_idx[k], out_cnt[k] = idx[i], cnt[i]
            i += 1
        elif i >= n or b_idx[j] < idx[i]:
            out_idx[k], out_cnt[k] = b_idx[j], b_cnt[j]
            added += sparse_tab[b_cnt[j]]
            j += 1
        else:
            c = cnt[i] + b_cnt[j]
            added += sparse_tab[c] - sparse_tab[cnt[i]]
            out_idx[k], out_cnt[k] = idx[i], c
            i += 1
            j += 1
        k += 1
    return out_idx[:k], out_cnt[:k], added


@njit(cache=True)
def _cores_with_room(idx, group_of, own, g_neurons, g_fo, npc, fo_lim, need_n, need_fo):
    """The cores of boxes ``idx`` (``own`` left out, a core once per box) with room for ``need_n`` more neurons and
    ``need_fo`` more output-axon entries."""
    out = np.empty(idx.size, np.int64)
    m = 0
    for k in range(idx.size):
        g = group_of[idx[k]]
        if g != own and g_neurons[g] + need_n <= npc and g_fo[g] + need_fo <= fo_lim:
            out[m] = g
            m += 1
    return out[:m]


@njit(cache=True)
def _room_around(idx, group_of, own, g_neurons, g_fo, npc, fo_lim, area, step, max_parts):
    """The most channels of a box (``area`` positions, at least ``step`` entries per channel) that the cores of boxes
    ``idx`` (``own`` left out; a core once per box) could take by neurons and entries alone, each core a run, at
    most ``max_parts`` of them: the sum of the ``max_parts`` largest rooms."""
    top = np.zeros(max_parts)
    low = 0                                   # where the smallest of the kept rooms is
    for k in range(idx.size):
        g = group_of[idx[k]]
        if g == own:
            continue
        r = (npc - g_neurons[g]) // area
        if fo_lim < np.inf and step > 0:
            r = min(r, np.floor((fo_lim - g_fo[g]) / step))
        if r > top[low]:
            top[low] = r
            for j in range(max_parts):
                if top[j] < top[low]:
                    low = j
    return top.sum()


def _windows(layer, rows: np.ndarray) -> np.ndarray | None:
    """Per box (``rows``: ``[c0, c1, y0, y1, x0, x1]``), the window of the source map its neurons listen to through the
    layer's conv path with the largest kernel: ``[first row, last row, first column, last column]``, clipped to the
    map (``None``: no conv path)."""
    convs = [p for p in layer.paths if p.kind == "conv"]
    if not convs:
        return None
    p = max(convs, key=lambda q: q.k.shape[2] * q.k.shape[3])
    (KH, KW), (sy, sx), (py, px), (H, W) = p.k.shape[2:], p.stride, p.padding, p.src_shape[1:]
    return np.stack([np.clip(rows[:, 2] * sy - py, 0, H - 1), np.clip((rows[:, 3] - 1) * sy - py + KH - 1, 0, H - 1),
                     np.clip(rows[:, 4] * sx - px, 0, W - 1), np.clip((rows[:, 5] - 1) * sx - px + KW - 1, 0, W - 1)],
                    1)


def merge_cores(layer, tiles: list, box_needs: tuple, channel_fan_out, limits, mem, wbits: int,
                tries: int = 6, give_up: int = 32, max_parts: int = 12, axon_cost: float = 0.0,
                count_passed: bool = True, cache: dict | None = None) -> tuple:
    """Group ``tiles`` (one layer's boxes) into cores, splitting leftovers where a part fits beside a neighbour:
    ``(boxes, groups)``, ``groups = [[box index, ...], ...]`` over the returned ``boxes`` (``tiles`` and the parts
    split off them), each group keeping every limit (``limits``: :class:`~.partition.Limits`). ``box_needs``:
    ``(fan_in, synapse_bits)`` per tile; ``channel_fan_out(tile)``: the output-axon entries of the tile's
    neurons per channel (``None``: no fan-out limit).

    Greedy, the emptiest first: a box using less than ``SMALL`` of every limit joins a core of a touching box that it
    still fits beside: one whose boxes' window on the source map (:func:`_windows`, bounding box) covers its own first
    (its sources lie in that core's window, so most of them reach the core already, and a whole move takes an
    output-axon entry from each of those), the fullest of those; where none takes it whole, it is split: the longest run of its
    channels that fits beside one of them goes there, and the rest tries again, in at most ``max_parts`` parts on
    distinct cores. A box moves only when all of it finds room (a box that keeps a core of its own gains nothing
    from giving part of itself away, and its sources would reach one more core). How full a core is: the largest
    share of a limit it uses, where a dense-stored core's memory share is its neurons over the most neurons its
    axons leave room for (dense runs grow by whole words); cores at a limit are tried last.

    The sources pay for a split: every part's new source neurons take an output-axon entry on its core, the freed
    core's entries go. ``axon_cost`` (``1 / fan-out limit`` when the sources are neurons, as in the
    partitioner's cost) prices them: a split whose added entries cost a core or more is not made (a whole move
    never adds entries). A box that the touching cores cannot hold by neurons and entries alone is passed over
    without exact checks. At most ``tries`` cores are checked by exact needs per step; after ``give_up`` boxes in
    a row that find no room (a layer whose memory or fan-in leaves none) the layer stops trying; a box passed over
    without exact checks counts toward it unless ``count_passed`` is False (more boxes tried, more time: in
    ResNet-19's ``layer3.1.sn1`` the single-neuron cores that cannot move come first, and the edge boxes that can
    come after them). Every core is checked exactly before it is formed. ``cache``: a dict that keeps each box's
    source neurons per path (:func:`group_needs` takes it too, so the cores formed are not counted again)."""
    n = len(tiles)
    if n < 2:
        return list(tiles), [[i] for i in range(n)]
    fan_in, bits = (np.asarray(v, dtype=np.float64) for v in box_needs)
    tiles = list(tiles)
    per_c = [None] * n                      # per box: output-axon entries per channel (prefix sums), on demand

    def fo_prefix(i):
        if per_c[i] is None:
            t = tiles[i]
            v = np.zeros(t.c1 - t.c0) if channel_fan_out is None else channel_fan_out(t)
            per_c[i] = np.concatenate([[0.0], np.cumsum(v, dtype=np.float64)])
        return per_c[i]

    def frac(v, lim):
        return v / lim if np.isfinite(lim) else 0.0 * v
    neurons = np.array([t.neurons for t in tiles], dtype=np.float64)
    fo = np.array([fo_prefix(i)[-1] for i in range(n)]) if channel_fan_out is not None else np.zeros(n)
    dense_tab = _tables(layer.paths[0], mem, wbits, int(limits.neurons))[1] if len(layer.paths) == 1 else None

    def mem_use(n, ax, b):
        """The share of the memory limit a core of ``n`` neurons, ``ax`` input axons and ``b`` synapse bits uses; stored
        dense, the share of the neurons its axons leave room for (dense runs grow by whole words: 6 neurons on
        9,216 axons fill a core whose bits are 56 % used)."""
        n, ax, b = (np.asarray(v, dtype=np.float64) for v in (n, ax, b))
        out = frac(b, limits.synapse_bits)
        if dense_tab is None or not np.isfinite(limits.synapse_bits):
            return out
        cap = np.searchsorted(dense_tab, limits.synapse_bits / np.maximum(ax, 1), side="right") - 1
        dense = (ax > 0) & (ax * dense_tab[np.minimum(n, dense_tab.size - 1).astype(np.int64)] <= b) & (cap > 0)
        return np.where(dense, n / np.maximum(cap, 1), out)
    use = np.max([frac(neurons, limits.neurons), frac(fan_in, limits.fan_in), mem_use(neurons, fan_in, bits),
                  frac(fo, limits.fan_out)], axis=0)
    small = [int(i) for i in np.lexsort((neurons, use)) if use[i] < SMALL]   # the emptiest first, then the smallest
    if not small:
        return tiles, [[i] for i in range(n)]
    cap = 2 * n                                                       # room for the parts split off
    grow = np.zeros(cap - n)
    group_of = np.concatenate([np.arange(n), np.zeros(cap - n, dtype=np.int64)])
    g_neurons, g_fo, g_use = (np.concatenate([v, grow]) for v in (neurons, fo, use))
    members = {i: [i] for i in range(n)}
    # the boxes of one grid by cell (the 8 cells around a box's cell hold the boxes touching it); a part split
    # off a box stays in its cell
    rows = np.array([t.as_tuple() for t in tiles], dtype=np.int64).reshape(-1, 6)
    ys, yk = np.unique(rows[:, 2], return_inverse=True)
    xs, xk = np.unique(rows[:, 4], return_inverse=True)
    cell = yk * len(xs) + xk
    order = np.argsort(cell, kind="stable")
    starts = np.searchsorted(cell[order], np.arange(len(ys) * len(xs) + 1))
    extra = {}                                                        # cell -> parts added to it
    cell_of = list(cell.tolist())

    def near_cells(i):
        a, b = divmod(cell_of[i], len(xs))
        return [(a + dy) * len(xs) + b + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                if 0 <= a + dy < len(ys) and 0 <= b + dx < len(xs)]

    win = _windows(layer, rows)                                       # per box (and part split off), its window
    if win is not None:
        win = np.concatenate([win, np.zeros((cap - n, 4), dtype=win.dtype)])
    g_win = None if win is None else win.copy()                       # per core, the bounding box of its boxes'
    near_boxes = {}                                                   # cell -> the boxes in the cells around it
    # cell -> the most neurons and output-axon entries any core around it had room for when last looked at: cores
    # only fill up (and freed ones go), so it stays an upper bound until a part split off joins the cells around
    near_room = {}

    def touching(i):
        """The boxes touching box ``i`` (its own among them)."""
        idx = near_boxes.get(cell_of[i])
        if idx is None:
            cs = near_cells(i)
            idx = np.concatenate([order[starts[c]:starts[c + 1]] for c in cs]
                                 + [np.array(extra.get(c, []), dtype=np.int64) for c in cs])
            near_boxes[cell_of[i]] = idx
            if cell_of[i] not in near_room and idx.size:
                g = group_of[idx]
                near_room[cell_of[i]] = (limits.neurons - g_neurons[g].min(), limits.fan_out - g_fo[g].min())
        return idx

    def neighbours(i, need_n, need_fo, emptiest=False, used=()):
        """Up to ``tries`` cores of the touching boxes with room for ``need_n`` neurons and ``need_fo`` entries:
        the fullest (and with ``emptiest``, also the emptiest: a full core rarely has memory or axons to spare)."""
        g = np.unique(_cores_with_room(touching(i), group_of, group_of[i], g_neurons, g_fo, float(limits.neurons),
                                       float(limits.fan_out), float(need_n), float(need_fo)))
        if used:
            g = g[~np.isin(g, list(used))]
        # those at a limit last; first the cores whose window covers the box's (the box's sources reach them already:
        # none gains an output-axon entry), then the fullest; of equally full ones, the fewest neurons
        outside = np.zeros(g.size, dtype=bool)
        if win is not None:
            wy0, wy1, wx0, wx1 = win[i]
            outside = ~((g_win[g, 0] <= wy0) & (g_win[g, 1] >= wy1) & (g_win[g, 2] <= wx0) & (g_win[g, 3] >= wx1))
        g = g[np.lexsort((g_neurons[g], -g_use[g], outside, g_use[g] >= FULL))]
        out = g[:tries].tolist()
        if emptiest:
            out += [x for x in g[::-1][:tries].tolist() if x not in out]
        return out

    failed = 0

    def room(i, t, pre):
        """The most channels of box ``i`` that the touching cores could take by neurons and output-axon entries alone
        (each core taking a run, at most ``max_parts`` of them): an upper bound, so a box whose channels exceed it
        is passed over without exact checks."""
        idx = touching(i)                # a core holding several of these boxes is counted once per box: still a bound
        area = (t.y1 - t.y0) * (t.x1 - t.x0)
        step = float(np.min(np.diff(pre))) if pre.size > 1 else 0.0
        most_n, most_fo = near_room.get(cell_of[i], (limits.neurons, limits.fan_out))
        if most_n < area or (np.isfinite(limits.fan_out) and most_fo < step):
            return 0                     # no core around has room for one of its channels
        return int(_room_around(idx, group_of, group_of[i], g_neurons, g_fo, float(limits.neurons),
                                float(limits.fan_out), float(area), step, max_parts))

    cache = {} if cache is None else cache
    g_ax = np.concatenate([fan_in, grow])   # per core: its input axons, or an upper bound on them
    states = {}    # core -> per path: (its source neurons, sorted; synapses per axon; sparse bits), made on demand

    def state_of(gid):
        st = states.get(gid)
        if st is None:
            st = []
            for kp, p in enumerate(layer.paths):
                idx, cnt = _union([_box_sources(layer, kp, tiles[k], cache) for k in members[gid]])
                st.append((idx, cnt, int(_tables(p, mem, wbits, int(limits.neurons))[0][cnt].sum())))
            states[gid] = st
        return st

    def with_box(gid, box):
        """Exact ``(needs, new state)`` of core ``gid`` with ``box`` added: the box's sorted sources are looked up
        in the core's (an axon both reach adds the box's synapses to its run), as :func:`group_needs` counts
        them."""
        n = int(g_neurons[gid]) + box.neurons
        bits, fan, new = 0, 0, []
        for kp, p in enumerate(layer.paths):
            sparse_tab, dense_tab_p = _tables(p, mem, wbits, n)
            idx, cnt, sp = state_of(gid)[kp]
            idx, cnt, added = _add_sources(idx, cnt, *_box_sources(layer, kp, box, cache), sparse_tab)
            sp += int(added)
            bits += min(sp, idx.size * int(dense_tab_p[n]))
            fan += idx.size
            new.append((idx, cnt, sp))
        return GroupNeeds(fan, bits, {}, {}), new

    def fits(gid, extra_box, extra_axons):
        """``(needs, new state)`` of core ``gid`` with ``extra_box`` (at most ``extra_axons`` more input axons) if
        it keeps the fan-in and memory limits, else None. On one path, a core whose summed axons fit dense fits for
        sure (the union has at most that many axons): that bound stands in for the exact needs (state None), which
        the partitioner computes for every core it keeps."""
        n = int(g_neurons[gid]) + extra_box.neurons
        if dense_tab is not None:
            ax = g_ax[gid] + extra_axons
            if ax <= limits.fan_in and n < dense_tab.size and ax * dense_tab[n] <= limits.synapse_bits:
                return GroupNeeds(int(ax), int(ax * dense_tab[n]), {}, {}), None
        st = state_of(gid)                      # the core's own axons and sparse bits only grow
        if sum(x[0].size for x in st) > limits.fan_in or sum(
                min(sp, idx.size * int(_tables(p, mem, wbits, n)[1][n])) for (idx, _, sp), p in zip(st, layer.paths)
        ) > limits.synapse_bits:
            return None
        gn, new = with_box(gid, extra_box)
        return (gn, new) if gn.fan_in <= limits.fan_in and gn.synapse_bits <= limits.synapse_bits else None

    def join(gid, k, got):
        gn, new = got
        if new is None:
            states.pop(gid, None)
        else:                                  # the core's sources with the box's added (with_box)
            states[gid] = new
        members[gid].append(k)
        group_of[k] = gid
        if win is not None:
            g_win[gid, ::2] = np.minimum(g_win[gid, ::2], win[k, ::2])
            g_win[gid, 1::2] = np.maximum(g_win[gid, 1::2], win[k, 1::2])
        g_ax[gid] = gn.fan_in
        g_neurons[gid] += tiles[k].neurons
        g_fo[gid] += fo_prefix(k)[-1]
        g_use[gid] = max(g_neurons[gid] / limits.neurons, frac(gn.fan_in, limits.fan_in),
                         float(mem_use(g_neurons[gid], gn.fan_in, gn.synapse_bits)), frac(g_fo[gid], limits.fan_out))

    for i in small:
        if failed >= give_up:
            break
        if len(members[group_of[i]]) > 1:
            continue   # already holds another box: it stays where it is
        t, pre = tiles[i], fo_prefix(i)
        if room(i, t, pre) < t.c1 - t.c0:
            failed += count_passed
            continue   # not enough room around it by neurons and entries alone: no exact check needed
        area = (t.y1 - t.y0) * (t.x1 - t.x0)
        plan, used, c = [], set(), t.c0        # (core, part, its needs): the box's channels from c on still to place
        while c < t.c1 and len(plan) < max_parts:
            rest = Tile(c, t.c1, t.y0, t.y1, t.x0, t.x1)
            whole = next(((gid, gn) for gid in neighbours(i, rest.neurons, pre[-1] - pre[c - t.c0], emptiest=True,
                                                          used=used)
                          if (gn := fits(gid, rest, fan_in[i])) is not None), None)
            if whole is not None:
                plan.append((whole[0], rest, whole[1]))
                c = t.c1
                break
            if len(plan) + 1 >= max_parts or len(tiles) + len(plan) + 1 >= cap:
                break
            part = None
            for gid in neighbours(i, area, pre[c - t.c0 + 1] - pre[c - t.c0], emptiest=True, used=used):
                # the longest run of channels that fits there
                room_n = (limits.neurons - g_neurons[gid]) // area
                room_fo = np.searchsorted(pre, limits.fan_out - g_fo[gid] + pre[c - t.c0], side="right") - 1 - (c - t.c0)
                hi = int(min(t.c1 - c - 1, room_n, room_fo))
                if hi < 1 or (best := fits(gid, Tile(c, c + 1, t.y0, t.y1, t.x0, t.x1), fan_in[i])) is None:
                    continue                      # not one channel fits there
                lo = 1
                if hi > 1:                        # all that the neurons and entries allow (often: they bind)
                    gn = fits(gid, Tile(c, c + hi, t.y0, t.y1, t.x0, t.x1), fan_in[i])
                    lo, best, hi = (hi, gn, hi) if gn is not None else (lo, best, hi - 1)
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    gn = fits(gid, Tile(c, c + mid, t.y0, t.y1, t.x0, t.x1), fan_in[i])
                    if gn is not None:
                        lo, best = mid, gn
                    else:
                        hi = mid - 1
                part = (gid, Tile(c, c + lo, t.y0, t.y1, t.x0, t.x1), best)
                break
            if part is None:
                break
            plan.append(part)
            used.add(part[0])
            c = part[1].c1
        if c < t.c1:   # the box cannot leave its core whole: moving a part of it would only add output axons
            failed += 1
            continue
        if len(plan) > 1 and axon_cost > 0 and (len(plan) - 1) * fan_in[i] * axon_cost >= 1:
            # the parts' sources take an output-axon entry on every core they reach: the move must save more
            # source cores' worth of entries than it adds (a whole move never adds: the freed core had them all)
            added, exact = -fan_in[i], []
            for gid, part, got in plan:
                if got[1] is None:
                    got = with_box(gid, part)
                added += got[0].fan_in - sum(st[0].size for st in state_of(gid))
                exact.append((gid, part, got))
            if added * axon_cost >= 1:
                failed += 1
                continue
            plan = exact
        failed = 0
        del members[i]
        for n_part, (gid, part, gn) in enumerate(plan):
            if n_part == len(plan) - 1:
                k = i
                tiles[i] = part
            else:
                k = len(tiles)
                tiles.append(part)
                if win is not None:
                    win[k] = win[i]
                per_c.append(None)
                cell_of.append(cell_of[i])
                extra.setdefault(cell_of[i], []).append(k)
                for c in near_cells(i):       # the cells around it have one more box near them
                    near_boxes.pop(c, None)
                    near_room.pop(c, None)     # its core may lie further out: counted again
            per_c[k] = pre[part.c0 - t.c0:part.c1 - t.c0 + 1] - pre[part.c0 - t.c0]
            join(gid, k, gn)
    return tiles, sorted(members.values(), key=lambda m: min(m))
