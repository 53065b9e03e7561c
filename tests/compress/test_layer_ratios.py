"""compress(..., layer_ratios={layer: r}): per-layer pruning ratios for the methods that prune each layer by its
own share (l1, qp-snn); refused for the methods that rank across layers, and for names that are no prunable
layer."""
import pytest
import torch

from snn2hw.compress.pipeline import (CompressError, check_model, check_options, layer_ratio_map, prunable_groups,
                                      prune_channels)
from snn2hw.models import build_model


def _model():
    torch.manual_seed(0)
    return build_model("digits_conv", widths=(16, 32))


def test_prunable_groups_and_the_map():
    m = _model()
    assert prunable_groups(m) == ["sn0", "sn1"]
    assert prunable_groups(m, protect=["sn1"]) == ["sn0"]
    # a layer named by its producing synapse counts for its group; the others keep the global ratio
    assert layer_ratio_map(m, 0.5, {"conv1.0": 0.25}) == {"sn0": 0.5, "sn1": 0.25}
    assert layer_ratio_map(m, None, {"sn0": 0.75}) == {"sn0": 0.75, "sn1": 0.0}


def test_layer_ratios_prune_each_layer_by_its_own_share():
    m = _model()
    st = prune_channels(m, "l1", layer_ratio_map(m, 0.5, {"sn0": 0.25, "sn1": 0.75}))
    assert st["channels"] == {"sn0": (16, 12), "sn1": (32, 8)}
    assert m.conv0.inner[0].weight.shape[0] == 12 and m.conv1.inner[0].weight.shape[:2] == (8, 12)
    assert m.fc.inner[1].weight.shape[1] == 8 * 4


def test_compress_l1_with_layer_ratios():
    from snn2hw.compress.pipeline import compress
    from snn2hw.data import load_dataset
    data = load_dataset("digits")
    m = _model()
    res = compress(m, data, "l1", ratio=0.5, layer_ratios={"sn1": 0.25}, finetune_epochs=0, progress=False,
                   measure_spikes=False, measure_samples=8)
    assert res.stats["channels"] == {"sn0": (16, 8), "sn1": (32, 24)}
    assert "sn0 0.5, sn1 0.25" in res.steps[0]
    # every layer's ratio 0: nothing removed, whatever the global one
    res0 = compress(m, data, "l1", ratio=0.5, layer_ratios={"sn0": 0.0, "sn1": 0.0}, finetune_epochs=0,
                    progress=False, measure_spikes=False, measure_samples=8)
    assert res0.stats == {} and res0.after["params"] == res0.before["params"]


@pytest.mark.parametrize("method, lr, words", [
    ("magnitude", {"sn1": 0.5}, ["per-layer ratios apply to", "magnitude"]),
    ("criticality-structured", {"sn1": 0.5}, ["per-layer ratios apply to"]),
    ("l1", {"sn1": 1.0}, ["layer ratio of 'sn1' must be in [0, 1)"]),
    ("l1", {"sn1": "0.5"}, ["layer ratio of 'sn1'"]),
])
def test_bad_layer_ratio_options(method, lr, words):
    with pytest.raises(CompressError) as e:
        check_options(method, 0.5, None, object(), 1, layer_ratios=lr)
    assert all(w in str(e.value) for w in words), str(e.value)


@pytest.mark.parametrize("lr, words", [
    ({"nosuch": 0.5}, ["unknown layer 'nosuch'", "sn0, sn1"]),
    ({"readout": 0.5}, ["'readout'", "may not prune"]),
    ({"sn1": 0.5, "conv1.0": 0.25}, ["'sn1'", "different ratios"]),
    ({"sn0": 0.95}, ["'sn0' (16 channels) would lose all its channels"]),
])
def test_bad_layer_ratio_names(lr, words):
    with pytest.raises(CompressError) as e:
        check_model(_model(), "l1", 0.5, layer_ratios=lr)
    assert all(w in str(e.value) for w in words), str(e.value)
