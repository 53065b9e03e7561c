"""The NIR files `snn2hw export --format nir` writes, unedited, in Norse 1.1.0 (and Sinabs 2.0.3 / 3.1.3) through
the peers' own importers. Norse and Sinabs 2 are in the dev extras; Sinabs 3 (nir <= 1.0.4) runs in
``.venv-sinabs3`` (``make sinabs3-venv``) as a subprocess. A missing peer FAILS these tests, never skips them."""
from __future__ import annotations

import warnings

import pytest
import torch

import snn2hw
from snn2hw.exporters.nir_peers import compare, digits_inputs

MODELS = ("digits", "cuba_mlp", "if_mlp")


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    from snn2hw.frontends.checkpoint import save_checkpoint
    from snn2hw.models import build_model
    root = tmp_path_factory.mktemp("peer_ckpts")
    out = {"digits": "examples/digits_lif.pt"}
    for seed, (name, neuron) in enumerate((("cuba_mlp", "cuba"), ("if_mlp", "if"))):
        torch.manual_seed(4 + seed)
        save_checkpoint(root / f"{name}.pt", build_model("mlp", hidden=(64,), neuron=neuron), input_step=1 / 16,
                        timesteps=4, encoding="direct", dataset="digits")
        out[name] = root / f"{name}.pt"
    return out, root


def _cli_nir(ckpts, model, target):
    from click.testing import CliRunner
    from snn2hw.cli import cli
    src, root = ckpts
    out = root / f"{model}_{target}"
    if not (out / "nir" / "model_float.nir").exists():
        r = CliRunner().invoke(cli, ["export", str(src[model]), "--format", "nir", "--out", str(out), "--data",
                                     "digits", "--max-accuracy-drop", "100", "--nir-target", target])
        assert r.exit_code == 0, r.output
    return out / "nir" / "model_float.nir"


@pytest.mark.parametrize("model", MODELS)
def test_norse_target_exact_in_norse(ckpts, model):
    """``--nir-target norse`` in ``norse.torch.from_nir(graph)`` (its default dt, the file's): every population's
    spikes equal, membranes within float32 rounding, same predictions; and the file still means the same model
    to snn2hw."""
    import norse  # noqa: F401 - fail, never skip, without the peer
    path = _cli_nir(ckpts, model, "norse")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # snn2hw's own file: no reset warning
        g = snn2hw.load(path)
    x, _ = digits_inputs(g, 10)
    r = compare(g, path, x, "norse")
    assert r["spikes_equal"] and r["total_spikes"] > 50, r
    assert r["v_max_abs_diff"] <= 1e-5 * max(1.0, r["v_max_abs"]), r
    assert r["predictions_agree"] == 1.0, r
    g0 = snn2hw.load(ckpts[0][model])
    from snn2hw.simulators.reference import simulate
    a, b = simulate(g0, x, record=["spikes"]), simulate(g, x, record=["spikes"])
    assert float((a.output - b.output).abs().max()) < 1e-9 * max(1.0, float(a.output.abs().max()))
