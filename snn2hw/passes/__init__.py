"""Graph -> Graph passes, one per file; each returns what it changed, refused and approximated."""
from snn2hw.passes.base import Pass, PassResult, run_passes
from snn2hw.passes.fold_batchnorm import FoldBatchNormPass
from snn2hw.passes.fold_thresholds import FoldThresholdsPass
from snn2hw.passes.insert_identity_synapses import InsertIdentitySynapsesPass
from snn2hw.passes.lower_avgpool import LowerAvgPoolPass
from snn2hw.passes.quantize import QuantizePass
from snn2hw.passes.pipeline import ConvertResult, convert, fold

__all__ = ["Pass", "PassResult", "run_passes", "FoldBatchNormPass", "FoldThresholdsPass",
           "InsertIdentitySynapsesPass", "LowerAvgPoolPass", "QuantizePass", "ConvertResult", "convert", "fold"]
