"""Run two graphs on the same inputs with the float reference simulator and compare them."""
from __future__ import annotations

import numpy as np
import torch

from snn2hw.ir import nodes as N
from snn2hw.simulators.reference import simulate


def run(graph, x, mode: str = "float"):
    return simulate(graph, torch.as_tensor(np.asarray(x)), mode=mode, record=["spikes"], dtype=torch.float64)


def assert_same_behaviour(before, after, x, atol: float = 1e-6) -> dict:
    """Outputs within ``atol`` (max abs) and identical spike tensors for every neuron of ``before``.

    Returns ``{"max_abs": ..., "rate": mean firing rate of the hidden neurons}``.
    """
    a, b = run(before, x), run(after, x)
    diff = float((a.output - b.output).abs().max())
    assert diff <= atol, f"outputs differ by {diff:.3g} > {atol:g}"
    spikes_a, spikes_b = a.record["spikes"], b.record["spikes"]
    for name, s in spikes_a.items():
        assert name in spikes_b, f"neuron '{name}' disappeared"
        if not torch.equal(s, spikes_b[name]):
            n = int((s != spikes_b[name]).sum())
            raise AssertionError(f"neuron '{name}': {n} spike(s) differ")
    rates = a.firing_rates()
    return {"max_abs": diff, "rate": float(np.mean(list(rates.values()))) if rates else 0.0, "rates": rates}


def count(graph, cls) -> int:
    return sum(isinstance(n, cls) for n in graph.nodes.values())


def neurons(graph):
    return {k: v for k, v in graph.nodes.items() if isinstance(v, N.Neuron)}
