import pytest
import torch

from snn2hw.data import direct, encode, rate


def test_direct_repeats_frame():
    x = torch.rand(3, 1, 4, 4)
    X = direct(x, 5)
    assert X.shape == (5, 3, 1, 4, 4)
    for t in range(5):
        assert torch.equal(X[t], x)
    X[0].zero_()  # a copy, not a view of x
    assert x.abs().sum() > 0


def test_rate_shape_determinism_and_probability():
    x = torch.tensor([[0.0, 1.0, 0.3, -2.0, 5.0]]).repeat(400, 1)
    a, b = rate(x, 8, seed=3), rate(x, 8, seed=3)
    assert a.shape == (8, 400, 5)
    assert torch.equal(a, b)
    assert not torch.equal(a, rate(x, 8, seed=4))
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    m = a.mean(dim=(0, 1))
    assert m[0] == 0 and m[3] == 0            # p = clip(x) = 0
    assert m[1] == 1 and m[4] == 1            # p = 1
    assert abs(float(m[2]) - 0.3) < 0.03


def test_encode_dispatch_and_errors():
    x = torch.rand(2, 3)
    assert torch.equal(encode(x, 2, "direct"), direct(x, 2))
    assert torch.equal(encode(x, 2, "rate", seed=1), rate(x, 2, seed=1))
    with pytest.raises(ValueError, match="direct"):
        encode(x, 2, "latency")
    with pytest.raises(ValueError):
        direct(x, 0)


def test_accepts_numpy_and_int():
    import numpy as np
    X = direct(np.arange(4, dtype=np.int64).reshape(2, 2), 3)
    assert X.dtype == torch.float32 and X.shape == (3, 2, 2)
