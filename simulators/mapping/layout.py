"""Synapse-list mapping by spatial tiles: partition every population, lay the tiles' cores on the mesh, and
tabulate each core's usage, the lower bounds and the notes that :func:`~snn2hw.simulators.mapping.map_graph`
returns for a ``synapse_list`` profile.

Cores are numbered layer by layer in topological order, a layer's tiles in raster order of their boxes (a
box's channel chunks together), and laid on the mesh's tiles in serpentine order (row 0 left to right, row 1
right to left, ...), so consecutive layers and neighbouring boxes sit on the same or neighbouring tiles. A
network needing more cores than the chip continues on the next chip: core ``c`` is on chip
``c // cores per chip``, and the chips lie on the profile's ``system`` chip mesh in serpentine order
(:mod:`snn2hw.simulators.placement`), so consecutive layers sit on the same or neighbouring chips. Without a
system the further chips are stacked below the first (the virtual mesh rows below it), and chips beyond a
system's count continue on virtual chip-mesh rows below it (both reported in the notes)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from snn2hw.simulators.design_rules import CoreUsage
from snn2hw.simulators.placement import LayerPlacement, Placement

from .lower_bound import layer_bounds
from .memory import MAX_SYNAPSES_PER_RUN
from .partition import partition_network, prepare_layer
from .tile_needs import Tile, shared_model, tile_needs


@dataclass
class TiledMapping:
    """What :func:`map_tiles` found: the placement, one :class:`CoreUsage` per core in core order, the
    per-layer lower bounds and tilings, totals and notes."""

    placement: Placement
    usage: list
    bounds: dict
    tilings: dict
    totals: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def serpentine_core(slot: int, width: int, cores_per_tile: int) -> int:
    """The core id of the ``slot``-th core laid on a ``width``-wide mesh in serpentine tile order."""
    t = slot // cores_per_tile
    row, col = divmod(t, width)
    if row % 2:
        col = width - 1 - col
    return (row * width + col) * cores_per_tile + slot % cores_per_tile


def _model_needs(layer, mem, wbits) -> None:
    """A layer's worst single neuron under the synapse model (its fan-in and memory: the smallest unit a core
    can hold; the relaxed limits and the design rules read them)."""
    ln = layer.needs
    if not layer.paths:
        return
    per = sum(p.per_neuron_synapses() for p in layer.paths)
    worst = int(np.argmax(per))
    H, W = layer.hw
    c, rest = divmod(worst, H * W)
    y, x = divmod(rest, W)
    one = tile_needs(layer, Tile(c, c + 1, y, y + 1, x, x + 1), mem, wbits)
    ln.one_fan_in, ln.one_synapse_bits = one.fan_in, one.synapse_bits


def _utilisation(t, usage_rows, limits) -> dict:
    """The largest use of each per-core limit over a layer's cores (fraction of the limit)."""
    out = {}
    for key, attr in (("neurons_per_core", "neurons"), ("fan_in", "fan_in"), ("synapse_bits", "synapse_bits"),
                      ("fan_out", "fan_out")):
        lim = limits[key]
        if np.isfinite(lim) and usage_rows:
            out[key] = max(getattr(u, attr) for u in usage_rows) / lim
    return out


