"""The event simulator's device-step timeline: counts per (device step, core), streamed window by window.

The event simulator computes populations in aligned frames, sample by sample in batches
(``simulators/run_protocol.py``); what it counts lands on device steps ``tau`` of the run. This
module holds the steps of the current window (``[rows, cores]`` per event class), and when a chunk
of samples is done it *finalizes* the steps no later chunk can touch: their per-core sums, the
latency of every step under the simple model (from the per-core work) and, when asked, the detailed
model (from the message list: ``simulators/timing.py``). Memory therefore follows one chunk, not the
data set.

Sender lists (detailed timing). A population records, for every element that sends at a step, its
core, its position on the core (the soma loop's order), the soma latency accumulated on the core up
to and including it within its population's block, and its row in the source-major message table
(``detailed["msg_table"]``: its destination cores and the synapses its message meets on each). At
finalization the blocks of the populations sharing a core are chained, each core gets a placeholder
that carries what is left of its soma loop after its last sender, the senders are sorted by (step,
core, position) and ``timing.detailed_latency_of_senders`` expands them into messages (generation
delays: the soma latency since the previous sender on the core, plus the axon-out latency per
message) and schedules them.
"""
from __future__ import annotations

import numpy as np
import torch

from snn2hw.simulators.timing import detailed_latency_of_senders, simple_step_latency

#: per-core event classes of the timeline
EVENTS = ("synops", "synops_graded", "spikes_in", "neuron_updates_active", "neuron_updates_inactive",
          "spikes_out", "messages_out", "hops_ew", "hops_ns")
#: added when the placement spans several chips: chip boundaries crossed and messages crossing one (per sender)
CHIP_EVENTS = ("chip_hops", "messages_crossing_chips")


