"""Tests for sksiamese._callbacks: the held-out scores of model selection and
their standard errors."""

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from sksiamese._callbacks import pair_auc, spearman, triplet_accuracy


def _paired_case(seed=0, n=400):
    """Distances of two networks on the same pairs: the second is the first
    plus a little noise, as two epochs of one fit are."""
    rng = np.random.RandomState(seed)
    target = rng.randint(0, 2, n)
    first = rng.rand(n, 1) - 0.3 * target[:, None]
    second = first + 0.05 * rng.randn(n, 1)
    first[:20] = 0.5  # ties
    return first, second, target, rng


def _bootstrap_se(statistic, n, rng, n_resamples=1500):
    draws = [statistic(rng.randint(0, n, n)) for _ in range(n_resamples)]
    return float(np.std(draws))


def test_scores_equal_the_reference_implementations():
    first, _, target, rng = _paired_case()
    assert pair_auc(first, target)[0] == pytest.approx(
        roc_auc_score(target, -first[:, 0])
    )
    y = rng.rand(len(target))
    assert spearman(first, y)[0] == pytest.approx(spearmanr(-first[:, 0], y).statistic)
    # a constant similarity ranks nothing: the worst score, never NaN
    assert spearman(np.zeros((10, 1)), np.arange(10.0))[0] == -1.0


def test_paired_auc_error_matches_a_paired_bootstrap_and_is_far_below_the_unpaired():
    first, second, target, rng = _paired_case()
    _, paired = pair_auc(second, target, baseline=first)
    _, unpaired = pair_auc(second, target)

    def gain(i):
        return roc_auc_score(target[i], -second[i, 0]) - roc_auc_score(
            target[i], -first[i, 0]
        )

    assert paired == pytest.approx(_bootstrap_se(gain, len(target), rng), rel=0.15)
    assert paired < unpaired / 2


def test_paired_spearman_error_matches_a_paired_bootstrap():
    first, second, _, rng = _paired_case()
    y = -first[:, 0] + 0.5 * rng.randn(len(first))
    _, paired = spearman(second, y, baseline=first)

    def gain(i):
        return (
            spearmanr(-second[i, 0], y[i]).statistic
            - spearmanr(-first[i, 0], y[i]).statistic
        )

    assert paired == pytest.approx(_bootstrap_se(gain, len(y), rng), rel=0.15)
    assert paired < spearman(second, y)[1] / 2


def test_paired_triplet_error_is_that_of_the_per_triplet_differences():
    rng = np.random.RandomState(0)
    first = rng.rand(500, 2)
    second = first.copy()
    flipped = rng.rand(500) < 0.1
    second[flipped] = second[flipped][:, ::-1]  # 10 % of triplets change order
    share, paired = triplet_accuracy(second, baseline=first)
    assert share == pytest.approx(np.mean(second[:, 1] > second[:, 0]))
    right = (second[:, 1] > second[:, 0]).astype(float)
    before = (first[:, 1] > first[:, 0]).astype(float)
    assert paired == pytest.approx(np.std(right - before, ddof=1) / np.sqrt(500))
    # identical networks: no difference, no error
    assert triplet_accuracy(first, baseline=first)[1] == 0.0


def test_training_that_cannot_beat_the_start_stops_after_the_patience():
    from sksiamese import SiamesePairClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(600, 2, 8)
    y = rng.randint(0, 2, 600)  # labels unrelated to the pairs
    model = SiamesePairClassifier(
        hidden_layer_sizes=(16,), max_epochs=30, n_iter_no_change=3, random_state=0
    ).fit(X, y)
    assert model.best_epoch_ == 0
    # stopped once the patience ran out, not after all 30 epochs
    assert len(model.net_.history) == 3
