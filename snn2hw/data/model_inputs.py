"""The inputs a command feeds a model: test samples of a data set, shaped and encoded for the graph."""
from __future__ import annotations

import numpy as np
import torch

from snn2hw.errors import Snn2hwError

from .encoding import direct, events
from .random_data import DEFAULT_STEP, RandomInputs


def _check_size(T: int, n: int, shape) -> None:
    """Refuse T or T x samples x input size above the limits before the inputs are allocated."""
    from snn2hw.util.limits import MAX_TIMESTEPS, bytes_limit_text, numel, too_many_bytes
    if not 0 < T <= MAX_TIMESTEPS:
        raise Snn2hwError(f"{T} timesteps requested; at most {MAX_TIMESTEPS} are supported (lower -T)")
    need = T * max(n, 1) * numel(shape) * 8
    if too_many_bytes(need):
        raise Snn2hwError(f"the inputs would need {need / 1e9:.2f} GB (T={T} x {n} samples x {numel(shape)} "
                          f"inputs x 8 bytes), above the {bytes_limit_text()}; lower the number of samples or -T")


def model_inputs(graph, data, samples: int, timesteps=None) -> tuple:
    """``(x [T, N, *input_shape] float64, labels [N] or None, T)``: the first ``samples`` test samples of
    ``data`` (a :class:`Dataset`) for ``graph``'s input, direct-encoded over ``timesteps`` steps (default:
    the model's recorded ``timesteps``, else 4). Flat samples are reshaped when the element counts agree;
    otherwise a clear error names both shapes.

    ``data`` may also be :class:`~snn2hw.data.random_data.RandomInputs` (``--data random``): then
    ``samples`` random samples are drawn for the graph's Input shape, on its lattice ``step`` and within its
    integer range; an Input without a step gets 1/255 first (written into the graph, so that converting it
    uses the same lattice). ``labels`` is None when the data has none (every label -1, as random data):
    accuracy does not apply.

    Event data (``data.timesteps`` set, :mod:`snn2hw.data.events`) enters as its own frames, one per step
    (``T = data.timesteps``; a different ``timesteps`` is an error)."""
    T = int(timesteps or graph.metadata.get("timesteps", 4))
    T_data = getattr(data, "timesteps", None)
    if T_data:   # event frames: one frame per step, T is the data's
        if timesteps and int(timesteps) != int(T_data):
            raise Snn2hwError(f"the data '{data.name}' holds {T_data} event frames per sample; -T {timesteps} "
                              f"does not match (leave -T out or re-bin the data)")
        T = int(T_data)
    node = graph.nodes[graph.inputs[0]]
    shape = tuple(node.shape)
    _check_size(T, int(samples) if isinstance(data, RandomInputs) else min(int(samples), len(data.y_test)), shape)
    if isinstance(data, RandomInputs):
        for name in graph.inputs:
            if graph.nodes[name].step is None:
                graph.nodes[name].step = DEFAULT_STEP
        data = data.for_shape(shape, int(samples), step=node.step, hi=node.int_range()[1])
    n = min(int(samples), len(data.y_test))
    xs = data.x_test[:n]
    if T_data:
        if tuple(xs.shape[2:]) != shape:
            raise Snn2hwError(f"the model expects inputs of shape {shape}, the event data '{data.name}' has "
                              f"frames of {tuple(xs.shape[2:])}")
        y = np.asarray(data.y_test[:n])
        return events(torch.as_tensor(xs, dtype=torch.float64), T), y, T
    if tuple(xs.shape[1:]) != shape:
        if int(np.prod(xs.shape[1:])) != int(np.prod(shape)):
            raise Snn2hwError(f"the model expects inputs of shape {shape}, the data '{data.name}' has "
                              f"{tuple(xs.shape[1:])} (a model without a data set of its shape can be costed on "
                              f"--data random)")
        xs = xs.reshape((n,) + shape)
    y = np.asarray(data.y_test[:n])
    labels = None if len(y) and bool((y < 0).all()) else y
    return direct(torch.as_tensor(xs, dtype=torch.float64), T), labels, T
