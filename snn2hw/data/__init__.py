"""Datasets (bundled digits, ``.npz`` files) and input encodings."""
from __future__ import annotations

import os

from .dataset import DataError, Dataset
from .digits import load_digits
from .encoding import ENCODINGS, direct, encode, rate
from .model_inputs import model_inputs
from .npz import load_npz

BUILTIN = ("digits", "digits_flat", "digits_hard")


def load_dataset(spec) -> Dataset:
    """``'digits'`` (1×8×8), ``'digits_flat'`` (64), ``'digits_hard'`` (shifted, noisy, occluded digits)
    or a path to a ``.npz`` file."""
    if isinstance(spec, Dataset):
        return spec
    s = os.fspath(spec)
    if s == "digits":
        return load_digits()
    if s == "digits_flat":
        return load_digits(flatten=True)
    if s == "digits_hard":
        from .digits_hard import load_digits_hard
        return load_digits_hard()
    if s.endswith(".npz") or os.path.isfile(s):
        return load_npz(s)
    raise DataError(f"unknown dataset {s!r}: use one of {', '.join(BUILTIN)} or a path to a .npz file")


__all__ = ["Dataset", "DataError", "load_dataset", "load_digits", "load_npz", "direct", "rate", "model_inputs",
           "encode", "ENCODINGS", "BUILTIN"]
