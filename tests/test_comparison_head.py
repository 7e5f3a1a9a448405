"""The learned comparison head of SiamesePairClassifier on records, and a
user's own validation pairs (sksiamese.estimators._comparison_head)."""

import numpy as np
import pytest

from sksiamese import SiamesePairClassifier
from sksiamese.utils.field_signals import TEXT_SIGNALS

pd = pytest.importorskip("pandas")

QUICK = {
    "max_epochs": 3,
    "hidden_layer_sizes": (16,),
    "embedding_dim": 8,
    "random_state": 0,
}


def _code_and_title_pairs(n_entities, seed):
    """Products with a code and a title, where the match depends on an
    interaction of the fields: a shared code makes a match whatever the
    wording of the title (reworded), a different code (a near one: a decoy)
    makes none however alike the titles, and when neither record has a code
    the title decides. A missing code is no disagreement, a different one
    is: a weighted mean of per-field cosines scores "no code, same title"
    below "other code, same title" (a missing block's cosine is 0, a near
    code's is above), so no threshold on it gets all of them right."""
    rng = np.random.RandomState(seed)
    words = [f"w{i:03d}x" for i in range(400)]
    rows = []
    for e in range(n_entities):
        title = list(rng.choice(words, 6, replace=False))
        code = f"qz-{rng.randint(1000, 9999)}"
        near = code[:-1] + str((int(code[-1]) + 1) % 10)  # a decoy's code
        reworded = title[:2] + list(rng.choice(words, 4, replace=False))
        other = list(rng.choice(words, 6, replace=False))
        kind = e % 4
        if kind == 0:  # same code, reworded title: a match
            rows.append((code, title, code, reworded, 1))
        elif kind == 1:  # near code, same title: a decoy
            rows.append((code, title, near, title, 0))
        elif kind == 2:  # no codes, same title up to a word: a match
            rows.append(("", title, "", title[:-1] + [other[0]], 1))
        else:  # no codes, another title
            rows.append(("", title, "", other, 0))
    return pd.DataFrame(
        {
            "ltable_code": [r[0] for r in rows],
            "ltable_title": [" ".join(r[1]) for r in rows],
            "rtable_code": [r[2] for r in rows],
            "rtable_title": [" ".join(r[3]) for r in rows],
        }
    ), np.array([r[4] for r in rows])


def test_the_head_learns_an_interaction_a_weighted_cosine_cannot_express():
    X, y = _code_and_title_pairs(480, seed=0)
    X_test, y_test = _code_and_title_pairs(240, seed=1)
    head = SiamesePairClassifier(**QUICK).fit(X, y)
    plain = SiamesePairClassifier(head=None, **QUICK).fit(X, y)
    assert head.head_ is not None
    assert plain.head_ is None
    assert head.score(X_test, y_test) >= 0.95
    assert plain.score(X_test, y_test) <= 0.85
    # probabilities stay calibrated: they order and bound the pairs
    proba = head.predict_proba(X_test)[:, 1]
    assert proba[y_test == 1].mean() > 0.8 > 0.2 > proba[y_test == 0].mean()


def _priced_pairs(n, seed, as_text):
    """Records whose matches share an exact price; the other pairs have a
    price within 10 %; names are unrelated words on both sides, and a field
    of junk strings says nothing."""
    rng = np.random.RandomState(seed)
    price = np.round(rng.uniform(5, 500, n), 2)
    y = np.arange(n) % 2
    other = np.round(price * np.where(y == 1, 1.0, rng.uniform(0.9, 1.1, n)), 2)
    other[(y == 0) & (other == price)] += 0.01

    def shown(p):
        return [f"$ {v:,.2f}" for v in p] if as_text else p

    def junk(k):
        return ["".join(rng.choice(list("#@!?%&*"), 5)) for _ in range(k)]

    X = pd.DataFrame(
        {
            "ltable_name": [f"item{v}" for v in rng.randint(0, 50, n)],
            "ltable_price": shown(price),
            "ltable_junk": junk(n),
            "rtable_name": [f"item{v}" for v in rng.randint(0, 50, n)],
            "rtable_price": shown(other),
            "rtable_junk": junk(n),
        }
    )
    return X, y


@pytest.mark.parametrize("as_text", [False, True])
def test_prices_compare_as_numbers_as_floats_and_as_strings(as_text):
    X, y = _priced_pairs(400, seed=0, as_text=as_text)
    X_test, y_test = _priced_pairs(200, seed=1, as_text=as_text)
    model = SiamesePairClassifier(**QUICK).fit(X, y)
    assert model.head_.numeric_fields == ["price"]
    assert model.score(X_test, y_test) >= 0.95
    if as_text:
        # the junk field raised nothing and gets no weight in the twins'
        # cosine, next to a field that tells the pairs apart
        assert model.net_.module_.field_weights()["junk"] < 0.05
    else:
        # a number is one standardised column: its cosine is only its sign,
        # which the weighted cosine alone cannot match prices on
        plain = SiamesePairClassifier(head=None, **QUICK).fit(X, y)
        assert plain.score(X_test, y_test) <= 0.7


