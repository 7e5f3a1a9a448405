"""Tests for sksiamese.pairs: pair and triplet sampling, item-disjoint splits."""

import numpy as np
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sksiamese.pairs import (
    ItemDisjointKFold,
    make_pairs,
    make_triplets,
    pair_train_test_split,
)

# -- data ------------------------------------------------------------------------------


def _classes(n_classes=12, per_class=10, n_features=4, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = np.repeat(np.arange(n_classes), per_class)
    return centers[y] + rng.normal(size=(len(y), n_features)), y


@pytest.fixture(scope="module")
def pairs():
    X, y = _classes()
    X_pairs, y_pairs, idx = make_pairs(
        X, y, n_pairs=1500, random_state=0, return_indices=True
    )
    return X_pairs, y_pairs, idx


def _abs_diff(X_pairs):
    return np.abs(X_pairs[:, 0] - X_pairs[:, 1])


def _pair_model():
    return make_pipeline(FunctionTransformer(_abs_diff), LogisticRegression())


def _shared_items(idx, train, test):
    return np.intersect1d(idx[train].ravel(), idx[test].ravel())


# -- make_pairs ------------------------------------------------------------------------


@pytest.mark.parametrize("positive_fraction", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_make_pairs_labels_rows_and_balance(positive_fraction, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(50, 3))
    y = rng.choice(["a", "b", "c", "d"], size=50)
    X_pairs, y_pairs, idx = make_pairs(
        X,
        y,
        n_pairs=101,
        positive_fraction=positive_fraction,
        random_state=seed,
        return_indices=True,
    )
    assert X_pairs.shape == (101, 2, 3)
    assert y_pairs.shape == idx.shape[:1] == (101,)
    assert idx.dtype.kind == y_pairs.dtype.kind == "i"
    assert set(np.unique(y_pairs)) <= {0, 1}
    np.testing.assert_array_equal(y_pairs, y[idx[:, 0]] == y[idx[:, 1]])
    np.testing.assert_array_equal(X_pairs, X[idx])
    assert np.all(idx[:, 0] != idx[:, 1])
    assert abs(y_pairs.sum() - positive_fraction * 101) <= 0.5


def test_make_pairs_defaults_to_one_pair_per_row_and_shuffles():
    X, y = _classes(n_classes=3, per_class=20)
    _, y_pairs = make_pairs(X, y, random_state=0)
    assert len(y_pairs) == len(X)
    assert y_pairs.sum() == 30
    # positives and negatives are interleaved, not in two blocks
    assert np.abs(np.diff(y_pairs)).sum() > 10


def test_make_pairs_weighs_classes_equally_and_skips_singletons():
    # class sizes 2, 50, 200 and a singleton
    y = np.repeat([0, 1, 2, 3], [2, 50, 200, 1])
    X = np.arange(len(y), dtype=float)[:, None]
    _, y_pairs, idx = make_pairs(
        X, y, n_pairs=6000, random_state=0, return_indices=True
    )
    pos_class = y[idx[y_pairs == 1, 0]]
    counts = np.bincount(pos_class, minlength=4)
    assert counts[3] == 0  # a singleton has no positive partner
    np.testing.assert_allclose(counts[:3] / counts.sum(), 1 / 3, atol=0.03)
    # negatives: each class takes part about equally often, singleton included
    neg_classes = np.bincount(y[idx[y_pairs == 0]].ravel(), minlength=4)
    np.testing.assert_allclose(neg_classes / neg_classes.sum(), 1 / 4, atol=0.03)


def test_make_pairs_is_reproducible():
    X, y = _classes()
    a = make_pairs(X, y, random_state=3, return_indices=True)
    b = make_pairs(X, y, random_state=np.random.RandomState(3), return_indices=True)
    c = make_pairs(X, y, random_state=4, return_indices=True)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[2], c[2])


def test_make_pairs_of_raw_strings():
    words = ["cat", "kitten", "a considerably longer string", "car", "truck", "bus"]
    y = ["animal", "animal", "animal", "vehicle", "vehicle", "vehicle"]
    X_pairs, y_pairs, idx = make_pairs(
        words, y, n_pairs=40, random_state=0, return_indices=True
    )
    assert X_pairs.shape == (40, 2)
    assert X_pairs.dtype == object
    assert X_pairs.tolist() == [[words[i], words[j]] for i, j in idx]
    assert all(isinstance(w, str) for w in X_pairs.ravel())
    label = dict(zip(words, y))
    np.testing.assert_array_equal(y_pairs, [label[a] == label[b] for a, b in X_pairs])


def test_make_pairs_of_ragged_items_keeps_them_whole():
    items = [[1, 2], [3], [4, 5, 6], [7]]
    X_pairs, _, idx = make_pairs(
        items, [0, 0, 1, 1], n_pairs=10, random_state=0, return_indices=True
    )
    assert X_pairs.shape == (10, 2)
    assert X_pairs.tolist() == [[items[i], items[j]] for i, j in idx]


def test_make_pairs_draws_few_pairs_from_many_rows_quickly():
    # O(n**2) enumeration of 10**6 rows would not fit in memory
    y = np.arange(10**6) % 1000
    X_pairs, y_pairs = make_pairs(np.arange(10**6), y, n_pairs=100, random_state=0)
    assert X_pairs.shape == (100, 2)
    np.testing.assert_array_equal(y_pairs, y[X_pairs[:, 0]] == y[X_pairs[:, 1]])


@pytest.mark.parametrize(
    ("y", "kwargs", "match"),
    [
        ([0, 0, 0], {}, "at least 2 classes"),
        ([0, 1, 2], {}, "at least 2 rows"),
        ([0, 0, 1], {"positive_fraction": 1.5}, "positive_fraction"),
        ([0, 0, 1], {"positive_fraction": -0.1}, "positive_fraction"),
        ([0, 0, 1], {"n_pairs": 0}, "n_pairs"),
        ([0, 0, 1], {"n_pairs": 2.5}, "n_pairs"),
    ],
)
def test_make_pairs_errors(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_pairs(np.zeros((3, 2)), y, **kwargs)


def test_make_pairs_one_sided_requests_need_only_that_side():
    X = np.zeros((3, 2))
    _, y_pairs = make_pairs(X, [0, 0, 0], positive_fraction=1, random_state=0)
    assert y_pairs.tolist() == [1, 1, 1]
    _, y_pairs = make_pairs(X, [0, 1, 2], positive_fraction=0, random_state=0)
    assert y_pairs.tolist() == [0, 0, 0]


def test_make_pairs_checks_lengths():
    with pytest.raises(ValueError, match="inconsistent"):
        make_pairs(np.zeros((4, 2)), [0, 1, 1])


@settings(max_examples=40, deadline=None)
@given(
    y=st.lists(st.integers(0, 4), min_size=2, max_size=30).filter(
        lambda v: len(set(v)) >= 2 and max(v.count(c) for c in set(v)) >= 2
    ),
    n_pairs=st.integers(1, 50),
    seed=st.integers(0, 2**31 - 1),
)
def test_make_pairs_labels_property(y, n_pairs, seed):
    y = np.array(y)
    _, y_pairs, idx = make_pairs(
        np.arange(len(y)), y, n_pairs=n_pairs, random_state=seed, return_indices=True
    )
    assert np.all(idx[:, 0] != idx[:, 1])
    assert np.all((idx >= 0) & (idx < len(y)))
    np.testing.assert_array_equal(y_pairs, y[idx[:, 0]] == y[idx[:, 1]])


# -- make_triplets ---------------------------------------------------------------------


def test_make_triplets_anchor_positive_negative():
    rng = np.random.RandomState(0)
    y = rng.choice(5, size=40)
    y[0] = 5  # a singleton class: only ever a negative
    X = rng.normal(size=(40, 3))
    X_t, idx = make_triplets(X, y, n_triplets=300, random_state=0, return_indices=True)
    assert X_t.shape == (300, 3, 3)
    assert idx.shape == (300, 3)
    np.testing.assert_array_equal(X_t, X[idx])
    labels = y[idx]
    assert np.all(labels[:, 0] == labels[:, 1])
    assert np.all(idx[:, 0] != idx[:, 1])
    assert np.all(labels[:, 0] != labels[:, 2])
    assert 0 not in idx[:, :2]
    assert len(make_triplets(X, y, random_state=0)) == len(X)


def test_make_triplets_raw_items_and_reproducibility():
    words = ["cat", "kitten", "car", "truck", "bus"]
    y = [0, 0, 1, 1, 1]
    a = make_triplets(words, y, n_triplets=20, random_state=1)
    b = make_triplets(words, y, n_triplets=20, random_state=1)
    assert a.shape == (20, 3)
    assert a.dtype == object
    np.testing.assert_array_equal(a, b)
    label = dict(zip(words, y))
    for anchor, positive, negative in a:
        assert anchor != positive
        assert label[anchor] == label[positive] != label[negative]


@pytest.mark.parametrize(
    ("y", "match"), [([0, 0, 0], "at least 2 classes"), ([0, 1, 2], "at least 2 rows")]
)
def test_make_triplets_errors(y, match):
    with pytest.raises(ValueError, match=match):
        make_triplets(np.zeros((3, 2)), y)


# -- ItemDisjointKFold -----------------------------------------------------------------


@pytest.mark.parametrize("use_groups", [True, False])
@pytest.mark.parametrize(
    "cv",
    [
        ItemDisjointKFold(3),
        ItemDisjointKFold(5),
        ItemDisjointKFold(4, shuffle=True, random_state=0),
    ],
)
def test_splits_share_no_item_and_hold_both_classes(pairs, cv, use_groups):
    X_pairs, y_pairs, idx = pairs
    groups = idx if use_groups else None
    splits = list(cv.split(X_pairs, y_pairs, groups))
    assert len(splits) == cv.get_n_splits() == cv.n_splits
    tested = np.zeros(len(y_pairs), dtype=int)
    for train, test in splits:
        assert len(_shared_items(idx, train, test)) == 0
        assert set(y_pairs[test]) == set(y_pairs[train]) == {0, 1}
        assert len(np.intersect1d(train, test)) == 0
        tested[test] += 1
    # each pair is tested at most once; about 1 / n_splits of them in all
    assert tested.max() == 1
    assert tested.mean() == pytest.approx(1 / cv.n_splits, abs=0.05)


def test_naive_kfold_leaks_items_and_item_disjoint_does_not(pairs):
    X_pairs, y_pairs, idx = pairs
    naive = KFold(5, shuffle=True, random_state=0).split(X_pairs, y_pairs)
    assert all(len(_shared_items(idx, tr, te)) > 0 for tr, te in naive)
    ours = ItemDisjointKFold(5).split(X_pairs, y_pairs)
    assert all(len(_shared_items(idx, tr, te)) == 0 for tr, te in ours)


def test_derives_items_from_duplicate_rows_without_groups():
    # rows 0 and 1 of X are identical: one item, even under two indices
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    X = np.vstack([X, np.arange(30.0).reshape(15, 2) + 10])
    y = np.repeat(np.arange(5), 4)
    X_pairs, y_pairs, idx = make_pairs(
        X, y, n_pairs=400, random_state=0, return_indices=True
    )
    item = np.where(idx == 1, 0, idx)  # the true item ids
    for train, test in ItemDisjointKFold(3).split(X_pairs, y_pairs):
        assert len(_shared_items(item, train, test)) == 0


def test_raw_string_pairs_without_groups():
    words = [f"w{i}" for i in range(60)]
    y = np.arange(60) % 6
    X_pairs, y_pairs = make_pairs(words, y, n_pairs=600, random_state=0)
    for train, test in ItemDisjointKFold(3, shuffle=True, random_state=1).split(
        X_pairs, y_pairs
    ):
        assert not set(X_pairs[train].ravel()) & set(X_pairs[test].ravel())
        assert set(y_pairs[test]) == {0, 1}
    # a list of string tuples works too
    as_list = [tuple(p) for p in X_pairs]
    assert len(list(ItemDisjointKFold(3).split(as_list, y_pairs))) == 3


def test_hashable_group_ids_and_unsupervised_split(pairs):
    X_pairs, _, idx = pairs
    names = np.array([f"item-{i}" for i in range(idx.max() + 1)], dtype=object)
    for train, test in ItemDisjointKFold(4).split(X_pairs, groups=names[idx]):
        assert len(train)
        assert len(test)
        assert len(_shared_items(idx, train, test)) == 0


def test_splits_are_reproducible(pairs):
    X_pairs, y_pairs, _ = pairs

    def splits(cv):
        return [np.concatenate(s) for s in cv.split(X_pairs, y_pairs)]

    for make in (
        lambda: ItemDisjointKFold(3),
        lambda: ItemDisjointKFold(3, shuffle=True, random_state=7),
    ):
        for a, b in zip(splits(make()), splits(make())):
            np.testing.assert_array_equal(a, b)
    other = splits(ItemDisjointKFold(3, shuffle=True, random_state=8))
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(
            splits(ItemDisjointKFold(3, shuffle=True, random_state=7)), other
        )
    )


def test_works_as_cv_in_cross_val_score_without_groups(pairs):
    X_pairs, y_pairs, _ = pairs
    scores = cross_val_score(
        _pair_model(), X_pairs, y_pairs, cv=ItemDisjointKFold(3), scoring="roc_auc"
    )
    assert scores.shape == (3,)
    # the classes are well separated: |a - b| tells same from different
    assert np.all(scores > 0.8)


def test_works_as_cv_in_grid_search(pairs):
    X_pairs, y_pairs, _ = pairs
    search = GridSearchCV(
        _pair_model(),
        {"logisticregression__C": [0.01, 1.0]},
        cv=ItemDisjointKFold(3),
        scoring="roc_auc",
        error_score="raise",
    )
    search.fit(X_pairs, y_pairs)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_groups_are_routed_under_metadata_routing(pairs):
    X_pairs, y_pairs, idx = pairs
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(
            _pair_model(),
            X_pairs,
            y_pairs,
            cv=ItemDisjointKFold(3),
            params={"groups": idx},
            return_indices=True,
        )
    for train, test in zip(result["indices"]["train"], result["indices"]["test"]):
        assert len(_shared_items(idx, train, test)) == 0


def test_raises_when_a_fold_cannot_hold_both_classes(pairs):
    X_pairs, y_pairs, idx = pairs
    y = np.zeros_like(y_pairs)
    y[0] = 1  # a single positive pair can be in one test set at most
    with pytest.raises(ValueError, match="both classes"):
        list(ItemDisjointKFold(3).split(X_pairs, y, idx))
    # continuous targets are not checked for classes
    y_cont = np.linspace(0, 1, len(y_pairs))
    assert len(list(ItemDisjointKFold(3).split(X_pairs, y_cont, idx))) == 3


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n_splits": 1}, ValueError),
        ({"n_splits": 2.0}, ValueError),
        ({"random_state": 0}, ValueError),
        ({"shuffle": "yes"}, TypeError),
    ],
)
def test_invalid_parameters(kwargs, error):
    with pytest.raises(error):
        ItemDisjointKFold(**kwargs)


