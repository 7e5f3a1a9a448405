"""The held-out pairs and triplets of the tuple estimators share no item with
their training tuples: thresholds, calibration and ``scale_`` suit new items."""

import numpy as np
import pytest
import torch
from sklearn.feature_extraction import DictVectorizer

from sksiamese import (
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTripletClassifier,
)
from sksiamese._holdout import _item_disjoint_holdout
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
    clf = SiamesePairClassifier(module=_Recorder, max_epochs=2, random_state=0)
    clf.fit(X, y)
    assert clf.holdout_ == "item-disjoint"
    trained, calibration = _Recorder.seen["train"], _Recorder.seen["eval"]
    # every item occurs in many pairs, yet the calibration pairs (the only
    # rows embedded in evaluation mode during fit) share none with training
    assert len(calibration) >= 20
    assert not trained & calibration
    # ... and the threshold is the one select_threshold picks on them
    rows = {row.tobytes() for row in X.reshape(-1, 32)}
    assert calibration <= rows
    in_calib = np.array(
        [a.tobytes() in calibration and b.tobytes() in calibration for a, b in X]
    )
    expected = select_threshold(y[in_calib], clf.similarity(X[in_calib]), "accuracy")
    assert clf.threshold_ == pytest.approx(expected)


def test_item_disjoint_threshold_recalls_more_pairs_of_new_items():
    X, y = _memorisable_pairs(0, 2500)
    X_new, y_new = _memorisable_pairs(1, 1000)  # other items, same classes
    disjoint = SiamesePairClassifier(max_epochs=10, random_state=0).fit(X, y)
    # groups that make every member of every pair a distinct item: the
    # held-out pairs are then a random share of the pairs, sharing items
    # with the training pairs (the behaviour before item-disjoint hold-outs)
    shared = SiamesePairClassifier(max_epochs=10, random_state=0)
    shared.fit(X, y, groups=np.arange(2 * len(X)).reshape(-1, 2))
    recall = {}
    for name, clf in [("disjoint", disjoint), ("shared", shared)]:
        predicted = clf.predict(X_new)
        recall[name] = predicted[y_new == 1].mean()
    # the network pulls the pairs of its training items closer than those of
    # new items: a threshold set on pairs of training items rejects new ones.
    # measured (seeds 0-3): recall 0.96-0.99 against 0.51-0.70
    assert disjoint.threshold_ < shared.threshold_
    assert recall["disjoint"] > recall["shared"] + 0.2
    assert disjoint.score(X_new, y_new) > shared.score(X_new, y_new) + 0.1


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
    assert clf.fit(records, labels).holdout_ == "item-disjoint"
    assert clf.encoder_.feature_names_ == ["a", "b"]  # it read the dicts


def test_groups_set_the_items_of_the_holdout():
    X, y = _memorisable_pairs(0, 600)
    idx = np.arange(2 * len(X)).reshape(-1, 2)
    reg = SiamesePairRegressor(max_epochs=1, random_state=0)
    assert reg.fit(X, y + 0.5).holdout_ == "item-disjoint"
    triplets = make_triplets(X.reshape(-1, 32), np.repeat(y, 2), 600, random_state=0)
    tri = SiameseTripletClassifier(max_epochs=2, random_state=0)
    assert tri.fit(triplets).holdout_ is None  # nothing held out
    tri.set_params(early_stopping=True).fit(triplets, groups=idx[:, [0, 1, 0]])
    assert tri.holdout_ == "item-disjoint"
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
