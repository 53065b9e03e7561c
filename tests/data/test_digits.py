import numpy as np
import pytest

from snn2hw.data import DataError, load_dataset, load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_split_sizes_fixed_and_stratified(digits):
    assert (digits.num_train, digits.num_test) == (1437, 360)
    assert digits.x_train.shape == (1437, 1, 8, 8) and digits.x_train.dtype == np.float32
    assert digits.y_train.dtype == np.int64
    assert digits.input_shape == (1, 8, 8) and digits.num_classes == 10
    # stratified: every class has 35..37 test samples
    counts = np.bincount(digits.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37


def test_split_is_deterministic_and_disjoint(digits):
    again = load_digits()
    np.testing.assert_array_equal(again.x_test, digits.x_test)
    np.testing.assert_array_equal(again.y_train, digits.y_train)
    from sklearn.datasets import load_digits as sk
    raw = {r.tobytes() for r in sk().images.reshape(1797, 64).astype(np.int64)}
    assert len(raw) == 1797  # every image is distinct, so rows identify samples

    def rows(x):
        return [r.tobytes() for r in (x.reshape(len(x), 64) * 16).round().astype(np.int64)]

    tr, te = rows(digits.x_train), rows(digits.x_test)
    assert set(tr).isdisjoint(te)
    assert set(tr) | set(te) == raw and len(tr) + len(te) == 1797


def test_input_lattice(digits):
    assert digits.input_step == 1 / 16
    for x in (digits.x_train, digits.x_test):
        scaled = x / digits.input_step
        np.testing.assert_array_equal(scaled, np.round(scaled))
        assert scaled.min() == 0 and scaled.max() == 16


def test_flat_variant(digits):
    flat = load_dataset("digits_flat")
    assert flat.input_shape == (64,) and flat.x_train.shape == (1437, 64)
    np.testing.assert_array_equal(flat.x_train.reshape(-1, 1, 8, 8), digits.x_train)


def test_unknown_spec():
    with pytest.raises(DataError, match="digits"):
        load_dataset("cifar10")
