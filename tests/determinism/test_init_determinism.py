"""``snn2hw init`` and ``simulate --data random``, run twice in separate processes (different hash seeds,
folders): the same bytes (reports but for their one ``created`` field), as every artifact in test_artifacts."""
from test_artifacts import _run_twice, assert_same_outputs


def test_init_and_random_simulate_are_deterministic(tmp_path):
    a, b = _run_twice(tmp_path, "init", ["init", "--arch", "6conv2fc", "--input-shape", "3,8,8", "--classes", "5",
                                         "--arch-kw", "channels=[8,8]", "--arch-kw", "fc_hidden=16", "--seed", "7",
                                         "--out", "{out}/m.pt"], [])
    assert_same_outputs(a, b, expect=["m.pt"])
    a, b = _run_twice(tmp_path, "simulate", ["simulate", "{in}/m.pt", "--data", "random:density=0.25,seed=4",
                                             "--samples", "5", "--batch-size", "2", "--out", "{out}/r"], [a / "m.pt"])
    assert_same_outputs(a, b, expect=["r/report.json", "r/report.md", "r/report.html"])
