"""The event simulation of a run split into shards of samples, computed apart and merged exactly.

A shard is a contiguous range of the run's samples, ``start .. stop - 1``.
:func:`simulate_shard` runs one shard as the chip runs it *inside the whole run* (the run protocol,
``simulators/run_protocol.py``, of all the samples: its device steps, the virtual fill sample before
sample 0, the shortened drain of the last sample), in batches of ``batch_size`` from its first sample, and
returns a :class:`ShardPart`; :func:`merge_shards` adds the parts, in sample order, into the
:class:`~snn2hw.simulators.event.EventResult` of the whole run. :func:`sharded` wraps both as a drop-in
``simulate_events`` that runs the shards on a pool (``snn2hw/util/pool.py``: local processes or Ray).

Counts are sums, so the shards' counts add up; only device steps are shared between neighbours: the
idle frames of a shard's last sample run in device steps ``tau0(stop) .. tau0(stop) + D - 1``, beside the
first frames of the next shard's first sample. A shard finalizes (per-core sums, step latencies) only the
steps no other shard touches; it keeps the steps it shares with the next shard as its *tail* (the
timeline's window, unfinalized) and logs every addition it makes to the steps it shares with the previous
shard (its *head*) instead of applying it. The merge replays each head's additions, in their order, on the
previous shard's tail and finalizes those steps: the same additions in the same order as a single process
whose batch ends at the shard's boundary, which equals any other batching exactly (the event simulator
is batch invariant, ``tests/determinism/test_batch_invariance.py``). Per-sample outputs and step latencies
concatenate in sample order; means and maxima are taken after the merge (``event._result``).

Only the chip's own reset (``reset='state'``) is sharded: with reset neurons a sample's reset spikes land
one step before its first frame, in the previous shard's steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from snn2hw.errors import Snn2hwError
from snn2hw.simulators.event import EventResult, _as_input, _result, join_parts, prepare, run_samples
from snn2hw.simulators.event_timeline import Timeline


def shard_bounds(samples: int, shards: int) -> list:
    """``[(start, stop), ...]``: ``samples`` split into ``min(shards, samples)`` contiguous shards whose sizes
    differ by at most one (the first ones get the extra sample): 7 samples in 3 shards are 3, 2, 2."""
    samples, shards = int(samples), int(shards)
    if shards < 1:
        raise Snn2hwError(f"shards must be >= 1, got {shards}")
    k = max(1, min(shards, samples))
    per, extra = divmod(samples, k)
    out, at = [], 0
    for j in range(k):
        n = per + (j < extra)
        out.append((at, at + n))
        at += n
    return out


class _ShardTimeline(Timeline):
    """A timeline whose steps before ``head_end`` belong to the previous shard too: additions to them are
    logged in :attr:`head` (in order), not applied; the timeline itself starts at ``head_end``."""

    def __init__(self, *args, head_end: int = 0, **kw):
        super().__init__(*args, **kw)
        self.head_end = int(head_end)
        self.base = self.head_end
        self.head = []

    def _add_to(self, store: str, key, tau_start: int, counts: torch.Tensor):
        n = min(self.head_end - tau_start, counts.shape[0])
        if n > 0:
            self.head.append(("add", store, key, tau_start, counts[:n].clone()))
        super()._add_to(store, key, tau_start, counts)

    def add_span(self, tau_start: int, span: np.ndarray):
        n = min(self.head_end - tau_start, len(span))
        if n > 0:
            self.head.append(("span", tau_start, np.array(span[:n])))
        super().add_span(tau_start, span)

    def add_records(self, rec: dict):
        m = rec["tau"] < self.head_end
        if m.any():
            self.head.append(("records", {k: (v[m] if isinstance(v, np.ndarray) else v) for k, v in rec.items()}))
        super().add_records(rec)


#: the timeline's window state a shard hands over (the steps it shares with the next shard)
_WINDOW = ("base", "rows", "win", "span", "soma", "block", "records")


@dataclass
class ShardPart:
    """One shard's share of the run (plain tensors, arrays and dicts: it travels between processes)."""
    start: int
    stop: int
    head_end: int
    head: list                 # logged additions to the steps shared with the previous shard, in order
    tail: dict                 # the timeline's window: the steps shared with the next shard, unfinalized
    core_total: dict           # per-core sums of the finalized steps
    simple_ns: list            # step latencies of the finalized steps, window by window
    detailed_ns: list
    acc: dict                  # per-layer / per-synapse sums (event._EventRunner.run's ``acc``)
    sites: dict                # overflow tally: name -> kind -> {"events", "mask", "samples"}
    parts: list = field(default_factory=list)  # the chunks' outputs (event.join_parts)


