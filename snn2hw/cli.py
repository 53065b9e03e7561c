"""The ``snn2hw`` command line: a thin wrapper over the Python API.

User mistakes (bad files, names, options) print one paragraph and exit with
status 2, without a traceback.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from snn2hw import __version__
from snn2hw.errors import Snn2hwError
from snn2hw.util.atomic import output_option
from snn2hw.util.cli_types import SEED, LEARNING_RATE, NON_NEGATIVE, POSITIVE, FiniteFloat


def _kv(items) -> dict:
    out = {}
    for it in items:
        if "=" not in it:
            raise click.BadParameter(f"expected key=value, got {it!r}", param_hint="--arch-kw")
        k, v = it.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _parse_shape(ctx, param, value):
    if value is None:
        return None
    from snn2hw.models.init import parse_input_shape
    from snn2hw.errors import Snn2hwError as _E
    try:
        return parse_input_shape(value, name="--input-shape")
    except _E as e:
        raise click.BadParameter(str(e)) from None


MODEL_HELP = ("the model's code for a plain state_dict: package.module:factory, a module in the current folder "
              "(net:Net) or a file (./net.py:Net); a class or a function that builds the nn.Module without "
              "arguments (snnTorch/SpikingJelly modules are ingested directly, see docs/INGEST.md)")
SHAPE_HELP = ("the input shape of one sample, C,H,W or the feature count (e.g. 1,8,8 or 64), for checkpoints "
              "that do not record it (a plain state_dict)")


NIR_RESET_HELP = ("how the spiking neurons of a NIR file written by another tool reset: NIR records no reset mode, "
                  "so snn2hw reads zero and warns unless told (snnTorch's default is subtract; exact for beta = 1)")


def _model_options(f):
    """--model, --input-shape, --nir-reset: how a plain state_dict or a foreign NIR file becomes a model (every
    command that loads one)."""
    f = click.option("--nir-reset", "nir_reset", type=click.Choice(["zero", "subtract"]), default=None,
                     help=NIR_RESET_HELP)(f)
    f = click.option("--input-shape", "input_shape", default=None, callback=_parse_shape, metavar="C,H,W",
                     help=SHAPE_HELP)(f)
    return click.option("--model", "factory", default=None, metavar="MODULE:FACTORY", help=MODEL_HELP)(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="snn2hw")
def cli():
    """Deploy trained spiking neural networks to neuromorphic hardware."""
    _user_warnings_as_lines(click.get_current_context())


def _user_warnings_as_lines(ctx) -> None:
    """For this command: snn2hw's warnings to the user (e.g. the reset a foreign NIR file does not record) are
    printed as ``warning: ...`` lines on stderr, every time (not once per code location, not as Python's
    ``file:line: Category`` form); other warnings go where they went. Restored when the command ends."""
    import warnings

    from snn2hw.frontends.nir_import import NIRResetWarning
    saved = warnings.catch_warnings()
    saved.__enter__()
    ctx.call_on_close(lambda: saved.__exit__(None, None, None))
    warnings.simplefilter("always", NIRResetWarning)
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, NIRResetWarning):
            click.echo(f"warning: {message}", err=True)
        else:
            previous(message, category, filename, lineno, file, line)
    warnings.showwarning = show


@cli.command()
@click.argument("model_file", type=click.Path(dir_okay=False))
@_model_options
def inspect(model_file, factory, input_shape, nir_reset):
    """Print the layer table of a model file: a snn2hw checkpoint (.pt), a plain state_dict (.pt, with
    --model), a NIR graph (.nir) or a converted .s2h graph."""
    from snn2hw.frontends.load import load
    from snn2hw.report.layer_table import format_table, layer_rows
    g = load(model_file, model=factory, input_shape=input_shape, nir_reset=nir_reset)
    click.echo(f"{model_file}: {len(g.nodes)} nodes, {g.num_params()} parameters"
               + (f", quantized for {g.metadata['profile']}" if "profile" in g.metadata else ", float"))
    click.echo(format_table(layer_rows(g)))


def _binning_options(f):
    """``--bins`` / ``--bin-us``: how an event file given as ``--data`` is binned (docs/DATA.md); folded
    into ``data_spec`` as ``FILE.npz:bins=T,bin_us=U``, so the command itself sees one spec."""
    import functools

    @functools.wraps(f)
    def wrapped(*args, bins=None, bin_us=None, **kw):
        if bins is not None or bin_us is not None:
            from snn2hw.data.events import with_binning
            kw["data_spec"] = with_binning(kw.get("data_spec"), bins, bin_us)
        return f(*args, **kw)
    wrapped = click.option("--bin-us", "bin_us", type=click.IntRange(min=1), default=None,
                           help="event file: bins of this many microseconds (docs/DATA.md)")(wrapped)
    return click.option("--bins", type=click.IntRange(min=1), default=None,
                        help="event file (--data FILE.npz with an 'events' array): T time bins per sample, "
                             "binary per bin (docs/DATA.md)")(wrapped)


def _fidelity_options(f):
    """--max-accuracy-drop and --allow-approximation (the fidelity gate, snn2hw/report/fidelity.py)."""
    f = click.option("--allow-approximation", is_flag=True, default=False,
                     help="accept neuron models the profile cannot realise exactly (e.g. leaky LIF on truenorth)")(f)
    return click.option("--max-accuracy-drop", type=NON_NEGATIVE, default=2.0, show_default=True,
                        help="fail (exit 2, like a model that does not fit) when the integer accuracy is more than "
                             "this many percentage points below float")(f)


@cli.command()
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option("--profile", default="loihi", show_default=True, help="profile name or path to a profile YAML")
@click.option("--out", "out", required=True, type=click.Path(), help="output .s2h file",
              callback=output_option("file"))
@click.option("--granularity", type=click.Choice(["layer", "channel"]), default=None,
              help="weight scale granularity (default: the profile's)")
@_model_options
@click.option("--data", "data_spec", default=None,
              help="calibration data ('digits', a .npz or random[:density=D,seed=S]) for the input step when the "
                   "checkpoint does not record it")
@click.option("--input-step", type=POSITIVE, default=None,
              help="the input lattice: integer input = round(x / step)")
@_fidelity_options
def convert(model_file, profile, out, granularity, factory, input_shape, nir_reset, data_spec, input_step,
            max_accuracy_drop, allow_approximation):
    """Fold and quantize a checkpoint for a hardware profile; write an .s2h graph."""
    from snn2hw.ir.io import save_graph
    from snn2hw.passes.pipeline import convert as run_convert
    g, calib = _prepare(model_file, profile, factory, data_spec, input_step, input_shape, nir_reset)
    res = run_convert(g, profile=profile, granularity=granularity, calibration=calib)
    save_graph(res.graph, out)
    click.echo(res.summary())
    click.echo(f"wrote {out}")
    _gate_convert(g, res.graph, profile, data_spec, max_accuracy_drop, allow_approximation)


def _gate_convert(g_float, g_int, profile, data_spec, max_drop, allow_approx, timesteps=None, samples=100):
    """The fidelity gate for convert/export: neuron models, then accuracy on labelled data (if any)."""
    from snn2hw.hw_profiles import load_profile
    from snn2hw.report import fidelity
    unreal = fidelity.unrealisable_neurons(g_int, load_profile(profile))
    for u in unreal:
        if allow_approx:
            click.echo(f"warning: {u.describe()} (approximated: --allow-approximation)", err=True)
    drops = []
    if data_spec is None or g_float is None:   # export passes data_spec "" for an integer input
        click.echo(fidelity.NOT_APPLIED if data_spec is None else
                   "fidelity gate not applied: the input is already an integer graph (no float original)", err=True)
    else:
        from snn2hw.data import load_dataset, model_inputs
        x, y, _ = model_inputs(g_float, load_dataset(data_spec), samples, timesteps)
        if y is None:
            click.echo(fidelity.NOT_APPLIED.replace("no labelled data", f"'{data_spec}' has no labels"), err=True)
        else:
            fa, ia = fidelity.measure(g_float, g_int, x, y)
            click.echo(f"accuracy on {int(x.shape[1])} samples of {data_spec}: float {fa:.4f}, integer {ia:.4f} "
                       f"({100 * (fa - ia):+.1f} points drop)")
            drops = fidelity.accuracy_drops(fa, {str(profile): ia}, max_drop)
    msg = fidelity.gate_message(drops, unreal, max_drop, allow_approx, samples=samples)
    if msg:
        raise Snn2hwError(msg)


def _prepare(model_file, profile, factory, data_spec, input_step, input_shape=None, nir_reset=None):
    """Check the profile, load the model file, set the input step; return ``(graph, calibration)``."""
    from snn2hw.frontends.load import load
    from snn2hw.hw_profiles import load_profile
    load_profile(profile)  # fail on a bad profile before any work
    calib = None
    if data_spec is not None:
        from snn2hw.data import load_dataset
        data = load_dataset(data_spec)
        input_step = input_step or data.input_step
        calib = data.x_train
    g = load(model_file, model=factory, input_shape=input_shape, nir_reset=nir_reset)
    for name in g.inputs:
        if input_step is not None:
            g.nodes[name].step = float(input_step)
    return g, calib


def _load_integer(model_file, profile, factory, data_spec, input_step, input_shape=None, nir_reset=None,
                  netx: bool = False):
    """Load a model file; convert it for ``profile`` unless it is already an integer graph
    (``netx``: for a Lava export that lava-dl netx runs exactly, ``QuantizePass``)."""
    from snn2hw.exporters.export import is_quantized
    from snn2hw.passes.pipeline import convert as run_convert
    g, calib = _prepare(model_file, profile, factory, data_spec, input_step, input_shape, nir_reset)
    if is_quantized(g):
        return g, None
    res = run_convert(g, profile=profile, calibration=calib, netx=netx)
    return res.graph, res


@cli.command()
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option("--format", "formats", default="all", show_default=True,
              help="nir, lava, onnx, sanafe, all (comma list; 'all' = nir, lava, onnx)")
@click.option("--profile", default="loihi", show_default=True, help="profile name or path to a profile YAML")
@click.option("--out", "out_dir", required=True, type=click.Path(), help="output folder",
              callback=output_option("folder"))
@_model_options
@click.option("--data", "data_spec", default=None,
              help="calibration data when the input step is not recorded; for sanafe the samples' data set "
                   "('digits', a .npz file or random[:density=D,seed=S]; default digits)")
@click.option("--samples", type=click.IntRange(min=1), default=10, show_default=True,
              help="sanafe: test samples whose input spikes the network carries")
@click.option("--timesteps", "-T", type=click.IntRange(min=1), default=None, help="sanafe: default the model's")
@click.option("--input-step", type=POSITIVE, default=None,
              help="the input lattice: integer input = round(x / step) (default: the checkpoint's or --data's)")
@click.option("--nir-readout", type=click.Choice(["membrane", "integrator"]), default="membrane", show_default=True,
              help="NIR readout: 'membrane' = a LIF that never fires (its membrane is the output; snnTorch and "
                   "SpikingJelly import it), 'integrator' = NIR's I/LI/CubaLI (no spiking peer imports them)")
@click.option("--nir-target", type=click.Choice(["generic", "snntorch", "norse", "sinabs", "sinabs3"]), default="generic",
              show_default=True,
              help="peer convention: 'snntorch' writes IF layers as LIF with beta = 1 (snnTorch 1.0.0 cannot import "
                   "NIR's IF); 'norse' writes Norse's dt (1e-3, its from_nir default) with the gain Norse ignores "
                   "(r) folded into the weights and average pools as sum pools; 'sinabs'/'sinabs3' write tau in time "
                   "steps (exp decay), thresholds for Sinabs' >=, Affine/SumPool only ('sinabs3' without v_reset, "
                   "for nir <= 1.0.4); see docs/NIR_PEERS.md")
@click.option("--allow-netx-incompatible", is_flag=True, default=False,
              help="lava: write a model.net that lava-dl netx would load and run wrongly (refused by default); "
                   "then only 'snn2hw run-lava --runtime ours' runs it correctly (docs/LAVA.md)")
@_fidelity_options
def export(model_file, formats, profile, out_dir, factory, input_shape, nir_reset, data_spec, samples, timesteps,
           input_step, nir_readout, nir_target, allow_netx_incompatible, max_accuracy_drop, allow_approximation):
    """Write NIR, Lava (netx HDF5 + runner), ONNX and SANA-FE artifacts plus manifest.json."""
    from snn2hw.exporters.export import check_export_dir, export as run_export, parse_formats
    fmts = parse_formats(formats)
    check_export_dir(out_dir, fmts)  # manifest.json and the format folders inside it, before any work
    from snn2hw.util.timestamp import source_date_epoch
    source_date_epoch()  # a malformed SOURCE_DATE_EPOCH (manifest's created) refused before any work too
    g, conv = _load_integer(model_file, profile, factory, data_spec, input_step, input_shape, nir_reset,
                            netx="lava" in fmts)
    inputs = None
    if "sanafe" in fmts:
        from snn2hw.data import load_dataset, model_inputs
        inputs, _, _ = model_inputs(g, load_dataset(data_spec or "digits"), samples, timesteps)
    man = run_export(g, out_dir, formats=fmts, conversion=conv, profile=profile, inputs=inputs,
                     nir_readout=nir_readout, nir_target=nir_target,
                     allow_netx_incompatible=allow_netx_incompatible)
    for f in man["files"]:
        click.echo(f"{f['format']:5s} {f['path']}  ({f['bytes']} bytes, sha256 {f['sha256'][:12]}...)")
    for n in man["notes"]:
        click.echo(f"note: {n}")
        if n.startswith("lava: WARNING"):
            click.echo(f"WARNING: {n[len('lava: WARNING: '):]}", err=True)
    click.echo(f"wrote {Path(out_dir) / 'manifest.json'}")
    g_float = None if conv is None or data_spec is None else _prepare(model_file, profile, factory, None,
                                                                     g.nodes[g.inputs[0]].step, input_shape,
                                                                     nir_reset)[0]
    _gate_convert(g_float if conv is not None else None, g, profile, data_spec if conv is not None else "",
                  max_accuracy_drop, allow_approximation, timesteps=timesteps)


@cli.command("run-lava")
@click.argument("export_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--data", "data_spec", default="digits", show_default=True,
              help="'digits', a .npz file or random[:density=D,seed=S] (seeded random inputs, no labels)")
@click.option("--samples", type=click.IntRange(min=1), default=100, show_default=True,
              help="number of test samples to run in Lava and in the reference simulator")
@click.option("--timesteps", "-T", type=click.IntRange(min=1), default=None, help="default: the model's")
@click.option("--timeout", type=FiniteFloat(lo=1.0, lo_closed=True), default=1800, show_default=True,
              help="seconds before the Lava run is stopped")
@click.option("--runtime", type=click.Choice(["ours", "netx"]), default="ours", show_default=True,
              help="'ours': lava-nc processes built by snn2hw's runner; 'netx': model.net loaded by lava-dl 0.6.0's "
                   "netx.hdf5.Network(input_message_bits=8, reset_interval=T+L, reset_offset=1), as Loihi 2 users "
                   "load it (docs/LAVA.md)")
@click.option("--probe", is_flag=True, default=False,
              help="also compare u, v and spikes of every layer at every step (slower)")
def run_lava_cmd(export_dir, data_spec, samples, timesteps, timeout, runtime, probe):
    """Run an exported Lava model in lava-nc (fixed_pt) and compare with the reference simulator.

    Exits 1 if any output (or, with --probe, any u, v or spike) differs."""
    import torch
    from snn2hw.data import load_dataset, model_inputs
    from snn2hw.exporters.lava import run_lava
    from snn2hw.exporters.onnx import quantize_input
    from snn2hw.ir.io import load_graph
    from snn2hw.simulators.reference import simulate
    root = Path(export_dir)
    if not (root / "ir" / "model.s2h").is_file() or not (root / "lava").is_dir():
        raise Snn2hwError(f"{root} is not a snn2hw export folder with a Lava model (expected ir/model.s2h and "
                          f"lava/); run snn2hw export --format lava first")
    from snn2hw.exporters.lava_check import check_export_dir
    check_export_dir(root)  # sizes and sha256 as in manifest.json, then the Lava files' structure
    g = load_graph(root / "ir" / "model.s2h")
    x, y, T = model_inputs(g, load_dataset(data_spec), samples, timesteps)
    n = int(x.shape[1])
    lman = json.loads((root / "lava" / "model.lava.json").read_text())
    if runtime == "netx" and not lman.get("netx_compatible", True):
        click.echo(f"warning: {lman.get('netx')}", err=True)
    ref = simulate(g, x, mode="int", record=["spikes", "u", "v"] if probe else ())
    res = run_lava(root / "lava", quantize_input(g, x.numpy()), timeout=timeout, runtime=runtime,
                   record=probe)
    lava_out = torch.as_tensor(res["output"], dtype=torch.float64)
    same = bool(torch.equal(lava_out, ref.output))
    where = ("lava-dl 0.6.0 netx.hdf5.Network" if runtime == "netx" else "snn2hw's Lava runner") + \
        ", Loihi2SimCfg(select_tag='fixed_pt')"
    click.echo(f"{n} samples, T = {T}, {res['lava_steps']} Lava steps in {res['lava_run_s']:.2f} s "
               f"({res['wall_s']:.2f} s with start-up); runtime: {where}")
    if probe:
        import numpy as np
        click.echo(f"{'layer':24s} {'spikes':>15s} {'u':>15s} {'v':>15s}   (steps x samples x neurons identical)")
        for name in ref.record["spikes"]:
            cells = []
            for q in ("spikes", "u", "v"):
                a = np.asarray(res["record"][q][name])
                b = ref.record[q][name].numpy()
                ok = a.shape == b.shape and bool(np.array_equal(a, b))
                same = same and ok
                cells.append(f"{int((a == b).sum()) if a.shape == b.shape else 0}/{b.size}")
            click.echo(f"{name:24s} {cells[0]:>15s} {cells[1]:>15s} {cells[2]:>15s}")
    if y is None:  # random inputs: no labels
        click.echo("accuracy                   not applicable (the data has no labels)")
    else:
        click.echo(f"Lava accuracy              {float((lava_out.argmax(1).numpy() == y).mean()):.4f}")
        click.echo(f"reference int accuracy     {ref.accuracy(y):.4f}")
    click.echo(f"outputs identical to the reference integer simulator: {'yes' if same else 'NO'} "
               f"(max abs difference {float((lava_out - ref.output).abs().max()):.0f})")
    if not same:
        sys.exit(1)  # not a user error: the two runtimes disagree


@cli.command()
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option("--profile", "profiles", default="loihi", show_default=True,
              help="profile name(s) or YAML path(s), comma-separated")
@click.option("--data", "data_spec", default="digits", show_default=True,
              help="'digits', a .npz file (x, y) or random[:density=D,seed=S] (seeded random inputs of the model's "
                   "shape, density 0.5 by default; no labels, so no accuracy)")
@click.option("--samples", type=click.IntRange(min=1), default=100, show_default=True,
              help="number of test samples to simulate")
@click.option("--timesteps", "-T", type=click.IntRange(min=1), default=None, help="default: the model's")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="samples per batch in the simulators")
@click.option("--out", "out_dir", required=True, type=click.Path(), callback=output_option("folder"),
              help="output folder (report.json, report.md, report.html)")
@_model_options
@click.option("--timing", type=click.Choice(["detailed", "simple"]), default="detailed", show_default=True,
              help="the headline timing model (SANA-FE's detailed or simple model; simple is always reported too)")
@click.option("--synapse-model", type=click.Choice(["expanded", "shared"]), default=None,
              help="how conv synapses are stored on synapse-list chips (default: each profile's; see snn2hw map)")
@click.option("--effort", type=click.Choice(["fast", "normal"]), default="normal", show_default=True,
              help="how hard the mapping merges leftover tiles (see snn2hw map --effort)")
@click.option("--input-step", type=POSITIVE, default=None,
              help="the input lattice: integer input = round(x / step) (default: the checkpoint's, else the data's)")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="split the samples into this many shards and run the event simulation of each in its own local "
                   "process; the merged report equals the single-process one exactly")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="run the shards as tasks on an existing Ray cluster (auto, HOST:PORT, ray://HOST:PORT; 'local' "
                   "starts one here), one shard per cluster CPU; needs pip install 'snn2hw[ray]'")
@_fidelity_options
@_binning_options
def simulate(model_file, profiles, data_spec, samples, timesteps, batch_size, out_dir, factory, input_shape, nir_reset,
             timing, synapse_model, effort, input_step, workers, ray_address, max_accuracy_drop, allow_approximation):
    """Map, run on real inputs in the event simulator and report costs per hardware profile."""
    from snn2hw.data import load_dataset, model_inputs
    from snn2hw.frontends.load import load_with_module
    from snn2hw.hw_profiles import load_profile
    from snn2hw.report.build import build_report
    from snn2hw.report.write import write_report
    from snn2hw.simulators.mapping import synapse_model_of
    from snn2hw.util.atomic import check_output_folder
    from snn2hw.demo import REPORT_FILES
    check_output_folder(out_dir, files=REPORT_FILES, label="--out")  # the report files too, before any work
    from snn2hw.util.timestamp import source_date_epoch
    source_date_epoch()  # a malformed SOURCE_DATE_EPOCH (the report's created) refused before any work too
    names = list(dict.fromkeys(p.strip() for p in str(profiles).split(",") if p.strip()))  # repeats run once
    for p in names:
        prof = load_profile(p)  # every profile (and the synapse model it must offer) checked before any work
        if synapse_model and prof.memory_model == "synapse_list" and prof.capacity is not None:
            synapse_model_of(prof, synapse_model)
    from snn2hw.simulators.event_shards import sharded
    from snn2hw.util.pool import open_pool
    pool = open_pool(workers, ray_address)  # a Ray address is reached (or refused) before any work
    click.get_current_context().call_on_close(pool.close)
    data = load_dataset(data_spec)
    g, module = load_with_module(model_file, model=factory, input_shape=input_shape, nir_reset=nir_reset)
    for n in g.inputs:
        if input_step is not None:
            g.nodes[n].step = float(input_step)
        elif g.nodes[n].step is None and data.input_step:
            g.nodes[n].step = float(data.input_step)
    x, y, _ = model_inputs(g, data, samples, timesteps)
    rep = build_report(g, x, names, labels=y, source=Path(model_file).name,
                       data_name=getattr(data, "report_name", None) or Path(data_spec).name,
                       batch_size=batch_size, progress=True, model=module, timing=timing,
                       synapse_model=synapse_model, effort=effort, max_accuracy_drop=max_accuracy_drop,
                       allow_approximation=allow_approximation,
                       events=sharded(pool) if pool.size > 1 or ray_address else None)
    paths = write_report(rep, out_dir)
    from snn2hw.report.render import comparison_rows
    from snn2hw.report.layer_table import format_table
    click.echo(format_table(comparison_rows(rep)))
    click.echo("wrote " + ", ".join(str(p) for p in paths.values()))
    from snn2hw.report.integer_safety import warning_line
    warn = warning_line(rep)  # wraps/saturations on the simulated samples: one line, which layers, how many
    if warn:
        click.echo(warn, err=True)
    from snn2hw.report import fidelity
    unreal = [u for p in names for u in fidelity.unrealisable_neurons(g, load_profile(p))]
    fa, ias = fidelity.report_accuracies(rep)
    drops = fidelity.accuracy_drops(fa, ias, max_accuracy_drop)
    if y is None or fa is None:
        click.echo(fidelity.NOT_APPLIED if y is None else
                   "fidelity gate not applied: the model is already an integer graph (no float accuracy)", err=True)
    for u in unreal if allow_approximation else ():
        click.echo(f"warning: {u.describe()} (approximated: --allow-approximation)", err=True)
    gate = fidelity.gate_message(drops, unreal, max_accuracy_drop, allow_approximation, samples=int(x.shape[1]))
    misfits = [r for r in rep["runs"] if r.get("fits") is False]
    if misfits or gate:
        lines = [f"{r['profile']}: {v['layer'] or 'whole network'}: {v['resource']} needs {v['needed']:g}, "
                 f"available {v['available']:g}. {v['suggestion']}" for r in misfits for v in r["violations"]]
        fit = (f"the model does not fit {', '.join(r['profile'] for r in misfits)} "
               f"({len(lines)} violation(s); the report says the same):\n" + "\n".join(lines)) if misfits else ""
        raise Snn2hwError("\n".join(m for m in (gate, fit) if m) + ("\n(the report was written)" if gate else ""))


@cli.command()
@click.argument("report_file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True,
              help="output format: Markdown or HTML")
@click.option("--out", "out", default=None, type=click.Path(), callback=output_option("file"),
              help="file to write (default: stdout)")
def report(report_file, fmt, out):
    """Re-render a report.json as Markdown or HTML."""
    from snn2hw.report.render import to_html, to_markdown
    from snn2hw.report.write import read_report
    from snn2hw.util.atomic import write_text
    rep = read_report(report_file)
    try:
        text = to_markdown(rep) if fmt == "md" else to_html(rep)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as e:  # a field of the wrong type
        from snn2hw.errors import FileFormatError
        what = f"missing field {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
        raise FileFormatError(f"{report_file}: the report content is malformed ({what[:200]}); write it again "
                              f"with snn2hw simulate") from None
    if out:
        write_text(out, text)
        click.echo(f"wrote {out}")
    else:
        click.echo(text)


@cli.command()
@click.option("--arch", required=True, help="built-in architecture ('snn2hw models' lists them with their kwargs)")
@click.option("--data", "data_spec", default="digits", show_default=True, help="'digits' or a .npz file")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True, help="training epochs")
@click.option("--timesteps", "-T", type=click.IntRange(min=1), default=4, show_default=True,
              help="timesteps per sample")
@click.option("--lr", type=LEARNING_RATE, default=5e-3, show_default=True,
              help="learning rate (Adam, cosine schedule), finite, > 0 and <= 10")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="samples per batch")
@click.option("--seed", type=SEED, default=0, show_default=True, help="the same seed gives the same checkpoint")
@click.option("--neuron", type=click.Choice(["lif", "if", "atlif", "cuba"]), default="lif", show_default=True,
              help="neuron model of every spiking layer")
@click.option("--arch-kw", multiple=True, help="extra architecture kwargs, key=value (JSON values)")
@click.option("--out", required=True, type=click.Path(), help="output checkpoint (.pt)",
              callback=output_option("file"))
@_binning_options
def train(arch, data_spec, epochs, timesteps, lr, batch_size, seed, neuron, arch_kw, out):
    """Train a built-in architecture and save a snn2hw checkpoint."""
    import torch
    from snn2hw.data import load_dataset
    from snn2hw.frontends.checkpoint import save_checkpoint
    from snn2hw.models import build_model, list_models
    from snn2hw.train import evaluate, train as run_train
    if arch not in list_models():
        raise Snn2hwError(f"unknown architecture '{arch}'; available: {', '.join(list_models())}")
    data = load_dataset(data_spec)
    from snn2hw.train.loop import event_setup
    timesteps, encoding = event_setup(data, timesteps, "direct")   # event data: its own frames, one per step
    kwargs = {"num_classes": data.num_classes, "neuron": neuron, **_kv(arch_kw)}
    torch.manual_seed(seed)
    try:
        model = build_model(arch, **kwargs)
    except (TypeError, ValueError) as e:
        raise Snn2hwError(f"architecture '{arch}' rejects the options {kwargs}: {e}") from None
    if tuple(model.input_shape) != tuple(data.input_shape):
        n_model, n_data = int(torch.tensor(model.input_shape).prod()), int(torch.tensor(data.input_shape).prod())
        if n_model != n_data:
            raise Snn2hwError(f"architecture '{arch}' expects inputs of shape {tuple(model.input_shape)}, the data "
                              f"'{data_spec}' has {tuple(data.input_shape)}; adjust --arch-kw")
        import dataclasses
        shape = tuple(model.input_shape)
        data = dataclasses.replace(data, x_train=data.x_train.reshape((-1,) + shape),
                                   x_test=data.x_test.reshape((-1,) + shape), input_shape=shape)
    hist = run_train(model, data, epochs=epochs, T=timesteps, lr=lr, batch_size=batch_size, seed=seed)
    acc = evaluate(model, data.x_test, data.y_test, T=timesteps, encoding=encoding)
    # no wall-clock time and no folder in the file: the same seed gives the same bytes
    save_checkpoint(out, model, input_step=data.input_step, timesteps=timesteps, encoding=encoding,
                    dataset=Path(data_spec).name, metrics={"test_accuracy": acc},
                    training={"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "optimizer": "adam",
                              "schedule": "cosine"})
    click.echo(f"test accuracy {acc:.4f} after {epochs} epochs ({hist.seconds:.1f} s); wrote {out}")


@cli.command()
@click.option("--out", "out_dir", default="demo_out", show_default=True, type=click.Path(),
              callback=output_option("folder"), help="output folder (converted model and report)")
@click.option("--checkpoint", default=None, type=click.Path(dir_okay=False),
              help="checkpoint to use instead of the shipped examples/digits_lif.pt")
@click.option("--retrain", is_flag=True, help="train the demo model instead of loading the shipped one")
@click.option("--profile", default="loihi", show_default=True, help="profile name or path to a profile YAML")
def demo(out_dir, checkpoint, retrain, profile):
    """The main job on the bundled digits data: convert, run float and integer, compare; then cost the shipped
    event-data model (shapes_dvs) on loihi and speck (DIR/events/)."""
    from snn2hw.demo import run_demo
    from snn2hw.hw_profiles import load_profile
    load_profile(profile)
    run_demo(out_dir, checkpoint=checkpoint, retrain=retrain, profile=profile, log=click.echo)


from snn2hw.cli_profiles import profiles  # noqa: E402  (the 'snn2hw profiles' group)
cli.add_command(profiles)
from snn2hw.cli_compress import compress as _compress, finetune as _finetune  # noqa: E402
cli.add_command(_compress)
cli.add_command(_finetune)
from snn2hw.cli_init import init as _init  # noqa: E402  (the 'snn2hw init' command)
cli.add_command(_init)
from snn2hw.cli_map import map_cmd as _map  # noqa: E402  (the 'snn2hw map' command)
cli.add_command(_map)
from snn2hw.cli_models import models as _models  # noqa: E402  (the 'snn2hw models' command)
cli.add_command(_models)
from snn2hw.cli_sweep import sweep as _sweep  # noqa: E402  (the 'snn2hw sweep' command)
cli.add_command(_sweep)
from snn2hw.cli_fit import fit as _fit  # noqa: E402  (the 'snn2hw fit' command)
cli.add_command(_fit)


def main(argv=None):
    """Run the CLI. Exit status: 0 ok, 2 user or environment error (``error: ...``, also a full disk),
    130 interrupted (SIGINT, Ctrl-C), 143 terminated (SIGTERM); outputs are left as they were (docs/FAULTS.md)."""
    from snn2hw.util.faults import Terminated, install_sigterm_handler
    install_sigterm_handler()
    try:
        cli.main(args=argv, prog_name="snn2hw", standalone_mode=False)
    except Snn2hwError as e:
        # a message may quote a name with a lone surrogate (e.g. from a YAML file): printable whatever it holds
        click.echo(f"error: {e}".encode("utf-8", "backslashreplace").decode("utf-8"), err=True)
        sys.exit(2)
    except click.exceptions.Abort as e:  # click turns KeyboardInterrupt (and so Terminated) into Abort
        if isinstance(e.__cause__, Terminated):
            click.echo("terminated", err=True)
            sys.exit(143)
        click.echo("interrupted" if isinstance(e.__cause__, KeyboardInterrupt) else "aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except Terminated:
        click.echo("terminated", err=True)
        sys.exit(143)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as e:  # an output path the commands did not name themselves (OutputError names it)
        why = os.strerror(e.errno) if e.errno else str(e)
        click.echo(f"error: {e.filename + ': ' if e.filename else ''}{why}", err=True)
        sys.exit(2)
    except RecursionError as e:  # a deeply nested file (JSON/YAML) a loader did not bound itself
        _internal_note(e, "error: the input is nested too deeply to read (recursion limit reached)", code=2)
    except Exception as e:  # noqa: BLE001 - anything else is our bug: one line, the traceback in a log file
        _internal_note(e, "internal error, please report", code=1)
    sys.exit(0)


def _internal_note(e: BaseException, head: str, code: int) -> None:
    """Print ``head: <one line>; details in <log>`` (the traceback goes to the log file) and exit ``code``."""
    import traceback
    from snn2hw.util.crashlog import one_line, write_log
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    path = write_log("crash", f"snn2hw {__version__}\nargv: {sys.argv!r}\n\n{tb}")
    click.echo(f"{head}: {one_line(e)}; details in {path if path else '(no log could be written)'}", err=True)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
