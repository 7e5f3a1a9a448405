"""The bad-input battery: every public estimator x every kind of bad input.

Each case either gets a scikit-learn style error (ValueError, TypeError,
NotFittedError, InvalidParameterError) whose message names the problem and
that is raised before torch sees the data, or, for input that is odd but
legitimate (a class with a single row, duplicate rows), trains and gives
finite output.
"""

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError, StrOptions

from sksiamese import (
    SiameseOutlierDetector,
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from sksiamese.evaluation import one_shot_accuracy, score_episodes
from sksiamese.metrics import equal_error_rate, spearman_score, tar_at_far
from sksiamese.pairs import (
    ItemDisjointKFold,
    make_pairs,
    make_triplets,
    pair_train_test_split,
)
from sksiamese.utils.estimator_checks import make_tuple_data

FAST = {"max_epochs": 1, "batch_size": 16, "embedding_dim": 8, "random_state": 0}
N = 40
# every third row, twice (both classes, both kinds of pair)
TWICE = np.r_[0:N:3, 0:N:3]


def _rows():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], N // 2)
    return rng.normal(size=(N, 4)) + 3 * y[:, None], y


@dataclass
class Spec:
    """How to build, fit and query one estimator."""

    make: type
    kind: str  # "rows" or "tuples"
    data: tuple
    # inference methods that take X
    methods: list = field(default_factory=list)
    margin: str = "margin"
    # y of a single class (or constant targets), and the error it gets (None:
    # it trains)
    one_class_y: object = None
    one_class: str | None = None
    # y in which one class has a single sample, and the parameters to train
    # with (for the transformer: the triplet loss on class-balanced batches)
    one_sample_y: object = None
    one_sample_params: dict = field(default_factory=dict)

    def estimator(self, **params):
        return self.make(**{**FAST, **params})

    @property
    def X(self):
        return self.data[0]

    @property
    def y(self):
        return self.data[1]

    def fit(self, X, y="same", **params):
        y = self.y if isinstance(y, str) else y
        est = self.estimator(**params)
        return est.fit(X) if y is None else est.fit(X, y)

    def output(self, est, X):
        method = "predict" if hasattr(est, "predict") else "transform"
        return getattr(est, method)(X)

    def call(self, est, method, X):
        if method in ("score", "enroll", "calibrate_threshold"):
            return getattr(est, method)(X, self.y)
        if method in ("pair_distance", "pair_score"):
            return getattr(est, method)(X, X)
        if method == "embed":
            return est.embed(X.reshape(-1, X.shape[-1]))
        return getattr(est, method)(X)


def _pairs():
    X, y = make_tuple_data(2, n_tuples=N, n_features=4)
    return X, y


def _graded():
    X, y = make_tuple_data(2, n_tuples=N, n_features=4)
    return X, y * 4.0 + np.linspace(0, 1, N)


def _triplets():
    return make_tuple_data(3, n_tuples=N, n_features=4)


SPECS = {
    "SiameseTransformer": Spec(
        SiameseTransformer,
        "rows",
        _rows(),
        ["transform", "predict", "predict_proba", "score", "pair_distance"]
        + ["pair_score", "enroll"],
        one_class_y=np.zeros(N, dtype=int),
        one_class="at least 2 classes",
        one_sample_y=np.r_[[2], _rows()[1][1:]],
        one_sample_params={"loss": "triplet", "miner": "semihard"},
    ),
    "SiameseOutlierDetector": Spec(
        SiameseOutlierDetector,
        "rows",
        (_rows()[0], None),
        ["transform", "predict", "decision_function", "score_samples"],
        margin="temperature",
        one_class_y=np.full(N, -1),
        one_class="every row as an anomaly",
        one_sample_y=np.r_[[-1], np.ones(N - 1, dtype=int)],
    ),
    "SiamesePairClassifier": Spec(
        SiamesePairClassifier,
        "tuples",
        _pairs(),
        ["predict", "predict_proba", "decision_function", "similarity", "score"]
        + ["embed", "calibrate_threshold"],
        one_class_y=np.ones(N, dtype=int),
        one_class="exactly two labels",
        one_sample_y=np.r_[[0], np.ones(N - 1, dtype=int)],
    ),
    "SiamesePairRegressor": Spec(
        SiamesePairRegressor,
        "tuples",
        _graded(),
        ["predict", "similarity", "score", "embed"],
        one_class_y=np.ones(N),
        one_class="targets that vary",
        one_sample_y=np.r_[[5.0], np.ones(N - 1)],
    ),
    "SiameseTripletClassifier": Spec(
        SiameseTripletClassifier,
        "tuples",
        _triplets(),
        ["predict", "decision_function", "score", "embed"],
        # all triplets ordered the same way is the default
        one_class_y=np.ones(N, dtype=int),
        one_sample_y=np.r_[[0], np.ones(N - 1, dtype=int)],
    ),
}


