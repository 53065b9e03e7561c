"""The conversion pipeline: float graph -> integer graph bound to a profile.

``convert(graph, profile)`` runs, in order: insert_identity_synapses,
fold_batchnorm, lower_avgpool, fold_thresholds, quantize. Each step's
:class:`~snn2hw.passes.base.PassResult` is returned, so a user sees what was
folded, what was refused and why, and what was approximated.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from snn2hw.errors import PassError
from snn2hw.ir.checks import format_problems
from snn2hw.ir.graph import Graph
from snn2hw.passes.base import run_passes
from snn2hw.passes.fold_batchnorm import FoldBatchNormPass
from snn2hw.passes.fold_thresholds import FoldThresholdsPass
from snn2hw.passes.insert_identity_synapses import InsertIdentitySynapsesPass
from snn2hw.passes.lower_avgpool import LowerAvgPoolPass
from snn2hw.passes.quantize import QuantizePass


@dataclass
class ConvertResult:
    graph: Graph
    results: list = field(default_factory=list)

    @property
    def approximations(self) -> list:
        return [a for r in self.results for a in r.approximations]

    @property
    def refusals(self) -> list:
        return [a for r in self.results for a in r.refusals]

    def summary(self) -> str:
        return "\n".join(r.summary() for r in self.results)


def fold(graph: Graph, unit_threshold: bool = False, channel_scales: str = "threshold") -> ConvertResult:
    """The exact float-to-float part of the pipeline (``channel_scales``: see FoldThresholdsPass)."""
    g, results = run_passes(graph, [InsertIdentitySynapsesPass(), FoldBatchNormPass(), LowerAvgPoolPass(),
                                    FoldThresholdsPass(unit_threshold=unit_threshold, channel_scales=channel_scales)])
    return ConvertResult(g, results)


def convert(graph: Graph, profile="loihi", granularity=None, calibration=None,
            unit_threshold: bool = False, netx: bool = False) -> ConvertResult:
    """Fold and quantize ``graph`` for ``profile`` (a name or a YAML path).

    ``netx=True``: dense weight exponents are capped so lava-dl netx runs the Lava export exactly
    (``QuantizePass``; ``snn2hw export --format lava`` sets it)."""
    q = QuantizePass(profile, granularity=granularity, calibration=calibration, netx=netx)
    # per-channel scales become per-channel thresholds only where the target has them (channel granularity);
    # with one threshold per layer (Loihi/Lava LIF processes) they are multiplied into the weights
    folded = fold(graph, unit_threshold, channel_scales="threshold" if q.granularity == "channel" else "weights")
    r = q.run(folded.graph)
    r.graph.metadata["profile"] = q.profile.name
    problems = format_problems(r.graph, q.profile.formats)
    if problems:  # never hand on a value the target cannot hold (the quantizer clips; this guards the rest)
        raise PassError(f"the integer network does not fit profile '{q.profile.name}':\n"
                        + "\n".join(f"  - {p}" for p in problems))
    return ConvertResult(r.graph, folded.results + [r])
