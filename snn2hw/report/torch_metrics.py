"""NeuroBench's metrics of the torch model itself (the module rebuilt from the user's checkpoint).

Our own code, written after NeuroBench 2.3.0's definitions (``neurobench/metrics/static/*``,
``metrics/workload/{activation_sparsity,synaptic_operations}.py``, ``metrics/utils/layers/*``,
``models/neurobench_model.py``); snn2hw does not import neurobench, the test suite runs it as an
oracle (``tests/oracles/test_neurobench.py``). Every figure is what NeuroBench reports for a
``TorchModel(model)`` with snn2hw's neuron class added as an activation module
(``add_activation_module(snn2hw.nn.neurons.SpikingNeuron)``), fed the same ``[T, B, ...]`` inputs in
the same batches:

* ``footprint_bytes``: sum over ``model.parameters()`` and ``model.buffers()`` of
  ``numel x element_size`` (stored dtypes: float32 weights 4 B, BatchNorm's int64
  ``num_batches_tracked`` 8 B, pruning masks and non-persistent buffers included).
* ``parameter_count``: sum of ``numel`` over the parameters.
* ``connection_sparsity``: zeros / total over the ``weight`` of every *leaf* Linear/Conv1d/2d/3d
  reached through ``children()`` (biases excluded, neurons skipped), rounded to 4 decimals;
  null when there is no such weight (NeuroBench fails there).
* ``activation_sparsity``: 1 - nonzero / all outputs of every activation module (snn2hw neurons,
  nn.ReLU, nn.Sigmoid; a module that is one is not searched further), over all timesteps and
  samples; the readout Linear has no neuron, so it is not counted. Averaged over the batches as
  NeuroBench does (each batch's sparsity x its samples / all samples, summed in float).
* ``float_effective_acs/macs_per_sample``, ``float_dense_sops_per_sample``: NeuroBench's
  SynapticOperations on the float model: for every forward call of a Linear/Conv layer, the
  binarised input (nonzero -> 1) through the binarised weights (nonzero -> 1, no bias), summed
  (float32, as NeuroBench sums), is AC when every input value of the call is in {-1, 0, 1}, else
  MAC; dense: the same with every input and weight 1. A ``TimeDistributed`` layer is one call over
  all T x B inputs, so after an AvgPool (values 0.25, 0.5, ...) the call is a MAC. Per sample.

The integer network's counts (``effective_acs_per_sample`` ...) come from the event simulator
and equal NeuroBench run on a replay of the integer model (see ``simulators/costs.py``).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from snn2hw.nn.neurons import SpikingNeuron

CONNECTION_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)  # NeuroBench's STATELESS_LAYERS
ACTIVATION_MODULES = (nn.ReLU, nn.Sigmoid, SpikingNeuron)  # SUPPORTED_ACTIVATIONS + snn2hw's neurons


def footprint_bytes(model: nn.Module) -> int:
    """NeuroBench's Footprint: parameters and buffers at their stored element size, in bytes."""
    return int(sum(p.numel() * p.element_size() for p in model.parameters())
               + sum(b.numel() * b.element_size() for b in model.buffers()))