def _set(X, index, value):
    X = np.array(X, dtype=float)
    X[index] = value
    return X


def _strings(X):
    X = np.array(X, dtype=object)
    X[(0,) * X.ndim] = "red"
    return X


def _objects(X):
    X = np.array(X, dtype=object)
    X[(0,) * X.ndim] = {"a": 1}
    return X


def _frame(spec):
    """A DataFrame with a categorical and a text column among numeric ones."""
    X = spec.X.reshape(N, -1)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    df["colour"] = pd.Categorical(np.where(np.arange(N) % 2, "red", "blue"))
    df["name"] = np.array([f"item {i}" for i in range(N)], dtype=object)
    return df


def _sparse_nan(spec):
    X = sp.csr_matrix(spec.X.reshape(N, -1))
    X.data[0] = np.nan
    return X


def _wrong_shape(spec):
    """Rows: ragged rows; tuples: the wrong number of items per tuple."""
    if spec.kind == "rows":
        return [list(row) for row in spec.X[:-1]] + [list(spec.X[-1][:-1])]
    X = spec.X
    return X[:, :2] if X.shape[1] == 3 else np.concatenate([X, X[:, :1]], axis=1)


def _fit(spec, X=None, y="same", **params):
    return lambda: spec.fit(spec.X if X is None else X, y, **params)


def _y_with(spec, value, size=None):
    y = np.ones(N) if spec.y is None else np.array(spec.y, dtype=float)
    y = y[:size] if size is not None else y.copy()
    if value is not None:
        y[0] = value
    return y


# -- the cases: name -> (spec -> (call, expected error or None, message pattern)) --

ERROR = (ValueError, TypeError)


def _case_n_features(spec):
    fitted = spec.fit(spec.X)
    return (lambda: spec.output(fitted, spec.X[..., :-1])), ERROR, r"3 features.*4"


def _case_predict_nan(spec):
    fitted = spec.fit(spec.X)
    bad = _set(spec.X, (0,) * spec.X.ndim, np.nan)
    return (lambda: spec.output(fitted, bad)), ERROR, "NaN"


