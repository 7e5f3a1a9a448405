"""The tuples of one call, read once (estimators/_tuple_inputs.py): what each
kind of input gives as item ids."""

import numpy as np
import pytest

from sksiamese import SiamesePairClassifier


def _pairs():
    rng = np.random.RandomState(0)
    rows = rng.normal(size=(6, 3)).astype(np.float32)
    # pairs over 6 distinct rows: row 0 appears in the first two pairs
    index = np.array([[0, 1], [0, 2], [3, 4], [5, 1]])
    return rows[index], index


def test_numeric_rows_are_the_same_item_when_identical():
    X, index = _pairs()
    inputs = SiamesePairClassifier()._read_tuples(X, reset=True)
    assert inputs.kind == "rows"
    assert inputs.source is None
    ids = inputs.ids()
    # equal rows, equal ids; different rows, different ids
    assert ids[0, 0] == ids[1, 0]
    assert ids[0, 1] == ids[3, 1]
    assert len(np.unique(ids)) == 6


def test_records_are_told_apart_by_their_id_field_not_their_values():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "ltable_id": [1, 1, 2],
            "ltable_name": ["a b", "a b", "a b"],
            "rtable_id": [7, 8, 8],
            "rtable_name": ["a b", "c d", "c d"],
        }
    )
    inputs = SiamesePairClassifier()._read_tuples(frame, reset=True)
    assert inputs.kind == "records"
    assert inputs.records.shape == (3, 2)
    ids = inputs.ids()
    # left 1 twice is one record; left 2 has the same values but its own id
    assert ids[0, 0] == ids[1, 0] != ids[2, 0]
    assert ids[1, 1] == ids[2, 1] != ids[0, 1]


def test_raw_items_are_compared_by_value_and_groups_win():
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = np.array([["a cat", "a dog"], ["a cat", "the bird"], ["x", "y"]], dtype=object)
    inputs = SiamesePairClassifier(encoder=TfidfVectorizer())._read_tuples(X, True)
    assert inputs.kind == "encoded"
    assert inputs.items.shape[0] == 6
    ids = inputs.ids()
    assert ids[0, 0] == ids[1, 0]
    assert len(np.unique(ids)) == 5
    groups = np.array([[0, 1], [2, 3], [4, 5]])
    assert len(np.unique(inputs.ids(groups))) == 6
    with pytest.raises(ValueError, match="groups holds 2 rows for 3 pairs"):
        inputs.ids(groups[:2])


def test_joined_tuples_index_one_set_of_items():
    X, _ = _pairs()
    est = SiamesePairClassifier()
    first = est._read_tuples(X, reset=True)
    second = est._read_tuples(X[:2], reset=False)
    both = first.joined(second)
    assert both.items.shape[0] == 12
    # the appended tuples point at the appended items, which equal the first
    np.testing.assert_array_equal(both.tuples[4:], second.tuples + 8)
    np.testing.assert_array_equal(
        both.items[both.tuples[4:]], first.items[first.tuples[:2]]
    )
