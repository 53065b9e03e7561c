"""Small self-contained SVG bar charts for the HTML report (no plotting dependency)."""
from __future__ import annotations

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