def simulate_shard(graph, x, start: int, samples: int, placement, profile, batch_size=None, timing=("simple",),
                   record_spikes: bool = False, reset: str = "state") -> ShardPart:
    """Samples ``start .. start + n - 1`` (``x``: their inputs ``[T, n, ...]``) of a run of ``samples`` samples
    on ``placement``, in batches of ``batch_size`` from ``start``."""
    x = _as_input(x)
    if reset != "state":
        raise Snn2hwError(f"sharded simulation runs the chip's own reset only (reset='state'), got {reset!r}")
    start, n = int(start), int(x.shape[1])
    s = prepare(graph, int(x.shape[0]), int(samples), placement, profile, timing, reset)
    head_end = int(s.proto.tau0(start)) + s.runner.D if start > 0 else 0
    tl = s.timeline(_ShardTimeline, head_end=head_end)
    acc = {"layer": {}, "syn": {}}
    parts = run_samples(s, x, start, tl, acc, batch_size, record_spikes)
    tl.finalize(int(s.proto.tau0(start + n)))
    tail = {k: getattr(tl, k) for k in _WINDOW}
    tail.update(win={e: t.clone() for e, t in tl.win.items()}, span=tl.span.clone(), soma=tl.soma.clone(),
                block={q: t.clone() for q, t in tl.block.items()})  # the rows alone, not the chunk's storage
    return ShardPart(start=start, stop=start + n, head_end=head_end, head=tl.head,
                     tail=tail, core_total=tl.core_total, simple_ns=tl.simple_ns,
                     detailed_ns=tl.detailed_ns, acc=acc, sites=s.runner.ref.tally.sites, parts=parts)


def _add_sums(into: dict, part: dict):
    """Nested dicts of numbers: ``into += part`` key by key (new keys appended in ``part``'s order)."""
    for k, v in part.items():
        if isinstance(v, dict):
            _add_sums(into.setdefault(k, {}), v)
        else:
            into[k] = into.get(k, 0.0) + v


def _merge_tally(tally, sites: dict):
    for name, kinds in sites.items():
        for kind, r in kinds.items():
            rec = tally.sites[name][kind]
            rec["events"] += r["events"]
            rec["samples"] += r["samples"]
            if r["mask"] is not None:
                rec["mask"] = r["mask"] if rec["mask"] is None else (rec["mask"] | r["mask"])


def merge_shards(graph, x_shape, parts: list, placement, profile, timing=("simple",),
                 reset: str = "state") -> EventResult:
    """The :class:`EventResult` of the whole run from its shards' parts (``x_shape``: the run's input shape
    ``[T, B, ...]``); the parts must cover samples ``0 .. B - 1`` in order."""
    T, B = int(x_shape[0]), int(x_shape[1])
    parts = sorted(parts, key=lambda p: p.start)
    at = 0
    for p in parts:
        if p.start != at:
            raise Snn2hwError(f"shards do not cover the samples: expected one starting at {at}, got {p.start}")
        at = p.stop
    if at != B:
        raise Snn2hwError(f"shards cover samples 0 .. {at - 1} of {B}")
    s = prepare(graph, T, B, placement, profile, timing, reset)
    tl = s.timeline()
    acc = {"layer": {}, "syn": {}}
    chunks = []
    for p in parts:
        for op in p.head:  # the previous shard's tail is the window: the same additions, in the same order
            if op[0] == "add":
                tl._add_to(*op[1:])
            elif op[0] == "span":
                tl.add_span(*op[1:])
            else:
                tl.add_records(op[1])
        tl.finalize(p.head_end)
        for e, t in p.core_total.items():
            tl.core_total[e] += t
        tl.simple_ns += p.simple_ns
        tl.detailed_ns += p.detailed_ns
        for k in _WINDOW:
            setattr(tl, k, p.tail[k])
        _add_sums(acc, p.acc)
        _merge_tally(s.runner.ref.tally, p.sites)
        chunks += p.parts
    tl.finalize(s.proto.steps)
    out, kind, layer_spikes, spikes = join_parts(chunks)
    return _result(graph, s.prof, s.runner, s.proto, tl, acc, out, kind, layer_spikes, spikes, s.notes, s.timing,
                   s.lat_missing, s.barrier, s.tiles)


def sharded(pool, shards: int = None):
    """A ``simulate_events`` (same arguments, same result) that splits the samples into ``shards`` shards
    (default: the pool's ``size``), runs :func:`simulate_shard` on ``pool`` (``snn2hw.util.pool``) and merges
    the parts here. The placement is computed here when none is given, so every shard runs the same one."""
    def simulate_events(graph, x, placement=None, profile="loihi", batch_size=None, progress=False,
                        record_spikes=False, timing=("simple",), reset="state"):
        from snn2hw.simulators.event import _load_profile
        x = _as_input(x)
        prof = _load_profile(profile)
        note = []
        if placement is None:
            from snn2hw.simulators.mapping import map_graph
            placement = map_graph(graph, prof).placement
            note = ["placement from simulators.mapping.map_graph"]
        B = int(x.shape[1])
        jobs = [(graph, x[:, a:b].contiguous(), a, B, placement, prof, batch_size, timing, record_spikes, reset)
                for a, b in shard_bounds(B, shards or pool.size)]
        parts = pool.map(simulate_shard, jobs, progress=progress)
        ev = merge_shards(graph, tuple(x.shape), parts, placement, prof, timing, reset)
        ev.notes[:0] = note
        return ev
    return simulate_events