def test_validation_data_selects_the_threshold_instead_of_a_random_holdout():
    X, y = _code_and_title_pairs(320, seed=0)
    X_valid, y_valid = _code_and_title_pairs(160, seed=2)
    # the user's validation pairs come from a harder source: their matches
    # share no code, so only the title tells them (stricter than in training)
    keep = (X_valid["ltable_code"] == "").to_numpy()
    X_valid, y_valid = X_valid[keep].reset_index(drop=True), y_valid[keep]
    params = dict(head=None, **QUICK)
    random = SiamesePairClassifier(**params).fit(X, y)
    given = SiamesePairClassifier(**params).fit(
        X, y, validation_data=(X_valid, y_valid)
    )
    assert random.holdout_ != "validation_data"
    assert given.holdout_ == "validation_data"
    assert given.threshold_ != random.threshold_
    # the threshold learned on them is at least as right on them
    assert given.score(X_valid, y_valid) >= random.score(X_valid, y_valid)
    # every training pair trained: none was held out of X
    with_head = SiamesePairClassifier(**QUICK).fit(
        X, y, validation_data=(X_valid, y_valid)
    )
    assert with_head.head_.forest_.n_features_in_ > 0


def test_validation_data_errors_are_clear():
    X, y = _code_and_title_pairs(40, seed=0)
    model = SiamesePairClassifier(**QUICK)
    with pytest.raises(ValueError, match="tuple \\(X_valid, y_valid\\)"):
        model.fit(X, y, validation_data=X)
    with pytest.raises(ValueError, match="labels y_valid"):
        model.fit(X, y, validation_data=(X, None))
    with pytest.raises(ValueError, match="not seen in fit"):
        model.fit(X, y, validation_data=(X, y + 5))


def test_head_forest_needs_records():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 2, 4)
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match="head='forest' compares the fields"):
        SiamesePairClassifier(head="forest", **QUICK).fit(X, y)
    # "auto" on numeric pairs: the embeddings' similarity decides, as before
    assert SiamesePairClassifier(**QUICK).fit(X, y).head_ is None


def test_the_stored_forest_is_checked_before_it_is_rebuilt():
    import copy
    import pickle

    X, y = _code_and_title_pairs(80, seed=0)
    model = SiamesePairClassifier(**QUICK).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    state = copy.deepcopy(model.head_.__getstate__())
    # a child index past the tree's nodes: refused, never read out of bounds
    state["trees_"][0]["node_left_child"][0] = 10**6
    head = type(model.head_).__new__(type(model.head_))
    with pytest.raises(ValueError, match="index nodes or features that do not"):
        head.__setstate__(state)


def test_the_heads_threshold_maximises_the_f1_of_matches():
    """Matches are rare among record pairs and judged by their F1: where the
    most accurate threshold and the one of best F1 differ, the head takes
    the latter; the plain similarity keeps the most accurate one."""
    X, y = _code_and_title_pairs(80, seed=0)
    head = SiamesePairClassifier(**QUICK).fit(X, y)
    plain = SiamesePairClassifier(head=None, **QUICK).fit(X, y)
    # held-out scores where accepting the 5 lower matches costs 3 decoys:
    # fewer errors above 0.68, a better F1 (0.87 against 0.71) from 0.6
    negative = np.r_[np.linspace(0, 0.5, 80), [0.62, 0.66, 0.72, 0.76]]
    positive = np.r_[[0.6, 0.64, 0.68, 0.7, 0.74], np.linspace(0.8, 1, 5)]
    score = np.r_[negative, positive]
    target = np.r_[np.zeros(len(negative)), np.ones(len(positive))].astype(int)
    for model in (head, plain):
        model._positive_rate_ = None  # the held-out share as it is
        model._calibrate(score, target)
    assert 0.5 < head.threshold_ <= 0.6  # midway below the lowest match
    assert 0.66 < plain.threshold_ <= 0.68


def test_the_head_does_not_read_the_trained_twins():
    """The twins fit the training pairs the forest learns from, so their
    cosines would look more telling there than on new pairs: the head's
    score depends on the records and the encoder only, the twins give
    ``embed``."""
    import torch

    X, y = _code_and_title_pairs(80, seed=0)
    clf = SiamesePairClassifier(**QUICK).fit(X, y)
    left = X.filter(like="ltable_").rename(columns=lambda c: c[len("ltable_") :])
    before, embedded = clf.similarity(X), clf.embed(left)
    with torch.no_grad():
        for param in clf.net_.module_.parameters():
            param.add_(torch.randn_like(param))
    np.testing.assert_array_equal(clf.similarity(X), before)
    assert not np.allclose(clf.embed(left), embedded)


