"""Runtime tally of the integer network's wraps and saturations, per node and kind.

Both integer simulators (``reference.simulate(mode='int')`` and ``event.simulate_events``)
record every place where the execution model of ``fixed_point.py`` wraps or
saturates a value, so a report can say how often it happened and to how many
neurons. The *sites* and their *kinds*:

========== ============== ======================================================================
node       kind           event (one per element and timestep where the value changed)
========== ============== ======================================================================
synapse    ``sum_wrap``   ``shift(W_int x, e)`` wrapped into int32 (Dense) or 24 bits (Conv2d)
Add        ``add_wrap``   the sum of the incoming currents wrapped into int32
Neuron     ``input_wrap`` the summed input ``a`` wrapped into int32 (after a sum pool)
Neuron     ``a_wrap``     ``a << 6`` wrapped into int32
Neuron     ``u_wrap``     ``u`` differs from the exact ``decay(u) + (a << 6)`` (int32 / +-2^24 wrap)
Neuron     ``v_saturate`` ``v`` differs from the exact ``decay(v) + u + bias`` (saturation at
                          +-(2^23 - 1))
========== ============== ======================================================================

Per site and kind the tally keeps three numbers over everything simulated:

* ``events``: element-timesteps with the event, summed over all samples (not a mean);
* ``neurons``: distinct elements of the node's output (for a Neuron node: neurons; for a
  synapse or an Add: its output elements, which are the target neurons unless a sum pool
  lies between) that had the event at least once, in any sample and at any timestep;
* ``samples``: samples in which the site had the event at least once.

All three are independent of the batch size used to stream the samples. The pseudo-kind
``any`` of a site is the union of its kinds (an element or sample counted once even if it
had several kinds of events).
"""
from __future__ import annotations

import numpy as np
import torch

from snn2hw.ir import nodes as N
from snn2hw.simulators import fixed_point as fp

NEURON_KINDS = ("input_wrap", "a_wrap", "u_wrap", "v_saturate")
SYNAPSE_KINDS = ("sum_wrap",)
ADD_KINDS = ("add_wrap",)


def site_kinds(node) -> tuple:
    """The overflow kinds a node can produce (empty for nodes that never wrap)."""
    if isinstance(node, N.Neuron):
        return NEURON_KINDS
    if isinstance(node, N.SYNAPSES):
        return SYNAPSE_KINDS
    if isinstance(node, N.Add):
        return ADD_KINDS
    return ()


class OverflowTally:
    """Events, distinct neurons and samples per ``(node, kind)``; see the module docstring.

    Call :meth:`begin_chunk` before each chunk of samples and :meth:`end_chunk` after it.
    """

    def __init__(self, graph):
        self.sites = {}   # name -> kind -> {"events": int, "mask": bool tensor [n] or None, "samples": int}
        self.sizes = {}
        for name in graph.topological_order():
            node = graph.nodes[name]
            kinds = site_kinds(node)
            if kinds:
                self.sizes[name] = int(np.prod(node.output_shape))
                self.sites[name] = {k: {"events": 0, "mask": None, "samples": 0} for k in kinds + ("any",)}
        self._chunk = {}  # (name, kind) -> bool tensor [B]: samples of this chunk with the event

    def begin_chunk(self, batch: int) -> None:
        self._batch = int(batch)
        self._chunk = {}

    def end_chunk(self) -> None:
        for (name, kind), flags in self._chunk.items():
            self.sites[name][kind]["samples"] += int(flags.sum())
        self._chunk = {}

    def add(self, name: str, kind: str, mask: torch.Tensor) -> None:
        """Record a boolean ``mask`` ``[B, *shape]`` (one timestep) or ``[T, B, *shape]`` (``T`` steps)."""
        n = self.sizes[name]
        m = mask.reshape(-1, self._batch, n)  # [steps, B, n]
        k = int(m.sum())
        if k == 0:
            return
        hit = m.any(0)  # [B, n]
        self.add_counts(name, kind, k, hit.any(0), hit.any(1))

    def add_counts(self, name: str, kind: str, k: int, per_neuron: torch.Tensor, per_sample: torch.Tensor) -> None:
        """Record ``k`` events already reduced: ``per_neuron`` ``[n]`` and ``per_sample`` ``[B]`` (bool) flag the
        elements and the chunk's samples that had one."""
        if k == 0:
            return
        for kk in (kind, "any"):
            rec = self.sites[name][kk]
            rec["events"] += k
            rec["mask"] = per_neuron if rec["mask"] is None else (rec["mask"] | per_neuron)
            key = (name, kk)
            self._chunk[key] = per_sample if key not in self._chunk else (self._chunk[key] | per_sample)

    def recorder(self, name: str):
        """``on_overflow`` callback for :func:`fixed_point.cuba_step` that records into site ``name``."""
        return lambda kind, mask: self.add(name, kind, mask)

    def wrap(self, name: str, kind: str, x: torch.Tensor, bits: int) -> torch.Tensor:
        """``fixed_point.wrap_bits(x, bits)``, recording the elements it changed (``x``: ``[T*B, ...]``)."""
        y = fp.wrap_bits(x, bits)
        if y is not x:
            self.add(name, kind, y != x)
        return y

    def as_dict(self) -> dict:
        """``name -> kind -> {"events", "neurons", "samples"}`` (plain ints, graph order)."""
        return {name: {k: {"events": r["events"], "neurons": 0 if r["mask"] is None else int(r["mask"].sum()),
                           "samples": r["samples"]} for k, r in kinds.items()}
                for name, kinds in self.sites.items()}