CASES = {
    "nan_in_X": lambda s: (_fit(s, _set(s.X, (0,) * s.X.ndim, np.nan)), ERROR, "NaN"),
    "inf_in_X": lambda s: (
        _fit(s, _set(s.X, (0,) * s.X.ndim, np.inf)),
        ERROR,
        "infinity",
    ),
    "too_large_for_float32": lambda s: (
        _fit(s, _set(s.X, (0,) * s.X.ndim, 1e300)),
        ERROR,
        "too large for float32",
    ),
    "empty_X": lambda s: (
        _fit(s, s.X[:0], None if s.y is None else s.y[:0]),
        ERROR,
        "0 sample",
    ),
    "1d_X": lambda s: (_fit(s, s.X.reshape(N, -1)[:, 0]), ERROR, "2D array|shape"),
    "too_many_dims": lambda s: (_fit(s, s.X[..., None]), ERROR, "dim 3|shape"),
    "wrong_tuple_shape_or_ragged": lambda s: (
        _fit(s, _wrong_shape(s)),
        ERROR,
        "shape|same number of numeric features",
    ),
    "strings_in_X": lambda s: (
        _fit(s, _strings(s.X)),
        ERROR,
        "not numbers|non-numeric",
    ),
    "object_array": lambda s: (
        _fit(s, _objects(s.X)),
        ERROR,
        "not numbers|non-numeric",
    ),
    "y_one_class": lambda s: (
        _fit(s, y=s.one_class_y),
        None if s.one_class is None else ERROR,
        s.one_class,
    ),
    "class_with_one_sample": lambda s: (
        _fit(s, y=s.one_sample_y, **s.one_sample_params),
        None,
        None,
    ),
    "mismatched_lengths": lambda s: (
        _fit(s, y=_y_with(s, None, size=N - 1)),
        ERROR,
        "inconsistent numbers of samples",
    ),
    "y_with_nan": lambda s: (_fit(s, y=_y_with(s, np.nan)), ERROR, "NaN"),
    "batch_size_zero": lambda s: (
        _fit(s, batch_size=0),
        InvalidParameterError,
        "'batch_size'",
    ),
    "batch_size_negative": lambda s: (
        _fit(s, batch_size=-4),
        InvalidParameterError,
        "'batch_size'",
    ),
    "max_epochs_zero": lambda s: (
        _fit(s, max_epochs=0),
        InvalidParameterError,
        "'max_epochs'",
    ),
    "max_epochs_negative": lambda s: (
        _fit(s, max_epochs=-1),
        InvalidParameterError,
        "'max_epochs'",
    ),
    "margin_zero": lambda s: (
        _fit(s, **{s.margin: 0.0}),
        InvalidParameterError,
        f"'{s.margin}'",
    ),
    "margin_negative": lambda s: (
        _fit(s, **{s.margin: -1.0}),
        InvalidParameterError,
        f"'{s.margin}'",
    ),
    "not_fitted": None,  # every inference method, see test_bad_input
    "wrong_n_features_at_predict": _case_n_features,
    "nan_at_predict": _case_predict_nan,
    "sparse_with_explicit_nan": lambda s: (
        _fit(s, _sparse_nan(s)),
        ERROR,
        "NaN" if s.kind == "rows" else "sparse",
    ),
    "pandas_categorical_and_object_columns": lambda s: (
        _fit(s, _frame(s)),
        ERROR,
        r"non-numeric columns \['colour', 'name'\]" if s.kind == "rows" else "shape",
    ),
    "duplicate_rows": lambda s: (
        _fit(s, s.X[TWICE], y=None if s.y is None else s.y[TWICE]),
        None,
        None,
    ),
}


def _string_options(spec):
    """The parameters that take one of a few strings, from the constraints."""
    constraints = spec.make._parameter_constraints
    params = spec.make().get_params()
    return {
        name: constraint.options
        for name, options in constraints.items()
        if name in params
        for constraint in options
        if isinstance(constraint, StrOptions)
    }


BATTERY = [
    pytest.param(name, case, id=f"{name}-{case}") for name in SPECS for case in CASES
] + [
    pytest.param(name, f"unknown_{param}", id=f"{name}-unknown_{param}")
    for name, spec in SPECS.items()
    for param in _string_options(spec)
]


def _no_torch_frames(excinfo):
    frames = [str(entry.path) for entry in excinfo.traceback]
    assert not any(f"{'/'}torch{'/'}" in path for path in frames), frames


@pytest.mark.parametrize(("name", "case"), BATTERY)
def test_bad_input(name, case):
    spec = SPECS[name]
    if case.startswith("unknown_"):
        param = case.removeprefix("unknown_")
        options = _string_options(spec)[param]
        call = _fit(spec, **{param: "no-such-option"})
        with pytest.raises(InvalidParameterError, match=f"'{param}'") as excinfo:
            call()
        # the message lists every valid option
        for option in options:
            assert repr(option) in str(excinfo.value), (option, str(excinfo.value))
        return
    if case == "not_fitted":
        est = spec.estimator()
        for method in spec.methods:
            with pytest.raises(NotFittedError, match="not fitted"):
                spec.call(est, method, spec.X)
        return
    call, error, pattern = CASES[case](spec)
    if error is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            est = call()
        out = spec.output(est, spec.X)
        assert np.isfinite(np.asarray(out, dtype=float)).all()
        return
    with pytest.raises(error) as excinfo:
        call()
    assert re.search(pattern, str(excinfo.value)), str(excinfo.value)
    _no_torch_frames(excinfo)


def test_failed_fit_leaves_no_fitted_attributes():
    for spec in SPECS.values():
        est = spec.estimator()
        with pytest.raises(ValueError, match="NaN"):
            est.fit(_set(spec.X, (0,) * spec.X.ndim, np.nan), spec.y)
        assert not [a for a in vars(est) if a.endswith("_")], type(est).__name__


# -- public functions ------------------------------------------------------------------

_X, _Y = _rows()
_Y_NAN = np.r_[[np.nan], _Y[1:].astype(float)]
_PAIRS, _SAME, _ITEMS = make_pairs(
    _X, _Y, n_pairs=60, random_state=0, return_indices=True
)
_SCORES = np.linspace(0, 1, 60)
_SCORES_NAN = np.r_[[np.nan], _SCORES[1:]]
_RAW = FunctionTransformer().fit(_X)

