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
ratio, a bit width, a number of chips), never a generic hint. Where the
suggestion is a change of layer widths, ``Violation.suggested`` carries it in
machine-readable form: ``{"channels": {population: new width}, "prune_ratio": r,
...}`` (a population's width is its output channels, or features for a dense
layer); rebuilding the model with those widths makes that violation go away.

Two memory models (``profile.memory_model``):

* ``synapse_list`` (Loihi, nengo-loihi style): the rules on neurons, fan-in,
  synapse memory and fan-out per core apply;
* ``shared_kernel`` (Speck / DYNAP-CNN, sinabs): one layer per core, each core
  stores one shared conv kernel. A layer needs (rounded to powers of two as the
  sinabs mapper does) ``kernel = C_in * 2^(ceil(log2(kx*ky)) + ceil(log2 C_out))``,
  ``neuron = C_out * 2^(ceil(log2 H_out) + ceil(log2 W_out))`` and
  ``bias = C_out`` entries, and some core must hold all three
  (:func:`check_core_memory`); the layers are assigned to distinct cores by a
  bipartite matching (:func:`assign_cores`, :func:`check_core_assignment`);
  kernels are square, strides and sum-pools from the allowed sets
  (:func:`check_layer_geometry`). The synapse-list rules do not apply.
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
    suggested: dict = field(default_factory=dict)   # machine-readable suggestion, e.g. {"channels": {...}}

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
    channels: int = 0                                  # output channels (features for a dense layer)
    is_output: bool = False                            # no population consumes it (e.g. the readout)
    # shared-kernel model (Speck): the layer as the chip's conv sees it
    c_in: int = 0                                      # input channels of the conv (a dense layer: map channels)
    out_hw: tuple = (1, 1)                             # (H_out, W_out) of the conv
    stride: tuple = (1, 1)
    pool: tuple = (1, 1)                               # sum-pool at this layer's output (on its core)
    n_synapses: int = 1                                # synapse nodes into the layer (a Speck core has one conv)
    source_is_population: bool = True                  # its (single) source is a Neuron, not the Input
    bound_by: str = ""                                 # synapse_list: the limit that stops its cores from growing
    kernel_entries: int = 0
    neuron_entries: int = 0
    bias_entries: int = 0


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
    # shared-kernel model: entries used and this core's memories (0: not that model)
    kernel_entries: int = 0
    neuron_entries: int = 0
    bias_entries: int = 0
    kernel_limit: int = 0
    neuron_limit: int = 0
    bias_limit: int = 0
    tile: Optional[tuple] = None                       # (c0, c1, y0, y1, x0, x1) when placed by spatial tiles
    more_tiles: tuple = ()                             # the core's further boxes (a core holding several)

    @property
    def tiles(self) -> tuple:
        return () if self.tile is None else (self.tile, *self.more_tiles)

    @property
    def neurons(self) -> int:
        if self.tile is not None:
            return sum((c1 - c0) * (y1 - y0) * (x1 - x0) for c0, c1, y0, y1, x0, x1 in self.tiles)
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
    memory_model: str = "synapse_list"
    assignment: dict = field(default_factory=dict)     # shared_kernel: layer -> core (matched layers only)
    synapse_model: str = "expanded"                    # synapse_list: how conv synapses are stored
    _by_layer: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def cores_of(self, layer: str) -> list:
        """The cores of ``layer`` (grouped once: every rule asks for every layer, and a network may have 10^5
        cores; grouped again if ``cores`` has changed length)."""
        if self._by_layer is None or self._by_layer[0] != len(self.cores):
            groups = {}
            for c in self.cores:
                groups.setdefault(c.layer, []).append(c)
            self._by_layer = (len(self.cores), groups)
        return self._by_layer[1].get(layer, [])


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


def _shared(profile) -> bool:
    return getattr(profile, "memory_model", "synapse_list") == "shared_kernel"


# ---------------------------------------------------------------- shared-kernel (Speck) arithmetic
def _log2c(n: int) -> int:
    return max(0, math.ceil(math.log2(max(1, int(n)))))


def kernel_entries(c_in: int, kernel, c_out: int) -> int:
    """sinabs: ``C_in * 2^(ceil(log2(kx*ky)) + ceil(log2 C_out))``."""
    return int(c_in) * 2 ** (_log2c(int(kernel[0]) * int(kernel[1])) + _log2c(c_out))


