"""The simulators give exactly the same result for every batch size (streaming changes nothing).

On random conv and residual integer networks, the reference simulator (int mode,
overflow counters and recorded spikes, currents and membranes included) and the event simulator
(outputs, spikes, every event count, energy and latency figure, per layer, per
synapse and per core) are run with batch sizes 1, 3 and all samples at once; the
results must be equal exactly (``==`` on every number, ``torch.equal`` on tensors),
not approximately: a report must not depend on how its samples were chunked.
The float model is equal up to float64 rounding (its spikes exactly).
"""
import dataclasses

import numpy as np
import pytest
import torch

import snn2hw
from snn2hw.simulators.event import sequential_placement, simulate_events
from tests.helpers.random_graphs import random_graph, random_input

BATCHES = (1, 3, None)


def assert_identical(a, b, where="result"):
    """Exact, recursive equality of results made of dicts, lists, tensors, arrays and numbers."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            assert_identical(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), where  # same keys in the same order (the report keeps this order)
        for k in a:
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b and type(a) is type(b), (where, a, b)


def _int_graph(seed):
    rng = np.random.default_rng(seed)
    kind = ("conv", "residual")[seed % 2]
    g = random_graph(rng, kind, step=1 / 16, resets=("zero",))
    gi = snn2hw.convert(g, "loihi").graph
    x = torch.as_tensor(random_input(rng, gi, timesteps=4, batch=7))
    return g, gi, x


def test_assert_identical_sees_differences():
    with pytest.raises(AssertionError):
        assert_identical({"a": torch.zeros(3)}, {"a": torch.tensor([0.0, 0.0, 1e-12])})
    with pytest.raises(AssertionError):
        assert_identical({"a": 1.0, "b": 2.0}, {"b": 2.0, "a": 1.0})
    with pytest.raises(AssertionError):
        assert_identical([0.1 + 0.2], [0.3])


@pytest.mark.parametrize("seed", range(4))
def test_reference_is_batch_invariant(seed):
    g, gi, x = _int_graph(seed)
    runs = [snn2hw.simulate(gi, x, mode="int", record=["spikes", "u", "v"], batch_size=bs) for bs in BATCHES]
    assert sum(float(v.sum()) for v in runs[-1].layer_spikes.values()) > 0  # not a silent network
    for r in runs[:-1]:
        assert_identical(r, runs[-1], f"int seed {seed}")


@pytest.mark.parametrize("seed", range(4))
def test_float_reference_is_batch_invariant_up_to_rounding(seed):
    """Float mode: torch's float64 convolutions pick their summation order by batch size, so
    currents and membranes may differ in the last bits (seen: 3.6e-15 on a residual net);
    spikes, spike counts and predictions must still be equal."""
    g, _, x = _int_graph(seed)
    runs = [snn2hw.simulate(g, x, mode="float", record=["spikes", "v"], batch_size=bs) for bs in BATCHES]
    ref = runs[-1]
    for r in runs[:-1]:
        torch.testing.assert_close(r.output, ref.output, rtol=1e-12, atol=1e-12)
        assert torch.equal(r.predictions(), ref.predictions())
        assert_identical(r.layer_spikes, ref.layer_spikes, f"float seed {seed} layer_spikes")
        assert_identical(r.record["spikes"], ref.record["spikes"], f"float seed {seed} spikes")


@pytest.mark.parametrize("seed", range(4))
def test_event_simulator_is_batch_invariant(seed):
    _, gi, x = _int_graph(seed)
    rng = np.random.default_rng(100 + seed)
    pl = sequential_placement(gi, neurons_per_core=int(rng.integers(5, 60)), mesh_width=3, cores_per_tile=2)
    runs = [simulate_events(gi, x, pl, "loihi", batch_size=bs, record_spikes=True) for bs in BATCHES]
    assert runs[-1].totals["synops_per_sample"] > 0 and runs[-1].latency["latency_ns_per_input_step"] > 0
    for r in runs[:-1]:
        assert_identical(r, runs[-1], f"events seed {seed}")
