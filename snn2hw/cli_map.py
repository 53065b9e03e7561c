"""``snn2hw map``: does a network fit a chip, on how many cores and chips, and how close to the lower bound."""
from __future__ import annotations

import json

import click

from snn2hw.util.atomic import output_option
from snn2hw.util.cli_types import POSITIVE


@click.command("map")
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option("--profile", default="loihi", show_default=True, help="hardware profile name or YAML file")
@click.option("--synapse-model", type=click.Choice(["expanded", "shared"]), default=None,
              help="how conv synapses are stored (default: the profile's; 'shared': weight sets stored once, "
                   "population axons)")
@click.option("--effort", type=click.Choice(["fast", "normal"]), default="normal", show_default=True,
              help="how hard leftover tiles are merged into neighbouring cores: 'fast' stops a layer sooner (more "
                   "cores on some networks, e.g. ResNet-19 with expanded synapses, in less time)")
@click.option("--json", "json_out", default=None, type=click.Path(), callback=output_option("file"),
              help="also write the summary as JSON to this file")
@click.option("--model", "--factory", "factory", default=None, metavar="MODULE:FACTORY",
              help="the model's code for a plain state_dict (as in 'snn2hw convert --model')")
@click.option("--input-shape", "input_shape", default=None, metavar="C,H,W",
              help="the input shape of one sample for a plain state_dict (e.g. 1,8,8 or 64)")
@click.option("--nir-reset", "nir_reset", type=click.Choice(["zero", "subtract"]), default=None,
              help="the reset of a foreign NIR file's spiking neurons (as in 'snn2hw convert --nir-reset')")
@click.option("--data", "data_spec", default=None, help="calibration data for converting a float checkpoint")
@click.option("--input-step", type=POSITIVE, default=None,
              help="the input lattice: integer input = round(x / step)")
def map_cmd(model_file, profile, synapse_model, effort, json_out, factory, input_shape, nir_reset, data_spec,
            input_step):
    """Map a model onto a profile's cores: per-layer table, totals, lower bound and every violation."""
    from snn2hw.cli import _load_integer, _parse_shape
    from snn2hw.hw_profiles import load_profile
    from snn2hw.report.mapping_summary import format_mapping, mapping_summary
    from snn2hw.simulators.mapping import map_graph
    from snn2hw.util.atomic import write_text
    prof = load_profile(profile)
    g, _ = _load_integer(model_file, profile, factory, data_spec, input_step, _parse_shape(None, None, input_shape),
                         nir_reset)
    res = map_graph(g, prof, synapse_model=synapse_model, effort=effort)
    other = None
    if prof.memory_model == "synapse_list" and len(prof.synapse_models.available) > 1:
        alt = next(m for m in prof.synapse_models.available if m != res.totals["synapse_model"])
        other = map_graph(g, prof, synapse_model=alt, effort=effort)
    doc = mapping_summary(res, other)
    click.echo(format_mapping(doc))
    if json_out:
        write_text(json_out, json.dumps(doc, indent=1))
        click.echo(f"wrote {json_out}")
