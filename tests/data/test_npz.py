import numpy as np
import pytest

from snn2hw.data import DataError, load_dataset, load_npz


def save(tmp_path, name="d.npz", **arrays):
    p = tmp_path / name
    np.savez(p, **arrays)
    return p


def test_load_and_fixed_split(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((50, 2, 3)).astype(np.float64)
    y = np.repeat(np.arange(5), 10)
    p = save(tmp_path, x=x, y=y)
    d = load_dataset(str(p))
    assert (d.num_train, d.num_test) == (40, 10)
    assert d.input_shape == (2, 3) and d.num_classes == 5 and d.input_step is None
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    d2 = load_npz(p)
    np.testing.assert_array_equal(d.x_test, d2.x_test)
    # disjoint and complete
    rows = sorted(map(bytes, np.concatenate([d.x_train, d.x_test]).reshape(50, -1)))
    assert rows == sorted(map(bytes, x.astype(np.float32).reshape(50, -1)))
    assert d.name == "d"


def test_explicit_test_split_and_integer_lattice(tmp_path):
    p = save(tmp_path, x=np.zeros((6, 4), np.uint8), y=np.arange(6) % 2,
             x_test=np.ones((3, 4), np.uint8), y_test=np.array([0, 1, 2]))
    d = load_npz(p)
    assert (d.num_train, d.num_test, d.num_classes, d.input_step) == (6, 3, 3, 1.0)
    p2 = save(tmp_path, "s.npz", x=np.zeros((6, 4)), y=np.arange(6) % 2, input_step=np.array(0.25))
    assert load_npz(p2).input_step == 0.25


@pytest.mark.parametrize("arrays,match", [
    ({"y": np.zeros(3, int)}, "missing array 'x'"),
    ({"x": np.zeros((3, 2))}, "missing array 'y'"),
    ({"x": np.zeros((3, 2)), "y": np.zeros(4, int)}, "length mismatch"),
    ({"x": np.array([[np.nan, 1.0], [0, 0]]), "y": np.zeros(2, int)}, "NaN"),
    ({"x": np.array([[np.inf, 1.0], [0, 0]]), "y": np.zeros(2, int)}, "infinite"),
    ({"x": np.zeros((3, 2)), "y": np.zeros(3)}, "integer label"),
    ({"x": np.array([["a", "b"]] * 3), "y": np.zeros(3, int)}, "dtype"),
    ({"x": np.zeros(3), "y": np.zeros(3, int)}, r"\[N, \.\.\.\]"),
    ({"x": np.zeros((3, 2)), "y": np.array([0, -1, 0])}, "negative"),
    ({"x": np.zeros((3, 2)), "y": np.zeros(3, int), "x_test": np.zeros((1, 2))}, "together"),
])
def test_errors_name_file_and_problem(tmp_path, arrays, match):
    p = save(tmp_path, "bad.npz", **arrays)
    with pytest.raises(DataError, match=match) as e:
        load_npz(p)
    assert "bad.npz" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_object_arrays_refused_without_pickle(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, x=np.array([np.zeros(2), None], dtype=object), y=np.zeros(2, int))
    with pytest.raises(DataError, match="pickle"):
        load_npz(p)


def test_missing_and_corrupt_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_npz(tmp_path / "nope.npz")
    bad = tmp_path / "junk.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz"):
        load_npz(bad)
