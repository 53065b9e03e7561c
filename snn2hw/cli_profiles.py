"""``snn2hw profiles``: list the shipped hardware profiles and show one, with every figure's unit and source.

* ``snn2hw profiles`` (or ``profiles list``): one line per shipped profile: name,
  cores, whether energy is modelled, and the first sentence of its description;
* ``snn2hw profiles show NAME_OR_PATH [--json]``: one profile (shipped name or a
  user's YAML file), every figure with its unit (from the key name) and source,
  estimates flagged, unmodelled costs named, then the profile's notes.

A profile that does not validate is a user error (``ProfileError``): the CLI
prints the field paths of every problem and exits with status 2.
"""
from __future__ import annotations

import json
import re
import textwrap

import click

#: units by key-name suffix (schema convention: units live in the key names)
_SUFFIX_UNITS = (("_energy_pj", "pJ"), ("_latency_ns", "ns"), ("_power_mw", "mW"), ("_pj", "pJ"), ("_ns", "ns"),
                 ("_mw", "mW"))
#: units of capacity keys whose names carry no unit suffix
_CAPACITY_UNITS = {"cores": "cores", "neurons_per_core": "neurons", "fan_in_axons_per_core": "axons",
                   "fan_out_axons_per_core": "axons", "max_destination_cores": "cores",
                   "max_kernel_size": "taps per side (square kernel)"}


def unit_of(key: str) -> str:
    """The unit a profile key carries in its name: ``synop_energy_pj`` -> ``pJ``, ``..._bits...`` -> ``bits``."""
    for suffix, unit in _SUFFIX_UNITS:
        if key.endswith(suffix):
            return unit
    if "bits" in key:
        return "bits"
    return _CAPACITY_UNITS.get(key, "")


def first_sentence(text: str) -> str:
    """The first sentence of a description (up to the first '.', '!' or '?' followed by a capital or the end)."""
    text = " ".join(text.split())
    m = re.search(r"[.!?](?=\s+[A-Z(]|$)", text)
    return text[: m.end()] if m else text


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def _energy_state(p) -> str:
    c = p.costs
    if c.synop_energy_pj is None:
        return "no"
    return "estimated" if c.synop_energy_pj.estimate else "yes"


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=100, initial_indent=indent, subsequent_indent=indent + "  ")


@click.group("profiles", invoke_without_command=True)
@click.pass_context
def profiles(ctx):
    """List hardware profiles, or show one ('profiles show NAME_OR_PATH')."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd)


@profiles.command("list")
def list_cmd():
    """One line per shipped profile: name, cores, energy modelled, description."""
    from snn2hw.hw_profiles import HERE, list_profiles, load_profile
    rows = []
    for name in list_profiles():
        p = load_profile(name)
        cores = _num(p.capacity.cores.value) if p.capacity is not None else "-"
        rows.append((name, cores, _energy_state(p), first_sentence(p.description)))
    w = max([len("name")] + [len(r[0]) for r in rows])
    click.echo(f"{'name':{w}}  {'cores':>5}  {'energy':9}  description")
    for name, cores, energy, desc in rows:
        click.echo(f"{name:{w}}  {cores:>5}  {energy:9}  {desc}")
    click.echo(f"\n{len(rows)} profiles in {HERE}; 'snn2hw profiles show NAME' prints one with its sources. "
               f"Any --profile option also takes a path to your own YAML file.")


@profiles.command("show")
@click.argument("name_or_path")
@click.option("--json", "as_json", is_flag=True, help="print the validated profile as JSON")
def show_cmd(name_or_path, as_json):
    """Print one profile: every figure with its unit and source, estimates flagged."""
    from snn2hw.hw_profiles import load_profile, profile_path
    from snn2hw.hw_profiles.schema import Figure
    path = profile_path(name_or_path)
    p = load_profile(path)
    if as_json:
        click.echo(json.dumps(p.model_dump(mode="json"), indent=2))
        return
    echo = click.echo
    echo(f"{p.name}  ({path})")
    echo(_wrap(p.description, "  "))
    echo("")
    echo("formats:")
    for k, v in p.formats.model_dump().items():
        echo(f"  {k:22s} {v}")
    echo("semantics:")
    for k, v in p.semantics.model_dump().items():
        echo(f"  {k:22s} {v}")
    n_est = 0

    def fig(label: str, f: Figure, unit: str):
        nonlocal n_est
        n_est += f.estimate
        flag = "  [estimate]" if f.estimate else ""
        echo(f"  {label:28s} {_num(f.value):>10} {unit}{flag}")
        echo(_wrap(f"source: {f.source}", " " * 6))

    echo("capacity:")
    if p.capacity is None:
        echo("  none (no capacity limits)")
    else:
        cap = p.capacity
        for key in type(cap).model_fields:
            v = getattr(cap, key)
            if key == "mesh":
                if v is not None:
                    n_est += v.estimate
                    echo(f"  {'mesh':28s} {v.width} x {v.height} tiles x {v.cores_per_tile} cores/tile"
                         + ("  [estimate]" if v.estimate else ""))
                    echo(_wrap(f"source: {v.source}", " " * 6))
                    if v.link_buffer_size is not None:
                        fig("mesh.link_buffer_size", v.link_buffer_size, "messages")
            elif v is not None:
                fig(key, v, unit_of(key))
        unset = [k for k in type(cap).model_fields if getattr(cap, k) is None]
        if unset:
            echo(_wrap(f"no limit given: {', '.join(unset)}", "  "))
    echo("costs:")
    c = p.costs
    for key in type(c).model_fields:
        v = getattr(c, key)
        if isinstance(v, Figure):
            fig(key, v, unit_of(key))
        elif isinstance(v, dict):
            for tiles in sorted(v):
                fig(f"{key}[<= {tiles} tiles]", v[tiles], unit_of(key))
    unset = [k for k in type(c).model_fields if getattr(c, k) is None]
    if unset:
        echo(_wrap(f"not modelled: {', '.join(unset)}", "  "))
    echo(f"energy modelled: {_energy_state(p)}; {n_est} figure(s) flagged [estimate] (not a measurement or "
         f"datasheet value)")
    echo("sources:")
    for k, v in p.sources.items():
        echo(_wrap(f"{k}: {v}", "  "))
    if p.notes:
        echo("notes:")
        for n in p.notes:
            echo(_wrap(f"- {n}", "  "))
