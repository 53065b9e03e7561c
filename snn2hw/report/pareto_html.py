"""``pareto.html`` of a sweep: self-contained (inline SVG, no script, no plotting dependency).

Per profile: accuracy vs energy per sample and accuracy vs latency per input step, one point per completed
trial, coloured by method; trials dominated on that profile (or not fitting it) are grey; each point's
tooltip gives its trial and parameters. Then the table of the sweep's front (pareto.json's ``front``). A
figure the profile does not model (energy on ``speck``: null in pareto.json) is "n/a" and has no plot; it never
makes a trial dominate another.
"""
from __future__ import annotations

from html import escape

from .svg import PALETTE, _fmt


def _profile_front(trials: list, prof: str) -> set:
    from ..sweep import dominates
    pts = {}
    for t in trials:
        r = (t.get("result") or {}).get("profiles", {}).get(prof)
        if r and r.get("fits") is not False and r.get("int_accuracy") is not None:
            pts[t["number"]] = [r["int_accuracy"], r["energy_pj_per_sample"],  # None: not modelled, not compared
                                r["latency_ns_per_input_step"], r["cores"] or 0]
    return {n for n, v in pts.items() if not any(dominates(w, v) for m, w in pts.items() if m != n)}


def scatter(title: str, points: list, xlabel: str, colours: dict, width: int = 480, height: int = 320,
            baseline=None) -> str:
    """``points``: ``(x, y, method, on_front, tooltip)``; y is accuracy in [0, 1]."""
    left, right, top, bottom = 56, 16, 28, 44
    pw, ph = width - left - right, height - top - bottom
    points = [p for p in points if p[0] is not None and p[1] is not None]
    if baseline and (baseline[0] is None or baseline[1] is None):
        baseline = None
    xs = [p[0] for p in points] + ([baseline[0]] if baseline else [])
    ys = [p[1] for p in points] + ([baseline[1]] if baseline else [])
    if not xs:
        return f"<p>{escape(title)}: no values (no completed trial, or the profile gives no figure for it)</p>"
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 - x0 < 1e-12:
        x0, x1 = x0 * 0.9 - 1e-9, x1 * 1.1 + 1e-9
    if y1 - y0 < 1e-6:
        y0, y1 = y0 - 0.01, y1 + 0.01
    pad_x, pad_y = 0.05 * (x1 - x0), 0.05 * (y1 - y0)
    x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y

    def X(v):
        return left + pw * (v - x0) / (x1 - x0)

    def Y(v):
        return top + ph * (1 - (v - y0) / (y1 - y0))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
           f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for i in range(5):
        xv, yv = x0 + (x1 - x0) * i / 4, y0 + (y1 - y0) * i / 4
        out.append(f'<text x="{X(xv):.1f}" y="{top + ph + 14}" text-anchor="middle">{_fmt(xv)}</text>')
        out.append(f'<text x="{left - 4}" y="{Y(yv) + 4:.1f}" text-anchor="end">{100 * yv:.1f}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="12" y="{top + ph / 2}" transform="rotate(-90 12 {top + ph / 2})" '
               f'text-anchor="middle">integer accuracy (%)</text>')
    for x, y, method, on_front, tip in sorted(points, key=lambda p: p[3]):  # front drawn last (on top)
        fill = colours.get(method, "#333") if on_front else "#c8c8c8"
        out.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="{5 if on_front else 4}" fill="{fill}" '
                   f'stroke="{"#000" if on_front else "none"}" stroke-width="0.6"><title>{escape(tip)}</title>'
                   f'</circle>')
    if baseline:
        bx, by = X(baseline[0]), Y(baseline[1])
        out.append(f'<path d="M{bx - 5:.1f},{by:.1f}h10M{bx:.1f},{by - 5:.1f}v10" stroke="#000" stroke-width="2">'
                   f'<title>uncompressed model</title></path>')
    out.append("</svg>")
    return "".join(out)


def _ratio_text(e: dict) -> str:
    """A trial's global ratio and, where its method applies them, its per-layer ratios: '0.7 (sn0 0.52, sn1 0.9)'."""
    if e.get("ratio") is None:
        return ""
    lr = e.get("layer_ratios")
    return f"{e['ratio']:g}" + (" (" + ", ".join(f"{k} {v:g}" for k, v in lr.items()) + ")" if lr else "")


