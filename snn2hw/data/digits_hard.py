"""``digits_hard``: a harder, synthetic variant of the bundled digits, for benchmarks where digits saturates.

Each image of scikit-learn's digits (same fixed split and labels as ``digits``)
is, with a seeded generator: shifted by up to ``max_shift`` pixels in each
direction (zero fill), given additive Gaussian noise of ``noise`` raw units
(pixels are 0..16), partly occluded by a ``occlusion`` x ``occlusion`` zero patch
with probability ``p_occlude``, then rounded and clipped back to 0..16, so the
input stays on the 1/16 lattice (``input_step = 1/16``) and the integer network
gets exact raw integers. Nothing is downloaded.
"""
from __future__ import annotations

import numpy as np

from .dataset import Dataset
from .digits import INPUT_STEP, load_digits


def _corrupt(x: np.ndarray, rng: np.random.Generator, noise: float, max_shift: int, occlusion: int,
             p_occlude: float) -> np.ndarray:
    raw = np.rint(x[:, 0] * 16.0)                        # (N, 8, 8) integers 0..16
    n, h, w = raw.shape
    out = np.zeros_like(raw)
    dy = rng.integers(-max_shift, max_shift + 1, n)
    dx = rng.integers(-max_shift, max_shift + 1, n)
    for i in range(n):                                   # shift with zero fill
        ys, yd = (slice(0, h - dy[i]), slice(dy[i], h)) if dy[i] >= 0 else (slice(-dy[i], h), slice(0, h + dy[i]))
        xs, xd = (slice(0, w - dx[i]), slice(dx[i], w)) if dx[i] >= 0 else (slice(-dx[i], w), slice(0, w + dx[i]))
        out[i, yd, xd] = raw[i, ys, xs]
    out = out + rng.normal(0.0, noise, out.shape)
    occ = rng.random(n) < p_occlude
    oy = rng.integers(0, h - occlusion + 1, n)
    ox = rng.integers(0, w - occlusion + 1, n)
    for i in np.nonzero(occ)[0]:
        out[i, oy[i]:oy[i] + occlusion, ox[i]:ox[i] + occlusion] = 0
    out = np.clip(np.rint(out), 0, 16)
    return (out / 16.0).astype(np.float32)[:, None]


def load_digits_hard(noise: float = 2.0, max_shift: int = 1, occlusion: int = 3, p_occlude: float = 0.2,
                     seed: int = 0) -> Dataset:
    base = load_digits()
    rng = np.random.default_rng(seed)
    kw = dict(noise=noise, max_shift=max_shift, occlusion=occlusion, p_occlude=p_occlude)
    x_tr = _corrupt(base.x_train, rng, **kw)
    x_te = _corrupt(base.x_test, rng, **kw)
    return Dataset(x_tr, base.y_train.copy(), x_te, base.y_test.copy(), input_shape=base.input_shape,
                   num_classes=base.num_classes, input_step=INPUT_STEP, name="digits_hard")
