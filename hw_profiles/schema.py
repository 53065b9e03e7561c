"""Hardware profile schema (pydantic). One YAML file per chip in this folder.

A profile has five sections:

* ``formats``: the integer formats the quantizer targets;
* ``semantics``: neuron knobs (reset, comparison); the arithmetic is the same for all;
* ``capacity``: what one core (and the chip) can hold, for mapping and fit checks;
* ``costs``: per-event energies and latencies, units in the key names;
* ``sources``: citations for whole sections.

Every number in ``capacity`` and ``costs`` is a :class:`Figure` ``{value, source}``
(``estimate: true`` marks a figure that is not a measurement or a datasheet
value, e.g. Loihi 2 energies scaled from Loihi 1). A missing cost (``null``)
means the profile does not model that event (a capacity-only profile); reports
then say so instead of printing a number.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Figure(_Strict):
    """One number with where it comes from."""

    value: float
    source: str = Field(min_length=3)
    estimate: bool = False


class Formats(_Strict):
    """Integer formats of the synapses and neurons."""

    weight_bits: int = Field(ge=1, le=16, description="signed weight width, sign included")
    weight_exp_min: int = Field(ge=-16, le=0, description="smallest per-layer weight exponent")
    weight_exp_max: int = Field(ge=0, le=16, description="largest per-layer weight exponent")
    decay_bits: int = Field(ge=1, le=16, description="width of the du/dv decay constants (4096 = 12 bits)")
    threshold_mant_bits: int = Field(ge=1, le=31, description="unsigned threshold mantissa width (vth)")
    bias_mant_bits: int = Field(ge=1, le=31, description="signed bias mantissa width, sign included")
    bias_exp: int = Field(ge=-16, le=16, description="bias exponent used by the quantizer (bias = mant << exp)")
    state_bits: int = Field(ge=8, le=32, description="u and v state width")
    input_bits: int = Field(ge=1, le=32, description="graded input payload width")
    granularity: Literal["layer", "channel"] = Field(description="default weight scale granularity")


class Semantics(_Strict):
    """Neuron semantics knobs of the chip (the arithmetic is the same for all profiles)."""

    reset: Literal["zero", "subtract"]
    compare: Literal["gt", "ge"]


class Mesh(_Strict):
    """The network on chip: a ``width x height`` mesh of tiles, ``cores_per_tile`` cores each."""

    width: int = Field(ge=1)
    height: int = Field(ge=1)
    cores_per_tile: int = Field(ge=1)
    source: str = Field(min_length=3)
    estimate: bool = False  # added for loihi2 (an unverified mesh layout); like Figure.estimate


class Capacity(_Strict):
    """Per-core limits (and the chip's core count). ``None``: no such limit on this chip.

    Synapse memory model (nengo-loihi style): a stored synapse costs
    ``weight_bits + synapse_index_bits`` bits; each run of synapses of one input
    axon adds ``synapse_header_bits``; dense storage costs ``weight_bits`` per
    synapse with no index. Rounded up to ``synapse_word_bits`` per axon.
    """

    cores: Figure
    mesh: Optional[Mesh] = None
    neurons_per_core: Figure
    synapse_memory_bits_per_core: Optional[Figure] = None
    synapse_index_bits: Optional[Figure] = None
    synapse_header_bits: Optional[Figure] = None
    synapse_word_bits: Optional[Figure] = None
    fan_in_axons_per_core: Optional[Figure] = None
    fan_out_axons_per_core: Optional[Figure] = None
    max_destination_cores: Optional[Figure] = None
    max_kernel_size: Optional[Figure] = None


class Costs(_Strict):
    """Per-event costs. Energies in picojoules, latencies in nanoseconds, power in milliwatts.

    ``synop``: one synaptic event (a spike times one surviving synapse);
    ``neuron_active`` / ``neuron_inactive``: a neuron update per timestep with / without input;
    ``spike_out``: a neuron firing; ``message``: one spike packet to one destination core
    (out and in); ``hop_ew``/``hop_ns``: one NoC hop east-west / north-south;
    ``barrier_latency_ns``: end-of-step synchronisation, by number of tiles used
    (the smallest key not below the tiles used applies); ``mac`` / ``ac``: the
    literature's per-operation energies (45 nm: 4.6 / 0.9 pJ).
    """

    synop_energy_pj: Optional[Figure] = None
    synop_latency_ns: Optional[Figure] = None
    neuron_active_energy_pj: Optional[Figure] = None
    neuron_active_latency_ns: Optional[Figure] = None
    neuron_inactive_energy_pj: Optional[Figure] = None
    neuron_inactive_latency_ns: Optional[Figure] = None
    spike_out_energy_pj: Optional[Figure] = None
    spike_out_latency_ns: Optional[Figure] = None
    message_out_energy_pj: Optional[Figure] = None
    message_out_latency_ns: Optional[Figure] = None
    message_in_energy_pj: Optional[Figure] = None
    message_in_latency_ns: Optional[Figure] = None
    hop_ew_energy_pj: Optional[Figure] = None
    hop_ew_latency_ns: Optional[Figure] = None
    hop_ns_energy_pj: Optional[Figure] = None
    hop_ns_latency_ns: Optional[Figure] = None
    barrier_latency_ns: Optional[dict[int, Figure]] = None
    static_power_mw: Optional[Figure] = None
    mac_energy_pj: Optional[Figure] = None
    ac_energy_pj: Optional[Figure] = None

    @field_validator("barrier_latency_ns")
    @classmethod
    def _tiles_positive(cls, v):
        if v is not None and (not v or any(k < 1 for k in v)):
            raise ValueError("barrier_latency_ns needs tile counts >= 1 as keys")
        return v


class Profile(_Strict):
    name: str
    description: str
    formats: Formats
    semantics: Semantics
    capacity: Optional[Capacity] = None
    costs: Costs = Field(default_factory=Costs)
    sources: dict[str, str] = Field(description="where each section's numbers come from")
    notes: list[str] = Field(default_factory=list, description="assumptions a report must state")

    @field_validator("sources")
    @classmethod
    def _sources_cover(cls, v):
        missing = {"formats", "semantics"} - set(v)
        if missing:
            raise ValueError(f"sources must cite {sorted(missing)}")
        return v

    @property
    def models_energy(self) -> bool:
        return self.costs.synop_energy_pj is not None
