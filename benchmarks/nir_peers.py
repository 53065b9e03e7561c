"""Agreement of the NIR files `snn2hw export` writes with the peers that import them (docs/NIR_PEERS.md).

For each model (the shipped digits conv model, a small residual net, an IF MLP, a CUBA MLP) the CLI exports the
NIR files (default options, plus each --nir-target and the integrator readout), and each file is run through the
peers' own NIR importers (snnTorch, SpikingJelly, Norse and Sinabs 2 in this environment, Sinabs 3 in
.venv-sinabs3), against snn2hw's float reference simulator on the same digits test samples. Printed: a Markdown table (load ok / error, spike mismatches, max membrane
difference, readout prediction agreement), then the integer round trip of model_int.nir.

    .venv/bin/python benchmarks/nir_peers.py [--samples 100]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _export(ck, out, *extra):
    from click.testing import CliRunner
    from snn2hw.cli import cli
    r = CliRunner().invoke(cli, ["export", str(ck), "--format", "nir", "--out", str(out), "--data", "digits",
                                 "--max-accuracy-drop", "100", *extra])
    if r.exit_code != 0:
        raise SystemExit(f"export of {ck} failed:\n{r.output}\nerror: {r.exception}")
    return out


def _models(root: Path) -> dict:
    from snn2hw.frontends.checkpoint import save_checkpoint
    from snn2hw.models import build_model
    torch.manual_seed(3)
    res = build_model("resnet20", in_channels=1, input_size=8, widths=(8, 8), blocks=(1,), num_classes=10)
    save_checkpoint(root / "residual.pt", res, input_step=1 / 16, timesteps=4, encoding="direct", dataset="digits")
    torch.manual_seed(4)
    mlp = build_model("mlp", hidden=(64,), neuron="if")
    save_checkpoint(root / "if_mlp.pt", mlp, input_step=1 / 16, timesteps=4, encoding="direct", dataset="digits")
    torch.manual_seed(5)
    cuba = build_model("mlp", hidden=(64,), neuron="cuba")
    save_checkpoint(root / "cuba_mlp.pt", cuba, input_step=1 / 16, timesteps=4, encoding="direct", dataset="digits")
    return {"digits conv (examples/digits_lif.pt)": REPO / "examples" / "digits_lif.pt",
            "residual (ResNet, 1 block, untrained)": root / "residual.pt",
            "IF MLP (64 hidden, untrained)": root / "if_mlp.pt",
            "CUBA MLP (64 hidden, untrained)": root / "cuba_mlp.pt"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=100)
    args = ap.parse_args()
    import nir
    import snn2hw
    from snn2hw.data import load_dataset, model_inputs
    from snn2hw.exporters.nir_peers import compare, digits_inputs
    from snn2hw.simulators.reference import simulate
    warnings.simplefilter("ignore")
    import norse
    import sinabs
    import snntorch
    import spikingjelly
    print(f"nir {nir.__version__ if hasattr(nir, '__version__') else '1.0.8'}, snnTorch {snntorch.__version__}, "
          f"SpikingJelly {getattr(spikingjelly, '__version__', '2.0.0')}, Norse {norse.__version__}, Sinabs "
          f"{sinabs.__version__} (and 3.1.3 with nir 1.0.4 in .venv-sinabs3), torch {torch.__version__}; "
          f"{args.samples} digits test samples, T = 4, peers in float32\n")
    everyone = ("snntorch", "spikingjelly", "norse", "sinabs", "sinabs3")
    variants = [("default", (), everyone),
                ("--nir-target snntorch", ("--nir-target", "snntorch"), ("snntorch", "spikingjelly")),
                ("--nir-target norse", ("--nir-target", "norse"), ("norse",)),
                ("--nir-target sinabs", ("--nir-target", "sinabs"), ("sinabs",)),
                ("--nir-target sinabs3", ("--nir-target", "sinabs3"), ("sinabs3", "sinabs")),
                ("--nir-readout integrator", ("--nir-readout", "integrator"), ("snntorch", "spikingjelly"))]
    rows, ints = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for mname, ck in _models(root).items():
            for vname, extra, peers in variants:
                if "residual" in mname and vname not in ("default", "--nir-target snntorch"):
                    continue
                try:
                    out = _export(ck, root / f"{abs(hash((mname, vname)))}", *extra)
                except SystemExit as e:
                    msg = [ln for ln in str(e).splitlines() if ln.startswith("error: ")] or str(e).splitlines()[-1:]
                    rows.append(f"| {mname} | {vname} | (export) | refused by snn2hw: {msg[0][7:110]} | | | |")
                    continue
                path = out / "nir" / "model_float.nir"
                g = snn2hw.load(path)
                x, _ = digits_inputs(g, args.samples)
                for peer in peers:
                    try:
                        with contextlib.redirect_stdout(io.StringIO()):
                            r = compare(g, path, x, peer)
                        cell = (f"{'exact' if r['spikes_equal'] else 'DIFFERS'} | {r['spike_mismatches']} / "
                                f"{r['total_spikes']} | {r['v_max_abs_diff']:.1e} (of {r['v_max_abs']:.3g}) | "
                                f"{r.get('predictions_agree', float('nan')):.3f}")
                    except Exception as e:  # noqa: BLE001 - a peer refusing the file is a result
                        msg = str(e).strip().splitlines()[0][:90] if str(e).strip() else ""
                        cell = f"refused: {type(e).__name__}: {msg} | | |"
                    rows.append(f"| {mname} | {vname} | {peer} | {cell} |")
                if vname == "default":
                    gi = snn2hw.load(out / "ir" / "model.s2h")
                    gn = snn2hw.load(out / "nir" / "model_int.nir")
                    xx, y, _ = model_inputs(gi, load_dataset("digits"), args.samples, None)
                    a, b = simulate(gi, xx, mode="int"), simulate(gn, xx, mode="int")
                    ints.append(f"| {mname} | {a.accuracy(y):.3f} | {b.accuracy(y):.3f} | "
                                f"{'yes' if torch.equal(a.output, b.output) else 'NO'} |")
    print("| model | export options | peer | spikes | spike mismatches / spikes | max membrane diff | "
          "readout argmax agreement |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nInteger round trip (`snn2hw.load(nir/model_int.nir)` vs the exported `ir/model.s2h`, reference "
          "simulator, integer mode):\n")
    print("| model | int accuracy (ir/model.s2h) | int accuracy (model_int.nir) | outputs identical |")
    print("|---|---|---|---|")
    print("\n".join(ints))


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