def parameter_count(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def _zeros_weights(module: nn.Module) -> tuple:
    children = list(module.children())
    if not children:  # NeuroBench looks at leaves only
        if isinstance(module, CONNECTION_LAYERS):
            return int((module.weight == 0).sum()), int(module.weight.numel())
        return 0, 0
    z = n = 0
    for c in children:
        cz, cn = _zeros_weights(c)
        z, n = z + cz, n + cn
    return z, n


def connection_sparsity(model: nn.Module) -> Optional[float]:
    """NeuroBench's ConnectionSparsity (see the module docstring); None without any weight."""
    z = n = 0
    for c in model.children():
        cz, cn = _zeros_weights(c)
        z, n = z + cz, n + cn
    return round(z / n, 4) if n else None


def _modules_of(model: nn.Module, kinds: tuple) -> list:
    """Children of the given kinds, searched recursively below the root (NeuroBench's layer search)."""
    out = []
    for child in model.children():
        if isinstance(child, kinds):
            out.append(child)
        elif list(child.children()):
            out.extend(_modules_of(child, kinds))
    return out


def activation_modules(model: nn.Module) -> list:
    """NeuroBench's ``activation_layers()``: activation children, searched recursively below the root."""
    return _modules_of(model, ACTIVATION_MODULES)


def connection_modules(model: nn.Module) -> list:
    """NeuroBench's ``connection_layers()`` (the stateless ones)."""
    return _modules_of(model, CONNECTION_LAYERS)


def _binary_forward(layer: nn.Module, x: torch.Tensor, w: torch.Tensor) -> int:
    if isinstance(layer, nn.Linear):
        y = nn.functional.linear(x, w)
    else:
        y = layer._conv_forward(x, w, None)
    return int(y.sum())


class _SynOps:
    """Pre-hook on one connection layer: NeuroBench's single_layer_MACs for every call."""

    def __init__(self, layer: nn.Module):
        self.layer, self.acs, self.macs, self.dense = layer, 0, 0, 0
        w = layer.weight.detach()
        self.wb = (w != 0).to(w.dtype)
        self.ones = torch.ones_like(w)
        self._dense = {}
        self.handle = layer.register_forward_pre_hook(self)

    def __call__(self, module, inputs):
        x = inputs[0].detach()
        spiking = not bool(((x != 0) & (x != 1) & (x != -1)).any())
        ops = _binary_forward(self.layer, (x != 0).to(x.dtype), self.wb)
        if spiking:
            self.acs += ops
        else:
            self.macs += ops
        key = (tuple(x.shape), x.dtype)
        if key not in self._dense:  # depends on the shape only
            self._dense[key] = _binary_forward(self.layer, torch.ones_like(x), self.ones)
        self.dense += self._dense[key]


def torch_model_metrics(model: nn.Module, x: torch.Tensor, batch_size: Optional[int] = None) -> dict:
    """NeuroBench's figures of ``model`` run on ``x`` (``[T, B, ...]``, cast to the model's dtype)
    in batches of ``batch_size`` samples (all at once by default), per sample where counted."""
    out = {"footprint_bytes": footprint_bytes(model), "parameter_count": parameter_count(model),
           "connection_sparsity": connection_sparsity(model)}
    p = next(iter(model.parameters()), None)
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    B = int(x.shape[1])
    bs = B if not batch_size else int(batch_size)
    counts = {"nonzero": 0, "total": 0}
    sparsity = 0.0

    def act_hook(module, inputs, output):
        o = output[0] if isinstance(output, tuple) else output
        counts["nonzero"] += int(torch.count_nonzero(o))
        counts["total"] += int(o.numel())

    was_training = model.training
    model.eval()
    syn = [_SynOps(m) for m in connection_modules(model)]
    handles = [m.register_forward_hook(act_hook) for m in activation_modules(model)]
    try:
        with torch.no_grad():
            for s in range(0, B, bs):
                xb = x[:, s:s + bs]
                counts["nonzero"] = counts["total"] = 0
                model(xb.to(dtype))
                if counts["total"]:  # NeuroBench: per batch, weighted by the batch's share of the samples
                    sparsity += ((counts["total"] - counts["nonzero"]) / counts["total"]) * int(xb.shape[1]) / B
    finally:
        for h in handles + [o.handle for o in syn]:
            h.remove()
        model.train(was_training)
    out["activation_sparsity"] = sparsity
    out["float_effective_acs_per_sample"] = sum(o.acs for o in syn) / B
    out["float_effective_macs_per_sample"] = sum(o.macs for o in syn) / B
    out["float_dense_sops_per_sample"] = sum(o.dense for o in syn) / B
    return out
