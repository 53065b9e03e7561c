"""Design rules: does a mapped network fit a hardware profile? (rockpool-style DRC, sinabs-style limits)

Each rule is a small named function ``rule(graph, profile, needs) -> list[Violation]``.
The rules read every number from the profile (``profile.capacity`` and
``profile.formats``); a limit that is ``None`` in the profile is not checked.
:func:`check_design_rules` runs all rules of :data:`DESIGN_RULES` and returns
every violation at once; it never stops at the first one.

``needs`` is a :class:`Needs`: what each population needs (computed by
:func:`snn2hw.simulators.mapping.layer_needs`, including what its single
worst-case neuron needs, which no placement can shrink) and, once placed, the
per-core usage table. Rules can be tested on a hand-made ``Needs``.

A :class:`Violation` names the rule, the layer, the resource, what is needed
vs what is available, and a suggestion computed from the numbers (a pruning
ratio, a bit width, a number of chips), never a generic hint.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional


@dataclass
class Violation:
    """One reason a network does not fit. ``needed`` and ``available`` are in units of ``resource``."""

    rule: str
    layer: Optional[str]
    resource: str
    needed: float
    available: float
    suggestion: str
    detail: str = ""

    def __str__(self):
        where = f"{self.layer}: " if self.layer else ""
        d = f" ({self.detail})" if self.detail else ""
        return (f"[{self.rule}] {where}{self.resource} needs {_fmt(self.needed)}, "
                f"available {_fmt(self.available)}{d}. Suggestion: {self.suggestion}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LayerNeeds:
    """What a population (a ``Neuron`` node) needs, whatever the placement.

    ``one_*``: the needs of its worst single neuron (the one with the most
    synapses), the smallest unit a core can hold; if they exceed a core, no
    placement fits. ``one_channels`` / ``one_positions``: for a conv input, the
    worst neuron's used input channels and receptive-field positions (so a
    pruning suggestion can speak of channels); ``None`` for a dense input.
    """

    layer: str
    neurons: int
    synapses: list = field(default_factory=list)       # synapse node names into the layer
    sources: list = field(default_factory=list)        # source populations
    weight_bits: int = 0                               # bits the integer weights need (signed)
    quantized: bool = True
    kernel: Optional[tuple] = None                     # largest (kh, kw) as the chip sees it (Dense on a map: the map)
    one_fan_in: int = 0
    one_synapses: int = 0
    one_synapse_bits: int = 0
    one_fan_out: int = 0                               # destination cores of its worst neuron (after placement)
    one_channels: Optional[int] = None
    one_positions: Optional[int] = None
    bits_per_axon_one: int = 0                         # memory of one axon with one synapse (for suggestions)
    bits_per_axon_one_by_wbits: dict = field(default_factory=dict)  # weight bits -> that memory


@dataclass
class CoreUsage:
    """One core of the placement: what it holds and uses."""

    core: int
    layer: str
    start: int
    stop: int
    synapse_bits: int = 0
    fan_in: int = 0
    fan_out: int = 0
    destination_cores: int = 0
    storage: dict = field(default_factory=dict)        # synapse node -> 'sparse' | 'dense'

    @property
    def neurons(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict:
        d = asdict(self)
        d["neurons"] = self.neurons
        return d


@dataclass
class Needs:
    layers: dict = field(default_factory=dict)         # layer -> LayerNeeds
    cores: list = field(default_factory=list)          # CoreUsage, after placement
    cores_needed: int = 0


def _fmt(x) -> str:
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.4g}"
    return f"{int(x):,}"


def _limit(profile, name) -> Optional[int]:
    cap = profile.capacity
    if cap is None:
        return None
    f = getattr(cap, name, None)
    return None if f is None else int(f.value)


def _over_cores(needs: Needs, layer: str, attr: str, limit: int) -> list:
    return [c for c in needs.cores if c.layer == layer and getattr(c, attr) > limit]


# ---------------------------------------------------------------- rules
def check_neurons_per_core(graph, profile, needs: Needs) -> list:
    """Every core holds at most ``neurons_per_core`` neurons."""
    lim = _limit(profile, "neurons_per_core")
    if lim is None:
        return []
    out = []
    for name in needs.layers:
        bad = _over_cores(needs, name, "neurons", lim)
        if bad:
            worst = max(c.neurons for c in bad)
            out.append(Violation("check_neurons_per_core", name, "neurons per core", worst, lim,
                                 f"split the layer over at least {math.ceil(worst / lim)} cores per overfull core",
                                 f"{len(bad)} core(s) over the limit"))
    return out


def check_fan_in(graph, profile, needs: Needs) -> list:
    """Every core receives from at most ``fan_in_axons_per_core`` distinct source neurons."""
    lim = _limit(profile, "fan_in_axons_per_core")
    if lim is None:
        return []
    out = []
    for name, ln in needs.layers.items():
        if ln.one_fan_in > lim:
            if ln.one_channels:
                pos = max(1, ln.one_positions or 1)
                keep = max(0, lim // pos)
                ratio = 1 - keep / ln.one_channels
                sug = (f"prune to <= {keep} of {ln.one_channels} input channels ({100 * keep / ln.one_channels:.1f}%, "
                       f"structured ratio r >= {ratio:.3f}): {keep} x {pos} receptive-field positions <= {lim} axons")
            else:
                ratio = 1 - lim / ln.one_fan_in
                sug = (f"prune the inputs of each neuron to <= {lim} of {ln.one_fan_in} "
                       f"(structured ratio r >= {ratio:.3f} of input neurons)")
            out.append(Violation("check_fan_in", name, "input axons per core (fan-in of one neuron)",
                                 ln.one_fan_in, lim, sug, "a single neuron already exceeds a core"))
            continue
        bad = _over_cores(needs, name, "fan_in", lim)
        if bad:
            worst = max(c.fan_in for c in bad)
            out.append(Violation("check_fan_in", name, "input axons per core", worst, lim,
                                 "place fewer neurons per core (a smaller receptive-field union per core)",
                                 f"{len(bad)} core(s) over the limit"))
    return out


def check_synapse_memory(graph, profile, needs: Needs) -> list:
    """Every core stores its neurons' synapses in ``synapse_memory_bits_per_core``."""
    lim = _limit(profile, "synapse_memory_bits_per_core")
    if lim is None:
        return []
    out = []
    for name, ln in needs.layers.items():
        if ln.one_synapse_bits > lim:
            parts = []
            fitting = [b for b, per in sorted(ln.bits_per_axon_one_by_wbits.items(), reverse=True)
                       if b < ln.weight_bits and per * ln.one_synapses <= lim]
            if fitting:
                parts.append(f"use <= {fitting[0]}-bit weights")
            per = max(1, ln.bits_per_axon_one)
            keep = lim // per
            parts.append(f"prune each neuron to <= {keep} of {ln.one_synapses} synapses "
                         f"(ratio r >= {1 - keep / ln.one_synapses:.3f}; {per} bits per stored synapse incl. "
                         f"header and word rounding)")
            out.append(Violation("check_synapse_memory", name, "synapse memory bits per core (one neuron's row)",
                                 ln.one_synapse_bits, lim, " or ".join(parts),
                                 "a single neuron's synapses already exceed a core"))
            continue
        bad = _over_cores(needs, name, "synapse_bits", lim)
        if bad:
            worst = max(c.synapse_bits for c in bad)
            out.append(Violation("check_synapse_memory", name, "synapse memory bits per core", worst, lim,
                                 "place fewer neurons per core", f"{len(bad)} core(s) over the limit"))
    return out


