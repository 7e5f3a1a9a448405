"""The held-out pairs and triplets of the tuple estimators share no item with
their training tuples: thresholds, calibration and ``scale_`` suit new items."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.feature_extraction import DictVectorizer

from sksiamese import (
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTripletClassifier,
)
from sksiamese._engine.holdout import (
    _identities,
    _identity_disjoint_holdout,
    _item_disjoint_holdout,
)
from sksiamese.metrics import select_threshold
from sksiamese.pairs import make_pairs, make_triplets


class _Recorder(torch.nn.Module):
    """A linear backbone that records the rows it embeds, in training and in
    evaluation mode."""

    seen = {"train": set(), "eval": set()}

    def __init__(self, n_features):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 8)

    def forward(self, x):
        mode = "train" if self.training else "eval"
        self.seen[mode].update(row.tobytes() for row in x.detach().numpy())
        return self.linear(x)


def _memorisable_pairs(seed, n_pairs):
    """Pairs of 120 noisy items around 8 class centres, each item in many
    pairs: a network can tell the training items apart and pull their own
    pairs closer than pairs of new items."""
    rng = np.random.RandomState(seed)
    centres = np.random.RandomState(0).normal(size=(8, 32))
    y = np.repeat(np.arange(8), 15)
    X = (centres[y] + rng.normal(size=(len(y), 32))).astype(np.float32)
    return make_pairs(X, y, n_pairs=n_pairs, random_state=seed)


def test_threshold_is_learned_on_pairs_of_items_not_trained_on():
    X, y = _memorisable_pairs(0, 1500)
    for mode in _Recorder.seen.values():
        mode.clear()
    # without model selection, which may keep the untrained network and then
    # calibrate on every pair
    # and without a projection head, whose sizing embeds rows of zeros
    clf = SiamesePairClassifier(
        module=_Recorder,
        max_epochs=2,
        early_stopping=False,
        projection_dim=None,
        random_state=0,
    )
    clf.fit(X, y)
    assert clf.holdout_ == "item-disjoint"
    trained, calibration = _Recorder.seen["train"], _Recorder.seen["eval"]
    # every item occurs in many pairs, yet the calibration pairs (the only
    # rows embedded in evaluation mode during fit) share none with training
    assert len(calibration) >= 20
    assert not trained & calibration
    # ... and the threshold is the one select_threshold picks on them, moved
    # midway to the next similarity below
    rows = {row.tobytes() for row in X.reshape(-1, 32)}
    assert calibration <= rows
    in_calib = np.array(
        [a.tobytes() in calibration and b.tobytes() in calibration for a, b in X]
    )
    score = clf.similarity(X[in_calib])
    best = select_threshold(y[in_calib], score, "accuracy")
    assert clf.threshold_ == pytest.approx((best + score[score < best].max()) / 2)


def test_item_disjoint_threshold_recalls_more_pairs_of_new_items():
    X, y = _memorisable_pairs(0, 2500)
    X_new, y_new = _memorisable_pairs(1, 1000)  # other items, same classes
    # without model selection, which would stop memorising early and hide
    # where the threshold comes from
    params = dict(
        max_epochs=10, early_stopping=False, projection_dim=None, random_state=0
    )
    disjoint = SiamesePairClassifier(**params).fit(X, y)
    # groups that make every member of every pair a distinct item: the
    # held-out pairs are then a random share of the pairs, sharing items
    # with the training pairs (the behaviour before item-disjoint hold-outs)
    shared = SiamesePairClassifier(**params)
    shared.fit(X, y, groups=np.arange(2 * len(X)).reshape(-1, 2))
    recall = {}
    for name, clf in [("disjoint", disjoint), ("shared", shared)]:
        predicted = clf.predict(X_new)
        recall[name] = predicted[y_new == 1].mean()
    # the network pulls the pairs of its training items closer than those of
    # new items: a threshold set on pairs of training items rejects more new
    # ones. measured: recall 0.974 against 0.964 (0.96-0.99 against 0.51-0.70
    # before thresholds were set midway between held-out similarities)
    assert disjoint.threshold_ < shared.threshold_
    assert recall["disjoint"] > recall["shared"]


def test_holdout_falls_back_to_random_pairs_on_small_or_unhashable_data():
    X, y = _memorisable_pairs(0, 120)  # 12 held-out pairs: too few
    clf = SiamesePairClassifier(max_epochs=1, random_state=0).fit(X, y)
    assert clf.holdout_ == "random"
    clf = SiamesePairClassifier(max_epochs=1, random_state=0).fit(X[:10], y[:10])
    assert clf.holdout_ is None  # 1 held-out pair: none
    # dicts are records, told apart by value (sksiamese.records): the
    # held-out pairs share no record with the training pairs
    rng = np.random.RandomState(0)
    records = [({"a": rng.rand(), "b": 1.0}, {"a": rng.rand()}) for _ in range(300)]
    labels = np.arange(300) % 2
    clf = SiamesePairClassifier(
        encoder=DictVectorizer(sparse=False), max_epochs=1, random_state=0
    )
    # each similar pair is an identity of its own two records
    assert clf.fit(records, labels).holdout_ == "identity-disjoint"
    assert clf.encoder_.feature_names_ == ["a", "b"]  # it read the dicts


def test_groups_set_the_items_of_the_holdout():
    X, y = _memorisable_pairs(0, 600)
    idx = np.arange(2 * len(X)).reshape(-1, 2)
    reg = SiamesePairRegressor(max_epochs=1, random_state=0)
    assert reg.fit(X, y + 0.5).holdout_ == "item-disjoint"
    triplets = make_triplets(X.reshape(-1, 32), np.repeat(y, 2), 600, random_state=0)
    tri = SiameseTripletClassifier(max_epochs=2, early_stopping=False, random_state=0)
    assert tri.fit(triplets).holdout_ is None  # nothing held out
    tri.set_params(early_stopping=True).fit(triplets, groups=idx[:, [0, 1, 0]])
    assert tri.holdout_ == "identity-disjoint"  # anchor and positive: one
    clf = SiamesePairClassifier(max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"shape \(n_pairs, 2\)"):
        clf.fit(X, y, groups=idx[:, 0])
    with pytest.raises(ValueError, match="600 pairs"):
        clf.fit(X, y, groups=idx[:10])
    with pytest.raises(ValueError, match=r"shape \(n_tuples, 3\)"):
        tri.fit(triplets, groups=idx)


@pytest.mark.parametrize("n_items", [60, 2000])
def test_item_disjoint_holdout_holds_out_groups_whole_or_cuts_items(n_items):
    # 1000 random pairs: of 2000 items, they form many small groups, held out
    # whole (no pair dropped); of 60 items, one group, cut by holding out items
    rng = np.random.RandomState(0)
    items = rng.randint(n_items, size=(1000, 2))
    y = rng.randint(2, size=1000)
    train, test = _item_disjoint_holdout(items, 0.1, y, rng, min_test=20)
    assert not np.intersect1d(items[train], items[test]).size
    assert set(y[test]) == {0, 1}
    if n_items == 2000:
        assert len(train) + len(test) == 1000
        assert 50 <= len(test) <= 100
    else:
        # a quarter of the items held out: ~1/16 of the pairs held out, ~9/16
        # kept for training, the rest straddle
        assert 30 <= len(test) <= 100
        assert 450 <= len(train) <= 650
    # too few pairs for min_test
    assert _item_disjoint_holdout(items[:100], 0.1, y[:100], rng, 20) is None


def _class_pairs(n_classes, seed):
    """Pairs of 1000 items of ``n_classes`` classes, as item codes: each class
    chained by similar pairs (item to the next of its class), and as many
    random dissimilar pairs; whether each pair is similar, and the class of
    each item."""
    rng = np.random.RandomState(seed)
    item_class = rng.permutation(np.arange(1000) % n_classes)
    chains = []
    for c in range(n_classes):
        members = rng.permutation(np.flatnonzero(item_class == c))
        chains.append(np.column_stack([members[:-1], members[1:]]))
    similar_pairs = np.concatenate(chains)
    other = rng.randint(1000, size=(3 * len(similar_pairs), 2))
    other = other[item_class[other[:, 0]] != item_class[other[:, 1]]]
    items = np.concatenate([similar_pairs, other[: len(similar_pairs)]])
    return items, item_class[items[:, 0]] == item_class[items[:, 1]], item_class


def test_identity_disjoint_holdout_holds_out_whole_classes():
    items, similar, item_class = _class_pairs(50, 0)
    # the similar pairs link each class into one identity
    identity = _identities(items, similar)
    assert len(np.unique(identity)) == 50
    # the same partition of the items
    np.testing.assert_array_equal(
        pd.factorize(identity)[0], pd.factorize(item_class)[0]
    )
    rng = np.random.RandomState(0)
    train, test = _identity_disjoint_holdout(
        items, similar, 0.1, similar.astype(int), rng, min_test=20
    )
    # no class on both sides, both labels held out, no pair on both sides
    assert not set(item_class[items[train]].ravel()) & set(
        item_class[items[test]].ravel()
    )
    assert set(similar[test]) == {False, True}
    assert not np.intersect1d(train, test).size
    assert len(test) >= 20


def test_identity_disjoint_holdout_needs_many_identities():
    # 6 classes: holding out whole ones would leave few to learn from
    items, similar, _ = _class_pairs(6, 0)
    rng = np.random.RandomState(0)
    assert _identity_disjoint_holdout(items, similar, 0.1, None, rng, 20) is None
    # no similar pair links two items: the same as item-disjoint, left to it
    unlinked = np.zeros_like(similar)
    assert _identity_disjoint_holdout(items, unlinked, 0.1, None, rng, 20) is None


def test_pair_estimators_hold_out_identities_or_items():
    rng = np.random.RandomState(0)
    for n_classes, expected in [(40, "identity-disjoint"), (4, "item-disjoint")]:
        y = np.repeat(np.arange(n_classes), 400 // n_classes)
        X = rng.normal(size=(400, 8)) + 2 * rng.normal(size=(n_classes, 8))[y]
        pairs, labels = make_pairs(X, y, n_pairs=1500, random_state=0)
        clf = SiamesePairClassifier(max_epochs=1, random_state=0).fit(pairs, labels)
        assert clf.holdout_ == expected
