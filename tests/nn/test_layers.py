import pytest
import torch
from torch import nn

from snn2hw.nn import TimeDistributed, ZeroPadShortcut


def test_time_distributed_equals_per_step():
    torch.manual_seed(0)
    td = TimeDistributed(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(12, 4))
    td.eval()
    td.inner[1].running_mean.uniform_(-1, 1)
    x = torch.randn(3, 2, 2, 4, 4)
    y = td(x)
    assert y.shape == (3, 2, 4)
    per_step = torch.stack([td.inner(x[t]) for t in range(3)])
    torch.testing.assert_close(y, per_step)
    assert isinstance(td.inner, nn.Sequential)


def test_time_distributed_rejects_bad_rank():
    with pytest.raises(ValueError):
        TimeDistributed(nn.Identity())(torch.zeros(4, 4))
    with pytest.raises(ValueError):
        TimeDistributed()


@pytest.mark.parametrize("cin,cout,stride", [(4, 8, 2), (64, 128, 1), (3, 6, 2), (5, 5, 1)])
def test_zero_pad_shortcut_matches_its_1x1_conv(cin, cout, stride):
    sc = ZeroPadShortcut(cin, cout, stride)
    x = torch.randn(2, cin, 6, 6)
    y = sc(x)
    ref = torch.nn.functional.conv2d(x, sc.conv_weight(), stride=stride)
    torch.testing.assert_close(y, ref)
    assert y.shape == (2, cout, (6 - 1) // stride + 1, (6 - 1) // stride + 1)
    # original channels land at pad_before = (cout - cin)//2, the rest is zero
    pb = (cout - cin) // 2
    torch.testing.assert_close(y[:, pb:pb + cin], x[:, :, ::stride, ::stride])
    assert y[:, :pb].abs().sum() == 0 and y[:, pb + cin:].abs().sum() == 0


def test_zero_pad_shortcut_inside_time_distributed():
    td = TimeDistributed(ZeroPadShortcut(2, 4, 2))
    y = td(torch.ones(3, 2, 2, 4, 4))
    assert y.shape == (3, 2, 4, 2, 2)
    assert y.sum() == 3 * 2 * 2 * 4


def test_zero_pad_shortcut_cannot_shrink():
    with pytest.raises(ValueError):
        ZeroPadShortcut(8, 4, 1)