def check_fan_out(graph, profile, needs: Needs) -> list:
    """Every core sends to at most ``fan_out_axons_per_core`` (neuron, destination core) pairs."""
    lim = _limit(profile, "fan_out_axons_per_core")
    if lim is None:
        return []
    out = []
    for name, ln in needs.layers.items():
        if ln.one_fan_out > lim:
            out.append(Violation("check_fan_out", name, "output axons per core (one neuron's destination cores)",
                                 ln.one_fan_out, lim,
                                 f"the next layer spreads over too many cores: pack it into <= {lim} cores "
                                 f"(fewer, fuller cores or a smaller next layer, "
                                 f"ratio r >= {1 - lim / ln.one_fan_out:.3f})",
                                 "a single neuron already exceeds a core"))
            continue
        bad = _over_cores(needs, name, "fan_out", lim)
        if bad:
            worst = max(c.fan_out for c in bad)
            out.append(Violation("check_fan_out", name, "output axons per core", worst, lim,
                                 f"place fewer neurons per core (<= {lim} output axons)",
                                 f"{len(bad)} core(s) over the limit"))
    return out


def check_destination_cores(graph, profile, needs: Needs) -> list:
    """Every core sends to at most ``max_destination_cores`` distinct cores (Speck: 2)."""
    lim = _limit(profile, "max_destination_cores")
    if lim is None:
        return []
    out = []
    for name in needs.layers:
        bad = _over_cores(needs, name, "destination_cores", lim)
        if bad:
            worst = max(c.destination_cores for c in bad)
            out.append(Violation("check_destination_cores", name, "destination cores per core", worst, lim,
                                 f"feed at most {lim} core(s) from each core: merge the consumers of this layer "
                                 f"or reduce them by {worst - lim}",
                                 f"{len(bad)} core(s) over the limit"))
    return out


