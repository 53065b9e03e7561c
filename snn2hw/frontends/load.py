"""``snn2hw.load(path)``: any model file the toolchain accepts, as a Graph.

* ``.s2h``: a snn2hw graph (float or integer);
* anything else is read as a checkpoint (snn2hw bundle, or a state_dict with
  ``model="package.module:factory"``), then converted by torch.fx.

The checkpoint's data facts (input step, timesteps, encoding) go into the
graph: ``Input.step`` and ``graph.metadata``.
"""
from __future__ import annotations

from pathlib import Path

from snn2hw.errors import GraphError
from snn2hw.frontends.checkpoint import load_checkpoint
from snn2hw.frontends.torch_fx import from_module
from snn2hw.ir.graph import Graph
from snn2hw.ir.io import load_graph

CARRIED = ("timesteps", "encoding", "dataset", "input_step", "metrics")


def graph_from_checkpoint(path, model: str | None = None, input_shape=None) -> Graph:
    return _graph_of(load_checkpoint(path, model=model), path, input_shape)


def _graph_of(ck, path, input_shape=None) -> Graph:
    try:
        g = from_module(ck.model, input_shape if input_shape is not None else ck.info.get("input_shape"))
    except GraphError as e:  # e.g. NaN/Inf weights, threshold <= 0: say which file
        raise GraphError(e.problems, context=f"the model in {path}") from None
    for k in CARRIED:
        if k in ck.info:
            g.metadata[k] = ck.info[k]
    step = ck.info.get("input_step")
    if step:
        for name in g.inputs:
            g.nodes[name].step = float(step)
    g.metadata["checkpoint"] = Path(path).name  # the name only: no folder (tmp, home) in artifacts
    return g


def load_with_module(path, model: str | None = None, input_shape=None, nir_reset: str | None = None) -> tuple:
    """``(graph, module)``: as :func:`load`, plus the torch module rebuilt from a checkpoint (None for
    ``.s2h`` and ``.nir`` files), e.g. for NeuroBench's metrics of the torch model in a report."""
    path = Path(path)
    if path.suffix in (".s2h", ".nir"):
        return load(path, input_shape=input_shape, nir_reset=nir_reset), None
    ck = load_checkpoint(path, model=model)
    return _graph_of(ck, path, input_shape), ck.model


def load(path, model: str | None = None, input_shape=None, nir_reset: str | None = None) -> Graph:
    """``input_shape`` (``--input-shape``): the model's per-sample input shape, for checkpoints that do
    not record it (a plain state_dict); a graph file (.s2h, .nir) records its own and must agree.
    ``nir_reset`` (``--nir-reset``): ``"zero"`` or ``"subtract"``, the reset of the spiking neurons of a NIR
    file written by another tool (NIR does not record it; unset: zero, with a warning naming the nodes)."""
    path = Path(path)
    if path.suffix in (".s2h", ".nir"):
        if path.suffix == ".s2h":
            g = load_graph(path)
        else:
            from snn2hw.frontends.nir_import import load_nir
            g = load_nir(path, reset=nir_reset)
        _check_shape(g, input_shape, path)
        return g
    return graph_from_checkpoint(path, model=model, input_shape=input_shape)


def _check_shape(g: Graph, input_shape, path) -> None:
    if input_shape is None:
        return
    have = tuple(g.nodes[g.inputs[0]].shape) if g.inputs else ()
    if have != tuple(int(s) for s in input_shape):
        raise GraphError([f"--input-shape {','.join(map(str, input_shape))} differs from the input shape "
                          f"{','.join(map(str, have))} the file records"], context=str(path))
