"""``snn2hw compress`` and ``snn2hw finetune`` (the compression API on the command line).

Every bad option (ratio outside [0, 1), bits outside 1..16, a method that needs data
without ``--data``, a layer that would lose all its channels, ...) is refused with
exit status 2 before any training starts and before anything is written.
"""
from __future__ import annotations

from pathlib import Path

import click

from snn2hw.errors import Snn2hwError
from snn2hw.util.atomic import output_option
from snn2hw.util.cli_types import SEED, LEARNING_RATE, NON_NEGATIVE, FiniteFloat

CARRY = ("input_step", "timesteps", "encoding", "dataset")


def _load(ckpt, data_spec):
    from snn2hw.compress.pipeline import dataset_for
    from snn2hw.data import load_dataset
    from snn2hw.frontends.checkpoint import load_checkpoint
    data = load_dataset(data_spec)
    ck = load_checkpoint(ckpt)
    if not hasattr(ck.model, "arch"):
        raise Snn2hwError(f"{ckpt}: compression needs a snn2hw checkpoint of a built-in architecture")
    return ck, dataset_for(ck.model, data)


def _check_out(out):
    parent = Path(out).resolve().parent
    if not parent.is_dir():
        raise Snn2hwError(f"--out {out}: the folder {parent} does not exist")


def _meta(ck, data, data_spec, **extra):
    meta = {k: ck.info[k] for k in CARRY if k in ck.info}
    meta.setdefault("input_step", data.input_step)
    meta.setdefault("timesteps", 4)
    meta.setdefault("encoding", "direct")
    meta["dataset"] = Path(data_spec).name  # names only: no folder (tmp, home) in the checkpoint
    meta.update(extra)
    return meta


@click.command()
@click.argument("ckpt", type=click.Path(dir_okay=False))
@click.option("--method", required=True,
              type=click.Choice(["qp-snn", "atlif", "criticality-unstructured", "criticality-structured",
                                 "magnitude", "l1"]),
              help="compression method (QP-SNN, AT-LIF, criticality pruning, magnitude or L1 pruning)")
@click.option("--ratio", type=FiniteFloat(), default=None,
              help="pruning ratio in [0, 1): channel share per layer (qp-snn, l1), global channel sparsity "
                   "(criticality-structured) or weight sparsity (criticality-unstructured, magnitude)")
@click.option("--bits", type=click.IntRange(min=1, max=16), default=None, help="qp-snn weight bits, 1..16 (default 4)")
@click.option("--data", "data_spec", default=None, help="'digits' or a .npz file: fine-tuning and calibration data")
@click.option("--finetune-epochs", type=click.IntRange(min=0), default=5, show_default=True,
              help="fine-tuning epochs after compression (0: none)")
@click.option("--regen-ratio", type=FiniteFloat(), default=None,
              help="criticality regeneration ratio r (default: the paper's pairing for the ratio)")
@click.option("--n-prune", type=click.IntRange(min=0), default=None, help="criticality-unstructured: pruning points - 1 (default 10)")
@click.option("--lam", type=NON_NEGATIVE, default=None, help="atlif: threshold-regularization strength λ_t (default 1e-4)")
@click.option("--protect", multiple=True, help="layer (neuron) names structured pruning must keep")
@click.option("--lr", type=LEARNING_RATE, default=None,
              help="fine-tune learning rate, finite, > 0 and <= 10 (default: the method's preset)")
@click.option("--seed", type=SEED, default=0, show_default=True, help="the same seed gives the same checkpoint")
@click.option("--samples", type=click.IntRange(min=1), default=256, show_default=True,
              help="test samples for the SOP / firing-rate measurement")
@click.option("--out", required=True, type=click.Path(), help="output checkpoint",
              callback=output_option("file"))
