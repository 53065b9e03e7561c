"""A checkpoint of an unstructured-pruned model loads strictly and carries its masks into the IR."""
import numpy as np

import snn2hw
from snn2hw.compress.unstructured import magnitude_prune
from snn2hw.models import build_model


def test_pruned_checkpoint_round_trip(tmp_path):
    m = build_model("digits_conv")
    magnitude_prune(m, 0.6)
    p = snn2hw.save_checkpoint(tmp_path / "m.pt", m, input_step=1 / 16, timesteps=4, dataset="digits")
    g = snn2hw.load(p)
    masked = {n: node for n, node in g.nodes.items() if getattr(node, "mask", None) is not None}
    assert list(masked) == ["conv1.0"]
    node = masked["conv1.0"]
    assert abs(1 - node.mask.mean() - 0.6) < 1e-3
    gi = snn2hw.convert(g, "loihi").graph
    assert not np.any(gi.nodes["conv1.0"].weight_int[~node.mask])