def neuron_entries(c_out: int, out_hw) -> int:
    """sinabs: ``C_out * 2^(ceil(log2 H_out) + ceil(log2 W_out))``."""
    return int(c_out) * 2 ** (_log2c(out_hw[0]) + _log2c(out_hw[1]))


def core_tables(profile) -> tuple:
    """``(kernel, neuron, bias)`` entries per core index (bias ``None``: not limited)."""
    cap = profile.capacity
    k = [int(v) for v in cap.kernel_memory_entries_per_core.per_core]
    n = [int(v) for v in cap.neuron_memory_entries_per_core.per_core]
    b = cap.bias_memory_entries_per_core
    return k, n, ([int(v) for v in b.per_core] if b is not None else None)


def _entries(ln: LayerNeeds, c_in=None, c_out=None) -> tuple:
    c_in = ln.c_in if c_in is None else c_in
    c_out = ln.channels if c_out is None else c_out
    return kernel_entries(c_in, ln.kernel or (1, 1), c_out), neuron_entries(c_out, ln.out_hw), int(c_out)


def _fits(entries, tables, j) -> bool:
    k, n, b = entries
    K, N_, B = tables
    return k <= K[j] and n <= N_[j] and (B is None or b <= B[j])


def feasible_cores(ln: LayerNeeds, tables, c_in=None, c_out=None) -> list:
    """Core indices whose kernel, neuron and bias memories all hold the layer."""
    e = _entries(ln, c_in, c_out)
    return [j for j in range(len(tables[0])) if _fits(e, tables, j)]


def _max_width(ln: LayerNeeds, tables, which: str, allowed=None) -> Optional[tuple]:
    """The largest ``C_out`` (``which='out'``) or ``C_in`` (``'in'``) below the current one with which the layer
    fits some core (in ``allowed`` if given): ``(width, core)``, or ``None``."""
    cur = ln.channels if which == "out" else ln.c_in
    for c in range(cur - 1, 0, -1):
        cores = feasible_cores(ln, tables, **({"c_out": c} if which == "out" else {"c_in": c}))
        cores = [j for j in cores if allowed is None or j in allowed]
        if cores:
            return c, cores[0]
    return None


def width_suggestion(ln: LayerNeeds, tables, allowed=None) -> tuple:
    """The smallest structured pruning that lets ``ln`` fit a core (power-of-two rounding included):
    ``(text, suggested dict)``. Reducing the layer's own ``C_out`` is preferred unless it is an output layer
    (its width is the number of classes) or reducing its source's width (``C_in``) prunes a smaller fraction."""
    opts = []
    if not ln.is_output:
        r = _max_width(ln, tables, "out", allowed)
        if r:
            opts.append((1 - r[0] / ln.channels, ln.layer, ln.channels, r[0], r[1], "C_out"))
    src = ln.sources[0] if len(ln.sources) == 1 else None
    if src is not None and ln.c_in > 1 and ln.source_is_population:
        r = _max_width(ln, tables, "in", allowed)
        if r:
            opts.append((1 - r[0] / ln.c_in, src, ln.c_in, r[0], r[1], "C_in"))
    if not opts:
        return (f"no width of {ln.layer} fits a core: downsample its input (pool or stride) so that "
                f"H_out x W_out shrinks", {})
    opts.sort(key=lambda o: o[0])
    texts, sug = [], {}
    for i, (ratio, who, old, new, core, what) in enumerate(opts):
        lay = ln.layer if what == "C_out" else f"{ln.layer} (prune the channels of its source {who})"
        ci, co = (ln.c_in, new) if what == "C_out" else (new, ln.channels)
        k, n, b = _entries(ln, ci, co)
        texts.append(f"reduce {what} of {lay} from {old} to <= {new} (structured pruning ratio >= {ratio:.3f}): "
                     f"then {k:,} kernel / {n:,} neuron / {b:,} bias entries fit core {core} "
                     f"({tables[0][core]:,} / {tables[1][core]:,}"
                     f"{'' if tables[2] is None else f' / {tables[2][core]:,}'})")
        d = {"channels": {who: new}, "prune_ratio": round(ratio, 6), "core": core}
        if i == 0:
            sug = d
        else:
            sug["alternative"] = d
    return " or ".join(texts), sug


