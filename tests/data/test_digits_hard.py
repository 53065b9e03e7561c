"""digits_hard: deterministic, on the input lattice, same split and labels as digits, and corrupted."""
import numpy as np

from snn2hw.data import load_dataset
from snn2hw.data.digits_hard import load_digits_hard


def test_digits_hard_is_a_deterministic_corruption_of_digits():
    base, a, b = load_dataset("digits"), load_dataset("digits_hard"), load_digits_hard()
    np.testing.assert_array_equal(a.x_train, b.x_train)          # seeded
    np.testing.assert_array_equal(a.y_train, base.y_train)       # same split and labels
    np.testing.assert_array_equal(a.y_test, base.y_test)
    assert a.x_train.shape == base.x_train.shape and a.input_step == 1 / 16
    raw = a.x_train * 16
    assert np.all(raw == np.rint(raw)) and raw.min() >= 0 and raw.max() <= 16   # on the lattice
    changed = np.mean(np.any(a.x_train != base.x_train, axis=(1, 2, 3)))
    assert changed > 0.95
    assert not np.array_equal(load_digits_hard(seed=1).x_train, a.x_train)
