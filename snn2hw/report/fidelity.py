"""The fidelity gate: is the integer network a faithful stand-in for the float one on a profile?

Two checks, both plain functions the CLI commands call (``convert``, ``export``, ``simulate``):

* :func:`unrealisable_neurons`: neurons whose model the profile's chip cannot realise
  (``semantics.neuron_models`` in the profile; e.g. TrueNorth has only a constant, linear leak, so a
  leaky LIF/CUBA neuron with a multiplicative decay or a synaptic current has no counterpart). Each
  finding names the layer, its model and the closest realisable model.
* :func:`accuracy_drops`: profiles whose integer accuracy falls more than ``max_drop`` percentage points
  below the float accuracy on labelled data.

:func:`gate_message` joins both into one message (None when the gate passes); the caller decides what to
write first (reports are always written before the gate fails).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_MAX_DROP = 2.0  # percentage points
NOT_APPLIED = ("fidelity gate not applied: no labelled data (pass --data digits or a labelled .npz to compare "
               "float and integer accuracy)")


@dataclass
class Unrealisable:
    layer: str
    model: str
    profile: str
    closest: str
    why: str

    def describe(self) -> str:
        return (f"{self.profile}: layer '{self.layer}' is a {self.model} neuron ({self.why}), which "
                f"{self.profile} cannot realise; closest realisable model: {self.closest}")


def _neuron_kind(node) -> tuple[str, str]:
    """``(kind, why)``: ``if`` (no leak, no current), ``lif`` (multiplicative leak) or ``cuba`` (current)."""
    import numpy as np
    beta = np.asarray(getattr(node, "beta", 1.0), dtype=float)
    alpha = np.asarray(getattr(node, "alpha", 0.0), dtype=float)
    if getattr(node, "model", "lif") == "cuba" and np.any(alpha != 0):
        return "cuba", f"synaptic current decay alpha = {float(alpha.max()):g}"
    if np.any(beta != 1):
        return "lif", f"membrane decay beta = {float(beta.min()):g}"
    return "if", "no leak"


def unrealisable_neurons(graph, profile) -> list[Unrealisable]:
    """Neuron layers of ``graph`` (float or integer) whose model ``profile`` (a Profile) cannot realise."""
    allowed = getattr(profile.semantics, "neuron_models", None)
    if not allowed:
        return []
    out = []
    for name, node in graph.nodes.items():
        if type(node).__name__ != "Neuron":
            continue
        kind, why = _neuron_kind(node)
        if kind in allowed:
            continue
        closest = ("if (integrate-and-fire; a constant leak through the bias) — retrain with beta = 1"
                   if "if" in allowed else allowed[0])
        out.append(Unrealisable(name, kind, profile.name, closest, why))
    return out


@dataclass
class AccuracyDrop:
    profile: str
    float_acc: float
    int_acc: float

    @property
    def drop_points(self) -> float:
        return 100.0 * (self.float_acc - self.int_acc)

    def describe(self) -> str:
        return (f"{self.profile}: integer accuracy {self.int_acc:.4f} vs float {self.float_acc:.4f} "
                f"(drop {self.drop_points:.1f} points)")


def accuracy_drops(float_acc, int_accs: dict, max_drop: float = DEFAULT_MAX_DROP) -> list[AccuracyDrop]:
    """``int_accs``: profile -> integer accuracy; those more than ``max_drop`` points below ``float_acc``."""
    if float_acc is None:
        return []
    return [AccuracyDrop(p, float(float_acc), float(a)) for p, a in int_accs.items()
            if a is not None and 100.0 * (float(float_acc) - float(a)) > max_drop + 1e-9]


def report_accuracies(report: dict) -> tuple:
    """``(float accuracy or None, {profile: int accuracy})`` from a report's ``accuracy`` block."""
    acc = report.get("accuracy") or {}
    ints = {k[len("int ("):-1]: v for k, v in acc.items() if k.startswith("int (") and k.endswith(")")}
    return acc.get("float"), ints


def measure(graph_float, graph_int, x, labels, batch_size=None) -> tuple[float, float]:
    """Float and integer accuracy of the two graphs on ``x`` ``[T, B, ...]`` with ``labels`` (reference simulator)."""
    from snn2hw.simulators.reference import simulate
    f = simulate(graph_float, x, mode="float", batch_size=batch_size).accuracy(labels)
    i = simulate(graph_int, x, mode="int", batch_size=batch_size).accuracy(labels)
    return float(f), float(i)


def gate_message(drops, unrealisable, max_drop: float, allow_approximation: bool, samples=None) -> str | None:
    """The error text when the gate fails (None when it passes). Unrealisable neurons fail the gate unless
    ``allow_approximation``; accuracy drops always do. ``samples``: how many labelled samples were measured
    (when one sample is worth more than ``max_drop`` points, the message says so)."""
    parts = []
    if drops:
        parts.append(f"FIDELITY GATE FAILED: integer accuracy falls more than {max_drop:g} points below float "
                     f"(--max-accuracy-drop):\n" + "\n".join("  " + d.describe() for d in drops))
        if samples and 100.0 / samples > max_drop:
            need = math.ceil(100.0 / max_drop) if max_drop > 0 else None
            parts.append(f"  (measured on {samples} samples: one sample is {100.0 / samples:.1f} points"
                         + (f"; use at least {need} samples for a finer measurement)" if need else ")"))
    if unrealisable and not allow_approximation:
        parts.append("neuron model not realisable on the profile (pass --allow-approximation to accept the "
                     "approximation):\n" + "\n".join("  " + u.describe() for u in unrealisable))
    return "\n".join(parts) or None


def verdict(profile, float_acc, int_acc, unrealisable, max_drop: float = DEFAULT_MAX_DROP,
            allow_approximation: bool = False) -> dict:
    """The gate's verdict for one profile as a JSON-ready dict (``runs[].fidelity`` in report.json,
    ``snn2hw/report/SCHEMA.md``): the two accuracies (None without labels / for an integer input graph), the
    drop in points, the limit, the neuron models the profile cannot realise (with the layer) and ``passed``.

    ``passed`` is what the CLI gate decides: false when the drop exceeds ``max_drop`` or a neuron model is
    unrealisable without ``allow_approximation``; ``accuracy_checked`` says whether the accuracy part could be
    measured at all (without it only the neuron models are checked)."""
    checked = float_acc is not None and int_acc is not None
    drop = 100.0 * (float(float_acc) - float(int_acc)) if checked else None
    drops = accuracy_drops(float_acc, {profile: int_acc}, max_drop) if checked else []
    unreal = [u for u in unrealisable if u.profile == profile]
    return {"float_accuracy": None if float_acc is None else float(float_acc),
            "int_accuracy": None if int_acc is None else float(int_acc),
            "drop_points": drop, "max_drop_points": float(max_drop), "accuracy_checked": checked,
            "unrealisable_neurons": [{"layer": u.layer, "model": u.model, "why": u.why, "closest": u.closest}
                                     for u in unreal],
            "approximation_allowed": bool(allow_approximation),
            "passed": not drops and (not unreal or bool(allow_approximation))}
