"""Hardware profile schema (pydantic). One YAML file per chip in this folder.

Every number that describes the chip carries its source. This first version
holds the number formats and neuron semantics the quantizer needs; capacities
and per-event costs join it with the event simulator.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class Profile(_Strict):
    name: str
    description: str
    formats: Formats
    semantics: Semantics
    sources: dict[str, str] = Field(description="where each section's numbers come from")

    @field_validator("sources")
    @classmethod
    def _sources_cover(cls, v):
        missing = {"formats", "semantics"} - set(v)
        if missing:
            raise ValueError(f"sources must cite {sorted(missing)}")
        return v
