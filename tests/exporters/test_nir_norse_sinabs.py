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


@pytest.mark.parametrize("peer", ["sinabs", "sinabs3"])
def test_sinabs_targets_load(ckpts, peer):
    """``--nir-target sinabs`` / ``sinabs3`` (tau in time steps, thresholds for Sinabs' >=; sinabs3 without
    v_reset) load in Sinabs 2.0.3 / 3.1.3. Sinabs' neurons differ on purpose (several spikes per step, subtract
    reset), so the agreement is printed, not required to be exact."""
    import sinabs  # noqa: F401 - Sinabs 2 in the main environment; Sinabs 3 fails without .venv-sinabs3
    path = _cli_nir(ckpts, "if_mlp", peer)
    g = snn2hw.load(path)
    x, _ = digits_inputs(g, 10)
    r = compare(g, path, x, peer)
    print(f"{peer}: {r['spike_mismatches']} / {r['total_spikes']} spikes differ, membrane max diff "
          f"{r['v_max_abs_diff']:.3g} (of {r['v_max_abs']:.3g}), predictions agree {r['predictions_agree']:.2f}")
    assert not r["missing"] and r["total_spikes"] > 50
    assert r["spike_mismatches"] < 0.2 * r["total_spikes"] and r["predictions_agree"] >= 0.8, r
    from snn2hw.simulators.reference import simulate  # the file still means the checkpoint's model to snn2hw
    a, b = simulate(snn2hw.load(ckpts[0]["if_mlp"]), x), simulate(g, x)
    assert float((a.output - b.output).abs().max()) < 1e-9


def test_sinabs3_refuses_v_reset(ckpts):
    """Why the sinabs3 target exists: nir 1.0.4 (Sinabs 3) rejects the v_reset every NIR >= 1.0.6 file has."""
    from snn2hw.exporters.nir_peers import PeerError
    path = _cli_nir(ckpts, "if_mlp", "generic")
    x, _ = digits_inputs(snn2hw.load(path), 2)
    with pytest.raises(PeerError, match="v_reset"):
        compare(snn2hw.load(path), path, x, "sinabs3")


def test_sinabs_cuba_refused_with_reason(ckpts, tmp_path):
    from click.testing import CliRunner
    from snn2hw.cli import cli
    r = CliRunner().invoke(cli, ["export", str(ckpts[0]["cuba_mlp"]), "--format", "nir", "--out", str(tmp_path / "o"),
                                 "--nir-target", "sinabs", "--data", "digits", "--max-accuracy-drop", "100"])
    assert r.exit_code != 0 and "imports no NIR CubaLIF" in r.output + str(r.exception)
