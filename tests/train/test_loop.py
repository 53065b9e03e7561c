import numpy as np
import pytest
import torch

from snn2hw.data import Dataset, load_dataset
from snn2hw.models import build_model
from snn2hw.nn import ATLIF
from snn2hw.train import evaluate, recipe, train


@pytest.fixture(scope="module")
def flat():
    return load_dataset("digits_flat")


def small(d: Dataset, n_train=256, n_test=128) -> Dataset:
    return Dataset(d.x_train[:n_train], d.y_train[:n_train], d.x_test[:n_test], d.y_test[:n_test],
                   d.input_shape, d.num_classes, d.input_step, d.name + "_small")


def test_mlp_learns_digits_above_chance(flat):
    torch.manual_seed(0)
    m = build_model("mlp")
    before = evaluate(m, flat.x_test, flat.y_test, T=4)
    h = train(m, flat, progress=False, **{**recipe("mlp", "digits_flat"), "epochs": 3})
    assert len(h.loss) == 3 and len(h.test_acc) == 3
    assert h.loss[-1] < h.loss[0]
    assert h.test_acc[-1] > 0.8 > before + 0.3   # chance is 0.1
    assert h.test_acc[-1] == evaluate(m, flat.x_test, flat.y_test, T=4)


def test_training_is_deterministic_for_a_seed(flat):
    d = small(flat)
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        m = build_model("mlp", hidden=(32,))
        h = train(m, d, epochs=2, T=2, lr=1e-2, seed=5, encoding="rate", progress=False)
        runs.append((h.loss, h.test_acc, [p.detach().clone() for p in m.parameters()]))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][2], runs[1][2]))


def test_cosine_schedule_and_sgd(flat):
    d = small(flat, 128, 32)
    torch.manual_seed(0)
    h = train(build_model("mlp", hidden=(16,)), d, epochs=2, T=2, lr=0.1, optimizer="sgd",
              batch_size=64, progress=False)
    # 2 steps per epoch, T_max = 4: lr used at the last step of epoch 1 = 0.1·(1+cos(π/4))/2
    assert h.lr[0] == pytest.approx(0.1 * (1 + np.cos(np.pi / 4)) / 2)
    with pytest.raises(ValueError, match="adam"):
        train(build_model("mlp"), d, epochs=1, optimizer="rmsprop", progress=False)


def test_atlif_thresholds_are_adapted(flat):
    d = small(flat, 128, 32)
    torch.manual_seed(0)
    m = build_model("mlp", neuron="atlif", eta=0.5, hidden=(32,))
    calls = []
    n = next(x for x in m.modules() if isinstance(x, ATLIF))
    orig = n.adapt_threshold
    n.adapt_threshold = lambda lr: (calls.append(lr), orig(lr))[1]
    train(m, d, epochs=1, T=2, lr=1e-2, batch_size=64, progress=False)
    assert len(calls) == 2 and calls[0] == pytest.approx(1e-2)   # lr before the scheduler step
    assert float(n.theta_update) == 0.0
    assert float(n.theta.detach()) != 1.0


def test_evaluate_restores_mode_and_checks_lengths(flat):
    m = build_model("mlp")
    m.train()
    evaluate(m, flat.x_test[:10], flat.y_test[:10], T=2)
    assert m.training
    with pytest.raises(ValueError):
        evaluate(m, flat.x_test[:10], flat.y_test[:9])
