"""Load a dataset from a ``.npz`` file (``allow_pickle=False``).

Required arrays: ``x`` (float or integer, ``[N, ...]``, finite) and ``y`` (integer,
``[N]``, ≥ 0). Optional: ``x_test``/``y_test`` (both or neither) and a scalar
``input_step``. Without a test split the file is split 80/20 with
``train_test_split(test_size=0.2, random_state=0)`` (stratified when every class
has at least two samples). Integer ``x`` without ``input_step`` gets
``input_step = 1.0``. Every problem raises ``DataError`` naming the file.

A file with an ``events`` array is an event file in tonic's ``(x, y, t, p)`` layout instead, binned
into frames: see :mod:`snn2hw.data.events`.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from .dataset import DataError, Dataset

TEST_SIZE = 0.2
SPLIT_SEED = 0


def _check_pair(path, x, y, xk, yk):
    if x.dtype.kind not in "fiu" or x.dtype == np.bool_:
        raise DataError(f"{path}: '{xk}' must be a float or integer array, got dtype {x.dtype}")
    if y.dtype.kind not in "iu":
        raise DataError(f"{path}: '{yk}' must be an integer label array, got dtype {y.dtype}")
    if x.ndim < 2:
        raise DataError(f"{path}: '{xk}' must have shape [N, ...] with N samples, got {x.shape}")
    if y.ndim != 1:
        raise DataError(f"{path}: '{yk}' must be 1-D [N], got shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{path}: length mismatch: '{xk}' has {len(x)} samples, '{yk}' has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{path}: '{xk}' is empty")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            kind = "NaN" if np.isnan(x).any() else "infinite"
            raise DataError(f"{path}: '{xk}' contains {kind} values ({int(bad.sum())} entries)")
    if (y < 0).any():
        raise DataError(f"{path}: '{yk}' contains negative labels")
    from snn2hw.util.limits import MAX_CLASSES
    if int(y.max()) >= MAX_CLASSES:
        raise DataError(f"{path}: '{yk}' contains the label {int(y.max())}; labels must be class indices below "
                        f"{MAX_CLASSES}")


def _check_declared_sizes(path) -> None:
    """Refuse an array whose ``.npy`` header declares more elements than the limit, before ``np.load``
    allocates it (a header can declare any shape in a few bytes). Unreadable archives are left to np.load."""
    import zipfile

    from snn2hw.util.limits import bytes_limit_text, limit_text, numel, too_many, too_many_bytes
    fmt = np.lib.format
    total = 0
    readers = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist()[:1000]:
                if not info.filename.endswith(".npy"):
                    continue
                with z.open(info) as fh:
                    read = readers.get(fmt.read_magic(fh))
                    if read is None:
                        continue
                    shape, _, dtype = read(fh)
                if too_many(numel(shape)):
                    raise DataError(f"{path}: array '{info.filename[:-4]}' declares shape {tuple(shape)} "
                                    f"({numel(shape)} elements), above the {limit_text()}")
                nbytes = numel(shape) * np.dtype(dtype).itemsize
                if nbytes > info.file_size:   # the entry's uncompressed size, from the zip directory
                    raise DataError(f"{path}: array '{info.filename[:-4]}' declares shape {tuple(shape)} "
                                    f"({nbytes} bytes) but the archive holds only {info.file_size} bytes for it "
                                    f"(truncated or forged header)")
                total += numel(shape) * max(1, np.dtype(dtype).itemsize)
                if too_many_bytes(total):
                    raise DataError(f"{path}: the arrays declare {total / 1e9:.2f} GB (up to '{info.filename[:-4]}'"
                                    f", shape {tuple(shape)}), above the {bytes_limit_text()}")
    except DataError:
        raise
    except Exception:  # noqa: BLE001 - corrupt archive or header: np.load reports it below
        return


def _split(path, x, y):
    from sklearn.model_selection import train_test_split
    if len(x) < 2:
        raise DataError(f"{path}: need at least 2 samples to split into train/test")
    counts = np.bincount(y)
    strat = y if counts[counts > 0].min() >= 2 and len(x) * TEST_SIZE >= len(counts[counts > 0]) else None
    return train_test_split(x, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=strat)


def load_npz(path, name: Optional[str] = None, events: Optional[dict] = None) -> Dataset:
    """``events``: binning options for an event file (:func:`snn2hw.data.events.bin_events`)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: {'not a regular file' if os.path.exists(path) else 'no such file'}")
    _check_declared_sizes(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except ValueError as e:   # object arrays need pickle
        raise DataError(f"{path}: cannot load without pickle (object arrays are not allowed): {e}") from e
    except Exception as e:  # noqa: BLE001 - corrupt/zip errors
        raise DataError(f"{path}: not a readable .npz file: {e}") from e
    if "events" in arrays:
        from .events import bin_events
        xe, ye = bin_events(path, arrays, **(events or {}))
        x_tr, x_te, y_tr, y_te = _split(path, xe, ye)
        return Dataset(x_tr, y_tr, x_te, y_te, input_shape=tuple(int(d) for d in xe.shape[2:]),
                       num_classes=int(ye.max()) + 1, input_step=1.0, timesteps=int(xe.shape[1]),
                       name=name or os.path.splitext(os.path.basename(path))[0])
    if events:
        raise DataError(f"{path}: binning options ({', '.join(sorted(events))}) apply to event files only (an "
                        f"'events' array); this file has {sorted(arrays)}")
    for k in ("x", "y"):
        if k not in arrays:
            raise DataError(f"{path}: missing array '{k}' (found: {sorted(arrays) or 'none'})")
    x, y = arrays["x"], arrays["y"]
    _check_pair(path, x, y, "x", "y")
    has_xt, has_yt = "x_test" in arrays, "y_test" in arrays
    if has_xt != has_yt:
        raise DataError(f"{path}: 'x_test' and 'y_test' must be given together")
    if has_xt:
        xt, yt = arrays["x_test"], arrays["y_test"]
        _check_pair(path, xt, yt, "x_test", "y_test")
        if xt.shape[1:] != x.shape[1:]:
            raise DataError(f"{path}: 'x_test' sample shape {xt.shape[1:]} != 'x' sample shape {x.shape[1:]}")
        x_tr, y_tr, x_te, y_te = x, y, xt, yt
    else:
        x_tr, x_te, y_tr, y_te = _split(path, x, y)
    step = None
    if "input_step" in arrays:
        s = arrays["input_step"]
        if s.size != 1 or s.dtype.kind not in "fiu" or not np.isfinite(s).all() or float(s) <= 0:
            raise DataError(f"{path}: 'input_step' must be one positive finite number")
        step = float(s.reshape(()))
    elif x.dtype.kind in "iu":
        step = 1.0
    num_classes = int(max(y_tr.max(), y_te.max())) + 1
    return Dataset(x_tr.astype(np.float32), y_tr.astype(np.int64), x_te.astype(np.float32),
                   y_te.astype(np.int64), input_shape=tuple(int(d) for d in x.shape[1:]),
                   num_classes=num_classes, input_step=step,
                   name=name or os.path.splitext(os.path.basename(path))[0])
