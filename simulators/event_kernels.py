"""Compiled inner loops of the event simulator (``simulators/event.py``), one pass over the data each.

* :func:`count_messages`: the per-(device step, core) counts of a population's senders and their
  messages (messages out, hops, messages in, synaptic events), walking each sender's destination
  cores in the source-major routing table.

The loops add integer-valued float64 numbers only, so every count is exact whatever the order.
"""
from __future__ import annotations

import numpy as np

from snn2hw.simulators.timing import njit

#: rows of :func:`count_messages`' output
MESSAGE_COUNTS = ("messages_out", "hops_ew", "hops_ns", "spikes_in", "synops")


@njit(cache=True)
def count_messages(row, src, src_core, ptr, dcore, dcnt, ew, ns, rows, n_cores):
    """``[5, rows, n_cores]`` float64 counts (:data:`MESSAGE_COUNTS`) of the senders ``src`` (element indices)
    on rows ``row`` (device step rows), placed on cores ``src_core``: per sending core, its messages
    (destinations ``ptr[i + 1] - ptr[i]``) and their hops (``ew[i]``, ``ns[i]``); per destination core
    ``dcore[j]``, the messages received and the synaptic events ``dcnt[j]``."""
    out = np.zeros((5, rows, n_cores))
    for k in range(len(row)):
        r = row[k]
        i = src[k]
        c = src_core[k]
        lo = ptr[i]
        hi = ptr[i + 1]
        out[0, r, c] += hi - lo
        out[1, r, c] += ew[i]
        out[2, r, c] += ns[i]
        for j in range(lo, hi):
            d = dcore[j]
            out[3, r, d] += 1.0
            out[4, r, d] += dcnt[j]
    return out
