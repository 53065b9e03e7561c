"""Event files: tonic's structured ``(x, y, t, p)`` events in a ``.npz``, binned into frames.

Layout (``np.load(allow_pickle=False)``; never object arrays):

* ``events``: every sample's events concatenated, a structured array with (at least) the integer
  fields ``x``, ``y``, ``t`` (microseconds) and ``p`` (polarity ``0..P-1``; booleans allowed), the
  dtype tonic uses for N-MNIST / DVS Gesture;
* ``offsets``: ``N + 1`` non-decreasing integers, ``offsets[0] = 0``, ``offsets[N] = len(events)``;
  sample ``i`` is ``events[offsets[i]:offsets[i+1]]``;
* ``y``: ``N`` integer labels ``>= 0``;
* ``sensor_size``: ``(W, H, P)``, as tonic's ``sensor_size``.

Binning (``FILE.npz:bins=T``, ``FILE.npz:bin_us=U``, or both; ``mode=binary|count``; the CLI's
``train`` and ``simulate`` also take ``--bins T`` / ``--bin-us U``):

* ``bins=T`` only: each sample's own span ``[t_first, t_last]`` is cut into T equal windows of
  ``w = (t_last - t_first) // T + 1`` µs; event → bin ``(t - t_first) // w`` (every event is kept;
  tonic's ``ToFrame(n_time_bins=T)`` uses ``w = (t_last - t_first) // T`` and drops the events after
  ``T · w``, so the two agree except for those last events);
* ``bin_us=U`` only: bins of U µs from each sample's ``t_first``; T is the largest number of bins any
  sample needs, shorter samples end in empty frames (as tonic's ``ToFrame(time_window=U,
  include_incomplete=True)``, frame for frame);
* both: T bins of U µs from ``t_first``; later events are dropped;
* neither: ``bins=8``.

``mode=binary`` (the default): a frame holds 1 where the pixel emitted at least one event of that
polarity in the bin — an input spike, which is what a chip's input port receives, so the integer
network and the event simulator see the sparse binary events as they are (``input_step = 1``).
``mode=count``: the number of events (tonic's ``ToFrame`` accumulation); graded input.

Frames are ``[N, T, P, H, W]`` (tonic's per-sample ``[T, P, H, W]``); the ``Dataset`` has
``timesteps = T`` and ``input_shape = (P, H, W)``. The train/test split is the one of
:func:`snn2hw.data.npz.load_npz` (80/20, ``random_state=0``). Every problem raises ``DataError`` naming
the file and the field.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .dataset import DataError

FIELDS = ("x", "y", "t", "p")
DEFAULT_BINS = 8
MODES = ("binary", "count")


def with_binning(spec, bins: Optional[int] = None, bin_us: Optional[int] = None) -> str:
    """The ``--data`` spec with the CLI's ``--bins`` / ``--bin-us`` appended as options."""
    s = str(spec or "")
    if not (s.endswith(".npz") or ".npz:" in s):
        raise DataError(f"--bins / --bin-us bin an event file (--data FILE.npz); --data is {s or 'not given'!r}")
    opts = ",".join(f"{k}={v}" for k, v in (("bins", bins), ("bin_us", bin_us)) if v is not None)
    return s + ("," if ".npz:" in s else ":") + opts if opts else s


def parse_options(path: str, text: str) -> dict:
    """``bins=T,bin_us=U,mode=binary`` -> keyword arguments of :func:`bin_events`."""
    out: dict = {}
    for item in filter(None, text.split(",")):
        k, _, v = item.partition("=")
        k, v = k.strip(), v.strip()
        if k in ("bins", "bin_us"):
            try:
                out[k] = int(v)
            except ValueError:
                raise DataError(f"{path}: option {k} needs a positive integer, got {v!r}") from None
            if out[k] < 1:
                raise DataError(f"{path}: option {k} needs a positive integer, got {v!r}")
        elif k == "mode":
            if v not in MODES:
                raise DataError(f"{path}: option mode must be one of {', '.join(MODES)}, got {v!r}")
            out[k] = v
        else:
            raise DataError(f"{path}: unknown option {k!r}; valid: bins=T, bin_us=U, mode=binary|count")
    return out