def compress(ckpt, method, ratio, bits, data_spec, finetune_epochs, regen_ratio, n_prune, lam, protect, lr, seed,
             samples, out):
    """Compress a checkpoint (QP-SNN, AT-LIF, criticality, magnitude, L1) and save a checkpoint."""
    from snn2hw.compress.pipeline import check_model, check_options, compress as run, save_compressed
    check_options(method, ratio, bits, data_spec, finetune_epochs, regen_ratio)
    if n_prune is not None and n_prune < 0:
        raise Snn2hwError(f"--n-prune must be >= 0, got {n_prune}")
    _check_out(out)
    ck, data = _load(ckpt, data_spec)
    check_model(ck.model, method, ratio, protect)
    T = int(ck.info.get("timesteps") or 4)
    res = run(ck.model, data, method, ratio=ratio, bits=bits, finetune_epochs=finetune_epochs, T=T, seed=seed,
              regen_ratio=regen_ratio, n_prune=n_prune, protect=protect, lam=lam, lr=lr, measure_samples=samples,
              log=click.echo)
    click.echo(res.summary())
    comp = {"method": method, "ratio": ratio, "bits": bits, "steps": res.steps, "before": res.before,
            "after": res.after, "source": Path(ckpt).name}
    save_compressed(out, res.model, **_meta(ck, data, data_spec, metrics={"test_accuracy": res.after["accuracy"]},
                                            compression=comp))
    click.echo(f"wrote {out}")


@click.command()
@click.argument("ckpt", type=click.Path(dir_okay=False))
@click.option("--data", "data_spec", default="digits", show_default=True, help="'digits' or a .npz file")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True, help="fine-tuning epochs")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True,
              help="adam (QP-SNN fine-tune) or sgd momentum 0.9 (criticality)")
@click.option("--lr", type=LEARNING_RATE, default=1e-3, show_default=True,
              help="learning rate (cosine schedule), finite, > 0 and <= 10")
@click.option("--weight-decay", type=NON_NEGATIVE, default=1e-5, show_default=True,
              help="weight decay, finite and >= 0")
@click.option("--decay-on", type=click.Choice(["conv", "all"]), default="conv", show_default=True,
              help="which weights decay (QP-SNN: conv weights only)")
@click.option("--bn-l1", type=NON_NEGATIVE, default=0.0, show_default=True,
              help="L1 on BatchNorm scales (network slimming, 1e-4 in the criticality paper)")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="samples per batch")
@click.option("--seed", type=SEED, default=0, show_default=True, help="the same seed gives the same checkpoint")
@click.option("--out", required=True, type=click.Path(), help="output checkpoint",
              callback=output_option("file"))
def finetune(ckpt, data_spec, epochs, optimizer, lr, weight_decay, decay_on, bn_l1, batch_size, seed, out):
    """Fine-tune a (compressed) checkpoint: cosine LR, progress bar, masks kept fixed."""
    from snn2hw.compress.pipeline import save_compressed
    from snn2hw.train.finetune import finetune as run
    from snn2hw.train.loop import evaluate
    _check_out(out)
    ck, data = _load(ckpt, data_spec)
    T = int(ck.info.get("timesteps") or 4)
    model = ck.model
    acc0 = evaluate(model, data.x_test, data.y_test, T)
    hist = run(model, data, epochs, T, optimizer=optimizer, lr=lr, weight_decay=weight_decay, decay_on=decay_on,
               bn_l1=bn_l1, batch_size=batch_size, seed=seed)
    model.eval()
    acc = evaluate(model, data.x_test, data.y_test, T)
    save_compressed(out, model, **_meta(ck, data, data_spec, metrics={"test_accuracy": acc},
                                        training={"epochs": epochs, "optimizer": optimizer, "lr": lr,
                                                  "weight_decay": weight_decay, "decay_on": decay_on,
                                                  "bn_l1": bn_l1, "schedule": "cosine", "seed": seed},
                                        **({"compression": ck.info["compression"]} if "compression" in ck.info
                                           else {})))
    click.echo(f"test accuracy {acc0:.4f} -> {acc:.4f} after {epochs} epoch(s) ({hist.seconds:.1f} s); wrote {out}")
