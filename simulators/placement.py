"""The placement of a network's neurons on a chip's cores: what mapping produces and the event simulator reads.

Neurons of a population (a ``Neuron`` node) are numbered in C-major order of
its shape (the order of ``tensor.flatten()``), and each core holds contiguous
ranges of them. Cores sit on tiles of a ``width x height`` mesh; tile ``t`` is at
``(t % width, t // width)``. The ``Input`` population is not placed on a core:
its events enter the mesh at tile ``input_tile`` (an assumption reports state).

Input elements are nevertheless sent by a core, as on a chip whose spike
generators (SANA-FE's ``input`` somas, Loihi's embedded spike injection) live on
a core: :func:`place_inputs` puts each ``Input`` population on the cores of
``input_tile`` with room left (then the next cores), so the messages it sends
have a sending core whose serial work they take, and its tile's hops. A core's
synapse unit (``synapse_unit``: core -> ``'dense'`` | ``'sparse'`` | ``'conv'``) is the storage
format the mapping chose for the synapses it holds (``'conv'`` for a conv layer's
shared weight sets under the shared synapse model, ``'sparse'`` when any synapse
node on it is stored sparse); it selects the per-event synapse cost.

Chips. A placement whose ``cores_per_chip`` is set (mapping sets it for every profile with a mesh) puts
core ``c`` on chip ``c // cores_per_chip``, at local tile ``(c % cores_per_chip) // cores_per_tile`` of
that chip's ``mesh_width x mesh_height`` mesh. Chips lie on a chip mesh ``chips_x`` wide in serpentine
order: chip ``k`` is in row ``k // chips_x``, at column ``k % chips_x`` on even rows and
``chips_x - 1 - k % chips_x`` on odd rows, so consecutive chips (and the consecutive layers on them) are
neighbours. Rows beyond ``chips_y`` (the system's) are virtual: the network needs more chips than the system
has. A profile without a ``system`` is a one-chip system: ``chips_x = 1``, further chips stacked below it,
which are the virtual mesh rows below the chip that cores beyond it always continued on. ``cores_per_chip = 0``
(hand-made placements): one chip, every tile on one mesh (``(t % mesh_width, t // mesh_width)``).

The system is one mesh (the chips' edges joined, as Loihi's off-chip interfaces "extend the mesh in 4 planar
directions", Davies et al. 2018): tile ``(x, y)`` of chip ``(X, Y)`` is at system coordinates
``(X * mesh_width + x, Y * mesh_height + y)`` (:meth:`Placement.xy_of_tile`). A message is routed in
dimension order on that mesh, east-west first, then north-south. Of the links it crosses, those between two
chips are *chip hops*, the rest on-chip hops:

* ``chip_hops(a, b) = |Xa - Xb| + |Ya - Yb|`` (chip coordinates of the two cores' chips);
* ``hops(a, b) = (|xa - xb| - |Xa - Xb|, |ya - yb| - |Ya - Yb|)`` (system coordinates): the east-west and
  north-south on-chip hops, i.e. from the source tile to its chip's edge, across every chip it passes
  through (``mesh_width - 1`` or ``mesh_height - 1`` hops each) and from the entry edge to the destination.

Example: 8 x 4-tile chips, chips 0 and 1 side by side; tile (6, 1) of chip 0 to tile (1, 2) of chip 1 is
1 on-chip hop to the east edge, 1 chip hop, 1 hop to column 1, then 1 north-south hop: ``hops = (2, 1)``,
``chip_hops = 1``. Within a chip ``chip_hops = 0`` and ``hops`` is the tile distance, as on one chip.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerPlacement:
    """``ranges``: ``(core, start, stop)`` triples; neurons ``[start, stop)`` of the layer live on ``core``.

    A layer placed by spatial tiles (:mod:`snn2hw.simulators.mapping.partition`) also keeps them: ``tiles`` lists
    ``(core, (c0, c1, y0, y1, x0, x1))`` over its output ``shape``; its ``ranges`` are then the runs of
    consecutive neurons (C-major) on one core, so readers of ranges see the same placement."""

    layer: str
    neurons: int
    ranges: list = field(default_factory=list)
    shape: tuple = ()
    tiles: list = field(default_factory=list)

    @classmethod
    def from_tiles(cls, layer: str, shape, tiles: list) -> "LayerPlacement":
        """A layer placed by ``tiles`` (``(core, (c0, c1, y0, y1, x0, x1))``), its ranges derived."""
        shape = tuple(int(d) for d in shape)
        lp = cls(layer=layer, neurons=int(np.prod(shape)), shape=shape, tiles=list(tiles))
        co = lp.core_of_neuron()
        cut = np.flatnonzero(np.diff(co)) + 1
        starts = np.concatenate([[0], cut])
        stops = np.concatenate([cut, [co.size]])
        lp.ranges = list(zip(co[starts].tolist(), starts.tolist(), stops.tolist()))
        return lp

    def core_of_neuron(self) -> np.ndarray:
        out = np.full(self.neurons, -1, dtype=np.int64)
        if self.tiles:
            H, W = (self.shape[1], self.shape[2]) if len(self.shape) == 3 else (1, 1)
            view = out.reshape(-1, H, W)
            for core, (c0, c1, y0, y1, x0, x1) in self.tiles:
                view[c0:c1, y0:y1, x0:x1] = core
            return out
        for core, a, b in self.ranges:
            out[a:b] = core
        return out

    @property
    def cores(self) -> list:
        if self.tiles:
            return sorted({c for c, _ in self.tiles})
        return sorted({c for c, _, _ in self.ranges})

    def to_dict(self) -> dict:
        if self.tiles:
            return {"neurons": self.neurons, "shape": list(self.shape),
                    "tiles": [[c, *t] for c, t in self.tiles]}
        return {"neurons": self.neurons, "ranges": [list(r) for r in self.ranges]}


@dataclass
class Placement:
    profile: str
    mesh_width: int
    cores_per_tile: int
    layers: dict = field(default_factory=dict)   # neuron node name -> LayerPlacement
    input_tile: int = 0
    notes: list = field(default_factory=list)    # how the heuristic decided, in words
    inputs: dict = field(default_factory=dict)   # Input node name -> LayerPlacement (see place_inputs)
    synapse_unit: dict = field(default_factory=dict)  # core -> 'dense' | 'sparse' | 'conv' (empty: dense)
    cores_per_chip: int = 0     # 0: one chip, no chip geometry (the module docstring)
    mesh_height: int = 0        # tile rows per chip (with cores_per_chip)
    chips_x: int = 1            # chips per row of the chip mesh (serpentine order)
    chips_y: int = 0            # rows of the system's chip mesh (0: no system; rows beyond are virtual chips)
    system: str = ""            # the profile's system (e.g. 'Nahuku-32'); '' without one

    def tile_of(self, core: int) -> int:
        return int(core) // self.cores_per_tile

    def chip_of(self, core: int) -> int:
        """The chip of a core (0 without chip geometry)."""
        return int(core) // self.cores_per_chip if self.cores_per_chip else 0

    def chip_xy(self, chip: int) -> tuple:
        """The chip-mesh coordinates ``(X, Y)`` of chip ``chip`` (serpentine rows of ``chips_x``)."""
        row, col = divmod(int(chip), max(1, self.chips_x))
        return (self.chips_x - 1 - col if row % 2 else col), row

    def xy_of_tile(self, tile: int) -> tuple:
        """System coordinates of a tile (its chip's offset plus its place on the chip's mesh)."""
        tile = int(tile)
        if not self.cores_per_chip:
            return tile % self.mesh_width, tile // self.mesh_width
        chip, local = divmod(tile * self.cores_per_tile, self.cores_per_chip)
        local //= self.cores_per_tile
        cx, cy = self.chip_xy(chip)
        return cx * self.mesh_width + local % self.mesh_width, cy * self.mesh_height + local // self.mesh_width

    def hops(self, core_a: int, core_b: int) -> tuple:
        """``(east-west, north-south)`` on-chip hops between two cores' tiles (dimension-order routing; links
        between chips excluded: :meth:`chip_hops`)."""
        (xa, ya), (xb, yb) = self.xy_of_tile(self.tile_of(core_a)), self.xy_of_tile(self.tile_of(core_b))
        (cxa, cya), (cxb, cyb) = self.chip_xy(self.chip_of(core_a)), self.chip_xy(self.chip_of(core_b))
        return abs(xa - xb) - abs(cxa - cxb), abs(ya - yb) - abs(cya - cyb)

    def chip_hops(self, core_a: int, core_b: int) -> int:
        """Chip boundaries a message from ``core_a`` to ``core_b`` crosses (dimension order over the chip mesh)."""
        (cxa, cya), (cxb, cyb) = self.chip_xy(self.chip_of(core_a)), self.chip_xy(self.chip_of(core_b))
        return abs(cxa - cxb) + abs(cya - cyb)

    @property
    def chips_used(self) -> list:
        """Chips holding any neuron, the input senders included."""
        cores = set(self.cores_used) | {c for lp in self.inputs.values() for c in lp.cores}
        return sorted({self.chip_of(c) for c in cores})

    @property
    def cores_used(self) -> list:
        return sorted({c for lp in self.layers.values() for c in lp.cores})

    @property
    def tiles_used(self) -> list:
        """Tiles holding any neuron, the input senders included (SANA-FE's ``mapped_tiles``)."""
        cores = set(self.cores_used) | {c for lp in self.inputs.values() for c in lp.cores}
        return sorted({self.tile_of(c) for c in cores})

    def to_dict(self) -> dict:
        return {"profile": self.profile, "mesh_width": self.mesh_width, "cores_per_tile": self.cores_per_tile,
                "cores_per_chip": self.cores_per_chip, "mesh_height": self.mesh_height, "chips_x": self.chips_x,
                "chips_y": self.chips_y, "system": self.system,
                "input_tile": self.input_tile, "notes": list(self.notes),
                "inputs": {k: v.to_dict() for k, v in self.inputs.items()},
                "synapse_unit": {str(k): v for k, v in sorted(self.synapse_unit.items())},
                "layers": {k: v.to_dict() for k, v in self.layers.items()}}


def place_inputs(placement: Placement, sizes: dict, neurons_per_core: int, copies: dict | None = None) -> Placement:
    """Give every ``Input`` population (``sizes``: name -> elements) sending cores, in place.

    Cores of ``input_tile`` first, in order, each up to ``neurons_per_core`` neurons
    counting the layer neurons already on it; then the following cores. ``copies``
    (name -> k, default 1): each element takes ``k`` neuron slots on its core (a simulator
    that needs one input neuron per element and sample, as SANA-FE does for graded
    inputs). Populations already in ``placement.inputs`` are kept. Returns ``placement``.
    """
    copies = copies or {}
    used = {}
    for lp in list(placement.layers.values()) + list(placement.inputs.values()):
        for c, a, b in lp.ranges:
            used[c] = used.get(c, 0) + (b - a)
    core = placement.input_tile * placement.cores_per_tile
    for name, n in sizes.items():
        if name in placement.inputs:
            continue
        lp = LayerPlacement(layer=name, neurons=int(n))
        k = max(1, int(copies.get(name, 1)))
        if k > neurons_per_core:
            raise ValueError(f"input '{name}': {k} copies of an element exceed {neurons_per_core} neurons per core")
        a = 0
        while a < n:
            room = (neurons_per_core - used.get(core, 0)) // k
            if room > 0:
                b = min(int(n), a + room)
                lp.ranges.append((core, a, b))
                used[core] = used.get(core, 0) + (b - a) * k
                a = b
            if a < n:
                core += 1
        placement.inputs[name] = lp
    return placement
