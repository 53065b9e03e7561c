"""``snn2hw models``: the built-in architectures (for ``train``/``init --arch``) with their kwargs.

The listing comes from :func:`snn2hw.models.describe_models`; this command only prints it.
"""
from __future__ import annotations

import json
import textwrap

import click


def _kw(k: dict) -> str:
    return k["name"] if k["default"] is None else f"{k['name']}={k['default']}"


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="print the list as JSON")
def models(as_json):
    """List the built-in architectures and the kwargs each takes (set them with --arch-kw key=value)."""
    from snn2hw.models import describe_models
    rows = describe_models()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        click.echo(r["name"])
        if r["summary"]:
            click.echo(textwrap.fill(r["summary"], width=100, initial_indent="  ", subsequent_indent="  "))
        click.echo(textwrap.fill("kwargs: " + ", ".join(_kw(k) for k in r["kwargs"]), width=100,
                                 initial_indent="  ", subsequent_indent="    "))
    if rows:
        click.echo(textwrap.fill("every architecture also takes the neuron kwargs: "
                                 + ", ".join(_kw(k) for k in rows[0]["neuron_kwargs"]), width=100,
                                 subsequent_indent="  "))
    click.echo("use: snn2hw train --arch NAME --arch-kw key=value (JSON values, e.g. --arch-kw 'hidden=[100]')")
