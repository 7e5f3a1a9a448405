"""Model selection on held-out data, with the untrained network as a
candidate, and the default backbone that starts from the input's geometry:
a default fit never ends below the similarity its input had."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sksiamese import (
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from sksiamese.pairs import make_triplets


def _items(rng, n, centers, noise_dims=0):
    classes = rng.randint(len(centers), size=n)
    X = centers[classes] + 0.8 * rng.randn(n, centers.shape[1])
    if noise_dims:
        X = np.hstack([X, 3.0 * rng.randn(n, noise_dims)])
    return X.astype(np.float32), classes


def _pairs(X, classes, rng, n):
    i, j = rng.randint(len(X), size=(2, n))
    return np.stack([X[i], X[j]], 1), (classes[i] == classes[j]).astype(int)


def _cosine(P):
    a, b = P[:, 0], P[:, 1]
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def clustered():
    """Training pairs of some items, test pairs of other items of the same
    classes; the input's cosine already tells the classes apart."""
    rng = np.random.RandomState(0)
    centers = 1.5 * rng.randn(8, 16)
    P, same = _pairs(*_items(rng, 600, centers), rng, 3000)
    T, t_same = _pairs(*_items(rng, 600, centers), rng, 3000)
    return P, same, T, t_same, rng


def test_a_fit_that_can_only_memorise_keeps_the_input_geometry(clustered):
    P, _, T, t_same, rng = clustered
    noise = rng.randint(2, size=len(P))  # labels no structure explains
    untrained = roc_auc_score(t_same, _cosine(T))
    # no projection head, which would blunt the memorising on its own
    kept = SiamesePairClassifier(projection_dim=None, random_state=0)
    kept.fit(P, noise)
    memorised = SiamesePairClassifier(
        projection_dim=None, early_stopping=False, random_state=0
    )
    memorised.fit(P, noise)
    # the held-out score is noise around 0.5 at every epoch: patience stops
    # the fit some epochs from the start, or keeps the start itself.
    # measured: input 0.999; selected 0.998-0.999; without selection 0.70
    assert roc_auc_score(t_same, kept.similarity(T)) > untrained - 0.01
    assert roc_auc_score(t_same, memorised.similarity(T)) < untrained - 0.1
    # the default, head included, keeps it too
    default = SiamesePairClassifier(random_state=0).fit(P, noise)
    assert roc_auc_score(t_same, default.similarity(T)) > untrained - 0.01


def test_a_fit_with_learnable_structure_beats_its_input():
    rng = np.random.RandomState(1)
    centers = 1.5 * rng.randn(8, 8)
    P, same = _pairs(*_items(rng, 600, centers, noise_dims=24), rng, 3000)
    T, t_same = _pairs(*_items(rng, 600, centers, noise_dims=24), rng, 3000)
    clf = SiamesePairClassifier(random_state=0).fit(P, same)
    untrained = roc_auc_score(t_same, _cosine(T))
    # measured: input 0.72, fitted 0.99 on pairs of new items
    assert untrained < 0.8
    assert roc_auc_score(t_same, clf.similarity(T)) > untrained + 0.15
    assert clf.best_validation_score_ > clf.validation_scores_[0]


def test_the_untrained_default_network_is_the_input_geometry(clustered):
    P, same, T, t_same, _ = clustered
    clf = SiamesePairClassifier(max_epochs=1, lr=1e-12, random_state=0)
    clf.fit(P, same)
    # embedding_dim (128) > n_features (16): every cosine is kept
    np.testing.assert_allclose(clf.similarity(T), _cosine(T), atol=1e-4)


def test_regressor_and_triplets_select_on_held_out_items(clustered):
    P, same, _, _, rng = clustered
    reg = SiamesePairRegressor(max_epochs=3, random_state=0).fit(P, same + 0.0)
    assert len(reg.validation_scores_) == reg.n_iter_ + 1
    assert reg.holdout_ == "item-disjoint"
    X, classes = _items(rng, 300, 1.5 * rng.randn(4, 16))
    triplets = make_triplets(X, classes, 600, random_state=0)
    tri = SiameseTripletClassifier(max_epochs=3, random_state=0).fit(triplets)
    assert 0.5 < tri.validation_scores_[0] <= tri.best_validation_score_ <= 1


def test_early_stopping_false_trains_every_epoch(clustered):
    P, same, _, _, _ = clustered
    clf = SiamesePairClassifier(max_epochs=4, early_stopping=False, random_state=0)
    clf.fit(P, same)
    assert clf.n_iter_ == 4
    assert not hasattr(clf, "validation_scores_")


def test_tiny_data_fits_without_selection():
    rng = np.random.RandomState(0)
    X = rng.randn(12, 4).astype(np.float32)
    y = np.repeat([0, 1], 6)
    # 2 held-out rows cannot hold both classes reliably: no selection, no error
    est = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    assert est.n_iter_ == 2
    P = np.stack([X[:3], X[3:6]], 1)
    clf = SiamesePairClassifier(max_epochs=2, random_state=0).fit(P, [0, 1, 0])
    assert clf.holdout_ is None
    assert clf.n_iter_ == 2


def test_training_that_cannot_beat_the_start_stops_after_the_patience():
    rng = np.random.RandomState(0)
    X = rng.rand(600, 2, 8)
    y = rng.randint(0, 2, 600)  # labels unrelated to the pairs
    model = SiamesePairClassifier(
        hidden_layer_sizes=(16,), max_epochs=30, n_iter_no_change=3, random_state=0
    ).fit(X, y)
    assert model.best_epoch_ == 0
    # stopped by twice the patience at the latest, not after all 30 epochs
    assert len(model.net_.history) <= 6
