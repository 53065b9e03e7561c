"""The in-memory dataset record every loader returns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np


from snn2hw.errors import DataError  # noqa: F401  (re-exported: a user error, exit 2 in the CLI)


@dataclass
class Dataset:
    """Train/test arrays plus what the toolchain needs to know about the input.

    ``x_*``: float32 ``[N, *input_shape]``; ``y_*``: int64 ``[N]`` in ``0..num_classes-1``.
    ``input_step``: the input lattice, if any — every ``x / input_step`` is an
    exact integer (digits: 1/16), so the integer network can take the raw
    integers as graded input; ``None`` when the input is not on a lattice.
    ``timesteps``: ``None`` for static samples (encoded over T steps by the
    chosen encoding); an integer T for event data, whose ``x_*`` are then
    ``[N, T, *input_shape]`` frames that enter the model one frame per step
    (the ``events`` encoding).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: Tuple[int, ...]
    num_classes: int
    input_step: Optional[float]
    name: str
    timesteps: Optional[int] = None

    def __post_init__(self):
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) != len(y):
                raise DataError(f"{self.name}: x_{split} has {len(x)} samples but y_{split} has {len(y)}")
            want = ((self.timesteps,) if self.timesteps else ()) + tuple(self.input_shape)
            if tuple(x.shape[1:]) != want:
                raise DataError(f"{self.name}: x_{split} sample shape {tuple(x.shape[1:])} "
                                f"!= {'(timesteps, *input_shape) ' if self.timesteps else 'input_shape '}{want}")

    @property
    def num_train(self) -> int:
        return len(self.y_train)

    @property
    def num_test(self) -> int:
        return len(self.y_test)
