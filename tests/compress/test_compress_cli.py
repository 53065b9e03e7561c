"""``snn2hw compress`` / ``snn2hw finetune``: every method end to end on digits, round trip through
convert and simulate, exact structured shares, and bad options refused before any work."""
from pathlib import Path

import numpy as np
import pytest
import torch

from snn2hw.cli import main
from snn2hw.frontends.checkpoint import load_checkpoint
from snn2hw.models import build_model

ROOT = Path(__file__).resolve().parents[2]
CKPT = ROOT / "examples" / "digits_lif.pt"


def run(args, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


METHODS = [
    ("qp-snn", ["--ratio", "0.5", "--bits", "2"]),
    ("atlif", ["--lam", "1.0"]),
    ("criticality-unstructured", ["--ratio", "0.9", "--n-prune", "2"]),
    ("criticality-structured", ["--ratio", "0.5"]),
    ("magnitude", ["--ratio", "0.8"]),
    ("l1", ["--ratio", "0.5"]),
]


@pytest.mark.parametrize("method,extra", METHODS, ids=[m for m, _ in METHODS])
def test_method_end_to_end(tmp_path, capsys, method, extra):
    out = tmp_path / "c.pt"
    code, text, err = run(["compress", CKPT, "--method", method, *extra, "--data", "digits",
                           "--finetune-epochs", "1", "--samples", "8", "--out", out], capsys)
    assert code == 0, err
    for key in ("parameters", "model size (MB)", "connection ratio", "accuracy", "SOPs/sample"):
        assert key in text
    ck = load_checkpoint(out)
    assert ck.info["compression"]["method"] == method
    acc = ck.info["metrics"]["test_accuracy"]
    assert acc > 0.3, text                       # 1 epoch of fine-tuning keeps a working classifier
    if method == "qp-snn":
        from snn2hw.nn.quant import QuantConv2d
        q = [m for m in ck.model.modules() if isinstance(m, QuantConv2d)]
        assert q and all(m.bits == 2 for m in q)
    if method in ("magnitude", "criticality-unstructured"):
        from snn2hw.compress.masks import masked_layers, sparsity
        assert masked_layers(ck.model)
        assert sparsity(ck.model) == pytest.approx(float(extra[1]), abs=1e-3)
    if method == "atlif":
        from snn2hw.nn.neurons import ATLIF
        assert any(isinstance(m, ATLIF) for m in ck.model.modules())
    code, text, err = run(["convert", out, "--out", tmp_path / "c.s2h"], capsys)
    assert code == 0, err
    assert (tmp_path / "c.s2h").is_file()
    code, text, err = run(["simulate", out, "--samples", "8", "--out", tmp_path / "sim"], capsys)
    assert code == 0, err
    assert (tmp_path / "sim" / "report.json").is_file()
    code, text, err = run(["export", out, "--format", "all", "--out", tmp_path / "exp"], capsys)
    assert code == 0, err
    assert {"nir", "lava", "onnx", "ir"} <= {p.name for p in (tmp_path / "exp").iterdir()}


def test_finetune_cli_keeps_masks(tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert run(["compress", CKPT, "--method", "magnitude", "--ratio", "0.7", "--data", "digits",
                "--finetune-epochs", "0", "--samples", "8", "--out", out], capsys)[0] == 0
    out2 = tmp_path / "m2.pt"
    code, text, err = run(["finetune", out, "--data", "digits", "--epochs", "1", "--optimizer", "sgd",
                           "--lr", "0.01", "--out", out2], capsys)
    assert code == 0, err
    assert "test accuracy" in text
    from snn2hw.compress.masks import masked_layers, sparsity
    m = load_checkpoint(out2).model
    assert masked_layers(m) and sparsity(m) == pytest.approx(0.7, abs=1e-3)
    for layer in masked_layers(m).values():
        assert torch.all(layer.weight[layer.weight_mask == 0] == 0)


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
def test_structured_share_exact(ratio):
    """At ratio r every prunable layer keeps int(n(1-r)) channels; the parameters shrink to match."""
    from snn2hw.compress.pipeline import build_compressed, describe, prune_channels
    from snn2hw.frontends.torch_fx import from_module
    torch.manual_seed(0)
    widths = (16, 32)
    model = build_model("digits_conv", widths=widths)
    p0 = from_module(model).num_params()
    stats = prune_channels(model, "l1", ratio)
    k0, k1 = int(16 * (1 - ratio)), int(32 * (1 - ratio))
    assert stats["channels"] == {"sn0": (16, k0), "sn1": (32, k1)}
    removed = sum(n - k for n, k in stats["channels"].values())
    assert removed == (16 - k0) + (32 - k1)
    assert removed / 48 == pytest.approx(ratio, abs=1 / 16)
    expected = 1 * 9 * k0 + k0 * 9 * k1 + k1 * 4 * 10 + 10
    assert stats["params_after"] == expected
    assert from_module(model).num_params() == expected < p0
    # the torch model is physically smaller and rebuilds from its description
    arch, kw = describe(model)
    assert arch == "compressed"
    again = build_compressed(arch, **kw)
    again.load_state_dict(model.state_dict())
    x = torch.rand(4, 3, 1, 8, 8)
    model.eval()
    again.eval()
    assert torch.equal(model(x), again(x))


def test_structured_removal_matches_graph_pass():
    """The torch model after prune_channels computes what the pruned IR graph computes."""
    from snn2hw.compress.pipeline import prune_channels
    from snn2hw.frontends.torch_fx import from_module
    from snn2hw.passes.structured_prune import StructuredPrunePass
    from snn2hw.simulators.reference import simulate
    torch.manual_seed(1)
    model = build_model("digits_conv").eval()
    g = StructuredPrunePass("l1", 0.5).run(from_module(model)).graph
    prune_channels(model, "l1", 0.5)
    x = torch.rand(3, 5, 1, 8, 8, dtype=torch.float64)
    ref = simulate(g, x, mode="float")
    with torch.no_grad():
        out = model.double()(x).mean(0)
    assert torch.allclose(ref.output.to(out.dtype), out, atol=1e-6) or \
        torch.allclose(ref.output.to(out.dtype), model(x).sum(0), atol=1e-6)


BAD = [
    (["--method", "qp-snn", "--ratio", "1.0", "--data", "digits"], "--ratio must be in [0, 1)"),
    (["--method", "l1", "--ratio", "-0.1", "--data", "digits"], "--ratio must be in [0, 1)"),
    (["--method", "qp-snn", "--ratio", "0.5", "--bits", "0", "--data", "digits"], "Invalid value for '--bits': 0 is not in the range 1<=x<=16"),
    (["--method", "qp-snn", "--ratio", "0.5", "--bits", "17", "--data", "digits"], "Invalid value for '--bits': 17 is not in the range 1<=x<=16"),
    (["--method", "qp-snn", "--ratio", "0.5", "--bits", "4"], "needs data"),
    (["--method", "criticality-unstructured", "--ratio", "0.9"], "needs data"),
    (["--method", "l1", "--ratio", "0.95", "--data", "digits"], "would lose all its channels"),
    (["--method", "qp-snn", "--ratio", "0.97", "--data", "digits"], "would lose all its channels"),
    (["--method", "magnitude", "--data", "digits"], "give --ratio"),
    (["--method", "magnitude", "--ratio", "0.5", "--bits", "4", "--data", "digits"], "qp-snn' only"),
    (["--method", "atlif", "--ratio", "0.5", "--data", "digits"], "does not apply"),
    (["--method", "nope", "--ratio", "0.5", "--data", "digits"], "nope"),
    (["--method", "l1", "--ratio", "0.5", "--data", "missing.npz"], "missing.npz"),
]


@pytest.mark.parametrize("args,msg", BAD, ids=[" ".join(a[:4]) for a, _ in BAD])
def test_bad_options_exit_2_before_work(tmp_path, capsys, args, msg):
    out = tmp_path / "bad.pt"
    code, text, err = run(["compress", CKPT, *args, "--finetune-epochs", "1", "--out", out], capsys)
    assert code == 2
    assert msg in err
    assert "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert "fine-tune" not in text and "finetune" not in err.lower().replace("--finetune-epochs", "")


def test_registry_untouched():
    import snn2hw.compress.pipeline  # noqa: F401
    from snn2hw.models import list_models
    assert "compressed" not in list_models()


def test_bad_checkpoint_exit_2(tmp_path, capsys):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint")
    code, _, err = run(["compress", bad, "--method", "l1", "--ratio", "0.5", "--data", "digits",
                        "--out", tmp_path / "o.pt"], capsys)
    assert code == 2 and "Traceback" not in err and not (tmp_path / "o.pt").exists()


def test_unstructured_without_prunable_layer_exit_2(tmp_path, capsys):
    """A 2-layer MLP has only the first and the last Linear, which stay dense: refused before any work."""
    from snn2hw.frontends.checkpoint import save_checkpoint
    from snn2hw.models import build_model
    ck = tmp_path / "mlp.pt"
    save_checkpoint(ck, build_model("mlp", hidden=(16,)))
    for method in ("magnitude", "criticality-unstructured"):
        with pytest.raises(SystemExit) as e:
            main(["compress", str(ck), "--method", method, "--ratio", "0.5", "--data", "digits_flat",
                  "--out", str(tmp_path / "o.pt")])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and "has no layer to prune" in err and "Traceback" not in err
    assert not (tmp_path / "o.pt").exists()
