"""scikit-learn's bundled 8×8 digits (1797 samples, 10 classes, pixels 0..16).

Fixed split: ``train_test_split(test_size=0.2, stratify=y, random_state=0)``,
i.e. 1437 train / 360 test, identical on every machine (no download).
``x = pixels / 16`` as float32, shape (N, 1, 8, 8) or (N, 64) with
``flatten=True``; ``input_step = 1/16`` so ``16·x`` is the exact raw integer.
"""
from __future__ import annotations

import numpy as np

from .dataset import Dataset

TEST_SIZE = 0.2
SPLIT_SEED = 0
INPUT_STEP = 1.0 / 16.0


def load_digits(flatten: bool = False) -> Dataset:
    from sklearn.datasets import load_digits as _sk_load
    from sklearn.model_selection import train_test_split

    bunch = _sk_load()
    raw = bunch.images.astype(np.int64)           # (1797, 8, 8), values 0..16
    y = bunch.target.astype(np.int64)
    x = (raw.astype(np.float32) / np.float32(16.0))
    x = x.reshape(len(x), 64) if flatten else x.reshape(len(x), 1, 8, 8)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=TEST_SIZE, stratify=y,
                                              random_state=SPLIT_SEED)
    return Dataset(np.ascontiguousarray(x_tr), y_tr, np.ascontiguousarray(x_te), y_te,
                   input_shape=tuple(x.shape[1:]), num_classes=10, input_step=INPUT_STEP,
                   name="digits_flat" if flatten else "digits")
