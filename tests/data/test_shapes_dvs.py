"""shapes_dvs: deterministic cache, event statistics against the generator's parameters, registration."""
from __future__ import annotations

import numpy as np
import pytest

from snn2hw.data import load_dataset
from snn2hw.data.shapes_dvs import CLASSES, GENERATOR_VERSION, ShapesParams, cache_path, generate, load_arrays

SMALL = ShapesParams(n_per_class=4, T=4, substeps=2, chunk=16)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNN2HW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_same_seed_byte_identical_cache(cache):
    load_arrays(SMALL)
    path = cache_path(SMALL)
    first = path.read_bytes()
    path.unlink()
    load_arrays(SMALL)
    assert path.read_bytes() == first
    assert path.parent == cache and path.name.startswith(f"shapes_dvs-v{GENERATOR_VERSION}-")
    with np.load(path, allow_pickle=False) as f:
        assert int(f["generator_version"]) == GENERATOR_VERSION
    other = ShapesParams(n_per_class=4, T=4, substeps=2, chunk=16, seed=1)
    assert cache_path(other) != path
    assert not np.array_equal(load_arrays(other)["counts"], load_arrays(SMALL)["counts"])
    mtime = path.stat().st_mtime_ns
    load_arrays(SMALL)                          # a cache hit: the file is not rewritten
    assert path.stat().st_mtime_ns == mtime


def test_noise_only_statistics_match_parameters():
    """Without objects or hot pixels every event is background noise: Poisson-like with mean
    noise_rate x pixels x render steps per sample, polarity 50/50."""
    p = ShapesParams(n_per_class=3, T=4, substeps=4, objects=False, hot_pixels_max=0, p_distractor=0.0,
                     noise_rate=0.01, chunk=36)
    a = generate(p)
    expect = p.noise_rate * 32 * 32 * p.T * p.substeps
    assert abs(a["events_per_sample"].mean() - expect) < 0.05 * expect
    c = a["counts"].astype(np.int64)
    on = c[:, :, 0].sum() / c.sum()
    assert 0.47 < on < 0.53


def test_default_like_statistics():
    """Objects on: ON/OFF balanced over the classes (contrast is bright or dark at random), every sample
    has events beyond the noise floor and stays far below one event per pixel per render step."""
    p = ShapesParams(n_per_class=5, T=8, substeps=4, chunk=60)
    a = generate(p)
    c = a["counts"].astype(np.int64)
    on = c[:, :, 0].sum() / c.sum()
    assert 0.4 < on < 0.6
    e = a["events_per_sample"]
    floor = p.noise_rate * 1024 * p.T * p.substeps
    assert e.min() > floor and e.max() < 1024 * p.T * p.substeps / 4
    assert a["counts"].shape == (len(CLASSES) * 5, 8, 2, 32, 32)
    assert np.bincount(a["y"]).tolist() == [5] * len(CLASSES)


def test_registered_specs(cache):
    d = load_dataset("shapes_dvs:n_per_class=4,T=4,substeps=2")
    assert d.timesteps == 4 and d.input_shape == (2, 32, 32) and d.x_train.shape[1:] == (4, 2, 32, 32)
    assert set(np.unique(d.x_train)) <= {0.0, 1.0} and d.num_classes == len(CLASSES) >= 10
    s = load_dataset("shapes_static:n_per_class=4,T=4,substeps=2")
    assert s.timesteps is None and s.input_shape == (3, 32, 32)
    assert np.allclose(s.x_train * 255, np.rint(s.x_train * 255))


def test_event_data_trains_one_frame_per_step(cache):
    """train() takes the data's T and the events encoding: frame t of a sample is the model's step t."""
    import torch

    from snn2hw.data.encoding import encode
    from snn2hw.models import build_model
    from snn2hw.train import evaluate, train
    d = load_dataset("shapes_dvs:n_per_class=2,T=2,substeps=2")
    x = torch.as_tensor(d.x_train[:3])
    assert torch.equal(encode(x, 2, "events")[1], x[:, 1])
    with pytest.raises(ValueError, match="T=3"):
        encode(x, 3, "events")
    torch.manual_seed(0)
    model = build_model("digits_conv", in_channels=2, input_size=32, widths=(4,), num_classes=d.num_classes)
    hist = train(model, d, epochs=1, T=5, batch_size=8, progress=False)   # T=5 is overridden by the data's 2
    assert len(hist.test_acc) == 1
    assert 0.0 <= evaluate(model, d.x_test, d.y_test, T=2, encoding="events") <= 1.0
