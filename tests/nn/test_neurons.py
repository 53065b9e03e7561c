"""Hand-computed traces for the neuron recurrences (see snn2hw/nn/neurons.py)."""
import pytest
import torch

from snn2hw.nn import ATLIF, IF, LIF, CubaLIF


def col(values):
    """[T] list -> [T, 1] tensor (B = 1)."""
    return torch.tensor(values, dtype=torch.float64).reshape(-1, 1)


def run(neuron, values):
    neuron.record = True
    s = neuron(col(values))
    return s.flatten().tolist(), neuron.last_v.flatten().tolist()


def test_lif_beta_half_zero_reset_ge():
    # v: 0.5 ; 0.25+0.5=0.75 ; 0.375+0.625=1.0 (>= fires, reset 0) ; 0+0.4=0.4 ; 0.2+1.2=1.4 fires
    s, v = run(LIF(beta=0.5), [0.5, 0.5, 0.625, 0.4, 1.2])
    assert s == [0, 0, 1, 0, 1]
    assert v == pytest.approx([0.5, 0.75, 1.0, 0.4, 1.4])


def test_lif_beta_half_zero_reset_gt():
    # same input; v = 1.0 exactly does not fire with '>', keeps integrating: 0.5 + 0.4 = 0.9
    s, v = run(LIF(beta=0.5, compare="gt"), [0.5, 0.5, 0.625, 0.4, 1.2])
    assert s == [0, 0, 0, 0, 1]
    assert v == pytest.approx([0.5, 0.75, 1.0, 0.9, 1.65])


def test_lif_subtract_reset():
    # v: 1.5 fires -> 0.5 ; 0.25+1.0=1.25 fires -> 0.25 ; 0.125+0=0.125 ; 0.0625+0.9=0.9625
    s, v = run(LIF(beta=0.5, reset="subtract"), [1.5, 1.0, 0.0, 0.9])
    assert s == [1, 1, 0, 0]
    assert v == pytest.approx([1.5, 1.25, 0.125, 0.9625])


def test_lif_threshold_and_subtract_with_big_input():
    # θ = 2: v = 5 fires -> 3 ; 1.5 + 0 = 1.5 (no multi-spike per step)
    s, v = run(LIF(beta=0.5, threshold=2.0, reset="subtract"), [5.0, 0.0])
    assert s == [1, 0]
    assert v == pytest.approx([5.0, 1.5])


def test_lif_decay_input():
    n = LIF(beta=0.75, decay_input=True)
    assert n.input_gain == pytest.approx(0.25)
    # v = 0.25*2 = 0.5 ; 0.375 + 0.5 = 0.875 ; 0.65625 + 0.5 = 1.15625 fires
    s, v = run(n, [2.0, 2.0, 2.0])
    assert s == [0, 0, 1]
    assert v == pytest.approx([0.5, 0.875, 1.15625])


def test_if_integrates_without_leak():
    n = IF()
    assert (n.beta, n.input_gain, n.neuron_kind) == (1.0, 1.0, "if")
    s, v = run(n, [0.4, 0.4, 0.4, 0.3, 0.7])
    # 0.4, 0.8, 1.2 fire -> 0, 0.3, 1.0 fire
    assert s == [0, 0, 1, 0, 1]
    assert v == pytest.approx([0.4, 0.8, 1.2, 0.3, 1.0])


def test_if_subtract_keeps_residual():
    s, v = run(IF(reset="subtract"), [0.7, 0.7, 0.7])
    # 0.7 ; 1.4 fire -> 0.4 ; 1.1 fire -> 0.1
    assert s == [0, 1, 1]
    assert v == pytest.approx([0.7, 1.4, 1.1])


def test_cuba_lif_trace_current_not_reset():
    n = CubaLIF(alpha=0.5, beta=0.5)
    s, v = run(n, [1.0, 0.0, 0.0, 0.0])
    # i: 1, 0.5, 0.25, 0.125 ; v: 1 fires -> 0 ; 0.5 ; 0.25+0.25=0.5 ; 0.25+0.125=0.375
    assert s == [1, 0, 0, 0]
    assert v == pytest.approx([1.0, 0.5, 0.5, 0.375])
    assert n.last_i.flatten().tolist() == pytest.approx([1.0, 0.5, 0.25, 0.125])


def test_atlif_output_is_theta_times_spike_and_hard_reset():
    n = ATLIF(tau=1.0, theta=1.5, record=True)
    n.eval()
    o = n(col([1.0, 0.5, 0.2, 2.0, 1.49]))
    # m: 1.0 ; 1.5 (>= 1.5 fires, out 1.5, reset 0) ; 0.2 ; 2.2 fires ; 1.49 no
    assert o.flatten().tolist() == pytest.approx([0, 1.5, 0, 1.5, 0])
    assert n.last_v.flatten().tolist() == pytest.approx([1.0, 1.5, 0.2, 2.2, 1.49])
    assert n.last_s.flatten().tolist() == [0, 1, 0, 1, 0]
    assert n.threshold == pytest.approx(1.5) and n.output_scale == pytest.approx(1.5)
    assert (n.beta, n.reset, n.compare, n.neuron_kind) == (1.0, "zero", "ge", "atlif")


def test_atlif_leaky_tau():
    n = ATLIF(tau=0.5, theta=1.0)
    o = n(col([0.8, 0.8, 0.8]))
    # m: 0.8 ; 1.2 fires -> 0 ; 0.8
    assert o.flatten().tolist() == pytest.approx([0, 1.0, 0])


def _tri(m, th):
    return torch.clamp(1 - (m - th).abs() / th, min=0)


