"""snn2hw simulate --workers K / --ray ADDRESS (issue 16 point 2): the samples in shards on local processes or
a Ray cluster, merged; every report file equals the single-process one byte for byte (SOURCE_DATE_EPOCH fixes
the only field that could differ, ``created``). Bad input: exit 2, one line, nothing written."""
import pytest

from snn2hw.cli import main

CKPT = "examples/digits_lif.pt"
ARGS = ["simulate", CKPT, "--samples", "12", "--batch-size", "4", "--profile", "loihi"]
FILES = ("report.json", "report.md", "report.html")


def _simulate(out, *extra):
    with pytest.raises(SystemExit) as e:
        main([*ARGS, "--out", str(out), *extra])
    assert e.value.code == 0
    return {f: (out / f).read_bytes() for f in FILES}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
    yield _simulate(tmp_path_factory.mktemp("one") / "r")
    mp.undo()


def test_workers_2_report_equals_single_process(single, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert _simulate(tmp_path / "r", "--workers", "2") == single


def test_ray_local_cluster_report_equals_single_process(single, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    import ray  # the [ray] extra is in [dev]: a missing ray fails here, it does not skip
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert _simulate(tmp_path / "r", "--ray", "auto") == single
    finally:
        ray.shutdown()


@pytest.mark.parametrize("extra, words", [
    (["--workers", "0"], ["--workers", "0 is not in the range x>=1"]),
    (["--workers", "-2"], ["--workers", "-2 is not in the range x>=1"]),
    (["--ray", "127.0.0.1:1"], ["error: --ray 127.0.0.1:1: cannot reach it"]),
])
def test_bad_workers_or_ray_exit_2_and_write_nothing(tmp_path, capsys, extra, words):
    out = tmp_path / "r"
    with pytest.raises(SystemExit) as e:
        main([*ARGS, "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert e.value.code == 2 and all(w in err for w in words) and "Traceback" not in err, err
    assert not out.exists()