def test_split_errors(pairs):
    X_pairs, y_pairs, idx = pairs
    cv = ItemDisjointKFold(3)
    with pytest.raises(ValueError, match=r"shape \(n_pairs, 2\)"):
        list(cv.split(X_pairs, y_pairs, idx[:, 0]))
    with pytest.raises(ValueError, match="Pass groups"):
        list(cv.split(X_pairs.reshape(len(X_pairs), -1), y_pairs))
    with pytest.raises(ValueError, match="number of distinct items"):
        list(cv.split(np.array([["a", "b"], ["a", "b"]]), [0, 1]))


def test_repr():
    assert repr(ItemDisjointKFold(3, shuffle=True, random_state=0)) == (
        "ItemDisjointKFold(n_splits=3, random_state=0, shuffle=True)"
    )


# -- pair_train_test_split -------------------------------------------------------------


@pytest.mark.parametrize("test_size", [0.2, 0.25, 0.5])
def test_pair_train_test_split_is_item_disjoint(pairs, test_size):
    X_pairs, y_pairs, idx = pairs
    X_tr, X_te, y_tr, y_te = pair_train_test_split(
        X_pairs, y_pairs, test_size=test_size, random_state=0
    )
    assert X_tr.shape[1:] == X_te.shape[1:] == X_pairs.shape[1:]
    assert len(X_tr) == len(y_tr)
    assert len(X_te) == len(y_te)
    assert set(y_tr) == set(y_te) == {0, 1}
    train_rows = {r.tobytes() for r in X_tr.reshape(-1, X_pairs.shape[2])}
    assert not any(
        r.tobytes() in train_rows for r in X_te.reshape(-1, X_pairs.shape[2])
    )
    assert len(X_te) / (len(X_tr) + len(X_te)) == pytest.approx(test_size, abs=0.1)


def test_pair_train_test_split_with_groups_is_reproducible(pairs):
    X_pairs, y_pairs, idx = pairs
    a = pair_train_test_split(X_pairs, y_pairs, groups=idx, random_state=3)
    b = pair_train_test_split(X_pairs, y_pairs, groups=idx, random_state=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    # split the item ids themselves to see which items landed where
    idx_tr, idx_te, _, _ = pair_train_test_split(
        idx, y_pairs, groups=idx, random_state=3
    )
    assert len(np.intersect1d(idx_tr, idx_te)) == 0
    np.testing.assert_array_equal(idx_te[:, 0].size, len(a[1]))
    with pytest.raises(ValueError, match="test_size"):
        pair_train_test_split(X_pairs, y_pairs, test_size=1.0)
