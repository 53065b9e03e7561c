"""snn2hw.passes.fold: the acceptance criterion "BN folding and theta/gamma folding are exact:
max abs difference <= 1e-6 on outputs of a random conv/residual net" (float64), spikes identical."""
import numpy as np
import pytest

from snn2hw.errors import PassError
from snn2hw.ir import AvgPool2d, BatchNorm
from snn2hw.passes import FoldBatchNormPass, QuantizePass, fold

from tests.helpers.random_graphs import random_graph, random_input
from tests.passes._compare import assert_same_behaviour, count, neurons


@pytest.mark.parametrize("unit", [False, True])
@pytest.mark.parametrize("kind", ["conv", "residual", "mlp"])
def test_fold_is_exact_on_random_nets(kind, unit):
    worst, rates, tested, seed = 0.0, [], 0, 0
    while tested < 8:
        seed += 1
        assert seed <= 16, "too many random nets with a silent layer"
        rng = np.random.default_rng(10_000 + 31 * seed + (kind == "residual"))
        g = random_graph(rng, kind)
        x = random_input(rng, g, timesteps=16, batch=6)
        res = fold(g, unit_threshold=unit)
        h = res.graph
        assert count(h, BatchNorm) == 0 and count(h, AvgPool2d) == 0, res.summary()
        for name, n in neurons(h).items():
            assert n.output_scale == 1.0 and n.input_gain == 1.0, (name, res.summary())
        assert all(getattr(node, "channel_scale", None) is None for node in h.nodes.values())
        # nothing the folding passes are responsible for is left for quantization to refuse
        # (the missing input step and subtract resets are the user's business)
        left = [p for p in QuantizePass("loihi").requires(h) if "no integer step" not in p and "resets by" not in p]
        assert left == [], left
        stats = assert_same_behaviour(g, h, x, atol=1e-6)
        worst = max(worst, stats["max_abs"])
        if min(stats["rates"].values()) == 0.0:
            continue  # a silent layer makes the spike comparison weak: it does not count
        tested += 1
        rates.append(stats["rate"])
    assert worst <= 1e-6
    # the comparison means something: the hidden neurons fire (and not on every step)
    assert 0.05 < np.mean(rates) < 0.9, rates


def test_fold_reports_what_it_did():
    rng = np.random.default_rng(77)
    g = random_graph(rng, "residual", variants=("identity_bn_after",), blocks=1)
    res = fold(g)
    names = [r.name for r in res.results]
    assert names == ["insert_identity_synapses", "fold_batchnorm", "lower_avgpool", "fold_thresholds"]
    assert res.results[0].modified and any("(rule 3)" in c for c in res.results[1].changes)
    assert "insert_identity_synapses:" in res.summary()


def test_unfoldable_batchnorm_stops_the_pipeline_with_its_name():
    for seed in range(50):
        g = random_graph(np.random.default_rng(seed), "conv", fold_safe=False)
        refused = FoldBatchNormPass().run(g).refusals
        if refused:
            break
    else:  # pragma: no cover
        pytest.fail("no random graph with an unfoldable BatchNorm")
    bn_name = refused[0].split("'")[1]
    with pytest.raises(PassError, match=f"BatchNorm '{bn_name}' must be folded first"):
        fold(g)
