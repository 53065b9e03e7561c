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

    def tile_of(self, core: int) -> int:
        return int(core) // self.cores_per_tile

    def xy_of_tile(self, tile: int) -> tuple:
        return (int(tile) % self.mesh_width, int(tile) // self.mesh_width)

    def hops(self, core_a: int, core_b: int) -> tuple:
        """``(east-west hops, north-south hops)`` between the tiles of two cores (dimension-order routing)."""
        (xa, ya), (xb, yb) = self.xy_of_tile(self.tile_of(core_a)), self.xy_of_tile(self.tile_of(core_b))
        return abs(xa - xb), abs(ya - yb)

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
