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


# -- bytes, timesteps, classes (issue 13, point 3) ---------------------------------------------------------------
BYTES_ENV = "SNN2HW_MAX_BYTES"
BYTES_FRACTION = 0.5          # default: half of MemAvailable (/proc/meminfo)
BYTES_FALLBACK = 8 * 2**30    # where /proc/meminfo is unreadable (not Linux)
MAX_TIMESTEPS = 1_000_000     # a checkpoint's / graph's declared timesteps
MAX_CLASSES = 1_000_000       # largest label + 1 in data files


#: An HDF5 dataset may declare more bytes than it stores only by compression: deflate expands at most ~1032:1
#: (RFC 1951: a 258-byte match in about 2 bits). Above EXPANSION x the stored bytes (and above EXPANSION_FLOOR)
#: the data is not in the file: an unallocated dataset read as its fill value, or a forged header.
EXPANSION = 1100
EXPANSION_FLOOR = 64 * 2**20


def expansion_problem(declared: int, stored: int) -> str | None:
    """Why a dataset declaring ``declared`` bytes while storing ``stored`` cannot be genuine data, or None."""
    if declared > EXPANSION_FLOOR and declared > EXPANSION * stored:
        return (f"declares {declared} bytes but stores {stored} (more than {EXPANSION}:1, beyond what compression "
                f"gives: the data is not in the file)")
    return None


def _mem_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def max_bytes() -> int:
    """The byte limit for one load or one simulation: ``$SNN2HW_MAX_BYTES`` when it is a positive number,
    else half of MemAvailable from ``/proc/meminfo`` (8 GiB where that cannot be read)."""
    v = os.environ.get(BYTES_ENV, "")
    try:
        n = int(float(v))
    except (TypeError, ValueError, OverflowError):
        n = 0
    if n > 0:
        return n
    avail = _mem_available()
    return int(avail * BYTES_FRACTION) if avail else BYTES_FALLBACK


def too_many_bytes(count) -> bool:
    return count > max_bytes()


def bytes_limit_text() -> str:
    """``limit 8.0 GB (half the available memory; set SNN2HW_MAX_BYTES to change it)``."""
    src = "from SNN2HW_MAX_BYTES" if os.environ.get(BYTES_ENV) and max_bytes() == _env_bytes() else \
        "half the available memory"
    return f"limit {max_bytes() / 1e9:.2f} GB ({src}; set {BYTES_ENV} to change it)"


def _env_bytes() -> int:
    try:
        return int(float(os.environ.get(BYTES_ENV, "")))
    except (TypeError, ValueError, OverflowError):
        return 0


def simulation_bytes(timesteps: int, batch: int, neurons: int, itemsize: int = 8) -> int:
    """Peak-memory estimate of a simulation: every node's values for T x batch (float64), twice (the state
    and the recorded copy): ``T x batch x neurons (summed over all nodes) x itemsize x 2``. Measured on the
    shipped digits model with T=1e5 and one sample: peak 6.0 GB, estimate 8.3 GB."""
    return int(timesteps) * int(batch) * int(neurons) * int(itemsize) * 2


def check_simulation_memory(timesteps: int, batch: int, neurons: int, largest_layer: int = 0,
                            what: str = "the simulation"):
    """Raise :class:`~snn2hw.errors.Snn2hwError` when :func:`simulation_bytes` is above :func:`max_bytes`,
    with the estimate and how to lower it; return the estimate otherwise."""
    from snn2hw.errors import Snn2hwError
    est = simulation_bytes(timesteps, batch, neurons)
    if too_many_bytes(est):
        big = f", largest layer {largest_layer}" if largest_layer else ""
        raise Snn2hwError(f"{what} would need about {est / 1e9:.2f} GB (T={timesteps} x batch={batch} x "
                          f"{neurons} neurons over all layers{big}), above the {bytes_limit_text()}; lower the "
                          f"number of samples or --batch-size, or T (-T)")
    return est
