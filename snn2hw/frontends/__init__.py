"""Front ends: torch modules (torch.fx) and checkpoint files into the IR."""
from snn2hw.frontends.checkpoint import LoadedCheckpoint, load_checkpoint, save_checkpoint
from snn2hw.frontends.load import graph_from_checkpoint, load, load_with_module
from snn2hw.frontends.torch_fx import from_module

__all__ = ["LoadedCheckpoint", "load_checkpoint", "save_checkpoint", "graph_from_checkpoint", "load", "load_with_module",
           "from_module"]
