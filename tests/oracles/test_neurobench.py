"""NeuroBench 2.3.0 as a test oracle: the report's NeuroBench-named figures are NeuroBench's own.

``snn2hw simulate`` writes a ``neurobench`` block per profile. Here NeuroBench itself (its
``Benchmark`` and metric classes) runs on

* the torch model rebuilt from the checkpoint (``TorchModel`` with snn2hw's neuron class added as an
  activation module, the digits test samples direct-encoded with T = 4 as snn2hw does, the same
  batches as the report): ``footprint_bytes``, ``parameter_count``, ``connection_sparsity``,
  ``activation_sparsity`` and the ``float_*`` synaptic operations must equal its Footprint,
  ParameterCount, ConnectionSparsity, ActivationSparsity and SynapticOperations;
* a replay of the integer model (each synapse an nn.Linear/Conv2d holding ``weight_int``, called once
  per timestep and batch with the integer values the chip receives, computed by snn2hw's reference
  simulator): ``effective_acs_per_sample`` / ``effective_macs_per_sample`` / ``dense_sops_per_sample``
  must equal its SynapticOperations.

Equal means equal after the report's JSON rounding (12 significant digits, ``report/build.py``).
Models: the shipped ``examples/digits_lif.pt`` and a small ``digits_conv`` trained one epoch, with a
pruning mask (so that connection sparsity, masks and non-persistent buffers are exercised).
NeuroBench is a dev dependency only: without it these tests FAIL, they are not skipped.
"""
from __future__ import annotations

import json
import re

import pytest
import torch

from snn2hw.data import load_dataset
from snn2hw.frontends.checkpoint import save_checkpoint
from snn2hw.report.build import _clean
from tests.helpers.neurobench_oracle import BATCH, PROFILE, REPO, SAMPLES, T, load_neurobench, neurobench_figures


@pytest.fixture(scope="session")
def neurobench():
    try:
        return load_neurobench()
    except ImportError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def trained_conv(tmp_path_factory):
    """digits_conv (8, 16 channels) trained 1 epoch, 60% of conv1's weights masked off (smallest |w|)."""
    from snn2hw.compress.masks import add_masks, set_mask
    from snn2hw.models import build_model
    from snn2hw.train import train
    data = load_dataset("digits")
    torch.manual_seed(0)
    m = build_model("digits_conv", widths=(8, 16))
    train(m, data, epochs=1, T=T, lr=1e-2, batch_size=64, seed=0, progress=False)
    conv1 = m.conv1.inner[0]
    add_masks(m, ["conv1.inner.0"])
    w = conv1.weight.detach().abs()
    set_mask(conv1, w > w.flatten().kthvalue(int(0.6 * w.numel())).values)
    return save_checkpoint(tmp_path_factory.mktemp("nb") / "conv1ep.pt", m, input_step=data.input_step,
                           timesteps=T, encoding="direct", dataset="digits")


def _report(ckpt, tmp_path) -> dict:
    from snn2hw.cli import cli
    out = tmp_path / "rep"
    cli.main(args=["simulate", str(ckpt), "--profile", PROFILE, "--data", "digits", "--samples", str(SAMPLES),
                   "--batch-size", str(BATCH), "--out", str(out)], prog_name="snn2hw", standalone_mode=False)
    rep = json.loads((out / "report.json").read_text())
    assert rep["inputs"]["timesteps"] == T and rep["inputs"]["samples"] == SAMPLES
    return rep["runs"][0]["neurobench"]


def _check(nb, ckpt, tmp_path) -> dict:
    got = _report(ckpt, tmp_path)
    want = neurobench_figures(nb, ckpt)
    assert {k: got[k] for k in want} == _clean(want)
    assert got["dense_sops_per_sample"] == got["float_dense_sops_per_sample"]  # dense depends on shapes only
    return got


def test_shipped_digits_lif_matches_neurobench(neurobench, tmp_path):
    got = _check(neurobench, REPO / "examples" / "digits_lif.pt", tmp_path)
    # the integer graph's own figures differ from the torch model's and keep their own names
    assert got["int_connection_sparsity"] > got["connection_sparsity"] == 0.0  # quantization zeros
    assert got["int_footprint_bytes"] < got["footprint_bytes"]


def test_trained_pruned_digits_conv_matches_neurobench(neurobench, trained_conv, tmp_path):
    got = _check(neurobench, trained_conv, tmp_path)
    assert got["connection_sparsity"] > 0.3  # the mask is seen by both


def test_package_does_not_import_neurobench():
    """NeuroBench is a dev/test oracle: no module of the installed package imports it."""
    pat = re.compile(r"^\s*(import|from)\s+neurobench\b", re.M)
    offenders = [str(p.relative_to(REPO)) for d in ("snn2hw", "simulators", "exporters", "hw_profiles")
                 for p in (REPO / d).rglob("*.py") if pat.search(p.read_text())]
    assert not offenders
