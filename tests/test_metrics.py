"""Tests for sksiamese.metrics: verification rates, rank correlation, scorers."""

import numpy as np
import pytest
from scipy.stats import norm, spearmanr
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline

from sksiamese.metrics import (
    eer_scorer,
    equal_error_rate,
    make_tar_at_far_scorer,
    select_threshold,
    spearman_score,
    spearman_scorer,
    tar_at_far,
    tar_at_far_scorer,
)


def _gaussian_scores(n=20000, shift=2.0, seed=0):
    """Impostor scores ~ N(0, 1), genuine scores ~ N(shift, 1)."""
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1], n)
    return y, np.concatenate([rng.normal(size=n), rng.normal(shift, size=n)])


# -- equal_error_rate ------------------------------------------------------------------


def test_eer_of_perfect_and_reversed_scores():
    y = np.array([0, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.9, 0.3, 0.7, 0.8, 0.2])
    assert equal_error_rate(y, s) == 0.0
    assert equal_error_rate(y, -s) == 1.0


def test_eer_of_constant_scores_is_one_half():
    assert equal_error_rate([0, 0, 1, 1, 1], np.zeros(5)) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("y", "s", "expected"),
    [
        # a threshold between 0.6 and 0.7 rejects 1 of 4 genuine, accepts 1 of 4
        # impostors: FAR = FRR = 0.25 exactly at an ROC point
        ([0, 0, 0, 0, 1, 1, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9], 0.25),
        # the tie at 0.5 joins (FAR, FRR) = (0, 0.5) to (0.5, 0) by a segment
        # that crosses FAR == FRR at 0.25
        ([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.9], 0.25),
        # 1 impostor above all, 3 genuine: FAR 0 -> 1 while FRR stays 0
        ([0, 1, 1, 1], [0.9, 0.1, 0.2, 0.3], 1.0),
        # interpolated between (FAR, FRR) = (0, 2/3) and (1/2, 0): 2/7
        ([0, 0, 1, 1, 1], [0.1, 0.5, 0.5, 0.5, 0.9], 2 / 7),
    ],
)
def test_eer_known_examples(y, s, expected):
    assert equal_error_rate(y, s) == pytest.approx(expected)


def test_eer_of_gaussian_scores_matches_theory():
    y, s = _gaussian_scores(shift=2.0)
    # the threshold at the midpoint 1 gives FAR = FRR = Phi(-1)
    assert equal_error_rate(y, s) == pytest.approx(norm.cdf(-1.0), abs=0.01)


def test_eer_is_a_crossing_of_far_and_frr():
    rng = np.random.RandomState(1)
    y = rng.randint(0, 2, 300)
    s = y + rng.normal(size=300)
    eer = equal_error_rate(y, s)
    thresholds = np.sort(s)
    far = np.array([(s[y == 0] >= t).mean() for t in thresholds])
    frr = np.array([(s[y == 1] < t).mean() for t in thresholds])
    # on the ROC segment from the last threshold with FAR > FRR to the first
    # with FAR <= FRR, FAR falls and FRR rises: they meet between these bounds
    k = np.argmax(far <= frr)
    assert k > 0
    assert max(far[k], frr[k - 1]) - 1e-12 <= eer <= min(far[k - 1], frr[k]) + 1e-12


def test_eer_pos_label_and_string_labels():
    y = np.array(["diff", "same", "diff", "same", "same", "diff", "diff"])
    s = np.array([0.2, 0.9, 0.6, 0.4, 0.8, 0.1, 0.3])
    y01 = (y == "same").astype(int)
    # default: the greater label ("same") is genuine
    assert equal_error_rate(y, s) == equal_error_rate(y01, s)
    assert equal_error_rate(y, s, pos_label="same") == equal_error_rate(y01, s)
    assert equal_error_rate(y, -s, pos_label="diff") == pytest.approx(
        equal_error_rate(y01, s)
    )
    with pytest.raises(ValueError, match="pos_label"):
        equal_error_rate(y, s, pos_label="other")


