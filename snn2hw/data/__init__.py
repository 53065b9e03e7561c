"""Datasets (bundled digits, ``.npz`` files) and input encodings."""
from __future__ import annotations

import os

from .dataset import DataError, Dataset
from .digits import load_digits
from .encoding import ENCODINGS, direct, encode, rate
from .model_inputs import model_inputs
from .npz import load_npz
from .random_data import RandomInputs, is_random_spec, parse_random_spec, random_data

BUILTIN = ("digits", "digits_flat", "digits_hard")


def load_dataset(spec) -> "Dataset | RandomInputs":
    """``'digits'`` (1×8×8), ``'digits_flat'`` (64), ``'digits_hard'`` (shifted, noisy, occluded digits),
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
    if s.endswith(".npz") or os.path.isfile(s):
        return load_npz(s)
    raise DataError(f"unknown dataset {s!r}: use one of {', '.join(BUILTIN)}, a path to a .npz file "
                    f"or random[:density=D,seed=S]")


__all__ = ["Dataset", "DataError", "load_dataset", "load_digits", "load_npz", "direct", "rate", "model_inputs",
           "encode", "ENCODINGS", "BUILTIN", "RandomInputs", "random_data"]
