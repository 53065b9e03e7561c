"""What ``snn2hw map`` prints and writes: a mapping's per-layer table, totals, lower bound and violations.

:func:`mapping_summary` turns a :class:`~snn2hw.simulators.mapping.MappingResult` into the JSON document
``{"cores", "chips", "system", "chip_mesh", "lower_bound_cores", "bound_ratio", "layers": [...],
"violations": [...], ...}`` (``system``: the profile's board of chips or null, ``chip_mesh``: its
``[chips_x, chips_y]``, ``[1, 1]`` without one);
:func:`format_mapping` renders it as text. ``utilisation`` is, per limit, the largest use over the layer's
cores as a fraction of the per-core limit (1.0: some core is full)."""
from __future__ import annotations

import numpy as np


def _tile_shape(tiles: list) -> str:
    """The largest tile as ``channels x rows x cols`` (a ``(F,)`` layer: its features)."""
    if not tiles:
        return "-"
    c0, c1, y0, y1, x0, x1 = max((t for _, t in tiles), key=lambda t: (t[1] - t[0]) * (t[3] - t[2]) * (t[5] - t[4]))
    return f"{c1 - c0}x{y1 - y0}x{x1 - x0}"


def mapping_summary(result, other=None) -> dict:
    """The JSON summary of ``result``; ``other``: the same network mapped with the profile's other synapse model
    (its cores and bound are added when they differ)."""
    t = result.totals
    layers = []
    for name, lp in result.placement.layers.items():
        b = result.bounds.get(name)
        til = result.tilings.get(name, {})
        layers.append({"layer": name, "shape": list(lp.shape) if lp.shape else [lp.neurons],
                       "neurons": lp.neurons, "cores": len(lp.cores),
                       "grid": list(til.get("grid", (1, 1))), "largest_tile": _tile_shape(lp.tiles),
                       "cores_of_several_boxes": int(til.get("cores_of_several_boxes", 0)),
                       "lower_bound_cores": b.cores if b else None, "bound_by": b.binding if b else None,
                       "relaxed": list(b.relaxed) if b else [],
                       "utilisation": {k: round(float(v), 4) for k, v in til.get("utilisation", {}).items()}})
    doc = {"profile": t["profile"], "synapse_model": t.get("synapse_model", t.get("memory_model")),
           "effort": t.get("effort"), "fits": result.fits, "cores": t["cores_used"],
           "cores_available": t["cores_available"],
           "chips": t["chips_needed"], "system": result.placement.system or None,
           "chip_mesh": [result.placement.chips_x, max(1, result.placement.chips_y)],
           "lower_bound_cores": t.get("lower_bound_cores"),
           "bound_ratio": t.get("bound_ratio"), "neurons": t["neurons"], "synapses": t["synapses"],
           "synapse_bits": t["synapse_bits"], "layers": layers,
           "violations": [v.to_dict() for v in result.violations]}
    if other is not None and other.totals["cores_used"] != t["cores_used"]:
        doc["other_synapse_model"] = {"synapse_model": other.totals.get("synapse_model"),
                                      "cores": other.totals["cores_used"],
                                      "lower_bound_cores": other.totals.get("lower_bound_cores"),
                                      "fits": other.fits, "violations": len(other.violations)}
    return doc


def _pct(u: dict, key: str) -> str:
    v = u.get(key)
    return "-" if v is None else f"{100 * v:.0f}%"


def format_mapping(doc: dict) -> str:
    """The summary as a text table: one row per layer, then the totals and every violation."""
    head = (f"{'layer':<26} {'shape':<14} {'cores':>6} {'bound':>6} {'bound by':<15} {'grid':>6} "
            f"{'largest tile':>12} {'neurons':>7} {'fan-in':>7} {'memory':>7} {'fan-out':>7}")
    rows = [head, "-" * len(head)]
    for lay in doc["layers"]:
        u = lay["utilisation"]
        rel = " *" if lay["relaxed"] else ""
        rows.append(f"{lay['layer'][:26]:<26} {'x'.join(map(str, lay['shape'])):<14} {lay['cores']:>6} "
                    f"{str(lay['lower_bound_cores']):>6} {str(lay['bound_by'] or '-'):<15} "
                    f"{'x'.join(map(str, lay['grid'])):>6} {lay['largest_tile']:>12} "
                    f"{_pct(u, 'neurons_per_core'):>7} {_pct(u, 'fan_in'):>7} {_pct(u, 'synapse_bits'):>7} "
                    f"{_pct(u, 'fan_out'):>7}{rel}")
    ratio, bound = doc.get("bound_ratio"), doc.get("lower_bound_cores")
    rows.append("")
    model = doc["synapse_model"]
    kind = f"{model} synapses" if model in ("expanded", "shared") else f"{model} memory model"
    rows.append(f"{doc['profile']} ({kind}): {doc['cores']:,} cores on {doc['chips']} "
                f"chip(s) of {doc['cores_available']:,}"
                + (f" ({doc['system']} system, {doc['chip_mesh'][0]} x {doc['chip_mesh'][1]} chip mesh)"
                   if doc.get("system") else "")
                + (f"; lower bound {bound:,} cores" if bound is not None else "")
                + (f" (mapping / bound = {ratio:.2f})" if ratio is not None else "")
                + f"; {'fits' if doc['fits'] else 'does not fit'}")
    merged = sum(lay.get("cores_of_several_boxes", 0) for lay in doc["layers"])
    if merged:
        rows.append(f"{merged:,} of the cores hold several tiles (a layer's leftover tiles merged with a neighbour's"
                    + (", merging effort fast)" if doc.get("effort") == "fast" else ")"))
    alt = doc.get("other_synapse_model")
    if alt:
        rows.append(f"with {alt['synapse_model']} synapses: {alt['cores']:,} cores (lower bound "
                    f"{alt['lower_bound_cores']:,})")
    if any(lay["relaxed"] for lay in doc["layers"]):
        rows.append("* a single neuron of this layer exceeds a per-core limit: it is mapped as if that limit "
                    "were lifted (see the violations)")
    rows.append("utilisation: the largest use of each per-core limit over the layer's cores")
    if doc["violations"]:
        rows.append(f"{len(doc['violations'])} violation(s):")
        for v in doc["violations"]:
            where = f"{v['layer']}: " if v.get("layer") else ""
            rows.append(f"  - [{v['rule']}] {where}{v['resource']} needs {_num(v['needed'])}, available "
                        f"{_num(v['available'])}. {v['suggestion']}")
    return "\n".join(rows)


def _num(x) -> str:
    x = float(x)
    return f"{int(x):,}" if np.isfinite(x) and x.is_integer() else f"{x:.4g}"
