"""``snn2hw sweep``: the accuracy–energy–latency–cores Pareto front of the compression space (snn2hw/sweep.py)."""
from __future__ import annotations

from pathlib import Path

import click

from snn2hw.util.cli_types import SEED


@click.command("sweep")
@click.argument("ckpt", required=False, type=click.Path(dir_okay=False))
@click.option("--profile", "profiles", default=None, help="profile names or YAML paths, comma separated (the first "
              "gives the objectives; every one must fit)")
@click.option("--data", "data_spec", default=None, help="'digits' or a .npz file: fine-tuning and test data")
@click.option("--trials", type=int, default=None, help="number of trials (with --resume: a new total)")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="sweep folder: sweep.db, sweep.json, pareto.json, pareto.html, trials/")
@click.option("--storage", default=None, help="Optuna storage URL (default: sqlite:///OUT/sweep.db)")
@click.option("--seed", type=SEED, default=0, show_default=True, help="sampler and compression seed")
@click.option("--methods", default=None, help="comma-separated compression methods in the space (default: all of "
              "'snn2hw compress')")
@click.option("--max-epochs", type=int, default=2, show_default=True, help="fine-tuning epochs range 0..N")
@click.option("--timesteps", "timesteps", default=None, help="comma-separated timestep counts in the space "
              "(default: the checkpoint's only)")
@click.option("--samples", type=click.IntRange(min=1), default=100, show_default=True,
              help="test samples simulated per trial")
@click.option("--population", type=int, default=None,
              help="NSGA-II population size (default: trials // 3, within 2..10)")
@click.option("--per-layer/--no-per-layer", "per_layer", default=True, show_default=True,
              help="a ratio multiplier per prunable layer in the space (methods qp-snn and l1 prune each layer "
                   "by the global ratio times it)")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="local processes evaluating the trials of one NSGA-II generation at once (same trials as 1)")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="run each generation's trials as tasks on an existing Ray cluster (auto, HOST:PORT, "
                   "ray://HOST:PORT; 'local' starts one here); needs pip install 'snn2hw[ray]'")
@click.option("--resume", "resume_dir", default=None, type=click.Path(file_okay=False),
              help="continue the sweep in this folder (its recorded settings)")
def sweep(ckpt, profiles, data_spec, trials, out_dir, storage, seed, methods, max_epochs, timesteps, samples,
          population, per_layer, workers, ray_address, resume_dir):
    """Multi-objective search (Optuna NSGA-II, seeded, SQLite storage) over compression method, pruning ratio
    (global and per layer), weight bits and fine-tuning epochs: the Pareto front of accuracy, energy, latency and cores per profile."""
    from snn2hw.sweep import SweepConfig, SweepError, default_methods, run_sweep
    if resume_dir is not None:
        extra = [n for n, v in (("CKPT", ckpt), ("--profile", profiles), ("--data", data_spec), ("--out", out_dir),
                                ("--storage", storage), ("--methods", methods), ("--timesteps", timesteps),
                                ("--no-per-layer", not per_layer)) if v]
        if extra:
            raise SweepError(f"--resume takes the settings recorded in {resume_dir}; drop {', '.join(extra)}")
        import json
        from snn2hw.sweep import CONFIG
        try:
            cfg = SweepConfig(**json.loads((Path(resume_dir) / CONFIG).read_text()))
        except FileNotFoundError:
            raise SweepError(f"--resume {resume_dir}: no {CONFIG} there (not a sweep folder)") from None
        except (ValueError, TypeError) as e:
            raise SweepError(f"{Path(resume_dir) / CONFIG}: not a sweep configuration ({e})") from None
        if trials is not None:
            cfg.trials = trials
        out = Path(resume_dir)
        doc = run_sweep(cfg, out, resume=True, log=click.echo, progress=True, workers=workers, ray=ray_address)
    else:
        missing = [n for n, v in (("CKPT", ckpt), ("--profile", profiles), ("--data", data_spec),
                                  ("--trials", trials), ("--out", out_dir)) if v is None]
        if missing:
            raise SweepError(f"sweep needs {', '.join(missing)} (or --resume DIR)")

        def ints(s, name):
            try:
                return [int(v) for v in s.split(",") if v.strip()]
            except ValueError:
                raise SweepError(f"{name}: expected comma-separated integers, got {s!r}") from None
        cfg = SweepConfig(checkpoint=str(ckpt), profiles=[p.strip() for p in profiles.split(",") if p.strip()],
                          data=data_spec, trials=int(trials), seed=int(seed), storage=storage,
                          methods=[m.strip() for m in methods.split(",") if m.strip()] if methods else default_methods(),
                          max_epochs=int(max_epochs), samples=int(samples),
                          timesteps=ints(timesteps, "--timesteps") if timesteps else [], population=population,
                          per_layer=bool(per_layer))
        out = Path(out_dir)
        doc = run_sweep(cfg, out, resume=False, log=click.echo, progress=True, workers=workers, ray=ray_address)
    base = doc.get("baseline") or {}
    click.echo(f"{len(doc['trials'])} trial(s), {len(doc['front'])} on the front; wrote {out / 'pareto.json'}, "
               f"{out / 'pareto.html'}")
    first = cfg.profiles[0]
    b = (base.get("profiles") or {}).get(first)
    if b and b.get("energy_pj_per_sample"):
        best = None
        for t in doc["trials"]:
            r = (t.get("result") or {}).get("profiles", {}).get(first)
            if t.get("fits") and r and r.get("energy_pj_per_sample") is not None \
                    and r["int_accuracy"] >= b["int_accuracy"] - 0.01:
                s = 1 - r["energy_pj_per_sample"] / b["energy_pj_per_sample"]
                if best is None or s > best[0]:
                    best = (s, t["number"])
        if best:
            click.echo(f"best energy saving on {first} within 1 point of the uncompressed integer accuracy: "
                       f"{100 * best[0]:.1f} % (trial {best[1]})")
