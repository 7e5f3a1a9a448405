"""Tests for blocking: sksiamese.retrieval.candidate_pairs and blocking_recall."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sksiamese import SiamesePairClassifier
from sksiamese.retrieval import blocking_recall, candidate_pairs

LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _word(rng, n=8):
    return "".join(rng.choice(LETTERS, n))


def _typo(text, rng):
    chars = list(text)
    chars[rng.randint(len(chars))] = rng.choice(LETTERS)
    return "".join(chars)


def _record(rng):
    return {"name": f"{_word(rng)} {_word(rng, 5)}", "city": _word(rng, 6)}


def _variant(record, rng):
    return {"name": _typo(record["name"], rng), "city": record["city"]}


@pytest.fixture(scope="module")
def model():
    rng = np.random.RandomState(1)
    records = [_record(rng) for _ in range(80)]
    X, y = [], []
    for i, r in enumerate(records):
        X.append((r, _variant(r, rng)))
        X.append((r, records[(i + 1) % len(records)]))
        y += [1, 0]
    encoder = make_pipeline(
        FunctionTransformer(pd.DataFrame),
        make_column_transformer(
            (TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)), "name"),
            (TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)), "city"),
            sparse_threshold=0,
        ),
    )
    return SiamesePairClassifier(encoder=encoder, max_epochs=5, random_state=0).fit(
        X, y
    )


@pytest.fixture(scope="module")
def tables():
    """Two tables with 40 planted matches (ids i <-> 100 + i), shuffled, and
    20 records on each side without a match."""
    rng = np.random.RandomState(2)
    shared = [_record(rng) for _ in range(40)]
    left = [{"id": i, **r} for i, r in enumerate(shared)]
    left += [{"id": 40 + i, **_record(rng)} for i in range(20)]
    right = [{"id": 100 + i, **_variant(r, rng)} for i, r in enumerate(shared)]
    right += [{"id": 200 + i, **_record(rng)} for i in range(20)]
    left = pd.DataFrame(left).sample(frac=1, random_state=0)
    right = pd.DataFrame(right).sample(frac=1, random_state=1)
    matches = pd.DataFrame({"left_id": range(40), "right_id": range(100, 140)})
    return left, right, matches


def test_candidates_recover_planted_matches(model, tables):
    left, right, matches = tables
    recalls = []
    for k in (1, 3):
        candidates = candidate_pairs(model, left, right, n_neighbors=k)
        recalls.append(blocking_recall(candidates, matches))
        assert len(candidates) <= k * (len(left) + len(right))
    # measured: 1.0 at k=1 already
    assert recalls[0] >= 0.9, recalls
    assert recalls[1] == 1.0, recalls
    # few candidates: far fewer than all 3600 pairs
    assert len(candidates) < 0.1 * len(left) * len(right)


def test_directions_and_columns(model, tables):
    left, right, _ = tables
    one_way = candidate_pairs(model, left, right, n_neighbors=2, direction="left")
    assert (one_way.groupby("ltable_id").size() == 2).all()
    assert set(one_way["ltable_id"]) == set(left["id"])
    other = candidate_pairs(model, left, right, n_neighbors=2, direction="right")
    assert (other.groupby("rtable_id").size() == 2).all()
    both = candidate_pairs(model, left, right, n_neighbors=2)
    pairs = set(zip(both.ltable_id, both.rtable_id))
    assert pairs == set(zip(one_way.ltable_id, one_way.rtable_id)) | set(
        zip(other.ltable_id, other.rtable_id)
    )
    assert len(pairs) == len(both)  # each pair once
    assert list(both.columns) == [
        "_id",
        "ltable_id",
        "rtable_id",
        "distance",
        "ltable_name",
        "ltable_city",
        "rtable_name",
        "rtable_city",
    ]
    # the fields are those of the records the ids name
    by_id = right.set_index("id")
    assert (both["rtable_name"] == by_id.loc[both["rtable_id"], "name"].values).all()
    # sorted by left record, then distance
    for _, group in both.groupby("ltable_id", sort=False):
        assert np.all(np.diff(group["distance"]) >= 0)
    bare = candidate_pairs(model, left, right, n_neighbors=2, fields=False)
    assert list(bare.columns) == ["_id", "ltable_id", "rtable_id", "distance"]


def test_ids_from_the_index_and_large_k(model, tables):
    left, right, _ = tables
    left = left.set_index("id")
    right = right.set_index("id")
    candidates = candidate_pairs(
        model, left, right, n_neighbors=500, direction="left", id_column=None
    )
    # more neighbours than records: every pair
    assert len(candidates) == len(left) * len(right)
    assert set(candidates["ltable_id"]) == set(left.index)


def test_bad_input(model, tables):
    left, right, matches = tables
    with pytest.raises(ValueError, match="no id column 'key'"):
        candidate_pairs(model, left, right, id_column="key")
    with pytest.raises(ValueError, match="direction"):
        candidate_pairs(model, left, right, direction="up")
    with pytest.raises(ValueError, match="n_neighbors"):
        candidate_pairs(model, left, right, n_neighbors=0)
    twice = pd.concat([left, left.iloc[:1]])
    with pytest.raises(ValueError, match="ids of the left table are not unique"):
        candidate_pairs(model, twice, right)


def test_blocking_recall_conventions_and_errors():
    candidates = pd.DataFrame({"left_key": ["a", "b"], "right_key": ["x", "y"]})
    assert blocking_recall(candidates, [("a", "x"), ("b", "x")], id_column="key") == 0.5
    # a true match listed twice counts once
    assert blocking_recall(candidates, [("a", "x"), ("a", "x")], id_column="key") == 1
    with pytest.raises(ValueError, match="no ltable_id"):
        blocking_recall(candidates, [("a", "x")])
    with pytest.raises(ValueError, match="one .left id, right id. row"):
        blocking_recall(candidates, ["a", "x"], id_column="key")
    with pytest.raises(TypeError, match="DataFrame of candidate pairs"):
        blocking_recall([("a", "x")], [("a", "x")])


def test_candidates_go_to_predict_of_a_record_pair_model(tables):
    left, right, matches = tables
    rng = np.random.RandomState(3)
    # trained on Magellan columns, record ids included, default RecordEncoder
    rows = []
    for i in range(60):
        r, other = _record(rng), _record(rng)
        for j, (b, label) in enumerate([(_variant(r, rng), 1), (other, 0)]):
            rows.append(
                {
                    "ltable_id": 1000 + i,
                    "rtable_id": 2000 + 2 * i + j,
                    **{f"ltable_{f}": v for f, v in r.items()},
                    **{f"rtable_{f}": v for f, v in b.items()},
                    "label": label,
                }
            )
    pairs = pd.DataFrame(rows)
    model = SiamesePairClassifier(max_epochs=10, random_state=0)
    model.fit(pairs.drop(columns="label"), pairs["label"])
    candidates = candidate_pairs(model, left, right, n_neighbors=2)
    assert blocking_recall(candidates, matches) == 1.0
    predicted = candidates[model.predict(candidates) == 1]
    assert blocking_recall(predicted, matches) >= 0.9
    planted = set(zip(matches.left_id, matches.right_id))
    found = set(zip(predicted.ltable_id, predicted.rtable_id))
    assert len(found & planted) >= 0.9 * len(found)  # few false matches