@pytest.mark.parametrize("func", [equal_error_rate, tar_at_far])
def test_single_class_or_bad_lengths_raise(func):
    with pytest.raises(ValueError, match="exactly 2 classes"):
        func([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="inconsistent"):
        func([0, 1, 1], [0.1, 0.2])


# -- tar_at_far ------------------------------------------------------------------------


def test_tar_at_far_known_example():
    # genuine 0.95 > impostor 0.9 > genuine 0.8, 0.7 > impostors 0.1-0.3
    y = [0, 0, 0, 0, 1, 1, 1]
    s = [0.1, 0.2, 0.3, 0.9, 0.95, 0.8, 0.7]
    assert tar_at_far(y, s, far=0.0) == pytest.approx(1 / 3)
    assert tar_at_far(y, s, far=0.25) == 1.0
    # flat from (0, 1/3) to (0.25, 1/3): the impostor at 0.9 comes first
    assert tar_at_far(y, s, far=0.1) == pytest.approx(1 / 3)
    assert tar_at_far(y, s, far=1.0) == 1.0


def test_tar_at_far_interpolates_along_ties():
    y = [0, 0, 0, 0, 1, 1]
    s = [0.1, 0.2, 0.3, 0.6, 0.6, 0.8]
    assert tar_at_far(y, s, far=0.0) == 0.5
    assert tar_at_far(y, s, far=0.05) == pytest.approx(0.6)
    assert tar_at_far(y, s, far=0.25) == 1.0


def test_tar_at_far_of_perfect_and_reversed_scores():
    y = np.array([0, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.9, 0.3, 0.7, 0.8, 0.2])
    assert tar_at_far(y, s, far=0.0) == 1.0
    assert tar_at_far(y, -s, far=0.0) == 0.0
    assert tar_at_far(y, -s, far=0.5) == 0.0


def test_tar_at_far_of_gaussian_scores_matches_theory():
    y, s = _gaussian_scores(shift=2.0)
    for far in (0.01, 0.1, 0.3):
        expected = norm.sf(norm.isf(far) - 2.0)
        assert tar_at_far(y, s, far=far) == pytest.approx(expected, abs=0.02)


def test_tar_at_far_is_nondecreasing_in_far():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 200)
    s = np.round(y + rng.normal(size=200), 1)  # rounding creates ties
    tars = [tar_at_far(y, s, far=f) for f in np.linspace(0, 1, 101)]
    assert np.all(np.diff(tars) >= -1e-12)
    assert tars[-1] == 1.0


@pytest.mark.parametrize("far", [-0.1, 1.5, "0.1"])
def test_tar_at_far_rejects_bad_far(far):
    with pytest.raises(ValueError, match="far"):
        tar_at_far([0, 1], [0.0, 1.0], far=far)
    with pytest.raises(ValueError, match="far"):
        make_tar_at_far_scorer(far=far)


# -- spearman_score --------------------------------------------------------------------


def test_spearman_matches_scipy():
    rng = np.random.RandomState(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert spearman_score(a, b) == pytest.approx(spearmanr(a, b).statistic)
    assert spearman_score(a, np.exp(a)) == pytest.approx(1.0)
    assert isinstance(spearman_score(a, b), float)


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [([1, 2, 3], [5, 5, 5]), ([4, 4, 4], [1, 2, 3]), ([1], [2])],
)
def test_spearman_of_undefined_input_is_zero_with_warning(y_true, y_pred):
    with pytest.warns(UndefinedMetricWarning, match="undefined"):
        assert spearman_score(y_true, y_pred) == 0.0


def test_spearman_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        spearman_score([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])


# -- scorers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary():
    return make_classification(n_samples=300, class_sep=0.7, random_state=0)


def _manual_scores(metric, X, y, cv, **kwargs):
    out = []
    for train, test in cv.split(X, y):
        clf = LogisticRegression().fit(X[train], y[train])
        out.append(metric(y[test], clf.decision_function(X[test]), **kwargs))
    return np.array(out)


def test_eer_scorer_is_negated_eer_of_decision_function(binary):
    X, y = binary
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(LogisticRegression(), X, y, cv=cv, scoring=eer_scorer)
    np.testing.assert_allclose(scores, -_manual_scores(equal_error_rate, X, y, cv))
    assert np.all((scores > -0.5) & (scores <= 0))


def test_tar_at_far_scorers_match_the_metric(binary):
    X, y = binary
    cv = KFold(3, shuffle=True, random_state=0)
    for scorer, far in ((tar_at_far_scorer, 1e-2), (make_tar_at_far_scorer(0.2), 0.2)):
        scores = cross_val_score(LogisticRegression(), X, y, cv=cv, scoring=scorer)
        np.testing.assert_allclose(
            scores, _manual_scores(tar_at_far, X, y, cv, far=far)
        )


def test_verification_scorers_use_predict_proba_without_decision_function(binary):
    X, y = binary
    for scorer in (eer_scorer, make_tar_at_far_scorer(0.1)):
        scores = cross_val_score(GaussianNB(), X, y, cv=3, scoring=scorer)
        assert np.all(np.isfinite(scores))
    assert np.all(cross_val_score(GaussianNB(), X, y, cv=3, scoring=eer_scorer) > -0.5)


def test_verification_scorers_with_string_labels(binary):
    X, y = binary
    y_str = np.where(y == 1, "same", "diff")
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(LogisticRegression(), X, y_str, cv=cv, scoring=eer_scorer)
    # the positive class of the score and of the metric agree: a good EER,
    # not its mirror image
    np.testing.assert_allclose(scores, -_manual_scores(equal_error_rate, X, y, cv))
    # naming the other class genuine flips the scores the scorer reads
    flipped = make_tar_at_far_scorer(0.2, pos_label="diff")
    est = LogisticRegression().fit(X, y_str)
    expected = tar_at_far(y_str, -est.decision_function(X), far=0.2, pos_label="diff")
    assert flipped(est, X, y_str) == pytest.approx(expected)


