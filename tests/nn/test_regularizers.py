import pytest
import torch
from torch import nn

from snn2hw.nn import ATLIF, IF, ActivityRegularizer, TimeDistributed, ar_loss, hoyer_loss, l1_rate_loss


def test_ar_l1_hoyer_hand_values():
    # one layer, T = 2, B = 2, N = 2
    o = torch.tensor([[[1.0, 0.0], [1.0, 1.0]],
                      [[0.0, 0.0], [0.0, 1.0]]])
    # AR: Σ_t mean_{b,i}: t0 mean 3/4, t1 mean 1/4 -> 1.0
    assert float(ar_loss([o])) == pytest.approx(1.0)
    # L1: mean over everything = 4/8
    assert float(l1_rate_loss([o])) == pytest.approx(0.5)
    # Hoyer per sample over (t, i): sample 0 has x = [1,0,0,0] -> 1; sample 1: [1,1,0,1] -> 9/3 = 3
    assert float(hoyer_loss([o])) == pytest.approx(2.0)
    # scaled outputs (AT-LIF θ = 2): AR doubles, Hoyer is scale invariant
    assert float(ar_loss([2 * o])) == pytest.approx(2.0)
    assert float(hoyer_loss([2 * o])) == pytest.approx(2.0, rel=1e-6)


def _net(neuron):
    torch.manual_seed(0)
    return nn.Sequential(TimeDistributed(nn.Linear(3, 4)), neuron, TimeDistributed(nn.Linear(4, 2)))


@pytest.mark.parametrize("kind", ["ar", "l1", "hoyer"])
def test_activity_regularizer_collects_training_forward(kind):
    net = _net(ATLIF(theta=2.0))
    x = torch.rand(3, 5, 3) * 4
    with ActivityRegularizer(net, kind, lam=0.5) as reg:
        net.train()
        net(x)
        r = reg(net)
        with torch.no_grad():             # reference values; not recorded (no grad)
            o = net[1](net[0](x))
        ref = {"ar": ar_loss([o]), "l1": l1_rate_loss([o / 2.0]), "hoyer": hoyer_loss([o])}[kind]
        torch.testing.assert_close(r, 0.5 * ref)
        r.backward()                       # gradient reaches the weights
        assert net[0].inner[0].weight.grad is not None
        with pytest.raises(RuntimeError):
            reg(net)                       # consumed
        net.eval()
        with torch.no_grad():
            net(x)
        with pytest.raises(RuntimeError):  # eval / no-grad forwards are not recorded
            reg(net)
    assert not net[1]._forward_hooks


def test_regularizer_validation():
    with pytest.raises(ValueError, match="ar"):
        ActivityRegularizer(_net(IF()), "sparsity")
    with pytest.raises(ValueError):
        ActivityRegularizer(nn.Linear(2, 2))
