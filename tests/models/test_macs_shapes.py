"""Per-layer output shapes and MACs vs ALGORITHMS §5.2 (CIFAR 32×32, per time step)."""
import pytest
import torch
from torch import nn

from snn2hw.models import build_model


def conv_macs(model):
    """Run one frame (T = B = 1) and return [(name, C_in, C_out, H_out, MACs)] per conv/linear."""
    rows = []

    def hook(name):
        def fn(mod, inp, out):
            if isinstance(mod, nn.Conv2d):
                k = mod.kernel_size[0] * mod.kernel_size[1]
                macs = out.shape[2] * out.shape[3] * mod.in_channels // mod.groups * k * mod.out_channels
                rows.append((name, mod.in_channels, mod.out_channels, out.shape[2], macs))
            else:
                rows.append((name, mod.in_features, mod.out_features, 1, mod.in_features * mod.out_features))
        return fn

    handles = [mod.register_forward_hook(hook(n)) for n, mod in model.named_modules()
               if isinstance(mod, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.rand(1, 1, *model.input_shape))
    for h in handles:
        h.remove()
    return rows


def test_vgg16_shapes_macs_and_params():
    m = build_model("vgg16")
    rows = conv_macs(m)
    convs = [r for r in rows if r[0].startswith("convbn")]
    expected = [  # (seed name index, C_in, C_out, H_out, MACs in M)
        (0, 3, 64, 32, 1.769), (1, 64, 64, 32, 37.749), (3, 64, 128, 16, 18.874),
        (4, 128, 128, 16, 37.749), (6, 128, 256, 8, 18.874), (7, 256, 256, 8, 37.749),
        (8, 256, 256, 8, 37.749), (10, 256, 512, 4, 18.874), (11, 512, 512, 4, 37.749),
        (12, 512, 512, 4, 37.749), (14, 512, 512, 2, 9.437), (15, 512, 512, 2, 9.437),
        (16, 512, 512, 2, 9.437),
    ]
    assert len(convs) == len(expected)
    for (name, cin, cout, h, macs), (i, ecin, ecout, eh, emacs) in zip(convs, expected):
        assert name == f"convbn{i}.inner.0"
        assert (cin, cout, h) == (ecin, ecout, eh)
        assert macs / 1e6 == pytest.approx(emacs, abs=1e-3)
    assert sum(r[4] for r in convs) / 1e6 == pytest.approx(313.20, abs=0.01)
    assert rows[-1][:3] == ("fc.inner.1", 512, 10)
    n_params = sum(p.numel() for p in m.parameters())
    assert n_params / 1e6 == pytest.approx(14.72, abs=0.005)


def test_resnet20_shapes_and_macs():
    m = build_model("resnet20", num_classes=100)
    rows = conv_macs(m)
    convs = [r for r in rows if r[0] != "fc.inner.0"]
    assert convs[0][1:4] == (3, 64, 32) and convs[0][4] / 1e6 == pytest.approx(1.769, abs=1e-3)
    for stage, (cin, c, h) in enumerate([(64, 128, 32), (128, 256, 16), (256, 512, 8)], start=1):
        st = [r for r in convs if r[0].startswith(f"layer{stage}.")]
        assert len(st) == 6  # option A: the shortcut has no conv
        assert st[0][0] == f"layer{stage}.0.conv1.inner.0"
        assert st[0][1:4] == (cin, c, h) and st[0][4] / 1e6 == pytest.approx(75.50, abs=0.01)
        for r in st[1:]:
            assert r[1:4] == (c, c, h) and r[4] / 1e6 == pytest.approx(151.0, abs=0.1)
    assert sum(r[4] for r in convs) / 1e6 == pytest.approx(2493.2, abs=0.2)
    assert rows[-1][:3] == ("fc.inner.0", 512, 100)
    # QP-SNN full-precision ResNet20 / CIFAR-100: 68.4 MB at fp32 (ALGORITHMS §5.3)
    assert sum(p.numel() for p in m.parameters()) * 4 / 1e6 == pytest.approx(68.4, abs=0.05)


def test_resnet19_layout():
    m = build_model("resnet19")
    rows = conv_macs(m)
    blocks = [n for n, _ in m.named_modules() if n.count(".") == 1 and n.startswith("layer")]
    assert blocks == ["layer1.0", "layer1.1", "layer1.2", "layer2.0", "layer2.1", "layer2.2",
                      "layer3.0", "layer3.1"]
    assert rows[0][1:4] == (3, 128, 32)
    assert [r[:3] for r in rows[-2:]] == [("fc1.inner.0", 512, 256), ("fc.inner.0", 256, 10)]
    assert [r[3] for r in rows if r[0].startswith("layer3")][-1] == 8
