"""Behaviour of SiameseOutlierDetector: what it detects, how it acts as an estimator."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils._param_validation import InvalidParameterError

from sksiamese._engine.criteria import ViewsCriterion
from sksiamese.estimators.outlier import SiameseOutlierDetector, _ScarfViews
from sksiamese.losses import SupConLoss

FAST = dict(max_epochs=5, hidden_layer_sizes=(64,), embedding_dim=16)

# -- data ------------------------------------------------------------------------------

_MAP = np.random.RandomState(42)
_A, _B = _MAP.normal(size=(2, 20)), _MAP.normal(size=(2, 20))


def _manifold(t):
    """A curved 2-D surface in 20-D: every feature depends on the same 2 factors."""
    return np.tanh(t @ _A) + np.sin(t @ _B)


def _manifold_data(n_normal, n_anomalies, seed):
    """Normal rows on the surface; anomalies are rows of it with 4 features
    replaced by values of other rows: each value ordinary, their combination
    not (the correlation between features is broken)."""
    rng = np.random.RandomState(seed)
    normal = _manifold(rng.uniform(-1.5, 1.5, size=(n_normal, 2)))
    anomalies = _manifold(rng.uniform(-1.5, 1.5, size=(n_anomalies, 2)))
    donors = _manifold(rng.uniform(-1.5, 1.5, size=(n_anomalies, 2)))
    cols = np.argsort(rng.rand(n_anomalies, 20), axis=1)[:, :4]
    rows = np.arange(n_anomalies)[:, None]
    anomalies[rows, cols] = donors[rows, cols]
    X = np.vstack([normal, anomalies]) + 0.05 * rng.normal(
        size=(n_normal + n_anomalies, 20)
    )
    return X, np.r_[np.zeros(n_normal), np.ones(n_anomalies)]


@pytest.fixture(scope="module")
def data():
    X_train, _ = _manifold_data(600, 0, seed=0)
    X_test, y_test = _manifold_data(200, 100, seed=1)
    return X_train, X_test, y_test


@pytest.fixture(scope="module")
def fitted(data):
    # clean training data (novelty detection): small neighbourhoods see local
    # anomalies
    X_train = data[0]
    return SiameseOutlierDetector(max_epochs=10, n_neighbors=8, random_state=0).fit(
        X_train
    )


# -- what it learns --------------------------------------------------------------------


def test_beats_isolation_forest_and_matches_lof_on_broken_correlations(data, fitted):
    X_train, X_test, y_test = data
    auc = roc_auc_score(y_test, -fitted.score_samples(X_test))
    forest = IsolationForest(random_state=0).fit(X_train)
    lof = LocalOutlierFactor(novelty=True).fit(X_train)
    auc_forest = roc_auc_score(y_test, -forest.score_samples(X_test))
    auc_lof = roc_auc_score(y_test, -lof.score_samples(X_test))
    assert auc > 0.9
    assert auc > auc_forest + 0.05
    assert auc >= auc_lof - 0.02


def test_large_neighbourhoods_unmask_a_group_of_training_anomalies(data):
    """Outlier detection: 3 % of the training rows are a tight group off the
    manifold. Among its few nearest neighbours each of them finds its own
    kind (masking); the default's largest neighbourhood (1/24 of the rows)
    reaches past the group. A group larger than that would hide."""
    rng = np.random.RandomState(3)
    X_normal = data[0]
    X_group = _manifold(np.array([[0.0, 0.0]])) + 1.5 + 0.05 * rng.normal(size=(20, 20))
    X = np.vstack([X_normal, X_group])
    y = np.r_[np.zeros(len(X_normal)), np.ones(len(X_group))]
    params = dict(random_state=0, **FAST)
    default = SiameseOutlierDetector(**params).fit(X)
    small = SiameseOutlierDetector(n_neighbors=8, **params).fit(X)
    auc_default = roc_auc_score(y, -default.score_samples(X))
    auc_small = roc_auc_score(y, -small.score_samples(X))
    assert auc_default > 0.95
    assert auc_default > auc_small + 0.2
    np.testing.assert_array_equal(default.neighbor_scales_, [4, 8, 16, 26])
    np.testing.assert_array_equal(small.neighbor_scales_, [4, 8])


def test_max_samples_caps_the_reference(data):
    X_train, X_test, y_test = data
    det = SiameseOutlierDetector(max_samples=100, random_state=0, **FAST).fit(X_train)
    assert det.reference_.shape == (100, 16)
    assert det.reference_input_.shape == (100, 20)
    assert det.max_samples_ == 100
    assert det.n_neighbors_ == 5  # ceil(100 / 24)
    np.testing.assert_array_equal(det.neighbor_scales_, [4, 5])
    assert roc_auc_score(y_test, -det.score_samples(X_test)) > 0.8


def test_duplicates_and_tiny_data_give_finite_scores():
    rng = np.random.RandomState(0)
    X = np.repeat(rng.normal(size=(20, 3)), 10, axis=0)  # every row 10 times
    det = SiameseOutlierDetector(random_state=0, **FAST).fit(X)
    scores = det.score_samples(np.vstack([X, [[9.0, 9.0, 9.0]]]))
    assert np.all(np.isfinite(scores))
    # duplicates count as neighbours: a far row is the outlier
    assert scores[-1] < scores[:-1].min()
    for n in (1, 2, 3):
        tiny = SiameseOutlierDetector(random_state=0, **FAST).fit(X[::10][:n])
        assert np.all(np.isfinite(tiny.score_samples(X[:5])))


@pytest.mark.parametrize("n_neighbors", ["auto", 8])
def test_contamination_sets_outlier_rate_on_training_and_new_data(data, n_neighbors):
    """fit_predict flags the contamination share of the training rows, and
    predict about that share of new rows of the same kind: training rows are
    scored leave-one-out, so they do not look more normal than new ones."""
    X_train = data[0]
    X_new, _ = _manifold_data(2000, 0, seed=5)
    for contamination in [0.05, 0.2]:
        det = SiameseOutlierDetector(
            contamination=contamination,
            n_neighbors=n_neighbors,
            random_state=0,
            **FAST,
        )
        pred = det.fit_predict(X_train)
        np.testing.assert_array_equal(det.predict(X_train), pred)
        assert set(np.unique(pred)) <= {-1, 1}
        assert np.mean(pred == -1) == pytest.approx(contamination, abs=0.01)
        new_rate = np.mean(det.predict(X_new) == -1)
        assert new_rate == pytest.approx(contamination, abs=0.5 * contamination)


def test_auto_contamination_is_tukeys_fence_at_some_scale(fitted, data):
    """contamination="auto": an outlier's log distance lies more than two
    interquartile ranges above the training median at some neighbourhood
    size (the scales are standardised to median 0, IQR 1)."""
    X_train, X_test, y_test = data
    assert fitted.offset_ == -2.0
    dist = fitted._neighbor_distances(fitted._check_X(X_test))
    z = (np.log(dist) - fitted.log_distance_center_) / fitted.log_distance_spread_
    np.testing.assert_array_equal(fitted.predict(X_test) == -1, (z > 2).any(1))
    # few false alarms on the clean training rows
    assert np.mean(fitted.predict(X_train) == -1) < 0.05
    # the flags are at least as useful as IsolationForest's own "auto" ones
    iso = IsolationForest(random_state=0).fit(X_train)
    f1 = f1_score(y_test, fitted.predict(X_test) == -1)
    assert f1 >= f1_score(y_test, iso.predict(X_test) == -1)


def test_auto_contamination_on_training_data_holding_the_anomalies(data):
    """Fitted on unlabelled rows that hold 11 % anomalies, "auto" flags about
    that share, where IsolationForest's "auto" flags about twice as many."""
    X_train, X_test, y_test = data
    X, y = np.vstack([X_train, X_test]), np.r_[np.zeros(len(X_train)), y_test]
    flagged = SiameseOutlierDetector(max_epochs=10, random_state=0).fit_predict(X)
    flagged = flagged == -1
    assert 0.5 * y.mean() < flagged.mean() < 1.5 * y.mean()
    iso = IsolationForest(random_state=0).fit(X)
    assert f1_score(y, flagged) >= f1_score(y, iso.predict(X) == -1)