def map_tiles(graph, profile, layers: dict, synapse_model: str, mem, wbits: int, progress=None,
              effort: str = "normal") -> TiledMapping:
    """Map the mapping ``layers`` (from :func:`~snn2hw.simulators.mapping.layer_needs`) of ``graph`` onto
    ``profile``'s cores by spatial tiles under ``synapse_model`` ('expanded' | 'shared'), merging with
    ``effort``."""
    cap = profile.capacity
    inf = float("inf")

    def lim(f):
        return inf if f is None else float(f.value)
    limits = {"neurons_per_core": int(cap.neurons_per_core.value), "fan_in": lim(cap.fan_in_axons_per_core),
              "synapse_bits": lim(cap.synapse_memory_bits_per_core), "fan_out": lim(cap.fan_out_axons_per_core)}
    mem.synapse_model, mem.run = synapse_model, MAX_SYNAPSES_PER_RUN
    for name, layer in layers.items():
        prepare_layer(layer, graph.nodes[name].output_shape)
        if shared_model(mem):
            _model_needs(layer, mem, wbits)
    tiled = partition_network(layers, limits, mem, wbits, progress, effort=effort)
    bounds = layer_bounds(layers, limits, mem, wbits)

    total = sum(t.cores for t in tiled.values())
    chip = int(cap.cores.value) if cap.cores is not None else total
    if cap.mesh is not None:
        width, cpt = cap.mesh.width, cap.mesh.cores_per_tile
    else:
        width, cpt = max(1, math.ceil(math.sqrt(max(total, chip or 1)))), 1
    placement = Placement(profile=profile.name, mesh_width=width, cores_per_tile=cpt, input_tile=0)
    system = profile.system
    if cap.mesh is not None:  # chips explicit (the placement module's geometry)
        placement.cores_per_chip, placement.mesh_height = width * cap.mesh.height * cpt, cap.mesh.height
        if system is not None:
            placement.chips_x, placement.chips_y, placement.system = system.chips_x, system.chips_y, system.name
    usage, slot, per_layer = [], 0, {}
    for name, t in tiled.items():
        layer = layers[name]
        placed, rows = [], []
        for i in range(t.cores):
            core = serpentine_core(slot, width, cpt)
            slot += 1
            boxes = [b.as_tuple() for b in t.boxes(i)]
            placed += [(core, b) for b in boxes]
            rows.append(CoreUsage(core=core, layer=name, start=0, stop=0, tile=boxes[0], more_tiles=tuple(boxes[1:]),
                                  fan_in=int(t.fan_in[i]), synapse_bits=int(t.synapse_bits[i]),
                                  storage=dict(t.storage[i]), fan_out=int(t.fan_out[i]),
                                  destination_cores=int(t.destination_cores[i])))
        placement.layers[name] = LayerPlacement.from_tiles(name, layer.shape, placed)
        layer.needs.one_fan_out = t.one_fan_out
        util = _utilisation(t, rows, limits)
        layer.needs.bound_by = max(util, key=util.get) if util else ""
        per_layer[name] = {"utilisation": util, "grid": t.grid, "split_parts": t.split_parts,
                           "cores_of_several_boxes": int((np.bincount(t.core_of_box) > 1).sum())}
        usage += rows
    usage.sort(key=lambda u: u.core)
    conv_layers = {n for n, l in layers.items() if shared_model(mem) and any(p.kind == "conv" for p in l.paths)}
    placement.synapse_unit = {u.core: "conv" if u.layer in conv_layers else
                              "sparse" if "sparse" in u.storage.values() else "dense" for u in usage}

    bound = sum(b.cores for b in bounds.values())
    notes = [
        f"spatial tiles ({synapse_model} synapses): each population's output volume is cut into boxes of a "
        "ty x tx grid and each box's channels into chunks, one tile per core; per layer the grid with the fewest "
        "cores (plus input axons over the fan-out limit, NxTF's cost) is chosen over every distinct box size; "
        "layers are tiled last first so each knows its output-axon entries",
        f"cores laid out on the {width}-wide mesh ({cpt} core(s) per tile) in serpentine tile order, layer by "
        "layer, boxes in raster order; the input enters at tile 0",
        ("conv layers store each distinct tap pattern's weight set once per core and receive a population axon "
         "per source pixel (NxTF / nengo-loihi weight sharing); dense layers keep expanded synapses"
         if synapse_model == "shared" else
         "convolutions are expanded to explicit synapses per core (nengo-loihi style): a kernel is stored on "
         "every core that uses it, a discrete axon per source neuron"),
        "synapse memory per core and per synapse node: the cheaper of sparse (weight + index bits) and dense "
        f"(weight bits) runs of <= {MAX_SYNAPSES_PER_RUN} synapses with a {mem.header_bits}-bit header, "
        f"rounded to {mem.word_bits}-bit words",
        f"lower bound {bound} cores (sum over layers of the largest of neurons, synapse memory and output "
        f"axons, one population per core); this mapping uses {total} ({total / max(bound, 1):.2f}x)",
    ]
    for name, t in tiled.items():
        b = bounds[name]
        relaxed = f"; tiled as if {', '.join(b.relaxed)} were lifted (one neuron exceeds it)" if b.relaxed else ""
        sizes = sorted({sum(tt.neurons for tt in t.boxes(i)) for i in range(t.cores)})
        several = per_layer[name]["cores_of_several_boxes"]
        merged = f", {several} of them holding several boxes" if several else ""
        if t.split_parts:
            merged += f" ({t.split_parts} box parts split off by channels)"
        notes.append(f"{name}: {layers[name].neurons} neurons on {t.cores} core(s){merged} (bound {b.cores}, "
                     f"{b.binding}), grid {t.grid[0]}x{t.grid[1]}, {sizes[0]}-{sizes[-1]} neurons per core, "
                     f"most used: {layers[name].needs.bound_by or '-'}{relaxed}")
        if not all(p.exact for p in layers[name].paths):
            notes.append(f"{name}: an overlapping or padded pool before its synapse is composed conservatively "
                         f"(border fan-in is an upper bound)")
    chips = math.ceil(total / chip) if chip else 1
    notes += _chip_notes(placement, system, total, chip, chips)
    totals = {"cores_used": total, "lower_bound_cores": bound, "bound_ratio": round(total / max(bound, 1), 4),
              "synapse_model": synapse_model, "chips_needed": chips}
    return TiledMapping(placement, usage, bounds, per_layer, totals, notes)


def _chip_notes(placement, system, total: int, chip: int, chips: int) -> list:
    """What the notes say about the chips a mapping uses (none for one chip)."""
    if chips <= 1:
        return []
    if not placement.cores_per_chip:  # no mesh: no chip geometry, no crossings counted
        return [f"{total} cores exceed the chip's {chip}: cores beyond it continue on further chips (no mesh: no "
                f"chip geometry), {chips} chips in all"]
    if system is None:
        return [f"{total} cores exceed the chip's {chip}: {chips} chips, stacked below the first (the profile has "
                f"no system section); messages crossing chips are counted but inter-chip traffic is not priced"]
    avail = int(system.chips.value)
    cx, cy = placement.chip_xy(chips - 1)
    out = [f"{total} cores on {chips} chips of the {system.name} system ({avail} chips on a {system.chips_x} x "
           f"{system.chips_y} chip mesh), laid in serpentine chip order (the last at chip-mesh ({cx}, {cy})); "
           f"a message crossing a chip boundary is charged the system's inter-chip link per boundary"]
    if chips > avail:
        out.append(f"{chips} chips exceed the {system.name} system's {avail}: the chips beyond it are virtual, "
                   f"placed on after it in the same serpentine order")
    return out
