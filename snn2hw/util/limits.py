"""Size limits applied to everything read from a file, checked before anything is allocated.

A file can declare a tensor, a dataset or a layer of any size in a few bytes (an
HDF5 dataset with a fill value, a ``.npy`` header, ``arch_kwargs`` of a
checkpoint, an ``Input`` shape). Readers compare the declared element count with
:func:`max_elements` first and refuse larger ones with a message that states the
limit and how to raise it, instead of exhausting memory.

The limit is 2e9 elements per array (or per model's parameters, or per layer's
neurons) and can be changed with the environment variable ``SNN2HW_MAX_ELEMENTS``.
"""
from __future__ import annotations

import math
import os

DEFAULT_MAX_ELEMENTS = 2_000_000_000
ENV = "SNN2HW_MAX_ELEMENTS"


def max_elements() -> int:
    """The element limit: ``$SNN2HW_MAX_ELEMENTS`` when it is a positive integer, else 2e9."""
    v = os.environ.get(ENV, "")
    try:
        n = int(float(v))
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_MAX_ELEMENTS
    return n if n > 0 else DEFAULT_MAX_ELEMENTS


def too_many(count) -> bool:
    return count > max_elements()


def limit_text() -> str:
    """How the message states the limit: ``limit 2000000000 elements (set SNN2HW_MAX_ELEMENTS to change it)``."""
    return f"limit {max_elements()} elements (set {ENV} to change it)"


def numel(shape) -> int:
    """Element count of a shape, as an exact Python int (no overflow)."""
    return math.prod(int(s) for s in shape)
