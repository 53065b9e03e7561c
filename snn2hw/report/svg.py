"""Small self-contained SVG bar charts for the HTML report (no plotting dependency)."""
from __future__ import annotations

import math
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-2:
        return f"{v:.2e}"
    return f"{v:.3g}"


def bar_chart(title: str, labels: list, series: dict, unit: str, width: int = 640, bar_h: int = 18) -> str:
    """Horizontal grouped bars: one group per label, one bar per series (name -> values)."""
    names = list(series)
    n = len(labels)
    vmax = max([abs(float(v)) for vals in series.values() for v in vals if v is not None] + [1e-300])
    left, right = 150, 90
    group_h = bar_h * len(names) + 8
    height = 40 + n * group_h + 20 * len(names)
    plot_w = width - left - right
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
           f'<text x="4" y="16" font-weight="bold">{escape(title)} ({escape(unit)})</text>']
    for i, lab in enumerate(labels):
        y0 = 28 + i * group_h
        out.append(f'<text x="{left - 6}" y="{y0 + group_h / 2 + 4:.1f}" text-anchor="end">{escape(str(lab))}</text>')
        for j, name in enumerate(names):
            v = series[name][i]
            y = y0 + j * bar_h
            if v is None:
                out.append(f'<text x="{left + 4}" y="{y + bar_h - 5}" fill="#888">n/a</text>')
                continue
            w = max(0.0, plot_w * abs(float(v)) / vmax)
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 3}" '
                       f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(name)}: {_fmt(float(v))} {escape(unit)}'
                       f'</title></rect>')
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 5}">{_fmt(float(v))}</text>')
    if len(names) > 1:
        ly = 28 + n * group_h + 4
        for j, name in enumerate(names):
            out.append(f'<rect x="{left}" y="{ly + 20 * j}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
                       f'<text x="{left + 18}" y="{ly + 20 * j + 11}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def _colour(i: int) -> str:
    """The palette, then evenly spread hues for more layers than it has."""
    if i < len(PALETTE):
        return PALETTE[i]
    return f"hsl({(i * 137) % 360},55%,55%)"


def core_map(title: str, cores: list, width: int, height: int, cores_per_tile: int, max_chips: int = 24) -> str:
    """Cores coloured by layer on the chip mesh, one panel per chip. ``cores``: ``(core id, layer)`` pairs; core
    ``c`` is on chip ``c // (width x height x cores_per_tile)``, tile ``(c mod that) // cores_per_tile`` at
    ``(tile % width, tile // width)``; a tile's cores fill a small square grid. At most ``max_chips`` panels are
    drawn (the title says how many there are)."""
    per_chip = width * height * cores_per_tile
    layers = list(dict.fromkeys(layer for _, layer in cores))
    colour = {layer: _colour(i) for i, layer in enumerate(layers)}
    chips = sorted({c // per_chip for c, _ in cores})
    shown = chips[:max_chips]
    sub = math.ceil(math.sqrt(cores_per_tile))
    cell = max(3, min(10, 48 // max(1, sub)))
    tile = sub * cell + 2
    pw, ph = width * tile + 8, height * tile + 22
    cols = max(1, min(len(shown), 900 // pw))
    rows = math.ceil(len(shown) / cols)
    legend_h = 18 * math.ceil(len(layers) / 4)
    total_w, total_h = max(cols * pw, 640), 28 + rows * ph + legend_h + 8
    more = f"; chips {shown[0]}-{shown[-1]} of {len(chips)} shown" if len(shown) < len(chips) else ""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" role="img" '
           f'aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
           f'<text x="4" y="16" font-weight="bold">{escape(title)} ({len(cores)} cores on {len(chips)} '
           f'chip(s){more})</text>']
    panel = {chip: i for i, chip in enumerate(shown)}
    for chip in shown:
        i = panel[chip]
        x0, y0 = (i % cols) * pw + 4, 28 + (i // cols) * ph
        out.append(f'<text x="{x0}" y="{y0 + 10}">chip {chip}</text>')
        out.append(f'<rect x="{x0}" y="{y0 + 14}" width="{width * tile}" height="{height * tile}" fill="#f4f4f4" '
                   f'stroke="#bbb"/>')
    for c, layer in cores:
        chip = c // per_chip
        if chip not in panel:
            continue
        i = panel[chip]
        x0, y0 = (i % cols) * pw + 4, 28 + (i // cols) * ph + 14
        t, k = divmod(c % per_chip, cores_per_tile)
        tx, ty = t % width, t // width
        x = x0 + tx * tile + 1 + (k % sub) * cell
        y = y0 + ty * tile + 1 + (k // sub) * cell
        out.append(f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{colour[layer]}">'
                   f'<title>core {c}: {escape(layer)}</title></rect>')
    ly = 28 + rows * ph + 4
    for j, layer in enumerate(layers):
        lx, lyy = 4 + (j % 4) * 160, ly + (j // 4) * 18
        out.append(f'<rect x="{lx}" y="{lyy}" width="10" height="10" fill="{colour[layer]}"/>'
                   f'<text x="{lx + 14}" y="{lyy + 9}">{escape(layer[:22])}</text>')
    out.append("</svg>")
    return "".join(out)
