"""The inputs a command feeds a model: test samples of a data set, shaped and encoded for the graph."""
from __future__ import annotations

import numpy as np
import torch

from snn2hw.errors import Snn2hwError

from .encoding import direct


def model_inputs(graph, data, samples: int, timesteps=None) -> tuple:
    """``(x [T, N, *input_shape] float64, labels [N], T)``: the first ``samples`` test samples of ``data``
    (a :class:`Dataset`) for ``graph``'s input, direct-encoded over ``timesteps`` steps (default: the
    model's recorded ``timesteps``, else 4). Flat samples are reshaped when the element counts agree;
    otherwise a clear error names both shapes."""
    T = int(timesteps or graph.metadata.get("timesteps", 4))
    n = min(int(samples), len(data.y_test))
    shape = tuple(graph.nodes[graph.inputs[0]].shape)
    xs = data.x_test[:n]
    if tuple(xs.shape[1:]) != shape:
        if int(np.prod(xs.shape[1:])) != int(np.prod(shape)):
            raise Snn2hwError(f"the model expects inputs of shape {shape}, the data '{data.name}' has "
                              f"{tuple(xs.shape[1:])}")
        xs = xs.reshape((n,) + shape)
    return direct(torch.as_tensor(xs, dtype=torch.float64), T), np.asarray(data.y_test[:n]), T
