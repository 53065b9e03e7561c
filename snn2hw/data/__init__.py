"""Datasets (bundled digits, ``.npz`` files) and input encodings."""
from __future__ import annotations

import os

from .dataset import DataError, Dataset
from .digits import load_digits
from .encoding import ENCODINGS, direct, encode, rate
from .model_inputs import model_inputs
from .npz import load_npz
from .random_data import RandomInputs, is_random_spec, parse_random_spec, random_data

BUILTIN = ("digits", "digits_flat", "digits_hard", "shapes_dvs", "shapes_static")


def load_dataset(spec) -> "Dataset | RandomInputs":
    """``'digits'`` (1×8×8), ``'digits_flat'`` (64), ``'digits_hard'`` (shifted, noisy, occluded digits),
    ``'shapes_dvs'`` (generated event-camera data, ``[N, T, 2, 32, 32]``; options as
    ``'shapes_dvs:seed=1,n_per_class=100,T=16'``) and ``'shapes_static'`` (its 3×32×32 frames),
    an event file ``'FILE.npz:bins=T,bin_us=U,mode=binary|count'`` (:mod:`snn2hw.data.events`),
    a path to a ``.npz`` file, or ``'random'`` / ``'random:density=D,seed=S'``: seeded random inputs of the
    model's own input shape, drawn by :func:`model_inputs` (:mod:`snn2hw.data.random_data`)."""
    if isinstance(spec, (Dataset, RandomInputs)):
        return spec
    s = os.fspath(spec)
    if is_random_spec(s):
        return parse_random_spec(s)
    if s == "digits":
        return load_digits()
    if s == "digits_flat":
        return load_digits(flatten=True)
    if s == "digits_hard":
        from .digits_hard import load_digits_hard
        return load_digits_hard()
    base, sep, opts = s.partition(":")
    if base in ("shapes_dvs", "shapes_static"):
        from .shapes_dvs import load_shapes_dvs, load_shapes_static, params_from_spec
        p = params_from_spec(s)
        return load_shapes_dvs(p) if base == "shapes_dvs" else load_shapes_static(p)
    head, sep, opts = s.rpartition(".npz:")
    if sep and not os.path.isfile(s):
        from .events import parse_options
        return load_npz(head + ".npz", events=parse_options(head + ".npz", opts))
    if s.endswith(".npz") or os.path.isfile(s):
        return load_npz(s)
    raise DataError(f"unknown dataset {s!r}: use one of {', '.join(BUILTIN)}, a path to a .npz file "
                    f"or random[:density=D,seed=S]")


__all__ = ["Dataset", "DataError", "load_dataset", "load_digits", "load_npz", "direct", "rate", "model_inputs",
           "encode", "ENCODINGS", "BUILTIN", "RandomInputs", "random_data"]
