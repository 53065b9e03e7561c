"""snn2hw: deploy trained spiking neural networks to neuromorphic hardware.

The public API mirrors the CLI::

    g = snn2hw.load("ckpt.pt")                  # checkpoint or .s2h -> Graph
    r = snn2hw.convert(g, profile="loihi")      # fold + quantize; r.graph, r.summary()
    out = snn2hw.simulate(r.graph, x, mode="int")
"""
__version__ = "0.1.0"

from snn2hw.frontends import from_module, load, load_checkpoint, save_checkpoint  # noqa: E402
from snn2hw.ir import Graph, load_graph, save_graph  # noqa: E402
from snn2hw.passes import convert, fold  # noqa: E402
from snn2hw.simulators.reference import simulate  # noqa: E402
from snn2hw.exporters.export import export  # noqa: E402

__all__ = ["__version__", "Graph", "load", "load_checkpoint", "save_checkpoint", "from_module", "load_graph",
           "save_graph", "convert", "fold", "simulate", "export"]
