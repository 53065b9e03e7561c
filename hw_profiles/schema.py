"""Hardware profile schema (pydantic). One YAML file per chip in this folder.

A profile has five sections:

* ``formats``: the integer formats the quantizer targets;
* ``semantics``: neuron knobs (``reset``, ``compare``) and ``neuron_models``, the neuron models the chip
  realises (``if``, ``lif``, ``cuba``; missing: all; ``truenorth`` and ``speck``: ``[if]``; a layer of another
  model fails the fidelity gate, snn2hw/report/fidelity.py, unless ``--allow-approximation``;
  :class:`Semantics`); the arithmetic is the same for all;
* ``capacity``: what one core (and the chip) can hold, for mapping and fit checks;
* ``costs``: per-event energies and latencies, units in the key names;
* ``sources``: citations for whole sections;
* ``system`` (optional): a board of several such chips whose meshes join into one
  (:class:`System`: chips, chip mesh, inter-chip link energy and latency).

``memory_model`` (top level, default ``synapse_list``) selects how mapping counts
core memory; ``shared_kernel`` (Speck) reads the per-core tables
``capacity.kernel/neuron/bias_memory_entries_per_core`` (:class:`PerCoreFigure`:
``{value: <smallest>, per_core: [...], source}``) and ``capacity.max_stride`` /
``max_pool_size`` (:class:`AllowedFigure`: ``{value: <largest>, allowed: [...]}``).
It sits at the top level, not in ``capacity``, so that every capacity entry stays
a figure with a number.

Every number in ``capacity`` and ``costs`` is a :class:`Figure` ``{value, source}``
(``estimate: true`` marks a figure that is not a measurement or a datasheet
value, e.g. Loihi 2 energies scaled from Loihi 1). A missing cost (``null``)
means the profile does not model that event (a capacity-only profile); reports
then say so instead of printing a number.
"""
from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


#: largest capacity figure accepted (cores, neurons, bits, axons per core); larger ones are typos or corrupt
#: files, and mapping work grows with some of them
CAPACITY_MAX = 10**12


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Figure(_Strict):
    """One number with where it comes from."""

    value: float
    source: str = Field(min_length=3)
    estimate: bool = False


class PerCoreFigure(Figure):
    """A per-core table (core index 0..cores-1) with where it comes from; ``value`` is its smallest entry
    (what a single-number reader, e.g. ``snn2hw profiles show``, sees)."""

    per_core: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _value_is_min(self):
        if any(not (0 <= v <= CAPACITY_MAX) for v in self.per_core):
            raise ValueError(f"per_core entries must be numbers from 0 to {CAPACITY_MAX:.0e}")
        if self.value != min(self.per_core):
            raise ValueError(f"value must be the smallest per_core entry ({min(self.per_core):g}), got {self.value:g}")
        return self


class AllowedFigure(Figure):
    """A set of allowed values (e.g. strides ``[1, 2, 4, 8]``); ``value`` is the largest."""

    allowed: list[int] = Field(min_length=1)

    @model_validator(mode="after")
    def _value_is_max(self):
        if self.value != max(self.allowed):
            raise ValueError(f"value must be the largest allowed entry ({max(self.allowed)}), got {self.value:g}")
        return self


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
    """Neuron semantics knobs of the chip (the arithmetic is the same for all profiles).

    ``reset``: what a neuron's potential becomes after a spike (``zero`` or ``subtract`` the threshold);
    ``compare``: the firing test against the threshold (``gt``: v > threshold, ``ge``: v >= threshold);
    ``neuron_models`` (optional): the neuron models the chip realises exactly, a list of

    * ``if``: integrate-and-fire, no multiplicative leak and no synaptic current (beta = 1, alpha = 0; a
      constant leak is expressed through the bias);
    * ``lif``: leaky integrate-and-fire, a multiplicative membrane decay (beta < 1);
    * ``cuba``: current-based LIF, with a decaying synaptic current (alpha > 0).

    Missing or null: all three (Loihi's CUBA neuron realises them all). ``truenorth`` and ``speck`` list only
    ``[if]``. A network layer whose model is not in the list fails the fidelity gate of ``convert``, ``export``
    and ``simulate`` (exit 2, naming the layer and the closest realisable model; report.json's
    ``runs[].fidelity.unrealisable_neurons``) unless ``--allow-approximation`` is given
    (``snn2hw/report/fidelity.py``).
    """

    reset: Literal["zero", "subtract"] = Field(description="potential after a spike: zero, or subtract the threshold")
    compare: Literal["gt", "ge"] = Field(description="firing test: v > threshold (gt) or v >= threshold (ge)")
    neuron_models: Optional[list[Literal["if", "lif", "cuba"]]] = Field(
        default=None, description="neuron models the chip realises exactly (if, lif, cuba); null: all; others fail "
                                  "the fidelity gate unless --allow-approximation")


