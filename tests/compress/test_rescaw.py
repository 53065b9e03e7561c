"""ReScaW quantized layers (ALGORITHMS §3.2-3.3) and their exact fold into integer weights and thresholds (§3.6)."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from snn2hw.frontends.torch_fx import from_module
from snn2hw.models import build_model
from snn2hw.nn import IF, TimeDistributed
from snn2hw.nn.quant import QuantConv2d, QuantLinear, quantize_model, rescaw_gamma
from snn2hw.passes import convert, fold
from snn2hw.simulators.reference import simulate


def paper_formula(w, gamma, s):
    """Eq. 9-10 as written: W^ = γ·((2/s)·round((s/2)·(clamp(W/γ, -1, 1) + 1)) - 1)."""
    return gamma * ((2.0 / s) * torch.round((s / 2.0) * (torch.clamp(w / gamma, -1, 1) + 1)) - 1)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("gamma", ["mean", "max", "percentile"])
@pytest.mark.parametrize("granularity", ["channel", "layer"])
def test_codes_are_odd_integers_and_reproduce_the_paper_formula(bits, gamma, granularity):
    torch.manual_seed(bits)
    m = QuantConv2d(3, 5, 3, bits=bits, gamma=gamma, granularity=granularity).double()
    with torch.no_grad():
        m.weight.normal_(0, 0.3)
    s = 2 ** bits - 1
    w_odd, kappa = m.codes()
    assert w_odd.dtype == torch.int64 and w_odd.shape == m.weight.shape and kappa.shape == (5,)
    assert torch.all(w_odd % 2 != 0) and int(w_odd.abs().max()) <= s
    g = rescaw_gamma(m.weight, gamma, granularity)
    flat = m.weight.detach().reshape(5, -1) if granularity == "channel" else m.weight.detach().reshape(1, -1)
    want = {"mean": flat.abs().mean(1), "max": flat.abs().amax(1),
            "percentile": torch.maximum(torch.quantile(flat, 0.01, dim=1).abs(),
                                        torch.quantile(flat, 0.99, dim=1).abs())}[gamma]
    torch.testing.assert_close(g.reshape(-1), want.expand(5), rtol=0, atol=1e-12)
    torch.testing.assert_close(kappa, g.reshape(-1) / s, rtol=0, atol=0)
    wq = m.quantized_weight()
    assert torch.equal(wq, kappa.reshape(-1, 1, 1, 1) * w_odd.to(wq.dtype))  # exactly kappa * w_odd
    torch.testing.assert_close(wq, paper_formula(m.weight, g, s), rtol=0, atol=1e-12)
    assert len(torch.unique(wq)) <= 2 ** bits * (5 if granularity == "channel" else 1)
    assert 0 < m.bit_utilisation() <= 1


def test_vanilla_quantizer_grid_has_no_zero():
    m = QuantLinear(4, 2, bits=2, rescale=False).double()
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[-3.0, -0.5, 0.01, 0.2], [0.34, 0.9, 1.5, -0.2]]))
    expect = torch.tensor([[-1, -1 / 3, 1 / 3, 1 / 3], [1 / 3, 1, 1, -1 / 3]], dtype=torch.float64)
    torch.testing.assert_close(m.quantized_weight(), expect, rtol=0, atol=1e-15)
    _, kappa = m.codes()
    torch.testing.assert_close(kappa, torch.full((2,), 1 / 3, dtype=torch.float64))


def test_gamma_is_detached_and_recomputed_each_forward():
    m = QuantLinear(8, 3, bits=4)
    x = torch.randn(5, 8)
    y1 = m(x)
    with torch.no_grad():
        m.weight.mul_(2.0)
    y2 = m(x)
    torch.testing.assert_close(y2 - m.bias, 2.0 * (y1 - m.bias))  # codes unchanged, γ doubled
    assert not m.gamma().requires_grad


@pytest.mark.parametrize("ste", ["clip", "code"])
def test_straight_through_gradients(ste):
    torch.manual_seed(1)
    m = QuantLinear(6, 4, bias=False, bits=3, ste=ste).double()
    with torch.no_grad():
        m.weight.normal_(0, 1.0)
    up = torch.randn(4, 6, dtype=torch.float64)
    (m.quantized_weight() * up).sum().backward()
    g = m.gamma()
    if ste == "clip":  # paper: 1[|W/γ| <= 1]
        want = up * ((m.weight / g).abs() <= 1).to(up.dtype)
    else:  # code: through W/γ with no clip mask
        want = up / g
    torch.testing.assert_close(m.weight.grad, want.detach(), rtol=1e-12, atol=0)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="gamma"):
        QuantLinear(2, 2, gamma="median")
    with pytest.raises(ValueError, match="granularity"):
        QuantConv2d(2, 2, 1, granularity="group")
    with pytest.raises(ValueError, match="ste"):
        QuantLinear(2, 2, ste="none")
    with pytest.raises(ValueError, match="bits"):
        QuantLinear(2, 2, bits=0)


def test_quantize_model_keeps_first_conv_and_last_fc_full_precision():
    torch.manual_seed(0)
    model = build_model("digits_conv", neuron="if")
    ref = build_model("digits_conv", neuron="if")
    ref.load_state_dict(model.state_dict())
    quantize_model(model, 4, gamma="max", ste="code")
    kinds = {n: type(m).__name__ for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert kinds == {"conv0.inner.0": "Conv2d", "conv1.inner.0": "QuantConv2d", "fc.inner.1": "Linear"}
    q = model.conv1.inner[0]
    assert q.bits == 4 and q.gamma_mode == "max" and q.ste == "code"
    assert torch.equal(q.weight, ref.conv1.inner[0].weight)
    model2 = quantize_model(build_model("digits_conv"), 2, first_last_fp=False)
    assert all(isinstance(m, (QuantConv2d, QuantLinear)) for m in model2.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)))
    x = torch.rand(3, 2, 1, 8, 8)
    assert model2(x).shape == (3, 2, 10)
    with pytest.raises(ValueError, match="unknown"):
        quantize_model(build_model("digits_conv"), 4, gama="max")


def _quant_net(bits, gamma, granularity, seed):
    torch.manual_seed(seed)
    kw = dict(bits=bits, gamma=gamma, granularity=granularity)
    m = nn.Sequential(OrderedDict(
        c0=TimeDistributed(QuantConv2d(2, 6, 3, padding=1, bias=False, **kw)),
        sn0=IF(threshold=0.7, record=True),
        p0=TimeDistributed(nn.AvgPool2d(2)),
        c1=TimeDistributed(QuantConv2d(6, 8, 3, padding=1, bias=False, **kw)),
        sn1=IF(threshold=0.7, record=True),
        fc0=TimeDistributed(nn.Flatten(), QuantLinear(8 * 16, 12, bias=False, **kw)),
        sn2=IF(threshold=0.7, record=True),
        fc=TimeDistributed(nn.Linear(12, 3))))
    m.input_shape = (2, 8, 8)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                mod.weight.normal_(0, 2.5 / mod.weight[0].numel() ** 0.5)
    return m.double()


QUANT = {"c0.0": ("c0", 0), "c1.0": ("c1", 0), "fc0.1": ("fc0", 1)}


@pytest.mark.parametrize("bits,gamma,granularity,seed", [(4, "mean", "channel", 0), (2, "max", "channel", 1),
                                                         (3, "percentile", "layer", 2), (1, "mean", "channel", 3)])
def test_frontend_float_equals_torch_and_gamma_folds_exactly_into_integers(bits, gamma, granularity, seed):
    m = _quant_net(bits, gamma, granularity, seed)
    T, B = 8, 6
    x = torch.randint(0, 17, (T, B, 2, 8, 8), generator=torch.Generator().manual_seed(seed)).double() / 16
    out = m(x).detach()
    g = from_module(m)
    codes = {n: getattr(m, mod).inner[i].codes() for n, (mod, i) in QUANT.items()}
    for n, (w_odd, kappa) in codes.items():  # weight = w_odd, channel_scale = gamma / s
        np.testing.assert_array_equal(g.nodes[n].weight, w_odd.numpy().astype(np.float64))
        np.testing.assert_array_equal(g.nodes[n].channel_scale, kappa.numpy())
    g.nodes["input"].step = 1 / 16
    r = simulate(g, x, record=["spikes"])
    assert float((r.output - out.sum(0)).abs().max()) <= 1e-9  # readout membrane = sum of logits over T
    for n in ("sn0", "sn1", "sn2"):
        assert torch.equal(r.record["spikes"][n], getattr(m, n).last_s), n
        assert getattr(m, n).last_s.mean() > 0.01, n
    # a negative kappa with negated codes is the same weight; the fold pass must negate those rows back
    flip = np.array([1, -1, 1, -1, -1, 1.0])
    g.nodes["c0.0"].channel_scale = g.nodes["c0.0"].channel_scale * flip
    g.nodes["c0.0"].weight = g.nodes["c0.0"].weight * flip[:, None, None, None]
    folded = fold(g)
    assert any("3 negative channel(s) negated" in c for r_ in folded.results for c in r_.changes)
    conv = convert(g, "loihi", granularity="channel")
    gi = conv.graph
    for n, (w_odd, _) in codes.items():  # gamma folded away: the integer weights are the codes themselves
        np.testing.assert_array_equal(gi.nodes[n].weight_int, w_odd.numpy())
    assert not [a for a in conv.approximations if "readout" not in a and "'readout'" not in a]
    ri = simulate(gi, x, mode="int", record=["spikes"])
    for n in ("sn0", "sn1", "sn2"):
        assert torch.equal(ri.record["spikes"][n].to(torch.float64), getattr(m, n).last_s), n
        assert ri.overflow[n] == {"a_wrap": 0, "u_wrap": 0, "v_saturate": 0}
