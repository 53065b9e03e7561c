"""``snn2hw fit``: the fit advisor (snn2hw/fit.py, docs/FIT.md)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from snn2hw.util.atomic import output_option
from snn2hw.util.cli_types import NON_NEGATIVE, SEED


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _acc(x) -> str:
    return "-" if x is None else f"{x:.4f}"


@click.command("fit")
@click.argument("ckpt", type=click.Path(dir_okay=False))
@click.option("--profile", required=True, help="hardware profile name or YAML file")
@click.option("--data", "data_spec", default=None,
              help="'digits' or a .npz file: calibration, fine-tuning and the accuracy of the fitted model")
@click.option("--max-accuracy-drop", type=NON_NEGATIVE, default=None,
              help="refuse a fitted model whose integer accuracy is more than this many percentage points below "
                   "the original's (needs --data; default: no limit, the cost is reported)")
@click.option("--out", default=None, type=click.Path(), callback=output_option("file"),
              help="the fitted checkpoint (default: CKPT_STEM.fit-PROFILE.pt in the current folder)")
@click.option("--epochs", type=click.IntRange(min=0), default=1, show_default=True,
              help="fine-tuning epochs of the fitted model (with --data; 0: none)")
@click.option("--samples", type=click.IntRange(min=1), default=200, show_default=True,
              help="test samples simulated for the accuracy and energy of the original and the fitted model")
@click.option("--seed", type=SEED, default=0, show_default=True, help="fine-tuning and probe-model seed")
@click.option("--json", "json_out", default=None, type=click.Path(), callback=output_option("file"),
              help="also write the result as JSON to this file")
def fit(ckpt, profile, data_spec, max_accuracy_drop, out, epochs, samples, seed, json_out):
    """Fit advisor: the smallest structured pruning that makes a model fit PROFILE, verified by the real mapping
    (and accuracy with --data), written as a checkpoint; or, for a model that fits, its head-room."""
    from snn2hw.fit import FitError, check_inputs, fit as run_fit
    from snn2hw.util.atomic import write_text
    check_inputs(ckpt, profile, max_accuracy_drop)
    if max_accuracy_drop is not None and data_spec is None:
        raise FitError("--max-accuracy-drop needs --data (the accuracy is measured on it)")
    if out is None:
        from snn2hw.hw_profiles import load_profile
        out = f"{Path(ckpt).stem}.fit-{load_profile(profile).name}.pt"
        output_option("file")(None, click.Option(["--out"]), out)
    r = run_fit(ckpt, profile, data_spec, out=out, max_accuracy_drop=max_accuracy_drop, epochs=epochs,
                samples=samples, seed=seed, log=click.echo)
    if r.fits_already:
        h = r.headroom
        click.echo(f"{Path(ckpt).name} fits {profile} on {h['cores']} of {h['cores_available']} cores; head-room:")
        for k, u in sorted(h["utilisation"].items(), key=lambda kv: -kv[1]["fraction"]):
            click.echo(f"  {k:<15} largest use {_pct(u['fraction']):>7} ({u['used']:,} of {u['limit']:,}, {u['layer']})")
        if h["binding"]:
            b = h["binding"]
            if b["fraction"]:
                click.echo(f"binding per-core limit: {b['resource']} on {b['layer']} ({_pct(b['fraction'])}): that "
                           f"layer's cores could take x{1 / b['fraction']:.2f} more before it needs another core")
        if h["growth"] is not None:
            more = (f" (fails at x{h['growth_fails_at']:g})" if h.get("growth_fails_at") else
                    f" ({h['growth_note']})")
            click.echo(f"growth head-room: every hidden width x{h['growth']:g} still fits {profile}{more}")
        else:
            click.echo(h["growth_note"])
    else:
        f = r.fitted
        click.echo(f"fitted: {r.change['text']}; mapping on {profile}: {f['cores']} of {f['cores_available']} "
                   f"cores, fits")
        for k, u in sorted(f["utilisation"].items(), key=lambda kv: -kv[1]["fraction"]):
            click.echo(f"  {k:<15} largest use {_pct(u['fraction']):>7} ({u['used']:,} of {u['limit']:,}, {u['layer']})")
        if r.metrics:
            m0, m1 = r.metrics["original"], r.metrics["fitted"]
            e0, e1 = m0["energy_pj_per_sample"], m1["energy_pj_per_sample"]
            click.echo(f"accuracy on {m1['samples']} samples of {data_spec}: integer ({profile}) "
                       f"{_acc(m0['int_accuracy'])} -> {_acc(m1['int_accuracy'])} "
                       f"({-r.metrics['int_accuracy_drop_points']:+.1f} points), float {_acc(m0['float_accuracy'])} "
                       f"-> {_acc(m1['float_accuracy'])}")
            click.echo("energy per sample: " + (f"{e0:.4g} pJ -> {e1:.4g} pJ ({100 * (e1 / e0 - 1):+.1f}%)"
                                                if e0 and e1 is not None else f"not modelled on {profile}"))
        click.echo(f"{len(r.candidates)} candidate(s) mapped in {r.seconds:.1f} s; wrote {r.out}")
    if json_out:
        write_text(json_out, json.dumps(r.to_dict(), indent=1, default=str) + "\n")
        click.echo(f"wrote {json_out}")
