"""The placement of a network's neurons on a chip's cores: what mapping produces and the event simulator reads.

Neurons of a population (a ``Neuron`` node) are numbered in C-major order of
its shape (the order of ``tensor.flatten()``), and each core holds contiguous
ranges of them. Cores sit on tiles of a ``width x height`` mesh; tile ``t`` is at
``(t % width, t // width)``. The ``Input`` population is not placed on a core:
its events enter the mesh at tile ``input_tile`` (an assumption reports state).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerPlacement:
    """``ranges``: ``(core, start, stop)`` triples; neurons ``[start, stop)`` of the layer live on ``core``."""

    layer: str
    neurons: int
    ranges: list = field(default_factory=list)

    def core_of_neuron(self) -> np.ndarray:
        out = np.full(self.neurons, -1, dtype=np.int64)
        for core, a, b in self.ranges:
            out[a:b] = core
        return out

    @property
    def cores(self) -> list:
        return sorted({c for c, _, _ in self.ranges})


@dataclass
class Placement:
    profile: str
    mesh_width: int
    cores_per_tile: int
    layers: dict = field(default_factory=dict)   # neuron node name -> LayerPlacement
    input_tile: int = 0
    notes: list = field(default_factory=list)    # how the heuristic decided, in words

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
        return sorted({self.tile_of(c) for c in self.cores_used})

    def to_dict(self) -> dict:
        return {"profile": self.profile, "mesh_width": self.mesh_width, "cores_per_tile": self.cores_per_tile,
                "input_tile": self.input_tile, "notes": list(self.notes),
                "layers": {k: {"neurons": v.neurons, "ranges": [list(r) for r in v.ranges]}
                           for k, v in self.layers.items()}}
