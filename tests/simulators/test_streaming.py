"""The simulators stream: memory held across batches does not grow with per-neuron data per sample.

No timing and no process memory: after every batch a simulator finishes (its
runner's ``run`` returns), the test sums the bytes of every torch tensor storage
alive in the process (found through the garbage collector; the caller's input
tensor excluded). Streaming means that sum is the same for N = 24 and for 48 samples
in batches of 8, but for the small per-sample outputs kept to the end (class
scores, spike counts per layer, step latencies: a few hundred bytes per sample).
A simulator that kept spikes, currents or membranes per neuron per sample would
add ``T x neurons x 8`` bytes per sample (tens of kB here); the test checks its
own power with ``record_spikes=True`` / ``record=["spikes"]``, where that is what
the user asked for. The returned results are also searched for any tensor with a
per-neuron-per-sample number of elements.
"""
import gc
import warnings

import numpy as np
import pytest
import torch

import snn2hw
from snn2hw.report.build import build_report
from snn2hw.simulators import event, reference
from snn2hw.simulators.event import sequential_placement, simulate_events
from tests.determinism.test_batch_invariance import assert_identical
from tests.helpers.random_graphs import random_graph

T, BATCH, N = 4, 8, 24
#: bytes a simulator may keep per sample until the end (outputs, per-layer counts, step latencies)
PER_SAMPLE_ALLOWANCE = 1024


def _live_tensor_bytes(exclude_ptrs) -> int:
    """Bytes of all distinct storages of reachable torch tensors, but the excluded ones."""
    seen, total = set(), 0
    gc.collect()  # only what is still reachable: garbage cycles awaiting collection are not held
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isinstance on some lazily deprecated torch module attributes warns
        objs = [o for o in gc.get_objects() if isinstance(o, torch.Tensor)]
    for o in objs:
        try:
            st = o.untyped_storage()
        except RuntimeError:  # tensors without storage (meta, sparse)
            continue
        p = st.data_ptr()
        if p in seen or p in exclude_ptrs:
            continue
        seen.add(p)
        total += st.nbytes()
    return total


