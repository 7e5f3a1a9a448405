"""Record pairs as input (sksiamese.records) and the default RecordEncoder."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import roc_auc_score

from sksiamese import (
    RecordEncoder,
    SiamesePairClassifier,
    SiamesePairRegressor,
    split_record_pairs,
)
from sksiamese._engine.items import tuple_items
from sksiamese.pairs import pair_train_test_split
from sksiamese.persistence import dumps, loads, trusted_types

pd = pytest.importorskip("pandas")
sio = pytest.importorskip("skops.io", reason="skops is not installed")

QUICK = {
    "max_epochs": 3,
    "hidden_layer_sizes": (32,),
    "embedding_dim": 16,
    "random_state": 0,
}
_WORDS = [
    "alto",
    "bravo",
    "casa",
    "delta",
    "echo",
    "fino",
    "gusto",
    "hola",
    "isla",
    "jardin",
    "kilo",
    "luna",
]
_CITIES = ["los angeles", "new york", "san francisco", "atlanta", "chicago"]


def _typo(text, rng):
    """Drop or double one letter: how two sources spell one name."""
    i = rng.randint(len(text))
    return (
        text[:i] + text[i + 1 :] if rng.rand() < 0.5 else text[:i] + text[i] + text[i:]
    )


def _tables(n=120, seed=0):
    """Two tables of restaurants; record i of both is the same restaurant,
    spelled with a typo and its phone written differently on the right."""
    rng = np.random.RandomState(seed)
    names = [" ".join(rng.choice(_WORDS, 3)) + f" {i}" for i in range(n)]
    phones = [f"{rng.randint(200, 999)}{rng.randint(1000, 9999)}" for _ in range(n)]
    left = pd.DataFrame(
        {
            "id": np.arange(n),
            "name": names,
            "city": rng.choice(_CITIES, n),
            "phone": [f"{p[:3]}/{p[3:]}" for p in phones],
            "seats": rng.randint(20, 200, n).astype(float),
        }
    )
    right = left.copy()
    right["id"] = np.arange(n) + 1000
    right["name"] = [_typo(s, rng) for s in names]
    right["phone"] = [f"{p[:3]}-{p[3:]}" for p in phones]
    return left, right


def _pairs(n=120, seed=0, prefix=("ltable_", "rtable_")):
    """Labelled candidate pairs in a column convention: each record with its
    match and with two other records of the other table."""
    left, right = _tables(n, seed)
    rng = np.random.RandomState(seed + 1)
    li = np.concatenate([np.arange(n)] * 3)
    ri = np.concatenate([np.arange(n), rng.permutation(n), rng.permutation(n)])
    y = (li == ri).astype(int)
    frame = pd.concat(
        [
            left.iloc[li].reset_index(drop=True).add_prefix(prefix[0]),
            right.iloc[ri].reset_index(drop=True).add_prefix(prefix[1]),
        ],
        axis=1,
    )
    frame.insert(0, "_id", np.arange(len(frame)))
    frame["gold"] = y
    return frame, y


# -- split_record_pairs --------------------------------------------------------------


def test_both_conventions_split_into_the_same_records():
    magellan, _ = _pairs(10)
    ditto, _ = _pairs(10, prefix=("left_", "right_"))
    for (a, b), (c, d) in [
        (split_record_pairs(magellan), split_record_pairs(ditto)),
    ]:
        pd.testing.assert_frame_equal(a, c)
        pd.testing.assert_frame_equal(b, d)
        assert list(a.columns) == [
            "id",
            "name",
            "city",
            "phone",
            "seats",
        ]  # no _id, gold
    left, right = split_record_pairs(magellan.iloc[5:])
    assert left.index.tolist() == list(range(len(magellan) - 5))
    assert right["id"].iloc[0] == magellan["rtable_id"].iloc[5]


def test_split_errors_name_the_problem():
    frame, _ = _pairs(5)
    with pytest.raises(ValueError, match="No record-pair columns.*ltable_<field>"):
        split_record_pairs(frame[["_id", "gold"]])
    with pytest.raises(ValueError, match=r"\['city'\] only with ltable_"):
        split_record_pairs(frame.drop(columns="rtable_city"))
    mixed = frame.rename(columns={"rtable_city": "right_city"})
    with pytest.raises(ValueError, match="mix two record-pair conventions"):
        split_record_pairs(mixed)
    with pytest.raises(TypeError, match="DataFrame"):
        split_record_pairs(frame.to_numpy())


# -- the pair estimators on records --------------------------------------------------


def test_every_record_form_gives_the_same_model():
    magellan, y = _pairs(40)
    ditto, _ = _pairs(40, prefix=("left_", "right_"))
    tables = split_record_pairs(magellan)
    probas = [
        SiamesePairClassifier(**QUICK).fit(X, y).predict_proba(magellan)
        for X in (magellan, ditto, tables, list(tables))
    ]
    for proba in probas[1:]:
        np.testing.assert_array_equal(proba, probas[0])
    clf = SiamesePairClassifier(**QUICK).fit(magellan, y)
    assert isinstance(clf.encoder_, RecordEncoder)
    assert clf.record_fields_ == ["id", "name", "city", "phone", "seats"]
    # every inference method takes each form
    for X in (ditto, tables):
        np.testing.assert_array_equal(clf.predict_proba(X), probas[0])
        np.testing.assert_array_equal(clf.similarity(X), clf.similarity(magellan))
    assert clf.pair_distance(tables).shape == (len(y),)
    assert 0 <= clf.score(tables, y) <= 1


def test_a_column_transformer_encoder_sees_the_plain_fields():
    frame, y = _pairs(40)
    encoder = make_column_transformer(
        (TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)), "name"),
        (TfidfVectorizer(analyzer="char_wb"), "phone"),
    )
    clf = SiamesePairClassifier(encoder=encoder, **QUICK).fit(frame, y)
    expected = clf.predict_proba(frame)
    # records as tuples of dicts or of Series: the same DataFrame of records
    left, right = split_record_pairs(frame)
    dicts = list(zip(left.to_dict("records"), right.to_dict("records"), strict=True))
    series = [(left.iloc[i], right.iloc[i]) for i in range(len(left))]
    np.testing.assert_allclose(clf.predict_proba(dicts), expected, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(series), expected, atol=1e-6)
    refit = SiamesePairClassifier(encoder=encoder, **QUICK).fit(dicts, y)
    np.testing.assert_allclose(refit.predict_proba(frame), expected, atol=1e-6)


def test_embed_takes_a_dataframe_of_records_row_by_row():
    frame, y = _pairs(30)
    clf = SiamesePairClassifier(**QUICK).fit(frame, y)
    left, right = split_record_pairs(frame)
    Z = clf.embed(left)
    # the default backbone on records embeds each field (16 wide) apart
    n_fields = len(clf.encoder_.field_slices_)
    assert Z.shape == (len(left), 16 * n_fields)
    # the embedding of a record does not depend on the others embedded with it
    np.testing.assert_allclose(clf.embed(left.iloc[3:4]), Z[3:4], atol=1e-5)
    np.testing.assert_allclose(clf.embed(left.to_dict("records")[:5]), Z[:5], atol=1e-5)
    # the pair frame's prefixed columns are not records: the error shows them
    with pytest.raises(ValueError, match=r"their columns are \['ltable_"):
        clf.embed(frame.filter(like="ltable_"))
    # without the comparison head, the pair similarity is that of the
    # embeddings of its two records
    plain = SiamesePairClassifier(head=None, **QUICK).fit(frame, y)
    a, b = plain.embed(left)[:5], plain.embed(right)[:5]
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(plain.similarity(frame)[:5], cos, atol=1e-5)


def test_embed_of_a_one_column_dataframe_embeds_its_rows():
    texts = np.array([["red apple", "apple red"], ["blue sky", "red apple"]] * 10)
    clf = SiamesePairClassifier(encoder=TfidfVectorizer(), **QUICK)
    clf.fit(texts, [1, 0] * 10)
    column = pd.DataFrame({"text": ["red apple", "blue sky", "green tea"]})
    Z = clf.embed(column)
    assert Z.shape == (3, 16)  # three rows, not one per column name
    np.testing.assert_array_equal(Z, clf.embed(column["text"].tolist()))
    with pytest.raises(ValueError, match="DataFrame of 2 columns.*single raw items"):
        clf.embed(column.assign(other="x"))


def test_record_ids_identify_the_records_of_the_holdout():
    frame, _ = _pairs(4)
    items = tuple_items(frame, None)
    # left and right ids are apart: ltable_id 0 and rtable_id 0 would be two
    # records; one left id in several pairs is one record
    assert items[0, 0] == items[4, 0] == items[8, 0]
    assert len(np.unique(items[:, 0])) == 4
    assert not set(items[:, 0]) & set(items[:, 1])
    same_ids = frame.assign(rtable_id=frame["ltable_id"])
    assert not set(tuple_items(same_ids, None)[:, 0]) & set(
        tuple_items(same_ids, None)[:, 1]
    )
    # without an id field: equal records are one record
    no_ids = frame.drop(columns=["ltable_id", "rtable_id"])
    by_value = tuple_items(no_ids, None)
    np.testing.assert_array_equal(  # the same partition into records
        pd.factorize(by_value.ravel())[0], pd.factorize(items.ravel())[0]
    )

    frame, y = _pairs(120)
    clf = SiamesePairClassifier(**QUICK, validation_fraction=0.2).fit(frame, y)
    # the matching records are the identities held out whole
    assert clf.holdout_ == "identity-disjoint"
    X_train, X_test, *_ = pair_train_test_split(frame, y, random_state=0)
    for side in ("ltable_id", "rtable_id"):
        assert not set(X_train[side]) & set(X_test[side])


def test_a_fitted_classifier_matches_records_it_never_saw():
    frame, y = _pairs(150)
    X_train, X_test, y_train, y_test = pair_train_test_split(
        frame, y, test_size=0.3, random_state=0
    )
    clf = SiamesePairClassifier(random_state=0, max_epochs=10).fit(X_train, y_train)
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    accuracy = clf.score(X_test, y_test)
    # chance: AUC 0.5, accuracy 0.67 (always "no match")
    assert auc > 0.95, auc
    assert accuracy > 0.85, accuracy


def test_the_regressor_and_partial_fit_take_records():
    frame, y = _pairs(40)
    reg = SiamesePairRegressor(**QUICK).fit(frame, y.astype(float))
    assert reg.predict(split_record_pairs(frame)).shape == (len(y),)
    clf = SiamesePairClassifier(**QUICK).fit(frame, y)
    before = clf.predict_proba(frame)
    clf.partial_fit(split_record_pairs(frame.iloc[:6]), y[:6])
    assert not np.array_equal(clf.predict_proba(frame), before)


def test_a_fitted_record_model_survives_skops_and_pickle():
    frame, y = _pairs(30)
    clf = SiamesePairClassifier(**QUICK).fit(frame, y)
    expected = clf.predict_proba(frame)
    np.testing.assert_array_equal(loads(dumps(clf)).predict_proba(frame), expected)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(frame), expected)


# -- input errors --------------------------------------------------------------------


def test_bad_record_input_gets_a_clear_error():
    frame, y = _pairs(10)
    left, right = split_record_pairs(frame)
    clf = SiamesePairClassifier(**QUICK)
    with pytest.raises(ValueError, match="aligned.*30 and 29 rows"):
        clf.fit((left, right.iloc[1:]), y)
    with pytest.raises(ValueError, match=r"same fields.*\['seats'\] only in left"):
        clf.fit((left, right.drop(columns="seats")), y)
    with pytest.raises(ValueError, match=r"\['phone'\] only with rtable_"):
        clf.fit(frame.drop(columns="ltable_phone"), y)
    encoder = make_column_transformer((TfidfVectorizer(), 1))
    unprefixed = frame[["_id", "gold", "ltable_id"]].set_axis(["a", "b", "c"], axis=1)
    with pytest.raises(ValueError, match="shape.*ltable_<field>"):
        SiamesePairClassifier(encoder=encoder).fit(unprefixed, y)
    # an array of raw fields: say which forms records take
    fields = np.stack([left.to_numpy(object), right.to_numpy(object)], axis=1)
    with pytest.raises(ValueError, match="raw fields.*tuple \\(left, right\\)"):
        SiamesePairClassifier(encoder=encoder).fit(fields, y)


def test_missing_text_with_a_user_encoder_says_how_to_fill_it():
    frame, y = _pairs(20)
    frame.loc[3, "rtable_name"] = None
    encoder = make_column_transformer((TfidfVectorizer(analyzer="char_wb"), "name"))
    with pytest.raises(ValueError, match=r"'name' has 1 missing.*fillna"):
        SiamesePairClassifier(encoder=encoder, **QUICK).fit(frame, y)
    # the default encoder reads missing text as "" and imputes numbers
    frame.loc[4, "ltable_seats"] = np.nan
    clf = SiamesePairClassifier(**QUICK).fit(frame, y)
    assert np.isfinite(clf.predict_proba(frame)).all()
    with pytest.raises(ValueError, match="fitted on records"):
        clf.predict(np.zeros((3, 2, 4)))


# -- RecordEncoder -------------------------------------------------------------------


def test_record_encoder_encodes_each_field_apart():
    left, right = _tables(20)
    records = pd.concat([left, right], ignore_index=True)
    records.loc[0, "name"] = None
    records.loc[1, "seats"] = np.nan
    enc = RecordEncoder().fit(records)
    Z = enc.transform(records)
    assert Z.format == "csr"
    assert Z.dtype == np.float32
    assert enc.text_fields_ == ["name", "city", "phone"]
    assert enc.numeric_fields_ == ["seats"]
    assert "id" not in enc.field_slices_  # ids are not encoded
    slices = list(enc.field_slices_.values())
    assert slices[0].start == 0
    assert slices[-1].stop == Z.shape[1]
    assert all(a.stop == b.start for a, b in zip(slices, slices[1:], strict=False))
    names = enc.get_feature_names_out()
    assert len(names) == Z.shape[1]
    assert all(n.startswith("name__") for n in names[enc.field_slices_["name"]])
    # each text block has unit norm, so each field weighs alike in a cosine;
    # a missing text is an empty block, a missing number its median
    name = Z[:, enc.field_slices_["name"]]
    norms = np.sqrt(name.multiply(name).sum(1)).A.ravel()
    np.testing.assert_allclose(norms[1:], 1, atol=1e-5)
    assert norms[0] == 0
    seats = Z[:, enc.field_slices_["seats"]].toarray().ravel()
    assert seats[1] == 0  # the mean
    np.testing.assert_allclose(seats[2:].std(), 1, atol=0.05)
    # a weight scales its field's block; text_fields overrides the dtype
    heavy = RecordEncoder(field_weights={"city": 3.0}, text_fields=["seats"])
    Zh = heavy.fit(records).transform(records)
    city = heavy.field_slices_["city"]
    np.testing.assert_allclose(Zh[:, city].toarray(), 3 * Z[:, city].toarray())
    assert heavy.field_slices_["seats"].stop - heavy.field_slices_["seats"].start > 1
    with pytest.raises(ValueError, match=r"field_weights names fields \['price'\]"):
        RecordEncoder(field_weights={"price": 2.0}).fit(records)
    with pytest.raises(ValueError, match=r"lack the fields \['phone'\]"):
        enc.transform(records.drop(columns="phone"))


def _cosine(A, B):
    A, B = A.toarray(), B.toarray()
    return (A * B).sum(1) / np.linalg.norm(A, axis=1) / np.linalg.norm(B, axis=1)


def test_whole_record_block_sees_values_in_the_wrong_field():
    records = pd.DataFrame(
        {
            "title": ["deep nets for ranking", "sparse codes", "graph joins"],
            "authors": ["ann lee, bo wu", "cy li", "di xu"],
            "year": [2001.0, 2002.0, 2003.0],
        }
    )
    # the same paper with title and authors swapped, and another paper
    swapped = records.iloc[[0]].assign(
        title="ann lee, bo wu", authors="deep nets for ranking"
    )
    other = records.iloc[[1]]
    cos = {}
    for whole in (False, True):
        enc = RecordEncoder(whole_record=whole).fit(records)
        first = enc.transform(records.iloc[[0]])
        cos[whole] = [_cosine(first, enc.transform(x))[0] for x in (swapped, other)]
    # field by field the swap is two disagreements (only the year agrees);
    # read as one text the swapped record is the same paper. measured: 0.54
    # -> 0.75, another paper 0.02 either way
    assert cos[True][0] > cos[False][0] + 0.15
    assert cos[True][1] < 0.1
    enc = RecordEncoder().fit(records)
    assert list(enc.field_slices_)[-1] == "__record__"
    Z = enc.transform(records)
    block = Z[:, enc.field_slices_["__record__"]]
    # it weighs as much as the three field blocks (unit norm each) together
    np.testing.assert_allclose(block.multiply(block).sum(1).A.ravel(), 3, rtol=1e-5)
    assert enc.get_feature_names_out()[-1].startswith("__record____")
    with pytest.raises(ValueError, match="whole_record=False"):
        RecordEncoder().fit(records.rename(columns={"year": "__record__"}).astype(str))


def test_record_encoder_round_trips_and_clones():
    left, right = _tables(20)
    records = pd.concat([left, right], ignore_index=True)
    enc = RecordEncoder(ngram_range=(2, 3)).fit(records)
    expected = enc.transform(records).toarray()
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(enc)).transform(records).toarray(), expected
    )
    content = sio.dumps(enc)
    untrusted = sio.get_untrusted_types(data=content)
    assert set(untrusted) <= set(trusted_types())
    restored = sio.loads(content, trusted=untrusted)
    np.testing.assert_array_equal(restored.transform(records).toarray(), expected)
    assert restored.field_slices_ == enc.field_slices_
    copy = clone(enc)
    assert copy.get_params() == enc.get_params()
    assert not hasattr(copy, "field_slices_")
    with pytest.raises(ValueError, match="ngram_range"):
        RecordEncoder(ngram_range=(3, 2)).fit(records)
    with pytest.raises(ValueError, match="records"):
        RecordEncoder().fit(np.zeros((3, 2)))


def test_pair_frame_round_trips_ids(tmp_path):
    from sksiamese.records import pair_frame

    table_a = pd.DataFrame(
        {
            "id": ["a7", "a3", "a9"],
            "name": ["ann", "bob", ""],
            "price": ["$ 1", "2", "-"],
        }
    )
    table_b = pd.DataFrame(
        {"id": ["10", "2"], "name": ["anne", "rob"], "price": ["1", "2"]}
    )
    pairs = pd.DataFrame(
        {
            "ltable_id": ["a9", "a7", "a3"],
            "rtable_id": ["2", "10", "10"],
            "label": [0, 1, 0],
        }
    )
    paths = []
    for name, frame in (("tableA", table_a), ("tableB", table_b), ("train", pairs)):
        paths.append(tmp_path / f"{name}.csv")
        frame.to_csv(paths[-1], index=False)
    frame = pair_frame(*paths)
    assert frame["ltable_id"].tolist() == ["a9", "a7", "a3"]
    assert frame["rtable_id"].tolist() == ["2", "10", "10"]  # ids stay strings
    assert frame["ltable_name"].tolist() == ["", "ann", "bob"]  # "" stays ""
    assert frame["rtable_name"].tolist() == ["rob", "anne", "anne"]
    left, right = split_record_pairs(frame)
    assert left["id"].tolist() == pairs["ltable_id"].tolist()
    assert right["id"].tolist() == pairs["rtable_id"].tolist()
    # DataFrames with integer ids and string pair ids agree
    ints = table_b.assign(id=[10, 2])
    assert pair_frame(table_a, ints, pairs)["rtable_name"].tolist() == [
        "rob",
        "anne",
        "anne",
    ]


def test_pair_frame_errors_name_the_pair():
    from sksiamese.records import pair_frame

    a = pd.DataFrame({"id": [1, 2], "name": ["x", "y"]})
    b = pd.DataFrame({"id": [1, 1], "name": ["x", "y"]})
    pairs = pd.DataFrame({"ltable_id": [1, 5], "rtable_id": [1, 1]})
    with pytest.raises(ValueError, match="Pair 1 names ltable_id=5"):
        pair_frame(a, a, pairs)
    with pytest.raises(ValueError, match="table_b holds the id 1 more than once"):
        pair_frame(a, b, pairs.iloc[:1])
    with pytest.raises(ValueError, match="pairs has no column 'left'"):
        pair_frame(a, a, pairs, left_id="left")
    with pytest.raises(ValueError, match="no id column 'key'"):
        pair_frame(a, a, pairs, id_field="key")


def test_a_fit_and_a_prediction_read_the_records_once(monkeypatch):
    from sksiamese._engine import record_tuples as module

    reads = []
    read = module._read_record_tuples

    def counted(X, k, cls):
        records = read(X, k, cls)
        if records is not None:
            reads.append(type(X).__name__)
        return records

    monkeypatch.setattr(module, "_read_record_tuples", counted)
    X, y = _pairs()
    model = SiamesePairClassifier(max_epochs=2, random_state=0).fit(X, y)
    assert reads == ["DataFrame"]  # checks, ids, hold-out, head, calibration
    reads.clear()
    model.predict_proba(X)
    assert reads == ["DataFrame"]
