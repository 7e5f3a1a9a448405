"""Records with a pretrained text backbone: the field twin and the head on its
per-field cosines (sksiamese.estimators._text_records,
sksiamese.modules._record_text)."""

import pickle

import numpy as np
import pytest
from _pretrained import few_shot_defaults, text_backbone

from sksiamese import RecordEncoder, SiamesePairClassifier
from sksiamese.records import split_record_pairs
from sksiamese.retrieval import blocking_recall, candidate_pairs

pd = pytest.importorskip("pandas")

_rng = np.random.RandomState(0)
# each word and its synonym share no character: character n-grams and the
# string similarities of the raw values see nothing in common
LEFT = ["".join(_rng.choice(list("abcdefghijklm"), 6)) for _ in range(120)]
RIGHT = ["".join(_rng.choice(list("nopqrstuvwxyz"), 6)) for _ in range(120)]
SYNONYMS = list(zip(LEFT, RIGHT, strict=True))
DEFAULTS = few_shot_defaults(min_steps=None)


class Pretrained(text_backbone(SYNONYMS, DEFAULTS)):
    """The stand-in encoder at module level, where pickle finds it."""


def _synonym_pairs(n, seed):
    """Products named in two vocabularies: a match names the same product
    with the synonyms of its words, a non-match another product; the price
    is a string ("$ 12.50") that says nothing, the city text that says
    nothing, and some cities are missing."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    rows = []
    for i in range(n):
        words = rng.choice(len(LEFT), 3, replace=False)
        other = words if y[i] else rng.choice(len(LEFT), 3, replace=False)
        city = [rng.choice(["paris", "rome", "", None, np.nan]) for _ in (0, 1)]
        rows.append(
            {
                "ltable_id": f"a{i}",
                "ltable_name": " ".join(LEFT[w] for w in words),
                "ltable_price": f"$ {rng.uniform(1, 100):.2f}",
                "ltable_city": city[0],
                "rtable_id": f"b{i}",
                "rtable_name": " ".join(RIGHT[w] for w in other),
                "rtable_price": f"$ {rng.uniform(1, 100):.2f}",
                "rtable_city": city[1],
            }
        )
    return pd.DataFrame(rows), y


def test_the_head_reads_pretrained_field_cosines_that_char_ngrams_cannot_see():
    X, y = _synonym_pairs(300, seed=0)
    X_test, y_test = _synonym_pairs(200, seed=1)
    pretrained = SiamesePairClassifier(module=Pretrained, random_state=0).fit(X, y)
    tfidf = SiamesePairClassifier(random_state=0).fit(X, y)
    assert pretrained.head_ is not None
    assert pretrained.score(X_test, y_test) >= 0.95
    assert tfidf.score(X_test, y_test) <= 0.7
    # the price is compared as a number, not embedded; the id neither
    assert pretrained.head_.numeric_fields == ["price"]
    assert pretrained._text_fields_ == ["name", "city"]
    proba = pretrained.predict_proba(X_test)[:, 1]
    assert np.isfinite(proba).all()
    # with the head, "auto" epochs leave the twins as pretrained
    assert pretrained.n_iter_ == 0


def test_embed_returns_the_record_embedding_field_by_field():
    X, y = _synonym_pairs(100, seed=0)
    model = SiamesePairClassifier(module=Pretrained, random_state=0).fit(X, y)
    records = pd.DataFrame(
        {
            "id": ["x", "y"],
            "name": [f"{LEFT[0]} {LEFT[1]}", f"{RIGHT[1]} {RIGHT[0]}"],
            "price": ["$ 1.00", "$ 2.00"],
            "city": ["rome", None],
        }
    )
    emb = model.embed(records)
    assert emb.shape == (2, 2 * 16)
    name, city = emb[:, :16], emb[:, 16:]
    # one encoder for both records: synonyms in any order embed alike
    np.testing.assert_allclose(name[0], name[1], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(city[0]), 1, atol=1e-5)
    assert not city[1].any()  # a missing value is a block of zeros


def test_fine_tuned_twins_do_not_feed_the_head():
    """The head reads the encoder as pretrained whatever the twins learn:
    fine-tuning them on the pairs changes embed, not the decisions."""
    X, y = _synonym_pairs(200, seed=0)
    X_test, _ = _synonym_pairs(60, seed=1)
    frozen = SiamesePairClassifier(module=Pretrained, random_state=0).fit(X, y)
    tuned = SiamesePairClassifier(
        module=Pretrained, max_epochs=2, early_stopping=False, random_state=0
    ).fit(X, y)
    assert (frozen.n_iter_, tuned.n_iter_) == (0, 2)
    left = split_record_pairs(X_test)[0]
    assert not np.allclose(frozen.embed(left), tuned.embed(left), atol=1e-3)
    proba = frozen.predict_proba(X_test)
    np.testing.assert_allclose(proba, tuned.predict_proba(X_test))


def test_class_and_instance_give_the_backbones_training_spec_on_records():
    X, y = _synonym_pairs(80, seed=0)
    specs = [
        SiamesePairClassifier(module=module, head=None, random_state=0)
        .fit(X, y)
        .training_
        for module in (Pretrained, Pretrained())
    ]
    assert specs[0] == specs[1]
    assert specs[0].lr == DEFAULTS["lr"]
    assert specs[0].max_epochs == DEFAULTS["max_epochs"]
    assert specs[0].batch_size == DEFAULTS["batch_size"]


def test_a_pickled_model_predicts_the_same():
    X, y = _synonym_pairs(100, seed=0)
    model = SiamesePairClassifier(
        module=Pretrained, max_epochs=1, early_stopping=False, random_state=0
    ).fit(X, y)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    left = split_record_pairs(X)[0]
    np.testing.assert_allclose(loaded.embed(left), model.embed(left))


def test_partial_fit_relearns_the_threshold_on_records():
    X, y = _synonym_pairs(100, seed=0)
    model = SiamesePairClassifier(module=Pretrained, random_state=0).fit(X, y)
    model.partial_fit(X.iloc[:4], y[:4])
    assert model.score(X, y) >= 0.9


def test_bad_records_raise_clear_errors():
    X, y = _synonym_pairs(60, seed=0)
    model = SiamesePairClassifier(module=Pretrained, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="lack the fields \\['city'\\]"):
        model.predict(X.drop(columns=["ltable_city", "rtable_city"]))
    bad = X.astype({"rtable_name": object})
    bad.loc[3, "rtable_name"] = b"\xff\xfe caf\xe9"
    with pytest.raises(ValueError, match="'name'.*right record of pair 3"):
        SiamesePairClassifier(module=Pretrained, random_state=0).fit(bad, y)
    with pytest.raises(ValueError, match="set encoder=None"):
        SiamesePairClassifier(
            module=Pretrained, encoder=RecordEncoder(), random_state=0
        ).fit(X, y)
    strings = SiamesePairClassifier(module=Pretrained, random_state=0)
    strings.fit(np.array([["a b", "b a"], ["c", "d"]] * 10), [1, 0] * 10)
    with pytest.raises(ValueError, match="was not fitted on records"):
        strings.predict(X)
    numbers = X[["ltable_id", "ltable_price", "rtable_id", "rtable_price"]]
    with pytest.raises(ValueError, match="no text field"):
        SiamesePairClassifier(module=Pretrained, random_state=0).fit(numbers, y)


def test_blocking_on_the_pretrained_embedding_finds_the_matches():
    X, y = _synonym_pairs(100, seed=0)
    model = SiamesePairClassifier(module=Pretrained, random_state=0).fit(X, y)
    X_new, y_new = _synonym_pairs(60, seed=1)
    left, right = split_record_pairs(X_new[y_new == 1])
    cands = candidate_pairs(model, left, right, n_neighbors=3, direction="left")
    matches = pd.DataFrame({"ltable_id": left["id"], "rtable_id": right["id"]})
    assert blocking_recall(cands, matches) >= 0.95