class Mesh(_Strict):
    """The network on chip: a ``width x height`` mesh of tiles, ``cores_per_tile`` cores each."""

    width: int = Field(ge=1)
    height: int = Field(ge=1)
    cores_per_tile: int = Field(ge=1)
    source: str = Field(min_length=3)
    estimate: bool = False  # added for loihi2 (an unverified mesh layout); like Figure.estimate
    #: messages a router link buffers (the detailed timing model's blocking threshold); None: not modelled
    link_buffer_size: Optional[Figure] = None


class System(_Strict):
    """A system of identical chips (a board) whose meshes join into one, for networks that need several chips.

    ``chips`` chips sit on a ``chips_x x chips_y`` chip mesh (``source``/``estimate``: where that arrangement
    comes from); each chip's mesh links to its neighbours' at its four edges (Loihi's off-chip interfaces
    "extend the mesh in 4 planar directions", Davies et al. 2018). ``interchip_energy_pj`` /
    ``interchip_latency_ns``: one spike message crossing one chip boundary (the link between two neighbouring
    chips), on top of its on-chip hops. How mapping lays chips out and routes across them:
    :mod:`snn2hw.simulators.placement`; how the event simulator charges the crossings: ``docs/COST_MODEL.md``.
    A profile without a system is one chip: a network that needs more cores is still placed (on virtual chips
    below it) and its chip crossings counted, but not priced."""

    name: str = Field(min_length=1, description="the board, e.g. 'Nahuku-32'")
    chips: Figure
    chips_x: int = Field(ge=1, description="chips per row of the chip mesh")
    chips_y: int = Field(ge=1, description="rows of the chip mesh")
    source: str = Field(min_length=3, description="where the chip mesh arrangement comes from")
    estimate: bool = False
    interchip_energy_pj: Optional[Figure] = None
    interchip_latency_ns: Optional[Figure] = None

    @model_validator(mode="after")
    def _chips_fit_the_mesh(self):
        n = self.chips.value
        if not (math.isfinite(n) and float(n).is_integer() and 1 <= n <= self.chips_x * self.chips_y):
            raise ValueError(f"chips must be a whole number from 1 to chips_x x chips_y = "
                             f"{self.chips_x * self.chips_y}, got {n!r}")
        for key in ("interchip_energy_pj", "interchip_latency_ns"):
            f = getattr(self, key)
            if f is not None and not (math.isfinite(f.value) and f.value >= 0):
                raise ValueError(f"{key} must be a finite number >= 0, got {f.value!r}")
        return self


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
    # shared-kernel memory model (Profile.memory_model == 'shared_kernel', Speck): per-core tables in entries
    kernel_memory_entries_per_core: Optional[PerCoreFigure] = None
    neuron_memory_entries_per_core: Optional[PerCoreFigure] = None
    bias_memory_entries_per_core: Optional[PerCoreFigure] = None
    max_stride: Optional[AllowedFigure] = None
    max_pool_size: Optional[AllowedFigure] = None

    @model_validator(mode="after")
    def _tables_cover_every_core(self):
        if not (math.isfinite(self.cores.value) and 1 <= self.cores.value <= CAPACITY_MAX):
            return self  # reported by load_profile's range check, with the field path
        for key in ("kernel_memory_entries_per_core", "neuron_memory_entries_per_core",
                    "bias_memory_entries_per_core"):
            f = getattr(self, key)
            if f is not None and len(f.per_core) != int(self.cores.value):
                raise ValueError(f"{key}.per_core has {len(f.per_core)} entries but the chip has "
                                 f"{int(self.cores.value)} cores")
        return self