def test_with_the_head_auto_epochs_train_the_twins_two_epochs():
    # the twins serve embed only: max_epochs="auto" gives them 2 epochs, an
    # explicit max_epochs takes effect, and without the head "auto" stays 30
    X, y = _code_and_title_pairs(80, seed=0)
    auto = SiamesePairClassifier(early_stopping=False, random_state=0).fit(X, y)
    assert auto.training_.max_epochs == auto.n_iter_ == 2
    mine = SiamesePairClassifier(max_epochs=3, early_stopping=False, random_state=0)
    assert mine.fit(X, y).n_iter_ == 3
    plain = SiamesePairClassifier(head=None, early_stopping=False, random_state=0)
    assert plain.fit(X, y).training_.max_epochs == 30


def test_the_head_compares_whole_records_when_values_sit_in_another_field():
    # the brand pasted into the title on one side: field by field the titles
    # and brands disagree, the whole records are the same words
    from sksiamese.estimators._comparison_head import ComparisonHead

    lenovo = [
        {"title": "thinkpad x1 lenovo", "brand": ""},
        {"title": "thinkpad x1", "brand": "lenovo"},
    ]
    dell = [
        {"title": "thinkpad x1 lenovo", "brand": ""},
        {"title": "thinkpad x1", "brand": "dell"},
    ]
    records = np.empty((2, 2), dtype=object)
    records[0], records[1] = lenovo, dell
    head = ComparisonHead(["title", "brand"], [], [slice(None)])
    features = head.features(records, np.eye(4), np.array([[0, 1], [2, 3]]))
    n = len(TEXT_SIGNALS)
    assert features.shape[1] == 1 + 3 * n  # cosine, two fields, whole records
    title, whole = features[:, 1 : 1 + n], features[:, 1 + 2 * n :]
    exact = TEXT_SIGNALS.index("exact")
    assert title[:, exact].tolist() == [0.0, 0.0]
    assert whole[:, exact].tolist() == [1.0, 0.0]
    token_set = TEXT_SIGNALS.index("token_set")
    assert whole[0, token_set] == 1.0 > whole[1, token_set]


def test_head_twins_reads_out_of_fold_twin_cosines(monkeypatch):
    """head="twins": the forest also reads the twins' cosine, learned from
    twins trained on the other folds of the training pairs (each training
    pair is scored once, by twins that never saw it), and on new pairs from
    the estimator's own twins."""
    import torch

    from sksiamese.estimators import _comparison_head

    X, y = _code_and_title_pairs(120, seed=0)
    seen_by_fold = []
    fit = SiamesePairClassifier.fit

    def spy(self, X_fit, y_fit=None, **kw):
        if self.head is None:  # a fold's twins
            seen_by_fold.append({tuple(r["title"] for r in pair) for pair in X_fit})
        return fit(self, X_fit, y_fit, **kw)

    monkeypatch.setattr(SiamesePairClassifier, "fit", spy)
    clf = SiamesePairClassifier(head="twins", **QUICK).fit(X, y)
    assert clf.head_.reads_twins
    assert len(seen_by_fold) == _comparison_head._TWIN_FOLDS
    # each fold's twins leave out another third of the training pairs
    everything = set.union(*seen_by_fold)
    assert all(0.55 < len(seen) / len(everything) < 0.75 for seen in seen_by_fold)
    for i, seen in enumerate(seen_by_fold):
        others = set.intersection(*(s for j, s in enumerate(seen_by_fold) if j != i))
        assert not (everything - seen) & (everything - others)
    # the decision depends on the estimator's twins
    before = clf.similarity(X)
    with torch.no_grad():
        for param in clf.net_.module_.parameters():
            param.add_(torch.randn_like(param))
    assert not np.allclose(clf.similarity(X), before)
    pairs = np.random.RandomState(0).rand(40, 2, 4)
    with pytest.raises(ValueError, match="head='twins' compares the fields"):
        SiamesePairClassifier(head="twins", **QUICK).fit(pairs, np.arange(40) % 2)


def test_the_head_learns_from_the_pairs_the_holdout_drops(monkeypatch):
    # the identity-disjoint hold-out drops the pairs that straddle it from
    # the twins' training; the forest learns from every pair not held out
    from sksiamese.estimators._comparison_head import ComparisonHead

    X, y = _code_and_title_pairs(160, seed=0)
    # entities shared by several pairs: held-out entities leave pairs
    # straddling between them and the training entities
    X = pd.concat([X, X.assign(rtable_title=np.roll(X["rtable_title"], 1))])
    y = np.concatenate([y, np.zeros_like(y)])
    seen = {}
    holdout, head_fit = SiamesePairClassifier._holdout, ComparisonHead.fit

    def spy_holdout(self, *args, **kwargs):
        seen["train"], seen["calib"] = holdout(self, *args, **kwargs)
        return seen["train"], seen["calib"]

    def spy_fit(self, features, target, seed):
        seen["head"] = len(target)
        return head_fit(self, features, target, seed)

    monkeypatch.setattr(SiamesePairClassifier, "_holdout", spy_holdout)
    monkeypatch.setattr(ComparisonHead, "fit", spy_fit)
    clf = SiamesePairClassifier(**QUICK).fit(X, y)
    assert clf.holdout_ == "identity-disjoint"
    assert len(seen["train"]) + len(seen["calib"]) < len(y)  # some straddle
    assert seen["head"] == len(y) - len(seen["calib"])
