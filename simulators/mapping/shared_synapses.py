"""The shared synapse model: a conv layer's weights stored once per pattern, population axons per source pixel.

Loihi's compiler for deep SNNs, NxTF (Rueckauer et al., ACM JETC 2022, arXiv 2101.04261),
"compress[es] models by exploiting Loihi's weight sharing features"; nengo-loihi does the
same for its Conv2D transforms (``Synapse.set_population_weights``: ``axon_to_weight_map``,
per-axon compartment offsets, ``pop_type`` 16/32). The model, as those two implement it:

* **Population axons.** A source pixel ``(y, x)`` of a conv path reaches a core through one
  input axon; the spike's *atom* is its channel. A core's fan-in is the number of source
  pixels whose receptive taps reach its tile (not pixels x channels).
* **Shared weight sets.** The synapse list of a source pixel is indexed by atom and lists
  the weights from each input channel to the tile's neurons. Pixels whose taps land on the
  tile in the same pattern (the same kernel rows ``R`` and columns ``C`` reach the box) have
  the same list up to a compartment offset, and the list is stored once. A set with pattern
  ``R x C`` on a tile of ``tc`` channels holds ``e = sum over input channels and taps in R x C``
  of the nonzero weights (sparse: ``e`` synapses of weight + index bits) or
  ``Cin x |R| x |C| x tc`` weights (dense); both in runs of ``run`` synapses with a header,
  rounded to words, as in the expanded model; a core uses one format per synapse node.
* **Output axons.** A pop32 axon takes 2 output-axon entries per destination core
  (nengo-loihi's ``pop_type`` 32, NxTF's axon cost); a source core sends each of its pixels
  once to each destination core whatever its channels: its output-axon entries are
  ``2 x sum over its pixels of the destination cores of that pixel``.

Not modelled: the 8-bit compartment-offset field that makes nengo-loihi store redundant
copies (NxTF interleaves compartments to avoid them); dense (``(F,)``) layers keep
discrete axons and expanded synapses, as both compilers do.
"""
from __future__ import annotations

import numpy as np

from snn2hw.simulators.timing import njit

#: output-axon entries a population (pop32) axon takes per destination core (nengo-loihi pop_type 32)
POP_AXON_ENTRIES = 2


@njit(cache=True)
def _masks(lo, hi, s, p, K, n0, n1, size):
    """Per source coordinate ``v`` in ``[n0, n1)``: the bitmask of kernel offsets ``i < K`` with
    ``(v + p - i) % s == 0`` and ``lo <= (v + p - i) // s < hi`` (the taps through which ``v`` reaches the box)."""
    out = np.zeros(n1 - n0, np.int64)
    for v in range(n0, n1):
        m = 0
        for i in range(K):
            q = v + p - i
            if q >= 0 and q % s == 0 and lo <= q // s < hi:
                m |= 1 << i
        out[v - n0] = m
    return out


@njit(cache=True)
def _popcount(m):
    c = 0
    while m:
        m &= m - 1
        c += 1
    return c


@njit(cache=True)
def shared_tile_stats(cum, c0, c1, y0, y1, x0, x1, sy, sx, py, px, H, W, valid, all_valid, sparse_table,
                      dense_table):
    """``(axons, sparse bits, dense bits)`` of a conv path on one tile under the shared model: axons = source
    pixels reaching the tile; each distinct (row taps, column taps) pattern stores its weight set once."""
    cin, KH, KW = cum.shape[1], cum.shape[2], cum.shape[3]
    tc = c1 - c0
    ry0 = max(0, sy * y0 - py)
    ry1 = min(H, sy * (y1 - 1) - py + KH)
    rx0 = max(0, sx * x0 - px)
    rx1 = min(W, sx * (x1 - 1) - px + KW)
    if ry1 <= ry0 or rx1 <= rx0:
        return 0, 0, 0
    rm = _masks(y0, y1, sy, py, KH, ry0, ry1, H)
    cm = _masks(x0, x1, sx, px, KW, rx0, rx1, W)
    ks = np.zeros((KH, KW), np.int64)          # nonzero weights per tap, summed over input channels
    for ci in range(cin):
        for i in range(KH):
            for j in range(KW):
                ks[i, j] += cum[c1, ci, i, j] - cum[c0, ci, i, j]
    # distinct row / column patterns
    ur = np.unique(rm)
    uc = np.unique(cm)
    seen = np.zeros((ur.size, uc.size), np.bool_)
    axons = 0
    for a in range(ry1 - ry0):
        ia = np.searchsorted(ur, rm[a])
        for b in range(rx1 - rx0):
            if not (all_valid or valid[ry0 + a, rx0 + b]):
                continue
            reach = 0
            for i in range(KH):
                if (rm[a] >> i) & 1:
                    for j in range(KW):
                        if (cm[b] >> j) & 1:
                            reach += ks[i, j]
            if reach == 0:
                continue
            axons += 1
            seen[ia, np.searchsorted(uc, cm[b])] = True
    sparse = 0
    dense = 0
    for ia in range(ur.size):
        for ib in range(uc.size):
            if not seen[ia, ib]:
                continue
            e = 0
            for i in range(KH):
                if (ur[ia] >> i) & 1:
                    for j in range(KW):
                        if (uc[ib] >> j) & 1:
                            e += ks[i, j]
            sparse += _table(sparse_table, e)
            dense += _table(dense_table, cin * _popcount(ur[ia]) * _popcount(uc[ib]) * tc)
    return axons, sparse, dense