def assign_cores(layers: list, feasible: dict, n_cores: int) -> dict:
    """Maximum bipartite matching layer -> core (Kuhn's augmenting paths, a free core tried first; layers in the
    given order, cores in index order). ``feasible[layer]``: the cores that can hold it. Returns ``{layer: core}`` (matched only)."""
    owner = [None] * n_cores

    def augment(layer, seen):
        for j in feasible.get(layer, ()):   # a free core first (keeps the layers in core order when possible)
            if j not in seen and owner[j] is None:
                seen.add(j)
                owner[j] = layer
                return True
        for j in feasible.get(layer, ()):
            if j in seen:
                continue
            seen.add(j)
            if owner[j] is None or augment(owner[j], seen):
                owner[j] = layer
                return True
        return False

    for layer in layers:
        augment(layer, set())
    return {owner[j]: j for j in range(n_cores) if owner[j] is not None}


def _over_cores(needs: Needs, layer: str, attr: str, limit: int) -> list:
    """The cores of ``layer`` whose ``attr`` exceeds ``limit``."""
    return [c for c in needs.cores_of(layer) if getattr(c, attr) > limit]


# ---------------------------------------------------------------- rules
def check_neurons_per_core(graph, profile, needs: Needs) -> list:
    """Every core holds at most ``neurons_per_core`` neurons."""
    lim = _limit(profile, "neurons_per_core")
    if lim is None or _shared(profile):
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


def _fan_in_ways_out(profile, needs: Needs, ln: LayerNeeds) -> str:
    """The other ways out the profile allows for a neuron whose inputs exceed a core's axons."""
    out = ""
    models = getattr(profile, "synapse_models", None)
    if (models is not None and needs.synapse_model == "expanded" and "shared" in models.available
            and ln.one_positions):
        out += (f"; or --synapse-model shared: a population axon per source pixel, {ln.one_positions} axons for "
                f"this neuron (NxTF / nengo-loihi weight sharing)")
    if profile.name.startswith("loihi"):
        out += ("; splitting the neuron's inputs over dendritic compartments (Loihi's multi-compartment neurons, "
                "Davies et al. 2018) does not help: a neuron's compartments share its core's input axons")
    return out


def check_fan_in(graph, profile, needs: Needs) -> list:
    """Every core receives from at most ``fan_in_axons_per_core`` distinct source neurons."""
    lim = _limit(profile, "fan_in_axons_per_core")
    if lim is None or _shared(profile):
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
            sug += _fan_in_ways_out(profile, needs, ln)
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
    if lim is None or _shared(profile):
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
    if lim is None or _shared(profile):
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


def _uniform_prune(needs: Needs, lim: int) -> Optional[tuple]:
    """Smallest ratio ``r`` (in steps of 0.001) such that pruning every non-output population's width to
    ``floor(C * (1 - r))`` brings the cores to ``lim``: ``(r, {layer: width})`` or ``None``.

    A layer's cores are assumed to shrink by ``(1 - r)`` when its own width shrinks (neurons per core bind:
    ``ceil(N (1 - r) / npc) <= ceil(c (1 - r))``) or when its source's width shrinks and synapse memory or
    fan-in bind (each neuron's synapses and axons shrink with the source's channels); the two are not
    compounded, so the estimate errs towards more pruning. An output layer (the classes) keeps its width."""
    per = {}
    for c in needs.cores:
        per[c.layer] = per.get(c.layer, 0) + 1
    prunable = {l for l, ln in needs.layers.items() if not ln.is_output and ln.channels >= 1}
    scales = {}
    for l, n in per.items():
        ln = needs.layers.get(l)
        own = ln is not None and l in prunable
        src = (ln is not None and ln.sources and all(s in prunable for s in ln.sources)
               and ("synapse_memory" in ln.bound_by or "fan_in" in ln.bound_by))
        scales[l] = own or bool(src)
    fixed = sum(n for l, n in per.items() if not scales[l])
    if fixed + sum(1 for l in per if scales[l]) > lim or not prunable:
        return None
    for k in range(1, 1000):
        r = k / 1000
        widths = {l: max(1, math.floor(needs.layers[l].channels * (1 - r))) for l in sorted(prunable, key=list(needs.layers).index)}
        cores = fixed + sum(math.ceil(n * (1 - r)) for l, n in per.items() if scales[l])
        if cores <= lim:
            return r, widths
    return None


