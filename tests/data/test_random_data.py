"""``--data random``: seeded random inputs of the model's input shape, on its input lattice, with the
requested density of nonzero elements, and no labels."""
import math

import numpy as np
import pytest
import torch

from snn2hw.data import DataError, Dataset, load_dataset, model_inputs
from snn2hw.data.random_data import (
    DEFAULT_DENSITY,
    DEFAULT_STEP,
    RandomInputs,
    lattice_levels,
    parse_random_spec,
    random_data,
    random_inputs,
)
from snn2hw.frontends.torch_fx import from_module
from snn2hw.models import build_model


def _binomial_ok(x, density, sigmas=5.0):
    """The fraction of nonzero elements is within ``sigmas`` binomial standard deviations of ``density``."""
    n = x.size
    got = float((x != 0).mean())
    tol = sigmas * math.sqrt(density * (1 - density) / n) + 1e-12
    return abs(got - density) <= tol, got, tol


@pytest.mark.parametrize("density", [0.05, 0.2, 0.5, 0.9])
def test_density_within_binomial_tolerance(density):
    x = random_inputs((3, 16, 16), 50, density=density, seed=1)
    ok, got, tol = _binomial_ok(x, density)
    assert ok, (density, got, tol)


def test_density_check_can_fail():
    """The tolerance is tight enough to tell 0.2 from 0.25 at this size."""
    x = random_inputs((3, 16, 16), 50, density=0.25, seed=1)
    assert not _binomial_ok(x, 0.2)[0]


def test_edge_densities():
    assert not random_inputs((8,), 10, density=0.0).any()
    assert (random_inputs((8,), 10, density=1.0) > 0).all()


def test_values_are_on_the_lattice_and_uniform_over_levels():
    step = 1 / 16
    x = random_inputs((1, 8, 8), 400, density=0.5, seed=2, step=step)
    k = x / step
    assert np.allclose(k, np.round(k), atol=1e-4)
    nz = np.round(k[x != 0]).astype(int)
    assert nz.min() == 1 and nz.max() == 16  # nonzero points of the lattice in (0, 1]
    counts = np.bincount(nz, minlength=17)[1:]
    expect = len(nz) / 16
    assert np.all(np.abs(counts - expect) < 6 * math.sqrt(expect)), counts  # uniform over the 16 levels


def test_levels_capped_by_the_integer_range():
    assert lattice_levels(1 / 255) == 255 and lattice_levels(1 / 16) == 16 and lattice_levels(2.0) == 1
    assert lattice_levels(1 / 255, hi=1) == 1
    x = random_inputs((64,), 20, density=0.5, step=1 / 255, hi=1)
    assert set(np.unique(np.round(x * 255)).tolist()) == {0.0, 1.0}  # binary inputs for a 1-bit profile


def test_seeded_prefix_stable_and_seeds_differ():
    a = random_inputs((3, 8, 8), 10, seed=4)
    assert np.array_equal(a, random_inputs((3, 8, 8), 10, seed=4))
    assert np.array_equal(a[:3], random_inputs((3, 8, 8), 3, seed=4))
    assert not np.array_equal(a, random_inputs((3, 8, 8), 10, seed=5))
    lo, hi = random_inputs((50,), 20, density=0.2, seed=4), random_inputs((50,), 20, density=0.6, seed=4)
    assert np.all((lo != 0) <= (hi != 0))  # a lower density's nonzeros are a subset


def test_random_data_is_an_unlabelled_dataset():
    d = random_data((1, 8, 8), 12, density=0.3, seed=7, step=1 / 16)
    assert isinstance(d, Dataset) and d.x_test.shape == (12, 1, 8, 8) and d.input_step == 1 / 16
    assert (d.y_test == -1).all() and d.name == "random(density=0.3, seed=7)"


@pytest.mark.parametrize("spec, density, seed", [("random", DEFAULT_DENSITY, 0), ("random:density=0.2,seed=3", 0.2, 3),
                                                 ("random: seed=9 ", DEFAULT_DENSITY, 9), ("random:density=1", 1.0, 0)])
def test_spec_parsing(spec, density, seed):
    r = load_dataset(spec)
    assert isinstance(r, RandomInputs) and (r.density, r.seed) == (density, seed)
    assert r.input_step is None and r.report_name == f"random(density={density:g}, seed={seed})"


@pytest.mark.parametrize("spec, needle", [("random:dens=0.2", "dens"), ("random:density=1.5", "density"),
                                          ("random:density=abc", "density"), ("random:seed=-1", "seed"),
                                          ("random:seed=1.5", "seed"), ("random:density", "key=value"),
                                          ("random:seed=1,seed=2", "twice"), ("random:density=nan", "density")])
def test_bad_specs_name_the_field(spec, needle):
    with pytest.raises(DataError, match=needle):
        parse_random_spec(spec)


def test_random_has_no_labels_for_training():
    r = load_dataset("random")
    for attr in ("num_classes", "y_train", "y_test", "input_shape", "x_test"):
        with pytest.raises(DataError, match="without labels"):
            getattr(r, attr)
    cal = r.x_train  # what convert's calibration reads: the range [0, 1] on the 8-bit lattice
    assert cal.min() == 0.0 and cal.max() == 1.0 and len(cal) == 256


def _graph(arch="digits_conv", step=None, **kw):
    torch.manual_seed(0)
    m = build_model(arch, **kw)
    g = from_module(m, m.input_shape)
    for n in g.inputs:
        g.nodes[n].step = step
    return g


def test_model_inputs_draws_for_the_model():
    g = _graph(step=1 / 16)
    x, y, T = model_inputs(g, load_dataset("random:density=0.3,seed=2"), 25, timesteps=3)
    assert y is None and T == 3 and tuple(x.shape) == (3, 25, 1, 8, 8)
    assert torch.equal(x[0], x[2])  # direct encoding
    k = x[0].numpy() * 16
    assert np.allclose(k, np.round(k)) and k.max() <= 16
    assert _binomial_ok(x[0].numpy(), 0.3)[0]
    ref = random_inputs((1, 8, 8), 25, density=0.3, seed=2, step=1 / 16)
    assert np.array_equal(x[0].numpy(), ref.astype(np.float64))


def test_model_inputs_sets_a_missing_step_and_takes_flat_shapes():
    g = _graph("mlp", step=None, in_features=20)
    x, y, _ = model_inputs(g, load_dataset("random"), 4)
    assert tuple(x.shape[1:]) == (4, 20) and y is None
    assert g.nodes[g.inputs[0]].step == DEFAULT_STEP
    k = x.numpy() * 255
    assert np.allclose(k, np.round(k)) and k.max() <= 255


def test_model_inputs_keeps_labels_of_real_data():
    g = _graph(step=1 / 16)
    _, y, _ = model_inputs(g, load_dataset("digits"), 5)
    assert y is not None and len(y) == 5 and (y >= 0).all()