@njit(cache=True)
def _table(table, n):
    """``table[n]`` for an axon-bits table, extended past its end by whole runs (the table's last entry is a
    whole number of runs long: see :func:`~snn2hw.simulators.mapping.tile_counts.axon_bit_table`)."""
    last = table.size - 1
    if n <= last:
        return table[n]
    return table[last] * (n // last) + table[n % last]


@njit(cache=True)
def shared_tiles_stats(cum, tiles, sy, sx, py, px, H, W, valid, all_valid, sparse_table, dense_table):
    """:func:`shared_tile_stats` of every tile of ``tiles [n, 6]``, as ``[n, 3]``."""
    out = np.zeros((tiles.shape[0], 3), np.int64)
    for t in range(tiles.shape[0]):
        tt = tiles[t]
        a, s, d = shared_tile_stats(cum, tt[0], tt[1], tt[2], tt[3], tt[4], tt[5], sy, sx, py, px, H, W, valid,
                                    all_valid, sparse_table, dense_table)
        out[t, 0], out[t, 1], out[t, 2] = a, s, d
    return out


@njit(cache=True)
def _reached_pixels(cum, tt, sy, sx, py, px, H, W, valid, all_valid, out):
    """Mark in ``out [H * W]`` (set to the tile's stamp ``tt[6]``) the source pixels reaching tile ``tt``."""
    cin, KH, KW = cum.shape[1], cum.shape[2], cum.shape[3]
    ks = np.zeros((KH, KW), np.int64)
    for ci in range(cin):
        for i in range(KH):
            for j in range(KW):
                ks[i, j] += cum[tt[1], ci, i, j] - cum[tt[0], ci, i, j]
    n = 0
    for i in range(KH):
        for j in range(KW):
            if ks[i, j] == 0:
                continue
            for yo in range(tt[2], tt[3]):
                y = sy * yo + i - py
                if y < 0 or y >= H:
                    continue
                for xo in range(tt[4], tt[5]):
                    x = sx * xo + j - px
                    if x < 0 or x >= W or not (all_valid or valid[y, x]):
                        continue
                    if out[y * W + x] != tt[6]:
                        out[y * W + x] = tt[6]
                        n += 1
    return n


@njit(cache=True)
def _pixels_of_tiles(cum, tiles, sy, sx, py, px, H, W, valid, all_valid):
    """``(ptr, pixels)``: the source pixels reaching each tile, tile ``t``'s in ``pixels[ptr[t]:ptr[t + 1]]``."""
    stamp = np.full(H * W, -1, np.int64)
    tt = np.empty(7, np.int64)
    ptr = np.zeros(tiles.shape[0] + 1, np.int64)
    out = []
    for t in range(tiles.shape[0]):
        tt[:6] = tiles[t]
        tt[6] = t
        _reached_pixels(cum, tt, sy, sx, py, px, H, W, valid, all_valid, stamp)
        for q in range(H * W):
            if stamp[q] == t:
                out.append(q)
        ptr[t + 1] = len(out)
    pixels = np.empty(len(out), np.int64)
    for k in range(len(out)):
        pixels[k] = out[k]
    return ptr, pixels


@njit(cache=True)
def shared_tiles_pixel_fan_out(cum, tiles, sy, sx, py, px, H, W, valid, all_valid, pixel_fan_out):
    """Add one to ``pixel_fan_out [H * W]`` for every tile each source pixel reaches."""
    _, pixels = _pixels_of_tiles(cum, tiles, sy, sx, py, px, H, W, valid, all_valid)
    for q in pixels:
        pixel_fan_out[q] += 1


@njit(cache=True)
def shared_tiles_destinations(cum, tiles, sy, sx, py, px, H, W, valid, all_valid, pix_lo, pix_hi, n_source_tiles):
    """Per source tile, how many of ``tiles`` it reaches: a source tile is reached through any of its pixels
    (``pix_lo[q] .. pix_hi[q]``: the source tiles holding pixel ``q``, contiguous)."""
    ptr, pixels = _pixels_of_tiles(cum, tiles, sy, sx, py, px, H, W, valid, all_valid)
    dest = np.zeros(n_source_tiles, np.int64)
    seen = np.full(n_source_tiles, -1, np.int64)
    for t in range(tiles.shape[0]):
        for k in range(ptr[t], ptr[t + 1]):
            q = pixels[k]
            for st in range(pix_lo[q], pix_hi[q]):
                if seen[st] != t:
                    seen[st] = t
                    dest[st] += 1
    return dest
