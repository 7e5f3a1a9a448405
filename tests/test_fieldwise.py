"""Tests for the field-aware backbone sksiamese.modules.FieldwiseMLP."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import make_column_transformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sksiamese import SiamesePairClassifier
from sksiamese.modules import MLP, FieldwiseMLP

FIELDS = ["name", "addr", "city", "phone"]
SEED = 0


def _typo(text, rng, n):
    chars = list(text)
    for _ in range(n):
        chars[rng.randint(len(chars))] = "abcdefghijklmnopqrstuvwxyz"[rng.randint(26)]
    return "".join(chars)


def _entities(n, rng):
    # few distinct names and cities: unrelated restaurants look alike
    names = ["golden dragon", "pizza palace", "blue moon cafe", "taco town"]
    streets = ["main st", "oak ave", "elm st", "park blvd"]
    cities = ["springfield", "shelbyville", "ogdenville"]
    return [
        {
            "name": names[rng.randint(len(names))],
            "addr": f"{rng.randint(1, 30)} {streets[rng.randint(len(streets))]}",
            "city": cities[rng.randint(len(cities))],
            "phone": "".join(str(d) for d in rng.randint(10, size=7)),
        }
        for _ in range(n)
    ]


def _pairs(entities, rng):
    """A match per entity (text fields mistyped, same phone) and two
    non-matches: its text fields with another entity's phone, and another
    entity with its name and city."""
    X, y = [], []
    for i, e in enumerate(entities):
        twin = {f: _typo(e[f], rng, 3) for f in ("name", "addr", "city")}
        X.append((e, {**twin, "phone": e["phone"]}))
        y.append(1)
        j, k = rng.choice(np.delete(np.arange(len(entities)), i), 2)
        X.append((e, {**e, "phone": entities[j]["phone"]}))
        X.append((e, {**entities[k], "name": e["name"], "city": e["city"]}))
        y += [0, 0]
    return X, np.array(y)


def _train_test():
    """Training pairs of 140 entities, test pairs of 70 others (item-disjoint:
    the test pairs are of entities never seen in training)."""
    rng = np.random.RandomState(SEED)
    entities = _entities(210, rng)
    return (*_pairs(entities[:140], rng), *_pairs(entities[140:], rng))


def _encoder():
    return make_pipeline(
        FunctionTransformer(pd.DataFrame),
        make_column_transformer(
            *[
                (TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)), f)
                for f in FIELDS
            ],
            sparse_threshold=0,
        ),
    )


# the constructed matches are, by design, less alike in the input than the
# non-matches: the label-convention guard says so
@pytest.mark.filterwarnings("ignore:The pairs labelled pos_label")
def test_fieldwise_beats_concatenated_record_when_one_field_decides():
    X_train, y_train, X_test, y_test = _train_test()
    scores = {}
    for name, module in [("concatenated", None), ("fieldwise", FieldwiseMLP)]:
        # the backbones' own similarity: no comparison head on top
        model = SiamesePairClassifier(
            module, encoder=_encoder(), head=None, max_epochs=20, random_state=0
        ).fit(X_train, y_train)
        scores[name] = roc_auc_score(y_test, model.similarity(X_test))
        scores[name + " accuracy"] = model.score(X_test, y_test)
        weights = None if module is None else model.net_.module_.field_weights()
    # measured: ROC AUC 0.954 -> 1.000, accuracy 0.890 -> 0.971
    assert scores["fieldwise"] >= 0.98, scores
    assert scores["fieldwise"] >= scores["concatenated"] + 0.02, scores
    assert scores["fieldwise accuracy"] >= scores["concatenated accuracy"] + 0.05
    # the decisive field gets the largest share of the similarity
    shares = list(weights.values())
    assert max(shares) == shares[FIELDS.index("phone")], weights


def test_output_is_weighted_per_field_cosine():
    torch.manual_seed(0)
    net = FieldwiseMLP(7, {"a": slice(0, 3), "b": slice(3, 7)}, embedding_dim=5)
    with torch.no_grad():
        net.log_weights.copy_(torch.tensor([0.05, -0.05]))
    net.eval()
    x1, x2 = torch.randn(4, 7), torch.randn(4, 7)
    e1, e2 = net(x1), net(x2)
    assert e1.shape == (4, 10)
    per_field = [
        torch.cosine_similarity(twin(x1[:, s]), twin(x2[:, s]))
        for twin, s in zip(net.twins, net.field_slices)
    ]
    share = net.field_weights()
    expected = share["a"] * per_field[0] + share["b"] * per_field[1]
    torch.testing.assert_close(torch.cosine_similarity(e1, e2), expected)
    assert share["a"] > share["b"]
    assert sum(share.values()) == pytest.approx(1.0)


def test_fields_separate_twins_and_ignored_columns():
    net = FieldwiseMLP(6, [slice(0, 2), slice(4, 6)], hidden_layer_sizes=())
    assert net.field_names == ["field0", "field1"]
    x = torch.randn(3, 6)
    changed = x.clone()
    changed[:, 2:4] = 100.0  # columns in no field do not count
    torch.testing.assert_close(net(x), net(changed))
    changed[:, 4] += torch.arange(3.0)  # a change in one field moves only its block
    out, moved = net(x), net(changed)
    torch.testing.assert_close(out[:, :32], moved[:, :32])
    assert not torch.allclose(out[:, 32:], moved[:, 32:])


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"a": slice(0, 4), "b": slice(3, 6)}, "'a'.*'b'.*overlap"),
        ({"a": slice(0, 4), "b": slice(4, 9)}, r"'b'.*past the 6 input columns"),
        ([slice(0, 6, 2)], "contiguous"),
        ([slice(-2, 6)], "non-negative"),
        ({"a": slice(2, 2)}, "no non-empty slice"),
        ({"a": [0, 1, 2]}, "must be a slice"),
        ("abc", "dict of field name to slice"),
    ],
)
def test_bad_fields_raise(fields, match):
    with pytest.raises((ValueError, TypeError), match=match):
        FieldwiseMLP(6, fields)


def test_empty_field_slices_are_skipped():
    net = FieldwiseMLP(4, {"a": slice(0, 4), "remainder": slice(0, 0)})
    assert net.field_names == ["a"]


def test_estimator_needs_fields_without_encoder_layout():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 2, 6).astype(np.float32)
    y = rng.randint(2, size=40)
    model = SiamesePairClassifier(FieldwiseMLP, max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match="module__fields"):
        model.fit(X, y)
    model.set_params(module__fields={"a": slice(0, 3), "b": slice(3, 6)})
    model.fit(X, y)
    assert model.net_.module_.field_names == ["a", "b"]
    assert model.embed(X[:, 0]).shape == (40, 2 * 128)


def _parse(items):
    return np.array([[float(v) for v in item.split()] for item in items])


def test_estimator_takes_the_fields_of_a_fitted_encoder():
    class Stub(FunctionTransformer):
        # an encoder that lays out its fields, as RecordEncoder does
        def fit(self, X, y=None):
            super().fit(X, y)
            self.field_slices_ = {"left": slice(0, 2), "right": slice(2, 5)}
            return self

    rng = np.random.RandomState(0)
    items = [" ".join(map(str, row)) for row in rng.randn(60, 5)]
    X = [(items[i], items[i + 1]) for i in range(0, 60, 2)]
    y = np.arange(30) % 2
    model = SiamesePairClassifier(
        FieldwiseMLP, encoder=Stub(_parse), embedding_dim=4, max_epochs=1
    ).fit(X, y)
    assert model.net_.module_.field_names == ["left", "right"]
    with pytest.raises(ValueError, match="FunctionTransformer has no field_slices_"):
        model.set_params(encoder=FunctionTransformer(_parse)).fit(X, y)


def test_fitted_model_round_trips_through_pickle_and_skops():
    import pickle

    pytest.importorskip("skops")
    from sksiamese import persistence

    rng = np.random.RandomState(0)
    entities = _entities(20, rng)
    X, y = _pairs(entities, rng)
    left, right = pd.DataFrame([a for a, _ in X]), pd.DataFrame([b for _, b in X])
    frame = pd.concat([left.add_prefix("ltable_"), right.add_prefix("rtable_")], axis=1)
    with pytest.warns(UserWarning, match="pos_label"):
        model = SiamesePairClassifier(
            FieldwiseMLP, embedding_dim=4, max_epochs=2, random_state=0
        ).fit(frame, y)
    # the default RecordEncoder's fields, and its whole-record block last
    assert model.net_.module_.field_names == [*FIELDS, "__record__"]
    expected = model.similarity(frame)
    for copy in (
        pickle.loads(pickle.dumps(model)),
        persistence.loads(persistence.dumps(model)),
    ):
        np.testing.assert_allclose(copy.similarity(frame), expected, rtol=1e-6)


def _encoded_pairs(n, seed=SEED):
    """The constructed pairs (see ``_pairs``) through a RecordEncoder of the
    four fields alone: ``(A, B, y)``."""
    from sksiamese.records import RecordEncoder

    rng = np.random.RandomState(seed)
    X, y = _pairs(_entities(n, rng), rng)
    left, right = (pd.DataFrame([p[i] for p in X]) for i in (0, 1))
    enc = RecordEncoder(id_field=None, whole_record=False)
    enc.fit(pd.concat([left, right]))
    return enc.transform(left), enc.transform(right), y, enc.field_slices_


def test_field_weights_start_from_the_labelled_pairs():
    A, B, y, fields = _encoded_pairs(100)
    net = FieldwiseMLP(A.shape[1], fields)
    assert set(net.field_weights().values()) == {0.25}
    net.initialize_from_pairs(A, B, y)
    weights = net.field_weights()
    # only the phone tells the constructed matches from the others
    assert weights["phone"] > 0.5, weights
    assert max(weights, key=weights.get) == "phone"
    assert sum(weights.values()) == pytest.approx(1.0)


def test_field_weights_stay_equal_when_no_field_tells_pairs_apart():
    rng = np.random.RandomState(SEED)
    A = rng.rand(60, 6)
    y = np.arange(60) % 2
    # the "matches" are the unrelated rows, the others identical copies: no
    # field agrees more in a match, so no field earns a weight
    B = np.where(y[:, None] == 1, rng.rand(60, 6), A)
    net = FieldwiseMLP(6, [slice(0, 3), slice(3, 6)])
    net.initialize_from_pairs(A, B, y)
    assert net.field_weights() == {"field0": 0.5, "field1": 0.5}
    with pytest.raises(ValueError, match="both matching"):
        net.initialize_from_pairs(A, B, np.ones(60))


def test_positive_logistic_is_logistic_regression_when_unconstrained_agrees():
    from sklearn.linear_model import LogisticRegression

    from sksiamese.modules._fieldwise import _positive_logistic

    rng = np.random.RandomState(SEED)
    X = rng.rand(200, 3)
    y = (X @ [3.0, 1.0, 0.5] + rng.normal(0, 0.5, 200) > 2.2).astype(float)
    expected = LogisticRegression(C=10.0, tol=1e-8).fit(X, y).coef_.ravel()
    assert (expected > 0).all()
    np.testing.assert_allclose(_positive_logistic(X, y, 10.0), expected, rtol=1e-3)
    # a field that only hurts gets 0, not a negative weight
    X[:, 2] = 1 - y + rng.normal(0, 0.1, 200)
    coef = _positive_logistic(X, y, 10.0)
    assert coef[2] == 0
    assert (coef[:2] > 0).all()


@pytest.mark.filterwarnings("ignore:The pairs labelled pos_label")
def test_default_backbone_on_records_weighs_fields_from_the_start():
    X_train, y_train, X_test, y_test = _train_test()
    scores = {}
    for name, params in [
        ("default", {}),
        # the default before: one embedding of the whole encoded record
        ("whole record", {"module": MLP, "module__residual": True}),
    ]:
        # the backbones' own similarity: no comparison head on top
        model = SiamesePairClassifier(random_state=0, head=None, **params)
        model.fit(X_train, y_train)
        scores[name] = model.score(X_test, y_test)
        if name == "default":
            assert isinstance(model.net_.module_, FieldwiseMLP)
            weights = model.net_.module_.field_weights()
    assert max(weights, key=weights.get) == "phone", weights
    # measured: accuracy 0.790 -> 1.000, the phone's share 0.996
    assert scores["default"] >= scores["whole record"] + 0.1, scores
    # a user's encoder has no field layout to rely on: the plain MLP
    model = SiamesePairClassifier(encoder=_encoder(), max_epochs=1, random_state=0)
    model.fit(X_train, y_train)
    assert isinstance(model.net_.module_, MLP)
