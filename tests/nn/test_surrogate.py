import math

import pytest
import torch

from snn2hw.nn import surrogate as sg

POINTS = torch.tensor([-2.0, -0.7, -0.25, 0.0, 0.1, 0.5, 0.99, 1.5], dtype=torch.float64)


def _autograd(s, x, compare="ge"):
    x = x.clone().requires_grad_(True)
    s.spike(x, compare).sum().backward()
    return x.grad


@pytest.mark.parametrize("width", [0.5, 1.0, 2.0])
def test_triangle_grad_matches_closed_form(width):
    s = sg.get_surrogate("triangle", width=width)
    expected = torch.tensor([(1 / width) * max(0.0, 1 - abs(float(x)) / width) for x in POINTS],
                            dtype=torch.float64)
    torch.testing.assert_close(_autograd(s, POINTS), expected)
    torch.testing.assert_close(sg.surrogate_derivative("triangle", POINTS, width=width), expected)


@pytest.mark.parametrize("alpha", [2.0, 3.0])
def test_arctan_grad_matches_closed_form(alpha):
    s = sg.get_surrogate("arctan", alpha=alpha)
    expected = torch.tensor([(alpha / 2) / (1 + (math.pi / 2 * alpha * float(x)) ** 2) for x in POINTS],
                            dtype=torch.float64)
    torch.testing.assert_close(_autograd(s, POINTS), expected)
    # ALGORITHMS §2.1: with α = 2, h'(x) = 1/(1 + (πx)²) and h'(0) = 1
    assert float(sg.surrogate_derivative("arctan", torch.tensor(0.0))) == pytest.approx(1.0)


def test_sigmoid_grad_matches_closed_form_and_default_alpha():
    s = sg.get_surrogate("sigmoid")
    assert s.alpha == 4.0
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    expected = torch.tensor([4 * sig(4 * float(x)) * (1 - sig(4 * float(x))) for x in POINTS],
                            dtype=torch.float64)
    torch.testing.assert_close(_autograd(s, POINTS), expected)


def test_default_alpha_arctan_is_2():
    assert sg.get_surrogate("arctan").alpha == 2.0


@pytest.mark.parametrize("compare,expected", [("ge", [0, 1, 1]), ("gt", [0, 0, 1])])
def test_forward_is_heaviside_with_compare(compare, expected):
    x = torch.tensor([-0.1, 0.0, 0.1])
    assert sg.get_surrogate("triangle").spike(x, compare).tolist() == expected
    assert sg.heaviside(x, compare).tolist() == expected


def test_unknown_surrogate_lists_valid_names():
    with pytest.raises(ValueError) as e:
        sg.get_surrogate("relu")
    for name in ("triangle", "arctan", "sigmoid"):
        assert name in str(e.value)


def test_bad_compare_and_width():
    with pytest.raises(ValueError):
        sg.heaviside(torch.zeros(1), "lt")
    with pytest.raises(ValueError):
        sg.get_surrogate("triangle", width=0.0)


def test_instance_passthrough():
    t = sg.Triangle(0.5)
    assert sg.get_surrogate(t) is t