FUNCTION_CASES = {
    "make_pairs-y_with_nan": (lambda: make_pairs(_X, _Y_NAN), "NaN"),
    "make_pairs-mismatched_lengths": (
        lambda: make_pairs(_X, _Y[:-1]),
        "inconsistent numbers of samples",
    ),
    "make_pairs-one_class": (lambda: make_pairs(_X, np.zeros(N)), "at least 2 classes"),
    "make_pairs-negative_count": (lambda: make_pairs(_X, _Y, -1), "n_pairs"),
    "make_triplets-y_with_nan": (lambda: make_triplets(_X, _Y_NAN), "NaN"),
    "make_triplets-one_class": (
        lambda: make_triplets(_X, np.zeros(N)),
        "at least 2 classes",
    ),
    "pair_train_test_split-mismatched_lengths": (
        lambda: pair_train_test_split(_PAIRS, _SAME[:-1], groups=_ITEMS),
        "inconsistent numbers of samples",
    ),
    "pair_train_test_split-bad_test_size": (
        lambda: pair_train_test_split(_PAIRS, _SAME, test_size=0.0, groups=_ITEMS),
        "test_size",
    ),
    "ItemDisjointKFold-one_split": (
        lambda: list(ItemDisjointKFold(1).split(_PAIRS, _SAME, _ITEMS)),
        "n_splits",
    ),
    "equal_error_rate-nan_score": (lambda: equal_error_rate(_SAME, _SCORES_NAN), "NaN"),
    "equal_error_rate-one_class": (
        lambda: equal_error_rate(np.ones(60), _SCORES),
        "exactly 2 classes",
    ),
    "tar_at_far-nan_score": (lambda: tar_at_far(_SAME, _SCORES_NAN), "NaN"),
    "tar_at_far-bad_far": (lambda: tar_at_far(_SAME, _SCORES, far=2.0), "far"),
    "spearman_score-nan": (lambda: spearman_score(_SCORES, _SCORES_NAN), "NaN"),
    "spearman_score-mismatched_lengths": (
        lambda: spearman_score(_SCORES, _SCORES[:-1]),
        "inconsistent numbers of samples",
    ),
    "one_shot_accuracy-y_with_nan": (
        lambda: one_shot_accuracy(_RAW, _X, _Y_NAN, n_way=2, n_episodes=2),
        "NaN",
    ),
    "one_shot_accuracy-nan_in_X": (
        lambda: one_shot_accuracy(
            _RAW, _set(_X, (slice(None), 0), np.nan), _Y, n_way=2, n_episodes=2
        ),
        "NaN",
    ),
    "one_shot_accuracy-too_few_classes": (
        lambda: one_shot_accuracy(_RAW, _X, _Y, n_way=5),
        "5 classes",
    ),
    "one_shot_accuracy-not_a_transformer": (
        lambda: one_shot_accuracy(object(), _X, _Y, n_way=2),
        "transform",
    ),
    "score_episodes-label_without_support": (
        lambda: score_episodes(_RAW, [_X[:2]], [[0, 1]], [_X[2:3]], [[5]]),
        "no support",
    ),
}


@pytest.mark.parametrize("case", FUNCTION_CASES)
def test_bad_input_to_public_functions(case):
    call, pattern = FUNCTION_CASES[case]
    with pytest.raises((ValueError, TypeError), match=pattern):
        call()


def test_transformer_batches_must_hold_two_classes():
    # 16 rows of 8 per class hold two classes; 15 would hold one: no negatives
    spec = SPECS["SiameseTransformer"]
    spec.fit(spec.X, batch_size=16, samples_per_class=8)
    with pytest.raises(ValueError, match=r"batch_size >= 2 \* samples_per_class"):
        spec.fit(spec.X, batch_size=15, samples_per_class=8)


# -- records, text items, labels and devices -----------------------------------------


def _record_pairs(n=40):
    rng = np.random.RandomState(0)
    names = [f"item {i % 7}" for i in range(n)]
    left = pd.DataFrame({"id": range(n), "name": names, "price": rng.rand(n)})
    right = left.assign(name=[f"item {(i + i % 2) % 7}" for i in range(n)])
    right["price"] = rng.rand(n)
    frame = pd.concat([left.add_prefix("ltable_"), right.add_prefix("rtable_")], axis=1)
    return frame, (np.arange(n) % 2 == 0).astype(int)