def test_eer_scorer_in_grid_search_prefers_the_lower_eer(binary):
    X, y = binary
    search = GridSearchCV(
        Pipeline([("clf", LogisticRegression())]),
        {"clf": [DummyClassifier(), LogisticRegression()]},
        cv=3,
        scoring=eer_scorer,
    ).fit(X, y)
    # the dummy's constant scores have an EER of 0.5, the model's is lower;
    # the scorer's sign must make the search pick the model
    dummy, model = search.cv_results_["mean_test_score"]
    assert dummy == pytest.approx(-0.5)
    assert model > -0.5
    assert isinstance(search.best_params_["clf"], LogisticRegression)


def test_spearman_scorer_with_a_regressor():
    X, y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    scores = cross_val_score(LinearRegression(), X, y, cv=3, scoring=spearman_scorer)
    assert np.all(scores > 0.9)
    with pytest.warns(UndefinedMetricWarning):
        dummy = cross_val_score(DummyRegressor(), X, y, cv=3, scoring=spearman_scorer)
    np.testing.assert_array_equal(dummy, 0.0)


# -- select_threshold ------------------------------------------------------------------


def _accept_rates(y, s, threshold):
    accepted = np.asarray(s) >= threshold
    y = np.asarray(y)
    return accepted[y == 1].mean(), accepted[y == 0].mean()


def _brute_force(y, s, gain):
    """The best of all thresholds (each score, and above the maximum), the
    highest among ties."""
    candidates = sorted(set(s) | {np.inf}, reverse=True)
    return max(candidates, key=lambda t: (gain(np.asarray(s) >= t), t))


@pytest.mark.parametrize("seed", range(3))
def test_select_threshold_matches_brute_force(seed):
    from sklearn.metrics import accuracy_score, fbeta_score

    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, 60)
    # rounded: ties between scores, as with a coarse similarity
    s = np.round(y + rng.normal(0, 1, 60), 1)
    assert select_threshold(y, s) == _brute_force(
        y, s, lambda pred: accuracy_score(y, pred)
    )
    for beta in (0.5, 1.0, 3.0):

        def f_beta(pred, beta=beta):
            return fbeta_score(y, pred, beta=beta, zero_division=0)

        expected = _brute_force(y, s, f_beta)
        assert select_threshold(y, s, "f_beta", beta=beta) == expected


@pytest.mark.parametrize("seed", range(3))
def test_select_threshold_at_a_positive_rate_counts_pairs_at_that_share(seed):
    # the threshold of the pairs with each impostor pair counted 3 times is
    # the threshold of the pairs at the share of genuine pairs that gives
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, 80)
    s = np.round(y + rng.normal(0, 1, 80), 1)
    repeated = np.r_[np.arange(80), np.repeat(np.flatnonzero(y == 0), 2)]
    rate = y.mean() / (y.mean() + 3 * (1 - y.mean()))
    for strategy in ("accuracy", "f_beta"):
        assert select_threshold(y, s, strategy, positive_rate=rate) == select_threshold(
            y[repeated], s[repeated], strategy
        )
    # fewer genuine pairs: a stricter threshold
    assert select_threshold(y, s, positive_rate=0.1) >= select_threshold(y, s)
    with pytest.raises(ValueError, match="positive_rate must be in"):
        select_threshold(y, s, positive_rate=1.0)


def test_select_threshold_far_keeps_the_false_accept_rate():
    y, s = _gaussian_scores(n=300)
    for target in (0.0, 0.01, 0.1, 0.5):
        t = select_threshold(y, s, "far", target_far=target)
        tar, far = _accept_rates(y, s, t)
        assert far <= target

        def tar_within_target(pred, target=target):
            return pred[y == 1].mean() if pred[y == 0].mean() <= target else -1

        # the most genuine pairs accepted within the target, with the fewest
        # impostors among equals (the highest threshold)
        assert t == _brute_force(y, s, tar_within_target)


def test_select_threshold_accepts_nothing_when_best():
    # every genuine pair scores below every impostor: accept nothing
    t = select_threshold([1, 1, 0, 0, 0], [0.1, 0.2, 0.8, 0.9, 0.7])
    assert t == np.finfo(np.float32).max
    assert np.isfinite(t)


def test_select_threshold_pos_label_and_strings():
    y = ["same", "same", "other", "other"]
    s = [0.9, 0.6, 0.5, 0.1]
    assert select_threshold(y, s, pos_label="same") == 0.6
    # "other" as the genuine label reverses the meaning of the scores
    assert select_threshold(y, [-v for v in s], pos_label="other") == -0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "best"}, "strategy must be"),
        ({"strategy": "far"}, "target_far in"),
        ({"strategy": "far", "target_far": 1.5}, "target_far in"),
        ({"strategy": "f_beta", "beta": 0}, "beta must be"),
    ],
)
def test_select_threshold_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        select_threshold([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], **kwargs)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        select_threshold([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite"):
        select_threshold([0, 1], [0.1, np.nan])
