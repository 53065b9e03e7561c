"""Front ends: torch modules (torch.fx) and checkpoint files into the IR."""
from snn2hw.frontends.checkpoint import LoadedCheckpoint, load_checkpoint, save_checkpoint
from snn2hw.frontends.load import graph_from_checkpoint, load
from snn2hw.frontends.torch_fx import from_module

__all__ = ["LoadedCheckpoint", "load_checkpoint", "save_checkpoint", "graph_from_checkpoint", "load", "from_module"]
