"""Event files in tonic's (x, y, t, p) layout: binning round trips and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from snn2hw.data import DataError, load_dataset
from snn2hw.data.events import bin_events

DT = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
W, H, P, N = 5, 4, 2, 8


def _events(seed=0):
    rng = np.random.default_rng(seed)
    per, offs = [], [0]
    for i in range(N):
        k = int(rng.integers(0 if i == 3 else 5, 1 if i == 3 else 60))   # sample 3 is empty
        e = np.zeros(k, DT)
        e["x"], e["y"], e["p"] = rng.integers(0, W, k), rng.integers(0, H, k), rng.integers(0, P, k)
        e["t"] = np.sort(rng.integers(100, 10_000, k))
        per.append(e)
        offs.append(offs[-1] + k)
    return per, np.array(offs)


def _write(path, per, offs, **override):
    arrays = dict(events=np.concatenate(per), offsets=offs, y=np.arange(N) % 3, sensor_size=np.array([W, H, P]))
    arrays.update(override)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _hand(per, T, bin_us=None):
    out = np.zeros((N, T, P, H, W), np.int64)
    for i, e in enumerate(per):
        if not len(e):
            continue
        t0, t1 = int(e["t"].min()), int(e["t"].max())
        w = bin_us or (t1 - t0) // T + 1
        for ev in e:
            b = (int(ev["t"]) - t0) // w
            if b < T:
                out[i, b, ev["p"], ev["y"], ev["x"]] += 1
    return out


def test_bins_round_trip_hand_binning(tmp_path):
    per, offs = _events()
    path = _write(tmp_path / "ev.npz", per, offs)
    a = _arrays(path)
    for T in (1, 4, 7):
        counts, y = bin_events(str(path), a, bins=T, mode="count")
        assert np.array_equal(counts, _hand(per, T)) and y.tolist() == (np.arange(N) % 3).tolist()
        binary, _ = bin_events(str(path), a, bins=T)
        assert np.array_equal(binary, (_hand(per, T) > 0).astype(np.float32))
    assert np.array_equal(bin_events(str(path), a, bins=3, bin_us=700, mode="count")[0], _hand(per, 3, 700))


def test_bin_us_matches_tonic_to_frame(tmp_path):
    tonic_tf = pytest.importorskip("tonic.transforms")
    per, offs = _events(1)
    path = _write(tmp_path / "ev.npz", per, offs)
    counts, _ = bin_events(str(path), _arrays(path), bin_us=1000, mode="count")
    for i, e in enumerate(per):
        if not len(e):
            assert counts[i].sum() == 0
            continue
        ref = tonic_tf.ToFrame(sensor_size=(W, H, P), time_window=1000, include_incomplete=True)(e)
        assert np.array_equal(counts[i, :len(ref)], ref) and counts[i, len(ref):].sum() == 0


def test_load_dataset_spec(tmp_path):
    per, offs = _events()
    path = _write(tmp_path / "ev.npz", per, offs)
    d = load_dataset(f"{path}:bins=4,mode=count")
    assert d.timesteps == 4 and d.input_shape == (P, H, W) and d.num_train + d.num_test == N
    assert load_dataset(str(path)).timesteps == 8   # default bins


@pytest.mark.parametrize("override,needle", [
    (dict(offsets=None), "'offsets'"),
    (dict(events=np.zeros(3)), "'events' must be a 1-D structured array"),
    (dict(offsets=np.array([0, 1, 2])), "'offsets' must be 9 integers"),
    (dict(sensor_size=np.array([W, H])), "'sensor_size'"),
    (dict(sensor_size=np.array([2, H, P])), "field 'x'"),
    (dict(y=-np.ones(N, int)), "'y' contains negative"),
])
def test_malformed_layouts(tmp_path, override, needle):
    per, offs = _events()
    path = _write(tmp_path / "bad.npz", per, offs, **override)
    with pytest.raises(DataError) as e:
        load_dataset(str(path))
    assert str(path) in str(e.value) and needle in str(e.value)


def test_bad_offsets_order_and_options(tmp_path):
    per, offs = _events()
    bad = offs.copy()
    bad[2], bad[3] = bad[3], bad[2]
    path = _write(tmp_path / "bad.npz", per, offs, offsets=bad)
    with pytest.raises(DataError, match="never decrease"):
        load_dataset(str(path))
    good = _write(tmp_path / "ev.npz", per, offs)
    with pytest.raises(DataError, match="unknown option"):
        load_dataset(f"{good}:frames=3")
    with pytest.raises(DataError, match="positive integer"):
        load_dataset(f"{good}:bins=0")


def test_cli_malformed_exit_2(tmp_path, capsys):
    from snn2hw.cli import main
    per, offs = _events()
    path = _write(tmp_path / "bad.npz", per, offs, sensor_size=np.array([W, H, 7, 1]))
    with pytest.raises(SystemExit) as e:
        main(["train", "--arch", "mlp", "--data", str(path), "--epochs", "1", "--out", str(tmp_path / "m.pt")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "sensor_size" in err and str(path) in err


def test_cli_train_bins_option(tmp_path, capsys):
    """`snn2hw train --data FILE.npz --bins T` trains on the event file's T binary frames; --bins on a
    non-event spec is a clear error."""
    from snn2hw.cli import main
    from snn2hw.frontends.checkpoint import load_checkpoint
    rng = np.random.default_rng(2)
    n, k = 20, 40
    ev = np.zeros(n * k, DT)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 8, n * k), rng.integers(0, 8, n * k), rng.integers(0, 2, n * k)
    ev["t"] = rng.integers(0, 5000, n * k)
    path = tmp_path / "ev8.npz"
    np.savez(path, events=ev, offsets=np.arange(n + 1) * k, y=np.arange(n) % 2, sensor_size=np.array([8, 8, 2]))
    out = tmp_path / "m.pt"
    with pytest.raises(SystemExit) as e:
        main(["train", "--arch", "digits_conv", "--arch-kw", "in_channels=2", "--arch-kw", "input_size=8",
              "--arch-kw", "widths=[4]", "--data", str(path), "--bins", "3", "--epochs", "1", "--out", str(out)])
    assert e.value.code in (0, None), capsys.readouterr().err
    meta = load_checkpoint(out).info
    assert meta["timesteps"] == 3 and meta["encoding"] == "events"
    with pytest.raises(SystemExit) as e:
        main(["train", "--arch", "mlp", "--data", "digits", "--bins", "3", "--epochs", "1", "--out", str(out)])
    assert e.value.code == 2 and "--bins" in capsys.readouterr().err