def check_total_cores(graph, profile, needs: Needs) -> list:
    """The placement uses at most the chip's ``cores`` (shared_kernel: one layer per core), or with a multi-chip
    ``system`` (a board) the system's ``chips x cores``: a network on several of its chips fits."""
    lim = _limit(profile, "cores")
    system = getattr(profile, "system", None)
    if lim is not None and system is not None and not _shared(profile):
        board = int(system.chips.value)
        total = lim * board
        n = needs.cores_needed
        if n <= total:
            return []
        r = 1 - total / n
        return [Violation("check_total_cores", None, f"cores ({system.name}: {board} chips x {lim})", n, total,
                          f"needs {n} cores ({math.ceil(n / lim)} chips); the {system.name} system has {board} chips "
                          f"of {lim} cores = {total}: use a larger system (edit the profile's system), or shrink the "
                          f"per-core load by r >= {r:.3f} (structured pruning of that fraction of channels, or fewer "
                          f"weight bits where synapse memory binds)",
                          suggested={"chips": math.ceil(n / lim)})]
    if lim is None or needs.cores_needed <= lim:
        return []
    n = needs.cores_needed
    chips = math.ceil(n / lim)
    if _shared(profile):
        return [Violation("check_total_cores", None, "cores (one layer per core)", n, lim,
                          f"the network has {n} layers and the chip {lim} cores, one layer each: merge or remove "
                          f"{n - lim} layer(s) (e.g. fewer conv layers per stage), or split across {chips} chips",
                          suggested={"max_layers": lim, "remove_layers": n - lim, "chips": chips})]
    r = 1 - lim / n
    text = (f"needs {n} cores; the chip has {lim}: split across {chips} chips, or shrink the per-core "
            f"load by r >= {r:.3f} (e.g. structured pruning of that fraction of channels, or fewer "
            f"weight bits where synapse memory binds)")
    suggested = {"chips": chips}
    up = _uniform_prune(needs, lim)
    if up is not None:
        ratio, widths = up
        text += (f"; with every layer's width pruned by ratio {ratio:.3f} (output layers kept): "
                 + ", ".join(f"{l} {needs.layers[l].channels} -> {w}" for l, w in widths.items()))
        suggested.update({"prune_ratio": ratio, "channels": widths})
    return [Violation("check_total_cores", None, "cores", n, lim, text, suggested=suggested)]


def check_core_memory(graph, profile, needs: Needs) -> list:
    """shared_kernel: some core's kernel, neuron and bias memories hold the layer (power-of-two rounded entries)."""
    if not _shared(profile):
        return []
    tables = core_tables(profile)
    K, N_, B = tables
    out = []
    for name, ln in needs.layers.items():
        if feasible_cores(ln, tables):
            continue
        text, sug = width_suggestion(ln, tables)
        k, n, b = ln.kernel_entries, ln.neuron_entries, ln.bias_entries
        over = []
        if k > max(K):
            over.append(("kernel memory entries", k, max(K)))
        if n > max(N_):
            over.append(("neuron memory entries", n, max(N_)))
        if B is not None and b > max(B):
            over.append(("bias memory entries", b, max(B)))
        if not over:   # each fits some core, but no core holds both
            best = max((j for j in range(len(K)) if n <= N_[j]), key=lambda j: K[j], default=None)
            if best is not None and k > K[best]:
                over.append((f"kernel memory entries (on a core with >= {n:,} neuron entries)", k, K[best]))
            else:
                best = max((j for j in range(len(K)) if k <= K[j]), key=lambda j: N_[j])
                over.append((f"neuron memory entries (on a core with >= {k:,} kernel entries)", n, N_[best]))
        detail = (f"C_in {ln.c_in}, kernel {ln.kernel[0]}x{ln.kernel[1]}, C_out {ln.channels}, "
                  f"output {ln.out_hw[0]}x{ln.out_hw[1]}: {k:,} kernel / {n:,} neuron / {b:,} bias entries; "
                  f"no core holds them (kernel {[f'{x // 1024}K' for x in K]}, neuron {[f'{x // 1024}K' for x in N_]})")
        for res, need, avail in over:
            out.append(Violation("check_core_memory", name, res, need, avail, text, detail, dict(sug)))
    return out