def test_scores_decision_predict_and_transform_agree(fitted, data):
    X_test = data[1]
    scores = fitted.score_samples(X_test)
    np.testing.assert_allclose(
        fitted.decision_function(X_test), scores - fitted.offset_
    )
    pred = fitted.predict(X_test)
    assert pred.dtype.kind == "i"
    assert set(np.unique(pred)) <= {-1, 1}
    np.testing.assert_array_equal(pred == -1, fitted.decision_function(X_test) < 0)
    emb = fitted.transform(X_test)
    assert emb.shape == (len(X_test), 64)
    assert emb.dtype == np.float32
    assert list(fitted.get_feature_names_out())[:2] == [
        "siameseoutlierdetector0",
        "siameseoutlierdetector1",
    ]


def test_scores_do_not_depend_on_the_batch(fitted, data):
    X_test = data[1][:40]
    whole = fitted.score_samples(X_test)
    rows = np.concatenate([fitted.score_samples(X_test[i : i + 1]) for i in range(40)])
    # scores are in interquartile ranges of log distances, near 0 for typical rows
    np.testing.assert_allclose(rows, whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("input_weight", [0.0, 1.0, 3.0])
def test_scores_are_standardised_multi_scale_neighbour_distances(data, input_weight):
    """Brute force: for k in 4, 8, 16, 20, the log distance to the k-th
    nearest reference row other than the row itself, on the embedding
    (divided by its RMS norm) next to the standardised input (times
    input_weight, divided by the square root of the number of features),
    standardised by its median and IQR over the training rows; minus the
    largest over k."""
    X_train, X_test = data[0][:150], data[1][:20]
    det = SiameseOutlierDetector(
        input_weight=input_weight,
        max_samples=100,
        n_neighbors=0.2,
        random_state=0,
        **FAST,
    ).fit(X_train)
    assert (det.reference_input_ is None) == (input_weight == 0)
    np.testing.assert_array_equal(det.neighbor_scales_, [4, 8, 16, 20])

    emb_train = det.transform(X_train).astype(np.float64)
    scale = np.sqrt(np.mean(np.sum(det.reference_**2, axis=1)))

    def space(X):
        z = (X - X_train.mean(0)) / X_train.std(0)
        emb = det.transform(X).astype(np.float64)
        return np.hstack([emb / scale, input_weight * z / np.sqrt(X.shape[1])])

    # the reference is a sample of 100 training rows: find which
    in_reference = [
        int(np.flatnonzero(np.all(np.isclose(emb_train, ref, atol=1e-6), axis=1))[0])
        for ref in det.reference_
    ]
    reference = space(X_train)[in_reference]

    def log_distances(X, training):
        out = []
        for i, q in enumerate(space(X)):
            d = np.sqrt(((reference - q) ** 2).sum(1))
            if training and i in in_reference:
                d = np.delete(d, in_reference.index(i))
            out.append(np.log(np.sort(d)[[3, 7, 15, 19]]))
        return np.array(out)

    train = log_distances(X_train, True)
    q1, median, q3 = np.percentile(train, [25, 50, 75], axis=0)
    np.testing.assert_allclose(det.log_distance_center_, median, rtol=1e-5)
    np.testing.assert_allclose(det.log_distance_spread_, q3 - q1, rtol=1e-4)
    for X, training in [(X_train, True), (X_test, False)]:
        expected = -((log_distances(X, training) - median) / (q3 - q1)).max(1)
        np.testing.assert_allclose(det.score_samples(X), expected, rtol=1e-4, atol=1e-4)


def _anomaly_group(n, seed):
    """Anomalies of one kind: a tight group off the normal surface (a rare
    class), whose members are each other's neighbours."""
    rng = np.random.RandomState(seed)
    shift = np.random.RandomState(7).normal(size=20)
    shift /= np.linalg.norm(shift)
    points = _manifold(rng.uniform(-0.5, 0.5, size=(n, 2))) + shift
    return points + 0.05 * rng.normal(size=(n, 20))


def test_known_anomalies_improve_scores(data):
    """Semi-supervised mode: a few labelled anomalies of the kind the test
    anomalies are make that kind stand out. Unlabelled, the group would
    vouch for its new members as their near neighbours (plain AUC
    0.97-0.99 over seeds 0-2, measured); labelled, it leaves the reference
    set and is pushed away from the normal rows (0.998-1.000)."""
    X_normal = data[0]
    X_known = _anomaly_group(30, seed=2)
    X_train = np.vstack([X_normal, X_known])
    y_train = np.r_[np.ones(len(X_normal)), -np.ones(len(X_known))]
    X_test = np.vstack([data[1][data[2] == 0], _anomaly_group(100, seed=3)])
    y_test = np.r_[np.zeros(int((data[2] == 0).sum())), np.ones(100)]
    params = dict(n_neighbors=8, random_state=0, **FAST)
    plain = SiameseOutlierDetector(**params).fit(X_train)
    semi = SiameseOutlierDetector(**params).fit(X_train, y_train)
    # known anomalies are left out of the reference set
    normal_emb = semi.transform(X_normal).astype(np.float64)
    nearest = ((semi.reference_[:, None] - normal_emb[None]) ** 2).sum(2).min(1)
    np.testing.assert_allclose(nearest, 0, atol=1e-8)
    auc_plain = roc_auc_score(y_test, -plain.score_samples(X_test))
    auc_semi = roc_auc_score(y_test, -semi.score_samples(X_test))
    assert auc_semi > max(auc_plain, 0.99)


# -- the corruption and the loss -------------------------------------------------------


def test_scarf_views_replace_the_requested_share_with_marginal_values():
    from sksiamese._engine.data import RowsDataset

    X = np.arange(40, dtype=np.float32).reshape(10, 4) * 10  # distinct values
    views = _ScarfViews(RowsDataset(X), corruption=0.5, seed=0)(torch.from_numpy(X[:3]))
    assert views.shape == (6, 4)
    changed = views.numpy() != np.vstack([X[:3], X[:3]])
    # exactly 2 of 4 features per row (a drawn value may equal the original)
    assert np.all(changed.sum(1) <= 2)
    assert changed.sum() >= 8
    for j in range(4):  # every value comes from the same feature's column
        assert set(views[:, j].tolist()) <= set(X[:, j].tolist())
    again = _ScarfViews(RowsDataset(X), corruption=0.5, seed=0)(torch.from_numpy(X[:3]))
    assert torch.equal(views, again)


def test_views_criterion_is_nt_xent():
    torch.manual_seed(0)
    emb = torch.randn(8, 3)
    z = torch.nn.functional.normalize(emb, dim=1)
    logits = z @ z.T / 0.5
    logits.fill_diagonal_(float("-inf"))
    target = torch.arange(8).roll(4)
    expected = torch.nn.functional.cross_entropy(logits, target)
    got = ViewsCriterion(SupConLoss(temperature=0.5))(emb, torch.arange(4))
    assert torch.allclose(got, expected, atol=1e-6)


# -- estimator behaviour ---------------------------------------------------------------


def test_repeatable_with_random_state(data):
    X_train, X_test = data[0][:200], data[1]
    a = SiameseOutlierDetector(random_state=3, **FAST).fit(X_train)
    b = SiameseOutlierDetector(random_state=3, **FAST).fit(X_train)
    np.testing.assert_array_equal(a.score_samples(X_test), b.score_samples(X_test))
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    SiameseOutlierDetector(random_state=3, **FAST).fit(X_train)
    assert torch.equal(torch.rand(1), before)  # global RNG untouched


def test_pipeline_pickle_and_clone(data):
    X_train, X_test = data[0][:200], data[1]
    pipe = make_pipeline(MinMaxScaler(), SiameseOutlierDetector(random_state=0, **FAST))
    pred = pipe.fit(X_train).predict(X_test)
    assert set(np.unique(pred)) <= {-1, 1}
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X_test), pred)
    assert clone(pipe[-1]).get_params() == pipe[-1].get_params()


