"""The prototype classifier's predict_proba (sksiamese/estimators/_prototypes.py)
after a few-shot fine-tuning: the temperature under the prior of
``prototype_penalty`` is calibrated on new rows where the left-out maximum
likelihood one is far too sure, and fits without a few-shot budget keep the
maximum-likelihood temperature."""

import numpy as np
import pytest
from _pretrained import few_shot_defaults, pretrained_backbone
from scipy.special import softmax
from sklearn.metrics import log_loss

from sksiamese import SiameseTransformer
from sksiamese.estimators._prototypes import fit_temperature, prototype_penalty

# many passes over few rows, as a pretrained encoder's few-shot budget
_DEFAULTS = few_shot_defaults(min_steps=60)


# a pretrained backbone with a few-shot budget
Pretrained = pretrained_backbone(_DEFAULTS, embedding_dim=16)


def _overlapping(n_per_class, seed, n_features=20):
    """Three classes apart along one direction only, in many noisy features:
    a linear encoder trained on a few rows separates them by their noise, so
    new rows land far less surely near their class than the trained ones."""
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(3), n_per_class)
    X = rng.normal(size=(len(y), n_features))
    X[:, 0] += 3 * y
    return X.astype(np.float32), y


def _maximum_likelihood_temperature(est, X, y):
    """The temperature without the prior: left-out class means, all rows."""
    emb = est._embed(X)
    dist, keep = est._left_out_distances(emb, y, np.arange(len(y)))
    return fit_temperature(dist[keep], y[keep])


def test_few_shot_temperature_is_calibrated_on_new_rows():
    calibrated, sure = [], []
    for seed in range(4):
        X, y = _overlapping(8, seed)
        X_new, y_new = _overlapping(200, seed + 100)
        est = SiameseTransformer(Pretrained, random_state=seed).fit(X, y)
        assert est.model_selection_ == "too-few-rows"
        t_ml = _maximum_likelihood_temperature(est, X, y)
        assert est.temperature_ > t_ml
        dist = est._prototype_distances(est._embed(X_new))
        calibrated.append(log_loss(y_new, est.predict_proba(X_new)))
        sure.append(log_loss(y_new, softmax(-dist / t_ml, axis=1)))
    # the likelihood alone: a log-loss of about 9 (measured), the prior: 0.96
    assert np.mean(calibrated) < np.mean(sure) - 1.0
    # and better than knowing nothing (log 3 = 1.10)
    assert np.mean(calibrated) < np.log(3)


def test_without_a_few_shot_budget_the_temperature_is_the_maximum_likelihood_one():
    X, y = _overlapping(30, 0)
    est = SiameseTransformer(max_epochs=5, early_stopping=False, random_state=0)
    est.fit(X, y)
    assert est.temperature_ == pytest.approx(_maximum_likelihood_temperature(est, X, y))


def test_the_prior_softens_and_fades_with_more_rows():
    rng = np.random.RandomState(0)
    codes = np.repeat(np.arange(2), 50)
    # every row close to its own class: the likelihood alone wants t -> 0
    dist = np.where(np.eye(2)[codes] == 1, 0.05, 1.0) + 0.01 * rng.rand(100, 2)
    t_ml = fit_temperature(dist, codes)
    penalty = prototype_penalty(np.array([[1.0, 0.0], [0.0, 1.0]]))
    t_few = fit_temperature(dist, codes, penalty, n_rows=10)
    t_many = fit_temperature(dist, codes, penalty, n_rows=10_000)
    assert t_few > t_many > t_ml