def check_core_assignment(graph, profile, needs: Needs) -> list:
    """shared_kernel: the layers that each fit some core can be given distinct cores (bipartite matching)."""
    if not _shared(profile):
        return []
    tables = core_tables(profile)
    n_cores = len(tables[0])
    feas = {name: feasible_cores(ln, tables) for name, ln in needs.layers.items()}
    if any(not f for f in feas.values()) or len(feas) > n_cores:
        return []   # reported by check_core_memory / check_total_cores
    match = assign_cores(list(feas), feas, n_cores)
    if len(match) == len(feas):
        return []
    unmatched = [l for l in feas if l not in match]
    # repair: repeatedly take the smallest single width change that enlarges the matching (greedy)
    cur, changes, texts, worst = dict(feas), {}, [], 0.0
    size = len(match)
    while size < len(cur):
        best = None
        for name, ln in needs.layers.items():
            if name in changes:
                continue
            for j in range(n_cores):
                if j in cur[name]:
                    continue
                text, sug = width_suggestion(ln, tables, allowed={j})
                if not sug or (best is not None and sug["prune_ratio"] >= best[3]["prune_ratio"]):
                    continue
                (who, new), = sug["channels"].items()
                kw = {"c_out": new} if who == name else {"c_in": new}
                trial = dict(cur)
                trial[name] = feasible_cores(ln, tables, **kw)
                m = len(assign_cores(list(trial), trial, n_cores))
                if m > size:
                    best = (name, trial, text.split(" or ")[0], sug, m)
        if best is None:
            break
        name, cur, text, sug, size = best
        changes[name] = sug
        texts.append(text)
        worst = max(worst, sug["prune_ratio"])
    if size == len(cur):
        chans = {}
        for sug in changes.values():
            for who, w in sug["channels"].items():
                chans[who] = min(w, chans.get(who, w))
        text = "; ".join(texts) + " (then every layer gets its own core)"
        sug = {"channels": chans, "prune_ratio": worst}
    else:
        text, sug = "no sequence of single width changes lets every layer have its own core: remove layers", {}
    competing = sorted({c for l in unmatched for c in feas[l]})
    return [Violation("check_core_assignment", unmatched[0], "cores (layer -> core matching)",
                      len(feas), len(match), text,
                      f"layers {unmatched} fit only cores {competing}, which other layers already need; "
                      f"fitting cores per layer: {feas}", sug)]


def check_layer_geometry(graph, profile, needs: Needs) -> list:
    """shared_kernel: one conv per core, square kernels, strides and sum-pools from the allowed sets."""
    if not _shared(profile):
        return []
    cap = profile.capacity
    strides = cap.max_stride.allowed if cap.max_stride is not None else None
    pools = cap.max_pool_size.allowed if cap.max_pool_size is not None else None
    out = []
    for name, ln in needs.layers.items():
        if ln.n_synapses > 1:
            out.append(Violation("check_layer_geometry", name, "convolutions per core", ln.n_synapses, 1,
                                 "a core runs one convolution: merge the layer's inputs into one synapse (e.g. "
                                 "concatenate the sources' channels into one conv) or drop the extra branch",
                                 "several synapse nodes feed this population"))
        if ln.kernel is not None and ln.kernel[0] != ln.kernel[1]:
            k = max(ln.kernel)
            out.append(Violation("check_layer_geometry", name, "kernel shape (square only)", ln.kernel[1],
                                 ln.kernel[0], f"use a square kernel, e.g. {k}x{k} (zero-padded taps)",
                                 f"kernel {ln.kernel[0]}x{ln.kernel[1]}", {"kernel": [k, k]}))
        if strides is not None and any(s not in strides for s in ln.stride):
            bad = max(ln.stride)
            ok = min([s for s in strides if s >= bad], default=max(strides))
            out.append(Violation("check_layer_geometry", name, "stride", bad, max(strides),
                                 f"use a stride in {sorted(strides)} (e.g. {ok})", f"stride {tuple(ln.stride)}",
                                 {"stride": ok}))
        if pools is not None and (ln.pool[0] != ln.pool[1] or any(p not in pools for p in ln.pool)):
            bad = max(ln.pool)
            out.append(Violation("check_layer_geometry", name, "sum-pool size", bad, max(pools),
                                 f"pool this layer's output with a square sum-pool in {sorted(pools)}",
                                 f"pool {tuple(ln.pool)} after this layer", {"pool": max(p for p in pools if p <= bad) if
                                                                             any(p <= bad for p in pools) else 1}))
    return out


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
DESIGN_RULES: list = [check_weight_bits, check_kernel_size, check_layer_geometry, check_neurons_per_core,
                      check_fan_in, check_synapse_memory, check_fan_out, check_core_memory, check_core_assignment,
                      check_destination_cores, check_total_cores]


def check_design_rules(graph, profile, needs: Needs, rules: Optional[list] = None) -> list:
    """Run every rule and return all violations (empty: the network fits)."""
    out = []
    for rule in (DESIGN_RULES if rules is None else rules):
        out.extend(rule(graph, profile, needs))
    return out
