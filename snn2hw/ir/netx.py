"""What lava-dl 0.6.0 netx does to dense weights (``shared/reference/LAVA.md`` §3), for the quantizer and the
Lava exporter alike.

netx's ``hdf5.Network`` reads a dense layer's integer ``weight`` and passes it through
``netx.utils.optimize_weight_bits`` (``W << sb``, ``weight_exp = -sb``, a number of weight bits and a
sign mode) before lava-nc's Dense clips and truncates it. The file's weights are what the layer
computes only in the cases verified there; :func:`netx_dense_verdict` says which.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

#: netx's exact ranges: mixed signs [-256, 254]; all >= 0 [0, 255]; all < 0 [-255, -1] (min not -2^k)
NETX_DENSE_EXACT = {"mixed": (-256, 254), "excitatory": (0, 255), "inhibitory": (-255, -1)}


def netx_dense_verdict(w: np.ndarray) -> Optional[str]:
    """None if netx (lava-dl 0.6.0) passes the integer dense weights through exactly, else the reason.

    LAVA.md §3's safe rule (verified cases only)."""
    w = np.asarray(w, dtype=np.int64)
    lo, hi = int(w.min()), int(w.max())
    if lo == 0 and hi == 0:
        return "an all-zero weight matrix crashes netx (log2 of inf in optimize_weight_bits)"
    if lo < 0 < hi:
        if lo >= -256 and hi <= 254:
            return None
        return (f"mixed-sign weights in [{lo}, {hi}] exceed netx's exact range [-256, 254] "
                f"(netx clips them)")
    if lo >= 0:
        if hi <= 255:
            return None
        return f"excitatory weights up to {hi} exceed 255 (netx's weight-bit search breaks, lava-dl#170)"
    # all <= 0
    if hi < 0 and lo >= -255 and (-lo) & (-lo - 1) != 0:
        return None
    return (f"non-positive weights in [{lo}, {hi}] (zeros, a power-of-two minimum or below -255) "
            f"are not passed through exactly by netx's optimize_weight_bits")