def _check(path: str, arrays: dict):
    for k in ("events", "offsets", "y", "sensor_size"):
        if k not in arrays:
            raise DataError(f"{path}: event file without '{k}' (an event file needs events, offsets, y and "
                            f"sensor_size; found: {sorted(arrays)})")
    ev, off, y, ss = arrays["events"], arrays["offsets"], arrays["y"], arrays["sensor_size"]
    names = ev.dtype.names or ()
    if ev.ndim != 1 or any(f not in names for f in FIELDS):
        raise DataError(f"{path}: 'events' must be a 1-D structured array with fields x, y, t, p (tonic's "
                        f"layout), got shape {ev.shape} and dtype {ev.dtype}")
    for f in FIELDS:
        kind = ev.dtype[f].kind
        if kind not in "iub" or (kind == "b" and f != "p"):
            raise DataError(f"{path}: 'events' field '{f}' must be integer{' or boolean' if f == 'p' else ''}"
                            f"{' (microseconds)' if f == 't' else ''}, got {ev.dtype[f]}")
    if ss.dtype.kind not in "iu" or ss.shape != (3,):
        raise DataError(f"{path}: 'sensor_size' must be 3 integers (W, H, P), got shape {ss.shape} dtype {ss.dtype}")
    W, H, P = (int(v) for v in ss)
    if W < 1 or H < 1 or P < 1:
        raise DataError(f"{path}: 'sensor_size' (W, H, P) = {(W, H, P)} must be positive")
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) == 0:
        raise DataError(f"{path}: 'y' must be a non-empty 1-D integer label array, got shape {y.shape} "
                        f"dtype {y.dtype}")
    if (y < 0).any():
        raise DataError(f"{path}: 'y' contains negative labels")
    n = len(y)
    if off.ndim != 1 or off.dtype.kind not in "iu" or len(off) != n + 1:
        raise DataError(f"{path}: 'offsets' must be {n + 1} integers (N + 1 sample boundaries for the {n} labels "
                        f"in 'y'), got shape {off.shape} dtype {off.dtype}")
    off = off.astype(np.int64)
    if off[0] != 0 or off[-1] != len(ev) or (np.diff(off) < 0).any():
        raise DataError(f"{path}: 'offsets' must start at 0, never decrease and end at len(events) = {len(ev)} "
                        f"(got first {int(off[0])}, last {int(off[-1])})")
    for f, hi in (("x", W), ("y", H), ("p", P)):
        v = ev[f].astype(np.int64)
        if len(v) and (v.min() < 0 or v.max() >= hi):
            raise DataError(f"{path}: 'events' field '{f}' has values in [{int(v.min())}, {int(v.max())}], outside "
                            f"0..{hi - 1} of sensor_size (W, H, P) = {(W, H, P)}")
    return ev, off, y.astype(np.int64), (W, H, P)


def bin_events(path: str, arrays: dict, bins: Optional[int] = None, bin_us: Optional[int] = None,
               mode: str = "binary") -> tuple:
    """``(frames [N, T, P, H, W] float32, y [N] int64)`` for an event file's arrays (see the module doc)."""
    if mode not in MODES:
        raise DataError(f"{path}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    ev, off, y, (W, H, P) = _check(path, arrays)
    n = len(y)
    sid = np.repeat(np.arange(n), np.diff(off))
    t = ev["t"].astype(np.int64)
    t0 = np.zeros(n, dtype=np.int64)
    t1 = np.zeros(n, dtype=np.int64)
    nonempty = np.diff(off) > 0
    if len(t):
        starts = off[:-1][nonempty]
        t0[nonempty] = np.minimum.reduceat(t, starts)
        t1[nonempty] = np.maximum.reduceat(t, starts)
    rel = t - t0[sid]
    if bin_us is None:
        T = int(bins or DEFAULT_BINS)
        w = (t1 - t0) // T + 1
        b = rel // w[sid]
    else:
        b = rel // int(bin_us)
        T = int(bins) if bins else int(((t1 - t0) // int(bin_us) + 1)[nonempty].max(initial=1))
    keep = b < T
    from snn2hw.util.limits import bytes_limit_text, too_many_bytes
    need = n * T * P * H * W * 4
    if too_many_bytes(need):
        raise DataError(f"{path}: the frames would need {need / 1e9:.2f} GB ({n} samples x T={T} x {P}x{H}x{W} "
                        f"x 4 bytes), above the {bytes_limit_text()}; lower bins or raise bin_us")
    flat = ((((sid[keep] * T + b[keep]) * P + ev["p"][keep].astype(np.int64)) * H + ev["y"][keep].astype(np.int64))
            * W + ev["x"][keep].astype(np.int64))
    counts = np.bincount(flat, minlength=n * T * P * H * W).reshape(n, T, P, H, W)
    frames = (counts > 0) if mode == "binary" else counts
    return frames.astype(np.float32), y
