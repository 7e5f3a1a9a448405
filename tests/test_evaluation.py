"""Tests for sksiamese.evaluation."""

import math

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_blobs
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sksiamese.evaluation import EpisodeScore, one_shot_accuracy, score_episodes


class _Identity(TransformerMixin, BaseEstimator):
    """Raw features as the embedding; counts transform calls."""

    def __init__(self, distance="euclidean"):
        self.distance = distance

    def fit(self, X, y=None):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X):
        self.n_calls_ = getattr(self, "n_calls_", 0) + 1
        return np.asarray(X, dtype=float)


class _Noise(TransformerMixin, BaseEstimator):
    """A random embedding of each row, unrelated to its class."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.random.RandomState(0).normal(size=(len(X), 16))


def _blobs(n_classes=30, per_class=6, seed=0):
    X, y = make_blobs(
        n_samples=[per_class] * n_classes,
        n_features=8,
        cluster_std=0.1,
        center_box=(-100, 100),
        random_state=seed,
    )
    return X, y


@pytest.mark.parametrize(
    ("n_way", "k_shot", "n_queries"), [(20, 1, 1), (5, 3, 2), (30, 1, 5)]
)
def test_separated_classes_score_one(n_way, k_shot, n_queries):
    X, y = _blobs()
    score = one_shot_accuracy(
        _Identity(),
        X,
        y,
        n_way=n_way,
        k_shot=k_shot,
        n_queries=n_queries,
        n_episodes=50,
        random_state=0,
    )
    assert score.mean == 1.0
    assert score.ci95 == 0.0
    assert score.n_episodes == 50
    assert score.accuracies.shape == (50,)


@pytest.mark.parametrize("n_way", [2, 5, 20])
def test_random_embedding_scores_chance(n_way):
    X, y = _blobs()
    score = one_shot_accuracy(
        _Noise(), X, y, n_way=n_way, n_queries=2, n_episodes=3000, random_state=0
    )
    assert score.mean == pytest.approx(1 / n_way, abs=max(3 * score.ci95, 0.01))
    assert abs(score.mean - 1 / n_way) < 0.03


def test_ci95_shrinks_with_more_episodes():
    X, y = _blobs()
    kwargs = {"n_way": 5, "n_episodes": 100, "random_state": 0}
    few = one_shot_accuracy(_Noise(), X, y, **kwargs)
    many = one_shot_accuracy(_Noise(), X, y, **{**kwargs, "n_episodes": 1600})
    assert 0 < many.ci95 < few.ci95
    # 1.96 * std / sqrt(n): sixteen times the episodes, a quarter of the width
    assert many.ci95 / few.ci95 == pytest.approx(0.25, rel=0.2)
    acc = many.accuracies
    expected = 1.96 * acc.std(ddof=1) / math.sqrt(len(acc))
    assert many.ci95 == pytest.approx(expected)
    assert many.mean == pytest.approx(acc.mean())


def test_same_random_state_same_episodes():
    X, y = _blobs()
    a = one_shot_accuracy(_Noise(), X, y, n_way=5, n_episodes=200, random_state=3)
    b = one_shot_accuracy(_Noise(), X, y, n_way=5, n_episodes=200, random_state=3)
    c = one_shot_accuracy(_Noise(), X, y, n_way=5, n_episodes=200, random_state=4)
    np.testing.assert_array_equal(a.accuracies, b.accuracies)
    assert a == b
    assert not np.array_equal(a.accuracies, c.accuracies)


def test_embeds_once():
    X, y = _blobs()
    model = _Identity()
    one_shot_accuracy(model, X, y, n_way=5, n_episodes=300, random_state=0)
    assert model.n_calls_ == 1


def test_classes_with_too_few_rows_are_left_out():
    X, y = _blobs(n_classes=4, per_class=5)
    # a fifth class of one row on top of class 0 would be confused with it
    X = np.vstack([X, X[y == 0][:1]])
    y = np.append(y, 99)
    score = one_shot_accuracy(_Identity(), X, y, n_way=4, n_episodes=100)
    assert score.mean == 1.0
    with pytest.raises(ValueError, match="only 4 of the 5 classes"):
        one_shot_accuracy(_Identity(), X, y, n_way=5)
    with pytest.raises(ValueError, match="at least 6 rows"):
        one_shot_accuracy(_Identity(), X, y, n_way=2, k_shot=3, n_queries=3)


def test_string_labels_and_list_inputs():
    X, y = _blobs(n_classes=6)
    labels = np.array(list("abcdef"))[y]
    score = one_shot_accuracy(
        FunctionTransformer(), X.tolist(), labels.tolist(), n_way=6, n_episodes=20
    )
    assert score.mean == 1.0


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_way": 1}, "n_way"),
        ({"k_shot": 0}, "k_shot"),
        ({"n_queries": 1.5}, "n_queries"),
        ({"n_episodes": 0}, "n_episodes"),
        ({"metric": "manhattan"}, "metric"),
    ],
)
def test_invalid_parameters(params, match):
    X, y = _blobs()
    with pytest.raises(ValueError, match=match):
        one_shot_accuracy(_Identity(), X, y, **params)


def test_estimator_without_transform():
    X, y = _blobs()
    with pytest.raises(TypeError, match="transform"):
        one_shot_accuracy(object(), X, y, n_way=5)


def test_inconsistent_lengths():
    X, y = _blobs()
    with pytest.raises(ValueError, match="inconsistent"):
        one_shot_accuracy(_Identity(), X, y[:-1], n_way=5)


# a query in the direction of "a" but next to "b": cosine and euclidean disagree
_SUPPORT_X = np.array([[[1.0, 0.0], [10.0, 1.0]]])
_SUPPORT_Y = np.array([["a", "b"]])
_QUERY_X = np.array([[[9.0, 0.0]]])
_QUERY_Y = np.array([["a"]])


def test_default_metric_follows_estimator_distance():
    args = (_SUPPORT_X, _SUPPORT_Y, _QUERY_X, _QUERY_Y)
    assert score_episodes(_Identity(distance="cosine"), *args).mean == 1.0
    assert score_episodes(_Identity(distance="euclidean"), *args).mean == 0.0
    assert score_episodes(FunctionTransformer(), *args).mean == 0.0  # euclidean
    assert score_episodes(FunctionTransformer(), *args, metric="cosine").mean == 1.0
    pipeline = make_pipeline(FunctionTransformer(), _Identity(distance="cosine"))
    pipeline.fit(_SUPPORT_X[0])
    assert score_episodes(pipeline, *args).mean == 1.0
    X = np.vstack([_SUPPORT_X[0], _QUERY_X[0], [[2.0, 0.0]], [[20.0, 2.0]]])
    y = ["a", "b", "a", "a", "b"]
    score = one_shot_accuracy(
        _Identity(distance="cosine"), X, y, n_way=2, n_episodes=30, random_state=0
    )
    assert score.mean == 1.0


def test_score_episodes_uses_class_means():
    # class "a" has support rows at 0 and 10 (prototype 5), "b" one row at 8:
    # the query at 9.5 is nearest to a support row of "a" but to the
    # prototype of "b"
    support_X = [np.array([[0.0], [10.0], [8.0]]), np.array([[0.0], [1.0]])]
    support_y = [np.array(["a", "a", "b"]), np.array([1, 2])]
    query_X = [np.array([[9.5], [1.0], [4.0]]), np.array([[0.9], [0.2]])]
    query_y = [np.array(["b", "a", "b"]), np.array([2, 2])]
    model = _Identity()
    score = score_episodes(model, support_X, support_y, query_X, query_y)
    np.testing.assert_allclose(score.accuracies, [2 / 3, 0.5])
    assert score.mean == pytest.approx(7 / 12)
    assert score.n_episodes == 2
    assert model.n_calls_ == 1


def test_score_episodes_stacked_arrays_match_random_episodes():
    # the episodes one_shot_accuracy draws, given as fixed arrays, score the same
    X, y = _blobs(n_classes=5, per_class=4)
    rng = np.random.RandomState(0)
    support_X, support_y, query_X, query_y = [], [], [], []
    for _ in range(20):
        rows = [rng.permutation(np.flatnonzero(y == c))[:2] for c in range(5)]
        support_X.append(X[[r[0] for r in rows]])
        support_y.append(np.arange(5))
        query_X.append(X[[r[1] for r in rows]])
        query_y.append(np.arange(5))
    score = score_episodes(
        _Noise(),
        np.stack(support_X),
        np.stack(support_y),
        np.stack(query_X),
        np.stack(query_y),
    )
    assert score.n_episodes == 20
    assert 0 <= score.mean <= 1
    assert score_episodes(
        _Identity(), support_X, support_y, query_X, query_y
    ) == EpisodeScore(1.0, 0.0, 20, None)


def test_score_episodes_errors():
    args = [_SUPPORT_X, _SUPPORT_Y, _QUERY_X, _QUERY_Y]
    with pytest.raises(ValueError, match="same number of episodes"):
        score_episodes(_Identity(), *args[:3], np.array([["a"], ["a"]]))
    with pytest.raises(ValueError, match=r"labels \['c'\] have no support"):
        score_episodes(_Identity(), *args[:3], np.array([["c"]]))
    with pytest.raises(ValueError, match="one label per row"):
        score_episodes(_Identity(), _SUPPORT_X, np.array([["a"]]), *args[2:])
    with pytest.raises(ValueError, match="2-D"):
        score_episodes(_Identity(), [np.zeros(3)], [np.zeros(3)], *args[2:])
    with pytest.raises(ValueError, match="at least one episode"):
        score_episodes(_Identity(), [], [], [], [])
    with pytest.raises(ValueError, match="metric"):
        score_episodes(_Identity(), *args, metric="l1")


def test_episode_score_summary():
    single = EpisodeScore.from_accuracies([0.5])
    assert single.mean == 0.5
    assert single.n_episodes == 1
    assert math.isnan(single.ci95)
    assert "0.500" in str(single)
    assert "accuracies" not in repr(single)