_FRAME, _MATCH = _record_pairs()
_TEXTS = [("red apple", "apple red"), ("blue sky", "sky blue")] * 10
_TEXT_Y = [1, 0] * 10


def _with(frame, column, row, value):
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


def _on_records():
    return SiamesePairClassifier(**FAST).fit(_FRAME, _MATCH)


def _on_text():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return SiamesePairClassifier(encoder=TfidfVectorizer(), **FAST)


RECORD_CASES = {
    "text_pair_with_None": (
        lambda: _on_text().fit([*_TEXTS[:-1], ("red", None)], _TEXT_Y),
        r"row 19, item 1 is None.*TfidfVectorizer reads strings",
    ),
    "text_pair_with_int_at_predict": (
        lambda: _on_text().fit(_TEXTS, _TEXT_Y).predict([("red", 3)]),
        r"row 0, item 1 is 3.*str\(\)",
    ),
    "text_pair_with_undecodable_bytes": (
        lambda: _on_text().fit([*_TEXTS[:-1], (b"caf\xe9", "cafe")], _TEXT_Y),
        r"row 19, item 0 holds bytes that are not utf-8",
    ),
    "repeated_column": (
        lambda: _on_records().predict(
            pd.concat([_FRAME, _FRAME[["ltable_name"]]], axis=1)
        ),
        r"repeat the column names \['ltable_name'\]",
    ),
    "repeated_column_in_tables": (
        lambda: SiamesePairClassifier(**FAST).fit(
            (_FRAME.iloc[:, :3].set_axis(["a", "a", "b"], axis=1),) * 2, _MATCH
        ),
        r"left records repeat the column names \['a'\]",
    ),
    "invalid_utf8_bytes": (
        lambda: SiamesePairClassifier(**FAST).fit(
            _with(_FRAME, "rtable_name", 3, b"\xff\xfe caf\xe9"), _MATCH
        ),
        r"text field 'name' holds bytes that are not UTF-8 in the right record "
        r"of pair 3",
    ),
    "zero_pairs_at_predict": (
        lambda: _on_records().predict(_FRAME.iloc[:0]),
        "got 0 pairs of records",
    ),
    "zero_pairs_at_fit": (
        lambda: SiamesePairClassifier(**FAST).fit(_FRAME.iloc[:0], _MATCH[:0]),
        "got 0 pairs of records",
    ),
    "string_in_numeric_field": (
        lambda: _on_records().predict(_with(_FRAME, "ltable_price", 5, "cheap")),
        r"numeric field 'price' holds 'cheap' in the left record of pair 5",
    ),
    "inf_in_numeric_field": (
        lambda: SiamesePairClassifier(**FAST).fit(
            _with(_FRAME, "rtable_price", 2, np.inf).astype({"rtable_price": float}),
            _MATCH,
        ),
        r"numeric field 'price' holds inf in the right record of pair 2",
    ),
    "only_field_missing": (
        lambda: SiamesePairClassifier(**FAST).fit(
            pd.DataFrame({"ltable_price": [np.nan] * N, "rtable_price": np.nan}),
            _MATCH,
        ),
        r"No field of the records has a value.*\['price'\]",
    ),
    "labels_mixing_str_and_int": (
        lambda: SiamesePairClassifier(**FAST).fit(
            _FRAME, np.array(["1", 1] * (N // 2), dtype=object)
        ),
        r"mixes strings and other labels \(e.g. '1' and 1\)",
    ),
    "device_mps": (
        lambda: SiamesePairClassifier(**FAST, device="mps").fit(_FRAME, _MATCH),
        r"device='mps' is not available",
    ),
    "device_meta": (
        lambda: SiameseTransformer(**FAST, device="meta").fit(*_rows()),
        r"device='meta' holds shapes but no data",
    ),
}


@pytest.mark.parametrize("case", RECORD_CASES)
def test_bad_records_text_labels_and_devices(case):
    call, pattern = RECORD_CASES[case]
    if case == "device_mps":
        import torch

        if torch.backends.mps.is_available():
            pytest.skip("this machine has an MPS device")
    with pytest.raises(ValueError, match=pattern) as excinfo:
        call()
    _no_torch_frames(excinfo)