def pareto_html(doc: dict) -> str:
    cfg = doc["config"]
    trials = [t for t in doc["trials"] if t.get("result")]
    methods = sorted({t["effective"]["method"] for t in trials if t.get("effective")} | set(cfg.get("methods", [])))
    colours = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(methods)}
    base = doc.get("baseline") or {}
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>snn2hw sweep: "
             f"{escape(str(cfg['checkpoint']))}</title><style>body{{font-family:sans-serif;margin:1.5em}}"
             f"table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}"
             f"</style></head><body>",
             f"<h1>Sweep of {escape(str(cfg['checkpoint']))} on {escape(', '.join(cfg['profiles']))}</h1>",
             f"<p>data {escape(str(cfg['data']))}, {len(doc['trials'])} trial(s) of {cfg['trials']}, seed "
             f"{cfg['seed']}; {len(doc['front'])} on the front (feasible, non-dominated in accuracy, energy, "
             f"latency and cores on {escape(cfg['profiles'][0])}). Grey: dominated on that profile or not fitting "
             f"it; +: the uncompressed model.</p><p>"]
    parts += [f'<span style="color:{c}">&#9679;</span> {escape(m)} &nbsp; ' for m, c in colours.items()]
    parts.append("</p>")
    for prof in cfg["profiles"]:
        on = _profile_front(trials, prof)
        pe, pl = [], []
        for t in trials:
            r = t["result"]["profiles"].get(prof)
            if not r or r.get("int_accuracy") is None:
                continue
            tip = (f"trial {t['number']}: " + ", ".join(f"{k}={_ratio_text(t['effective']) if k == 'ratio' else v}"
                                                        for k, v in t["effective"].items()
                                                        if v is not None and k != "layer_ratios")
                   + f"; accuracy {r['int_accuracy']:.4f}, energy {_na(r['energy_pj_per_sample'], ' pJ')}, "
                     f"latency {_na(r['latency_ns_per_input_step'], ' ns')}, cores {r['cores']}, fits {r['fits']}")
            m = t["effective"]["method"]
            pe.append((r["energy_pj_per_sample"], r["int_accuracy"], m, t["number"] in on, tip))
            pl.append((r["latency_ns_per_input_step"], r["int_accuracy"], m, t["number"] in on, tip))
        b = (base.get("profiles") or {}).get(prof)
        parts.append(f"<h2>{escape(prof)}</h2><div>")
        parts.append(scatter(f"{prof}: accuracy vs energy", pe, "energy per sample (pJ)", colours,
                             baseline=(b["energy_pj_per_sample"], b["int_accuracy"]) if b else None))
        parts.append(scatter(f"{prof}: accuracy vs latency", pl, "latency per input step (ns)", colours,
                             baseline=(b["latency_ns_per_input_step"], b["int_accuracy"]) if b else None))
        parts.append("</div>")
    parts.append("<h2>The front</h2><table><tr><th>trial</th><th>method</th><th>ratio</th><th>bits</th>"
                 "<th>epochs</th><th>T</th><th>float acc</th>")
    parts += [f"<th>{escape(p)} int acc</th><th>{escape(p)} energy (pJ)</th><th>{escape(p)} latency/step (ns)</th>"
              f"<th>{escape(p)} cores</th>" for p in cfg["profiles"]]
    parts.append("<th>checkpoint</th></tr>")
    rows = [f"<tr><td>base</td><td>uncompressed</td><td></td><td></td><td></td><td></td>"
            f"<td>{_acc(base.get('float_accuracy'))}</td>"
            + "".join(_cells((base.get("profiles") or {}).get(p)) for p in cfg["profiles"])
            + f"<td>{escape(str(cfg['checkpoint']))}</td></tr>"] if base else []
    by_num = {t["number"]: t for t in trials}
    for n in doc["front"]:
        t = by_num[n]
        e, r = t["effective"], t["result"]
        rows.append(f"<tr><td>{n}</td><td>{escape(e['method'])}</td><td>{escape(_ratio_text(e))}"
                    f"</td><td>{'' if e['bits'] is None else e['bits']}</td><td>{e['epochs']}</td>"
                    f"<td>{e['timesteps']}</td><td>{_acc(r.get('float_accuracy'))}</td>"
                    + "".join(_cells(r["profiles"].get(p)) for p in cfg["profiles"])
                    + f"<td>{escape(r['checkpoint'])}</td></tr>")
    parts += rows
    parts.append("</table></body></html>\n")
    return "".join(parts)


def _na(v, unit: str = "") -> str:
    """A figure, or "n/a" where the profile does not model it (null in pareto.json)."""
    return "n/a" if v is None else _fmt(v) + unit


def _acc(v) -> str:
    return "" if v is None else f"{100 * v:.2f}"


def _cells(r) -> str:
    if not r:
        return "<td></td>" * 4
    return (f"<td>{_acc(r['int_accuracy'])}</td><td>{_na(r['energy_pj_per_sample'])}</td>"
            f"<td>{_na(r['latency_ns_per_input_step'])}</td>"
            f"<td>{'' if r['cores'] is None else r['cores']}{'' if r['fits'] is not False else ' (no fit)'}</td>")
