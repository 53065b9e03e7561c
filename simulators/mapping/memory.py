"""The synapse-list memory model (nengo-loihi): bits of an axon's synapse runs, a layer's weight bits."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: nengo-loihi ``SynapseConfig.bits_per_axon``: a 6-bit synapse count per run, so at most 64 synapses per run
MAX_SYNAPSES_PER_RUN = 64


def signed_bits(w) -> int:
    """Bits of the smallest signed (two's complement) integer type holding every value of ``w`` (>= 1)."""
    w = np.asarray(w)
    if w.size == 0:
        return 1
    hi, lo = int(w.max()), int(w.min())
    return max(1, hi.bit_length() + 1 if hi > 0 else 1, (-lo - 1).bit_length() + 1 if lo < 0 else 1)


def _ceil_to(x, word):
    return -(-x // word) * word


def axon_bits(n, bits_per_synapse: int, header_bits: int, word_bits: int, run: int = MAX_SYNAPSES_PER_RUN):
    """Memory of an axon with ``n`` synapses (array or int): runs of <= ``run`` synapses, each with a header,
    each rounded up to ``word_bits`` (nengo-loihi ``bits_per_axon``)."""
    n = np.asarray(n, dtype=np.int64)
    full, rem = n // run, n % run
    per_full = _ceil_to(run * bits_per_synapse + header_bits, word_bits)
    last = np.where(rem > 0, _ceil_to(rem * bits_per_synapse + header_bits, word_bits), 0)
    return full * per_full + last



@dataclass
class _Mem:
    index_bits: int
    header_bits: int
    word_bits: int


def _mem_model(profile) -> _Mem:
    cap = profile.capacity
    npc = int(cap.neurons_per_core.value)
    ib = int(cap.synapse_index_bits.value) if cap.synapse_index_bits else max(1, math.ceil(math.log2(max(2, npc))))
    hb = int(cap.synapse_header_bits.value) if cap.synapse_header_bits else 0
    wb = int(cap.synapse_word_bits.value) if cap.synapse_word_bits else 1
    return _Mem(ib, hb, wb)