def test_pandas_and_sparse_input(data):
    X_train, X_test = data[0][:200], data[1][:50]
    dense = SiameseOutlierDetector(random_state=0, **FAST).fit(X_train)
    frame = pd.DataFrame(X_train, columns=[f"f{i}" for i in range(20)])
    from_frame = SiameseOutlierDetector(random_state=0, **FAST).fit(frame)
    np.testing.assert_allclose(
        from_frame.score_samples(pd.DataFrame(X_test, columns=frame.columns)),
        dense.score_samples(X_test),
        rtol=1e-5,
    )
    assert list(from_frame.feature_names_in_) == list(frame.columns)
    X_sparse = sp.random(200, 30, density=0.2, format="csr", random_state=0)
    det = SiameseOutlierDetector(random_state=0, **FAST).fit(X_sparse)
    scores = det.score_samples(X_sparse)
    np.testing.assert_allclose(scores, det.score_samples(X_sparse.toarray()), rtol=1e-5)
    # and a model fitted on dense rows scores sparse ones alike
    np.testing.assert_allclose(
        dense.score_samples(sp.csr_matrix(X_test)),
        dense.score_samples(X_test),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(contamination=0.7), "contamination"),
        (dict(contamination="high"), "contamination"),
        (dict(corruption=1.0), "corruption"),
        (dict(n_neighbors=0), "n_neighbors"),
        (dict(n_neighbors=1.5), "n_neighbors"),
        (dict(n_neighbors="many"), "n_neighbors"),
        (dict(max_samples=0), "max_samples"),
        (dict(temperature=0), "temperature"),
        (dict(input_weight=-1.0), "input_weight"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        SiameseOutlierDetector(**params).fit(np.zeros((10, 2)))


def test_temperature_is_the_loss_temperature_and_no_loss_routing():
    det = SiameseOutlierDetector(temperature=0.2)
    loss = det._criterion_params(det._resolve_training())["criterion__loss"]
    assert loss.temperature == 0.2
    # the loss is fixed: loss__* / miner__* would take no effect
    for key in ("loss__temperature", "miner__margin"):
        with pytest.raises(TypeError, match=key):
            SiameseOutlierDetector(**{key: 0.2})


def test_bad_input_errors(fitted, data):
    X_train = data[0][:50]
    det = SiameseOutlierDetector(**FAST)
    with pytest.raises(NotFittedError):
        det.predict(X_train)
    with pytest.warns(UserWarning, match="no -1"):
        det.fit(X_train, np.r_[np.zeros(45), np.ones(5)])
    with pytest.raises(ValueError, match="every row"):
        det.fit(X_train, -np.ones(50))
    with pytest.raises(ValueError, match="inconsistent numbers"):
        det.fit(X_train, np.ones(49))
    with pytest.raises(ValueError, match="NaN"):
        det.fit(np.where(np.eye(50, 20) > 0, np.nan, X_train))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X_train[:, :5])
    with pytest.raises(ValueError, match="float32"):
        det.fit(np.full((10, 2), 1e300))