class Costs(_Strict):
    """Per-event costs. Energies in picojoules, latencies in nanoseconds, power in milliwatts.

    ``synop``: one synaptic event (a spike times one surviving synapse);
    ``neuron_active`` / ``neuron_inactive``: a neuron update per timestep with / without input;
    ``spike_out``: a neuron firing; ``message``: one spike packet to one destination core
    (out and in); ``hop_ew``/``hop_ns``: one NoC hop east-west / north-south;
    ``synop_sparse``: one synaptic event on a core whose synapses are stored sparse (index
    per synapse; ``synop`` is the dense unit and the default when this is missing);
    ``synop_conv``: one synaptic event on a core whose conv synapses are shared weight sets
    (the ``shared`` synapse model; the dense unit when missing);
    ``barrier_latency_ns``: end-of-step synchronisation, by number of tiles used (tiles
    holding any neuron, input senders included): the largest key not above the tiles
    used applies, the smallest key below it (SANA-FE's ``latency_sync`` table); ``mac`` / ``ac``: the
    literature's per-operation energies (45 nm: 4.6 / 0.9 pJ).
    """

    synop_energy_pj: Optional[Figure] = None
    synop_latency_ns: Optional[Figure] = None
    synop_sparse_energy_pj: Optional[Figure] = None
    synop_sparse_latency_ns: Optional[Figure] = None
    synop_conv_energy_pj: Optional[Figure] = None
    synop_conv_latency_ns: Optional[Figure] = None
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


class SynapseModels(_Strict):
    """How a ``synapse_list`` chip can store a conv layer's synapses (mapping's ``--synapse-model``):

    * ``expanded`` (nengo-loihi's expanded synapses): every connection stored on its destination core,
      a discrete axon per source neuron (the Capacity docstring);
    * ``shared`` (NxTF's weight sharing, nengo-loihi's population weights): a population axon per source
      pixel, each distinct tap pattern's weight set stored once per core
      (:mod:`snn2hw.simulators.mapping.shared_synapses`).

    ``default``: what mapping uses when the user does not choose."""

    available: list[Literal["expanded", "shared"]] = Field(default_factory=lambda: ["expanded"], min_length=1)
    default: Literal["expanded", "shared"] = "expanded"
    source: str = Field(default="expanded synapses only (no weight sharing modelled for this chip)", min_length=3)

    @model_validator(mode="after")
    def _default_available(self):
        if self.default not in self.available:
            raise ValueError(f"synapse_models.default '{self.default}' is not in available {self.available}")
        return self


class Profile(_Strict):
    name: str
    description: str
    formats: Formats
    semantics: Semantics
    capacity: Optional[Capacity] = None
    costs: Costs = Field(default_factory=Costs)
    sources: dict[str, str] = Field(description="where each section's numbers come from")
    notes: list[str] = Field(default_factory=list, description="assumptions a report must state")
    synapse_models: SynapseModels = Field(default_factory=SynapseModels)
    system: Optional[System] = Field(default=None, description="a board of several chips (System); None: one chip")
    memory_model: Literal["synapse_list", "shared_kernel"] = Field(
        default="synapse_list",
        description="how mapping counts core memory: 'synapse_list' (nengo-loihi: synapses expanded per core, "
                    "Capacity docstring) or 'shared_kernel' (Speck: one layer per core, one shared conv kernel; "
                    "needs capacity.kernel_memory_entries_per_core and neuron_memory_entries_per_core)")

    @model_validator(mode="after")
    def _shared_kernel_tables(self):
        if self.memory_model == "shared_kernel":
            cap = self.capacity
            if cap is None or cap.kernel_memory_entries_per_core is None or cap.neuron_memory_entries_per_core is None:
                raise ValueError("memory_model 'shared_kernel' needs capacity.kernel_memory_entries_per_core and "
                                 "capacity.neuron_memory_entries_per_core")
        return self

    @model_validator(mode="after")
    def _system_needs_a_mesh(self):
        if self.system is not None and (self.capacity is None or self.capacity.mesh is None):
            raise ValueError("system needs capacity.mesh (chips join at their mesh edges)")
        return self

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
