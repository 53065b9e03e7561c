"""Compiled counting for the partitioner: how many of a tile's neurons each source neuron of a conv path
reaches, and what those counts cost (axons, sparse and dense synapse bits) in the expanded model; the fan-out
and destination cores that the tiles of a consumer give its source."""
from __future__ import annotations

import numpy as np

from snn2hw.simulators.timing import njit


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



def _run(mem) -> int:
    """Synapses per run of the memory model (nengo-loihi: 64)."""
    return int(getattr(mem, "run", 64))


def axon_bit_table(n: int, bits_per_synapse: int, mem) -> np.ndarray:
    """``table[k]``: :func:`axon_bits_one` of an axon with ``k`` synapses, ``k = 0..n`` (``n`` rounded up to whole
    runs, so that a longer list is whole copies of the last entry plus an entry: ``shared_synapses._table``)."""
    run = _run(mem)
    n = -(-max(int(n), 1) // run) * run
    return np.array([axon_bits_one(k, bits_per_synapse, mem.header_bits, mem.word_bits, run) for k in range(n + 1)],
                    dtype=np.int64)


@njit(cache=True)
def conv_tile_source_counts(cum, c0, c1, y0, y1, x0, x1, sy, sx, py, px, H, W, valid, all_valid):
    """``(source neurons, sorted, C-major flat; how many of the tile's neurons each reaches)`` of a conv path, both
    32-bit: :func:`conv_window_counts` without the window's zeros."""
    counts, ry0, rx0 = conv_window_counts(cum, c0, c1, y0, y1, x0, x1, sy, sx, py, px, H, W, valid, all_valid)
    cin, rows, cols = counts.shape
    n = 0
    for v in counts.ravel():
        if v > 0:
            n += 1
    idx = np.empty(n, np.int32)
    cnt = np.empty(n, np.int32)
    k = 0
    for ci in range(cin):
        for r in range(rows):
            for c in range(cols):
                v = counts[ci, r, c]
                if v > 0:
                    idx[k] = (ci * H + r + ry0) * W + c + rx0
                    cnt[k] = v
                    k += 1
    return idx, cnt


@njit(cache=True)
def _mark_sources(cum, tt, sy, sx, py, px, H, W, valid, all_valid, key, stamp, tag, count):
    """Add one to ``count[key[q]]`` for every source neuron ``q`` reaching tile ``tt``, once per ``key[q]`` (``key``:
    ``None`` for the neuron itself): ``stamp`` marks what this tile (``tag``) has counted already. Only the window's
    counts are made per tile, no index arrays."""
    counts, ry0, rx0 = conv_window_counts(cum, tt[0], tt[1], tt[2], tt[3], tt[4], tt[5], sy, sx, py, px, H, W,
                                          valid, all_valid)
    cin, rows, cols = counts.shape
    for ci in range(cin):
        for r in range(rows):
            for c in range(cols):
                if counts[ci, r, c] > 0:
                    q = (ci * H + r + ry0) * W + c + rx0
                    k = q if key is None else key[q]
                    if stamp[k] != tag:
                        stamp[k] = tag
                        count[k] += 1


@njit(cache=True)
def conv_tiles_fan_out(cum, tiles, sy, sx, py, px, H, W, valid, all_valid, fan_out):
    """Add one to ``fan_out`` (per source neuron, C-major) for every tile each source neuron reaches."""
    stamp = np.full(fan_out.size, -1, np.int64)
    for t in range(tiles.shape[0]):
        _mark_sources(cum, tiles[t], sy, sx, py, px, H, W, valid, all_valid, None, stamp, t, fan_out)


@njit(cache=True)
def conv_tiles_destinations(cum, tiles, sy, sx, py, px, H, W, valid, all_valid, tile_of, n_source_tiles):
    """Per source tile (``tile_of``: the source tile of each source neuron), how many of ``tiles`` it reaches."""
    dest = np.zeros(n_source_tiles, np.int64)
    stamp = np.full(n_source_tiles, -1, np.int64)
    for t in range(tiles.shape[0]):
        _mark_sources(cum, tiles[t], sy, sx, py, px, H, W, valid, all_valid, tile_of, stamp, t, dest)
    return dest
