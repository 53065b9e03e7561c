"""Seeded random inputs of a model's own input shape: ``--data random`` (``random:density=0.2,seed=3``).

For costing a network that has no data set yet (an untrained ``snn2hw init``
checkpoint, a new architecture): every element of every sample is, independently,

* ``0`` with probability ``1 - density``, and
* otherwise ``k · step`` with ``k`` uniform on ``1..K``: a nonzero point of the model's
  input lattice (``Input.step``) in ``(0, 1]``, ``K = min(floor(1 / step), hi)`` where
  ``hi`` is the top of the Input's integer range (255 for 8-bit inputs; 1 for a 1-bit
  profile, so the inputs are then binary); ``K = 1`` if ``step > 1``.

So the integer network sees ``x_int = k`` exactly, the fraction of nonzero input
elements is ``density`` (binomial spread), and the nonzero values are graded, uniform
over the lattice. **Default density: 0.5** (:data:`DEFAULT_DENSITY`; half the input
elements nonzero, like the bundled digits), default seed 0. A model without an input
step gets :data:`DEFAULT_STEP` = 1/255 (8-bit inputs in [0, 1]), written into its Input
node so that its conversion uses the lattice the inputs were drawn on.

One uniform draw per element (numpy ``default_rng(seed)``, C order) decides both
whether it is zero and its level, so the first ``m`` of ``n`` samples are the same
for every ``n >= m`` and for every density the nonzero elements of a lower density are
a subset of a higher one's.

Random inputs have no labels: a :class:`~snn2hw.data.Dataset` made by
:func:`random_data` carries label ``-1`` (no label), :func:`~snn2hw.data.model_inputs`
returns ``labels = None`` for it, and a report says the accuracy is not applicable
(``accuracy: null``). Its name, ``random(density=0.5, seed=0)``, is the report's
``inputs.data``.

:func:`~snn2hw.data.load_dataset` turns the spec text into a :class:`RandomInputs`, a
data set with no shape of its own; ``model_inputs`` draws it for the model's input
shape and lattice. Commands that need labelled data (train, compress, finetune) get a
:class:`~snn2hw.errors.DataError` from it, naming what is missing.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .dataset import DataError, Dataset

NAME = "random"
#: the probability that an input element is nonzero, unless the spec says otherwise
DEFAULT_DENSITY = 0.5
DEFAULT_SEED = 0
#: the input lattice of a model that records none: 8-bit values in [0, 1]
DEFAULT_STEP = 1.0 / 255.0
#: the top of an integer input range when the Input node has no bit width yet (8-bit, unsigned)
DEFAULT_HI = 255
KEYS = ("density", "seed")


def describe(density: float, seed: int) -> str:
    """The data set's name as reports show it: ``random(density=0.5, seed=0)``."""
    return f"{NAME}(density={density:g}, seed={seed})"


def lattice_levels(step: float, hi: Optional[int] = None) -> int:
    """``K``: the number of nonzero lattice points ``k · step`` in ``(0, 1]`` (at least 1), capped at ``hi``."""
    if not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
        raise DataError(f"random inputs: the input step must be a positive finite number, got {step!r}")
    k = max(1, int(math.floor(1.0 / float(step) + 1e-9)))
    if hi is not None:
        k = max(1, min(k, int(hi)))
    return k


