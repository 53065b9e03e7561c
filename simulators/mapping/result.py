"""What a mapping returns: the placement, every violation, per-core usage, totals, bounds."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from snn2hw.simulators.design_rules import Needs
from snn2hw.simulators.placement import Placement


@dataclass
class MappingResult:
    """``fits``: no violation. ``usage``: one :class:`CoreUsage` per core used, in core order.
    ``limits``: the per-core limits (``None``: no limit). ``totals``: cores, chips, neurons, synapses, bits,
    the lower bound. ``bounds``: per layer :class:`~snn2hw.simulators.mapping.lower_bound.LayerBound`; ``tilings``:
    per layer its grid and the largest use of each limit (synapse-list profiles)."""

    placement: Placement
    fits: bool
    violations: list
    usage: list
    totals: dict
    limits: dict = field(default_factory=dict)
    needs: Optional[Needs] = None
    bounds: dict = field(default_factory=dict)
    tilings: dict = field(default_factory=dict)

    def table(self) -> str:
        """The per-core usage table as text (usage / limit)."""
        if self.needs is not None and self.needs.memory_model == "shared_kernel":
            rows = [f"{'core':>5} {'layer':<16} {'kernel entries':>17} {'neuron entries':>17} {'bias':>11} "
                    f"{'dest':>5}"]
            for u in self.usage:
                rows.append(f"{u.core:>5} {u.layer:<16} {u.kernel_entries:>8,}/{u.kernel_limit:<8,} "
                            f"{u.neuron_entries:>8,}/{u.neuron_limit:<8,} {u.bias_entries:>5,}/{u.bias_limit:<5,} "
                            f"{u.destination_cores:>5}")
            return "\n".join(rows)

        def lim(k):
            v = self.limits.get(k)
            return "-" if v is None else f"{v:,}"
        rows = [f"{'core':>5} {'layer':<16} {'neurons':>14} {'synapse bits':>24} {'fan-in':>14} {'fan-out':>14}"]
        for u in self.usage:
            rows.append(f"{u.core:>5} {u.layer:<16} {u.neurons:>6}/{lim('neurons_per_core'):>7} "
                        f"{u.synapse_bits:>11,}/{lim('synapse_memory_bits_per_core'):>12} "
                        f"{u.fan_in:>6}/{lim('fan_in_axons_per_core'):>7} {u.fan_out:>6}/{lim('fan_out_axons_per_core'):>7}")
        return "\n".join(rows)

    def summary(self) -> str:
        t = self.totals
        head = (f"{t['profile']}: {t['cores_used']} cores used of {t['cores_available']} "
                f"({'fits' if self.fits else 'does not fit'}), {t['neurons']:,} neurons, "
                f"{t['synapses']:,} stored synapses, {t['synapse_bits']:,} synapse bits")
        return "\n".join([head] + [f"  - {v}" for v in self.violations])

    def to_dict(self) -> dict:
        return {"fits": self.fits, "totals": dict(self.totals), "limits": dict(self.limits),
                "violations": [v.to_dict() for v in self.violations],
                "bounds": {k: b.to_dict() for k, b in self.bounds.items()},
                "tilings": {k: {**v, "grid": list(v["grid"]), "utilisation": dict(v["utilisation"])}
                            for k, v in self.tilings.items()},
                "usage": [u.to_dict() for u in self.usage], "placement": self.placement.to_dict()}

