"""Energy by event class of one part of the chip (a layer or a core), from the event simulator's counts.

The classes are the report's (``simulators/event.py``): ``synapse`` = synaptic events x the synapse unit
of the cores holding them (dense or sparse); ``neuron`` = updates x neuron_active + accesses only x
neuron_inactive; ``spike`` = spikes out x spike_out; ``network`` = messages out x message_out + messages
received x message_in + hops x hop energies; ``interchip`` = chip boundaries crossed x the system's
``interchip_energy_pj`` (0 where nothing crosses a chip). A layer is charged the network and inter-chip energy
of the messages it sends (their delivery, hops and chip crossings included) and the synaptic events it
receives; a core, the messages it sends and receives and the synaptic events of its neurons. A class whose
cost the profile lacks is None.
"""
from __future__ import annotations

CLASSES = ("synapse", "neuron", "spike", "network", "interchip")


def _pj(costs, key):
    f = getattr(costs, key)
    return None if f is None else float(f.value)


def unit_pj(costs, unit: str):
    """Energy of one synaptic event at a synapse unit (``'dense'``, ``'sparse'`` or ``'conv'``; the dense figure
    where the profile does not price the unit), pJ."""
    fig = getattr(costs, f"synop_{unit}_energy_pj", None) if unit in ("sparse", "conv") else None
    if fig is not None:
        return float(fig.value)
    return _pj(costs, "synop_energy_pj")


def interchip_pj(profile):
    """Energy of one chip boundary crossed (the profile's ``system.interchip_energy_pj``), pJ; None without it."""
    fig = profile.system.interchip_energy_pj if profile.system is not None else None
    return None if fig is None else float(fig.value)


def energy_by_class(counts: dict, costs, synapse_pj, chip_pj=None) -> dict:
    """``{class: pJ per sample}`` from per-sample counts (``<event>_per_sample`` keys; ``messages_in``
    may be given as ``spikes_in`` or ``messages_delivered``), the synapse unit's energy and the energy of one
    chip boundary crossed (``chip_pj``, :func:`interchip_pj`)."""
    c = lambda k: float(counts.get(f"{k}_per_sample") or 0.0)  # noqa: E731
    e = {k: _pj(costs, k) for k in ("neuron_active_energy_pj", "neuron_inactive_energy_pj", "spike_out_energy_pj",
                                    "message_out_energy_pj", "message_in_energy_pj", "hop_ew_energy_pj",
                                    "hop_ns_energy_pj")}
    received = c("spikes_in") if "spikes_in_per_sample" in counts else c("messages_delivered")
    out = {"synapse": None if synapse_pj is None else c("synops") * synapse_pj}
    out["neuron"] = (None if e["neuron_active_energy_pj"] is None or e["neuron_inactive_energy_pj"] is None else
                     c("neuron_updates_active") * e["neuron_active_energy_pj"]
                     + c("neuron_updates_inactive") * e["neuron_inactive_energy_pj"])
    out["spike"] = None if e["spike_out_energy_pj"] is None else c("spikes_out") * e["spike_out_energy_pj"]
    net = ("message_out_energy_pj", "message_in_energy_pj", "hop_ew_energy_pj", "hop_ns_energy_pj")
    out["network"] = (None if any(e[k] is None for k in net) else
                      c("messages_out") * e["message_out_energy_pj"] + received * e["message_in_energy_pj"]
                      + c("hops_ew") * e["hop_ew_energy_pj"] + c("hops_ns") * e["hop_ns_energy_pj"])
    out["interchip"] = c("chip_hops") * chip_pj if chip_pj is not None else (None if c("chip_hops") else 0.0)
    return out