def _check(density, seed) -> None:
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0.0 <= float(density) <= 1.0:
        raise DataError(f"random inputs: density must be a number in [0, 1] (the probability that an input "
                        f"element is nonzero), got {density!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"random inputs: seed must be a non-negative integer, got {seed!r}")


def random_inputs(shape, n: int, density: float = DEFAULT_DENSITY, seed: int = DEFAULT_SEED,
                  step: float = DEFAULT_STEP, hi: Optional[int] = None) -> np.ndarray:
    """``[n, *shape]`` float32 samples as the module docstring describes (seeded, on the lattice ``step``)."""
    _check(density, seed)
    shape = tuple(int(d) for d in shape)
    if not shape or any(d <= 0 for d in shape):
        raise DataError(f"random inputs: the sample shape must be non-empty with positive sizes, got {shape}")
    if int(n) < 1:
        raise DataError(f"random inputs: need at least one sample, got {n}")
    K = lattice_levels(step, hi)
    u = np.random.default_rng(int(seed)).random((int(n),) + shape)
    d = float(density)
    on = u < d
    # u < d is uniform on [0, d): its position in that interval is the level, uniform on 1..K
    if d == 0.0:
        return np.zeros(u.shape, dtype=np.float32)
    k = np.minimum(np.floor(u / d * K), K - 1) + 1
    return np.where(on, k * float(step), 0.0).astype(np.float32)


def random_data(shape, n: int, density: float = DEFAULT_DENSITY, seed: int = DEFAULT_SEED,
                step: float = DEFAULT_STEP, hi: Optional[int] = None) -> Dataset:
    """A :class:`Dataset` of ``n`` random samples of ``shape`` (the test split; the train split is the
    same array, for calibration only), label ``-1`` (none), ``num_classes = 0``, ``input_step = step``."""
    x = random_inputs(shape, n, density, seed, step, hi)
    y = np.full(len(x), -1, dtype=np.int64)
    return Dataset(x, y, x, y, input_shape=tuple(x.shape[1:]), num_classes=0, input_step=float(step),
                   name=describe(density, seed))


def is_random_spec(spec) -> bool:
    return isinstance(spec, str) and (spec == NAME or spec.startswith(NAME + ":"))


def parse_random_spec(spec: str) -> "RandomInputs":
    """``'random'`` or ``'random:density=0.2,seed=3'`` (keys optional, any order) -> :class:`RandomInputs`."""
    if not is_random_spec(spec):
        raise DataError(f"not a random data spec: {spec!r} (expected 'random' or 'random:density=D,seed=S')")
    values = {}
    rest = spec[len(NAME) + 1:] if spec != NAME else ""
    for item in (p.strip() for p in rest.split(",")) if rest.strip() else ():
        key, eq, val = item.partition("=")
        key = key.strip()
        if not eq or key not in KEYS:
            what = f"unknown key {key!r}" if eq else f"expected key=value, got {item!r}"
            raise DataError(f"--data {spec!r}: {what}; valid keys: {', '.join(KEYS)} (e.g. random:density=0.2,seed=3)")
        if key in values:
            raise DataError(f"--data {spec!r}: '{key}' is given twice")
        try:
            values[key] = float(val) if key == "density" else int(val.strip())
        except ValueError:
            want = "a number in [0, 1]" if key == "density" else "a non-negative integer"
            raise DataError(f"--data {spec!r}: {key} must be {want}, got {val.strip()!r}") from None
    density = values.get("density", DEFAULT_DENSITY)
    seed = values.get("seed", DEFAULT_SEED)
    if not (math.isfinite(density) and 0.0 <= density <= 1.0):
        raise DataError(f"--data {spec!r}: density must be a number in [0, 1] (the probability that an input "
                        f"element is nonzero), got {density:g}")
    if seed < 0:
        raise DataError(f"--data {spec!r}: seed must be a non-negative integer, got {seed}")
    return RandomInputs(density=density, seed=seed)


def _no_labels(what: str):
    def get(self):
        raise DataError(f"the data '{self.name}' is random inputs without labels or a shape of their own "
                        f"(no {what}): use a labelled data set ('digits' or a .npz file) here; --data random "
                        f"works with simulate, export, convert and run-lava")
    return property(get)


class RandomInputs:
    """Random inputs not yet bound to a model (what ``load_dataset('random...')`` returns).

    :meth:`for_shape` draws them for a model (``model_inputs`` calls it with the graph's Input
    shape, step and integer range). ``input_step`` is None: the inputs take the model's lattice.
    ``x_train`` holds every value the inputs can take on the default lattice (0, 1/255, ..., 1),
    one per sample: all that calibration reads is its range, so ``convert --data random`` of a model
    without an input step picks the step for [0, 1], as real 8-bit data would. Fields of labelled
    data (``y_*``, ``x_test``, ``num_classes``, ``input_shape``) raise :class:`DataError`.
    """

    input_step = None

    def __init__(self, density: float = DEFAULT_DENSITY, seed: int = DEFAULT_SEED):
        _check(density, seed)
        self.density = float(density)
        self.seed = int(seed)

    @property
    def name(self) -> str:
        return describe(self.density, self.seed)

    #: what a report calls the data (``inputs.data``)
    report_name = name

    @property
    def x_train(self) -> np.ndarray:
        K = lattice_levels(DEFAULT_STEP, DEFAULT_HI)
        return (np.arange(K + 1, dtype=np.float64) * DEFAULT_STEP).astype(np.float32).reshape(-1, 1)

    y_train = _no_labels("labels")
    y_test = _no_labels("labels")
    x_test = _no_labels("test split")
    num_classes = _no_labels("classes")
    input_shape = _no_labels("input shape")
    num_train = _no_labels("training split")
    num_test = _no_labels("test split")

    def for_shape(self, shape, n: int, step: Optional[float] = None, hi: Optional[int] = None) -> Dataset:
        """``n`` samples of ``shape`` on the lattice ``step`` (default 1/255), levels capped at ``hi``."""
        return random_data(shape, n, self.density, self.seed, DEFAULT_STEP if step is None else step, hi)

    def __repr__(self) -> str:
        return f"RandomInputs(density={self.density:g}, seed={self.seed})"


__all__ = ["RandomInputs", "random_data", "random_inputs", "parse_random_spec", "is_random_spec", "lattice_levels",
           "describe", "DEFAULT_DENSITY", "DEFAULT_SEED", "DEFAULT_STEP"]
