"""Sharded event simulation (issue 16 point 2): the samples split into shards, each simulated apart as part of
the whole run, the parts merged; the merged result and report equal the single-process ones exactly."""
import pytest

from snn2hw.data import load_dataset, model_inputs
from snn2hw.frontends.load import load_with_module
from snn2hw.report.build import build_report
from snn2hw.simulators.event import simulate_events
from snn2hw.simulators.event_shards import shard_bounds, sharded
from snn2hw.util.pool import SerialPool
from tests.determinism.test_batch_invariance import assert_identical

CKPT = "examples/digits_lif.pt"


def test_shard_bounds_are_contiguous_and_as_even_as_they_can_be():
    assert shard_bounds(7, 3) == [(0, 3), (3, 5), (5, 7)]
    assert shard_bounds(2, 5) == [(0, 1), (1, 2)]  # never an empty shard
    assert shard_bounds(4, 1) == [(0, 4)]
    with pytest.raises(Exception, match="shards must be >= 1"):
        shard_bounds(4, 0)


def test_uneven_shards_give_the_identical_report_and_event_results(monkeypatch):
    """7 samples in 3 shards (3, 2, 2) in batches of 2: shard boundaries inside the single process's batches,
    the virtual fill sample in shard 0 and the shortened drain in shard 2. The report is equal exactly, and so
    is every field of each profile's event result behind it (outputs, counts per layer / synapse / core,
    energy, each device step's latency under both timing models, overflow tallies)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    g, module = load_with_module(CKPT)
    x, y, _ = model_inputs(g, load_dataset("digits"), 7, None)
    seen = {"one": [], "sharded": []}

    def keep(name, fn):
        def run(*a, **kw):
            seen[name].append(fn(*a, **kw))
            return seen[name][-1]
        return run
    kw = dict(labels=y, source="digits_lif.pt", data_name="digits", batch_size=2, model=module)
    one = build_report(g, x, ["loihi", "speck"], events=keep("one", simulate_events), **kw)
    merged = build_report(g, x, ["loihi", "speck"], events=keep("sharded", sharded(SerialPool(), shards=3)), **kw)
    assert_identical(merged, one, "report")
    assert_identical(seen["sharded"], seen["one"], "event results")
    ev = seen["one"][0]
    assert ev.totals["spikes_out_per_sample"] > 0 and len(ev.latency["models"]["detailed"]["step_latency_ns"]) == \
        ev.protocol.steps == 7 * ev.protocol.frames
