"""Behaviour of SiameseTransformer: what it learns, how it acts as an estimator."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

from sksiamese import SiameseTransformer

# -- data ------------------------------------------------------------------------------


def _noisy_classes(n_classes=20, per_class=60, n_informative=5, n_noise=45, seed=0):
    """Classes that differ in 5 features, hidden among 45 larger noise features.

    Raw Euclidean distance is dominated by the noise; an embedding has to learn
    which features matter, and that knowledge transfers to unseen classes.
    """
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=2.0, size=(n_classes, n_informative))
    y = np.repeat(np.arange(n_classes), per_class)
    X = np.hstack(
        [
            centers[y] + rng.normal(size=(len(y), n_informative)),
            rng.normal(scale=2.0, size=(len(y), n_noise)),
        ]
    )
    return X, y


def _twin_classes(n_samples=600, seed=0):
    """Ten well separated groups, each made of two near-duplicate classes."""
    rng = np.random.RandomState(seed)
    base = rng.normal(scale=6.0, size=(10, 10))
    centers = np.repeat(base, 2, axis=0) + rng.normal(scale=0.8, size=(20, 10))
    y = np.repeat(np.arange(20), n_samples // 20)
    return centers[y] + rng.normal(size=(len(y), 10)), y


def _random_pairs(y, n_pairs=4000, seed=0):
    rng = np.random.RandomState(seed)
    i = rng.randint(len(y), size=n_pairs)
    j = rng.randint(len(y), size=n_pairs)
    keep = i != j
    return i[keep], j[keep]


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(
        n_samples=300, n_features=8, centers=3, cluster_std=2.0, random_state=0
    )
    return X, y


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return SiameseTransformer(max_epochs=3, random_state=0).fit(X, y)


# -- what it learns --------------------------------------------------------------------


def test_embedding_transfers_to_unseen_classes():
    X, y = _noisy_classes()
    seen = y < 12
    X_new, y_new = X[~seen], y[~seen]
    i, j = _random_pairs(y_new)
    same = y_new[i] == y_new[j]

    raw_auc = roc_auc_score(same, -np.linalg.norm(X_new[i] - X_new[j], axis=1))
    default = SiameseTransformer(random_state=0).fit(X[seen], y[seen])
    auc = roc_auc_score(same, default.pair_score(X_new[i], X_new[j]))
    # without a projection head the embedding itself must discard the noise
    deep = SiameseTransformer(
        hidden_layer_sizes=(256,), embedding_dim=64, projection_dim=None, random_state=0
    ).fit(X[seen], y[seen])
    deep_auc = roc_auc_score(same, deep.pair_score(X_new[i], X_new[j]))

    # measured: raw 0.640; default 0.736; deep without head 0.903
    assert raw_auc < 0.7
    assert auc > raw_auc + 0.05
    assert deep_auc > 0.85


def test_digits_embedding_beats_raw_pixels_on_unseen_digits():
    X, y = load_digits(return_X_y=True)
    seen = y <= 5
    X_new, y_new = X[~seen], y[~seen]
    i, j = _random_pairs(y_new)
    same = y_new[i] == y_new[j]

    raw_auc = roc_auc_score(same, -np.linalg.norm(X_new[i] - X_new[j], axis=1))
    est = SiameseTransformer(random_state=0).fit(X[seen], y[seen])
    auc = roc_auc_score(same, est.pair_score(X_new[i], X_new[j]))

    # measured: raw 0.885; default embedding 0.902-0.910 over random_state
    # 0-4. A deeper embedding (hidden_layer_sizes=(256,), no projection head)
    # overfits digits 0-5 and scores 0.74, below raw pixels.
    assert raw_auc == pytest.approx(0.885, abs=0.01)
    assert auc > raw_auc + 0.01


@pytest.mark.parametrize("loss", ["contrastive", "triplet"])
def test_losses_learn(loss):
    X, y = _noisy_classes()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, stratify=y, random_state=0)
    # a non-linear net without head: untrained, its ReLU layer loses much of
    # the distances (a linear map, as in the default, would keep them)
    params = dict(
        loss=loss,
        hidden_layer_sizes=(64,),
        embedding_dim=32,
        projection_dim=None,
        max_epochs=15,
        random_state=0,
    )
    acc = SiameseTransformer(**params).fit(X_tr, y_tr).score(X_te, y_te)
    untrained = SiameseTransformer(lr=1e-12, **params).fit(X_tr, y_tr)
    acc_untrained = untrained.score(X_te, y_te)
    # measured over random_state 0-4 (both losses): trained 0.45-0.55,
    # untrained 0.16-0.22, a gain of 0.23-0.38; chance is 0.05
    assert acc > 0.4
    assert acc > acc_untrained + 0.2


def test_hard_mining_helps_on_near_duplicate_classes():
    X, y = _twin_classes()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, stratify=y, random_state=0)

    def mean_accuracy(miner):
        return np.mean(
            [
                SiameseTransformer(
                    loss="triplet", miner=miner, max_epochs=10, random_state=seed
                )
                .fit(X_tr, y_tr)
                .score(X_te, y_te)
                for seed in range(3)
            ]
        )

    # measured: hard 0.929, all 0.889 (hard wins for each of the three seeds)
    assert mean_accuracy("hard") >= mean_accuracy("all")


def test_pipeline_with_knn_cross_validates_well():
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        SiameseTransformer(max_epochs=10, random_state=0),
        KNeighborsClassifier(),
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    # measured: 0.947-0.962
    assert scores.min() > 0.9


def test_grid_search_over_margin_and_loss():
    X, y = make_classification(
        n_samples=300,
        n_features=20,
        n_informative=5,
        n_classes=4,
        n_clusters_per_class=2,
        random_state=0,
    )
    grid = {"margin": [0.05, 0.5], "loss": ["contrastive", "triplet"]}
    search = GridSearchCV(
        # without model selection, which may keep the untrained network for
        # every setting on 200 training rows
        SiameseTransformer(max_epochs=5, early_stopping=False, random_state=0),
        grid,
        cv=3,
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    # measured: 0.487-0.543
    assert len(np.unique(np.round(scores, 6))) > 1
    assert search.best_params_ in [
        {"margin": m, "loss": loss} for m in grid["margin"] for loss in grid["loss"]
    ]
    assert search.best_score_ == scores.max()
    assert search.best_estimator_.margin == search.best_params_["margin"]
    assert search.best_estimator_.loss == search.best_params_["loss"]


# -- repeatability and state -----------------------------------------------------------


def test_random_state_makes_fits_repeatable(blobs):
    X, y = blobs
    est = SiameseTransformer(max_epochs=2, random_state=0)
    first = est.fit(X, y).transform(X)
    again = est.fit(X, y).transform(X)
    cloned = clone(est).fit(X, y).transform(X)
    other = SiameseTransformer(max_epochs=2, random_state=1).fit(X, y).transform(X)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, cloned)
    assert not np.allclose(first, other)


def test_fit_leaves_global_random_state_alone(blobs):
    X, y = blobs
    torch_state = torch.get_rng_state().clone()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global state)
    est = SiameseTransformer(max_epochs=2, random_state=0, warm_start=True)
    est.fit(X, y)
    est.fit(X, y)  # warm start
    est.partial_fit(X, y)
    SiameseTransformer(max_epochs=2, random_state=0, early_stopping=True).fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_pickle_round_trip(fitted, blobs):
    X, _ = blobs
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))


def test_transform_of_single_rows_matches_batch(fitted, blobs):
    # float32 resolution; see check_methods_subset_invariance in
    # test_estimator_checks.py for why bit-exactness is not expected
    X, _ = blobs
    full = fitted.transform(X[:20])
    rows = np.vstack([fitted.transform(x[None]) for x in X[:20]])
    np.testing.assert_allclose(rows, full, rtol=1e-4, atol=1e-5)


def test_partial_fit_learns_a_new_class():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, stratify=y, random_state=0)
    old_tr, old_te = y_tr < 7, y_te < 7
    est = SiameseTransformer(max_epochs=5, random_state=0)
    est.partial_fit(X_tr[old_tr], y_tr[old_tr], classes=np.arange(7))
    np.testing.assert_array_equal(est.classes_, np.arange(7))
    assert not np.any(est.predict(X_te) == 7)
    before = np.mean(est.predict(X_te[old_te]) == y_te[old_te])

    est.partial_fit(X_tr[y_tr == 7], y_tr[y_tr == 7])
    np.testing.assert_array_equal(est.classes_, np.arange(8))
    pred = est.predict(X_te)
    # measured: new class 1.0, old classes 0.978-0.984
    assert np.mean(pred[y_te == 7] == 7) > 0.8
    assert np.mean(pred[old_te] == y_te[old_te]) > 0.9
    # the new class costs the old ones little (a replay memory of them)
    assert np.mean(pred[old_te] == y_te[old_te]) > before - 0.02


def test_warm_start_continues_training(blobs):
    X, y = blobs
    # without model selection, which stops the blobs' perfect start early
    est = SiameseTransformer(max_epochs=2, early_stopping=False, warm_start=True)
    est.set_params(random_state=0).fit(X, y)
    weights = copy.deepcopy(est.net_.module_.state_dict())
    assert est.n_iter_ == 2
    est.fit(X, y)
    assert est.n_iter_ == 4
    assert len(est.history_) == 4
    changed = [
        not torch.equal(weights[k], v) for k, v in est.net_.module_.state_dict().items()
    ]
    assert any(changed)

    est.set_params(warm_start=False).fit(X, y)
    assert est.n_iter_ == 2


# -- inputs and outputs ----------------------------------------------------------------


def test_sparse_and_pandas_inputs_match_dense(blobs):
    X, y = blobs
    X = np.where(np.abs(X) < 2, 0.0, X)  # make it actually sparse
    dense = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    expected = dense.transform(X)

    sparse = SiameseTransformer(max_epochs=2, random_state=0).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(
        sparse.transform(sp.csr_matrix(X)), expected, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(dense.transform(sp.csr_matrix(X)), expected, atol=1e-6)

    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame = SiameseTransformer(max_epochs=2, random_state=0).fit(df, pd.Series(y))
    np.testing.assert_allclose(frame.transform(df), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(frame.feature_names_in_, df.columns)


def test_set_output_pandas(fitted, blobs):
    X, _ = blobs
    est = clone(fitted).set_output(transform="pandas").fit(*blobs)
    out = est.transform(X)
    assert isinstance(out, pd.DataFrame)
    np.testing.assert_array_equal(out.columns, est.get_feature_names_out())
    assert out.columns[0] == "siamesetransformer0"
    np.testing.assert_array_equal(out.to_numpy(), fitted.transform(X))


def test_string_labels_and_predict_proba(blobs):
    X, y = blobs
    names = np.array(["cat", "dog", "eel"])[y]
    est = SiameseTransformer(max_epochs=3, random_state=0).fit(X, names)
    np.testing.assert_array_equal(est.classes_, ["cat", "dog", "eel"])
    pred = est.predict(X)
    assert set(pred) <= {"cat", "dog", "eel"}
    assert np.mean(pred == names) > 0.9
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], pred)
    # calibrated-ish: confident on the right class most of the time
    assert np.mean(proba[np.arange(len(y)), y]) > 0.6


def _few_rows_task(seed):
    """32 training rows of 4 overlapping classes, and 1,000 new rows."""
    X, y = make_classification(
        n_samples=1032,
        n_features=20,
        n_informative=6,
        n_redundant=0,
        n_classes=4,
        n_clusters_per_class=1,
        class_sep=1.0,
        random_state=seed,
    )
    return X[:32], y[:32], X[32:], y[32:]


def test_predict_proba_is_calibrated_on_new_rows_of_a_few_row_fit():
    # a training row is part of its own class mean, so its distance to it is
    # smaller than a new row's: a temperature fitted on those distances is
    # too small and predict_proba too sure. The left-out class means fix it
    from scipy.special import softmax
    from sklearn.metrics import brier_score_loss, log_loss

    from sksiamese.estimators._prototypes import fit_temperature

    scores = {"fitted": [], "in-sample": []}
    brier = {"fitted": [], "in-sample": []}
    for seed in range(6):
        X, y, X_new, y_new = _few_rows_task(seed)
        # every row trains (no held-out rows for the temperature)
        est = SiameseTransformer(max_epochs=30, early_stopping=False, random_state=seed)
        assert est.fit(X, y).model_selection_ == "off"
        in_sample = fit_temperature(est._prototype_distances(est.transform(X)), y)
        dist = est._prototype_distances(est.transform(X_new))
        onehot = np.eye(4)[y_new]
        for name, proba in [
            ("fitted", est.predict_proba(X_new)),
            ("in-sample", softmax(-dist / in_sample, axis=1)),
        ]:
            scores[name].append(log_loss(y_new, proba))
            brier[name].append(brier_score_loss(onehot.ravel(), proba.ravel()))
    assert np.mean(scores["fitted"]) < np.mean(scores["in-sample"]) - 0.05
    assert np.mean(brier["fitted"]) < np.mean(brier["in-sample"])


def test_pair_distance_and_score(fitted, blobs):
    X, y = blobs
    np.testing.assert_allclose(fitted.pair_distance(X[:50], X[:50]), 0.0, atol=1e-5)
    np.testing.assert_allclose(fitted.pair_score(X[:50], X[:50]), 1.0, atol=1e-5)
    i, j = _random_pairs(y, n_pairs=500)
    same = y[i] == y[j]
    d = fitted.pair_distance(X[i], X[j])
    assert d[same].mean() < d[~same].mean()
    with pytest.raises(ValueError, match="same number of rows"):
        fitted.pair_distance(X[:5], X[:4])
    with pytest.raises(ValueError, match="same number of rows"):
        fitted.pair_score(X[:5], X[:4])


# -- parameters routed to skorch, custom modules ---------------------------------------


def test_module_params_are_routed(blobs):
    X, y = blobs
    est = SiameseTransformer(module__normalize=True, max_epochs=2, random_state=0)
    assert est.get_params()["module__normalize"] is True
    assert clone(est).module__normalize is True
    emb = est.fit(X, y).transform(X)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    raw = est.set_params(module__normalize=False).fit(X, y).transform(X)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, rtol=1e-3)


def test_optimizer_params_are_routed(blobs):
    X, y = blobs
    est = SiameseTransformer(
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        lr=0.05,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    assert est.get_params()["optimizer__momentum"] == 0.9
    assert isinstance(est.net_.optimizer_, torch.optim.SGD)
    assert est.net_.optimizer_.param_groups[0]["momentum"] == 0.9


def test_adam_takes_the_fused_kernel_unless_told_otherwise(blobs):
    from sksiamese._engine.devices import cpu_fused_adam

    if not cpu_fused_adam():
        pytest.skip("this torch has no fused Adam kernel on CPU")
    X, y = blobs
    fused = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    assert fused.net_.optimizer_.param_groups[0]["fused"] is True
    # the user's choice of implementation wins, and gives the same model
    # up to the last bits of the arithmetic
    plain = SiameseTransformer(max_epochs=2, random_state=0, optimizer__foreach=False)
    plain.fit(X, y)
    group = plain.net_.optimizer_.param_groups[0]
    assert not group["fused"]
    assert group["foreach"] is False
    np.testing.assert_allclose(fused.transform(X), plain.transform(X), atol=1e-4)
    # another optimizer gets no such option
    sgd = SiameseTransformer(optimizer=torch.optim.SGD, max_epochs=1, random_state=0)
    assert "optimizer__fused" not in sgd.fit(X, y).net_.get_params()
    assert "optimizer__fused" in fused.net_.get_params()


def test_loss_and_miner_params_are_routed(blobs):
    X, y = blobs
    est = SiameseTransformer(
        loss="supcon",
        miner="semihard",
        loss__temperature=0.05,
        miner__margin=0.3,
        max_epochs=2,
        early_stopping=False,
        random_state=0,
    )
    params = est.get_params()
    assert params["loss__temperature"] == 0.05
    assert params["miner__margin"] == 0.3
    assert clone(est).loss__temperature == 0.05
    crit = est.fit(X, y).net_.criterion_
    assert crit.loss.temperature == 0.05
    assert crit.miner.margin == 0.3
    # the miner measures with the estimator's distance
    assert type(crit.miner.distance) is type(crit.distance)
    emb = est.transform(X)
    est.set_params(loss__temperature=0.5)
    assert est.fit(X, y).net_.criterion_.loss.temperature == 0.5
    assert not np.allclose(est.transform(X), emb, atol=1e-3)


@pytest.mark.parametrize(
    ("params", "band"),
    [
        # the loss's margin when it has one: the triplets with a non-zero loss
        ({"loss": "triplet", "margin": 0.4}, 0.4),
        ({"loss": "triplet"}, 0.2),
        ({"loss": "contrastive"}, 1.0),
        ({"loss": "contrastive", "loss__margin": 0.7}, 0.7),
        # SupCon has a temperature, not a margin: the miner keeps its default
        ({"loss": "supcon", "loss__temperature": 0.05}, 0.2),
        ({"loss": "supcon", "miner__margin": 0.3}, 0.3),
        ({"loss": "triplet", "margin": 0.4, "miner__margin": 0.1}, 0.1),
    ],
)
def test_semihard_band_default(params, band):
    est = SiameseTransformer(miner="semihard", distance="euclidean", **params)
    _, miner, _ = est._criterion_parts(est._resolve_training())
    assert miner.margin == band
    assert type(miner.distance).__name__ == "EuclideanDistance"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"loss": "supcon", "margin": 0.1}, "supcon.*no margin.*loss__temperature"),
        ({"loss": "supcon", "loss__margin": 0.1}, "no parameter 'margin'"),
        ({"loss": "triplet", "loss__temperature": 0.1}, "no parameter 'temperature'"),
        ({"margin": 0.3, "loss__margin": 0.5}, "both set"),
        ({"miner": "hard", "miner__margin": 0.3}, "BatchHardMiner.*'margin'"),
        ({"loss__temperature": 0.0, "loss": "supcon"}, "temperature must be"),
        ({"miner": "semihard", "miner__band": 0.3}, "no parameter 'band'"),
    ],
)
def test_loss_and_miner_params_that_cannot_take_effect_raise(blobs, params, match):
    X, y = blobs
    est = SiameseTransformer(max_epochs=1, random_state=0, **params)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "net_")


def test_loss_and_miner_instances(blobs):
    from sksiamese.losses import SupConLoss, TripletLoss
    from sksiamese.miners import SemiHardMiner

    X, y = blobs
    loss, miner = TripletLoss(margin=0.2), SemiHardMiner(margin=0.5)
    # parameters meant for a named loss or miner raise with an instance
    for params in ({"loss__margin": 0.3}, {"miner__margin": 0.3}):
        est = SiameseTransformer(loss=loss, miner=miner, max_epochs=1, **params)
        with pytest.raises(ValueError, match="instance"):
            est.fit(X, y)
    # margin is set on a copy of an instance that has one; the instance, the
    # estimator's parameter, is left alone
    est = SiameseTransformer(loss=loss, miner=miner, margin=0.4, max_epochs=1)
    crit = est.fit(X, y).net_.criterion_
    assert crit.loss.margin == 0.4
    assert crit.loss is not loss
    assert crit.miner is not miner
    assert loss.margin == 0.2
    assert crit.miner.margin == 0.5  # an instance miner is used as given
    with pytest.raises(ValueError, match="SupConLoss.*no margin"):
        SiameseTransformer(loss=SupConLoss(), margin=0.4, max_epochs=1).fit(X, y)


def test_unknown_keyword_is_rejected():
    with pytest.raises(TypeError, match="foo"):
        SiameseTransformer(foo=1)


class TinyNet(nn.Module):
    def __init__(self, n_features, width=16, out=4):
        super().__init__()
        self.width = width
        self.layers = nn.Sequential(
            nn.Linear(n_features, width), nn.ReLU(), nn.Linear(width, out)
        )

    def forward(self, X):
        return self.layers(X)


def test_custom_module_class(blobs):
    X, y = blobs
    est = SiameseTransformer(
        TinyNet, module__width=8, module__out=3, lr=1e-2, max_epochs=5, random_state=0
    ).fit(X, y)
    assert isinstance(est.net_.module_, TinyNet)
    assert est.net_.module_.width == 8
    assert est.transform(X).shape == (len(X), 3)
    assert est.score(X, y) > 0.9


def test_custom_module_instance_is_not_modified(blobs):
    X, y = blobs
    torch.manual_seed(0)
    module = TinyNet(n_features=X.shape[1])
    before = copy.deepcopy(module.state_dict())
    est = SiameseTransformer(module, lr=1e-2, max_epochs=5, random_state=0).fit(X, y)
    assert est.net_.module_ is not module
    assert est.module is module
    for key, value in module.state_dict().items():
        assert torch.equal(value, before[key])
    assert module.training
    assert est.score(X, y) > 0.9


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), [0, 1, 1], "NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), [0, 1, 1], "infinity"),
        (np.array([[1e300, 1.0], [1.0, 2.0], [3.0, 4.0]]), [0, 1, 1], "float32"),
        (np.array([0.0, 1.0, 2.0]), [0, 1, 1], "Expected 2D array"),
        (np.ones((4, 2)), [0, 0, 0, 0], "at least 2 classes"),
        (np.ones((4, 2)), [0, 1, 1], "inconsistent numbers of samples"),
        (np.ones((4, 2)), [0.5, 1.5, 2.5, 3.5], "Unknown label type"),
    ],
)
def test_bad_training_data(X, y, match):
    est = SiameseTransformer(max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "net_")


def test_transform_checks_input(fitted, blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="features"):
        fitted.transform(X[:, :-1])
    with pytest.raises(ValueError, match="NaN"):
        fitted.transform(np.full_like(X[:2], np.nan))
    with pytest.raises(NotFittedError):
        SiameseTransformer().transform(X)
    with pytest.raises(NotFittedError):
        SiameseTransformer().predict(X)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        # the options are listed as a set, in no fixed order
        ({"loss": "hinge"}, r"'loss'(?=.*'contrastive')(?=.*'supcon')(?=.*'triplet')"),
        ({"distance": "manhattan"}, r"'distance'(?=.*'cosine')(?=.*'euclidean')"),
        ({"miner": "hardest"}, r"'miner'(?=.*'all')(?=.*'hard')(?=.*'semihard')"),
        ({"batch_size": 0}, "'batch_size'"),
        ({"max_epochs": 0}, "'max_epochs'"),
        ({"margin": 0.0}, "'margin'"),
        ({"margin": -1.0}, "'margin'"),
        ({"lr": -0.1}, "'lr'"),
    ],
)
def test_invalid_parameters(blobs, params, match):
    X, y = blobs
    est = SiameseTransformer(**params)
    with pytest.raises(InvalidParameterError, match=match):
        est.fit(X, y)
    with pytest.raises(InvalidParameterError, match=match):
        clone(est).partial_fit(X, y)


def test_diverging_loss_raises_and_leaves_no_model(blobs):
    X, y = blobs
    est = SiameseTransformer(lr=1e30, max_epochs=3, random_state=0)
    with pytest.raises(FloatingPointError, match="learning rate"):
        est.fit(X, y)
    assert not hasattr(est, "net_")
    with pytest.raises(NotFittedError):
        est.transform(X)

    # a failed refit leaves the previous model as it was
    est.set_params(lr=1e-3).fit(X, y)
    net = est.net_
    with pytest.raises(FloatingPointError, match="learning rate"):
        est.set_params(lr=1e30).fit(X, y)
    assert est.net_ is net


def test_classes_smaller_than_samples_per_class():
    # such classes are drawn with replacement into the balanced batches
    X, y = make_blobs(n_samples=60, n_features=4, centers=3, random_state=0)
    y[:3] = 3  # a class of 3 rows, fewer than samples_per_class=8
    est = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2, 3])
    assert np.isfinite(est.prototypes_).all()


# -- enroll ----------------------------------------------------------------------------


def test_enroll_recognises_classes_never_seen_in_fit():
    X, y = load_digits(return_X_y=True)
    seen = y <= 5
    model = SiameseTransformer(max_epochs=10, random_state=0).fit(X[seen], y[seen])
    X_new, y_new = X[~seen], y[~seen]
    rng = np.random.RandomState(0)
    support = np.array([rng.choice(np.flatnonzero(y_new == c)) for c in range(6, 10)])
    query = np.setdiff1d(np.arange(len(y_new)), support)

    model.enroll(X_new[support], y_new[support])  # one example per new digit

    assert list(model.classes_) == list(range(10))
    pred = model.predict(X_new[query])
    assert set(pred) <= set(range(10))
    # one-shot: 4 new digits from a single example each, while the 6 known
    # classes still compete; chance is 0.1 (measured 0.47)
    assert np.mean(pred == y_new[query]) > 0.35
    np.testing.assert_allclose(model.predict_proba(X_new[:5]).sum(1), 1, rtol=1e-5)


def test_enroll_replaces_a_known_prototype_and_survives_partial_fit(blobs):
    X, y = blobs
    model = SiameseTransformer(max_epochs=3, random_state=0).fit(X, y)
    moved = model.prototypes_.copy()
    model.enroll(X[y == 1][:3], [0, 0, 0])  # class 0 now looks like class 1
    np.testing.assert_allclose(model.prototypes_[1:], moved[1:])
    before = np.linalg.norm(moved[0] - moved[1])
    assert np.linalg.norm(model.prototypes_[0] - moved[1]) < before / 2

    model.enroll(X[y == 2][:2] + 100, [7, 7])
    model.partial_fit(X[:30], y[:30])
    assert 7 in model.classes_
    assert np.isfinite(model.prototypes_[list(model.classes_).index(7)]).all()


def test_enroll_rejects_bad_input(fitted, blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="inconsistent"):
        fitted.enroll(X[:3], y[:2])
    with pytest.raises(ValueError, match="compared"):
        copy.deepcopy(fitted).enroll(X[:2], ["a", "b"])
    with pytest.raises(NotFittedError):
        SiameseTransformer().enroll(X[:2], y[:2])


def test_raw_text_with_a_text_backbone(minilm):
    from sksiamese.modules import SentenceTransformerBackbone

    sentences = [
        "How do I bake bread?",
        "What is a good bread recipe?",
        "Tips for baking a loaf at home?",
        "Who won the football match?",
        "What was the final score of the game?",
        "Which team won yesterday?",
    ]
    topic = np.array([0, 0, 0, 1, 1, 1])
    model = SiameseTransformer(
        SentenceTransformerBackbone(minilm, freeze=True, embedding_dim=8),
        projection_dim=None,
        samples_per_class=3,
        max_epochs=3,
        random_state=0,
    ).fit(sentences, topic)
    assert model.transform(sentences).shape == (6, 8)
    assert not hasattr(model, "n_features_in_")
    new = ["Recipe for sourdough bread", "Who scored the winning goal?"]
    np.testing.assert_array_equal(model.predict(new), [0, 1])
    with pytest.raises(ValueError, match="sequence of items"):
        model.transform("a single string")


# -- unscaled input --------------------------------------------------------------------


def test_fit_warns_on_features_of_very_different_scales():
    import warnings

    from sklearn.datasets import load_iris, load_wine

    from sksiamese import SiamesePairClassifier
    from sksiamese.pairs import make_pairs

    X, y = load_wine(return_X_y=True)  # proline: std 315, hue: 0.23
    quick = {"max_epochs": 1, "random_state": 0}
    with pytest.warns(UserWarning, match=r"feature\(s\) 12 .*StandardScaler"):
        SiameseTransformer(**quick).fit(X, y)
    pairs, same = make_pairs(X, y, n_pairs=200, random_state=0)
    with pytest.warns(UserWarning, match="StandardScaler"):
        SiamesePairClassifier(**quick).fit(pairs, same)
    # the warning is earned: standardising wins (measured 0.95 against 0.83)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    raw = make_pipeline(SiameseTransformer(random_state=0), KNeighborsClassifier())
    with pytest.warns(UserWarning, match="StandardScaler"):
        raw.fit(X_train, y_train)
    raw_score = raw.score(X_test, y_test)
    scaled = make_pipeline(
        StandardScaler(), SiameseTransformer(random_state=0), KNeighborsClassifier()
    )
    assert scaled.fit(X_train, y_train).score(X_test, y_test) > raw_score + 0.05

    digits_X, digits_y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SiameseTransformer(**quick).fit(StandardScaler().fit_transform(X), y)
        # raw pixels (some constant, some nearly so) and iris (all in cm)
        SiameseTransformer(**quick).fit(digits_X, digits_y)
        SiameseTransformer(**quick).fit(*load_iris(return_X_y=True))
        # the overall magnitude is harmless: the default network ignores it
        SiameseTransformer(**quick).fit(1e6 * StandardScaler().fit_transform(X), y)
        # a backbone of the user's own is theirs to feed
        SiameseTransformer(module=_Linear, **quick).fit(X, y)


class _Linear(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 8)

    def forward(self, X):
        return self.linear(X)


def test_default_network_ignores_the_overall_scale_of_the_input():
    X, y = _noisy_classes(n_classes=6, per_class=30, seed=0)
    a = SiameseTransformer(max_epochs=5, random_state=0).fit(X, y).transform(X)
    b = SiameseTransformer(max_epochs=5, random_state=0).fit(1e6 * X, y)
    cos = lambda e: e @ e.T / np.outer(*2 * [np.linalg.norm(e, axis=1)])  # noqa: E731
    # the same up to the first layer's bias, which 1e6 * X dwarfs (measured:
    # cosines within 0.02)
    np.testing.assert_allclose(cos(a), cos(b.transform(1e6 * X)), atol=0.05)


class _DoublesItsInput(torch.nn.Module):
    """A user backbone that writes into its input (an in-place op)."""

    def __init__(self, n_features):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 4)

    def forward(self, X):
        return self.linear(X.mul_(2.0))


def test_transform_never_writes_into_the_callers_rows(blobs):
    X, y = blobs
    X = np.ascontiguousarray(X, dtype=np.float32)
    before = X.copy()
    # the default backbone reads the rows in place: same result as on a copy
    est = SiameseTransformer(max_epochs=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.transform(X), est.transform(X.copy()))
    np.testing.assert_array_equal(X, before)
    # a user backbone that writes into its input gets copies
    user = SiameseTransformer(_DoublesItsInput, max_epochs=1, random_state=0)
    first = user.fit(X, y).transform(X)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(user.transform(X), first)
