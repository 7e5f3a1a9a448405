"""Tests for sksiamese.retrieval."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.neighbors import NearestNeighbors

from sksiamese import EmbeddingIndex, SiamesePairRegressor, SiameseTransformer


@pytest.fixture(scope="module")
def digits_model():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    model = SiameseTransformer(max_epochs=3, random_state=0).fit(X[:1000], y[:1000])
    return model, X, y


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_kneighbors_is_nearest_neighbors_on_the_embedding(digits_model, metric):
    model, X, y = digits_model
    index = EmbeddingIndex(model, n_neighbors=4, metric=metric).fit(X[:1000], y[:1000])
    expected = NearestNeighbors(n_neighbors=4, metric=metric).fit(
        model.transform(X[:1000])
    )
    dist, ind = index.kneighbors(X[1000:1100])
    exp_dist, exp_ind = expected.kneighbors(model.transform(X[1000:1100]))
    np.testing.assert_array_equal(ind, exp_ind)
    np.testing.assert_allclose(dist, exp_dist, atol=1e-5)
    # the learned embedding retrieves items of the query's class
    assert np.mean(index.predict(X[1000:]) == y[1000:]) > 0.9
    assert index.kneighbors(X[:3], n_neighbors=2, return_distance=False).shape == (3, 2)


def test_kneighbors_of_the_gallery_skips_each_item_itself(digits_model):
    model, X, y = digits_model
    index = EmbeddingIndex(model, n_neighbors=3).fit(X[:50])
    dist, ind = index.kneighbors()
    assert ind.shape == (50, 3)
    assert not np.any(ind == np.arange(50)[:, None])
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_errors(digits_model):
    model, X, y = digits_model
    with pytest.raises(NotFittedError, match="FrozenEstimator"):
        EmbeddingIndex(SiameseTransformer()).fit(X[:10])
    # a clone holds an unfitted clone; FrozenEstimator keeps the fitted one
    with pytest.raises(NotFittedError):
        clone(EmbeddingIndex(model)).fit(X[:10])
    clone(EmbeddingIndex(FrozenEstimator(model))).fit(X[:10])
    index = EmbeddingIndex(model).fit(X[:10])
    with pytest.raises(ValueError, match="pass y to fit"):
        index.predict(X[:2])
    with pytest.raises(ValueError, match="n_neighbors <= 9"):
        index.kneighbors(n_neighbors=10)
    with pytest.raises(ValueError, match="n_neighbors <= 10"):
        index.kneighbors(X[:2], n_neighbors=11)
    with pytest.raises(ValueError, match="one label per gallery item"):
        EmbeddingIndex(model).fit(X[:10], y[:9])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_faiss_backend_finds_the_same_neighbours(digits_model, metric):
    pytest.importorskip(
        "faiss", reason="backend='faiss' needs faiss-cpu: pip install faiss-cpu"
    )
    model, X, y = digits_model
    params = {"n_neighbors": 5, "metric": metric}
    exact = EmbeddingIndex(model, **params).fit(X[:1000], y[:1000])
    fast = EmbeddingIndex(model, backend="faiss", **params).fit(X[:1000], y[:1000])
    for queries in (X[1000:1300], None):
        dist, ind = fast.kneighbors(queries)
        exp_dist, exp_ind = exact.kneighbors(queries)
        np.testing.assert_allclose(dist, exp_dist, atol=1e-4)
        # neighbours may swap only where distances tie
        same = ind == exp_ind
        assert same.mean() > 0.99
        np.testing.assert_allclose(np.where(same, 0, dist - exp_dist), 0, atol=1e-4)
    restored = pickle.loads(pickle.dumps(fast))
    np.testing.assert_array_equal(restored.predict(X[1000:]), fast.predict(X[1000:]))


def test_missing_faiss_says_what_to_install(digits_model, monkeypatch):
    import sys

    model, X, _ = digits_model
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        EmbeddingIndex(model, backend="faiss").fit(X[:10])


def test_similar_question_search_finds_the_planted_duplicate(minilm):
    from sksiamese.modules import SentenceTransformerBackbone

    questions = [
        "How do I reset my password?",
        "What is the capital of Australia?",
        "How can I learn to play the piano?",
        "Why is the sky blue?",
        "What are the health benefits of green tea?",
        "How do I change a flat tyre on my bike?",
        "Which programming language should I learn first?",
        "How long does it take to boil an egg?",
    ]
    new = [
        "I forgot my password, how can I set a new one?",
        "What's the best first language for someone starting to code?",
    ]
    pairs = [
        [questions[0], "How can I recover a forgotten password?"],
        [questions[3], "Why does the sky look blue?"],
        [questions[1], questions[2]],
        [questions[4], questions[5]],
    ]
    # a short, gentle fine-tuning keeps what the pretrained model knows
    model = SiamesePairRegressor(
        SentenceTransformerBackbone(), max_epochs=1, random_state=0
    ).fit(pairs, [5.0, 5.0, 0.0, 0.0])
    index = EmbeddingIndex(model, n_neighbors=3).fit(questions, np.arange(8))
    dist, ind = index.kneighbors(new)
    assert ind[:, 0].tolist() == [0, 6]
    assert np.all(dist[:, 0] < dist[:, 1])
    np.testing.assert_array_equal(index.predict(new), [0, 6])