class Timeline:
    """Counts on device steps ``[0, steps)`` of a run on ``cores`` cores (compact indices).

    ``lat``: event class -> latency per event (ns) or ``[cores]`` (the synapse unit of each core), for
    the neuron side (``neuron_updates_*``, ``spikes_out``, ``messages_out``) and the message side
    (``spikes_in``, ``synops``); ``None`` when the profile lacks one (no latency then).
    ``detailed``: ``None`` or the detailed model's parameters (``mesh``, ``hop_latency``,
    ``buffer_size``, ``core_x``, ``core_y``, ``core_off``, ``out_lat``, ``in_lat``, ``syn_lat``, ``msg_table``,
    and ``chip``: ``(chip width, chip height, ns per chip boundary)``).
    ``chips``: the placement spans several chips: :data:`CHIP_EVENTS` are kept too, and the step's *span*
    (the most chip boundaries one of its messages crosses, :meth:`add_span`); ``chip_latency``: ns per
    boundary, which the simple model adds as span x chip_latency per step (None: not priced).
    """

    def __init__(self, steps: int, cores: int, lat, barrier, detailed=None, block_pops=(), chips: bool = False,
                 chip_latency=None):
        self.steps, self.C = int(steps), int(cores)
        self.base = 0
        self.rows = 0
        self.events = EVENTS + (CHIP_EVENTS if chips else ())
        self.win = {e: torch.zeros(0, self.C, dtype=torch.float64) for e in self.events}
        self.span = torch.zeros(0, dtype=torch.float64)                   # chip boundaries per step (max)
        self.chip_latency = chip_latency if chips else None
        self.soma = torch.zeros(0, self.C, dtype=torch.float64)          # soma loop latency per core (ns)
        self.block = {p: torch.zeros(0, self.C, dtype=torch.float64) for p in block_pops}  # per-population soma
        self.core_total = {e: torch.zeros(self.C, dtype=torch.float64) for e in self.events}
        self.lat = lat
        self.barrier = barrier
        self.detailed = detailed
        self.simple_ns, self.detailed_ns = [], []
        self.records = []   # message records of the window (numpy dicts)

    # ------------------------------------------------------------------ filling
    def _grow(self, upto: int):
        need = upto - self.base
        if need > self.rows:
            pad = need - self.rows
            z = lambda t: torch.cat([t, torch.zeros(pad, self.C, dtype=torch.float64)])  # noqa: E731
            self.win = {e: z(t) for e, t in self.win.items()}
            self.span = torch.cat([self.span, torch.zeros(pad, dtype=torch.float64)])
            self.soma = z(self.soma)
            self.block = {p: z(t) for p, t in self.block.items()}
            self.rows = need

    def add(self, event: str, tau_start: int, counts: torch.Tensor):
        """Add ``[rows, C]`` counts on steps ``tau_start ..``; rows before step 0 or after the run are dropped."""
        self._add_to("win", event, tau_start, counts)

    def add_span(self, tau_start: int, span: np.ndarray):
        """Raise the span (most chip boundaries a message crosses) of steps ``tau_start ..`` to ``span`` ``[rows]``."""
        lo = max(tau_start, self.base)
        hi = min(tau_start + len(span), self.steps)
        if hi <= lo:
            return
        self._grow(hi)
        t = self.span[lo - self.base:hi - self.base]
        torch.maximum(t, torch.as_tensor(span[lo - tau_start:hi - tau_start], dtype=torch.float64), out=t)

    def add_soma(self, pop: str, tau_start: int, ns: torch.Tensor):
        """Soma-loop latency ``[rows, C]`` (ns) of population ``pop`` from step ``tau_start``."""
        self._add_to("soma", None, tau_start, ns)
        if pop in self.block:
            self._add_to("block", pop, tau_start, ns)

    def _add_to(self, store: str, key, tau_start: int, counts: torch.Tensor):
        lo = max(tau_start, self.base)
        hi = min(tau_start + counts.shape[0], self.steps)
        if hi <= lo:
            return
        if lo - self.base < 0:  # pragma: no cover - finalized steps are never written again
            raise RuntimeError(f"timeline: step {lo} was already finalized")
        self._grow(hi)
        t = self.soma if store == "soma" else getattr(self, store)[key]
        t[lo - self.base:hi - self.base] += counts[lo - tau_start:hi - tau_start]

    def add_records(self, rec: dict):
        """Sender records (numpy arrays of equal length): ``tau``, ``core``, ``pos``, ``cum`` (soma ns up to
        and including the sender within its population's block on the core), ``src`` (its row in the message
        table), and ``before`` (the populations whose soma blocks come before its own on shared cores); only
        steps inside the run are kept."""
        keep = (rec["tau"] >= max(self.base, 0)) & (rec["tau"] < self.steps)
        if not keep.all():
            rec = {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in rec.items()}
        if len(rec["tau"]):
            self.records.append(rec)

    # ------------------------------------------------------------------ finalizing
    def finalize(self, upto: int):
        """Close steps ``[base, upto)``: per-core sums, step latencies; drop them from the window."""
        upto = min(int(upto), self.steps)
        if upto <= self.base:
            return
        self._grow(upto)
        k = upto - self.base
        part = {e: t[:k] for e, t in self.win.items()}
        for e, t in part.items():
            self.core_total[e] += t.sum(0)
        if self.lat is not None and self.barrier is not None:
            neuron = torch.zeros(k, self.C, dtype=torch.float64)
            for e in ("neuron_updates_active", "neuron_updates_inactive", "spikes_out", "messages_out"):
                neuron += part[e] * self.lat[e]
            message = part["spikes_in"] * self.lat["spikes_in"] + part["synops"] * self.lat["synops"]
            simple = simple_step_latency(neuron.numpy(), message.numpy(), self.barrier)
            if self.chip_latency:  # the step's farthest inter-chip message (nothing added on one chip)
                simple = simple + self.span[:k].numpy() * self.chip_latency
            self.simple_ns.append(simple)
            if self.detailed is not None:
                self.detailed_ns.append(self._detailed(upto, k))
        self.records = [r for r in (self._split(r, upto) for r in self.records) if r is not None]
        self.win = {e: t[k:] for e, t in self.win.items()}
        self.span = self.span[k:]
        self.soma = self.soma[k:]
        self.block = {p: t[k:] for p, t in self.block.items()}
        self.rows -= k
        self.base = upto

    def _split(self, rec, upto):
        keep = rec["tau"] >= upto
        if not keep.any():
            return None
        return {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in rec.items()}

    def _detailed(self, upto: int, k: int) -> np.ndarray:
        """Detailed-model latencies of steps ``[base, upto)``."""
        p = self.detailed
        parts = []
        for r in self.records:
            m = r["tau"] < upto
            if not m.any():
                continue
            sel = (lambda v: v) if m.all() else (lambda v, m=m: v[m])
            tau, core, cum = sel(r["tau"]), sel(r["core"]), sel(r["cum"])
            if r.get("before"):  # chain the blocks of populations sharing a core: the soma latency of the earlier ones
                off = np.zeros(len(tau))
                for q in r["before"]:
                    off += self.block[q].numpy()[tau - self.base, core]
                cum = cum + off
            parts.append((tau, core, sel(r["pos"]), cum, sel(r["src"])))
        # placeholders: what is left of every core's soma loop after its last sender
        soma = self.soma[:k].numpy()
        steps_, cores_ = np.nonzero(soma > 0)
        parts.append((steps_ + self.base, cores_, np.full(len(steps_), np.iinfo(np.int64).max), soma[steps_, cores_],
                      np.full(len(steps_), -1)))
        tau, core, pos, cum, src = (np.concatenate([q[j] for q in parts]) for j in range(5))
        tau = tau - self.base
        span = int(pos[pos < np.iinfo(np.int64).max].max(initial=0)) + 2
        if k * self.C * span < 2 ** 62:  # one int64 key: (step, core, position in the soma loop; placeholders last)
            order = np.argsort((tau * self.C + core) * span + np.minimum(pos, span - 1), kind="stable")  # sorted runs
        else:  # pragma: no cover - astronomically many steps x cores x neurons per core
            order = np.lexsort((pos, core, tau))
        return detailed_latency_of_senders(tau[order], core[order], cum[order], src[order], k, p["msg_table"],
                                           p["out_lat"], p["in_lat"], p["syn_lat"], p["core_x"], p["core_y"],
                                           p["core_off"], p["mesh"], p["hop_latency"], p["buffer_size"], self.barrier,
                                           chip=p.get("chip"))

    # ------------------------------------------------------------------ results
    def step_latency(self, model: str):
        parts = self.simple_ns if model == "simple" else self.detailed_ns
        return np.concatenate(parts) if parts else None