def check_total_cores(graph, profile, needs: Needs) -> list:
    """The placement uses at most the chip's ``cores``."""
    lim = _limit(profile, "cores")
    if lim is None or needs.cores_needed <= lim:
        return []
    n = needs.cores_needed
    chips = math.ceil(n / lim)
    r = 1 - lim / n
    return [Violation("check_total_cores", None, "cores", n, lim,
                      f"needs {n} cores; the chip has {lim}: split across {chips} chips, or shrink the per-core "
                      f"load by r >= {r:.3f} (e.g. structured pruning of that fraction of channels, or fewer "
                      f"weight bits where synapse memory binds)")]


def check_kernel_size(graph, profile, needs: Needs) -> list:
    """Every kernel is at most ``max_kernel_size`` on each side (Speck: 16; a Dense on a map is a map-sized kernel)."""
    lim = _limit(profile, "max_kernel_size")
    if lim is None:
        return []
    out = []
    for name, ln in needs.layers.items():
        if ln.kernel is not None and max(ln.kernel) > lim:
            k = max(ln.kernel)
            out.append(Violation("check_kernel_size", name, "kernel size", k, lim,
                                 f"use kernels <= {lim}x{lim}: downsample the input by >= {math.ceil(k / lim)}x "
                                 f"(pool or stride) before this layer",
                                 f"kernel {ln.kernel[0]}x{ln.kernel[1]}"))
    return out


def check_weight_bits(graph, profile, needs: Needs) -> list:
    """Integer weights fit the profile's signed ``weight_bits``; unquantized layers are reported."""
    wb = int(profile.formats.weight_bits)
    out = []
    for name, ln in needs.layers.items():
        if not ln.quantized:
            out.append(Violation("check_weight_bits", name, "integer weights", 1, 0,
                                 f"quantize first: snn2hw.convert(graph, '{profile.name}')",
                                 "the layer's synapses carry no weight_int"))
        elif ln.weight_bits > wb:
            out.append(Violation("check_weight_bits", name, "weight bits", ln.weight_bits, wb,
                                 f"requantize to <= {wb}-bit weights (convert(graph, '{profile.name}') clips to "
                                 f"[-{2 ** (wb - 1)}, {2 ** (wb - 1) - 1}])"))
    return out


Rule = Callable[..., list]

#: the rules :func:`check_design_rules` runs, in order
DESIGN_RULES: list = [check_weight_bits, check_kernel_size, check_neurons_per_core, check_fan_in,
                      check_synapse_memory, check_fan_out, check_destination_cores, check_total_cores]


def check_design_rules(graph, profile, needs: Needs, rules: Optional[list] = None) -> list:
    """Run every rule and return all violations (empty: the network fits)."""
    out = []
    for rule in (DESIGN_RULES if rules is None else rules):
        out.extend(rule(graph, profile, needs))
    return out