def test_atlif_gradients_official_and_analytic():
    torch.manual_seed(0)
    I = torch.randn(1, 3, 5, dtype=torch.float64) * 1.5
    g = torch.randn(1, 3, 5, dtype=torch.float64)
    for mode in ("official", "analytic"):
        n = ATLIF(theta=0.8, theta_grad_mode=mode).double()
        x = I.clone().requires_grad_(True)
        (n(x) * g).sum().backward()
        th = torch.tensor(0.8, dtype=torch.float64)
        tri = _tri(I, th)
        s = (I >= th).double()
        torch.testing.assert_close(x.grad, g * tri)
        expected = -(g * tri * tri).mean() if mode == "official" else (g * (s - tri)).sum()
        torch.testing.assert_close(n.theta.grad, expected.reshape(()))


def test_atlif_theta_grad_official_sums_per_step_means():
    # τ = 0: m[t] = I[t], so no gradient crosses steps through the reset path and
    # the θ gradient is the sum over steps of each step's -mean(g·tri²)
    I = torch.tensor([[[0.3, 1.5]], [[1.2, 0.1]]], dtype=torch.float64)
    g = torch.tensor([[[1.0, -2.0]], [[0.5, 3.0]]], dtype=torch.float64)
    n = ATLIF(tau=0.0, theta=1.0).double()
    (n(I) * g).sum().backward()
    m = I
    tri = _tri(m, torch.tensor(1.0, dtype=torch.float64))
    expected = sum(-(g[t] * tri[t] ** 2).mean() for t in range(2))
    torch.testing.assert_close(n.theta.grad, expected.reshape(()))


def test_atlif_threshold_adaptation():
    n = ATLIF(theta=1.0, eta=0.1)
    n.train()
    I = torch.tensor([[[1.2, 0.0], [1.0, 1.9]]])  # T=1, B=2, 2 neurons
    n(I)
    # tri·s: sample 0: [0.8, 0] mean 0.4 ; sample 1: [1.0, 0.1] mean 0.55 ; Σ_b = 0.95 ; ×η/T = 0.095
    assert float(n.theta_update) == pytest.approx(0.095)
    n.adapt_threshold(lr=2.0)
    assert float(n.theta.detach()) == pytest.approx(1.19)
    assert float(n.theta_update) == 0.0
    # eval forward does not accumulate
    n.eval()
    n(I)
    assert float(n.theta_update) == 0.0
    # clamp at theta_min
    n.theta.data.fill_(0.01)
    n.theta_update.fill_(-1.0)
    n.adapt_threshold(lr=1.0)
    assert float(n.theta.detach()) == pytest.approx(1e-3)


def test_atlif_normalized_uses_batch_mean():
    n = ATLIF(theta=1.0, eta=0.1, normalized=True)
    n.train()
    n(torch.tensor([[[1.2, 0.0], [1.0, 1.9]]]))
    assert float(n.theta_update) == pytest.approx(0.0475)


def test_lif_surrogate_gradient_flows_through_time():
    n = LIF(beta=0.5, surrogate="arctan")
    x = torch.tensor([[0.5], [0.5]], requires_grad=True)
    n(x).sum().backward()
    # no spikes: v1 = 0.5, v2 = 0.75. The reset v1·(1 - s1) is differentiated too:
    # d(v1 after reset)/dv1 = 1 - v1·h'(v1 - 1), so
    # ds2/dx1 = h'(v2-1)·β·(1 - v1·h'(v1-1)) and ds1/dx1 = h'(v1-1)
    h = n.surrogate.derivative
    e1 = h(torch.tensor(-0.5)) + 0.5 * h(torch.tensor(-0.25)) * (1 - 0.5 * h(torch.tensor(-0.5)))
    e2 = h(torch.tensor(-0.25))
    torch.testing.assert_close(x.grad.flatten(), torch.stack([e1, e2]))


def test_detach_reset_changes_gradient_only():
    x = torch.tensor([[1.5], [0.2]])
    outs, grads = [], []
    for det in (False, True):
        xi = x.clone().requires_grad_(True)
        o = LIF(beta=0.5, detach_reset=det)(xi)
        o.sum().backward()
        outs.append(o.detach())
        grads.append(xi.grad.clone())
    assert torch.equal(outs[0], outs[1])
    assert not torch.allclose(grads[0], grads[1])


def test_shapes_preserved_and_validation():
    x = torch.rand(3, 2, 4, 5, 5)
    for n in (LIF(), IF(), CubaLIF(), ATLIF()):
        assert n(x).shape == x.shape
    with pytest.raises(ValueError):
        LIF(reset="none")
    with pytest.raises(ValueError):
        LIF(beta=1.5)
    with pytest.raises(ValueError):
        LIF()(torch.zeros(3))
    with pytest.raises(ValueError):
        ATLIF(theta_grad_mode="x")


def test_converter_attributes():
    n = LIF(beta=0.25, threshold=0.5, reset="subtract", compare="gt", surrogate="sigmoid")
    assert (n.neuron_kind, n.beta, n.threshold, n.reset, n.compare, n.input_gain,
            n.surrogate_name, n.output_scale) == ("lif", 0.25, 0.5, "subtract", "gt", 1.0, "sigmoid", 1.0)
    c = CubaLIF(alpha=0.3, beta=0.6)
    assert (c.neuron_kind, c.alpha, c.beta, c.input_gain) == ("cuba", 0.3, 0.6, 1.0)
    a = ATLIF(theta=2.0)
    assert a.surrogate_name == "triangle" and a.surrogate_params == {"width": 2.0}
    # state_dict of an AT-LIF holds only θ (the accumulator is not persistent)
    assert list(a.state_dict()) == ["theta"]