@pytest.fixture
def peak_after_batches(monkeypatch):
    """Patch both simulators' per-batch ``run``; ``measure(fn, x)`` -> (result, max live tensor bytes
    after the last batch of each simulation, when everything kept across batches is there)."""
    state = {"peak": 0, "exclude": set(), "calls": 0, "last": 1}

    def wrap(orig):
        def run(self, *a, **k):
            out = orig(self, *a, **k)
            state["calls"] += 1
            if state["calls"] % state["last"] == 0:
                state["peak"] = max(state["peak"], _live_tensor_bytes(state["exclude"]))
            return out
        return run

    monkeypatch.setattr(event._EventRunner, "run", wrap(event._EventRunner.run))
    monkeypatch.setattr(reference._Runner, "run", wrap(reference._Runner.run))

    def measure(fn, x, keep=None):
        """``keep``: an earlier result still held by the test; its tensors are not counted."""
        state["peak"], state["exclude"] = 0, {x.untyped_storage().data_ptr()} | _storage_ptrs(keep)
        state["calls"], state["last"] = 0, -(-x.shape[1] // BATCH)
        res = fn(x)
        return res, state["peak"]
    return measure


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(7)
    g = random_graph(rng, "residual", step=1 / 16, resets=("zero",))
    gi = snn2hw.convert(g, "loihi").graph
    x = torch.as_tensor(np.round(rng.uniform(0, 1, size=(T, 2 * N) + gi.nodes[gi.inputs[0]].shape) * 16) / 16)
    neurons = sum(int(np.prod(n.output_shape)) for n in gi.nodes.values() if isinstance(n, snn2hw.ir.nodes.Neuron))
    return gi, x, neurons


def _growth(measure, fn, x):
    """Bytes of live tensors added by N more samples (2N vs N, batches of 8), and the two results."""
    r_n, p_n = measure(fn, x[:, :N].clone())
    r_2n, p_2n = measure(fn, x.clone(), keep=r_n)
    return p_2n - p_n, r_n, r_2n


def _children(obj):
    if isinstance(obj, dict):
        return list(obj.items())
    if isinstance(obj, (list, tuple)):
        return list(enumerate(obj))
    if hasattr(obj, "__dataclass_fields__"):
        return [(k, getattr(obj, k)) for k in obj.__dataclass_fields__]
    return []


def _storage_ptrs(obj) -> set:
    """Data pointers of every tensor and array inside a result (arrays from ``.numpy()`` share them)."""
    if isinstance(obj, torch.Tensor):
        return {obj.untyped_storage().data_ptr()}
    if isinstance(obj, np.ndarray):
        return {obj.ctypes.data}
    return set().union(*[_storage_ptrs(v) for _, v in _children(obj)])


def _big_tensors(obj, limit, path="result"):
    """Paths of tensors/arrays inside ``obj`` with at least ``limit`` elements."""
    out = []
    for k, v in _children(obj):
        out += _big_tensors(v, limit, f"{path}[{k!r}]")
    if isinstance(obj, torch.Tensor) and obj.numel() >= limit:
        out.append(path)
    elif isinstance(obj, np.ndarray) and obj.size >= limit:
        out.append(path)
    return out


def test_event_simulator_streams(net, peak_after_batches):
    gi, x, neurons = net
    pl = sequential_placement(gi, neurons_per_core=64)
    per_neuron_sample = N * T * neurons * 8  # what keeping int64 spikes of N more samples costs
    assert per_neuron_sample > 20 * N * PER_SAMPLE_ALLOWANCE  # the network is big enough to tell the two apart

    grow, r_n, r_2n = _growth(peak_after_batches, lambda xx: simulate_events(gi, xx, pl, batch_size=BATCH), x)
    assert grow <= N * PER_SAMPLE_ALLOWANCE, grow
    assert _big_tensors(r_2n, 2 * N * neurons // 4) == []
    # streaming changes no result: N samples in batches of 8 equal N samples at once
    assert_identical(r_n, simulate_events(gi, x[:, :N].clone(), pl, batch_size=N))

    # the measurement sees retention when spikes are asked for
    grow_rec, _, r_2n = _growth(peak_after_batches,
                               lambda xx: simulate_events(gi, xx, pl, batch_size=BATCH, record_spikes=True), x)
    assert grow_rec >= per_neuron_sample * 0.9, (grow_rec, per_neuron_sample)
    assert _big_tensors(r_2n, 2 * N * neurons // 4)


@pytest.mark.parametrize("mode", ["int", "float"])
def test_reference_simulator_streams(net, peak_after_batches, mode):
    gi, x, neurons = net
    grow, r_n, _ = _growth(peak_after_batches, lambda xx: snn2hw.simulate(gi, xx, mode=mode, batch_size=BATCH), x)
    assert grow <= N * PER_SAMPLE_ALLOWANCE, grow
    same = snn2hw.simulate(gi, x[:, :N].clone(), mode=mode, batch_size=N)
    assert torch.equal(r_n.output, same.output) and torch.equal(r_n.predictions(), same.predictions())
    grow_rec, _, _ = _growth(peak_after_batches, lambda xx: snn2hw.simulate(gi, xx, mode=mode, batch_size=BATCH,
                                                                            record=["spikes"]), x)
    assert grow_rec >= N * T * neurons * 8 * 0.9


def test_report_build_streams(net, peak_after_batches):
    gi, x, _ = net
    labels = np.zeros(2 * N, dtype=int)
    grow, _, _ = _growth(peak_after_batches, lambda xx: build_report(gi, xx, ["loihi"], labels=labels[:xx.shape[1]],
                                                                     batch_size=BATCH), x)
    assert grow <= N * PER_SAMPLE_ALLOWANCE, grow
