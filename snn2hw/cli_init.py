"""``snn2hw init``: a seeded, untrained checkpoint of a built-in architecture, for costing before training.

The work is :func:`snn2hw.models.init.init_checkpoint` (weights, calibration, metadata);
this command parses the options and prints what it made. Every bad option (unknown
architecture, malformed ``--input-shape``, ``--classes`` below 1, an architecture that
cannot take the shape) exits with status 2 and ``error: ...`` before anything is written.
"""
from __future__ import annotations

import click

from snn2hw.util.atomic import output_option
from snn2hw.util.cli_types import POSITIVE


@click.command("init")
@click.option("--arch", required=True,
              help="built-in architecture, e.g. vgg16, resnet19, digits_conv, mlp (an unknown name lists them all)")
@click.option("--input-shape", "input_shape", required=True,
              help="C,H,W for the conv nets (H = W), e.g. 3,32,32; any shape for mlp (flattened), e.g. 64")
@click.option("--classes", type=int, default=10, show_default=True, help="outputs of the readout layer")
@click.option("--seed", type=int, default=0, show_default=True, help="the same seed gives the same file")
@click.option("--neuron", type=click.Choice(["lif", "if", "atlif", "cuba"]), default="lif", show_default=True,
              help="neuron model of every spiking layer")
@click.option("--arch-kw", multiple=True, help="extra architecture kwargs, key=value (JSON values), as for train")
@click.option("--timesteps", "-T", type=int, default=4, show_default=True, help="recorded as the model's default T")
@click.option("--input-step", type=POSITIVE, default=1 / 255, show_default="1/255",
              help="the input lattice recorded in the checkpoint (integer input = x / step)")
@click.option("--out", required=True, type=click.Path(), help="output checkpoint (.pt)",
              callback=output_option("file"))
def init(arch, input_shape, classes, seed, neuron, arch_kw, timesteps, input_step, out):
    """Write a seeded random-weight (untrained) checkpoint of a built-in architecture, calibrated so that its
    neurons fire; cost it with 'snn2hw simulate FILE --data random'."""
    from snn2hw.cli import _kv
    from snn2hw.models.init import init_checkpoint, parse_input_shape
    shape = parse_input_shape(input_shape, name="--input-shape")
    res = init_checkpoint(arch, shape, classes, seed, out, neuron=neuron, arch_kwargs=_kv(arch_kw),
                          timesteps=timesteps, input_step=input_step)
    n_params = sum(p.numel() for p in res.model.parameters())
    rates = res.firing_rates
    click.echo(f"{arch}: input {tuple(res.model.input_shape)}, {classes} classes, {n_params} parameters, seed {seed}, "
               f"untrained (random weights, calibrated)")
    if rates:
        lo, hi = min(rates, key=rates.get), max(rates, key=rates.get)
        click.echo(f"firing rate on the calibration inputs, spikes per neuron per step: {len(rates)} spiking "
                   f"layers, min {rates[lo]:.3f} ({lo}), max {rates[hi]:.3f} ({hi})")
    click.echo(f"wrote {res.path}")
